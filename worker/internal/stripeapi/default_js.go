//go:build js && wasm

package stripeapi

import (
	"errors"
	"net/http"
)

// DefaultTransport is the wasm build's Transport when Config gives none:
// there is none. http.DefaultTransport is net/http's socket client, which
// cannot work on Workers, and naming it here would link it (and HTTP/2, TLS,
// x509) into the worker (call.go); the worker's main always passes the fetch
// transport.
func DefaultTransport() http.RoundTripper { return noTransport{} }

type noTransport struct{}

func (noTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("stripeapi: no HTTP transport configured")
}
