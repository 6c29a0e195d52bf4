// Package worker holds the checkout kit's HTTP handlers. It is plain Go: it
// never imports syscall/js, so it runs and is tested on the host, and the wasm
// main in ../wasm only wires it to the Workers runtime.
package worker

import (
	"crypto/sha256"
	"fmt"
	"log"
	"net/http"
	"runtime/debug"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"
)

// Server is the worker's http.Handler. It is built once by NewServer and
// never changed afterwards, so one Server serves concurrent requests safely.
type Server struct {
	cfg Config
	// stripe is Stripe's API, one method per call the worker makes
	// (internal/stripeapi: the key, paths, retry, deadline and slim decode
	// types live there). Handlers pass stripe-go's typed parameters and map
	// the errors to answers (fromStripe).
	stripe stripeapi.API
	// mux is the route table (routes.go).
	mux *http.ServeMux
	// publicOrigin is PUBLIC_URL's origin ("" if unset) and allowedOrigins the
	// origins that may call the worker cross-origin (ALLOWED_ORIGINS plus
	// publicOrigin); both are derived once here rather than per request.
	publicOrigin   string
	allowedOrigins map[string]bool
	// configBody is GET /config's encoded answer (see configBody).
	configBody []byte
	// adminTokenHash is SHA-256(ADMIN_TOKEN), nil when the operator API is off.
	adminTokenHash []byte
	// approvals are the approval rules: the built-in ones, then Deps.Rules.
	approvals []ApprovalRule
	// store records orders and holds stock (nil: none) and fulfiller acts on
	// paid orders (fulfill.go).
	store     orders.Store
	fulfiller Fulfiller
	// limits are the rate limiters (ratelimit.go; none: unlimited).
	limits RateLimiters
	// deps are what NewServer was given (tests build variants from them).
	deps Deps
}

// Deps are what the worker works with besides its configuration. Every
// field is optional.
type Deps struct {
	// Transport carries every call to Stripe and to FULFILLMENT_WEBHOOK_URL
	// (on Workers, the fetch transport; in tests, a fake Stripe); nil:
	// http.DefaultTransport on hosts. It is a RoundTripper, not an
	// *http.Client, because the client's Do links net/http's socket
	// transport into the wasm build (worker/internal/stripeapi/call.go).
	Transport http.RoundTripper
	// Stripe replaces the client NewServer builds from the configuration
	// and Transport (host tests stub it); nil: that client.
	Stripe stripeapi.API
	// Store records orders and reserves stock (on Workers, D1: orders.SQLStore);
	// nil: no orders are recorded, /webhook and /admin/orders answer 503,
	// and only the catalog's static stock applies.
	Store orders.Store
	// Fulfiller acts on paid orders; nil: the built-in one (a log line, plus
	// a POST to FULFILLMENT_WEBHOOK_URL when it is set).
	Fulfiller Fulfiller
	// Rules are the shop's own approval rules, run after the built-in ones.
	Rules []ApprovalRule
	// RateLimits limit the public endpoints that reach Stripe.
	RateLimits RateLimiters
}

// NewServer builds the handler.
func NewServer(cfg Config, d Deps) *Server {
	if d.Transport == nil {
		d.Transport = stripeapi.DefaultTransport()
	}
	s := &Server{
		cfg:            cfg,
		stripe:         d.Stripe,
		publicOrigin:   originOf(cfg.PublicURL),
		allowedOrigins: make(map[string]bool, len(cfg.AllowedOrigins)+1),
		configBody:     configBody(cfg),
		store:          d.Store,
		fulfiller:      d.Fulfiller,
		limits:         d.RateLimits,
		deps:           d,
	}
	if s.stripe == nil {
		s.stripe = stripeapi.New(stripeapi.Config{SecretKey: cfg.SecretKey, APIBase: cfg.APIBase, Timeout: cfg.StripeTimeout, Transport: d.Transport})
	}
	if s.fulfiller == nil {
		s.fulfiller = defaultFulfiller(cfg, d.Transport)
	}
	s.approvals = append(s.builtinRules(), d.Rules...)
	if cfg.AdminToken != "" {
		sum := sha256.Sum256([]byte(cfg.AdminToken))
		s.adminTokenHash = sum[:]
	}
	for _, o := range cfg.AllowedOrigins {
		s.allowedOrigins[o] = true
	}
	if s.publicOrigin != "" {
		s.allowedOrigins[s.publicOrigin] = true
	}
	s.mux = s.newMux() // routes.go
	return s
}

// ServeHTTP routes the request. Unknown paths and methods answer JSON errors,
// and a panic in a handler becomes a 500 instead of taking the instance down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			log.Printf("panic serving %s %s: %s\n%s", r.Method, r.URL.Path, redactSecrets(fmt.Sprint(v)), debug.Stack())
			writeError(w, fmt.Errorf("panic: %v", v))
		}
	}()
	if s.guardOrigin(w, r) { // cors.go: preflights and refused origins
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" || !canonicalPath(r.URL.Path) {
		unrouted(w, r, h) // routes.go: JSON 404 or 405
		return
	}
	s.mux.ServeHTTP(w, r) // sets r.PathValue
}

// ConfigErrorHandler answers every request with the configuration problem, so
// a misconfigured deployment explains itself instead of failing obscurely.
func ConfigErrorHandler(err error) http.Handler {
	log.Printf("configuration error: %s", redactSecrets(err.Error()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "configuration_error", Message: "the checkout worker is misconfigured: " + err.Error()})
	})
}
