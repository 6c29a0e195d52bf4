//go:build integration

// Package e2e drives the worker compiled to wasm, running in workerd under
// `wrangler dev`, against the local Stripe sandbox. scripts/stack.sh starts
// both and exports BASE_URL and SANDBOX_URL; run through `make test`.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(t *testing.T, k string) string {
	t.Helper()
	v := os.Getenv(k)
	if v == "" {
		t.Fatalf("%s is not set: run this through scripts/stack.sh (make test)", k)
	}
	return v
}

type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func call(t *testing.T, method, url, contentType, body string) response {
	t.Helper()
	var header map[string]string
	if contentType != "" {
		header = map[string]string{"Content-Type": contentType}
	}
	return send(t, method, url, header, body)
}

// send is call with arbitrary headers.
func send(t *testing.T, method, url string, header map[string]string, body string) response {
	t.Helper()
	return sendBody(t, method, url, header, strings.NewReader(body))
}

// sendChunked is send with the body's length left unsaid: it goes out with
// Transfer-Encoding: chunked and no Content-Length, as a streaming client
// sends it.
func sendChunked(t *testing.T, method, url string, header map[string]string, body string) response {
	t.Helper()
	// A reader net/http cannot measure: the request's ContentLength stays
	// unknown.
	return sendBody(t, method, url, header, io.MultiReader(strings.NewReader(body)))
}

func sendBody(t *testing.T, method, url string, header map[string]string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return response{resp.StatusCode, b, resp.Header}
}

func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, r.Body)
	}
}

// stripeCalls counts the /v1 requests the sandbox has received.
func stripeCalls(t *testing.T) int {
	t.Helper()
	var log struct{ Requests []json.RawMessage }
	decode(t, call(t, "GET", env(t, "SANDBOX_URL")+"/_sandbox/requests", "", ""), &log)
	return len(log.Requests)
}

// waitWebhooksSettled waits until the sandbox has no webhook delivery in
// flight. The worker's webhook handler calls Stripe too (fulfillment reads
// the session), asynchronously after the request that caused the event; a
// test counting Stripe calls must not count those.
func waitWebhooksSettled(t *testing.T) {
	t.Helper()
	for i := 0; i < 100; i++ {
		var out struct{ Events []struct{ State string } }
		decode(t, call(t, "GET", env(t, "SANDBOX_URL")+"/_sandbox/events", "", ""), &out)
		pending := false
		for _, e := range out.Events {
			pending = pending || e.State == "pending"
		}
		if !pending {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("webhook deliveries still pending after 10 s")
}

func createSession(t *testing.T, body string) (clientSecret, id string) {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	r := call(t, "POST", env(t, "BASE_URL")+"/create-checkout-session", ct, body)
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var got struct{ ClientSecret string }
	decode(t, r, &got)
	id, _, ok := strings.Cut(got.ClientSecret, "_secret_")
	if !ok || !strings.HasPrefix(id, "cs_test_") {
		t.Fatalf("clientSecret %q does not look like a Checkout Session secret", got.ClientSecret)
	}
	return got.ClientSecret, id
}

type status struct {
	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	CustomerEmail string `json:"customer_email"`
}

func sessionStatus(t *testing.T, id string) status {
	t.Helper()
	r := call(t, "GET", env(t, "BASE_URL")+"/session-status?session_id="+id, "", "")
	if r.Status != 200 {
		t.Fatalf("session-status: %d %s", r.Status, r.Body)
	}
	var s status
	decode(t, r, &s)
	return s
}

func TestConfig(t *testing.T) {
	r := call(t, "GET", env(t, "BASE_URL")+"/config", "", "")
	var cfg struct {
		PublishableKey, StripeJsUrl, DefaultItem string
		Catalog                                  []struct{ ID string }
	}
	decode(t, r, &cfg)
	if r.Status != 200 || !strings.HasPrefix(cfg.PublishableKey, "pk_") || cfg.StripeJsUrl == "" || len(cfg.Catalog) == 0 {
		t.Fatalf("config: %d %s", r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte("sk_")) {
		t.Fatal("secret key in /config")
	}
}

func TestCheckoutLifecycle(t *testing.T) {
	secret, id := createSession(t, "")
	if s := sessionStatus(t, id); s.Status != "open" || s.PaymentStatus != "unpaid" {
		t.Fatalf("new session: %+v", s)
	}
	// What the sandbox recorded is what the worker asked for: catalog prices,
	// embedded mode, a return URL with Stripe's template.
	var view struct {
		AmountTotal int64  `json:"amount_total"`
		ReturnURL   string `json:"return_url"`
	}
	decode(t, call(t, "GET", env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+secret, "", ""), &view)
	if view.AmountTotal != 2000 {
		t.Errorf("amount_total = %d, want 2000 (default item from the catalog)", view.AmountTotal)
	}
	pay := fmt.Sprintf(`{"client_secret":%q,"email":"jenny@example.com","card_number":"4242424242424242","exp":"12/34","cvc":"123"}`, secret)
	r := call(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", pay)
	if r.Status != 200 {
		t.Fatalf("pay: %d %s", r.Status, r.Body)
	}
	var paid struct {
		ReturnURL string `json:"return_url"`
	}
	decode(t, r, &paid)
	if want := env(t, "BASE_URL") + "/return.html?session_id=" + id; paid.ReturnURL != want {
		t.Errorf("return_url = %q, want %q", paid.ReturnURL, want)
	}
	if s := sessionStatus(t, id); s.Status != "complete" || s.PaymentStatus != "paid" || s.CustomerEmail != "jenny@example.com" {
		t.Fatalf("paid session: %+v", s)
	}
}

func TestCartIsPricedFromCatalog(t *testing.T) {
	secret, _ := createSession(t, `{"items":[{"id":"mug","quantity":3},{"id":"stickers","quantity":2}]}`)
	var view struct {
		AmountTotal int64 `json:"amount_total"`
	}
	decode(t, call(t, "GET", env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+secret, "", ""), &view)
	if view.AmountTotal != 3*1200+2*500 {
		t.Fatalf("amount_total = %d, want %d", view.AmountTotal, 3*1200+2*500)
	}
}

func TestExpiredSession(t *testing.T) {
	_, id := createSession(t, "")
	if r := call(t, "POST", env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id+"/expire", "", ""); r.Status != 200 {
		t.Fatalf("expire: %d %s", r.Status, r.Body)
	}
	if s := sessionStatus(t, id); s.Status != "expired" {
		t.Fatalf("status = %+v, want expired", s)
	}
}

func TestBadInputMakesNoStripeCall(t *testing.T) {
	base := env(t, "BASE_URL")
	cases := []struct {
		method, path, ct, body string
		want                   int
		code                   string
	}{
		{"POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":0}]}`, 400, "invalid_quantity"},
		{"POST", "/create-checkout-session", "application/json", `{"items":[{"id":"yacht","quantity":1}]}`, 400, "unknown_product"},
		{"POST", "/create-checkout-session", "application/json", `{"items":[`, 400, "invalid_json"},
		{"POST", "/create-checkout-session", "text/plain", `{"items":[]}`, 415, "unsupported_media_type"},
		{"POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":1}],"unit_amount":1}`, 400, "unknown_field"},
		{"GET", "/session-status?session_id=cs_test_x%2F..%2Fcustomers", "", "", 400, "invalid_session_id"},
		{"GET", "/session-status", "", "", 400, "missing_session_id"},
		{"DELETE", "/create-checkout-session", "", "", 405, "method_not_allowed"},
	}
	waitWebhooksSettled(t)
	before := stripeCalls(t)
	for _, tc := range cases {
		r := call(t, tc.method, base+tc.path, tc.ct, tc.body)
		var e struct {
			Error struct{ Code, Message string }
		}
		if r.Status != tc.want || json.Unmarshal(r.Body, &e) != nil || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s %s %s: got %d %s, want %d %s", tc.method, tc.path, tc.body, r.Status, r.Body, tc.want, tc.code)
		}
	}
	if after := stripeCalls(t); after != before {
		t.Errorf("bad requests caused %d Stripe calls", after-before)
	}
}

func TestUnknownSession(t *testing.T) {
	r := call(t, "GET", env(t, "BASE_URL")+"/session-status?session_id=cs_test_doesnotexist", "", "")
	if r.Status != 404 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
}

// Concurrent requests interleave inside the worker's Go instance: each must
// get its own session back.
func TestConcurrentCreatesInterleave(t *testing.T) {
	const n = 20
	var wg sync.WaitGroup
	secrets := make([]string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			qty := i%5 + 1
			r := call(t, "POST", env(t, "BASE_URL")+"/create-checkout-session", "application/json", fmt.Sprintf(`{"items":[{"id":"stickers","quantity":%d}]}`, qty))
			var got struct{ ClientSecret string }
			if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil {
				errs <- fmt.Errorf("request %d: %d %s", i, r.Status, r.Body)
				return
			}
			var view struct {
				AmountTotal int64 `json:"amount_total"`
			}
			decode(t, call(t, "GET", env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+got.ClientSecret, "", ""), &view)
			if view.AmountTotal != int64(qty*500) {
				errs <- fmt.Errorf("request %d: session amount %d, want %d: responses crossed", i, view.AmountTotal, qty*500)
			}
			secrets[i] = got.ClientSecret
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for _, s := range secrets {
		if s != "" && seen[s] {
			t.Errorf("client secret %s returned twice", s)
		}
		seen[s] = true
	}
}
