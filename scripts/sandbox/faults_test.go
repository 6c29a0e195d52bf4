package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
)

type loggedRequest struct {
	Method         string `json:"method"`
	Path           string `json:"path"`
	IdempotencyKey string `json:"idempotency_key"`
	Status         int    `json:"status"`
	Replayed       bool   `json:"idempotent_replayed"`
	Fault          string `json:"fault"`
	FaultExecuted  bool   `json:"fault_executed"`
}

func (e *env) requestLog() []loggedRequest {
	e.t.Helper()
	_, body := e.do(http.MethodGet, "/_sandbox/requests", "", nil, map[string]string{})
	var l struct{ Requests []loggedRequest }
	if err := json.Unmarshal(body, &l); err != nil {
		e.t.Fatal(err)
	}
	return l.Requests
}

func (e *env) addFault(spec map[string]any) map[string]any {
	e.t.Helper()
	res, out := e.postJSON("/_sandbox/faults", spec)
	if res.StatusCode != 200 {
		e.t.Fatalf("add fault %v: %d %v", spec, res.StatusCode, out)
	}
	return out["fault"].(map[string]any)
}

func (e *env) sessionCount() int {
	e.sb.mu.Lock()
	defer e.sb.mu.Unlock()
	return len(e.sb.sessions)
}

func idem(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + testKey, "Idempotency-Key": key}
}

func TestFault500BeforeAndAfter(t *testing.T) {
	e := newEnv(t)
	f := e.addFault(map[string]any{"path_prefix": "/v1/checkout/sessions", "method": "post", "kind": "500", "count": 2})
	if !strings.HasPrefix(f["id"].(string), "flt_") || f["method"] != "POST" || f["remaining"] != 2.0 || f["after"] != false {
		t.Errorf("fault %v", f)
	}
	for i := 0; i < 2; i++ {
		res, body := e.postForm("/v1/checkout/sessions", baseForm(), idem("k-before"))
		if er := errorOf(t, decodeMap(t, body)); res.StatusCode != 500 || er["type"] != "api_error" {
			t.Errorf("attempt %d: %d %s", i, res.StatusCode, body)
		}
	}
	if n := e.sessionCount(); n != 0 {
		t.Errorf("%d sessions after unprocessed faults", n)
	}
	// Other methods and paths pass; the third POST too.
	if res, _ := e.do(http.MethodGet, "/v1/checkout/sessions/cs_test_x", "", nil, nil); res.StatusCode != 404 {
		t.Errorf("GET while faulting POST: %d", res.StatusCode)
	}
	if res, body := e.postForm("/v1/checkout/sessions", baseForm(), idem("k-before")); res.StatusCode != 200 || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("after the faults: %d %s", res.StatusCode, body)
	}
	_, list := e.getJSON("/_sandbox/faults")
	if fs := list["faults"].([]any); len(fs) != 0 {
		t.Errorf("used-up faults listed: %v", fs)
	}
	log := e.requestLog()
	if len(log) != 4 || log[0].Fault != "500" || log[0].FaultExecuted || log[0].Status != 500 || log[0].IdempotencyKey != "k-before" ||
		log[1].Fault != "500" || log[2].Fault != "" || log[3].Fault != "" || log[3].Status != 200 {
		t.Errorf("log %+v", log)
	}

	// after: the request runs, its answer is lost; the retry replays it.
	e.addFault(map[string]any{"path_prefix": "/v1/checkout/sessions", "kind": "500", "after": true})
	res, _ := e.postForm("/v1/checkout/sessions", baseForm(), idem("k-after"))
	if res.StatusCode != 500 || e.sessionCount() != 2 {
		t.Fatalf("after: %d, %d sessions", res.StatusCode, e.sessionCount())
	}
	res, body := e.postForm("/v1/checkout/sessions", baseForm(), idem("k-after"))
	if res.StatusCode != 200 || res.Header.Get("Idempotent-Replayed") != "true" || e.sessionCount() != 2 {
		t.Errorf("retry after an executed 500: %d %q %s", res.StatusCode, res.Header.Get("Idempotent-Replayed"), body)
	}
	log = e.requestLog()
	if l := log[len(log)-2]; l.Fault != "500" || !l.FaultExecuted || l.Status != 500 || l.IdempotencyKey != "k-after" || l.Replayed {
		t.Errorf("executed fault record %+v", l)
	}
	if l := log[len(log)-1]; !l.Replayed || l.Fault != "" {
		t.Errorf("replay record %+v", l)
	}
}

// stripe-go v82 retries a dropped connection with the same idempotency key
// (one session), but not a 500 that carries a Stripe error body.
func TestFaultStripeGoRetries(t *testing.T) {
	e := newEnv(t)
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL:               stripe.String(e.srv.URL),
		HTTPClient:        e.srv.Client(),
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := stripe.NewClient(testKey, stripe.WithBackends(backends))
	e.addFault(map[string]any{"path_prefix": "/v1/checkout/sessions", "method": "POST", "kind": "500"})
	_, err := sc.V1CheckoutSessions.Create(context.Background(), tshirtParams())
	if se := stripeErr(t, err); se.HTTPStatusCode != 500 || se.Type != stripe.ErrorTypeAPI || len(e.requestLog()) != 1 {
		t.Errorf("500: %+v after %d requests", se, len(e.requestLog()))
	}
	for _, kind := range []string{"drop"} {
		e.addFault(map[string]any{"path_prefix": "/v1/checkout/sessions", "method": "POST", "kind": kind, "after": true})
		start := len(e.requestLog())
		s, err := sc.V1CheckoutSessions.Create(context.Background(), tshirtParams())
		if err != nil {
			t.Fatalf("%s: stripe-go did not recover: %v", kind, err)
		}
		log := e.requestLog()[start:]
		if len(log) != 2 || log[0].Fault != kind || log[0].IdempotencyKey == "" || log[1].IdempotencyKey != log[0].IdempotencyKey || !log[1].Replayed {
			t.Errorf("%s: log %+v", kind, log)
		}
		if got := e.retrieve(s.ID); got.ID != s.ID {
			t.Errorf("%s: session %s", kind, s.ID)
		}
	}
	if n := e.sessionCount(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

func TestFault429SlowDropMalformed(t *testing.T) {
	e := newEnv(t)
	// 429
	e.addFault(map[string]any{"path_prefix": "/v1/payment_intents", "kind": "429"})
	if res, body := e.postForm("/v1/checkout/sessions", baseForm(), nil); res.StatusCode != 200 {
		t.Errorf("another path is not faulted: %d %s", res.StatusCode, body)
	}
	_, err := e.sc.V1PaymentIntents.Create(context.Background(), usd(2000))
	if se := stripeErr(t, err); se.HTTPStatusCode != 429 || se.Code != "rate_limit" {
		t.Errorf("429: %+v", se)
	}

	// slow
	e.addFault(map[string]any{"kind": "slow", "delay_ms": 300})
	start := time.Now()
	res, _ := e.postForm("/v1/checkout/sessions", baseForm(), idem("slow-1"))
	if d := time.Since(start); res.StatusCode != 200 || d < 300*time.Millisecond {
		t.Errorf("slow: %d after %v", res.StatusCode, d)
	}
	log := e.requestLog()
	if l := log[len(log)-1]; l.Fault != "slow" || !l.FaultExecuted || l.Status != 200 || l.IdempotencyKey != "slow-1" {
		t.Errorf("slow record %+v", l)
	}

	// drop: no answer at all. (Go's transport retries a request with an
	// Idempotency-Key once on a reused connection, hence two.)
	e.addFault(map[string]any{"path_prefix": "/v1/checkout/sessions", "kind": "drop", "count": 2})
	before := e.sessionCount()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/checkout/sessions", strings.NewReader(baseForm().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Idempotency-Key", "drop-1")
	if res, err := e.srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Errorf("drop answered %d", res.StatusCode)
	}
	log = e.requestLog()
	if l := log[len(log)-1]; l.Fault != "drop" || l.FaultExecuted || l.Status != 0 || l.IdempotencyKey != "drop-1" || e.sessionCount() != before {
		t.Errorf("drop record %+v (%d sessions, was %d)", l, e.sessionCount(), before)
	}

	// malformed_json, not run and run
	for _, after := range []bool{false, true} {
		e.addFault(map[string]any{"path_prefix": "/v1/checkout/sessions", "method": "POST", "kind": "malformed_json", "after": after})
		before := e.sessionCount()
		res, body := e.postForm("/v1/checkout/sessions", baseForm(), nil)
		var v any
		if res.StatusCode != 200 || json.Unmarshal(body, &v) == nil || len(body) == 0 {
			t.Errorf("malformed (after=%v): %d %q", after, res.StatusCode, body)
		}
		if after && (e.sessionCount() != before+1 || !strings.Contains(string(body), `"id": "cs_test_`)) {
			t.Errorf("malformed after: the session was not made, or the body is not its truncation: %q", body)
		}
		if !after && e.sessionCount() != before {
			t.Errorf("malformed before made a session")
		}
	}
	_, err = e.sc.V1CheckoutSessions.Create(context.Background(), tshirtParams())
	if err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

func TestFaultEndpoints(t *testing.T) {
	e := newEnv(t)
	bad := []map[string]any{
		{"kind": "explode"},
		{},
		{"kind": "500", "path_prefix": "/_sandbox/"},
		{"kind": "500", "method": "PATCH"},
		{"kind": "500", "count": 0},
		{"kind": "500", "count": 1001},
		{"kind": "slow", "delay_ms": 60001},
		{"kind": "slow", "delay_ms": -1},
		{"kind": "429", "after": true},
	}
	for _, spec := range bad {
		if res, out := e.postJSON("/_sandbox/faults", spec); res.StatusCode != 400 || errorOf(t, out)["message"] == "" {
			t.Errorf("%v: %d %v", spec, res.StatusCode, out)
		}
	}
	res, body := e.do(http.MethodPost, "/_sandbox/faults", "application/json", strings.NewReader("{"), map[string]string{})
	if res.StatusCode != 400 {
		t.Errorf("bad JSON: %d %s", res.StatusCode, body)
	}
	slow := e.addFault(map[string]any{"kind": "slow"})
	if slow["delay_ms"] != 2000.0 || slow["path_prefix"] != "/v1/" || slow["count"] != 1.0 {
		t.Errorf("defaults %v", slow)
	}
	e.addFault(map[string]any{"kind": "500", "count": 5})
	_, list := e.getJSON("/_sandbox/faults")
	if fs := list["faults"].([]any); len(fs) != 2 {
		t.Errorf("faults %v", fs)
	}
	res, out := e.do(http.MethodDelete, "/_sandbox/faults", "", nil, map[string]string{})
	if m := decodeMap(t, out); res.StatusCode != 200 || m["cleared"] != 2.0 || m["ok"] != true {
		t.Errorf("DELETE: %d %s", res.StatusCode, out)
	}
	if res, _ := e.postForm("/v1/checkout/sessions", baseForm(), nil); res.StatusCode != 200 {
		t.Errorf("after DELETE: %d", res.StatusCode)
	}
	// Reset forgets faults too; a preflight allows DELETE.
	e.addFault(map[string]any{"kind": "500"})
	e.postJSON("/_sandbox/reset", nil)
	if res, _ := e.postForm("/v1/checkout/sessions", baseForm(), nil); res.StatusCode != 200 {
		t.Errorf("after reset: %d", res.StatusCode)
	}
	pre, _ := e.do(http.MethodOptions, "/_sandbox/faults", "", nil, map[string]string{"Origin": "http://x", "Access-Control-Request-Method": "DELETE"})
	if !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Errorf("preflight %v", pre.Header)
	}
	if res, _ := e.do(http.MethodPut, "/_sandbox/faults", "", nil, map[string]string{}); res.StatusCode != 405 {
		t.Errorf("PUT: %d", res.StatusCode)
	}
	// A client that gives up on a slow answer does not hold the sandbox.
	e.addFault(map[string]any{"kind": "slow", "delay_ms": 5000})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/v1/checkout/sessions/cs_test_x", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	if res, err := e.srv.Client().Do(req); err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		t.Errorf("the slow answer came before the client's deadline")
	}
	start := time.Now()
	if res, _ := e.getJSON("/_sandbox/health"); res.StatusCode != 200 || time.Since(start) > time.Second {
		t.Errorf("health during a slow fault")
	}
}

func TestRequestLogFilters(t *testing.T) {
	e := newEnv(t)
	s := e.create(tshirtParams())
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	e.retrieve(s.ID)
	e.createPI(usd(2000))
	get := func(q string) []loggedRequest {
		t.Helper()
		res, body := e.do(http.MethodGet, "/_sandbox/requests"+q, "", nil, map[string]string{})
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, res.StatusCode, body)
		}
		var l struct{ Requests []loggedRequest }
		json.Unmarshal(body, &l)
		return l.Requests
	}
	if l := get("?method=post"); len(l) != 2 {
		t.Errorf("method filter: %+v", l)
	}
	if l := get("?path_prefix=/v1/checkout/sessions"); len(l) != 2 {
		t.Errorf("path filter: %+v", l)
	}
	if l := get("?method=POST&path_prefix=/v1/payment_intents"); len(l) != 1 || l[0].Path != "/v1/payment_intents" {
		t.Errorf("both filters: %+v", l)
	}
	if l := get("?since=" + mid.Format(time.RFC3339Nano)); len(l) != 2 || l[0].Method != "GET" {
		t.Errorf("since filter: %+v", l)
	}
	if res, _ := e.do(http.MethodGet, "/_sandbox/requests?since=yesterday", "", nil, map[string]string{}); res.StatusCode != 400 {
		t.Errorf("bad since: %d", res.StatusCode)
	}
}
