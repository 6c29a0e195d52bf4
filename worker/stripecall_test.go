package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultyTransport serves a stubStripe in-process and injects faults into the
// requests for one Stripe endpoint (target, "METHOD /path"), one planned
// fault per attempt, recording every attempt. It stands in for the network
// instead of a real server so that attempts are counted exactly: Go's own
// http.Transport repeats some failed requests by itself (see
// internal/stripeapi/transport.go),
// fetch on Workers does not.
type faultyTransport struct {
	stub   *stubStripe
	target string

	mu       sync.Mutex
	plan     []string // faults for the next target attempts; "" = none
	attempts []faultAttempt
}

type faultAttempt struct {
	Method, Path, Idem, Fault string
}

// Fault kinds, as the sandbox's (scripts/sandbox/faults.go) plus "lock" (a
// 429 lock_timeout) and "-after" variants that run the request first.
const (
	fDrop       = "drop"
	fDropAfter  = "drop-after"
	f500        = "500"
	f500After   = "500-after"
	f429        = "429"
	fLock       = "lock"
	fMalformed  = "malformed"
	fSlow       = "slow"
	fErrorNoKey = "500-plain" // a 500 whose body is not a Stripe error
	fDeadline   = "deadline"  // the transport ends the call at its deadline (fetch on Workers)
)

func (ft *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	ft.mu.Lock()
	fault := ""
	if req.Method+" "+req.URL.Path == ft.target && len(ft.plan) > 0 {
		fault, ft.plan = ft.plan[0], ft.plan[1:]
	}
	ft.attempts = append(ft.attempts, faultAttempt{req.Method, req.URL.Path, req.Header.Get("Idempotency-Key"), fault})
	ft.mu.Unlock()

	serve := func() *http.Response {
		rec := httptest.NewRecorder()
		ft.stub.ServeHTTP(rec, req)
		res := rec.Result()
		res.Request = req
		return res
	}
	answer := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_fault"}}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	}
	switch fault {
	case fDrop:
		return nil, errors.New("connection reset by peer (injected)")
	case fDropAfter:
		serve()
		return nil, errors.New("connection reset by peer (injected after processing)")
	case f500After:
		serve()
		fallthrough
	case f500:
		return answer(500, `{"error":{"type":"api_error","message":"An unknown error occurred (injected)"}}`), nil
	case fErrorNoKey:
		return answer(500, `<html>Bad gateway</html>`), nil
	case f429:
		return answer(429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests (injected)"}}`), nil
	case fLock:
		return answer(429, `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"This object cannot be accessed right now (injected)"}}`), nil
	case fMalformed:
		res := serve()
		body, _ := io.ReadAll(res.Body)
		res.Body = io.NopCloser(bytes.NewReader(body[:len(body)/2]))
		return res, nil
	case fSlow:
		<-req.Context().Done()
		return nil, req.Context().Err()
	case fDeadline:
		return nil, context.DeadlineExceeded
	}
	return serve(), nil
}

func (ft *faultyTransport) Attempts(target string) []faultAttempt {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []faultAttempt
	for _, a := range ft.attempts {
		if target == "" || a.Method+" "+a.Path == target {
			out = append(out, a)
		}
	}
	return out
}

// newFaultyServer returns the worker behind a faultyTransport, with the
// operator API on and a short Stripe timeout.
func newFaultyServer(t *testing.T, target string, plan ...string) (*Server, *faultyTransport) {
	t.Helper()
	return newFaultyServerTimeout(t, "1500", target, plan...)
}

func newFaultyServerTimeout(t *testing.T, timeoutMS, target string, plan ...string) (*Server, *faultyTransport) {
	t.Helper()
	stub := &stubStripe{answers: map[string]stubAnswer{}}
	stub.set("GET /v1/checkout/sessions/cs_test_abc", 200, stubSession)
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCapturable)
	stub.set("POST /v1/payment_intents/pi_auth/capture", 200, stubCaptured)
	ft := &faultyTransport{stub: stub, target: target, plan: plan}
	env := map[string]string{"ADMIN_TOKEN": testAdminToken, "CATALOG_JSON": testCatalog,
		"STRIPE_API_BASE": "http://stripe.test", "STRIPE_TIMEOUT_MS": timeoutMS}
	return NewServer(testConfig(t, env), Deps{Transport: ft}), ft
}

// faultEndpoints are the worker endpoints the fault tests drive, each with
// the Stripe call that is faulted.
var faultEndpoints = []struct {
	name, target string
	do           func(t *testing.T, h http.Handler) *httptest.ResponseRecorder
}{
	{"create-checkout-session", "POST /v1/checkout/sessions", func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
		return postJSON(t, h, "/create-checkout-session", `{"items":[{"id":"plain","quantity":2}],"idempotencyKey":"fault-test-0001"}`)
	}},
	{"session-status", "GET /v1/checkout/sessions/cs_test_abc", func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
		return do(t, h, "GET", "/session-status?session_id=cs_test_abc", "", "")
	}},
	{"create-confirm-intent", "POST /v1/payment_intents", func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
		return postJSON(t, h, "/create-confirm-intent", `{"items":[{"id":"rental"}],"confirmationToken":"ctoken_1Abc"}`)
	}},
	{"admin capture", "POST /v1/payment_intents/pi_auth/capture", func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
		return adminCall(t, h, "POST", "/admin/payment_intents/pi_auth/capture", "")
	}},
}

// TestStripeFaults drives each endpoint through each kind of failure and
// checks the shopper's answer, how many attempts reached "Stripe" and that a
// retried POST kept its idempotency key.
func TestStripeFaults(t *testing.T) {
	cases := []struct {
		name     string
		plan     []string
		status   int
		code     string
		attempts int
	}{
		{"dropped connection, retried", []string{fDrop}, 200, "", 2},
		{"dropped after processing, retried", []string{fDropAfter}, 200, "", 2},
		{"dropped twice", []string{fDrop, fDrop}, 502, "stripe_unreachable", 2},
		{"500 with Stripe's error body", []string{f500}, 502, "stripe_unavailable", 1},
		{"500 after processing", []string{f500After}, 502, "stripe_unavailable", 1},
		{"500 without a Stripe error body", []string{fErrorNoKey}, 502, "stripe_bad_response", 1},
		{"429 rate_limit", []string{f429}, 503, "stripe_rate_limited", 1},
		{"429 lock_timeout, retried", []string{fLock}, 200, "", 2},
		{"malformed JSON", []string{fMalformed}, 502, "stripe_bad_response", 1},
		{"no answer before the deadline", []string{fSlow}, 504, "stripe_timeout", 1},
		{"fetch aborted at the deadline", []string{fDeadline}, 504, "stripe_timeout", 1},
	}
	for _, ep := range faultEndpoints {
		for _, tc := range cases {
			ep, tc := ep, tc
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				timeout := "1500"
				if tc.code == "stripe_timeout" {
					timeout = "300"
				}
				srv, ft := newFaultyServerTimeout(t, timeout, ep.target, tc.plan...)
				start := time.Now()
				rec := ep.do(t, srv)
				elapsed := time.Since(start)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				if tc.code != "" {
					if eb := decodeError(t, rec); eb.Error.Code != tc.code {
						t.Errorf("code %q, want %q", eb.Error.Code, tc.code)
					}
				}
				if tc.status == 503 && rec.Header().Get("Retry-After") != "2" {
					t.Errorf("Retry-After = %q, want 2", rec.Header().Get("Retry-After"))
				}
				att := ft.Attempts(ep.target)
				if len(att) != tc.attempts {
					t.Fatalf("%d attempts at %s, want %d: %+v", len(att), ep.target, tc.attempts, att)
				}
				for _, a := range att {
					if a.Method == "POST" && a.Idem == "" {
						t.Errorf("POST attempt without an Idempotency-Key: %+v", a)
					}
					if a.Idem != att[0].Idem {
						t.Errorf("retry changed the Idempotency-Key: %q then %q", att[0].Idem, a.Idem)
					}
				}
				// Bounded: an immediate retry, or the deadline.
				if limit := 500 * time.Millisecond; tc.code != "stripe_timeout" && elapsed > limit {
					t.Errorf("took %v, more than %v", elapsed, limit)
				}
			})
		}
	}
}

// TestStripeTimeoutBoundsTheWholeCall: the deadline covers the retry too, and
// a timed-out attempt is not retried.
func TestStripeTimeoutBoundsTheWholeCall(t *testing.T) {
	for _, plan := range [][]string{{fSlow}, {fDrop, fSlow}} {
		srv, ft := newFaultyServerTimeout(t, "300", "POST /v1/checkout/sessions", plan...)
		start := time.Now()
		rec := faultEndpoints[0].do(t, srv)
		if rec.Code != 504 || decodeError(t, rec).Error.Code != "stripe_timeout" {
			t.Fatalf("%v: %d %s", plan, rec.Code, rec.Body)
		}
		if n := len(ft.Attempts("POST /v1/checkout/sessions")); n != len(plan) {
			t.Errorf("%v: %d attempts, want %d", plan, n, len(plan))
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > time.Second {
			t.Errorf("%v: took %v, want about 300 ms", plan, d)
		}
	}
}

// TestStripeBadResponseKeepsBodiesOutOfLogs: stripe-go's message for an
// undecodable answer quotes the body (here a client secret); the worker
// recognizes it (pinning stripe-go's wording) and logs it without the body.
func TestStripeBadResponseKeepsBodiesOutOfLogs(t *testing.T) {
	var buf bytes.Buffer
	prev := log.Writer()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(prev) })
	srv, _ := newFaultyServer(t, "POST /v1/checkout/sessions", fMalformed)
	rec := faultEndpoints[0].do(t, srv)
	if rec.Code != 502 || decodeError(t, rec).Error.Code != "stripe_bad_response" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(buf.String(), "unreadable answer from Stripe") {
		t.Errorf("log: %s", buf.String())
	}
	if strings.Contains(buf.String(), "secret") || strings.Contains(buf.String(), "cs_test_abc") {
		t.Errorf("the log quotes Stripe's answer: %s", buf.String())
	}
}

// TestEveryStripePOSTCarriesAnIdempotencyKey: what stripe-go retries must be
// safe to repeat, so every POST the worker makes has a key (with or without
// one from the client or operator).
func TestEveryStripePOSTCarriesAnIdempotencyKey(t *testing.T) {
	srv, ft := newFaultyServer(t, "")
	ft.stub.set("POST /v1/payment_intents/pi_auth/cancel", 200, stubCanceled)
	ft.stub.set("POST /v1/payment_intents/pi_auth/confirm", 200, stubCaptured)
	ft.stub.set("POST /v1/payment_intents/pi_auth/increment_authorization", 200, stubCapturable)
	ft.stub.set("POST /v1/billing_portal/sessions", 200, `{"id":"bps_1","object":"billing_portal.session","url":"https://billing.stripe.com/p/session/x"}`)
	postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"plain"}]}`)
	postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"plain"}],"uiMode":"hosted"}`)
	postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_1Abc"}`)
	postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"member"}],"confirmationToken":"ctoken_2Abc","email":"a@b.example"}`) // a Customer, then the payment
	for _, p := range []string{"capture", "approve", "cancel", "reject", "confirm"} {
		adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/"+p, "")
	}
	adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":5000}`)
	adminCall(t, srv, "POST", "/admin/billing_portal_sessions", `{"customer":"cus_1"}`)
	posts := 0
	for _, a := range ft.Attempts("") {
		if a.Method == "POST" {
			posts++
			if a.Idem == "" {
				t.Errorf("POST %s without an Idempotency-Key", a.Path)
			}
		}
	}
	if posts < 12 {
		t.Fatalf("only %d POSTs made: %+v", posts, ft.Attempts(""))
	}
}

func TestStripeTimeoutSetting(t *testing.T) {
	if c := testConfig(t, nil); c.StripeTimeout != DefaultStripeTimeout {
		t.Errorf("default %v", c.StripeTimeout)
	}
	if c := testConfig(t, map[string]string{"STRIPE_TIMEOUT_MS": "2500"}); c.StripeTimeout != 2500*time.Millisecond {
		t.Errorf("2500 ms → %v", c.StripeTimeout)
	}
	for _, bad := range []string{"0", "99", "60001", "1.5", "10s", "-5", "1e3"} {
		_, err := LoadConfig(func(k string) string {
			return map[string]string{"STRIPE_SECRET_KEY": "sk_test_unit", "STRIPE_TIMEOUT_MS": bad}[k]
		})
		if err == nil || !strings.Contains(err.Error(), "STRIPE_TIMEOUT_MS") {
			t.Errorf("STRIPE_TIMEOUT_MS=%q: err = %v", bad, err)
		}
	}
}

// TestAdminCaptureRetryWithTheSameKey: an operator's retry of a capture whose
// answer was lost (the PaymentIntent is captured by now) goes to Stripe under
// the same Idempotency-Key, which replays the first answer; without a key
// it is refused before Stripe, as before.
func TestAdminCaptureRetryWithTheSameKey(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCaptured)
	stub.set("POST /v1/payment_intents/pi_auth/capture", 200, stubCaptured)
	rec := send(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", map[string]string{
		"Authorization": "Bearer " + testAdminToken, "Idempotency-Key": "capture-attempt-1", "Content-Type": "application/json"}, `{"amount_to_capture":3000}`)
	if rec.Code != 200 || decodeIntent(t, rec.Body.Bytes()).Status != "succeeded" {
		t.Fatalf("retried capture: %d %s", rec.Code, rec.Body)
	}
	calls := stub.Calls()
	if c := calls[len(calls)-1]; c.Path != "/v1/payment_intents/pi_auth/capture" || c.Idem != "kit-admin-pi_auth-capture-attempt-1" {
		t.Fatalf("last call %s with key %q", c.Path, c.Idem)
	}
	// Stripe refuses a key that captured nothing: still a 409.
	stub.set("POST /v1/payment_intents/pi_auth/capture", 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"This PaymentIntent could not be captured because it has a status of succeeded."}}`)
	rec = send(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", map[string]string{
		"Authorization": "Bearer " + testAdminToken, "Idempotency-Key": "capture-attempt-2"}, "")
	checkError(t, rec, 409, "payment_intent_unexpected_state", "")
	n := len(stub.Calls())
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", ""), 409, "payment_intent_not_capturable", "")
	if got := len(stub.Calls()) - n; got != 1 {
		t.Errorf("%d Stripe calls for a capture without a key of a captured PaymentIntent, want 1 (the retrieve)", got)
	}
}
