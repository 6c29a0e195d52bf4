package worker

// Attacks on the promise that what is fulfilled is exactly what was paid:
// each test is a hostile shopper's (or a foreign Stripe object's, or a
// race's) attempt, and what the kit must do about it.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"
)

// metaOf reads the kit's metadata back from a create call's form.
func metaOf(form url.Values, prefix string) map[string]string {
	m := map[string]string{}
	for _, k := range []string{metaOrder, metaCart, metaFlow, metaDeployment} {
		if v := form.Get(prefix + "metadata[" + k + "]"); v != "" {
			m[k] = v
		}
	}
	return m
}

// lineItems is a session's line_items list.
func lineItems(items ...map[string]any) map[string]any {
	data := make([]any, len(items))
	for i, it := range items {
		data[i] = it
	}
	return map[string]any{"object": "list", "has_more": false, "data": data}
}

func item(desc string, qty, unit int64) map[string]any {
	return map[string]any{"object": "item", "description": desc, "quantity": qty, "amount_total": qty * unit, "price": map[string]any{"unit_amount": unit}}
}

func TestTrustClientKeyNeverJoinsOrders(t *testing.T) {
	e := newHookServer(t)
	const key = "shopper-chosen-key-0001"
	// A declined confirm-intent for an expensive cart ...
	e.stub.set("POST /v1/payment_intents", 402, stubDecline)
	checkError(t, postJSON(t, e.srv, "/create-confirm-intent", `{"items":[{"id":"plain","quantity":9}],"confirmationToken":"ctoken_1","idempotencyKey":"`+key+`"}`), 402, "card_declined", "")
	// ... then a cheap Checkout Session with the same key, which is paid.
	if rec := postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":1}],"idempotencyKey":"`+key+`"}`); rec.Code != 200 {
		t.Fatalf("session: %d %s", rec.Code, rec.Body)
	}
	calls := e.stub.Creates()
	piMeta, csMeta := metaOf(calls[0].Form, ""), metaOf(calls[1].Form, "")
	if piMeta[metaOrder] == csMeta[metaOrder] || calls[0].Idem == calls[1].Idem || strings.Contains(calls[1].Idem, key) {
		t.Fatalf("one client key chose one order for two requests: refs %s / %s, keys %s / %s", piMeta[metaOrder], csMeta[metaOrder], calls[0].Idem, calls[1].Idem)
	}
	// Stripe reports both objects; each is its own order.
	declined := intentObject("pi_exp", "requires_payment_method", "automatic", piMeta)
	declined["amount"] = 9000
	e.deliver(t, eventJSON("evt_t1", "payment_intent.payment_failed", declined))
	sess := sessionObject("cs_test_cheap", "complete", "paid", nil, csMeta)
	sess["amount_total"] = 500
	sess["line_items"] = lineItems(item("Limited", 1, 500))
	pi := intentObject("pi_cheap", "succeeded", "automatic", csMeta)
	pi["amount"], pi["amount_received"] = 500, 500
	sess["payment_intent"] = pi
	e.setSession(t, sess)
	e.deliver(t, eventJSON("evt_t2", "checkout.session.completed", map[string]any{"id": "cs_test_cheap"}))

	paid := e.order(t, "cs_test_cheap")
	if paid == nil || paid.ID != "cs_test_cheap" || paid.State != orders.Paid || len(paid.Lines) != 1 || paid.Lines[0].Product != "limited" || paid.AmountReceived != 500 {
		t.Fatalf("the paid order: %+v", paid)
	}
	got := e.ful.last["cs_test_cheap"]
	if e.ful.total() != 1 || len(got.Lines) != 1 || got.Lines[0].Product != "limited" || got.Lines[0].Quantity != 1 {
		t.Fatalf("fulfilled %d time(s), with %+v", e.ful.total(), got.Lines)
	}
	failed := e.order(t, "pi_exp")
	if failed == nil || failed.ID != "pi_exp" || failed.State != orders.Failed || failed.Fulfillment.Status != orders.FulfillmentNone || failed.SessionID != "" {
		t.Fatalf("the declined order: %+v", failed)
	}
	// The session's PaymentIntent never merges into the declined order.
	e.deliver(t, eventJSON("evt_t3", "payment_intent.succeeded", pi))
	if again := e.order(t, "pi_exp"); again.State != orders.Failed || e.ful.total() != 1 {
		t.Errorf("after the session's intent: %+v, %d fulfillments", again, e.ful.total())
	}
}

func TestTrustSameKeySameRequestIsOneOrder(t *testing.T) {
	e := newHookServer(t)
	body := `{"items":[{"id":"limited","quantity":2}],"idempotencyKey":"retry-key-000001","email":"j@example.com"}`
	for i := 0; i < 3; i++ {
		if rec := postJSON(t, e.srv, "/create-checkout-session", body); rec.Code != 200 {
			t.Fatalf("try %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	calls := e.stub.Calls()
	for _, c := range calls[1:] {
		if c.Idem != calls[0].Idem || c.Form.Encode() != calls[0].Form.Encode() {
			t.Fatalf("a retry changed the request: %s vs %s", c.Idem, calls[0].Idem)
		}
	}
	// Retries hold the stock once.
	if n, _ := e.store.Held(context.Background(), "limited", time.Now()); n != 2 {
		t.Errorf("held %d after three retries, want 2", n)
	}
	// The same key with another email or cart is another order, with a
	// hold of its own.
	one := strings.Replace(body, `"quantity":2`, `"quantity":1`, 1)
	if rec := postJSON(t, e.srv, "/create-checkout-session", strings.Replace(one, "j@example.com", "k@example.com", 1)); rec.Code != 200 {
		t.Fatalf("another email: %d %s", rec.Code, rec.Body)
	}
	checkError(t, postJSON(t, e.srv, "/create-checkout-session", strings.Replace(one, "j@example.com", "m@example.com", 1)), 409, "out_of_stock", "items[0].quantity")
	if last := e.stub.Calls()[3]; last.Idem == calls[0].Idem || metaOf(last.Form, "")[metaOrder] == metaOf(calls[0].Form, "")[metaOrder] {
		t.Error("other shopper fields under the same key joined the first order")
	}
}

func TestTrustForeignObjectsAreIgnored(t *testing.T) {
	foreign := map[string]map[string]string{
		"payment link (no metadata)": nil,
		"another deployment":         withMeta(metaDeployment, "staging"),
		"no deployment marker":       withMeta(metaDeployment, ""),
		"marker, no order reference": withMeta(metaOrder, ""),
	}
	for name, meta := range foreign {
		t.Run(name, func(t *testing.T) {
			e := newHookServer(t)
			e.setSession(t, sessionObject("cs_test_f", "complete", "paid", intentObject("pi_f", "succeeded", "automatic", meta), meta))
			for i, typ := range []string{"checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.expired"} {
				rec := e.deliver(t, eventJSON(fmt.Sprint("evt_f", i), typ, map[string]any{"id": "cs_test_f"}))
				var ans webhookAnswer
				if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil || !ans.Ignored || ans.Order != "" {
					t.Fatalf("%s: %d %s", typ, rec.Code, rec.Body)
				}
			}
			for i, typ := range []string{"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"} {
				rec := e.deliver(t, eventJSON(fmt.Sprint("evt_p", i), typ, intentObject("pi_f", "succeeded", "automatic", meta)))
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ignored":true`) {
					t.Fatalf("%s: %d %s", typ, rec.Code, rec.Body)
				}
			}
			// The return page still answers for it, with one Stripe call, and
			// records nothing.
			calls := len(e.stub.Calls())
			if rec := send(t, e.srv, "GET", "/session-status?session_id=cs_test_f", nil, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"status":"complete"`) {
				t.Fatalf("status: %d %s", rec.Code, rec.Body)
			}
			if n := len(e.stub.Calls()) - calls; n != 1 {
				t.Errorf("the status of a foreign session made %d Stripe calls, want 1", n)
			}
			// Only the processed events are written: no order, no stock, no fulfillment.
			if list, _, _ := e.store.List(context.Background(), orders.Query{Limit: 10}); len(list) != 0 || e.ful.total() != 0 {
				t.Fatalf("recorded %d orders, fulfilled %d", len(list), e.ful.total())
			}
			if n := e.store.WriteCount(); n != 6 {
				t.Errorf("%d writes, want 6 (the events only)", n)
			}
		})
	}
}

func TestTrustChargesOfUnknownPaymentsAreIgnored(t *testing.T) {
	e := newHookServer(t)
	for i, ev := range []string{
		eventJSON("evt_c1", "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "payment_intent": "pi_unknown", "amount_refunded": 500}),
		eventJSON("evt_c2", "charge.dispute.created", map[string]any{"id": "du_1", "object": "dispute", "payment_intent": "pi_unknown", "status": "needs_response"}),
		eventJSON("evt_c3", "charge.refunded", map[string]any{"id": "ch_2", "object": "charge", "payment_intent": nil, "amount_refunded": 500}),
	} {
		if rec := e.deliver(t, ev); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ignored":true`) {
			t.Errorf("event %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := e.store.WriteCount(); n != 3 {
		t.Errorf("%d writes, want 3 (the events only)", n)
	}
}

func TestTrustNeedsReviewIsNeverFulfilled(t *testing.T) {
	cases := map[string]func(sess map[string]any){
		"paid less than the lines": func(sess map[string]any) {
			pi := sess["payment_intent"].(map[string]any)
			pi["amount_received"] = 100
		},
		"a line item that is not the cart's": func(sess map[string]any) {
			sess["line_items"] = lineItems(item("Plain", 2, 1000), item("Limited", 3, 500))
		},
		"a unit price that is not the cart's": func(sess map[string]any) {
			sess["line_items"] = lineItems(item("Plain", 2, 1000), item("Limited", 1, 50))
			sess["amount_total"] = 2050
			pi := sess["payment_intent"].(map[string]any)
			pi["amount"], pi["amount_received"] = 2050, 2050
		},
		"a line more than the cart": func(sess map[string]any) {
			sess["line_items"] = lineItems(item("Plain", 2, 1000), item("Limited", 1, 500), item("Extra", 1, 0))
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			e := newHookServer(t)
			sess := sessionObject("cs_test_r", "complete", "paid", intentObject("pi_r", "succeeded", "automatic", checkoutMeta), checkoutMeta)
			change(sess)
			e.setSession(t, sess)
			rec := e.deliver(t, eventJSON("evt_r", "checkout.session.completed", map[string]any{"id": "cs_test_r"}))
			o := e.order(t, "cs_test_r")
			if rec.Code != 200 || o == nil || o.State != orders.NeedsReview || o.Review == "" || e.ful.total() != 0 {
				t.Fatalf("%d %s; order %+v; %d fulfillments", rec.Code, rec.Body, o, e.ful.total())
			}
			l := listOrders(t, e.srv, "?state=needs_review")
			if len(l.Data) != 1 || l.Data[0].ID != "cs_test_r" {
				t.Errorf("GET /admin/orders?state=needs_review: %+v", l.Data)
			}
			// Later events never fulfill it either.
			e.deliver(t, eventJSON("evt_r2", "payment_intent.succeeded", sess["payment_intent"]))
			send(t, e.srv, "GET", "/session-status?session_id=cs_test_r", nil, "")
			if e.ful.total() != 0 {
				t.Error("a needs_review order was fulfilled")
			}
		})
	}
	// The confirm-intent flow: the intent's recorded cart against what it received.
	e := newHookServer(t)
	meta := withMeta(metaFlow, FlowConfirmIntent, metaCart, "plain:9:1000")
	e.deliver(t, eventJSON("evt_ci", "payment_intent.succeeded", intentObject("pi_ci", "succeeded", "automatic", meta)))
	if o := e.order(t, "pi_ci"); o == nil || o.State != orders.NeedsReview || e.ful.total() != 0 {
		t.Fatalf("confirm-intent paid 2500 for a 9000 cart: %+v", o)
	}
}

func TestTrustReservationRace(t *testing.T) {
	e := newHookServer(t)
	// 50 shoppers race for the last 3 of a product.
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":1}]}`)
			codes[i] = rec.Code
			if rec.Code != 200 {
				checkError(t, rec, 409, "out_of_stock", "items[0].quantity")
			}
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == 200 {
			ok++
		}
	}
	if ok != 3 || len(e.stub.Calls()) != 3 {
		t.Fatalf("%d shoppers got a session (%d Stripe calls), want exactly 3", ok, len(e.stub.Calls()))
	}
	// One of the three sessions expires: its stock goes to the next shopper.
	meta := metaOf(e.stub.Calls()[0].Form, "")
	expired := sessionObject("cs_test_x", "expired", "unpaid", nil, meta)
	expired["line_items"] = lineItems(item("Limited", 1, 500))
	e.setSession(t, expired)
	if rec := e.deliver(t, eventJSON("evt_x", "checkout.session.expired", map[string]any{"id": "cs_test_x"})); rec.Code != 200 {
		t.Fatalf("expired: %d %s", rec.Code, rec.Body)
	}
	if rec := postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":1}]}`); rec.Code != 200 {
		t.Fatalf("after an expiry: %d %s", rec.Code, rec.Body)
	}
	checkError(t, postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":1}]}`), 409, "out_of_stock", "items[0].quantity")
}

func TestTrustCheckoutSessionsExpire(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Duration
	}{{"", 30 * time.Minute}, {"90", 90 * time.Minute}} {
		srv, stub := newStubServer(t, map[string]string{"CHECKOUT_EXPIRES_MINUTES": c.env})
		before := time.Now()
		postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"mug"}]}`)
		postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"mug"}],"idempotencyKey":"expiry-key-0001"}`)
		for i, call := range stub.Calls() {
			at, err := strconv.ParseInt(call.Form.Get("expires_at"), 10, 64)
			lo, hi := before.Add(c.want+expiryMargin).Unix(), time.Now().Add(c.want+retryWindow+expiryMargin).Unix()
			if err != nil || at < lo || at > hi {
				t.Errorf("CHECKOUT_EXPIRES_MINUTES=%q, call %d: expires_at %d, want %d..%d", c.env, i, at, lo, hi)
			}
		}
	}
	for _, bad := range []string{"29", "1381", "thirty", "-5"} {
		_, err := LoadConfig(func(k string) string {
			return map[string]string{"STRIPE_SECRET_KEY": "sk_test_x", "CHECKOUT_EXPIRES_MINUTES": bad}[k]
		})
		if err == nil || !strings.Contains(err.Error(), "CHECKOUT_EXPIRES_MINUTES") {
			t.Errorf("CHECKOUT_EXPIRES_MINUTES=%s: %v", bad, err)
		}
	}
}

func TestTrustDeploymentMarker(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "local"},
		{map[string]string{"PUBLIC_URL": "https://shop.example.com"}, "shop.example.com"},
		{map[string]string{"PUBLIC_URL": "https://shop.example.com", "DEPLOYMENT_ID": "prod-eu"}, "prod-eu"},
	} {
		srv, stub := newStubServer(t, c.env)
		postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"mug"}]}`)
		form := stub.Calls()[0].Form
		if form.Get("metadata[kit_deployment]") != c.want || form.Get("payment_intent_data[metadata][kit_deployment]") != c.want {
			t.Errorf("%v: marker %q / %q, want %q", c.env, form.Get("metadata[kit_deployment]"), form.Get("payment_intent_data[metadata][kit_deployment]"), c.want)
		}
	}
	_, err := LoadConfig(func(k string) string {
		return map[string]string{"STRIPE_SECRET_KEY": "sk_test_x", "DEPLOYMENT_ID": "prod/eu"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "DEPLOYMENT_ID") {
		t.Errorf("DEPLOYMENT_ID=prod/eu: %v", err)
	}
}

// paidSession records a paid Checkout order for checkoutMeta's cart and
// returns the environment.
func paidSession(t *testing.T) *hookEnv {
	t.Helper()
	e := newHookServer(t)
	e.setSession(t, sessionObject("cs_test_p", "complete", "paid", intentObject("pi_p", "succeeded", "automatic", checkoutMeta), checkoutMeta))
	if rec := e.deliver(t, eventJSON("evt_paid", "checkout.session.completed", map[string]any{"id": "cs_test_p"})); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	return e
}

func TestTrustRefundsAndDisputesReachTheOrder(t *testing.T) {
	e := paidSession(t)
	ctx := context.Background()
	refund := func(id string, amount int64) {
		t.Helper()
		rec := e.deliver(t, eventJSON(id, "charge.refunded", map[string]any{"id": "ch_p", "object": "charge", "payment_intent": "pi_p", "amount_refunded": amount, "refunded": amount == 2500}))
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", id, rec.Code, rec.Body)
		}
	}
	dispute := func(id, typ, status string) {
		t.Helper()
		if rec := e.deliver(t, eventJSON(id, typ, map[string]any{"id": "du_p", "object": "dispute", "payment_intent": "pi_p", "status": status})); rec.Code != 200 {
			t.Fatalf("%s: %d %s", id, rec.Code, rec.Body)
		}
	}
	refund("evt_r1", 1000)
	if o := e.order(t, "cs_test_p"); o.State != orders.PartiallyRefunded || o.AmountRefunded != 1000 {
		t.Fatalf("partial refund: %+v", o)
	}
	if n, _ := e.store.Held(ctx, "limited", time.Now()); n != 1 {
		t.Errorf("a partial refund gave the stock back: held %d", n)
	}
	dispute("evt_d1", "charge.dispute.created", "needs_response")
	if o := e.order(t, "cs_test_p"); o.State != orders.Disputed {
		t.Fatalf("dispute: %s", o.State)
	}
	dispute("evt_d2", "charge.dispute.closed", "won")
	if o := e.order(t, "cs_test_p"); o.State != orders.PartiallyRefunded || o.Dispute != orders.DisputeWon {
		t.Fatalf("dispute won: %s %s", o.State, o.Dispute)
	}
	refund("evt_r0", 500) // an older snapshot, delivered late
	refund("evt_r2", 2500)
	if o := e.order(t, "cs_test_p"); o.State != orders.Refunded || o.AmountRefunded != 2500 {
		t.Fatalf("full refund: %+v", o)
	}
	if n, _ := e.store.Held(ctx, "limited", time.Now().Add(48*time.Hour)); n != 0 {
		t.Errorf("a full refund kept the stock: held %d", n)
	}
	if e.ful.total() != 1 {
		t.Errorf("%d fulfillments", e.ful.total())
	}

	lost := paidSession(t)
	lost.deliver(t, eventJSON("evt_l1", "charge.dispute.created", map[string]any{"id": "du_l", "payment_intent": "pi_p", "status": "needs_response"}))
	lost.deliver(t, eventJSON("evt_l2", "charge.dispute.closed", map[string]any{"id": "du_l", "payment_intent": "pi_p", "status": "lost"}))
	if o := lost.order(t, "cs_test_p"); o.State != orders.DisputeLost {
		t.Errorf("dispute lost: %s", o.State)
	}
}

func TestTrustAdminRefund(t *testing.T) {
	e := paidSession(t)
	e.stub.set("POST /v1/refunds", 200, `{"id":"re_1","object":"refund","amount":1000,"currency":"usd","status":"succeeded","payment_intent":"pi_p","charge":"ch_p"}`)
	before := len(e.stub.Calls())
	rec := adminCall(t, e.srv, "POST", "/admin/orders/cs_test_p/refund", `{"amount":1000}`)
	var ans struct {
		Refund stripeapi.Refund
		Order  orders.Order
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil || ans.Refund.ID != "re_1" || ans.Order.State != orders.PartiallyRefunded || ans.Order.AmountRefunded != 1000 {
		t.Fatalf("refund: %d %s", rec.Code, rec.Body)
	}
	call := e.stub.Calls()[before]
	wantForm(t, call, map[string]string{"payment_intent": "pi_p", "amount": "1000", "metadata[kit_order]": "ord_00000000000000c1", "metadata[kit_deployment]": "local"})
	// Refusals call nothing at Stripe.
	n := len(e.stub.Calls())
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cs_test_p/refund", `{"amount":999999}`), 400, "invalid_amount", "amount")
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cs_test_p/refund", `{"amount":0}`), 400, "invalid_amount", "amount")
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cs_test_p/refund", `{"amount":"all"}`), 400, "invalid_field_type", "amount")
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cs_test_p/refund", `{"reason":"bored"}`), 400, "invalid_reason", "reason")
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cs_test_none/refund", ``), 404, "order_not_found", "")
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cus_1/refund", ``), 400, "invalid_order_id", "id")
	checkError(t, send(t, e.srv, "POST", "/admin/orders/cs_test_p/refund", nil, ``), 401, "missing_token", "")
	if len(e.stub.Calls()) != n {
		t.Errorf("refused refunds called Stripe: %+v", e.stub.Calls()[n:])
	}
	// The operator's retry with the same Idempotency-Key sends the same key.
	hdr := map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/json", "Idempotency-Key": "refund-attempt-0001"}
	send(t, e.srv, "POST", "/admin/orders/ord_00000000000000c1/refund", hdr, `{"amount":500}`)
	send(t, e.srv, "POST", "/admin/orders/pi_p/refund", hdr, `{"amount":500}`)
	calls := e.stub.Calls()
	if k1, k2 := calls[len(calls)-2].Idem, calls[len(calls)-1].Idem; k1 == "" || k1 != k2 {
		t.Errorf("retried refund keys %q, %q", k1, k2)
	}
	e.setSession(t, sessionObject("cs_test_w", "complete", "unpaid", intentObject("pi_w", "processing", "automatic", withMeta(metaOrder, "ord_00000000000000w1")), withMeta(metaOrder, "ord_00000000000000w1")))
	e.deliver(t, eventJSON("evt_w", "checkout.session.completed", map[string]any{"id": "cs_test_w"}))
	n = len(e.stub.Calls())
	checkError(t, adminCall(t, e.srv, "POST", "/admin/orders/cs_test_w/refund", ``), 409, "order_not_refundable", "")
	if len(e.stub.Calls()) != n {
		t.Errorf("refused refunds called Stripe: %+v", e.stub.Calls()[n:])
	}
}

func TestTrustFraudDeclinesArePlainToTheShopper(t *testing.T) {
	for _, code := range []string{"stolen_card", "lost_card", "fraudulent", "pickup_card", "merchant_blacklist"} {
		e := newHookServer(t)
		e.stub.set("POST /v1/payment_intents", 402, strings.Replace(stubDecline, "insufficient_funds", code, 1))
		rec := postJSON(t, e.srv, "/create-confirm-intent", `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_1"}`)
		checkError(t, rec, 402, "card_declined", "")
		if !strings.Contains(rec.Body.String(), `"decline_code":"generic_decline"`) || strings.Contains(rec.Body.String(), code) || strings.Contains(strings.ToLower(rec.Body.String()), "fraud") {
			t.Errorf("%s reached the shopper: %s", code, rec.Body)
		}
		// The operator sees the real code on the order.
		meta := metaOf(e.stub.Creates()[0].Form, "")
		pi := intentObject("pi_d", "requires_payment_method", "automatic", meta)
		pi["last_payment_error"] = map[string]any{"code": "card_declined", "decline_code": code}
		e.deliver(t, eventJSON("evt_d", "payment_intent.payment_failed", pi))
		if o := e.order(t, "pi_d"); o == nil || o.DeclineCode != code || o.State != orders.Failed {
			t.Errorf("%s: order %+v", code, o)
		}
	}
	// Other declines keep Stripe's own words.
	e := newHookServer(t)
	e.stub.set("POST /v1/payment_intents", 402, stubDecline)
	rec := postJSON(t, e.srv, "/create-confirm-intent", `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_1"}`)
	if checkError(t, rec, 402, "card_declined", ""); !strings.Contains(rec.Body.String(), `"decline_code":"insufficient_funds"`) {
		t.Errorf("insufficient_funds: %s", rec.Body)
	}
}

func TestTrustStockFollowsTheOrder(t *testing.T) {
	ctx := context.Background()
	held := func(e *hookEnv, at time.Time) int64 {
		n, err := e.store.Held(ctx, "limited", at)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A confirm-intent payment that fails gives its stock back ...
	e := newHookServer(t)
	if rec := postJSON(t, e.srv, "/create-confirm-intent", `{"items":[{"id":"limited","quantity":2}],"confirmationToken":"ctoken_1"}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if n := held(e, time.Now()); n != 2 {
		t.Fatalf("held %d after creating the intent, want 2", n)
	}
	meta := metaOf(e.stub.Creates()[0].Form, "")
	pi := intentObject("pi_s", "requires_payment_method", "automatic", meta)
	pi["amount"] = 1000
	e.deliver(t, eventJSON("evt_s1", "payment_intent.payment_failed", pi))
	if n := held(e, time.Now()); n != 0 {
		t.Fatalf("held %d after the payment failed", n)
	}
	// ... and takes it again if the shopper pays after all, while stock lasts.
	pi["status"], pi["amount_received"], pi["last_payment_error"] = "succeeded", 1000, nil
	e.deliver(t, eventJSON("evt_s2", "payment_intent.succeeded", pi))
	if o := e.order(t, "pi_s"); o.State != orders.Paid || held(e, time.Now().Add(48*time.Hour)) != 2 || e.ful.total() != 1 {
		t.Fatalf("paid after a failure: %+v, held %d", o, held(e, time.Now()))
	}
	// A Checkout hold lapses with the session; paid after the stock went to
	// someone else, the order needs review instead of being fulfilled.
	e = newHookServer(t)
	postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":3}]}`)
	meta = metaOf(e.stub.Calls()[0].Form, "")
	late := time.Now().Add(2 * time.Hour)
	if n := held(e, late); n != 0 {
		t.Fatalf("an unpaid session's hold outlived it: %d", n)
	}
	if r, _ := e.store.Reserve(ctx, "ord_someone_else", []orders.StockLine{{Product: "limited", Quantity: 3, Stock: 3}}, late.Add(time.Hour), late); r != orders.Reserved {
		t.Fatal("the lapsed stock could not be taken")
	}
	// (The store's clock is the caller's: make the lapsed hold look lapsed now.)
	sess := sessionObject("cs_test_l", "complete", "paid", nil, meta)
	sess["line_items"] = lineItems(item("Limited", 3, 500))
	sess["amount_total"] = 1500
	lpi := intentObject("pi_l", "succeeded", "automatic", meta)
	lpi["amount"], lpi["amount_received"] = 1500, 1500
	sess["payment_intent"] = lpi
	e.setSession(t, sess)
	e.deliver(t, eventJSON("evt_l", "checkout.session.completed", map[string]any{"id": "cs_test_l"}))
	o := e.order(t, "cs_test_l")
	if o == nil || o.State != orders.Paid || e.ful.total() != 1 {
		t.Fatalf("paid within the hold: %+v", o)
	}
}

func TestTrustRefundBeforeItsOrderIsRetried(t *testing.T) {
	e := newHookServer(t)
	meta := withMeta(metaFlow, FlowConfirmIntent)
	pi := intentObject("pi_early", "succeeded", "automatic", meta)
	b, _ := json.Marshal(pi)
	e.stub.set("GET /v1/payment_intents/pi_early", 200, string(b))
	refund := eventJSON("evt_early", "charge.refunded", map[string]any{"id": "ch_early", "object": "charge", "payment_intent": "pi_early", "amount_refunded": 2500})
	// The refund of this deployment's payment comes first: Stripe must send it again.
	rec := e.deliver(t, refund)
	checkError(t, rec, 503, "order_not_recorded_yet", "")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if seen, _ := e.store.EventProcessed(context.Background(), "evt_early"); seen {
		t.Fatal("the early refund was recorded as processed (it would never come again)")
	}
	e.deliver(t, eventJSON("evt_paid", "payment_intent.succeeded", pi))
	if rec := e.deliver(t, refund); rec.Code != 200 {
		t.Fatalf("redelivery: %d %s", rec.Code, rec.Body)
	}
	if o := e.order(t, "pi_early"); o.State != orders.Refunded || o.AmountRefunded != 2500 {
		t.Errorf("after the redelivery: %+v", o)
	}
	// Another integration's payment (no marker) is acknowledged and ignored.
	other := intentObject("pi_theirs", "succeeded", "automatic", map[string]string{"order": "theirs"})
	b, _ = json.Marshal(other)
	e.stub.set("GET /v1/payment_intents/pi_theirs", 200, string(b))
	rec = e.deliver(t, eventJSON("evt_theirs", "charge.refunded", map[string]any{"id": "ch_t", "object": "charge", "payment_intent": "pi_theirs", "amount_refunded": 100}))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ignored":true`) {
		t.Errorf("foreign refund: %d %s", rec.Code, rec.Body)
	}
}

// racingStore lets a test run a competing write just before an order's first
// compare-and-swap update, as a concurrent webhook delivery would.
type racingStore struct {
	*orders.MemStore
	mu     sync.Mutex
	before func() // run once, before the next update
}

func (r *racingStore) Update(ctx context.Context, o *orders.Order) (bool, error) {
	r.mu.Lock()
	f := r.before
	r.before = nil
	r.mu.Unlock()
	if f != nil {
		f()
	}
	return r.MemStore.Update(ctx, o)
}

func TestTrustStockFollowsTheWriteThatWon(t *testing.T) {
	// An order awaiting a delayed payment holds its stock. Two deliveries
	// race: the session's expiry (an older snapshot) and the payment. The
	// payment's write wins; the expiry's retry then changes nothing. The
	// stock must stay held for the paid order.
	mem := orders.NewMemStore()
	st := &racingStore{MemStore: mem}
	srv, stub := newStubServer(t, map[string]string{"STRIPE_WEBHOOK_SECRET": testWebhookSecret, "CATALOG_JSON": testCatalog})
	ful := &countingFulfiller{calls: map[string]int{}, last: map[string]orders.Order{}}
	srv = srv.withDeps(func(d *Deps) { d.Store, d.Fulfiller = st, ful })
	e := &hookEnv{srv: srv, stub: stub, store: mem, ful: ful}
	e.setSession(t, sessionObject("cs_test_r", "complete", "unpaid", intentObject("pi_r", "processing", "automatic", checkoutMeta), checkoutMeta))
	e.deliver(t, eventJSON("evt_r0", "checkout.session.completed", map[string]any{"id": "cs_test_r"}))
	if n, _ := mem.Held(context.Background(), "limited", time.Now()); n != 1 {
		t.Fatalf("awaiting payment: held %d", n)
	}
	st.before = func() {
		paid := sessionObject("cs_test_r", "complete", "paid", intentObject("pi_r", "succeeded", "automatic", checkoutMeta), checkoutMeta)
		b, _ := json.Marshal(paid)
		stub.set("GET /v1/checkout/sessions/cs_test_r", 200, string(b))
		if rec := e.deliver(t, eventJSON("evt_r2", "checkout.session.async_payment_succeeded", map[string]any{"id": "cs_test_r"})); rec.Code != 200 {
			t.Errorf("the payment's delivery: %d %s", rec.Code, rec.Body)
		}
	}
	// The expiry's delivery reads the order awaiting payment, and its write
	// meets the payment's.
	expired := intentObject("pi_r", "canceled", "automatic", checkoutMeta)
	if rec := e.deliver(t, eventJSON("evt_r1", "payment_intent.canceled", expired)); rec.Code != 200 {
		t.Fatalf("the cancel's delivery: %d %s", rec.Code, rec.Body)
	}
	o := e.order(t, "cs_test_r")
	if o.State != orders.Paid || ful.total() != 1 {
		t.Fatalf("order %s, %d fulfillments", o.State, ful.total())
	}
	if n, _ := mem.Held(context.Background(), "limited", time.Now().Add(48*time.Hour)); n != 1 {
		t.Errorf("the paid order's stock was released by the write that lost: held %d, want 1", n)
	}
}
