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
	"strings"

	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82"
)

// Server is the worker's http.Handler.
type Server struct {
	cfg Config
	// api is stripe-go's backend for Stripe's API. Handlers call it with
	// stripe-go's typed parameters (encoding, retries, idempotency keys and
	// errors are stripe-go's) and decode into small result types of their own;
	// see checkoutSession.
	api    stripe.Backend
	routes *router
	// publicOrigin is PUBLIC_URL's origin ("" if unset) and allowedOrigins the
	// origins that may call the worker cross-origin (ALLOWED_ORIGINS plus
	// publicOrigin); both are derived once here rather than per request.
	publicOrigin   string
	allowedOrigins map[string]bool
	// configBody is GET /config's encoded answer (see configBody).
	configBody []byte
	// adminTokenHash is SHA-256(ADMIN_TOKEN), nil when the operator API is off.
	adminTokenHash []byte
	// approvals are the approval rules (approval.go).
	approvals []ApprovalRule
	// store records orders and holds stock (nil: none; see SetStore) and
	// fulfiller acts on paid orders (fulfill.go).
	store     orders.Store
	fulfiller Fulfiller

	// limits are the rate limiters (ratelimit.go; none: unlimited).
	limits RateLimiters
}

// NewServer builds the handler. httpClient carries every call to Stripe (on
// Workers, a fetch-based client; in tests, one pointed at a fake).
func NewServer(cfg Config, httpClient *http.Client) *Server {
	s := &Server{
		cfg:            cfg,
		api:            newStripeBackend(cfg, httpClient), // stripecall.go: retries, deadline
		publicOrigin:   originOf(cfg.PublicURL),
		allowedOrigins: make(map[string]bool, len(cfg.AllowedOrigins)+1),
		configBody:     configBody(cfg),
		fulfiller:      defaultFulfiller(cfg, httpClient),
	}
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
	s.routes = newRouter()
	s.routes.handle(http.MethodGet, "/config", s.handleConfig)
	s.routes.handle(http.MethodPost, "/create-checkout-session", s.handleCreateCheckoutSession)
	s.routes.handle(http.MethodGet, "/session-status", s.handleSessionStatus)
	s.adminRoutes()   // admin.go: the operator API under /admin/
	s.paymentRoutes() // payments.go: confirm-intent, approval rules, operator payment endpoints
	s.webhookRoutes() // webhook.go: POST /webhook, and orders.go: the operator API's orders
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
	rt, ok := s.routes.lookup(r.URL.Path, r)
	if !ok {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such endpoint: " + r.URL.Path})
		return
	}
	h, ok := rt[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = rt[http.MethodGet]
	}
	if !ok {
		allow := strings.Join(rt.methods(), ", ")
		w.Header().Set("Allow", allow)
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + allow})
		return
	}
	if s.rateLimited(w, r) { // ratelimit.go: 429 before the handler reads anything
		return
	}
	h(w, r)
}

// ConfigErrorHandler answers every request with the configuration problem, so
// a misconfigured deployment explains itself instead of failing obscurely.
func ConfigErrorHandler(err error) http.Handler {
	log.Printf("configuration error: %s", redactSecrets(err.Error()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "configuration_error", Message: "the checkout worker is misconfigured: " + err.Error()})
	})
}
