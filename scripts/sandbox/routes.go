package main

// The API's routes and key checks. Secret keys (sk_test_..., rk_test_...) may
// call everything except POST /v1/confirmation_tokens; publishable keys
// (pk_test_..., what Stripe.js holds) may call only what Stripe.js calls:
// POST /v1/confirmation_tokens and GET /v1/payment_intents/{id}?client_secret=...
// Those two answer CORS requests, like api.stripe.com; the rest of /v1/ does not.

import (
	"fmt"
	"net/http"
	"strings"
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
	ids         []string // the {} segments of the pattern, in order
	publishable bool
}

type apiRoute struct {
	method  string
	pattern string // segments; "{}" matches any non-empty segment
	keys    int
	handle  func(sb *Sandbox, c *apiCall) (any, *apiError)
}

// apiRoutes are tried in order: fixed segments before {} where both could match.
var apiRoutes = []apiRoute{
	{"POST", "/v1/checkout/sessions", secretKeys, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		v, err := sb.createSessionLocked(c.root, c.version)
		sb.setHostedURLLocked(v, c.r)
		return v, err
	}},
	{"GET", "/v1/checkout/sessions/{}", secretKeys, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		return sb.retrieveSessionLocked(c.ids[0], c.root)
	}},
	{"GET", "/v1/checkout/sessions/{}/line_items", secretKeys, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		return sb.listLineItemsLocked(c.ids[0], c.root)
	}},
	{"POST", "/v1/checkout/sessions/{}/expire", secretKeys, func(sb *Sandbox, c *apiCall) (any, *apiError) {
		return sb.expireSessionLocked(c.ids[0], c.root)
	}},
	{"POST", "/v1/payment_intents", secretKeys, (*Sandbox).createIntentLocked},
	{"GET", "/v1/payment_intents", secretKeys, (*Sandbox).listIntentsLocked},
	{"GET", "/v1/payment_intents/search", secretKeys, (*Sandbox).searchIntentsLocked},
	{"GET", "/v1/payment_intents/{}", eitherKey, (*Sandbox).retrieveIntentLocked},
	{"POST", "/v1/payment_intents/{}", secretKeys, (*Sandbox).updateIntentLocked},
	{"POST", "/v1/payment_intents/{}/confirm", secretKeys, (*Sandbox).confirmIntentLocked},
	{"POST", "/v1/payment_intents/{}/capture", secretKeys, (*Sandbox).captureIntentLocked},
	{"POST", "/v1/payment_intents/{}/cancel", secretKeys, (*Sandbox).cancelIntentAPILocked},
	{"POST", "/v1/payment_intents/{}/increment_authorization", secretKeys, (*Sandbox).incrementIntentLocked},
	{"POST", "/v1/payment_intents/{}/verify_microdeposits", secretKeys, (*Sandbox).verifyMicrodepositsLocked},
	{"POST", "/v1/payment_intents/{}/apply_customer_balance", secretKeys, (*Sandbox).applyCustomerBalanceLocked},
	{"GET", "/v1/charges/{}", secretKeys, (*Sandbox).retrieveChargeLocked},
	{"POST", "/v1/refunds", secretKeys, (*Sandbox).createRefundLocked},
	{"GET", "/v1/refunds/{}", secretKeys, (*Sandbox).retrieveRefundLocked},
	{"GET", "/v1/disputes/{}", secretKeys, (*Sandbox).retrieveDisputeLocked},
	{"POST", "/v1/confirmation_tokens", publishableKeys, (*Sandbox).createTokenLocked},
	{"POST", "/v1/test_helpers/confirmation_tokens", secretKeys, (*Sandbox).createTokenLocked},
	{"GET", "/v1/confirmation_tokens/{}", secretKeys, (*Sandbox).retrieveTokenLocked},
	{"GET", "/v1/payment_methods/{}", secretKeys, (*Sandbox).retrievePaymentMethodLocked},
	{"POST", "/v1/customers", secretKeys, (*Sandbox).createCustomerLocked},
	{"GET", "/v1/customers/{}", secretKeys, (*Sandbox).retrieveCustomerLocked},
	{"POST", "/v1/billing_portal/sessions", secretKeys, (*Sandbox).createPortalSessionLocked},
	{"GET", "/v1/events", secretKeys, (*Sandbox).listEventsLocked},
	{"GET", "/v1/events/{}", secretKeys, (*Sandbox).retrieveEventLocked},
}

func (r *apiRoute) match(method, path string) ([]string, bool) {
	if method != r.method {
		return nil, false
	}
	want := strings.Split(r.pattern, "/")
	got := strings.Split(path, "/")
	if len(want) != len(got) {
		return nil, false
	}
	var ids []string
	for i, w := range want {
		switch {
		case w == "{}":
			if got[i] == "" {
				return nil, false
			}
			ids = append(ids, got[i])
		case w != got[i]:
			return nil, false
		}
	}
	return ids, true
}

func (sb *Sandbox) dispatchLocked(r *http.Request, form map[string][]string, version string, publishable bool) (int, any) {
	var route *apiRoute
	var ids []string
	for i := range apiRoutes {
		if m, ok := apiRoutes[i].match(r.Method, r.URL.Path); ok {
			route, ids = &apiRoutes[i], m
			break
		}
	}
	if route == nil {
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
	v, err := route.handle(sb, &apiCall{r: r, root: root, version: version, ids: ids, publishable: publishable})
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
