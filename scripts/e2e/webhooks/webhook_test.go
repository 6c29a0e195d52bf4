// Webhooks and orders in workerd with a local D1 database, on a stack of
// their own started by TestMain (main_test.go: fresh D1 database, ADMIN_TOKEN,
// the sandbox delivering signed events to /webhook) whose worker POSTs each
// order it fulfills to FULFILLMENT_WEBHOOK_URL, a counter these tests serve
// (e2e.ServeSink). The database is read through the operator API and, for
// what it does not show (processed events), `wrangler d1 execute`.

package webhooks

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

func TestHooksRefusalsWriteNothing(t *testing.T) {
	e2e.StartSink(t)
	secret := e2e.Env(t, "STRIPE_WEBHOOK_SECRET")
	id := e2e.PaidSession(t, `[{"id":"mug","quantity":1}]`, "card")
	e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
	// Let the sandbox's remaining deliveries land before taking the snapshot.
	time.Sleep(500 * time.Millisecond)
	before := e2e.DBSnapshot(t)
	body := e2e.Event("evt_forged_1", "checkout.session.completed", map[string]any{"id": id, "object": "checkout.session"})
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	big := e2e.Event("evt_forged_big", "checkout.session.completed", map[string]any{"id": id, "pad": strings.Repeat("x", 300<<10)})
	for _, c := range []struct {
		name   string
		body   []byte
		sig    string
		status int
		code   string
	}{
		{"forged signature", body, "t=" + ts + ",v1=" + strings.Repeat("0f", 32), 400, "invalid_signature"},
		{"wrong secret", body, e2e.SignEvent(body, "whsec_not_the_endpoints", now), 400, "invalid_signature"},
		{"stale timestamp", body, e2e.SignEvent(body, secret, now.Add(-10*time.Minute)), 400, "signature_expired"},
		{"malformed header", body, "v1;" + hex.EncodeToString([]byte("nope")), 400, "invalid_signature_header"},
		{"missing header", body, "", 400, "missing_signature"},
		// Over 256 KiB the loader (wasm/instance.mjs) refuses it before Go.
		{"oversized body (300 KiB)", big, e2e.SignEvent(big, secret, now), 413, "body_too_large"},
	} {
		r := e2e.PostWebhook(t, c.body, c.sig)
		var eb struct{ Error struct{ Code string } }
		e2e.Decode(t, r, &eb)
		if r.Status != c.status || eb.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
	if after := e2e.DBSnapshot(t); after != before {
		t.Errorf("refused webhooks changed the database:\n before %s\n after  %s", before, after)
	}
}

// TestHooksPaidSessionBecomesOneFulfilledOrder is the kit's promise: a session paid
// in the sandbox, whose events the sandbox signs and delivers, becomes exactly
// one fulfilled order in /admin/orders; a redelivery changes nothing.
func TestHooksPaidSessionBecomesOneFulfilledOrder(t *testing.T) {
	s := e2e.StartSink(t)
	id := e2e.PaidSession(t, `[{"id":"mug","quantity":2},{"id":"stickers","quantity":1}]`, "card")
	o := e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
	if o.ID != id || !strings.HasPrefix(o.Reference, "ord_") || o.State != "paid" || o.Flow != "checkout" || o.SessionID != id || !strings.HasPrefix(o.PaymentIntentID, "pi_") ||
		o.Email != "jenny@example.com" || o.AmountTotal != 2900+500 || o.AmountReceived != 2900+500 || o.Details.AmountShipping != 500 || len(o.Lines) != 2 ||
		o.Lines[0].Product != "mug" || o.Lines[0].Quantity != 2 || o.Lines[0].UnitAmount != 1200 || o.Lines[1].Product != "stickers" {
		t.Fatalf("order: %+v", o)
	}
	// In the list too, once.
	var list struct {
		Data []e2e.Order
	}
	e2e.Decode(t, e2e.AdminGet(t, "/admin/orders?state=paid&limit=100"), &list)
	n := 0
	for _, l := range list.Data {
		if l.SessionID == id {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d orders for the session in /admin/orders", n)
	}
	var completed *e2e.SandboxEvent
	for _, ev := range e2e.SandboxEvents(t, id) {
		if ev.Type == "checkout.session.completed" {
			completed = &ev
		}
	}
	if completed == nil || completed.LastStatus == nil || *completed.LastStatus != 200 {
		t.Fatalf("checkout.session.completed delivery: %+v", completed)
	}
	// The sandbox delivers the same event again: acknowledged, nothing more.
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/events/"+completed.ID+"/resend", "", ""); r.Status != 200 {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	if rows := e2e.D1(t, `SELECT COUNT(*) AS n FROM orders WHERE session_id = '`+id+`'`); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Errorf("order rows for the session: %v", rows)
	}
	if rows := e2e.D1(t, `SELECT COUNT(*) AS n FROM webhook_events WHERE id = '`+completed.ID+`'`); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Errorf("the processed event is not recorded once: %v", rows)
	}
	o = e2e.GetOrder(t, id)
	if s.Count(o.ID) != 1 || o.Fulfillment.Attempts != 1 {
		t.Errorf("fulfillment calls %d, attempts %d, want 1", s.Count(o.ID), o.Fulfillment.Attempts)
	}
}

// TestHooksConcurrentDeliveriesRaceTheReturnPage: 50 deliveries of one event at
// once, while the shopper's return page asks /session-status: one order row,
// one fulfillment action. The counter holds each fulfillment call for a
// while, so that the racers meet the claim.
func TestHooksConcurrentDeliveriesRaceTheReturnPage(t *testing.T) {
	s := e2e.StartSink(t)
	s.SetDelay(3 * time.Second)
	defer s.SetDelay(0)
	secret := e2e.Env(t, "STRIPE_WEBHOOK_SECRET")
	id := e2e.PaidSession(t, `[{"id":"tshirt","quantity":1}]`, "card")
	body := e2e.Event("evt_race_"+strconv.FormatInt(time.Now().UnixNano(), 36), "checkout.session.completed", map[string]any{"id": id, "object": "checkout.session"})
	var wg sync.WaitGroup
	statuses := make([]int, 50)
	start := make(chan struct{})
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			statuses[i] = e2e.PostWebhook(t, body, e2e.SignEvent(body, secret, time.Now())).Status
		}(i)
	}
	var st e2e.SessionState
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		st = e2e.SessionStatus(t, id)
	}()
	close(start)
	wg.Wait()
	if st.Status != "complete" || st.PaymentStatus != "paid" {
		t.Errorf("status call: %+v", st)
	}
	counts := map[int]int{}
	for _, c := range statuses {
		counts[c]++
	}
	if counts[200]+counts[503] != 50 {
		t.Errorf("delivery statuses: %v (want only 200 and 503 fulfillment_in_progress)", counts)
	}
	o := e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
	// A retry of the event after the race is acknowledged.
	if r := e2e.PostWebhook(t, body, e2e.SignEvent(body, secret, time.Now())); r.Status != 200 {
		t.Errorf("retry after the race: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Second) // the sandbox's own retries, if any
	if rows := e2e.D1(t, `SELECT COUNT(*) AS n FROM orders WHERE session_id = '`+id+`'`); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Errorf("order rows: %v", rows)
	}
	o = e2e.GetOrder(t, id)
	if s.Count(o.ID) != 1 || o.Fulfillment.Attempts != 1 {
		t.Errorf("fulfillment actions %d, attempts %d, want 1 (statuses %v)", s.Count(o.ID), o.Fulfillment.Attempts, counts)
	}
	t.Logf("50 deliveries racing a status call (the fulfillment held for 3 s): statuses %v", counts)
}

func TestHooksAsyncPaymentSucceedsAndFails(t *testing.T) {
	s := e2e.StartSink(t)
	for _, outcome := range []string{"succeeded", "failed"} {
		t.Run(outcome, func(t *testing.T) {
			id := e2e.PaidSession(t, `[{"id":"stickers","quantity":2}]`, "delayed")
			o := e2e.WaitOrder(t, id, "awaiting_payment", func(o *e2e.Order) bool { return o.State == "awaiting_payment" })
			if o.Fulfillment.Status != "none" {
				t.Fatalf("an unpaid order was fulfilled: %+v", o)
			}
			if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id+"/async", "application/json", `{"outcome":"`+outcome+`"}`); r.Status != 200 {
				t.Fatalf("settle: %d %s", r.Status, r.Body)
			}
			if outcome == "succeeded" {
				o = e2e.WaitOrder(t, id, "paid and fulfilled", func(o *e2e.Order) bool { return o.State == "paid" && o.Fulfillment.Status == "done" })
				if s.Count(o.ID) != 1 || o.AmountReceived != 1000+500 { // standard shipping
					t.Errorf("fulfillment calls %d, order %+v", s.Count(o.ID), o)
				}
			} else {
				o = e2e.WaitOrder(t, id, "failed", func(o *e2e.Order) bool { return o.State == "failed" })
				time.Sleep(300 * time.Millisecond)
				if o = e2e.GetOrder(t, id); o.Fulfillment.Status != "none" || s.Count(o.ID) != 0 {
					t.Errorf("a failed order was fulfilled: %+v", o)
				}
			}
		})
	}
}

func TestHooksExpiredSession(t *testing.T) {
	e2e.StartSink(t)
	_, id := e2e.CreateSession(t, `{"items":[{"id":"poster","quantity":1}]}`)
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id+"/expire", "", ""); r.Status != 200 {
		t.Fatalf("expire: %d %s", r.Status, r.Body)
	}
	o := e2e.WaitOrder(t, id, "expired", func(o *e2e.Order) bool { return o.State == "expired" })
	if o.Fulfillment.Status != "none" || len(o.Lines) != 1 || o.Lines[0].Product != "poster" {
		t.Errorf("expired order: %+v", o)
	}
}

func TestHooksManualCaptureStates(t *testing.T) {
	s := e2e.StartSink(t)
	for _, end := range []string{"captured", "canceled"} {
		t.Run(end, func(t *testing.T) {
			id := e2e.PaidSession(t, `[{"id":"stove-rental","quantity":1}]`, "card")
			o := e2e.WaitOrder(t, id, "authorized", func(o *e2e.Order) bool { return o.State == "authorized" })
			if o.Fulfillment.Status != "none" || o.AmountReceived != 0 || !strings.HasPrefix(o.PaymentIntentID, "pi_") {
				t.Fatalf("authorized order: %+v", o)
			}
			op := map[string]string{"captured": "capture", "canceled": "cancel"}[end]
			if r := e2e.AdminPost(t, "/admin/payment_intents/"+o.PaymentIntentID+"/"+op, `{}`); r.Status != 200 {
				t.Fatalf("%s: %d %s", op, r.Status, r.Body)
			}
			o = e2e.WaitOrder(t, id, end, func(o *e2e.Order) bool { return o.State == end })
			// A late copy of the authorization event does not move the order back
			// (the UPSERT's state guard in D1).
			deliverStaleAuthorization(t, o.PaymentIntentID)
			if o := e2e.GetOrder(t, id); o.State != end {
				t.Errorf("a stale payment_intent.amount_capturable_updated moved the order to %s", o.State)
			}
			if end == "captured" {
				o = e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
				if o.AmountReceived != 4000 || s.Count(o.ID) != 1 {
					t.Errorf("captured: %+v, %d fulfillment calls", o, s.Count(o.ID))
				}
			} else {
				time.Sleep(300 * time.Millisecond)
				if o = e2e.GetOrder(t, id); o.Fulfillment.Status != "none" || s.Count(o.ID) != 0 {
					t.Errorf("a canceled order was fulfilled: %+v", o)
				}
			}
		})
	}
}

// deliverStaleAuthorization sends payment_intent.amount_capturable_updated
// for the sandbox's PaymentIntent id as it was while authorized, signed with
// the endpoint's secret, as a late retry from Stripe would arrive.
func deliverStaleAuthorization(t *testing.T, id string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e2e.Env(t, "SANDBOX_URL")+"/v1/payment_intents/"+id, nil)
	req.Header.Set("Authorization", "Bearer sk_test_sandbox")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var pi map[string]any
	if err := json.NewDecoder(res.Body).Decode(&pi); err != nil || res.StatusCode != 200 {
		t.Fatalf("retrieve %s: %d %v", id, res.StatusCode, err)
	}
	pi["status"], pi["amount_capturable"], pi["amount_received"] = "requires_capture", pi["amount"], 0
	body := e2e.Event("evt_stale_"+strconv.FormatInt(time.Now().UnixNano(), 36), "payment_intent.amount_capturable_updated", pi)
	if r := e2e.PostWebhook(t, body, e2e.SignEvent(body, e2e.Env(t, "STRIPE_WEBHOOK_SECRET"), time.Now())); r.Status != 200 {
		t.Fatalf("stale event: %d %s", r.Status, r.Body)
	}
}

// TestHooksConfirmIntentOrders: a PaymentIntent created and confirmed by the
// worker (POST /create-confirm-intent, no Checkout Session) becomes an order
// whose id is the PaymentIntent's, with its lines from metadata kit_cart; a
// declined one is recorded as failed and never fulfilled.
func TestHooksConfirmIntentOrders(t *testing.T) {
	s := e2e.StartSink(t)
	for _, c := range []struct{ pm, state string }{{"pm_card_visa", "paid"}, {"pm_card_chargeDeclined", "failed"}} {
		t.Run(c.state, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e2e.Env(t, "SANDBOX_URL")+"/v1/test_helpers/confirmation_tokens", strings.NewReader(e2e.Shipped(url.Values{"payment_method": {c.pm}}).Encode()))
			req.Header.Set("Authorization", "Bearer sk_test_sandbox")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var tok struct{ ID string }
			json.NewDecoder(res.Body).Decode(&tok)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.HasPrefix(tok.ID, "ctoken_") {
				t.Fatalf("confirmation token: %d %+v", res.StatusCode, tok)
			}
			r := e2e.Call(t, "POST", e2e.Env(t, "BASE_URL")+"/create-confirm-intent", "application/json",
				`{"items":[{"id":"mug","quantity":2}],"confirmationToken":"`+tok.ID+`","email":"jenny@example.com"}`)
			var pi struct {
				ID     string `json:"id"`
				Status string `json:"status"`
				Error  struct {
					PaymentIntent string `json:"payment_intent"`
				}
			}
			e2e.Decode(t, r, &pi)
			id := pi.ID
			if c.state == "failed" {
				id = pi.Error.PaymentIntent
				if r.Status != 402 || id == "" {
					t.Fatalf("declined confirm: %d %s", r.Status, r.Body)
				}
			} else if r.Status != 200 || pi.Status != "succeeded" {
				t.Fatalf("confirm: %d %s", r.Status, r.Body)
			}
			o := e2e.WaitOrder(t, id, c.state, func(o *e2e.Order) bool { return o.State == c.state })
			if o.ID != id || !strings.HasPrefix(o.Reference, "ord_") || o.Flow != "confirm_intent" || o.SessionID != "" || o.PaymentIntentID != id || o.AmountTotal != 2400+500 ||
				o.Details.Shipping == nil || o.Details.Shipping.Rate != "standard" || o.Details.Shipping.Address["city"] != "South San Francisco" || len(o.Lines) != 1 || o.Lines[0].Product != "mug" || o.Lines[0].Quantity != 2 || o.Lines[0].UnitAmount != 1200 {
				t.Fatalf("order: %+v", o)
			}
			want := map[string]int{"paid": 1, "failed": 0}[c.state]
			if c.state == "paid" {
				o = e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
			} else {
				time.Sleep(300 * time.Millisecond)
			}
			if s.Count(o.ID) != want {
				t.Errorf("fulfillment calls %d, want %d", s.Count(o.ID), want)
			}
		})
	}
}

// TestHooksSoldStockCountsOrders: the poster has a stock of 25 and at most 3
// per order. Paid orders keep their stock (a hold committed in D1's
// stock_holds), so once the rest is bought, one more than is left is refused.
func TestHooksSoldStockCountsOrders(t *testing.T) {
	e2e.StartSink(t)
	// What other tests hold or sold (an expired order holds nothing).
	rows := e2e.D1(t, `SELECT COALESCE(SUM(quantity), 0) AS n FROM stock_holds
		WHERE product_id = 'poster' AND (state = 'committed' OR (state = 'held' AND expires_at > unixepoch()))`)
	sold, _ := strconv.Atoi(fmt.Sprint(rows[0]["n"]))
	var bought []string
	for sold+3 <= 25 {
		bought = append(bought, e2e.PaidSession(t, `[{"id":"poster","quantity":3}]`, "card"))
		sold += 3
	}
	for _, id := range bought {
		e2e.WaitOrder(t, id, "paid", func(o *e2e.Order) bool { return o.State == "paid" })
	}
	left := 25 - sold
	create := func(n int) e2e.Response {
		return e2e.Call(t, "POST", e2e.Env(t, "BASE_URL")+"/create-checkout-session", "application/json", `{"items":[{"id":"poster","quantity":`+strconv.Itoa(n)+`}]}`)
	}
	outOfStock := func(n int) {
		t.Helper()
		r := create(n)
		var eb struct{ Error struct{ Code string } }
		e2e.Decode(t, r, &eb)
		if r.Status != 409 || eb.Error.Code != "out_of_stock" {
			t.Errorf("ordering %d with %d left: %d %s, want 409 out_of_stock", n, left, r.Status, r.Body)
		}
	}
	outOfStock(left + 1)
	if left > 0 {
		if r := create(left); r.Status != 200 {
			t.Errorf("ordering the %d left: %d %s", left, r.Status, r.Body)
		}
		left = 0
		outOfStock(1)
	}
}
