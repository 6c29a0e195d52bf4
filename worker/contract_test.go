//go:build contract

// Contract tests: the worker's requests to Stripe are sent to stripe-mock
// v0.195.0, which validates them against Stripe's published OpenAPI spec for
// the basil train. Run with `go test -tags contract ./worker` and
// STRIPE_MOCK_BIN pointing at the stripe-mock binary (make test does this).
package worker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// stripeMock starts stripe-mock on a free port for the test and stops it after.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("STRIPE_MOCK_BIN")
	if bin == "" {
		t.Fatal("STRIPE_MOCK_BIN is not set: run `make test`, or install stripe-mock with scripts/install-tools.sh stripe-mock")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-http-port", fmt.Sprint(port))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(url + "/v1/checkout/sessions/cs_test_ping"); err == nil {
			resp.Body.Close()
			return url
		}
		if i > 100 {
			t.Fatalf("stripe-mock did not start: %s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// judged records each response stripe-mock gives; any non-2xx is a request
// that Stripe's spec rejects.
type judged struct {
	mu       sync.Mutex
	base     http.RoundTripper
	verdicts []string
	failures []string
}

func (j *judged) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := j.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.verdicts = append(j.verdicts, r.Method+" "+r.URL.Path)
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		j.failures = append(j.failures, fmt.Sprintf("%s %s -> %d %s", r.Method, r.URL.Path, resp.StatusCode, body))
	}
	return resp, nil
}

func TestStripeMockAcceptsEveryRequest(t *testing.T) {
	mock := stripeMock(t)
	catalogs := map[string]string{
		"bundled catalog": "",
		"price ids":       `{"products":[{"id":"pro","name":"Pro","unit_amount":900,"currency":"eur","price":"price_1Pabc"}]}`,
		// Shipping, phone, custom fields, texts, recovery (goods_test.go);
		// then with automatic tax, tax IDs and consent.
		"physical goods": goodsCatalog,
		"physical goods, taxed": strings.Replace(goodsCatalog, `"abandoned_cart_recovery": true`,
			`"abandoned_cart_recovery": true, "tax": {"automatic": true, "tax_id_collection": true}, "pay_page": false, "terms_of_service_consent": true, "custom_text": {"terms_of_service_acceptance": "I accept the [terms](https://shop.example/terms)."}`, 1),
	}
	for name, cat := range catalogs {
		t.Run(name, func(t *testing.T) {
			j := &judged{base: http.DefaultTransport}
			cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": mock, "CATALOG_JSON": cat, "PUBLIC_URL": "https://shop.example"})
			srv := NewServer(cfg, Deps{Transport: j})
			first := cfg.Catalog.Products[0].ID
			requests := []struct{ method, target, ct, body string }{
				{"POST", "/create-checkout-session", "", ""},
				{"POST", "/create-checkout-session", "application/json", `{"items":[{"id":"` + first + `","quantity":2}]}`},
				{"GET", "/session-status?session_id=cs_test_a1b2c3", "", ""},
			}
			if strings.Contains(name, "physical goods") {
				for _, body := range []string{`{"items":[{"id":"tshirt","quantity":3}]}`, `{"items":[{"id":"tshirt"},{"id":"poster"}]}`, `{"items":[{"id":"rental"}]}`} {
					requests = append(requests, struct{ method, target, ct, body string }{"POST", "/create-checkout-session", "application/json", body})
				}
			}
			if cat == "" {
				requests = append(requests, struct{ method, target, ct, body string }{"POST", "/create-checkout-session", "application/json", `{"items":[{"id":"tshirt","quantity":1},{"id":"mug","quantity":5},{"id":"stickers","quantity":20}]}`})
			}
			for _, rq := range requests {
				rec := do(t, srv, rq.method, rq.target, rq.ct, rq.body)
				if rec.Code != 200 {
					t.Errorf("%s %s: status %d: %s", rq.method, rq.target, rec.Code, rec.Body)
				}
			}
			if len(j.verdicts) != len(requests) {
				t.Errorf("stripe-mock saw %d requests, want %d: %v", len(j.verdicts), len(requests), j.verdicts)
			}
			for _, f := range j.failures {
				t.Errorf("stripe-mock rejected: %s", f)
			}
		})
	}
}

// The requests behind data-checkout-promo, -reference and -locale: the
// promotion code lookup and a session with discounts, client_reference_id
// and locale. stripe-mock answers the lookup with a fixture (an inactive
// code), so the worker's own handling of the answer is tested on the host
// (checkout_options_test.go); here the wire format is judged.
func TestStripeMockAcceptsCheckoutOptions(t *testing.T) {
	mock := stripeMock(t)
	j := &judged{base: http.DefaultTransport}
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": mock, "PUBLIC_URL": "https://shop.example"})
	srv := NewServer(cfg, Deps{Transport: j})
	ctx := context.Background()
	list, err := srv.stripe.ListPromotionCodes(ctx, "FALL20")
	if err != nil || len(list.Data) == 0 || !hasIDPrefix(list.Data[0].ID, "promo_") {
		t.Fatalf("list promotion codes: %+v %v", list, err)
	}
	p, _ := cfg.Catalog.Lookup(cfg.DefaultItem)
	order, aerr := srv.newOrder(httptest.NewRequest("POST", "https://shop.example/create-checkout-session", nil), FlowCheckout,
		[]orderLine{{Product: p, Quantity: 2}}, &shopperFields{Email: "jenny@example.com"})
	if aerr != nil {
		t.Fatal(aerr)
	}
	params := srv.sessionParams(order)
	params.ReturnURL = stripe.String("https://shop.example/?session_id={CHECKOUT_SESSION_ID}")
	applyCheckoutOptions(params, checkoutOptions{Reference: "blog-order_42", Locale: "fr-CA"}, list.Data[0].ID)
	if _, err := srv.stripe.CreateCheckoutSession(ctx, params); err != nil {
		t.Fatalf("create session: %v", err)
	}
	if len(j.verdicts) != 2 {
		t.Errorf("stripe-mock saw %v", j.verdicts)
	}
	for _, f := range j.failures {
		t.Errorf("stripe-mock rejected: %s", f)
	}
}
