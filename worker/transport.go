package worker

import (
	"net/http"
)

// StripeHTTPClient wraps a transport for stripe-go. stripe-go gives every
// request a non-nil body, even GETs; the Workers fetch API refuses a GET or
// HEAD Request with a body, so such bodies are dropped here.
func StripeHTTPClient(base http.RoundTripper) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: noBodyOnGET{base}}
}

type noBodyOnGET struct{ base http.RoundTripper }

func (t noBodyOnGET) RoundTrip(r *http.Request) (*http.Response, error) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Body != nil {
		r = r.Clone(r.Context())
		if r.Body != nil {
			r.Body.Close()
		}
		r.Body, r.GetBody, r.ContentLength = nil, nil, 0
	}
	return t.base.RoundTrip(r)
}
