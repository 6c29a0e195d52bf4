// Payments through wrangler dev and the sandbox (issue 4): the confirm-intent
// flow, the PaymentIntent lifecycle driven by the operator API, approval
// refusals that create nothing, and the Checkout options. The stack's worker
// must have ADMIN_TOKEN (TestMain makes one per run and exports it) and
// the bundled catalog (stove-rental: manual capture with incremental
// authorization; poster: stock 25, at most 3 per order; max order 400 USD; blocked.example and AQ
// refused).

package payments

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// Authorize → increment → capture, and a declined increment in between that
// leaves the authorization capturable.
func TestPaymentsAuthorizeIncrementCapture(t *testing.T) {
	r := e2e.ConfirmIntent(t, `[{"id":"stove-rental","quantity":1}]`, "pm_card_visa", `,"email":"jenny@example.com"`)
	if r.Status != 200 || r.Str("status") != "requires_capture" || !strings.HasPrefix(r.Str("client_secret"), r.Str("id")+"_secret_") {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	id := r.Str("id")

	pi := e2e.PayAdmin(t, "GET", "/payment_intents/"+id, "")
	if pi.Status != 200 || pi.Num("amount") != 4000 || pi.Num("amount_capturable") != 4000 || pi.Str("capture_method") != "manual" ||
		pi.Str("metadata", "kit_cart") != "stove-rental:1:4000" || !strings.HasPrefix(pi.Str("metadata", "kit_order"), "ord_") {
		t.Fatalf("retrieve: %d %s", pi.Status, pi.Raw)
	}
	if strings.Contains(pi.Raw, "secret") {
		t.Errorf("the operator API showed the client secret: %s", pi.Raw)
	}
	order := pi.Str("metadata", "kit_order")

	// Search by the order reference.
	found := e2e.PayAdmin(t, "GET", "/payment_intents/search?query="+url.QueryEscape("metadata['kit_order']:'"+order+"'"), "")
	if found.Status != 200 || !strings.Contains(found.Raw, `"id":"`+id+`"`) {
		t.Errorf("search: %d %s", found.Status, found.Raw)
	}

	inc := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":6000}`)
	if inc.Status != 200 || inc.Num("amount") != 6000 || inc.Num("amount_capturable") != 6000 {
		t.Fatalf("increment: %d %s", inc.Status, inc.Raw)
	}
	// Above the sandbox's ceiling (1,000,000): declined, still capturable for 6000.
	dec := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":2000000}`)
	if dec.Status != 402 || dec.Str("error", "code") != "card_declined" || dec.Str("error", "request_id") == "" {
		t.Fatalf("declined increment: %d %s", dec.Status, dec.Raw)
	}
	pi = e2e.PayAdmin(t, "GET", "/payment_intents/"+id, "")
	if pi.Str("status") != "requires_capture" || pi.Num("amount_capturable") != 6000 || pi.Str("metadata", "kit_increment_attempts") != "2" {
		t.Fatalf("after the decline: %s", pi.Raw)
	}
	// Not above the current total: refused by the worker.
	if r := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":6000}`); r.Status != 400 || r.Str("error", "code") != "invalid_amount" {
		t.Errorf("increment to the same amount: %d %s", r.Status, r.Raw)
	}
	// More than authorized cannot be captured.
	if r := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/capture", `{"amount_to_capture":6001}`); r.Status != 400 {
		t.Errorf("over-capture: %d %s", r.Status, r.Raw)
	}

	cap := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/capture", `{"amount_to_capture":5500}`)
	if cap.Status != 200 || cap.Str("status") != "succeeded" || cap.Num("amount_received") != 5500 {
		t.Fatalf("capture: %d %s", cap.Status, cap.Raw)
	}
	if r := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/approve", ""); r.Status != 409 || r.Str("error", "code") != "payment_intent_not_capturable" {
		t.Errorf("second capture: %d %s", r.Status, r.Raw)
	}
	if r := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/cancel", ""); r.Status != 409 || r.Str("error", "code") != "payment_intent_unexpected_state" {
		t.Errorf("cancel after capture: %d %s", r.Status, r.Raw)
	}
}

// Authorize → reject (= cancel): the authorization is released.
func TestPaymentsAuthorizeReject(t *testing.T) {
	r := e2e.ConfirmIntent(t, `[{"id":"stove-rental","quantity":2}]`, "pm_card_visa", "")
	if r.Status != 200 || r.Str("status") != "requires_capture" {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	rej := e2e.PayAdmin(t, "POST", "/payment_intents/"+r.Str("id")+"/reject", `{"reason":"requested_by_customer"}`)
	if rej.Status != 200 || rej.Str("status") != "canceled" || rej.Str("cancellation_reason") != "requested_by_customer" || rej.Num("amount_capturable") != 0 {
		t.Fatalf("reject: %d %s", rej.Status, rej.Raw)
	}
	if r := e2e.PayAdmin(t, "POST", "/payment_intents/"+r.Str("id")+"/capture", ""); r.Status != 409 {
		t.Errorf("capture after reject: %d %s", r.Status, r.Raw)
	}
}

// A card that needs 3D Secure: requires_action, then the challenge (what
// stripe.handleNextAction does in the browser) completes the payment.
func TestPaymentsConfirmIntentRequiresAction(t *testing.T) {
	r := e2e.ConfirmIntent(t, `[{"id":"mug","quantity":1}]`, "pm_card_threeDSecure2Required", "")
	if r.Status != 200 || r.Str("status") != "requires_action" || r.Str("next_action") != "use_stripe_sdk" {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	id, secret := r.Str("id"), r.Str("client_secret")
	auth := e2e.PayDo(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/payment_intents/"+id+"/authenticate",
		map[string]string{"Content-Type": "application/json"}, `{"client_secret":"`+secret+`","outcome":"complete"}`)
	if auth.Status != 200 || auth.Str("status") != "succeeded" {
		t.Fatalf("authenticate: %d %s", auth.Status, auth.Raw)
	}
	pi := e2e.PayAdmin(t, "GET", "/payment_intents/"+id, "")
	if pi.Str("status") != "succeeded" || pi.Num("amount_received") != 1200+500 || pi.Str("metadata", "kit_shipping") != "standard:500" {
		t.Fatalf("after authentication (a mug and standard shipping): %s", pi.Raw)
	}
}

func TestPaymentsDeclinedCard(t *testing.T) {
	r := e2e.ConfirmIntent(t, `[{"id":"mug","quantity":1}]`, "pm_card_chargeDeclinedInsufficientFunds", "")
	if r.Status != 402 || r.Str("error", "code") != "card_declined" || r.Str("error", "decline_code") != "insufficient_funds" ||
		!strings.HasPrefix(r.Str("error", "payment_intent"), "pi_") || r.Str("error", "message") == "" {
		t.Fatalf("decline: %d %s", r.Status, r.Raw)
	}
}

// A retried confirm-intent with the same idempotency key returns the same
// PaymentIntent instead of paying twice.
func TestPaymentsIdempotentRetry(t *testing.T) {
	body := `{"items":[{"id":"mug","quantity":2}],"confirmationToken":"` + e2e.ConfirmationToken(t, "pm_card_visa") + `","idempotencyKey":"e2e-` + strings.ReplaceAll(t.Name(), "/", "-") + `-` + os.Getenv("PORT") + `"}`
	a := e2e.PayJSON(t, "/create-confirm-intent", body)
	b := e2e.PayJSON(t, "/create-confirm-intent", body)
	if a.Status != 200 || b.Status != 200 || a.Str("id") != b.Str("id") || a.Str("id") == "" {
		t.Fatalf("retry: %d %s / %d %s", a.Status, a.Raw, b.Status, b.Raw)
	}
	var list struct {
		Data []struct{ ID string }
	}
	s := e2e.PayAdmin(t, "GET", "/payment_intents/search?query="+url.QueryEscape("metadata['kit_cart']:'mug:2:1200' AND amount:2900"), "") // 2 mugs and standard shipping
	json.Unmarshal([]byte(s.Raw), &list)
	same := 0
	for _, d := range list.Data {
		if d.ID == a.Str("id") {
			same++
		}
	}
	if same != 1 {
		t.Errorf("the PaymentIntent appears %d times in search: %s", same, s.Raw)
	}
}

// Approval refusals answer 4xx and create nothing at Stripe, in both flows.
func TestPaymentsApprovalRefusalsCreateNothing(t *testing.T) {
	cases := []struct {
		name, body string
		header     map[string]string
		status     int
		code       string
	}{
		{"max order amount", `{"items":[{"id":"tshirt","quantity":10},{"id":"mug","quantity":5},{"id":"stickers","quantity":20},{"id":"poster","quantity":3}]}`, nil, 422, "order_amount_too_large"},
		{"email domain", `{"items":[{"id":"mug"}],"email":"jenny@blocked.example"}`, nil, 422, "email_refused"},
		{"declared country", `{"items":[{"id":"mug"}],"country":"AQ"}`, nil, 422, "country_refused"},
	}
	e2e.WaitWebhooksSettled(t)
	before := e2e.StripeCalls(t)
	for _, tc := range cases {
		for _, path := range []string{"/create-checkout-session", "/create-confirm-intent"} {
			body := tc.body
			if path == "/create-confirm-intent" {
				// A well-formed token that nobody made: the refusal comes first.
				body = strings.Replace(body, `{"items"`, `{"confirmationToken":"ctoken_neverused","items"`, 1)
				if strings.Contains(body, `"tshirt"`) { // the pay page asks its size (Checkout does it itself)
					body = strings.Replace(body, `{"confirmationToken"`, `{"customFields":{"size":"M"},"confirmationToken"`, 1)
				}
			}
			r := e2e.PayJSON(t, path, body)
			if r.Status != tc.status || r.Str("error", "code") != tc.code || r.Str("error", "message") == "" {
				t.Errorf("%s %s: %d %s", tc.name, path, r.Status, r.Raw)
			}
		}
	}
	// The same through an HTML form.
	form := e2e.PayDo(t, "POST", e2e.Env(t, "BASE_URL")+"/create-checkout-session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "product=mug&email=x%40blocked.example")
	if form.Status != 422 || form.Str("error", "code") != "email_refused" {
		t.Errorf("form: %d %s", form.Status, form.Raw)
	}
	if n := e2e.StripeCalls(t) - before; n != 0 {
		t.Errorf("refused orders made %d Stripe calls", n)
	}
}

// Checkout with manual capture: the session carries the order metadata and
// options; paying it authorizes, and the operator captures.
func TestPaymentsCheckoutManualCapture(t *testing.T) {
	r := e2e.PayJSON(t, "/create-checkout-session", `{"items":[{"id":"stove-rental","quantity":1}],"email":"jenny@example.com"}`)
	secret := r.Str("clientSecret")
	if r.Status != 200 || secret == "" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	sid, _, _ := strings.Cut(secret, "_secret_")
	sess := e2e.PayDo(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/v1/checkout/sessions/"+sid, map[string]string{"Authorization": "Bearer sk_test_sandbox"}, "")
	order := sess.Str("metadata", "kit_order")
	if !strings.HasPrefix(order, "ord_") || sess.Str("client_reference_id") != order || sess.Str("metadata", "kit_cart") != "stove-rental:1:4000" ||
		sess.Str("customer_email") != "jenny@example.com" {
		t.Fatalf("session: %s", sess.Raw)
	}
	pay := e2e.PayDo(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", map[string]string{"Content-Type": "application/json"},
		e2e.PayBody(secret, "4242424242424242"))
	if pay.Status != 200 {
		t.Fatalf("pay: %d %s", pay.Status, pay.Raw)
	}
	found := e2e.PayAdmin(t, "GET", "/payment_intents/search?query="+url.QueryEscape("metadata['kit_order']:'"+order+"'"), "")
	var list struct {
		Data []struct {
			ID, Status       string
			AmountCapturable int64 `json:"amount_capturable"`
		}
	}
	json.Unmarshal([]byte(found.Raw), &list)
	if found.Status != 200 || len(list.Data) != 1 || list.Data[0].Status != "requires_capture" || list.Data[0].AmountCapturable != 4000 {
		t.Fatalf("the session's PaymentIntent: %d %s", found.Status, found.Raw)
	}
	// The return page learns that the payment is only authorized.
	st := e2e.PayDo(t, "GET", e2e.Env(t, "BASE_URL")+"/session-status?session_id="+sid, nil, "")
	if st.Str("status") != "complete" || st.Str("capture_method") != "manual" {
		t.Errorf("session-status before capture: %s", st.Raw)
	}
	if c := e2e.PayAdmin(t, "POST", "/payment_intents/"+list.Data[0].ID+"/approve", ""); c.Status != 200 || c.Str("status") != "succeeded" {
		t.Fatalf("approve: %d %s", c.Status, c.Raw)
	}
	if st := e2e.SessionStatus(t, sid); st.Status != "complete" {
		t.Errorf("session-status after capture: %+v", st)
	}
}

// The stock rule: paid orders (recorded by the webhook handler in the order
// store, whose SoldQuantity the rule subtracts) use up the poster's stock of
// 25; an order above what is left is refused in both flows without a Stripe call.
func TestPaymentsStockRunsOut(t *testing.T) {
	for i := 0; i < 8; i++ { // 8 × 3 = 24 posters
		r := e2e.PayJSON(t, "/create-checkout-session", `{"items":[{"id":"poster","quantity":3}]}`)
		secret := r.Str("clientSecret")
		if r.Status != 200 || secret == "" {
			t.Fatalf("order %d: %d %s", i+1, r.Status, r.Raw)
		}
		pay := e2e.PayDo(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", map[string]string{"Content-Type": "application/json"},
			e2e.PayBody(secret, "4242424242424242"))
		if pay.Status != 200 {
			t.Fatalf("pay %d: %d %s", i+1, pay.Status, pay.Raw)
		}
	}
	// Webhooks arrive asynchronously: wait until the store counts them.
	var r e2e.PayResult
	for i := 0; i < 100; i++ {
		e2e.WaitWebhooksSettled(t)
		before := e2e.StripeCalls(t)
		r = e2e.PayJSON(t, "/create-checkout-session", `{"items":[{"id":"poster","quantity":2}]}`)
		if r.Status == 409 {
			if n := e2e.StripeCalls(t) - before; n != 0 {
				t.Errorf("the refused order made %d Stripe calls", n)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Status != 409 || r.Str("error", "code") != "out_of_stock" || r.Str("error", "param") != "items[0].quantity" || !strings.Contains(r.Str("error", "message"), "only 1 ") {
		t.Fatalf("2 posters with 1 left: %d %s", r.Status, r.Raw)
	}
	// The pay page reads its token before reserving: a real one.
	c := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"poster","quantity":2}],"confirmationToken":"`+cardToken(t, "4242424242424242")+`"}`)
	if c.Status != 409 || c.Str("error", "code") != "out_of_stock" {
		t.Errorf("confirm-intent with 1 left: %d %s", c.Status, c.Raw)
	}
	if one := e2e.PayJSON(t, "/create-checkout-session", `{"items":[{"id":"poster","quantity":1}]}`); one.Status != 200 {
		t.Errorf("the last poster: %d %s", one.Status, one.Raw)
	}
}

// A plain HTML form answers 303 to hosted Checkout.
func TestPaymentsFormPostRedirects(t *testing.T) {
	r := e2e.PayDo(t, "POST", e2e.Env(t, "BASE_URL")+"/create-checkout-session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "items=mug%3A2%2Cstickers")
	loc := r.Str("_location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, e2e.Env(t, "SANDBOX_URL")+"/") || !strings.Contains(loc, "cs_test_") {
		t.Fatalf("form post: %d Location=%q %s", r.Status, loc, r.Raw)
	}
}

// Operator endpoints the sandbox refuses (it has no bank debits or cash
// balances) still answer with Stripe's code and request id; the billing portal
// answers a URL.
func TestPaymentsOperatorExtras(t *testing.T) {
	r := e2e.ConfirmIntent(t, `[{"id":"stove-rental","quantity":1}]`, "pm_card_visa", "")
	id := r.Str("id")
	for _, ep := range []struct{ path, body string }{
		{"/verify_microdeposits", `{"amounts":[32,45]}`},
		{"/apply_customer_balance", `{"amount":100,"currency":"usd"}`},
	} {
		res := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+ep.path, ep.body)
		if res.Status < 400 || res.Status > 499 || res.Str("error", "code") == "" || res.Str("error", "request_id") == "" {
			t.Errorf("%s: %d %s", ep.path, res.Status, res.Raw)
		}
	}
	cus := e2e.SandboxPost(t, "/v1/customers", url.Values{"email": {"jenny@example.com"}})
	if !strings.HasPrefix(cus.Str("id"), "cus_") {
		t.Fatalf("customer: %s", cus.Raw)
	}
	portal := e2e.PayAdmin(t, "POST", "/billing_portal_sessions", `{"customer":"`+cus.Str("id")+`","return_url":"https://shop.example/account"}`)
	if portal.Status != 200 || !strings.HasPrefix(portal.Str("url"), "http") {
		t.Errorf("portal: %d %s", portal.Status, portal.Raw)
	}
	if r := e2e.PayDo(t, "GET", e2e.Env(t, "BASE_URL")+"/admin/payment_intents/"+id, nil, ""); r.Status != 401 {
		t.Errorf("without the token: %d", r.Status)
	}
}

// cardToken makes a ConfirmationToken from a typed card number, as the
// Payment Element does in the browser (publishable key).
func cardToken(t *testing.T, number string) string {
	t.Helper()
	form := url.Values{"payment_method_data[type]": {"card"}, "payment_method_data[card][number]": {number},
		"payment_method_data[card][exp_month]": {"12"}, "payment_method_data[card][exp_year]": {"2040"}, "payment_method_data[card][cvc]": {"123"}}
	r := e2e.PayDo(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/v1/confirmation_tokens", map[string]string{
		"Authorization": "Bearer pk_test_sandbox", "Content-Type": "application/x-www-form-urlencoded"}, e2e.Shipped(form).Encode())
	if r.Status != 200 || !strings.HasPrefix(r.Str("id"), "ctoken_") {
		t.Fatalf("confirmation token for %s: %d %s", number, r.Status, r.Raw)
	}
	return r.Str("id")
}

// sandboxRequests are the Stripe requests the sandbox saw after the first
// skip (e2e.StripeCalls counts them), in order.
func sandboxRequests(t *testing.T, skip int) []string {
	t.Helper()
	var log struct {
		Requests []struct{ Method, Path string }
	}
	e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/requests", "", ""), &log)
	var out []string
	for _, r := range log.Requests[min(skip, len(log.Requests)):] {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// The bundled catalog refuses prepaid cards (shop.card_rules): the pay page's
// prepaid card is refused after the worker reads its ConfirmationToken, and
// nothing is created at Stripe (no PaymentIntent, the token unused); other
// cards pay.
func TestPaymentsCardRuleRefusesPrepaid(t *testing.T) {
	e2e.WaitWebhooksSettled(t)
	prepaid := cardToken(t, "5105 1051 0510 5100")
	before := e2e.StripeCalls(t)
	r := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"poster","quantity":3}],"confirmationToken":"`+prepaid+`","email":"jenny@example.com","idempotencyKey":"e2e-prepaid-`+os.Getenv("PORT")+`"}`)
	if r.Status != 422 || r.Str("error", "code") != "card_refused" || r.Str("error", "param") != "confirmationToken" || !strings.Contains(r.Str("error", "message"), "prepaid") {
		t.Fatalf("prepaid card: %d %s", r.Status, r.Raw)
	}
	if n := e2e.StripeCalls(t) - before; n != 1 {
		t.Errorf("%d Stripe calls for the refused order, want 1 (the token's read): %v", n, sandboxRequests(t, before))
	}
	for _, req := range sandboxRequests(t, before) {
		if req != "GET /v1/confirmation_tokens/"+prepaid {
			t.Errorf("Stripe request %s for a refused order", req)
		}
	}
	tok := e2e.PayDo(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/v1/confirmation_tokens/"+prepaid, map[string]string{"Authorization": "Bearer sk_test_sandbox"}, "")
	if tok.Status != 200 || tok.Body["payment_intent"] != nil {
		t.Errorf("the refused token: %d %s", tok.Status, tok.Raw)
	}
	// The same card through the test-helper PaymentMethod, and a debit card
	// and a Brazilian card that the catalog allows.
	if r := e2e.ConfirmIntent(t, `[{"id":"mug"}]`, "pm_card_mastercard_prepaid", ""); r.Status != 422 || r.Str("error", "code") != "card_refused" {
		t.Errorf("pm_card_mastercard_prepaid: %d %s", r.Status, r.Raw)
	}
	for _, number := range []string{"4000056655665556", "4000000760000002"} {
		if r := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"mug"}],"confirmationToken":"`+cardToken(t, number)+`"}`); r.Status != 200 || r.Str("status") != "succeeded" {
			t.Errorf("card %s: %d %s", number, r.Status, r.Raw)
		}
	}
	// A credit card pays.
	good := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"mug","quantity":2}],"confirmationToken":"`+cardToken(t, "4242424242424242")+`","email":"jenny@example.com"}`)
	if good.Status != 200 || good.Str("status") != "succeeded" {
		t.Fatalf("credit card: %d %s", good.Status, good.Raw)
	}
	pi := e2e.PayAdmin(t, "GET", "/payment_intents/"+good.Str("id"), "")
	if pi.Status != 200 || pi.Num("amount_received") != 2400+500 || pi.Str("metadata", "kit_cart") != "mug:2:1200" {
		t.Errorf("the paid order: %d %s", pi.Status, pi.Raw)
	}
}

// The operator sees whether a rental's card can be incremented; a card that
// cannot (issued in the UK, where SCA applies) is refused with 409 before the
// increment endpoint is called.
func TestPaymentsIncrementalAuthorizationEligibility(t *testing.T) {
	ok := e2e.ConfirmIntent(t, `[{"id":"stove-rental","quantity":1}]`, "pm_card_visa", "")
	if ok.Status != 200 || ok.Str("status") != "requires_capture" {
		t.Fatalf("confirm-intent: %d %s", ok.Status, ok.Raw)
	}
	if pi := e2e.PayAdmin(t, "GET", "/payment_intents/"+ok.Str("id"), ""); pi.Str("incremental_authorization") != "available" || !strings.HasPrefix(pi.Str("latest_charge"), "ch_") {
		t.Errorf("visa: %s", pi.Raw)
	}
	gb := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"stove-rental","quantity":1}],"confirmationToken":"`+cardToken(t, "4000058260000005")+`"}`)
	if gb.Status != 200 || gb.Str("status") != "requires_capture" {
		t.Fatalf("confirm-intent: %d %s", gb.Status, gb.Raw)
	}
	id := gb.Str("id")
	if pi := e2e.PayAdmin(t, "GET", "/payment_intents/"+id, ""); pi.Str("incremental_authorization") != "unavailable" {
		t.Errorf("GB debit: %s", pi.Raw)
	}
	before := e2e.StripeCalls(t)
	r := e2e.PayAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":6000}`)
	if r.Status != 409 || r.Str("error", "code") != "incremental_authorization_unavailable" {
		t.Fatalf("increment: %d %s", r.Status, r.Raw)
	}
	for _, req := range sandboxRequests(t, before) {
		if strings.HasSuffix(req, "/increment_authorization") {
			t.Errorf("the increment endpoint was called: %s", req)
		}
	}
	if pi := e2e.PayAdmin(t, "GET", "/payment_intents/"+id, ""); pi.Num("amount_capturable") != 4000 || pi.Str("metadata", "kit_increment_attempts") != "" {
		t.Errorf("after the refusal: %s", pi.Raw)
	}
}
