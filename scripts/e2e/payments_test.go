//go:build integration

// Payments through wrangler dev and the sandbox (issue 4): the confirm-intent
// flow, the PaymentIntent lifecycle driven by the operator API, approval
// refusals that create nothing, and the Checkout options. The stack's worker
// must have ADMIN_TOKEN (scripts/stack.sh makes one per run and exports it) and
// the bundled catalog (stove-rental: manual capture with incremental
// authorization; poster: stock 25, at most 3 per order; max order 400 USD; blocked.example and AQ
// refused).

package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// payResult is an HTTP answer decoded loosely.
type payResult struct {
	Status int
	Body   map[string]any
	Raw    string
}

func payDo(t *testing.T, method, target string, header map[string]string, body string) payResult {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// Form posts answer 303; look at the redirect instead of following it.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var raw strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		raw.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r := payResult{Status: resp.StatusCode, Raw: raw.String()}
	json.Unmarshal([]byte(r.Raw), &r.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		if r.Body == nil {
			r.Body = map[string]any{}
		}
		r.Body["_location"] = loc
	}
	return r
}

func (r payResult) str(path ...string) string {
	var v any = r.Body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	x, _ := v.(string)
	return x
}

func (r payResult) num(key string) int64 {
	f, _ := r.Body[key].(float64)
	return int64(f)
}

func payAdminToken(t *testing.T) string {
	t.Helper()
	tok := os.Getenv("ADMIN_TOKEN")
	if len(tok) < 32 {
		t.Fatal("ADMIN_TOKEN is not set: run through scripts/stack.sh (make test), which starts the worker with one and exports it")
	}
	return tok
}

func payAdmin(t *testing.T, method, path, body string) payResult {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + payAdminToken(t)}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	return payDo(t, method, env(t, "BASE_URL")+"/admin"+path, h, body)
}

func payJSON(t *testing.T, path, body string) payResult {
	t.Helper()
	return payDo(t, "POST", env(t, "BASE_URL")+path, map[string]string{"Content-Type": "application/json"}, body)
}

// sandboxPost calls the sandbox's API as the worker would (its secret key).
func sandboxPost(t *testing.T, path string, form url.Values) payResult {
	t.Helper()
	return payDo(t, "POST", env(t, "SANDBOX_URL")+path, map[string]string{
		"Authorization": "Bearer sk_test_sandbox", "Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
}

// confirmationToken makes a ConfirmationToken for a test payment method, as
// Stripe.js would from the Payment Element (the sandbox's test-helper route).
func confirmationToken(t *testing.T, pm string) string {
	t.Helper()
	r := sandboxPost(t, "/v1/test_helpers/confirmation_tokens", url.Values{"payment_method": {pm}})
	id := r.str("id")
	if r.Status != 200 || !strings.HasPrefix(id, "ctoken_") {
		t.Fatalf("test-helper confirmation token: %d %s", r.Status, r.Raw)
	}
	return id
}

func confirmIntent(t *testing.T, items, pm, extra string) payResult {
	t.Helper()
	return payJSON(t, "/create-confirm-intent", `{"items":`+items+`,"confirmationToken":"`+confirmationToken(t, pm)+`"`+extra+`}`)
}

// Authorize → increment → capture, and a declined increment in between that
// leaves the authorization capturable.
func TestPaymentsAuthorizeIncrementCapture(t *testing.T) {
	r := confirmIntent(t, `[{"id":"stove-rental","quantity":1}]`, "pm_card_visa", `,"email":"jenny@example.com"`)
	if r.Status != 200 || r.str("status") != "requires_capture" || !strings.HasPrefix(r.str("client_secret"), r.str("id")+"_secret_") {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	id := r.str("id")

	pi := payAdmin(t, "GET", "/payment_intents/"+id, "")
	if pi.Status != 200 || pi.num("amount") != 4000 || pi.num("amount_capturable") != 4000 || pi.str("capture_method") != "manual" ||
		pi.str("metadata", "kit_cart") != "stove-rental:1:4000" || !strings.HasPrefix(pi.str("metadata", "kit_order"), "ord_") {
		t.Fatalf("retrieve: %d %s", pi.Status, pi.Raw)
	}
	if strings.Contains(pi.Raw, "secret") {
		t.Errorf("the operator API showed the client secret: %s", pi.Raw)
	}
	order := pi.str("metadata", "kit_order")

	// Search by the order reference.
	found := payAdmin(t, "GET", "/payment_intents/search?query="+url.QueryEscape("metadata['kit_order']:'"+order+"'"), "")
	if found.Status != 200 || !strings.Contains(found.Raw, `"id":"`+id+`"`) {
		t.Errorf("search: %d %s", found.Status, found.Raw)
	}

	inc := payAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":6000}`)
	if inc.Status != 200 || inc.num("amount") != 6000 || inc.num("amount_capturable") != 6000 {
		t.Fatalf("increment: %d %s", inc.Status, inc.Raw)
	}
	// Above the sandbox's ceiling (1,000,000): declined, still capturable for 6000.
	dec := payAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":2000000}`)
	if dec.Status != 402 || dec.str("error", "code") != "card_declined" || dec.str("error", "request_id") == "" {
		t.Fatalf("declined increment: %d %s", dec.Status, dec.Raw)
	}
	pi = payAdmin(t, "GET", "/payment_intents/"+id, "")
	if pi.str("status") != "requires_capture" || pi.num("amount_capturable") != 6000 || pi.str("metadata", "kit_increment_attempts") != "2" {
		t.Fatalf("after the decline: %s", pi.Raw)
	}
	// Not above the current total: refused by the worker.
	if r := payAdmin(t, "POST", "/payment_intents/"+id+"/increment_authorization", `{"amount":6000}`); r.Status != 400 || r.str("error", "code") != "invalid_amount" {
		t.Errorf("increment to the same amount: %d %s", r.Status, r.Raw)
	}
	// More than authorized cannot be captured.
	if r := payAdmin(t, "POST", "/payment_intents/"+id+"/capture", `{"amount_to_capture":6001}`); r.Status != 400 {
		t.Errorf("over-capture: %d %s", r.Status, r.Raw)
	}

	cap := payAdmin(t, "POST", "/payment_intents/"+id+"/capture", `{"amount_to_capture":5500}`)
	if cap.Status != 200 || cap.str("status") != "succeeded" || cap.num("amount_received") != 5500 {
		t.Fatalf("capture: %d %s", cap.Status, cap.Raw)
	}
	if r := payAdmin(t, "POST", "/payment_intents/"+id+"/approve", ""); r.Status != 409 || r.str("error", "code") != "payment_intent_not_capturable" {
		t.Errorf("second capture: %d %s", r.Status, r.Raw)
	}
	if r := payAdmin(t, "POST", "/payment_intents/"+id+"/cancel", ""); r.Status != 409 || r.str("error", "code") != "payment_intent_unexpected_state" {
		t.Errorf("cancel after capture: %d %s", r.Status, r.Raw)
	}
}

// Authorize → reject (= cancel): the authorization is released.
func TestPaymentsAuthorizeReject(t *testing.T) {
	r := confirmIntent(t, `[{"id":"stove-rental","quantity":2}]`, "pm_card_visa", "")
	if r.Status != 200 || r.str("status") != "requires_capture" {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	rej := payAdmin(t, "POST", "/payment_intents/"+r.str("id")+"/reject", `{"reason":"requested_by_customer"}`)
	if rej.Status != 200 || rej.str("status") != "canceled" || rej.str("cancellation_reason") != "requested_by_customer" || rej.num("amount_capturable") != 0 {
		t.Fatalf("reject: %d %s", rej.Status, rej.Raw)
	}
	if r := payAdmin(t, "POST", "/payment_intents/"+r.str("id")+"/capture", ""); r.Status != 409 {
		t.Errorf("capture after reject: %d %s", r.Status, r.Raw)
	}
}

// A card that needs 3D Secure: requires_action, then the challenge (what
// stripe.handleNextAction does in the browser) completes the payment.
func TestPaymentsConfirmIntentRequiresAction(t *testing.T) {
	r := confirmIntent(t, `[{"id":"mug","quantity":1}]`, "pm_card_threeDSecure2Required", "")
	if r.Status != 200 || r.str("status") != "requires_action" || r.str("next_action") != "use_stripe_sdk" {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	id, secret := r.str("id"), r.str("client_secret")
	auth := payDo(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/payment_intents/"+id+"/authenticate",
		map[string]string{"Content-Type": "application/json"}, `{"client_secret":"`+secret+`","outcome":"complete"}`)
	if auth.Status != 200 || auth.str("status") != "succeeded" {
		t.Fatalf("authenticate: %d %s", auth.Status, auth.Raw)
	}
	pi := payAdmin(t, "GET", "/payment_intents/"+id, "")
	if pi.str("status") != "succeeded" || pi.num("amount_received") != 1200 {
		t.Fatalf("after authentication: %s", pi.Raw)
	}
}

func TestPaymentsDeclinedCard(t *testing.T) {
	r := confirmIntent(t, `[{"id":"mug","quantity":1}]`, "pm_card_chargeDeclinedInsufficientFunds", "")
	if r.Status != 402 || r.str("error", "code") != "card_declined" || r.str("error", "decline_code") != "insufficient_funds" ||
		!strings.HasPrefix(r.str("error", "payment_intent"), "pi_") || r.str("error", "message") == "" {
		t.Fatalf("decline: %d %s", r.Status, r.Raw)
	}
}

// A retried confirm-intent with the same idempotency key returns the same
// PaymentIntent instead of paying twice.
func TestPaymentsIdempotentRetry(t *testing.T) {
	body := `{"items":[{"id":"mug","quantity":2}],"confirmationToken":"` + confirmationToken(t, "pm_card_visa") + `","idempotencyKey":"e2e-` + strings.ReplaceAll(t.Name(), "/", "-") + `-` + os.Getenv("PORT") + `"}`
	a := payJSON(t, "/create-confirm-intent", body)
	b := payJSON(t, "/create-confirm-intent", body)
	if a.Status != 200 || b.Status != 200 || a.str("id") != b.str("id") || a.str("id") == "" {
		t.Fatalf("retry: %d %s / %d %s", a.Status, a.Raw, b.Status, b.Raw)
	}
	var list struct {
		Data []struct{ ID string }
	}
	s := payAdmin(t, "GET", "/payment_intents/search?query="+url.QueryEscape("metadata['kit_cart']:'mug:2:1200' AND amount:2400"), "")
	json.Unmarshal([]byte(s.Raw), &list)
	same := 0
	for _, d := range list.Data {
		if d.ID == a.str("id") {
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
	waitWebhooksSettled(t)
	before := stripeCalls(t)
	for _, tc := range cases {
		for _, path := range []string{"/create-checkout-session", "/create-confirm-intent"} {
			body := tc.body
			if path == "/create-confirm-intent" {
				// A well-formed token that nobody made: the refusal comes first.
				body = strings.Replace(body, `{"items"`, `{"confirmationToken":"ctoken_neverused","items"`, 1)
			}
			r := payJSON(t, path, body)
			if r.Status != tc.status || r.str("error", "code") != tc.code || r.str("error", "message") == "" {
				t.Errorf("%s %s: %d %s", tc.name, path, r.Status, r.Raw)
			}
		}
	}
	// The same through an HTML form.
	form := payDo(t, "POST", env(t, "BASE_URL")+"/create-checkout-session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "product=mug&email=x%40blocked.example")
	if form.Status != 422 || form.str("error", "code") != "email_refused" {
		t.Errorf("form: %d %s", form.Status, form.Raw)
	}
	if n := stripeCalls(t) - before; n != 0 {
		t.Errorf("refused orders made %d Stripe calls", n)
	}
}

// Checkout with manual capture: the session carries the order metadata and
// options; paying it authorizes, and the operator captures.
func TestPaymentsCheckoutManualCapture(t *testing.T) {
	r := payJSON(t, "/create-checkout-session", `{"items":[{"id":"stove-rental","quantity":1}],"email":"jenny@example.com"}`)
	secret := r.str("clientSecret")
	if r.Status != 200 || secret == "" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	sid, _, _ := strings.Cut(secret, "_secret_")
	sess := payDo(t, "GET", env(t, "SANDBOX_URL")+"/v1/checkout/sessions/"+sid, map[string]string{"Authorization": "Bearer sk_test_sandbox"}, "")
	order := sess.str("metadata", "kit_order")
	if !strings.HasPrefix(order, "ord_") || sess.str("client_reference_id") != order || sess.str("metadata", "kit_cart") != "stove-rental:1:4000" ||
		sess.str("customer_email") != "jenny@example.com" {
		t.Fatalf("session: %s", sess.Raw)
	}
	pay := payDo(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", map[string]string{"Content-Type": "application/json"},
		`{"client_secret":"`+secret+`","email":"jenny@example.com","card_number":"4242424242424242","exp":"12/34","cvc":"123"}`)
	if pay.Status != 200 {
		t.Fatalf("pay: %d %s", pay.Status, pay.Raw)
	}
	found := payAdmin(t, "GET", "/payment_intents/search?query="+url.QueryEscape("metadata['kit_order']:'"+order+"'"), "")
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
	st := payDo(t, "GET", env(t, "BASE_URL")+"/session-status?session_id="+sid, nil, "")
	if st.str("status") != "complete" || st.str("capture_method") != "manual" {
		t.Errorf("session-status before capture: %s", st.Raw)
	}
	if c := payAdmin(t, "POST", "/payment_intents/"+list.Data[0].ID+"/approve", ""); c.Status != 200 || c.str("status") != "succeeded" {
		t.Fatalf("approve: %d %s", c.Status, c.Raw)
	}
	if st := sessionStatus(t, sid); st.Status != "complete" {
		t.Errorf("session-status after capture: %+v", st)
	}
}

// The stock rule: paid orders (recorded by the webhook handler in the order
// store, whose SoldQuantity the rule subtracts) use up the poster's stock of
// 25; an order above what is left is refused in both flows without a Stripe call.
func TestPaymentsStockRunsOut(t *testing.T) {
	for i := 0; i < 8; i++ { // 8 × 3 = 24 posters
		r := payJSON(t, "/create-checkout-session", `{"items":[{"id":"poster","quantity":3}]}`)
		secret := r.str("clientSecret")
		if r.Status != 200 || secret == "" {
			t.Fatalf("order %d: %d %s", i+1, r.Status, r.Raw)
		}
		pay := payDo(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", map[string]string{"Content-Type": "application/json"},
			`{"client_secret":"`+secret+`","email":"jenny@example.com","card_number":"4242424242424242","exp":"12/34","cvc":"123"}`)
		if pay.Status != 200 {
			t.Fatalf("pay %d: %d %s", i+1, pay.Status, pay.Raw)
		}
	}
	// Webhooks arrive asynchronously: wait until the store counts them.
	var r payResult
	for i := 0; i < 100; i++ {
		waitWebhooksSettled(t)
		before := stripeCalls(t)
		r = payJSON(t, "/create-checkout-session", `{"items":[{"id":"poster","quantity":2}]}`)
		if r.Status == 409 {
			if n := stripeCalls(t) - before; n != 0 {
				t.Errorf("the refused order made %d Stripe calls", n)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Status != 409 || r.str("error", "code") != "out_of_stock" || r.str("error", "param") != "items[0].quantity" || !strings.Contains(r.str("error", "message"), "only 1 ") {
		t.Fatalf("2 posters with 1 left: %d %s", r.Status, r.Raw)
	}
	c := payJSON(t, "/create-confirm-intent", `{"items":[{"id":"poster","quantity":2}],"confirmationToken":"ctoken_neverused"}`)
	if c.Status != 409 || c.str("error", "code") != "out_of_stock" {
		t.Errorf("confirm-intent with 1 left: %d %s", c.Status, c.Raw)
	}
	if one := payJSON(t, "/create-checkout-session", `{"items":[{"id":"poster","quantity":1}]}`); one.Status != 200 {
		t.Errorf("the last poster: %d %s", one.Status, one.Raw)
	}
}

// A plain HTML form answers 303 to hosted Checkout.
func TestPaymentsFormPostRedirects(t *testing.T) {
	r := payDo(t, "POST", env(t, "BASE_URL")+"/create-checkout-session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "items=mug%3A2%2Cstickers")
	loc := r.str("_location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, env(t, "SANDBOX_URL")+"/") || !strings.Contains(loc, "cs_test_") {
		t.Fatalf("form post: %d Location=%q %s", r.Status, loc, r.Raw)
	}
}

// Operator endpoints the sandbox refuses (it has no bank debits or cash
// balances) still answer with Stripe's code and request id; the billing portal
// answers a URL.
func TestPaymentsOperatorExtras(t *testing.T) {
	r := confirmIntent(t, `[{"id":"stove-rental","quantity":1}]`, "pm_card_visa", "")
	id := r.str("id")
	for _, ep := range []struct{ path, body string }{
		{"/verify_microdeposits", `{"amounts":[32,45]}`},
		{"/apply_customer_balance", `{"amount":100,"currency":"usd"}`},
	} {
		res := payAdmin(t, "POST", "/payment_intents/"+id+ep.path, ep.body)
		if res.Status < 400 || res.Status > 499 || res.str("error", "code") == "" || res.str("error", "request_id") == "" {
			t.Errorf("%s: %d %s", ep.path, res.Status, res.Raw)
		}
	}
	cus := sandboxPost(t, "/v1/customers", url.Values{"email": {"jenny@example.com"}})
	if !strings.HasPrefix(cus.str("id"), "cus_") {
		t.Fatalf("customer: %s", cus.Raw)
	}
	portal := payAdmin(t, "POST", "/billing_portal_sessions", `{"customer":"`+cus.str("id")+`","return_url":"https://shop.example/account"}`)
	if portal.Status != 200 || !strings.HasPrefix(portal.str("url"), "http") {
		t.Errorf("portal: %d %s", portal.Status, portal.Raw)
	}
	if r := payDo(t, "GET", env(t, "BASE_URL")+"/admin/payment_intents/"+id, nil, ""); r.Status != 401 {
		t.Errorf("without the token: %d", r.Status)
	}
}
