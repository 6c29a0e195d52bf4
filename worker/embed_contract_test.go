//go:build contract

package worker

import (
	"net/http"
	"testing"
)

// The request shapes the embed snippet adds (cross-origin return URLs,
// redirect_on_completion, hosted Checkout) are valid for Stripe's basil API.
func TestStripeMockAcceptsEmbedRequests(t *testing.T) {
	mock := stripeMock(t)
	j := &judged{base: http.DefaultTransport}
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": mock, "ALLOWED_ORIGINS": "https://blog.example"})
	srv := NewServer(cfg, Deps{Transport: j})
	bodies := []string{
		`{"items":[{"id":"mug","quantity":2}],"returnPath":"/shop/mug/"}`,
		`{"items":[{"id":"mug","quantity":1}],"redirectOnCompletion":"if_required","returnPath":"/shop/"}`,
		`{"items":[{"id":"mug","quantity":1},{"id":"tshirt","quantity":1}],"redirectOnCompletion":"never"}`,
		`{"items":[{"id":"mug","quantity":1}],"redirectOnCompletion":"always"}`,
		`{"items":[{"id":"mug","quantity":1}],"uiMode":"hosted","returnPath":"/thanks/","cancelPath":"/shop/"}`,
		`{"items":[{"id":"mug","quantity":1}],"uiMode":"hosted"}`,
	}
	for _, body := range bodies {
		rec := doFrom(t, srv, "https://blog.example", "POST", "https://shop.example/create-checkout-session", nil, body)
		if rec.Code != 200 {
			t.Errorf("%s: status %d: %s", body, rec.Code, rec.Body)
		}
	}
	if len(j.verdicts) != len(bodies) {
		t.Errorf("stripe-mock saw %d requests, want %d: %v", len(j.verdicts), len(bodies), j.verdicts)
	}
	for _, f := range j.failures {
		t.Errorf("stripe-mock rejected: %s", f)
	}
}
