//go:build integration && webhooks

// Webhooks and orders in workerd with a local D1 database, run by
// scripts/webhooks.sh: a stack of their own (fresh D1 database, ADMIN_TOKEN,
// the sandbox delivering signed events to /webhook) whose worker POSTs each
// order it fulfills to FULFILLMENT_WEBHOOK_URL, a counter these tests serve on
// FULFILLMENT_SINK_PORT. The database is read through the operator API and,
// for what it does not show (processed events), `wrangler d1 execute`.
package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// sink counts the fulfillment POSTs per order (Idempotency-Key), keeps the
// last order each carried, and can hold each for a while, which keeps a
// fulfillment claim busy during a race.
type sink struct {
	mu    sync.Mutex
	hits  map[string]int
	last  map[string]order
	delay time.Duration
}

var (
	sinkOnce sync.Once
	theSink  = &sink{hits: map[string]int{}, last: map[string]order{}}
	sinkErr  error
)

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Type  string
		Order order
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || msg.Type != "order.fulfill" || msg.Order.ID == "" || msg.Order.ID != r.Header.Get("Idempotency-Key") {
		http.Error(w, "bad fulfillment call", 400)
		return
	}
	s.mu.Lock()
	s.hits[msg.Order.ID]++
	s.last[msg.Order.ID] = msg.Order
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
	w.WriteHeader(http.StatusNoContent)
}

func (s *sink) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[id]
}

// lastOrder is the order the last fulfillment call for id carried.
func (s *sink) lastOrder(id string) (order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.last[id]
	return o, ok
}

func (s *sink) setDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// startSink serves the counter on FULFILLMENT_SINK_PORT, once per test binary.
func startSink(t *testing.T) *sink {
	t.Helper()
	sinkOnce.Do(func() {
		var l net.Listener
		l, sinkErr = net.Listen("tcp", "127.0.0.1:"+os.Getenv("FULFILLMENT_SINK_PORT"))
		if sinkErr == nil {
			go http.Serve(l, theSink)
		}
	})
	if os.Getenv("FULFILLMENT_SINK_PORT") == "" || sinkErr != nil {
		t.Fatalf("the fulfillment counter cannot listen on FULFILLMENT_SINK_PORT=%q: %v (run through scripts/webhooks.sh)", os.Getenv("FULFILLMENT_SINK_PORT"), sinkErr)
	}
	return theSink
}

func hookAdminToken(t *testing.T) string {
	t.Helper()
	tok := os.Getenv("ADMIN_TOKEN")
	if len(tok) < 32 {
		t.Fatal("ADMIN_TOKEN is not set: run through scripts/webhooks.sh")
	}
	return tok
}

// order is an order as GET /admin/orders/{key} shows it (and as the
// fulfillment call carries it). Its id is its paying Stripe object's: the
// Checkout Session (cs_...) or, in the confirm-intent flow, the
// PaymentIntent (pi_...); reference is the kit's ord_... .
type order struct {
	ID               string      `json:"id"`
	Reference        string      `json:"reference"`
	Flow             string      `json:"flow"`
	State            string      `json:"state"`
	PaymentState     string      `json:"payment_state"`
	ReviewReason     string      `json:"review_reason"`
	SessionID        string      `json:"checkout_session"`
	PaymentIntentID  string      `json:"payment_intent"`
	Email            string      `json:"email"`
	Currency         string      `json:"currency"`
	AmountTotal      int64       `json:"amount_total"`
	AmountReceived   int64       `json:"amount_received"`
	AmountCapturable int64       `json:"amount_capturable"`
	AmountRefunded   int64       `json:"amount_refunded"`
	Dispute          string      `json:"dispute"`
	DeclineCode      string      `json:"decline_code"`
	Livemode         bool        `json:"livemode"`
	Lines            []orderLine `json:"lines"`
	Fulfillment      struct {
		Status      string `json:"status"`
		Attempts    int64  `json:"attempts"`
		FulfilledAt int64  `json:"fulfilled_at"`
	} `json:"fulfillment"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
}

type orderLine struct {
	Product     string `json:"product"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
	AmountTotal int64  `json:"amount_total"`
}

func adminGet(t *testing.T, path string) response {
	t.Helper()
	req, _ := http.NewRequest("GET", env(t, "BASE_URL")+path, nil)
	req.Header.Set("Authorization", "Bearer "+hookAdminToken(t))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return response{res.StatusCode, b.Bytes(), res.Header}
}

func adminPost(t *testing.T, path, body string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", env(t, "BASE_URL")+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+hookAdminToken(t))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return response{res.StatusCode, b.Bytes(), res.Header}
}

// getOrder returns the order recorded for key, nil if none.
func getOrder(t *testing.T, key string) *order {
	t.Helper()
	r := adminGet(t, "/admin/orders/"+key)
	if r.Status == 404 {
		return nil
	}
	if r.Status != 200 {
		t.Fatalf("GET /admin/orders/%s: %d %s", key, r.Status, r.Body)
	}
	var o order
	decode(t, r, &o)
	return &o
}

// waitOrder polls until the order of key satisfies ok (15 s at most).
func waitOrder(t *testing.T, key string, what string, ok func(*order) bool) *order {
	t.Helper()
	var o *order
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if o = getOrder(t, key); o != nil && ok(o) {
			return o
		}
	}
	t.Fatalf("order of %s never became %s: %+v", key, what, o)
	return nil
}

// d1 runs a read-only query on the stack's local D1 database and returns
// its rows.
func d1(t *testing.T, sql string) []map[string]any {
	t.Helper()
	dir := env(t, "D1_PERSIST_DIR")
	out, err := exec.Command("wrangler", "d1", "execute", "DB", "--local", "--persist-to", dir, "--json", "--command", sql).Output()
	if err != nil {
		t.Fatalf("wrangler d1 execute %q: %v\n%s", sql, err, out)
	}
	var res []struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("wrangler d1 execute output: %v\n%s", err, out)
	}
	return res[0].Results
}

// dbSnapshot summarizes every table, so that a changed row shows.
func dbSnapshot(t *testing.T) string {
	rows := d1(t, `SELECT (SELECT COUNT(*) FROM orders) AS orders, (SELECT COALESCE(SUM(updated_at), 0) FROM orders) AS updated,
		(SELECT COALESCE(SUM(version), 0) FROM orders) AS versions, (SELECT COUNT(*) FROM webhook_events) AS events,
		(SELECT COALESCE(SUM(fulfillment_attempts), 0) FROM orders) AS attempts,
		(SELECT COUNT(*) FROM stock_holds) AS holds, (SELECT COALESCE(SUM(version), 0) FROM stock_holds) AS hold_versions`)
	return fmt.Sprint(rows)
}

func signEvent(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func postWebhook(t *testing.T, body []byte, sig string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", env(t, "BASE_URL")+"/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return response{res.StatusCode, b.Bytes(), res.Header}
}

// event is a Stripe event around obj, as the sandbox and Stripe send them.
func event(id, typ string, obj any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2025-08-27.basil", "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "request": map[string]any{"id": nil, "idempotency_key": nil}, "type": typ,
		"data": map[string]any{"object": obj}})
	return b
}

// paidSession creates a session for items through the worker and pays it in
// the sandbox; method is "card" or "delayed".
func paidSession(t *testing.T, items, method string) string {
	t.Helper()
	secret, id := createSession(t, `{"items":`+items+`}`)
	pay := fmt.Sprintf(`{"client_secret":%q,"email":"jenny@example.com","card_number":"4242424242424242","exp":"12/34","cvc":"123"}`, secret)
	if method == "delayed" {
		pay = fmt.Sprintf(`{"client_secret":%q,"email":"jenny@example.com","method":"delayed"}`, secret)
	}
	if r := call(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", pay); r.Status != 200 {
		t.Fatalf("pay: %d %s", r.Status, r.Body)
	}
	return id
}

type sandboxEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	State      string `json:"state"`
	LastStatus *int   `json:"last_status"`
	Attempts   []struct {
		StatusCode int `json:"status_code"`
	} `json:"attempts"`
}

func sandboxEvents(t *testing.T, objectID string) []sandboxEvent {
	t.Helper()
	var out struct{ Events []sandboxEvent }
	decode(t, call(t, "GET", env(t, "SANDBOX_URL")+"/_sandbox/events?object_id="+objectID, "", ""), &out)
	return out.Events
}

func TestHooksRefusalsWriteNothing(t *testing.T) {
	startSink(t)
	secret := env(t, "STRIPE_WEBHOOK_SECRET")
	id := paidSession(t, `[{"id":"mug","quantity":1}]`, "card")
	waitOrder(t, id, "fulfilled", func(o *order) bool { return o.Fulfillment.Status == "done" })
	// Let the sandbox's remaining deliveries land before taking the snapshot.
	time.Sleep(500 * time.Millisecond)
	before := dbSnapshot(t)
	body := event("evt_forged_1", "checkout.session.completed", map[string]any{"id": id, "object": "checkout.session"})
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	big := event("evt_forged_big", "checkout.session.completed", map[string]any{"id": id, "pad": strings.Repeat("x", 300<<10)})
	for _, c := range []struct {
		name   string
		body   []byte
		sig    string
		status int
		code   string
	}{
		{"forged signature", body, "t=" + ts + ",v1=" + strings.Repeat("0f", 32), 400, "invalid_signature"},
		{"wrong secret", body, signEvent(body, "whsec_not_the_endpoints", now), 400, "invalid_signature"},
		{"stale timestamp", body, signEvent(body, secret, now.Add(-10*time.Minute)), 400, "signature_expired"},
		{"malformed header", body, "v1;" + hex.EncodeToString([]byte("nope")), 400, "invalid_signature_header"},
		{"missing header", body, "", 400, "missing_signature"},
		// Over 256 KiB the loader (wasm/instance.mjs) refuses it before Go.
		{"oversized body (300 KiB)", big, signEvent(big, secret, now), 413, "body_too_large"},
	} {
		r := postWebhook(t, c.body, c.sig)
		var eb struct{ Error struct{ Code string } }
		decode(t, r, &eb)
		if r.Status != c.status || eb.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
	if after := dbSnapshot(t); after != before {
		t.Errorf("refused webhooks changed the database:\n before %s\n after  %s", before, after)
	}
}

// TestHooksPaidSessionBecomesOneFulfilledOrder is the kit's promise: a session paid
// in the sandbox, whose events the sandbox signs and delivers, becomes exactly
// one fulfilled order in /admin/orders; a redelivery changes nothing.
func TestHooksPaidSessionBecomesOneFulfilledOrder(t *testing.T) {
	s := startSink(t)
	id := paidSession(t, `[{"id":"mug","quantity":2},{"id":"stickers","quantity":1}]`, "card")
	o := waitOrder(t, id, "fulfilled", func(o *order) bool { return o.Fulfillment.Status == "done" })
	if o.ID != id || !strings.HasPrefix(o.Reference, "ord_") || o.State != "paid" || o.Flow != "checkout" || o.SessionID != id || !strings.HasPrefix(o.PaymentIntentID, "pi_") ||
		o.Email != "jenny@example.com" || o.AmountTotal != 2900 || o.AmountReceived != 2900 || len(o.Lines) != 2 ||
		o.Lines[0].Product != "mug" || o.Lines[0].Quantity != 2 || o.Lines[0].UnitAmount != 1200 || o.Lines[1].Product != "stickers" {
		t.Fatalf("order: %+v", o)
	}
	// In the list too, once.
	var list struct {
		Data []order
	}
	decode(t, adminGet(t, "/admin/orders?state=paid&limit=100"), &list)
	n := 0
	for _, l := range list.Data {
		if l.SessionID == id {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d orders for the session in /admin/orders", n)
	}
	var completed *sandboxEvent
	for _, ev := range sandboxEvents(t, id) {
		if ev.Type == "checkout.session.completed" {
			completed = &ev
		}
	}
	if completed == nil || completed.LastStatus == nil || *completed.LastStatus != 200 {
		t.Fatalf("checkout.session.completed delivery: %+v", completed)
	}
	// The sandbox delivers the same event again: acknowledged, nothing more.
	if r := call(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/events/"+completed.ID+"/resend", "", ""); r.Status != 200 {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	if rows := d1(t, `SELECT COUNT(*) AS n FROM orders WHERE session_id = '`+id+`'`); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Errorf("order rows for the session: %v", rows)
	}
	if rows := d1(t, `SELECT COUNT(*) AS n FROM webhook_events WHERE id = '`+completed.ID+`'`); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Errorf("the processed event is not recorded once: %v", rows)
	}
	o = getOrder(t, id)
	if s.count(o.ID) != 1 || o.Fulfillment.Attempts != 1 {
		t.Errorf("fulfillment calls %d, attempts %d, want 1", s.count(o.ID), o.Fulfillment.Attempts)
	}
}

// TestHooksConcurrentDeliveriesRaceTheReturnPage: 50 deliveries of one event at
// once, while the shopper's return page asks /session-status: one order row,
// one fulfillment action. The counter holds each fulfillment call for a
// while, so that the racers meet the claim.
func TestHooksConcurrentDeliveriesRaceTheReturnPage(t *testing.T) {
	s := startSink(t)
	s.setDelay(3 * time.Second)
	defer s.setDelay(0)
	secret := env(t, "STRIPE_WEBHOOK_SECRET")
	id := paidSession(t, `[{"id":"tshirt","quantity":1}]`, "card")
	body := event("evt_race_"+strconv.FormatInt(time.Now().UnixNano(), 36), "checkout.session.completed", map[string]any{"id": id, "object": "checkout.session"})
	var wg sync.WaitGroup
	statuses := make([]int, 50)
	start := make(chan struct{})
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			statuses[i] = postWebhook(t, body, signEvent(body, secret, time.Now())).Status
		}(i)
	}
	var st status
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		st = sessionStatus(t, id)
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
	o := waitOrder(t, id, "fulfilled", func(o *order) bool { return o.Fulfillment.Status == "done" })
	// A retry of the event after the race is acknowledged.
	if r := postWebhook(t, body, signEvent(body, secret, time.Now())); r.Status != 200 {
		t.Errorf("retry after the race: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Second) // the sandbox's own retries, if any
	if rows := d1(t, `SELECT COUNT(*) AS n FROM orders WHERE session_id = '`+id+`'`); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Errorf("order rows: %v", rows)
	}
	o = getOrder(t, id)
	if s.count(o.ID) != 1 || o.Fulfillment.Attempts != 1 {
		t.Errorf("fulfillment actions %d, attempts %d, want 1 (statuses %v)", s.count(o.ID), o.Fulfillment.Attempts, counts)
	}
	t.Logf("50 deliveries racing a status call (the fulfillment held for 3 s): statuses %v", counts)
}

func TestHooksAsyncPaymentSucceedsAndFails(t *testing.T) {
	s := startSink(t)
	for _, outcome := range []string{"succeeded", "failed"} {
		t.Run(outcome, func(t *testing.T) {
			id := paidSession(t, `[{"id":"stickers","quantity":2}]`, "delayed")
			o := waitOrder(t, id, "awaiting_payment", func(o *order) bool { return o.State == "awaiting_payment" })
			if o.Fulfillment.Status != "none" {
				t.Fatalf("an unpaid order was fulfilled: %+v", o)
			}
			if r := call(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id+"/async", "application/json", `{"outcome":"`+outcome+`"}`); r.Status != 200 {
				t.Fatalf("settle: %d %s", r.Status, r.Body)
			}
			if outcome == "succeeded" {
				o = waitOrder(t, id, "paid and fulfilled", func(o *order) bool { return o.State == "paid" && o.Fulfillment.Status == "done" })
				if s.count(o.ID) != 1 || o.AmountReceived != 1000 {
					t.Errorf("fulfillment calls %d, order %+v", s.count(o.ID), o)
				}
			} else {
				o = waitOrder(t, id, "failed", func(o *order) bool { return o.State == "failed" })
				time.Sleep(300 * time.Millisecond)
				if o = getOrder(t, id); o.Fulfillment.Status != "none" || s.count(o.ID) != 0 {
					t.Errorf("a failed order was fulfilled: %+v", o)
				}
			}
		})
	}
}

func TestHooksExpiredSession(t *testing.T) {
	startSink(t)
	_, id := createSession(t, `{"items":[{"id":"poster","quantity":1}]}`)
	if r := call(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id+"/expire", "", ""); r.Status != 200 {
		t.Fatalf("expire: %d %s", r.Status, r.Body)
	}
	o := waitOrder(t, id, "expired", func(o *order) bool { return o.State == "expired" })
	if o.Fulfillment.Status != "none" || len(o.Lines) != 1 || o.Lines[0].Product != "poster" {
		t.Errorf("expired order: %+v", o)
	}
}

func TestHooksManualCaptureStates(t *testing.T) {
	s := startSink(t)
	for _, end := range []string{"captured", "canceled"} {
		t.Run(end, func(t *testing.T) {
			id := paidSession(t, `[{"id":"stove-rental","quantity":1}]`, "card")
			o := waitOrder(t, id, "authorized", func(o *order) bool { return o.State == "authorized" })
			if o.Fulfillment.Status != "none" || o.AmountReceived != 0 || !strings.HasPrefix(o.PaymentIntentID, "pi_") {
				t.Fatalf("authorized order: %+v", o)
			}
			op := map[string]string{"captured": "capture", "canceled": "cancel"}[end]
			if r := adminPost(t, "/admin/payment_intents/"+o.PaymentIntentID+"/"+op, `{}`); r.Status != 200 {
				t.Fatalf("%s: %d %s", op, r.Status, r.Body)
			}
			o = waitOrder(t, id, end, func(o *order) bool { return o.State == end })
			// A late copy of the authorization event does not move the order back
			// (the UPSERT's state guard in D1).
			deliverStaleAuthorization(t, o.PaymentIntentID)
			if o := getOrder(t, id); o.State != end {
				t.Errorf("a stale payment_intent.amount_capturable_updated moved the order to %s", o.State)
			}
			if end == "captured" {
				o = waitOrder(t, id, "fulfilled", func(o *order) bool { return o.Fulfillment.Status == "done" })
				if o.AmountReceived != 4000 || s.count(o.ID) != 1 {
					t.Errorf("captured: %+v, %d fulfillment calls", o, s.count(o.ID))
				}
			} else {
				time.Sleep(300 * time.Millisecond)
				if o = getOrder(t, id); o.Fulfillment.Status != "none" || s.count(o.ID) != 0 {
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
	req, _ := http.NewRequest("GET", env(t, "SANDBOX_URL")+"/v1/payment_intents/"+id, nil)
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
	body := event("evt_stale_"+strconv.FormatInt(time.Now().UnixNano(), 36), "payment_intent.amount_capturable_updated", pi)
	if r := postWebhook(t, body, signEvent(body, env(t, "STRIPE_WEBHOOK_SECRET"), time.Now())); r.Status != 200 {
		t.Fatalf("stale event: %d %s", r.Status, r.Body)
	}
}

// TestHooksConfirmIntentOrders: a PaymentIntent created and confirmed by the
// worker (POST /create-confirm-intent, no Checkout Session) becomes an order
// whose id is the PaymentIntent's, with its lines from metadata kit_cart; a
// declined one is recorded as failed and never fulfilled.
func TestHooksConfirmIntentOrders(t *testing.T) {
	s := startSink(t)
	for _, c := range []struct{ pm, state string }{{"pm_card_visa", "paid"}, {"pm_card_chargeDeclined", "failed"}} {
		t.Run(c.state, func(t *testing.T) {
			req, _ := http.NewRequest("POST", env(t, "SANDBOX_URL")+"/v1/test_helpers/confirmation_tokens", strings.NewReader("payment_method="+c.pm))
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
			r := call(t, "POST", env(t, "BASE_URL")+"/create-confirm-intent", "application/json",
				`{"items":[{"id":"mug","quantity":2}],"confirmationToken":"`+tok.ID+`","email":"jenny@example.com"}`)
			var pi struct {
				ID     string `json:"id"`
				Status string `json:"status"`
				Error  struct {
					PaymentIntent string `json:"payment_intent"`
				}
			}
			decode(t, r, &pi)
			id := pi.ID
			if c.state == "failed" {
				id = pi.Error.PaymentIntent
				if r.Status != 402 || id == "" {
					t.Fatalf("declined confirm: %d %s", r.Status, r.Body)
				}
			} else if r.Status != 200 || pi.Status != "succeeded" {
				t.Fatalf("confirm: %d %s", r.Status, r.Body)
			}
			o := waitOrder(t, id, c.state, func(o *order) bool { return o.State == c.state })
			if o.ID != id || !strings.HasPrefix(o.Reference, "ord_") || o.Flow != "confirm_intent" || o.SessionID != "" || o.PaymentIntentID != id || o.AmountTotal != 2400 ||
				len(o.Lines) != 1 || o.Lines[0].Product != "mug" || o.Lines[0].Quantity != 2 || o.Lines[0].UnitAmount != 1200 {
				t.Fatalf("order: %+v", o)
			}
			want := map[string]int{"paid": 1, "failed": 0}[c.state]
			if c.state == "paid" {
				o = waitOrder(t, id, "fulfilled", func(o *order) bool { return o.Fulfillment.Status == "done" })
			} else {
				time.Sleep(300 * time.Millisecond)
			}
			if s.count(o.ID) != want {
				t.Errorf("fulfillment calls %d, want %d", s.count(o.ID), want)
			}
		})
	}
}

// TestHooksSoldStockCountsOrders: the poster has a stock of 25 and at most 3
// per order. Paid orders keep their stock (a hold committed in D1's
// stock_holds), so once the rest is bought, one more than is left is refused.
func TestHooksSoldStockCountsOrders(t *testing.T) {
	startSink(t)
	// What other tests hold or sold (an expired order holds nothing).
	rows := d1(t, `SELECT COALESCE(SUM(quantity), 0) AS n FROM stock_holds
		WHERE product_id = 'poster' AND (state = 'committed' OR (state = 'held' AND expires_at > unixepoch()))`)
	sold, _ := strconv.Atoi(fmt.Sprint(rows[0]["n"]))
	var bought []string
	for sold+3 <= 25 {
		bought = append(bought, paidSession(t, `[{"id":"poster","quantity":3}]`, "card"))
		sold += 3
	}
	for _, id := range bought {
		waitOrder(t, id, "paid", func(o *order) bool { return o.State == "paid" })
	}
	left := 25 - sold
	create := func(n int) response {
		return call(t, "POST", env(t, "BASE_URL")+"/create-checkout-session", "application/json", `{"items":[{"id":"poster","quantity":`+strconv.Itoa(n)+`}]}`)
	}
	outOfStock := func(n int) {
		t.Helper()
		r := create(n)
		var eb struct{ Error struct{ Code string } }
		decode(t, r, &eb)
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
