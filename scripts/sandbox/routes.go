package main

// The sandbox's routes, in one place: routes() registers every endpoint on a
// net/http.ServeMux with Go 1.22 patterns.
//
// Stripe API routes (/v1/...) run through serveAPI: key check, faults,
// idempotency, the request log. Secret keys (sk_test_..., rk_test_...) may
// call everything except POST /v1/confirmation_tokens; publishable keys
// (pk_test_..., what Stripe.js holds) may call only what Stripe.js calls:
// POST /v1/confirmation_tokens and GET /v1/payment_intents/{id}?client_secret=...
// Those two answer CORS requests, like api.stripe.com; the rest of /v1/ does
// not. Any other /v1 request gets Stripe's 404 "Unrecognized request URL".
//
// Development routes (/_sandbox/...) take no key and are CORS-open; a known
// path with the wrong method gets a JSON 405 with Allow, an unknown one a 404.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Which keys a route takes.
const (
	secretKeys      = iota // sk_/rk_ test keys
	publishableKeys        // pk_test_ keys only
	eitherKey              // both
)

type apiCall struct {
	r           *http.Request
	root        *param
	version     string
	id          string // the pattern's {id}, if any
	publishable bool
}

type apiRoute struct {
	pattern string // "METHOD /v1/path/{id}/..."
	keys    int
	cors    bool // called by Stripe.js: answers preflights and pk_ requests with CORS headers
	handle  func(sb *Sandbox, c *apiCall) (any, *apiError)
}

// apiRoutes is the Stripe API subset (see README.md).
var apiRoutes = []apiRoute{
	{"POST /v1/checkout/sessions", secretKeys, false, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		v, err := sb.createSessionLocked(c.root, c.version)
		sb.setHostedURLLocked(v, c.r)
		return v, err
	}},
	{"GET /v1/checkout/sessions/{id}", secretKeys, false, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		return sb.retrieveSessionLocked(c.id, c.root)
	}},
	{"GET /v1/checkout/sessions/{id}/line_items", secretKeys, false, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		return sb.listLineItemsLocked(c.id, c.root)
	}},
	{"POST /v1/checkout/sessions/{id}/expire", secretKeys, false, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		return sb.expireSessionLocked(c.id, c.root)
	}},
	{"GET /v1/promotion_codes", secretKeys, false, (*Sandbox).listPromotionCodesLocked},
	{"GET /v1/promotion_codes/{id}", secretKeys, false, (*Sandbox).retrievePromotionCodeLocked},
	{"POST /v1/payment_intents", secretKeys, false, (*Sandbox).createIntentLocked},
	{"GET /v1/payment_intents", secretKeys, false, (*Sandbox).listIntentsLocked},
	{"GET /v1/payment_intents/search", secretKeys, false, (*Sandbox).searchIntentsLocked},
	{"GET /v1/payment_intents/{id}", eitherKey, true, (*Sandbox).retrieveIntentLocked},
	{"POST /v1/payment_intents/{id}", secretKeys, false, (*Sandbox).updateIntentLocked},
	{"POST /v1/payment_intents/{id}/confirm", secretKeys, false, (*Sandbox).confirmIntentLocked},
	{"POST /v1/payment_intents/{id}/capture", secretKeys, false, (*Sandbox).captureIntentLocked},
	{"POST /v1/payment_intents/{id}/cancel", secretKeys, false, (*Sandbox).cancelIntentAPILocked},
	{"POST /v1/payment_intents/{id}/increment_authorization", secretKeys, false, (*Sandbox).incrementIntentLocked},
	{"POST /v1/payment_intents/{id}/verify_microdeposits", secretKeys, false, (*Sandbox).verifyMicrodepositsLocked},
	{"POST /v1/payment_intents/{id}/apply_customer_balance", secretKeys, false, (*Sandbox).applyCustomerBalanceLocked},
	{"GET /v1/charges/{id}", secretKeys, false, (*Sandbox).retrieveChargeLocked},
	{"POST /v1/refunds", secretKeys, false, (*Sandbox).createRefundLocked},
	{"GET /v1/refunds/{id}", secretKeys, false, (*Sandbox).retrieveRefundLocked},
	{"GET /v1/disputes/{id}", secretKeys, false, (*Sandbox).retrieveDisputeLocked},
	{"POST /v1/confirmation_tokens", publishableKeys, true, (*Sandbox).createTokenLocked},
	{"POST /v1/test_helpers/confirmation_tokens", secretKeys, false, (*Sandbox).createTokenLocked},
	{"GET /v1/confirmation_tokens/{id}", secretKeys, false, (*Sandbox).retrieveTokenLocked},
	{"GET /v1/payment_methods/{id}", secretKeys, false, (*Sandbox).retrievePaymentMethodLocked},
	{"POST /v1/customers", secretKeys, false, (*Sandbox).createCustomerLocked},
	{"GET /v1/customers/{id}", secretKeys, false, (*Sandbox).retrieveCustomerLocked},
	{"POST /v1/billing_portal/sessions", secretKeys, false, (*Sandbox).createPortalSessionLocked},
	{"GET /v1/events", secretKeys, false, (*Sandbox).listEventsLocked},
	{"GET /v1/events/{id}", secretKeys, false, (*Sandbox).retrieveEventLocked},
}

// Catch-all patterns: what no other pattern matches.
const (
	apiFallback = "/v1/"
	devFallback = "/_sandbox/"
)

// routes builds the sandbox's ServeMux.
func (sb *Sandbox) routes() *http.ServeMux {
	mux := http.NewServeMux()

	// Stripe API
	for i := range apiRoutes {
		rt := &apiRoutes[i]
		h := func(w http.ResponseWriter, r *http.Request) { sb.serveAPI(w, r, rt) }
		mux.HandleFunc(rt.pattern, h)
		if rt.cors {
			_, path, _ := strings.Cut(rt.pattern, " ")
			mux.HandleFunc("OPTIONS "+path, h)
		}
	}
	unknownAPI := func(w http.ResponseWriter, r *http.Request) { sb.serveAPI(w, r, nil) }
	mux.HandleFunc(apiFallback, unknownAPI)
	mux.HandleFunc("/v1", unknownAPI)

	// Development endpoints
	dev := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, devHeaders(h)) }
	withID := func(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { h(w, r, r.PathValue("id")) }
	}
	dev("GET /_sandbox/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	dev("GET /_sandbox/checkout", sb.devCheckout)
	dev("POST /_sandbox/checkout/pay", sb.devPay)
	dev("POST /_sandbox/prices", sb.devCreatePrice)
	dev("GET /_sandbox/requests", sb.devRequests)
	dev("POST /_sandbox/reset", sb.devReset)
	dev("/_sandbox/faults", sb.devFaults) // GET, POST, DELETE: faults.go
	dev("GET /_sandbox/events", sb.devEvents)
	dev("POST /_sandbox/events/{id}/resend", withID(sb.devResend))
	dev("POST /_sandbox/payment_intents/{id}/authenticate", withID(sb.devAuthenticate))
	dev("POST /_sandbox/payment_intents/{id}/dispute", withID(sb.devDispute))
	dev("POST /_sandbox/disputes/{id}/close", withID(sb.devCloseDispute))
	dev("GET /_sandbox/sessions/{id}", withID(sb.devSession))
	dev("POST /_sandbox/sessions/{id}/expire", withID(sb.devExpire))
	dev("POST /_sandbox/sessions/{id}/async", withID(sb.devAsync))
	dev("GET /_sandbox/recover/{id}", sb.devRecover) // goods.go
	unknownDev := func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r, devFallback); allow != "" {
			methodNotAllowed(w, allow+", OPTIONS")
			return
		}
		writeJSON(w, http.StatusNotFound, devError(http.StatusNotFound, "not_found", "", "Unknown sandbox endpoint %s.", r.URL.Path).envelope())
	}
	dev(devFallback, unknownDev)
	dev("/_sandbox", unknownDev)

	// Pages and the Stripe.js stand-in
	mux.HandleFunc("/stripe.js", sb.serveStandin)
	mux.HandleFunc(hostedPath+"{id}", sb.serveHosted)
	mux.HandleFunc(portalPath+"{id}", sb.servePortal)
	mux.HandleFunc("/{$}", serveIndex)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, devError(http.StatusNotFound, "not_found", "",
			"Unknown path %s on the Stripe sandbox.", r.URL.Path).envelope())
	})
	return mux
}

// ServeHTTP routes a request (routes) and logs it.
func (sb *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	rec.Header().Set("Request-Id", newID("req_", 14))
	sb.mux.ServeHTTP(rec, r)
	if sb.Logger != nil {
		sb.Logger.Printf("%s %s %d %s", r.Method, redactURL(r.URL), rec.status,
			time.Since(start).Round(time.Microsecond))
	}
}

// allowedMethods lists the methods (GET, POST, DELETE) for which r's path has
// a route other than fallback.
func allowedMethods(mux *http.ServeMux, r *http.Request, fallback string) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != fallback {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// devHeaders gives development endpoints open CORS, no caching, and preflights.
func devHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCORS(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		if preflight(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var b strings.Builder
	b.WriteString("Stripe sandbox: a local development stand-in for Stripe's API. Not Stripe; no real payments.\n" +
		"See scripts/sandbox/README.md. Routes:\n")
	for _, rt := range apiRoutes {
		fmt.Fprintf(&b, "  %s\n", rt.pattern)
	}
	b.WriteString("  GET /stripe.js (the Stripe.js stand-in), GET " + hostedPath + "{id}, GET " + portalPath + "{id}\n" +
		"  /_sandbox/: health, checkout, checkout/pay, sessions/{id}[/expire|/async], events[/{id}/resend],\n" +
		"             payment_intents/{id}/authenticate|dispute, disputes/{id}/close, faults, prices, requests, reset\n")
	io.WriteString(w, b.String())
}

func (sb *Sandbox) dispatchLocked(route *apiRoute, r *http.Request, form map[string][]string, version string, publishable bool) (int, any) {
	// GET patterns also match HEAD; the API answers HEAD like an unknown route.
	if route == nil || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		e := unrecognized(r)
		return e.status, e.envelope()
	}
	switch {
	case publishable && route.keys == secretKeys:
		e := &apiError{status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "secret_key_required",
			Message: "This API call cannot be made with a publishable API key. Please use a secret API key (sk_test_...)."}
		return e.status, e.envelope()
	case !publishable && route.keys == publishableKeys:
		e := invalid("", "", "This API call is made by Stripe.js with a publishable key (pk_test_...). On a server, create ConfirmationTokens with POST /v1/test_helpers/confirmation_tokens.")
		return e.status, e.envelope()
	}
	root, perr := parseParams(form)
	if perr != nil {
		return perr.status, perr.envelope()
	}
	v, err := route.handle(sb, &apiCall{r: r, root: root, version: version, id: r.PathValue("id"), publishable: publishable})
	if err != nil {
		return err.status, err.envelope()
	}
	return http.StatusOK, v
}
func unrecognized(r *http.Request) *apiError {
	e := invalid("", "", "Unrecognized request URL (%s: %s). See the Stripe sandbox's root page for the API subset it implements.",
		r.Method, r.URL.Path)
	e.status = http.StatusNotFound
	return e
}

// checkAPIKey reads the key from Bearer or Basic auth. publishable is true for
// a pk_test_ key.
func checkAPIKey(r *http.Request) (key string, publishable bool, err *apiError) {
	if user, _, ok := r.BasicAuth(); ok {
		key = user
	} else if after, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		key = strings.TrimSpace(after)
	}
	unauthorized := func(code, format string, args ...any) *apiError {
		return &apiError{status: http.StatusUnauthorized, Type: "invalid_request_error", Code: code,
			Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case key == "":
		return "", false, unauthorized("", "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). The Stripe sandbox accepts any test-mode secret key (sk_test_...).")
	case strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_") || strings.HasPrefix(key, "pk_live_"):
		return "", false, unauthorized("", "The Stripe sandbox accepts only test-mode keys (sk_test_..., pk_test_...). Never use a live key in development: %s", maskKey(key))
	case strings.HasPrefix(key, "pk_test_") && len(key) > len("pk_test_") && isKeyChars(key):
		return key, true, nil
	case (strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_")) && len(key) > len("sk_test_") && isKeyChars(key):
		return key, false, nil
	default:
		return "", false, unauthorized("", "Invalid API Key provided: %s", maskKey(key))
	}
}

// corsForAPI: the routes Stripe.js calls answer cross-origin requests made with
// a publishable key, and their preflights.
func corsForAPI(w http.ResponseWriter, r *http.Request) (handled bool) {
	h := w.Header()
	pk := strings.HasPrefix(r.Header.Get("Authorization"), "Bearer pk_")
	if r.Method != http.MethodOptions && !pk {
		return false
	}
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Stripe-Version, Idempotency-Key")
	h.Set("Access-Control-Max-Age", "600")
	if r.Method == http.MethodOptions {
		if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
