//go:build !(js && wasm)

package stripeapi

import "net/http"

// DefaultTransport is the Transport when Config gives none: net/http's own.
func DefaultTransport() http.RoundTripper { return http.DefaultTransport }
