package worker

// The worker's HTTP API, all of it, in one table on net/http's ServeMux
// (Go 1.22 patterns: method, path, {wildcards}, read by r.PathValue). The
// same table answers what no route serves: ServeHTTP turns the mux's own 404
// and 405 (with its Allow header) into JSON errors, and CORS preflights
// (cors.go) take their Access-Control-Allow-Methods from it.

import "net/http"

// newMux builds the route table. Registering a route does nothing else.
func (s *Server) newMux() *http.ServeMux {
	mux := http.NewServeMux()
	pay := s.limited("payments", s.limits.Payments, s.cfg.RateLimit.PaymentsPeriod) // ratelimit.go
	status := s.limited("status", s.limits.Status, s.cfg.RateLimit.StatusPeriod)
	a := s.admin // admin.go: the bearer-token check

	// The shop's pages and embed.js (public).
	mux.HandleFunc("GET /config", s.handleConfig)                                       // checkout.go
	mux.HandleFunc("POST /create-checkout-session", pay(s.handleCreateCheckoutSession)) // checkout.go
	mux.HandleFunc("GET /session-status", status(s.handleSessionStatus))                // checkout.go
	mux.HandleFunc("GET /session_status", status(s.handleSessionStatus))                // Stripe's quickstart client spells it so
	mux.HandleFunc("POST /create-confirm-intent", pay(s.handleCreateConfirmIntent))     // payments.go

	// Stripe's events (signed).
	mux.HandleFunc("POST /webhook", s.handleWebhook) // webhook.go

	// The operator API (Authorization: Bearer ADMIN_TOKEN).
	mux.HandleFunc("GET /admin/ping", a(s.handleAdminPing))                                                      // admin.go
	mux.HandleFunc("GET /admin/runtime", a(s.handleAdminRuntime))                                                // admin_runtime.go
	mux.HandleFunc("GET /admin/orders", a(s.handleListOrders))                                                   // orders.go
	mux.HandleFunc("GET /admin/orders/{id}", a(s.handleGetOrder))                                                // orders.go
	mux.HandleFunc("POST /admin/orders/{id}/refund", a(s.handleRefundOrder))                                     // refunds.go
	mux.HandleFunc("GET /admin/payment_intents/search", a(s.handleAdminSearchIntents))                           // admin_payments.go
	mux.HandleFunc("GET /admin/payment_intents/{id}", a(s.handleAdminGetIntent))                                 // admin_payments.go
	mux.HandleFunc("POST /admin/payment_intents/{id}/confirm", a(s.handleAdminConfirm))                          // admin_payments.go
	mux.HandleFunc("POST /admin/payment_intents/{id}/capture", a(s.handleAdminCapture))                          // approve = capture
	mux.HandleFunc("POST /admin/payment_intents/{id}/approve", a(s.handleAdminCapture))                          //
	mux.HandleFunc("POST /admin/payment_intents/{id}/cancel", a(s.handleAdminCancel))                            // reject = cancel
	mux.HandleFunc("POST /admin/payment_intents/{id}/reject", a(s.handleAdminCancel))                            //
	mux.HandleFunc("POST /admin/payment_intents/{id}/increment_authorization", a(s.handleAdminIncrement))        // admin_payments.go
	mux.HandleFunc("POST /admin/payment_intents/{id}/verify_microdeposits", a(s.handleAdminVerifyMicrodeposits)) // admin_payments.go
	mux.HandleFunc("POST /admin/payment_intents/{id}/apply_customer_balance", a(s.handleAdminApplyBalance))      // admin_payments.go
	mux.HandleFunc("POST /admin/billing_portal_sessions", a(s.handleAdminPortalSession))                         // admin_payments.go
	mux.HandleFunc("POST /admin/customer_tokens", a(s.handleAdminCustomerToken))                                 // payments_customer.go
	return mux
}

// unrouted answers a request no route serves, as JSON: the mux's own
// handler for it (h, from mux.Handler) is run against a recorder only to learn
// whether it is a 404 or a 405 and, for a 405, the Allow header.
func unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &headerRecorder{header: http.Header{}}
	if h != nil {
		h.ServeHTTP(rec, r)
	}
	if rec.status == http.StatusMethodNotAllowed {
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + allow})
		return
	}
	writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such endpoint: " + r.URL.Path})
}

// allowedMethods are the methods the table serves on r's path ("" if none),
// as the mux's Allow header lists them.
func (s *Server) allowedMethods(r *http.Request) string {
	probe := r.Clone(r.Context())
	probe.Method = http.MethodOptions // no route takes OPTIONS: the mux answers 405 with Allow
	h, _ := s.mux.Handler(probe)
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, probe)
	return rec.header.Get("Allow")
}

// canonicalPath reports whether p is a path the mux would serve as it is
// (it redirects others, such as "//config" or "/a/../config"; the worker
// answers 404 instead: an API has no reason to send a client elsewhere).
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && p[i-1] == '/' {
			return false
		}
	}
	for _, seg := range []string{"/./", "/../"} {
		if containsSegment(p, seg) {
			return false
		}
	}
	return true
}

func containsSegment(p, seg string) bool {
	q := p + "/"
	for i := 0; i+len(seg) <= len(q); i++ {
		if q[i:i+len(seg)] == seg {
			return true
		}
	}
	return false
}

// headerRecorder keeps what the mux's own 404/405 handlers write.
type headerRecorder struct {
	header http.Header
	status int
}

func (r *headerRecorder) Header() http.Header { return r.header }
func (r *headerRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *headerRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(p), nil
}
