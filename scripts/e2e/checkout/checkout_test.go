// The worker compiled to wasm, running in workerd under `wrangler dev`,
// against the local Stripe sandbox; TestMain (main_test.go) starts both and
// exports BASE_URL and SANDBOX_URL.

package checkout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
)

func TestConfig(t *testing.T) {
	r := e2e.Call(t, "GET", e2e.Env(t, "BASE_URL")+"/config", "", "")
	var cfg struct {
		PublishableKey, StripeJsUrl, DefaultItem string
		Catalog                                  []struct{ ID string }
	}
	e2e.Decode(t, r, &cfg)
	if r.Status != 200 || !strings.HasPrefix(cfg.PublishableKey, "pk_") || cfg.StripeJsUrl == "" || len(cfg.Catalog) == 0 {
		t.Fatalf("config: %d %s", r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte("sk_")) {
		t.Fatal("secret key in /config")
	}
}

func TestCheckoutLifecycle(t *testing.T) {
	secret, id := e2e.CreateSession(t, "")
	if s := e2e.SessionStatus(t, id); s.Status != "open" || s.PaymentStatus != "unpaid" {
		t.Fatalf("new session: %+v", s)
	}
	// What the sandbox recorded is what the worker asked for: catalog prices,
	// embedded mode, a return URL with Stripe's template.
	var view struct {
		AmountTotal int64  `json:"amount_total"`
		ReturnURL   string `json:"return_url"`
	}
	e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+secret, "", ""), &view)
	if view.AmountTotal != 2000 {
		t.Errorf("amount_total = %d, want 2000 (default item from the catalog)", view.AmountTotal)
	}
	pay := e2e.PayBody(secret, "4242424242424242")
	r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", pay)
	if r.Status != 200 {
		t.Fatalf("pay: %d %s", r.Status, r.Body)
	}
	var paid struct {
		ReturnURL string `json:"return_url"`
	}
	e2e.Decode(t, r, &paid)
	if want := e2e.Env(t, "BASE_URL") + "/return.html?session_id=" + id; paid.ReturnURL != want {
		t.Errorf("return_url = %q, want %q", paid.ReturnURL, want)
	}
	if s := e2e.SessionStatus(t, id); s.Status != "complete" || s.PaymentStatus != "paid" || s.CustomerEmail != "jenny@example.com" {
		t.Fatalf("paid session: %+v", s)
	}
}

func TestCartIsPricedFromCatalog(t *testing.T) {
	secret, _ := e2e.CreateSession(t, `{"items":[{"id":"mug","quantity":3},{"id":"stickers","quantity":2}]}`)
	var view struct {
		AmountTotal int64 `json:"amount_total"`
	}
	e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+secret, "", ""), &view)
	if view.AmountTotal != 3*1200+2*500 {
		t.Fatalf("amount_total = %d, want %d", view.AmountTotal, 3*1200+2*500)
	}
}

func TestExpiredSession(t *testing.T) {
	_, id := e2e.CreateSession(t, "")
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id+"/expire", "", ""); r.Status != 200 {
		t.Fatalf("expire: %d %s", r.Status, r.Body)
	}
	if s := e2e.SessionStatus(t, id); s.Status != "expired" {
		t.Fatalf("status = %+v, want expired", s)
	}
}

func TestBadInputMakesNoStripeCall(t *testing.T) {
	base := e2e.Env(t, "BASE_URL")
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
	e2e.WaitWebhooksSettled(t)
	before := e2e.StripeCalls(t)
	for _, tc := range cases {
		r := e2e.Call(t, tc.method, base+tc.path, tc.ct, tc.body)
		var e struct {
			Error struct{ Code, Message string }
		}
		if r.Status != tc.want || json.Unmarshal(r.Body, &e) != nil || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s %s %s: got %d %s, want %d %s", tc.method, tc.path, tc.body, r.Status, r.Body, tc.want, tc.code)
		}
	}
	if after := e2e.StripeCalls(t); after != before {
		t.Errorf("bad requests caused %d Stripe calls", after-before)
	}
}

func TestUnknownSession(t *testing.T) {
	r := e2e.Call(t, "GET", e2e.Env(t, "BASE_URL")+"/session-status?session_id=cs_test_doesnotexist", "", "")
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
			r := e2e.Call(t, "POST", e2e.Env(t, "BASE_URL")+"/create-checkout-session", "application/json", fmt.Sprintf(`{"items":[{"id":"stickers","quantity":%d}]}`, qty))
			var got struct{ ClientSecret string }
			if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil {
				errs <- fmt.Errorf("request %d: %d %s", i, r.Status, r.Body)
				return
			}
			var view struct {
				AmountTotal int64 `json:"amount_total"`
			}
			e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+got.ClientSecret, "", ""), &view)
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
