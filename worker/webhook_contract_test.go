//go:build contract

package worker

import (
	"checkoutkit/worker/orders"
	"context"
	"net/http"
	"testing"
	"time"
)

// The fulfillment's Stripe calls (retrieve a session with its line items and
// PaymentIntent expanded, list its line items) as stripe-mock's spec has them,
// and decoded into the worker's small types.
func TestStripeMockAcceptsFulfillmentRequests(t *testing.T) {
	mock := stripeMock(t)
	j := &judged{base: http.DefaultTransport}
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": mock, "STRIPE_WEBHOOK_SECRET": testWebhookSecret})
	srv := NewServer(cfg, Deps{Transport: j})
	srv = srv.withDeps(func(d *Deps) { d.Store = orders.NewMemStore() })
	ctx := context.Background()
	sess, err := srv.retrieveSession(ctx, "cs_test_a1b2c3")
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID == "" || sess.Status == "" || sess.LineItems == nil || len(sess.LineItems.Data) == 0 || sess.LineItems.Data[0].Quantity == 0 {
		t.Errorf("decoded session: %+v", sess)
	}
	items, err := srv.stripe.ListLineItems(ctx, "cs_test_a1b2c3")
	if err != nil || len(items.Data) == 0 || items.Data[0].Description == "" {
		t.Errorf("line items: %+v %v", items, err)
	}
	// A whole delivery: verified, the session read (stripe-mock's is open:
	// nothing to record), acknowledged.
	body := eventJSON("evt_mock", "checkout.session.completed", map[string]any{"id": "cs_test_a1b2c3"})
	rec := send(t, srv, "POST", "/webhook", map[string]string{"Stripe-Signature": sign(body, testWebhookSecret, time.Now())}, body)
	if rec.Code != 200 {
		t.Errorf("webhook: %d %s", rec.Code, rec.Body)
	}
	if len(j.verdicts) != 3 {
		t.Errorf("stripe-mock saw %v", j.verdicts)
	}
	for _, f := range j.failures {
		t.Errorf("stripe-mock rejected: %s", f)
	}
}

// The operator's refund as stripe-mock's spec has it.
func TestStripeMockAcceptsRefunds(t *testing.T) {
	mock := stripeMock(t)
	j := &judged{base: http.DefaultTransport}
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": mock, "ADMIN_TOKEN": testAdminToken})
	srv := NewServer(cfg, Deps{Transport: j})
	st := orders.NewMemStore()
	srv = srv.withDeps(func(d *Deps) { d.Store = st })
	o := &orders.Order{ID: "cs_test_refund", Ref: "ord_00000000000000r1", Flow: orders.FlowCheckout, Payment: orders.Paid, SessionID: "cs_test_refund",
		PaymentIntentID: "pi_refund", Currency: "usd", AmountTotal: 2000, AmountReceived: 2000,
		Lines: []orders.Line{{Product: "tshirt", Quantity: 1, UnitAmount: 2000, AmountTotal: 2000}}, Created: 1}
	o.Check()
	o.Derive()
	if ok, err := st.Create(context.Background(), o); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, body := range []string{`{"amount":500,"reason":"requested_by_customer"}`, ``} {
		rec := adminCall(t, srv, "POST", "/admin/orders/cs_test_refund/refund", body)
		if rec.Code != 200 {
			t.Errorf("refund %s: %d %s", body, rec.Code, rec.Body)
		}
	}
	if len(j.verdicts) != 2 {
		t.Errorf("stripe-mock saw %v", j.verdicts)
	}
	for _, f := range j.failures {
		t.Errorf("stripe-mock rejected: %s", f)
	}
}
