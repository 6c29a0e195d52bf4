package worker

import (
	"checkoutkit/worker/orders"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// testWebhookSecret is a made-up endpoint secret.
const testWebhookSecret = "whsec_unit"

// countingFulfiller records each Fulfill call; fail makes the next n fail.
type countingFulfiller struct {
	mu    sync.Mutex
	calls map[string]int
	last  map[string]orders.Order
	fail  int
}

func (f *countingFulfiller) Fulfill(ctx context.Context, o *orders.Order) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[o.ID]++
	f.last[o.ID] = *o
	if f.fail > 0 {
		f.fail--
		return errors.New("the shop's action failed")
	}
	return nil
}

func (f *countingFulfiller) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *countingFulfiller) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

type hookEnv struct {
	srv   *Server
	stub  *stubStripe
	store *orders.MemStore
	ful   *countingFulfiller
}

// newHookServer returns the worker with a webhook secret, a orders.MemStore, a
// counting Fulfiller and Stripe stubbed, on testCatalog.
func newHookServer(t *testing.T) *hookEnv {
	t.Helper()
	srv, stub := newStubServer(t, map[string]string{"STRIPE_WEBHOOK_SECRET": testWebhookSecret, "CATALOG_JSON": testCatalog})
	e := &hookEnv{stub: stub, store: orders.NewMemStore(), ful: &countingFulfiller{calls: map[string]int{}, last: map[string]orders.Order{}}}
	e.srv = srv.withDeps(func(d *Deps) { d.Store, d.Fulfiller = e.store, e.ful })
	return e
}

func eventJSON(id, typ string, obj any) string {
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2025-08-27.basil", "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "request": map[string]any{"id": nil, "idempotency_key": nil}, "type": typ,
		"data": map[string]any{"object": obj}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func sign(body, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: at}).Header
}

func (e *hookEnv) deliver(t *testing.T, body string) *httptest.ResponseRecorder {
	t.Helper()
	return send(t, e.srv, "POST", "/webhook", map[string]string{"Content-Type": "application/json", "Stripe-Signature": sign(body, testWebhookSecret, time.Now())}, body)
}

// sessionObject is a Checkout Session as GET with expand line_items and payment_intent returns it.
func sessionObject(id, status, payStatus string, pi map[string]any, meta map[string]string) map[string]any {
	s := map[string]any{"id": id, "object": "checkout.session", "mode": "payment", "status": status, "payment_status": payStatus,
		"currency": "usd", "amount_total": 2500, "livemode": false, "customer_email": nil, "client_reference_id": meta["kit_order"],
		"customer_details": map[string]any{"email": "jenny@example.com"}, "metadata": meta,
		"line_items": map[string]any{"object": "list", "has_more": false, "url": "/v1/checkout/sessions/" + id + "/line_items", "data": []any{
			map[string]any{"id": "li_1", "object": "item", "description": "Plain", "quantity": 2, "amount_total": 2000, "price": map[string]any{"id": "price_1", "unit_amount": 1000}},
			map[string]any{"id": "li_2", "object": "item", "description": "Limited", "quantity": 1, "amount_total": 500, "price": map[string]any{"id": "price_2", "unit_amount": 500}},
		}},
	}
	if pi != nil {
		s["payment_intent"] = pi
	} else {
		s["payment_intent"] = nil
	}
	return s
}

func intentObject(id, status, capture string, meta map[string]string) map[string]any {
	pi := map[string]any{"id": id, "object": "payment_intent", "status": status, "capture_method": capture, "currency": "usd",
		"amount": 2500, "amount_received": 0, "amount_capturable": 0, "livemode": false, "metadata": meta, "receipt_email": nil, "last_payment_error": nil}
	switch status {
	case "succeeded":
		pi["amount_received"] = 2500
	case "requires_capture":
		pi["amount_capturable"] = 2500
	case "requires_payment_method":
		pi["last_payment_error"] = map[string]any{"code": "card_declined"}
	}
	return pi
}

// checkoutMeta is the metadata the worker puts on a Checkout Session (and its
// PaymentIntent) for sessionObject's cart, on this deployment ("local": no
// DEPLOYMENT_ID or PUBLIC_URL in the tests).
var checkoutMeta = map[string]string{"kit_order": "ord_00000000000000c1", "kit_cart": "plain:2:1000,limited:1:500", "kit_flow": FlowCheckout, "kit_deployment": "local"}

// withMeta is checkoutMeta with some keys changed.
func withMeta(changes ...string) map[string]string {
	m := map[string]string{}
	for k, v := range checkoutMeta {
		m[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		m[changes[i]] = changes[i+1]
	}
	return m
}

func (e *hookEnv) setSession(t *testing.T, obj map[string]any) {
	t.Helper()
	b, _ := json.Marshal(obj)
	e.stub.set("GET /v1/checkout/sessions/"+obj["id"].(string), 200, string(b))
}

func (e *hookEnv) order(t *testing.T, key string) *orders.Order {
	t.Helper()
	o, err := e.store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestWebhookRefusesUnverifiedEvents(t *testing.T) {
	body := eventJSON("evt_1", "checkout.session.completed", map[string]any{"id": "cs_test_1", "object": "checkout.session"})
	now := time.Now()
	good := sign(body, testWebhookSecret, now)
	ts := strconv.FormatInt(now.Unix(), 10)
	big := eventJSON("evt_big", "checkout.session.completed", map[string]any{"id": "cs_test_1", "pad": strings.Repeat("x", maxWebhookBytes)})
	cases := []struct {
		name, body, header, code string
	}{
		{"missing header", body, "", "missing_signature"},
		{"malformed header", body, "garbage", "invalid_signature_header"},
		{"malformed timestamp", body, "t=yesterday,v1=" + strings.Repeat("0", 64), "invalid_signature_header"},
		{"no v1 signature", body, "t=" + ts + ",v0=" + strings.Repeat("0", 64), "invalid_signature"},
		{"forged signature", body, "t=" + ts + ",v1=" + strings.Repeat("ab", 32), "invalid_signature"},
		{"wrong secret", body, sign(body, "whsec_other", now), "invalid_signature"},
		{"stale timestamp", body, sign(body, testWebhookSecret, now.Add(-301*time.Second)), "signature_expired"},
		{"body changed after signing", strings.Replace(body, "cs_test_1", "cs_test_2", 1), good, "invalid_signature"},
		{"signature of another timestamp", body, strings.Replace(good, "t="+ts, "t="+strconv.FormatInt(now.Unix()-1, 10), 1), "invalid_signature"},
		{"oversized body", big, sign(big, testWebhookSecret, now), "body_too_large"},
		{"signed, but not an event", `{"hello":"world"}`, sign(`{"hello":"world"}`, testWebhookSecret, now), "invalid_event"},
		{"signed, but not JSON", `evt`, sign(`evt`, testWebhookSecret, now), "invalid_event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newHookServer(t)
			hdr := map[string]string{"Content-Type": "application/json"}
			if c.header != "" {
				hdr["Stripe-Signature"] = c.header
			}
			rec := send(t, e.srv, "POST", "/webhook", hdr, c.body)
			checkError(t, rec, 400, c.code, "")
			if n := e.store.WriteCount(); n != 0 {
				t.Errorf("%d store writes for a refused event", n)
			}
			if calls := e.stub.Calls(); len(calls) != 0 {
				t.Errorf("refused event made Stripe calls: %+v", calls)
			}
			if e.ful.total() != 0 {
				t.Error("refused event ran the fulfiller")
			}
		})
	}
}

func TestWebhookWithoutSecretOrStore(t *testing.T) {
	srv, _ := newStubServer(t, nil)
	srv = srv.withDeps(func(d *Deps) { d.Store = orders.NewMemStore() })
	body := eventJSON("evt_1", "checkout.session.completed", map[string]any{"id": "cs_test_1"})
	rec := send(t, srv, "POST", "/webhook", map[string]string{"Stripe-Signature": sign(body, testWebhookSecret, time.Now())}, body)
	checkError(t, rec, 500, "webhook_not_configured", "") // 5xx: Stripe keeps the event

	e := newHookServer(t)
	e.srv = e.srv.withDeps(func(d *Deps) { d.Store = nil })
	checkError(t, e.deliver(t, body), 503, "orders_unavailable", "")
	if len(e.stub.Calls()) != 0 {
		t.Error("Stripe called without a store")
	}
}

func TestWebhookAcceptsAnyOfSeveralSignatures(t *testing.T) {
	e := newHookServer(t)
	body := eventJSON("evt_roll", "customer.created", map[string]any{"id": "cus_1"})
	now := time.Now()
	hdr := sign(body, "whsec_old", now) + ",v1=" + hex.EncodeToString(webhook.ComputeSignature(now, []byte(body), testWebhookSecret))
	rec := send(t, e.srv, "POST", "/webhook", map[string]string{"Stripe-Signature": hdr}, body)
	if rec.Code != 200 {
		t.Fatalf("rolled secret: %d %s", rec.Code, rec.Body)
	}
}

func TestWebhookIgnoresOtherEventTypes(t *testing.T) {
	e := newHookServer(t)
	for _, typ := range []string{"customer.created", "charge.succeeded", "payment_intent.created", "checkout.session.async_payment_pending"} {
		rec := e.deliver(t, eventJSON("evt_"+strings.ReplaceAll(typ, ".", "_"), typ, map[string]any{"id": "x_1"}))
		var ans webhookAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil || !ans.Received || !ans.Ignored {
			t.Errorf("%s: %d %s", typ, rec.Code, rec.Body)
		}
	}
	if e.store.WriteCount() != 0 || len(e.stub.Calls()) != 0 {
		t.Errorf("ignored events wrote %d times / called Stripe %d times", e.store.WriteCount(), len(e.stub.Calls()))
	}
}

func TestWebhookCheckoutCompletedRecordsOneFulfilledOrder(t *testing.T) {
	e := newHookServer(t)
	pi := intentObject("pi_c1", "succeeded", "automatic", checkoutMeta)
	e.setSession(t, sessionObject("cs_test_c1", "complete", "paid", pi, checkoutMeta))
	body := eventJSON("evt_c1", "checkout.session.completed", map[string]any{"id": "cs_test_c1", "object": "checkout.session"})
	rec := e.deliver(t, body)
	var ans webhookAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil || ans.Order != "cs_test_c1" || ans.State != orders.Paid {
		t.Fatalf("delivery: %d %s", rec.Code, rec.Body)
	}
	calls := e.stub.Calls()
	if len(calls) != 1 || calls[0].Path != "/v1/checkout/sessions/cs_test_c1" ||
		calls[0].Query.Get("expand[0]") != "line_items" || calls[0].Query.Get("expand[1]") != "payment_intent" {
		t.Fatalf("Stripe calls: %+v", calls)
	}
	o := e.order(t, "cs_test_c1")
	want := []orders.Line{{Product: "plain", Description: "Plain", Quantity: 2, UnitAmount: 1000, AmountTotal: 2000}, {Product: "limited", Description: "Limited", Quantity: 1, UnitAmount: 500, AmountTotal: 500}}
	if o == nil || o.ID != "cs_test_c1" || o.Ref != "ord_00000000000000c1" || o.State != orders.Paid || o.Flow != FlowCheckout || o.SessionID != "cs_test_c1" || o.PaymentIntentID != "pi_c1" ||
		o.Email != "jenny@example.com" || o.AmountTotal != 2500 || o.AmountReceived != 2500 || o.Currency != "usd" || fmt.Sprint(o.Lines) != fmt.Sprint(want) {
		t.Fatalf("order: %+v", o)
	}
	if o.Fulfillment.Status != orders.FulfillmentDone || o.Fulfillment.Attempts != 1 || e.ful.count(o.ID) != 1 {
		t.Fatalf("fulfillment: %+v, %d calls", o.Fulfillment, e.ful.count(o.ID))
	}
	if got := e.ful.last[o.ID]; got.Email != "jenny@example.com" || len(got.Lines) != 2 {
		t.Errorf("the fulfiller saw %+v", got)
	}

	// The same event again: acknowledged as a duplicate, without Stripe.
	rec = e.deliver(t, body)
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != 200 || !ans.Duplicate {
		t.Fatalf("duplicate: %d %s", rec.Code, rec.Body)
	}
	// Other events about the same order: recorded, never a second fulfillment.
	e.deliver(t, eventJSON("evt_c1b", "payment_intent.succeeded", pi))
	e.deliver(t, eventJSON("evt_c1c", "checkout.session.async_payment_succeeded", map[string]any{"id": "cs_test_c1"}))
	if n := e.ful.count(o.ID); n != 1 || len(e.stub.Calls()) != 2 {
		t.Fatalf("%d fulfillments, %d Stripe calls", n, len(e.stub.Calls()))
	}
	// The return page's status call finds the order done and asks Stripe only for the status.
	if rec := send(t, e.srv, "GET", "/session-status?session_id=cs_test_c1", nil, ""); rec.Code != 200 {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	if len(e.stub.Calls()) != 3 || e.ful.count(o.ID) != 1 {
		t.Fatalf("status call: %d Stripe calls, %d fulfillments", len(e.stub.Calls()), e.ful.count(o.ID))
	}
}

func TestConcurrentDeliveriesAndStatusFulfillOnce(t *testing.T) {
	e := newHookServer(t)
	e.setSession(t, sessionObject("cs_test_race", "complete", "paid", intentObject("pi_race", "succeeded", "automatic", checkoutMeta), checkoutMeta))
	body := eventJSON("evt_race", "checkout.session.completed", map[string]any{"id": "cs_test_race"})
	var wg sync.WaitGroup
	codes := make([]int, 51)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = e.deliver(t, body).Code
		}(i)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		codes[50] = send(t, e.srv, "GET", "/session-status?session_id=cs_test_race", nil, "").Code
	}()
	wg.Wait()
	if e.ful.total() != 1 {
		t.Fatalf("%d fulfillments, want 1", e.ful.total())
	}
	if codes[50] != 200 {
		t.Errorf("status call: %d", codes[50])
	}
	// Deliveries that met the fulfillment running answer 503 (Stripe retries them); a retry succeeds.
	for i, c := range codes[:50] {
		if c != 200 && c != 503 {
			t.Errorf("delivery %d: %d", i, c)
		}
	}
	if rec := e.deliver(t, body); rec.Code != 200 {
		t.Fatalf("retry: %d %s", rec.Code, rec.Body)
	}
	if list, _, _ := e.store.List(context.Background(), orders.Query{Limit: 10}); len(list) != 1 || list[0].Fulfillment.Status != orders.FulfillmentDone {
		t.Fatalf("orders: %+v", list)
	}
}

func TestFailedFulfillmentIsRetried(t *testing.T) {
	e := newHookServer(t)
	e.ful.fail = 1
	e.setSession(t, sessionObject("cs_test_f", "complete", "paid", intentObject("pi_f", "succeeded", "automatic", checkoutMeta), checkoutMeta))
	body := eventJSON("evt_f", "checkout.session.completed", map[string]any{"id": "cs_test_f"})
	rec := e.deliver(t, body)
	checkError(t, rec, 500, "internal_error", "")
	o := e.order(t, "cs_test_f")
	if o.State != orders.Paid || o.Fulfillment.Status != orders.FulfillmentNone || o.Fulfillment.Attempts != 1 {
		t.Fatalf("after the failure: %+v", o)
	}
	// Stripe's retry of the same event runs it again (the event was not recorded).
	if rec := e.deliver(t, body); rec.Code != 200 {
		t.Fatalf("retry: %d %s", rec.Code, rec.Body)
	}
	o = e.order(t, "cs_test_f")
	if o.Fulfillment.Status != orders.FulfillmentDone || o.Fulfillment.Attempts != 2 || e.ful.count(o.ID) != 2 {
		t.Fatalf("after the retry: %+v, %d calls", o.Fulfillment, e.ful.count(o.ID))
	}
}

func TestAsyncPaymentPaths(t *testing.T) {
	for _, outcome := range []string{"succeeded", "failed"} {
		t.Run(outcome, func(t *testing.T) {
			e := newHookServer(t)
			e.setSession(t, sessionObject("cs_test_a", "complete", "unpaid", intentObject("pi_a", "processing", "automatic", checkoutMeta), checkoutMeta))
			e.deliver(t, eventJSON("evt_a1", "checkout.session.completed", map[string]any{"id": "cs_test_a"}))
			o := e.order(t, "cs_test_a")
			if o == nil || o.State != orders.AwaitingPayment || e.ful.total() != 0 {
				t.Fatalf("after completion: %+v", o)
			}
			if n, _ := e.store.Held(context.Background(), "limited", time.Now()); n != 1 {
				t.Errorf("an order awaiting payment holds its stock: held %d, want 1", n)
			}
			if outcome == "succeeded" {
				e.setSession(t, sessionObject("cs_test_a", "complete", "paid", intentObject("pi_a", "succeeded", "automatic", checkoutMeta), checkoutMeta))
			} else {
				e.setSession(t, sessionObject("cs_test_a", "complete", "unpaid", intentObject("pi_a", "requires_payment_method", "automatic", checkoutMeta), checkoutMeta))
			}
			rec := e.deliver(t, eventJSON("evt_a2", "checkout.session.async_payment_"+outcome, map[string]any{"id": "cs_test_a"}))
			o = e.order(t, "cs_test_a")
			want, fulfilled, sold := orders.Paid, 1, int64(1)
			if outcome == "failed" {
				want, fulfilled, sold = orders.Failed, 0, 0
			}
			if rec.Code != 200 || o.State != want || e.ful.total() != fulfilled {
				t.Fatalf("after async %s: %d, %+v, %d fulfillments", outcome, rec.Code, o, e.ful.total())
			}
			if n, _ := e.store.Held(context.Background(), "limited", time.Now()); n != sold {
				t.Errorf("held %d, want %d", n, sold)
			}
		})
	}
}

func TestExpiredSession(t *testing.T) {
	e := newHookServer(t)
	e.setSession(t, sessionObject("cs_test_x", "expired", "unpaid", nil, checkoutMeta))
	rec := e.deliver(t, eventJSON("evt_x", "checkout.session.expired", map[string]any{"id": "cs_test_x"}))
	o := e.order(t, "cs_test_x")
	if rec.Code != 200 || o == nil || o.State != orders.Expired || e.ful.total() != 0 {
		t.Fatalf("expired: %d %s %+v", rec.Code, rec.Body, o)
	}
	if n, _ := e.store.Held(context.Background(), "limited", time.Now()); n != 0 {
		t.Errorf("an expired order holds %d of its stock", n)
	}
	// An open session (a stale event) records nothing.
	e.setSession(t, sessionObject("cs_test_open", "open", "unpaid", nil, nil))
	rec = e.deliver(t, eventJSON("evt_open", "checkout.session.completed", map[string]any{"id": "cs_test_open"}))
	if rec.Code != 200 || e.order(t, "cs_test_open") != nil {
		t.Fatalf("open session: %d %s", rec.Code, rec.Body)
	}
}

func TestManualCaptureStates(t *testing.T) {
	meta := withMeta("kit_order", "ord_00000000000000aa")
	for _, end := range []string{"captured", "canceled"} {
		t.Run(end, func(t *testing.T) {
			e := newHookServer(t)
			auth := intentObject("pi_m", "requires_capture", "manual", meta)
			e.setSession(t, sessionObject("cs_test_m", "complete", "unpaid", auth, meta))
			e.deliver(t, eventJSON("evt_m0", "payment_intent.amount_capturable_updated", auth))
			if e.order(t, "pi_m") != nil {
				t.Fatal("a Checkout PaymentIntent made an order before its session")
			}
			e.deliver(t, eventJSON("evt_m1", "checkout.session.completed", map[string]any{"id": "cs_test_m"}))
			o := e.order(t, "pi_m")
			if o == nil || o.State != orders.Authorized || o.AmountCapturable != 2500 || o.AmountReceived != 0 || e.ful.total() != 0 {
				t.Fatalf("authorized: %+v", o)
			}
			var rec *httptest.ResponseRecorder
			if end == "captured" {
				rec = e.deliver(t, eventJSON("evt_m2", "payment_intent.succeeded", intentObject("pi_m", "succeeded", "manual", meta)))
			} else {
				rec = e.deliver(t, eventJSON("evt_m2", "payment_intent.canceled", intentObject("pi_m", "canceled", "manual", meta)))
			}
			o = e.order(t, "ord_00000000000000aa")
			if rec.Code != 200 || string(o.State) != end {
				t.Fatalf("%s: %d %s %+v", end, rec.Code, rec.Body, o)
			}
			if want := map[string]int{"captured": 1, "canceled": 0}[end]; e.ful.total() != want {
				t.Errorf("%d fulfillments, want %d", e.ful.total(), want)
			}
			// A late snapshot of the authorization does not undo it.
			e.deliver(t, eventJSON("evt_m3", "payment_intent.amount_capturable_updated", auth))
			if o := e.order(t, "pi_m"); string(o.State) != end {
				t.Errorf("late authorization moved the order to %s", o.State)
			}
		})
	}
}

func TestConfirmIntentFlowOrders(t *testing.T) {
	e := newHookServer(t)
	meta := withMeta("kit_order", "ord_00000000000000p1", "kit_flow", FlowConfirmIntent)
	// A declined first attempt, then success.
	e.deliver(t, eventJSON("evt_p0", "payment_intent.payment_failed", intentObject("pi_p", "requires_payment_method", "automatic", meta)))
	o := e.order(t, "ord_00000000000000p1")
	if o == nil || o.State != orders.Failed || o.Flow != FlowConfirmIntent {
		t.Fatalf("failed attempt: %+v", o)
	}
	rec := e.deliver(t, eventJSON("evt_p1", "payment_intent.succeeded", intentObject("pi_p", "succeeded", "automatic", meta)))
	o = e.order(t, "pi_p")
	want := []orders.Line{{Product: "plain", Description: "Plain", Quantity: 2, UnitAmount: 1000, AmountTotal: 2000}, {Product: "limited", Description: "Limited", Quantity: 1, UnitAmount: 500, AmountTotal: 500}}
	if rec.Code != 200 || o.ID != "pi_p" || o.Ref != "ord_00000000000000p1" || o.State != orders.Paid || fmt.Sprint(o.Lines) != fmt.Sprint(want) || e.ful.count("pi_p") != 1 {
		t.Fatalf("paid: %d %+v", rec.Code, o)
	}
	if len(e.stub.Calls()) != 0 {
		t.Errorf("PaymentIntent events called Stripe: %+v", e.stub.Calls())
	}
	// PaymentIntents that are not the kit's make no order.
	e.deliver(t, eventJSON("evt_p2", "payment_intent.succeeded", intentObject("pi_other", "succeeded", "automatic", map[string]string{})))
	if e.order(t, "pi_other") != nil {
		t.Error("a foreign PaymentIntent made an order")
	}
}

func TestEventsOfAnyAPIVersionAreAccepted(t *testing.T) {
	e := newHookServer(t)
	meta := withMeta("kit_order", "ord_00000000000000d1", "kit_flow", FlowConfirmIntent)
	body := strings.Replace(eventJSON("evt_d", "payment_intent.succeeded", intentObject("pi_d", "succeeded", "automatic", meta)), "2025-08-27.basil", "2026-03-25.dahlia", 1)
	if rec := e.deliver(t, body); rec.Code != 200 || e.order(t, "pi_d") == nil {
		t.Fatalf("dahlia event: %d %s", rec.Code, rec.Body)
	}
}

func TestStripeFailureAnswers5xx(t *testing.T) {
	e := newHookServer(t)
	e.stub.set("GET /v1/checkout/sessions/cs_test_down", 500, `{"error":{"type":"api_error","message":"boom"}}`)
	rec := e.deliver(t, eventJSON("evt_down", "checkout.session.completed", map[string]any{"id": "cs_test_down"}))
	if rec.Code < 500 {
		t.Fatalf("Stripe down: %d %s", rec.Code, rec.Body)
	}
	if ok, _ := e.store.EventProcessed(context.Background(), "evt_down"); ok {
		t.Error("a failed event was recorded as processed")
	}
	e.stub.set("GET /v1/checkout/sessions/cs_test_gone", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such session"}}`)
	if rec := e.deliver(t, eventJSON("evt_gone", "checkout.session.completed", map[string]any{"id": "cs_test_gone"})); rec.Code != 502 {
		t.Fatalf("unknown session: %d %s", rec.Code, rec.Body)
	}
	// A session id that is not one is refused before any call.
	before := len(e.stub.Calls())
	if rec := e.deliver(t, eventJSON("evt_bad", "checkout.session.completed", map[string]any{"id": "cs_test_x/../../v1/charges"})); rec.Code != 502 || len(e.stub.Calls()) != before {
		t.Fatalf("bad id: %d %s, %d calls", rec.Code, rec.Body, len(e.stub.Calls()))
	}
}

func TestStatusCallRecordsTheOrder(t *testing.T) {
	e := newHookServer(t)
	e.setSession(t, sessionObject("cs_test_s", "complete", "paid", intentObject("pi_s", "succeeded", "automatic", checkoutMeta), checkoutMeta))
	if rec := send(t, e.srv, "GET", "/session-status?session_id=cs_test_s", nil, ""); rec.Code != 200 {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	if o := e.order(t, "cs_test_s"); o == nil || o.Fulfillment.Status != orders.FulfillmentDone || e.ful.total() != 1 {
		t.Fatalf("order after the status call: %+v", o)
	}
	// The webhook arriving afterwards changes nothing.
	e.deliver(t, eventJSON("evt_s", "checkout.session.completed", map[string]any{"id": "cs_test_s"}))
	if e.ful.total() != 1 {
		t.Fatalf("%d fulfillments", e.ful.total())
	}
	// The fulfiller failing never fails the shopper's status call.
	e2 := newHookServer(t)
	e2.ful.fail = 5
	e2.setSession(t, sessionObject("cs_test_s", "complete", "paid", intentObject("pi_s", "succeeded", "automatic", checkoutMeta), checkoutMeta))
	if rec := send(t, e2.srv, "GET", "/session-status?session_id=cs_test_s", nil, ""); rec.Code != 200 {
		t.Fatalf("status with a failing fulfiller: %d %s", rec.Code, rec.Body)
	}
	// An open session is not looked up further.
	e3 := newHookServer(t)
	e3.setSession(t, sessionObject("cs_test_o", "open", "unpaid", nil, nil))
	send(t, e3.srv, "GET", "/session-status?session_id=cs_test_o", nil, "")
	if len(e3.stub.Calls()) != 1 || e3.store.WriteCount() != 0 {
		t.Errorf("open session: %d calls, %d writes", len(e3.stub.Calls()), e3.store.WriteCount())
	}
}

func TestParseCartMeta(t *testing.T) {
	if got := parseCartMeta("tshirt:2:2000,mug:1:1200"); fmt.Sprint(got) != fmt.Sprint([]orders.Line{{Product: "tshirt", Quantity: 2, UnitAmount: 2000, AmountTotal: 4000}, {Product: "mug", Quantity: 1, UnitAmount: 1200, AmountTotal: 1200}}) {
		t.Errorf("got %+v", got)
	}
	// Written before unit amounts were recorded: priced from the catalog later (UnitAmount -1).
	if got := parseCartMeta("tshirt:2"); len(got) != 1 || got[0].Quantity != 2 || got[0].UnitAmount != -1 {
		t.Errorf("old format: %+v", got)
	}
	for _, bad := range []string{"", "tshirt", "tshirt:", ":2", "tshirt:0", "tshirt:-1", "tshirt:2,", "a:99999999999999999999", "a:1:x", "a:1:2:3", "a:1:-5"} {
		if got := parseCartMeta(bad); got != nil {
			t.Errorf("%q: %+v", bad, got)
		}
	}
}

func TestLongOrdersReadAllLineItems(t *testing.T) {
	e := newHookServer(t)
	meta := withMeta("kit_order", "ord_00000000000000b1", "kit_cart", "plain:1:1000,limited:1:500,member:1:1500")
	obj := sessionObject("cs_test_long", "complete", "paid", intentObject("pi_long", "succeeded", "automatic", meta), meta)
	obj["line_items"].(map[string]any)["has_more"] = true
	e.setSession(t, obj)
	e.stub.set("GET /v1/checkout/sessions/cs_test_long/line_items", 200, `{"object":"list","has_more":false,"data":[
		{"description":"Plain","quantity":1,"amount_total":1000,"price":{"unit_amount":1000}},
		{"description":"Limited","quantity":1,"amount_total":500,"price":{"unit_amount":500}},
		{"description":"Membership","quantity":1,"amount_total":1500,"price":{"unit_amount":1500}}]}`)
	if rec := e.deliver(t, eventJSON("evt_long", "checkout.session.completed", map[string]any{"id": "cs_test_long"})); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	calls := e.stub.Calls()
	if len(calls) != 2 || calls[1].Path != "/v1/checkout/sessions/cs_test_long/line_items" || calls[1].Query.Get("limit") != "100" {
		t.Fatalf("calls: %+v", calls)
	}
	if o := e.order(t, "cs_test_long"); len(o.Lines) != 3 || o.Lines[2].Product != "member" {
		t.Fatalf("lines: %+v", o.Lines)
	}
}
