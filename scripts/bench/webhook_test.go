package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"checkoutkit/worker"
	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82/webhook"
)

const testSecret = "whsec_benchtest"

func TestPaymentIntentEvent(t *testing.T) {
	body := paymentIntentEvent(42, "bench", 1700000000)
	if string(body) != string(paymentIntentEvent(42, "bench", 1700000000)) {
		t.Fatal("event 42 is not the same body when built again")
	}
	var ev struct {
		ID, Object, Type string
		APIVersion       string `json:"api_version"`
		Created          int64
		Data             struct {
			Object struct {
				ID, Object, Currency, Status string
				CaptureMethod                string `json:"capture_method"`
				Amount                       int64
				AmountReceived               int64 `json:"amount_received"`
				Metadata                     map[string]string
			}
		}
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	pi := ev.Data.Object
	if ev.ID != "evt_bench_42" || ev.Object != "event" || ev.Type != "payment_intent.succeeded" || ev.APIVersion != "2025-08-27.basil" || ev.Created != 1700000000 {
		t.Errorf("event: %+v", ev)
	}
	if pi.ID != "pi_bench_42" || pi.Object != "payment_intent" || pi.Currency != "usd" || pi.Status != "succeeded" ||
		pi.CaptureMethod != "automatic" || pi.Amount != 2400 || pi.AmountReceived != 2400 {
		t.Errorf("payment intent: %+v", pi)
	}
	want := map[string]string{"kit_order": "ord_000000000000002a", "kit_cart": "mug:2:1200", "kit_flow": "confirm_intent", "kit_deployment": "bench"}
	if len(pi.Metadata) != len(want) {
		t.Errorf("metadata %v, want %v", pi.Metadata, want)
	}
	for k, v := range want {
		if pi.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, pi.Metadata[k], v)
		}
	}
	_, _, ref0 := eventIDs(0)
	_, _, ref1 := eventIDs(1)
	if ref0 == ref1 || len(ref0) != len("ord_")+16 {
		t.Errorf("order refs %q %q", ref0, ref1)
	}
}

func TestSignatureHeader(t *testing.T) {
	body := paymentIntentEvent(1, "bench", time.Now().Unix())
	now := time.Now()
	h := signatureHeader(body, testSecret, now)
	if want := fmt.Sprintf("t=%d,v1=", now.Unix()); !strings.HasPrefix(h, want) || len(h) != len(want)+64 {
		t.Errorf("header %q", h)
	}
	if err := webhook.ValidatePayloadWithTolerance(body, h, testSecret, 300*time.Second); err != nil {
		t.Errorf("stripe-go refuses the signature: %v", err)
	}
	if err := webhook.ValidatePayloadWithTolerance(body, h, "whsec_other", 300*time.Second); err == nil {
		t.Error("accepted with another secret")
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] = ' '
	if err := webhook.ValidatePayloadWithTolerance(tampered, h, testSecret, 300*time.Second); err == nil {
		t.Error("accepted a changed body")
	}
	old := signatureHeader(body, testSecret, now.Add(-301*time.Second))
	if err := webhook.ValidatePayloadWithTolerance(body, old, testSecret, 300*time.Second); err == nil {
		t.Error("accepted a signature older than 300 s")
	}
}

// The worker itself (in process, with an in-memory order store) accepts the
// bench's events: new orders answer their PaymentIntent, the re-sent first
// event is a duplicate, and do's checks pass.
func TestWorkerAcceptsBenchEvents(t *testing.T) {
	env := map[string]string{"STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": testSecret, "DEPLOYMENT_ID": benchDeployment}
	cfg, err := worker.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	store := orders.NewMemStore()
	srv := worker.NewServer(cfg, worker.Deps{Transport: http.DefaultTransport, Store: store})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	eps := endpointsFor(newEventSource(testSecret, benchDeployment, time.Now()))
	byName := map[string]endpoint{}
	for _, ep := range eps {
		byName[ep.Name] = ep
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := do(ctx, ts.Client(), ts.URL, byName["webhook"]); err != nil {
			t.Fatalf("new order %d: %v", i, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := do(ctx, ts.Client(), ts.URL, byName["dup-event"]); err != nil {
			t.Fatalf("duplicate %d: %v", i, err)
		}
	}
	o, err := store.Get(ctx, "pi_bench_2")
	if err != nil || o == nil {
		t.Fatalf("order pi_bench_2: %v %v", o, err)
	}
	if o.Ref != "ord_0000000000000002" || o.Flow != orders.FlowConfirmIntent || o.State != orders.Paid || o.AmountTotal != 2400 ||
		len(o.Lines) != 1 || o.Lines[0].Product != "mug" || o.Lines[0].Quantity != 2 {
		t.Errorf("order: %+v", o)
	}

	// Another deployment's event is acknowledged and ignored: no "order".
	other := newEventSource(testSecret, "elsewhere", time.Now())
	other.next.Store(100)
	if err := do(ctx, ts.Client(), ts.URL, endpoint{Name: "webhook", Method: http.MethodPost, Path: "/webhook", WantKey: "order", Next: other.newOrder}); err == nil {
		t.Error("an event of another deployment passed the new-order check")
	}
	// A signature made with another secret is refused (400), and do says so.
	wrong := newEventSource("whsec_wrong", benchDeployment, time.Now())
	wrong.next.Store(200)
	if err := do(ctx, ts.Client(), ts.URL, endpoint{Name: "webhook", Method: http.MethodPost, Path: "/webhook", WantKey: "order", Next: wrong.newOrder}); err == nil || !strings.Contains(err.Error(), "status 400") {
		t.Errorf("wrong secret: %v", err)
	}
}
