// The Stripe-faults suite: the worker in workerd (wrangler dev) against the
// sandbox, with failures injected through POST /_sandbox/faults into the
// Stripe calls of create-checkout-session, session-status,
// create-confirm-intent and the operator's capture. For each, what the
// shopper (or operator) gets, how many attempts reached Stripe (the sandbox's
// request log), that a retried POST kept its idempotency key, that a client's
// retry after a fault that did go through returns what was made instead of
// making it again, and that nothing was made twice or half.
//
// It runs on a stack of its own, started by TestMain (main_test.go): an
// ADMIN_TOKEN and STRIPE_TIMEOUT_MS=2000 (so that a "slow" fault of 3 s times
// out quickly).
//
//	go test -count=1 ./scripts/e2e/faults     # needs dist/ built (make build)

package faults

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// fltTimeout is the STRIPE_TIMEOUT_MS TestMain gives the worker; a
// slow fault waits fltSlowMS, longer.
const (
	fltTimeout = 2 * time.Second
	fltSlowMS  = 3000
)

// fltRecord is one entry of the sandbox's request log.
type fltRecord struct {
	Time           string         `json:"time"`
	Method         string         `json:"method"`
	Path           string         `json:"path"`
	Form           map[string]any `json:"form"`
	IdempotencyKey string         `json:"idempotency_key"`
	Status         int            `json:"status"`
	Replayed       bool           `json:"idempotent_replayed"`
	Fault          string         `json:"fault"`
	FaultExecuted  bool           `json:"fault_executed"`
}

// executed reports whether the sandbox did the request's work (made or
// changed something) rather than refusing it or replaying a saved answer.
func (r fltRecord) executed() bool {
	if r.Fault != "" {
		return r.FaultExecuted && !r.Replayed
	}
	return r.Status == 200 && !r.Replayed
}

func fltAdminToken(t *testing.T) string {
	t.Helper()
	tok := os.Getenv("ADMIN_TOKEN")
	if len(tok) < 32 {
		t.Fatal("ADMIN_TOKEN (32+ characters) is not set: the suite's TestMain passes it to the worker")
	}
	return tok
}

// fltDo sends a request with headers to the worker or the sandbox.
func fltDo(t *testing.T, method, u string, header map[string]string, body string) e2e.Response {
	t.Helper()
	start := time.Now()
	r := e2e.Send(t, method, u, header, body)
	if d := time.Since(start); d > fltTimeout+3*time.Second {
		t.Errorf("%s %s took %v: longer than the Stripe timeout allows", method, u, d)
	}
	return r
}

// fltStripe calls the sandbox's API as a server would (for setup and checks).
func fltStripe(t *testing.T, method, path string, form url.Values, v any) {
	t.Helper()
	hdr := map[string]string{"Authorization": "Bearer sk_test_sandbox"}
	body := ""
	if form != nil {
		hdr["Content-Type"] = "application/x-www-form-urlencoded"
		body = form.Encode()
	}
	r := fltDo(t, method, e2e.Env(t, "SANDBOX_URL")+path, hdr, body)
	if r.Status != 200 {
		t.Fatalf("sandbox %s %s: %d %s", method, path, r.Status, r.Body)
	}
	if v != nil {
		e2e.Decode(t, r, v)
	}
}

// fltFault injects a fault; the map holds POST /_sandbox/faults' fields.
func fltFault(t *testing.T, f map[string]any) {
	t.Helper()
	b, _ := json.Marshal(f)
	r := fltDo(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/faults", map[string]string{"Content-Type": "application/json"}, string(b))
	if r.Status != 200 {
		t.Fatalf("inject %s: %d %s", b, r.Status, r.Body)
	}
}

// fltClear removes faults left over (a case that failed early) and reports
// how many were still waiting.
func fltClear(t *testing.T) int {
	t.Helper()
	var out struct{ Cleared int }
	e2e.Decode(t, fltDo(t, "DELETE", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/faults", nil, ""), &out)
	return out.Cleared
}

// fltLog returns the sandbox's requests since a time, for a method and path
// prefix.
func fltLog(t *testing.T, since time.Time, method, prefix string) []fltRecord {
	t.Helper()
	q := url.Values{"since": {since.UTC().Format(time.RFC3339Nano)}, "method": {method}, "path_prefix": {prefix}}
	var log struct{ Requests []fltRecord }
	e2e.Decode(t, fltDo(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/requests?"+q.Encode(), nil, ""), &log)
	return log.Requests
}

// newOrderRef is a made-up order reference for PaymentIntents these tests
// create at the sandbox themselves.
func newOrderRef(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "ord_" + hex.EncodeToString(sum[:8])
}

var fltSeq = time.Now().UnixNano() % 1_000_000_000

// fltKey is a new client idempotencyKey.
func fltKey(prefix string) string {
	fltSeq++
	return fmt.Sprintf("%s-%d", prefix, fltSeq)
}

// fltCase is one injected fault and what must follow.
type fltCase struct {
	name  string
	fault map[string]any // kind, count, delay_ms, after (path and method are the endpoint's)
	// status and code: the answer; attempts: how many requests reached the
	// faulted Stripe endpoint; made: how many of them did their work.
	status   int
	code     string
	attempts int
	made     int
	// retry: the client then repeats the request (same idempotencyKey, or
	// the operator's same Idempotency-Key) and must get what was made.
	retry bool
}

func (c fltCase) kind() string {
	k := c.fault["kind"].(string)
	if c.fault["after"] == true {
		k += " (after)"
	}
	return k
}

// fltCases are the same for every POST endpoint.
var fltPOSTCases = []fltCase{
	{name: "500", fault: map[string]any{"kind": "500"}, status: 502, code: "stripe_unavailable", attempts: 1, made: 0, retry: true},
	{name: "500 after processing", fault: map[string]any{"kind": "500", "after": true}, status: 502, code: "stripe_unavailable", attempts: 1, made: 1, retry: true},
	{name: "429", fault: map[string]any{"kind": "429"}, status: 503, code: "stripe_rate_limited", attempts: 1, made: 0},
	{name: "dropped connection", fault: map[string]any{"kind": "drop"}, status: 200, attempts: 2, made: 1},
	{name: "dropped after processing", fault: map[string]any{"kind": "drop", "after": true}, status: 200, attempts: 2, made: 1},
	{name: "dropped twice", fault: map[string]any{"kind": "drop", "count": 2}, status: 502, code: "stripe_unreachable", attempts: 2, made: 0},
	{name: "malformed JSON", fault: map[string]any{"kind": "malformed_json"}, status: 502, code: "stripe_bad_response", attempts: 1, made: 0},
	{name: "malformed JSON after processing", fault: map[string]any{"kind": "malformed_json", "after": true}, status: 502, code: "stripe_bad_response", attempts: 1, made: 1, retry: true},
	{name: "slow past the timeout", fault: map[string]any{"kind": "slow", "delay_ms": fltSlowMS}, status: 504, code: "stripe_timeout", attempts: 1, made: 1, retry: true},
	{name: "slow within the timeout", fault: map[string]any{"kind": "slow", "delay_ms": 300}, status: 200, attempts: 1, made: 1},
}

var fltGETCases = []fltCase{
	{name: "500", fault: map[string]any{"kind": "500"}, status: 502, code: "stripe_unavailable", attempts: 1},
	{name: "429", fault: map[string]any{"kind": "429"}, status: 503, code: "stripe_rate_limited", attempts: 1},
	{name: "dropped connection", fault: map[string]any{"kind": "drop"}, status: 200, attempts: 2},
	{name: "dropped twice", fault: map[string]any{"kind": "drop", "count": 2}, status: 502, code: "stripe_unreachable", attempts: 2},
	{name: "malformed JSON", fault: map[string]any{"kind": "malformed_json"}, status: 502, code: "stripe_bad_response", attempts: 1},
	{name: "slow past the timeout", fault: map[string]any{"kind": "slow", "delay_ms": fltSlowMS}, status: 504, code: "stripe_timeout", attempts: 1},
}

// fltInjected counts the faults the suite injected and the sandbox applied, by kind.
var fltInjected = map[string]int{}

// fltRun injects c.fault into method+path, calls the endpoint (send), and
// checks the answer, the attempts and their keys. It returns the attempts.
func fltRun(t *testing.T, c fltCase, method, path string, send func() e2e.Response) (e2e.Response, []fltRecord) {
	t.Helper()
	fltClear(t)
	since := time.Now().Add(-time.Millisecond)
	f := map[string]any{"path_prefix": path, "method": method}
	for k, v := range c.fault {
		f[k] = v
	}
	fltFault(t, f)
	start := time.Now()
	r := send()
	elapsed := time.Since(start)
	if left := fltClear(t); left != 0 {
		t.Errorf("%d injected faults were never hit", left)
	}
	if r.Status != c.status {
		t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
	}
	if c.code != "" {
		var e struct {
			Error struct{ Code, Message string }
		}
		e2e.Decode(t, r, &e)
		if e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("error %+v, want code %s", e.Error, c.code)
		}
	}
	if c.status == 503 {
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("503 without Retry-After seconds: %q", r.Header.Get("Retry-After"))
		}
	}
	if c.code == "stripe_timeout" && (elapsed < fltTimeout-200*time.Millisecond || elapsed > fltTimeout+2*time.Second) {
		t.Errorf("timed out after %v, want about %v (STRIPE_TIMEOUT_MS)", elapsed, fltTimeout)
	}
	// The request log: attempts at the faulted endpoint, the first faulted.
	att := fltLog(t, since, method, path)
	if c.code == "stripe_timeout" {
		// The slow request is logged when the sandbox answers it, after the worker gave up.
		deadline := time.Now().Add(time.Duration(fltSlowMS)*time.Millisecond + 2*time.Second)
		for len(att) < c.attempts && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			att = fltLog(t, since, method, path)
		}
	}
	exact := att
	if method == "POST" && path != "" {
		exact = nil
		for _, a := range att {
			if a.Path == path {
				exact = append(exact, a)
			}
		}
	}
	if len(exact) != c.attempts {
		t.Fatalf("%d attempts reached %s %s, want %d: %+v", len(exact), method, path, c.attempts, exact)
	}
	faulted := 0
	for _, a := range exact {
		if a.Fault != "" {
			faulted++
			fltInjected[c.kind()]++
		}
	}
	want := c.attempts
	if kind := c.fault["kind"]; kind != "drop" || c.fault["count"] == nil {
		want = 1
	}
	if faulted != want {
		t.Errorf("%d faulted attempts, want %d: %+v", faulted, want, exact)
	}
	for _, a := range exact {
		if method == "POST" && a.IdempotencyKey == "" {
			t.Errorf("POST attempt without an Idempotency-Key: %+v", a)
		}
		if a.IdempotencyKey != exact[0].IdempotencyKey {
			t.Errorf("the retry changed the Idempotency-Key: %q, then %q", exact[0].IdempotencyKey, a.IdempotencyKey)
		}
	}
	made := 0
	for _, a := range exact {
		if a.executed() {
			made++
		}
	}
	if method == "POST" && made != c.made {
		t.Errorf("%d attempts did the work, want %d: %+v", made, c.made, exact)
	}
	return r, exact
}

// TestFaultsCreateCheckoutSession: POST /create-checkout-session with a
// client idempotencyKey, faults on POST /v1/checkout/sessions.
func TestFaultsCreateCheckoutSession(t *testing.T) {
	base := e2e.Env(t, "BASE_URL")
	for _, c := range fltPOSTCases {
		t.Run(c.name, func(t *testing.T) {
			key := fltKey("faults-cs")
			body := fmt.Sprintf(`{"items":[{"id":"mug","quantity":2}],"idempotencyKey":%q}`, key)
			send := func() e2e.Response {
				return fltDo(t, "POST", base+"/create-checkout-session", map[string]string{"Content-Type": "application/json"}, body)
			}
			since := time.Now().Add(-time.Millisecond)
			r, att := fltRun(t, c, "POST", "/v1/checkout/sessions", send)
			// The server derives the Idempotency-Key and the order reference
			// from the client's key and the request; every attempt sends the same.
			ref, _ := att[0].Form["metadata[kit_order]"].(string)
			if !strings.HasPrefix(att[0].IdempotencyKey, "kit-cs-") || strings.Contains(att[0].IdempotencyKey, key) || !strings.HasPrefix(ref, "ord_") {
				t.Errorf("Idempotency-Key %q, kit_order %q", att[0].IdempotencyKey, ref)
			}
			for _, a := range att[1:] {
				if a.IdempotencyKey != att[0].IdempotencyKey || a.Form["metadata[kit_order]"] != ref {
					t.Errorf("a retry changed the request: %q %q", a.IdempotencyKey, a.Form["metadata[kit_order]"])
				}
			}
			first := ""
			if r.Status == 200 {
				first = sessionID(t, r)
			}
			if c.retry {
				again := send()
				if again.Status != 200 {
					t.Fatalf("client retry: %d %s", again.Status, again.Body)
				}
				id := sessionID(t, again)
				var s struct {
					Metadata map[string]string `json:"metadata"`
				}
				e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id, "", ""), &s)
				if s.Metadata["kit_order"] != ref {
					t.Errorf("the retry's session belongs to order %q, want %s", s.Metadata["kit_order"], ref)
				}
				first = id
			}
			// However many requests it took, one session for the order, or none.
			made := 0
			for _, a := range fltLog(t, since, "POST", "/v1/checkout/sessions") {
				if a.Path == "/v1/checkout/sessions" && a.Form["metadata[kit_order]"] == ref && a.executed() {
					made++
				}
			}
			want := 0
			if first != "" {
				want = 1
			}
			if made != want {
				t.Errorf("%d sessions made for the order, want %d", made, want)
			}
		})
	}
}

func sessionID(t *testing.T, r e2e.Response) string {
	t.Helper()
	var got struct{ ClientSecret string }
	e2e.Decode(t, r, &got)
	id, _, ok := strings.Cut(got.ClientSecret, "_secret_")
	if !ok || !strings.HasPrefix(id, "cs_test_") {
		t.Fatalf("no session in %s", r.Body)
	}
	return id
}

// TestFaultsSessionStatus: GET /session-status, faults on GET
// /v1/checkout/sessions/{id}. GETs carry no idempotency key and are retried
// on a dropped connection (they change nothing).
func TestFaultsSessionStatus(t *testing.T) {
	_, id := e2e.CreateSession(t, "")
	for _, c := range fltGETCases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := fltRun(t, c, "GET", "/v1/checkout/sessions/"+id, func() e2e.Response {
				return fltDo(t, "GET", e2e.Env(t, "BASE_URL")+"/session-status?session_id="+id, nil, "")
			})
			if r.Status == 200 {
				var s e2e.SessionState
				e2e.Decode(t, r, &s)
				if s.Status != "open" {
					t.Errorf("status %+v", s)
				}
			}
		})
	}
}

// fltToken makes a ConfirmationToken for a test card, as the pay page would.
func fltToken(t *testing.T) string {
	t.Helper()
	var tok struct{ ID string }
	fltStripe(t, "POST", "/v1/test_helpers/confirmation_tokens", e2e.Shipped(url.Values{"payment_method": {"pm_card_visa"}}), &tok)
	return tok.ID
}

type fltIntent struct {
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	Amount         int64             `json:"amount"`
	AmountReceived int64             `json:"amount_received"`
	Metadata       map[string]string `json:"metadata"`
}

// fltIntentsOf lists the PaymentIntents of an order (search by kit_order).
func fltIntentsOf(t *testing.T, ref string) []fltIntent {
	t.Helper()
	var res struct{ Data []fltIntent }
	fltStripe(t, "GET", "/v1/payment_intents/search?"+url.Values{"query": {"metadata['kit_order']:'" + ref + "'"}}.Encode(), nil, &res)
	return res.Data
}

// TestFaultsCreateConfirmIntent: POST /create-confirm-intent with a client
// idempotencyKey, faults on POST /v1/payment_intents (create and confirm).
func TestFaultsCreateConfirmIntent(t *testing.T) {
	base := e2e.Env(t, "BASE_URL")
	for _, c := range fltPOSTCases {
		t.Run(c.name, func(t *testing.T) {
			key := fltKey("faults-pi")
			body := fmt.Sprintf(`{"items":[{"id":"mug"}],"confirmationToken":%q,"idempotencyKey":%q}`, fltToken(t), key)
			send := func() e2e.Response {
				return fltDo(t, "POST", base+"/create-confirm-intent", map[string]string{"Content-Type": "application/json"}, body)
			}
			r, att := fltRun(t, c, "POST", "/v1/payment_intents", send)
			ref, _ := att[0].Form["metadata[kit_order]"].(string)
			if !strings.HasPrefix(att[0].IdempotencyKey, "kit-pi-") || strings.Contains(att[0].IdempotencyKey, key) || !strings.HasPrefix(ref, "ord_") {
				t.Errorf("Idempotency-Key %q, kit_order %q", att[0].IdempotencyKey, ref)
			}
			var got struct{ ID, Status string }
			if r.Status == 200 {
				e2e.Decode(t, r, &got)
			}
			if c.retry {
				// The shopper's page repeats the request: same key, same token.
				again := send()
				if again.Status != 200 {
					t.Fatalf("client retry: %d %s", again.Status, again.Body)
				}
				e2e.Decode(t, again, &got)
			}
			pis := fltIntentsOf(t, ref)
			switch {
			case got.ID == "" && len(pis) != 0:
				t.Errorf("the shopper got no payment but %d were made: %+v", len(pis), pis)
			case got.ID != "" && (len(pis) != 1 || pis[0].ID != got.ID):
				t.Errorf("the shopper got %s; the order's PaymentIntents are %+v", got.ID, pis)
			case got.ID != "" && (got.Status != "succeeded" || pis[0].AmountReceived != 1200+500): // a mug and standard shipping
				t.Errorf("paid %+v, answer %+v: want one payment of 1700", pis[0], got)
			}
		})
	}
}

// TestFaultsAdminCapture: POST /admin/payment_intents/{id}/capture of an
// authorized (manual-capture) PaymentIntent, faults on its capture call. The
// operator sends an Idempotency-Key when the case retries; otherwise
// stripe-go's own key covers its retry.
func TestFaultsAdminCapture(t *testing.T) {
	base, tok := e2e.Env(t, "BASE_URL"), fltAdminToken(t)
	for _, c := range fltPOSTCases {
		t.Run(c.name, func(t *testing.T) {
			var pi fltIntent
			fltStripe(t, "POST", "/v1/payment_intents", url.Values{"amount": {"4000"}, "currency": {"usd"}, "capture_method": {"manual"},
				"confirm": {"true"}, "payment_method": {"pm_card_visa"}, "metadata[kit_order]": {newOrderRef(fltKey("faults-capture"))}}, &pi)
			if pi.Status != "requires_capture" {
				t.Fatalf("setup: %+v", pi)
			}
			hdr := map[string]string{"Authorization": "Bearer " + tok}
			opKey := ""
			if c.retry {
				opKey = fltKey("capture")
				hdr["Idempotency-Key"] = opKey
			}
			path := "/v1/payment_intents/" + pi.ID + "/capture"
			send := func() e2e.Response {
				return fltDo(t, "POST", base+"/admin/payment_intents/"+pi.ID+"/capture", hdr, "")
			}
			r, att := fltRun(t, c, "POST", path, send)
			if opKey != "" && att[0].IdempotencyKey != "kit-admin-"+pi.ID+"-"+opKey {
				t.Errorf("Idempotency-Key %q, want the operator's", att[0].IdempotencyKey)
			}
			captured := r.Status == 200
			if c.retry {
				again := send()
				if again.Status != 200 {
					t.Fatalf("operator retry: %d %s", again.Status, again.Body)
				}
				var got fltIntent
				e2e.Decode(t, again, &got)
				if got.ID != pi.ID || got.Status != "succeeded" {
					t.Errorf("retry answered %+v", got)
				}
				captured = true
			}
			var now fltIntent
			fltStripe(t, "GET", "/v1/payment_intents/"+pi.ID, nil, &now)
			switch {
			case captured && (now.Status != "succeeded" || now.AmountReceived != 4000):
				t.Errorf("after the capture: %+v, want succeeded with 4000 received once", now)
			case !captured && c.made == 0 && now.Status != "requires_capture":
				t.Errorf("a failed capture changed the PaymentIntent: %+v", now)
			}
			// Captured at most once: every capture that did its work is counted.
			done := 0
			for _, a := range fltLog(t, time.Now().Add(-time.Minute), "POST", path) {
				if a.executed() {
					done++
				}
			}
			if done > 1 {
				t.Errorf("captured %d times", done)
			}
		})
	}
}

// TestFaultsRetryUnderConcurrentTraffic: retries and timeouts while other
// requests keep the worker's one Go instance busy. Both used to lose their
// answer: with stripe-go's 0.5 s sleep before it, the retry was started by a
// timer inside whichever request's event woke Go, and workerd dropped its
// answer when that request ended (10 of 20 retried captures answered 504 or
// 500 here), so the worker now retries at once (worker/internal/stripeapi/transport.go); and a
// deadline, also a timer, made the worker answer from another request's
// event, which workerd refused with a 500 (4 of 10), so the loader now builds
// the Response in the request's own continuation (wasm/instance.mjs).
func TestFaultsRetryUnderConcurrentTraffic(t *testing.T) {
	base, tok := e2e.Env(t, "BASE_URL"), fltAdminToken(t)
	stop := make(chan struct{})
	done := make(chan int)
	for i := 0; i < 4; i++ {
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					done <- n
					return
				default:
				}
				if res, err := http.Get(base + "/config"); err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					n++
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	defer func() {
		close(stop)
		total := 0
		for i := 0; i < 4; i++ {
			total += <-done
		}
		t.Logf("%d requests alongside", total)
	}()
	drop := fltCase{name: "drop", fault: map[string]any{"kind": "drop"}, status: 200, attempts: 2, made: 1}
	slow := fltCase{name: "slow", fault: map[string]any{"kind": "slow", "delay_ms": fltSlowMS}, status: 504, code: "stripe_timeout", attempts: 1, made: 1}
	for i := 0; i < 24; i++ {
		c := drop
		if i%6 == 5 {
			c = slow
		}
		var pi fltIntent
		fltStripe(t, "POST", "/v1/payment_intents", url.Values{"amount": {"4000"}, "currency": {"usd"}, "capture_method": {"manual"},
			"confirm": {"true"}, "payment_method": {"pm_card_visa"}}, &pi)
		path := "/v1/payment_intents/" + pi.ID + "/capture"
		fltRun(t, c, "POST", path, func() e2e.Response {
			return fltDo(t, "POST", base+"/admin/payment_intents/"+pi.ID+"/capture", map[string]string{"Authorization": "Bearer " + tok}, "")
		})
	}
}
