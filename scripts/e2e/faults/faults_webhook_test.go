// Stripe faults during webhook processing (part of the faults suite, run by
// TestMain, which also gives the worker a fresh D1 database and the
// fulfillment counter of e2e.ServeSink). The fulfillment of a paid Checkout
// Session re-reads the session from Stripe; a fault there must make /webhook
// answer 5xx, the sandbox (as Stripe) delivers the event again, and that
// delivery records the order and fulfills it: one order, one fulfillment.

package faults

import (
	"fmt"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

func TestFaultsWebhookRetriedUntilFulfilledOnce(t *testing.T) {
	sink := e2e.StartSink(t)
	cases := []struct {
		name  string
		fault map[string]any
		// failed: how many deliveries of checkout.session.completed must
		// fail (5xx) before one succeeds; gets: attempts at the session
		// retrieve in the worker's failing and succeeding deliveries.
		failed, gets int
	}{
		{"500", map[string]any{"kind": "500"}, 1, 2},
		{"500 twice", map[string]any{"kind": "500", "count": 2}, 2, 3},
		{"429", map[string]any{"kind": "429"}, 1, 2},
		{"malformed JSON", map[string]any{"kind": "malformed_json"}, 1, 2},
		{"slow past the timeout", map[string]any{"kind": "slow", "delay_ms": fltSlowMS}, 1, 2},
		// The worker's own retry absorbs a dropped connection: the first
		// delivery succeeds.
		{"dropped connection", map[string]any{"kind": "drop"}, 0, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fltClear(t)
			secret, id := e2e.CreateSession(t, fmt.Sprintf(`{"items":[{"id":"mug","quantity":1}],"idempotencyKey":%q}`, fltKey("faults-hook")))
			since := time.Now().Add(-time.Millisecond)
			path := "/v1/checkout/sessions/" + id
			f := map[string]any{"path_prefix": path, "method": "GET"}
			for k, v := range c.fault {
				f[k] = v
			}
			fltFault(t, f)
			pay := e2e.PayBody(secret, "4242424242424242")
			if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", pay); r.Status != 200 {
				t.Fatalf("pay: %d %s", r.Status, r.Body)
			}
			start := time.Now()
			o := e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
			t.Logf("fulfilled after %v", time.Since(start))
			if left := fltClear(t); left != 0 {
				t.Errorf("%d injected faults were never hit", left)
			}
			if o.State != "paid" || o.AmountReceived != 1200+500 || o.Details.AmountShipping != 500 || len(o.Lines) != 1 || o.Lines[0].Product != "mug" { // a mug and standard shipping
				t.Errorf("order %+v", o)
			}
			// The deliveries of checkout.session.completed: c.failed 5xx, then 200.
			var completed *e2e.SandboxEvent
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				for _, ev := range e2e.SandboxEvents(t, id) {
					if ev.Type == "checkout.session.completed" {
						completed = &ev
					}
				}
				if completed != nil && completed.State == "delivered" || time.Now().After(deadline) {
					break
				}
			}
			if completed == nil || completed.State != "delivered" || len(completed.Attempts) != c.failed+1 {
				t.Fatalf("checkout.session.completed deliveries: %+v, want %d failed then one 200", completed, c.failed)
			}
			for i, a := range completed.Attempts {
				if i < c.failed && a.StatusCode < 500 || i == c.failed && a.StatusCode != 200 {
					t.Errorf("delivery %d answered %d: %+v", i+1, a.StatusCode, completed.Attempts)
				}
			}
			// The session retrieves the worker made, the faulted ones first.
			gets := 0
			for _, a := range fltLog(t, since, "GET", path) {
				if a.Path == path {
					gets++
					if a.Fault != "" {
						fltInjected["webhook: "+c.fault["kind"].(string)]++
					}
				}
			}
			if gets < c.gets {
				t.Errorf("%d session retrieves, want at least %d", gets, c.gets)
			}
			// Exactly once: one order, one fulfillment action.
			time.Sleep(300 * time.Millisecond) // a late duplicate would show now
			var list struct{ Data []e2e.Order }
			e2e.Decode(t, e2e.AdminGet(t, "/admin/orders?limit=100"), &list)
			n := 0
			for _, l := range list.Data {
				if l.SessionID == id {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d orders for the session in /admin/orders", n)
			}
			o = e2e.GetOrder(t, id)
			if n := sink.Count(o.ID); n != 1 || o.Fulfillment.Attempts != 1 {
				t.Errorf("fulfillment calls %d, attempts %d, want 1 and 1", n, o.Fulfillment.Attempts)
			}
		})
	}
}
