// Command sandbox is a local, stateful stand-in for the small part of Stripe's API
// that the checkout kit uses, for offline development and tests only: it takes no
// real payments, keeps everything in memory and refuses live-mode keys.
//
// README.md (in this directory) is its reference: endpoints, parameters, test
// cards, development endpoints, and where each lives. routes.go lists every route.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed standin.js
var standinJS []byte

const (
	// defaultAPIVersion is the API version stripe-go v82 pins (the basil train).
	defaultAPIVersion = "2025-08-27.basil"
	// dahliaDate is the first API version whose ui_mode values were renamed
	// (hosted_page, embedded_page, elements); older values are rejected from then on.
	dahliaDate = "2026-03-25"

	sessionLifetime    = 24 * time.Hour
	minSessionLifetime = 30 * time.Minute
	idempotencyTTL     = 24 * time.Hour
	maxRequestLog      = 10000
	maxFormBytes       = 1 << 20
	maxJSONBytes       = 64 << 10
	maxLineItems       = 100
	maxQuantity        = 999999
	maxUnitAmount      = 99999999
	maxAmountTotal     = 99999999
	maxMetadataKeys    = 50
	maxMetadataKeyLen  = 40
	maxMetadataValLen  = 500
	maxClientRefLen    = 200
	maxIdempotencyLen  = 255
	defaultListLimit   = 10
)

// Sandbox is the in-memory Stripe stand-in. It implements http.Handler and is safe
// for concurrent use.
type Sandbox struct {
	// Logger, if set, receives one line per request. Authorization headers are never
	// logged and client secrets are redacted from logged URLs.
	Logger *log.Logger

	// WebhookURL, if set, receives every event (events.go), signed with
	// WebhookSecret. Set both before serving.
	WebhookURL    string
	WebhookSecret string
	// RetryDelays are the waits before each retry of a failed delivery
	// (default 0.2 s, 1 s, 3 s); WebhookClient sends them (default: 5 s timeout,
	// redirects not followed).
	RetryDelays   []time.Duration
	WebhookClient *http.Client

	now func() time.Time // replaceable in tests

	mu             sync.Mutex
	sessions       map[string]*session // by id
	secrets        map[string]*session // by client_secret
	prices         map[string]*price   // registered through /_sandbox/prices
	products       map[string]string   // product id -> name, from registered prices
	idem           map[string]*idemEntry
	requests       []requestRecord
	intents        map[string]*paymentIntent
	intentList     []*paymentIntent // in creation order
	charges        map[string]*charge
	refunds        map[string]*refund
	disputes       map[string]*dispute
	tokens         map[string]*confirmationToken
	paymentMethods map[string]*paymentMethod
	faults         []*fault
	customers      map[string]*customer
	promotions     map[string]*promotionCode // by id (promotions.go)
	portals        map[string]*portalSession
	events         []*event
	eventByID      map[string]*event
	curRequest     *eventRequest // the API request being handled, for events

	mux *http.ServeMux // routes.go

	deliveryCtx      context.Context
	cancelDeliveries context.CancelFunc
	deliveries       sync.WaitGroup
}

// New returns an empty sandbox that does not log and delivers no webhooks.
func New() *Sandbox {
	sb := &Sandbox{now: time.Now}
	sb.mux = sb.routes()
	sb.resetLocked()
	return sb
}

func (sb *Sandbox) resetLocked() {
	sb.sessions = map[string]*session{}
	sb.secrets = map[string]*session{}
	sb.prices = map[string]*price{}
	sb.products = map[string]string{}
	sb.idem = map[string]*idemEntry{}
	sb.requests = nil
	sb.intents = map[string]*paymentIntent{}
	sb.intentList = nil
	sb.charges = map[string]*charge{}
	sb.refunds = map[string]*refund{}
	sb.disputes = map[string]*dispute{}
	sb.tokens = map[string]*confirmationToken{}
	sb.paymentMethods = map[string]*paymentMethod{}
	sb.customers = map[string]*customer{}
	sb.seedPromotionsLocked()
	sb.portals = map[string]*portalSession{}
	sb.events = nil
	sb.eventByID = map[string]*event{}
	sb.faults = nil
	// Deliveries of forgotten events stop.
	if sb.cancelDeliveries != nil {
		sb.cancelDeliveries()
	}
	sb.deliveryCtx, sb.cancelDeliveries = context.WithCancel(context.Background())
}

type session struct {
	ID                   string
	ClientSecret         string
	Created              int64
	ExpiresAt            int64
	Status               string // open, complete, expired
	PaymentStatus        string // unpaid, paid, no_payment_required
	Mode                 string
	UIMode               string
	RedirectOnCompletion string
	ReturnURL            *string
	SuccessURL           *string // hosted Checkout (hosted.go)
	CancelURL            *string // hosted Checkout
	URL                  string  // hosted Checkout page
	Currency             string
	AmountSubtotal       int64
	AmountTotal          int64
	CustomerEmail        *string
	ClientReferenceID    *string
	Locale               *string
	Metadata             map[string]string
	Items                []*lineItem
	PaidEmail            string
	PaymentIntent        *paymentIntent
	IntentData           intentData // payment_intent_data
	IncrementalAuth      string     // payment_method_options[card][request_incremental_authorization]
	Customer             *string    // cus_... given or created
	CustomerCreation     string     // always, if_required, or "" (if_required)
	AllowPromotionCodes  *bool
	AmountDiscount       int64          // total_details.amount_discount (promotions.go)
	Discount             map[string]any // discounts[0]: coupon and promotion_code, or nil
	ThreeDSecure         string         // payment_method_options[card][request_three_d_secure]
	CardSetupFutureUsage string         // payment_method_options[card][setup_future_usage]
	SavedPM              *savedPMOptions
	Goods                sessionGoods // shipping, phone, custom fields, tax, texts (goods.go)
}

// intentData is a Checkout Session's payment_intent_data: how the
// PaymentIntent made when it is paid is set up.
type intentData struct {
	CaptureMethod       string
	SetupFutureUsage    *string
	Metadata            map[string]string
	Description         *string
	ReceiptEmail        *string
	StatementDescriptor *string
}

type lineItem struct {
	ID          string
	Description string
	Quantity    int64
	UnitAmount  int64
	Currency    string
	Price       *price
	Discount    int64 // amount_discount: this line's share of the session's discount
	// TaxBehavior and TaxCode (price_data, product_data), Images, and
	// the line's tax once priced (goods.go): added to its total unless
	// TaxIncluded.
	TaxBehavior, TaxCode string
	Images               []string
	Tax                  int64
	TaxIncluded          bool
}

type price struct {
	ID         string
	Product    string
	Name       string
	UnitAmount int64
	Currency   string
	Created    int64
	Active     bool
}

type idemEntry struct {
	fingerprint string
	status      int
	body        []byte
	requestID   string
	expires     time.Time
}

type requestRecord struct {
	Time           string         `json:"time"`
	Method         string         `json:"method"`
	Path           string         `json:"path"`
	Form           map[string]any `json:"form"`
	IdempotencyKey string         `json:"idempotency_key"`
	StripeVersion  string         `json:"stripe_version,omitempty"`
	Status         int            `json:"status"`
	Replayed       bool           `json:"idempotent_replayed,omitempty"`
	Fault          string         `json:"fault,omitempty"`          // an injected fault's kind
	FaultExecuted  bool           `json:"fault_executed,omitempty"` // the faulted request was processed
}

// ---------------------------------------------------------------------------
// Errors

// apiError is a Stripe error object plus the HTTP status it is sent with.
type apiError struct {
	status      int
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	Message     string `json:"message"`
	Param       string `json:"param,omitempty"`
	// On card errors, as Stripe sends them.
	Charge        string `json:"charge,omitempty"`
	PaymentIntent any    `json:"payment_intent,omitempty"`
	PaymentMethod any    `json:"payment_method,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func (e *apiError) envelope() any { return map[string]any{"error": e} }

func invalid(param, code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Type: "invalid_request_error", Code: code,
		Message: fmt.Sprintf(format, args...), Param: param}
}

func missing(param string) *apiError {
	return invalid(param, "parameter_missing", "Missing required param: %s.", param)
}

func emptyString(param string) *apiError {
	return invalid(param, "parameter_invalid_empty",
		"You passed an empty string for '%s'. We assume empty values are an attempt to unset a parameter; however '%s' cannot be unset. You should remove '%s' from your request or supply a non-empty value.",
		param, param, param)
}

func unknownParam(param string) *apiError {
	return invalid(param, "parameter_unknown", "Received unknown parameter: %s", param)
}

func noSuchSession(id string) *apiError {
	e := invalid("session", "resource_missing", "No such checkout.session: '%s'", id)
	e.status = http.StatusNotFound
	return e
}

func devError(status int, code, param, format string, args ...any) *apiError {
	return &apiError{status: status, Type: "invalid_request_error", Code: code,
		Message: fmt.Sprintf(format, args...), Param: param}
}

// ---------------------------------------------------------------------------
// HTTP plumbing

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

var (
	secretInURL = regexp.MustCompile(`_secret_[A-Za-z0-9]+`)
	keyInURL    = regexp.MustCompile(`\b([sprk]k_(?:test|live)_)[A-Za-z0-9]+`)
)

// redactURL renders the request target for logs with client secrets and keys cut.
func redactURL(u *url.URL) string {
	s := u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	s = secretInURL.ReplaceAllString(s, "_secret_[redacted]")
	return keyInURL.ReplaceAllString(s, "${1}[redacted]")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"type":"api_error","message":"encoding failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// ---------------------------------------------------------------------------
// Stripe API

func (sb *Sandbox) serveAPI(w http.ResponseWriter, r *http.Request, route *apiRoute) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store")
	version := strings.TrimSpace(r.Header.Get("Stripe-Version"))
	if version == "" {
		h.Set("Stripe-Version", defaultAPIVersion)
	} else {
		h.Set("Stripe-Version", version)
	}
	idemKey := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if idemKey != "" && r.Method == http.MethodPost {
		h.Set("Idempotency-Key", idemKey)
	}

	if route != nil && route.cors && corsForAPI(w, r) {
		return
	}
	// An injected fault (faults.go) may delay, replace or drop the answer.
	f := sb.takeFault(r.Method, r.URL.Path)
	if f != nil {
		f.wait(r.Context())
	}
	// Read the body before taking the lock; build the response under the lock and
	// write it after releasing it, so slow clients never hold up others.
	form, formErr := readForm(r)

	sb.mu.Lock()
	var (
		status   int
		body     []byte
		replayed string
	)
	if f == nil || f.executes() {
		status, body, replayed = sb.apiLocked(route, r, form, formErr, idemKey, version, h.Get("Request-Id"))
	}
	if f != nil {
		status, body = f.answer(status, body)
		if f.Kind != "slow" {
			replayed = ""
		}
	}
	sb.logLocked(r, form, idemKey, version, status, replayed, f)
	sb.mu.Unlock()

	if f != nil && f.Kind == "drop" {
		// Close the connection without an answer; net/http does not log this.
		panic(http.ErrAbortHandler)
	}
	if replayed != "" {
		h.Set("Idempotent-Replayed", "true")
		h.Set("Original-Request", replayed)
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="Stripe"`)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func marshal(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []byte(`{"error":{"type":"api_error","message":"encoding failed"}}` + "\n")
	}
	return append(b, '\n')
}

// apiLocked authenticates, applies idempotency and dispatches. It returns the status,
// the encoded body and, for an idempotent replay, the original request id.
func (sb *Sandbox) apiLocked(route *apiRoute, r *http.Request, form url.Values, formErr *apiError, idemKey, version, requestID string) (int, []byte, string) {
	key, publishable, authErr := checkAPIKey(r)
	if authErr != nil {
		return authErr.status, marshal(authErr.envelope()), ""
	}
	if formErr != nil {
		return formErr.status, marshal(formErr.envelope()), ""
	}

	useIdem := r.Method == http.MethodPost && idemKey != ""
	var scope, fingerprint string
	if useIdem {
		if len(idemKey) > maxIdempotencyLen {
			e := invalid("", "", "Idempotency keys can be at most %d characters long.", maxIdempotencyLen)
			return e.status, marshal(e.envelope()), ""
		}
		sum := sha256.Sum256([]byte(key))
		scope = hex.EncodeToString(sum[:8]) + "\x00" + idemKey
		fingerprint = r.Method + " " + r.URL.Path + "\n" + form.Encode()
		now := sb.now()
		for k, e := range sb.idem {
			if now.After(e.expires) {
				delete(sb.idem, k)
			}
		}
		if prev, ok := sb.idem[scope]; ok {
			if prev.fingerprint != fingerprint {
				e := &apiError{status: http.StatusBadRequest, Type: "idempotency_error",
					Message: fmt.Sprintf("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '%s' if you meant to execute a different request.", idemKey)}
				return e.status, marshal(e.envelope()), ""
			}
			return prev.status, prev.body, prev.requestID
		}
	}

	sb.curRequest = &eventRequest{ID: requestID, IdempotencyKey: idemKey}
	status, v := sb.dispatchLocked(route, r, form, version, publishable)
	sb.curRequest = nil
	body := marshal(v)
	// Like Stripe, only requests that executed are saved: a 2xx, or a card
	// decline (402), here.
	if useIdem && (status < 300 || status == http.StatusPaymentRequired) {
		sb.idem[scope] = &idemEntry{fingerprint: fingerprint, status: status, body: body,
			requestID: requestID, expires: sb.now().Add(idempotencyTTL)}
	}
	return status, body, ""
}

func isKeyChars(s string) bool {
	for _, c := range s {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func maskKey(k string) string {
	if len(k) <= 12 || !isKeyChars(k) {
		return "****"
	}
	return k[:8] + strings.Repeat("*", 8) + k[len(k)-4:]
}

// readForm merges the query string and a form-encoded body.
func readForm(r *http.Request) (url.Values, *apiError) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return url.Values{}, invalid("", "", "Invalid query string: %v", err)
	}
	if r.Body == nil {
		return vals, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil {
		return vals, invalid("", "", "Could not read the request body: %v", err)
	}
	if len(body) > maxFormBytes {
		return vals, invalid("", "", "The request body is too large for the sandbox (limit %d bytes).", maxFormBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return vals, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return vals, invalid("", "", "Invalid request: Stripe expects a form-encoded body (Content-Type: application/x-www-form-urlencoded), got %q.", r.Header.Get("Content-Type"))
	}
	bv, err := url.ParseQuery(string(body))
	if err != nil {
		return vals, invalid("", "", "Invalid form-encoded body: %v", err)
	}
	for k, vs := range bv {
		vals[k] = append(vals[k], vs...)
	}
	return vals, nil
}

func (sb *Sandbox) logLocked(r *http.Request, form url.Values, idemKey, version string, status int, replayed string, f *fault) {
	rec := requestRecord{
		Time:           sb.now().UTC().Format(time.RFC3339Nano),
		Method:         r.Method,
		Path:           r.URL.Path,
		Form:           map[string]any{},
		IdempotencyKey: idemKey,
		StripeVersion:  version,
		Status:         status,
		Replayed:       replayed != "",
	}
	if f != nil {
		rec.Fault, rec.FaultExecuted = f.Kind, f.executes()
	}
	for k, vs := range form {
		if len(vs) == 1 {
			rec.Form[k] = vs[0]
		} else {
			rec.Form[k] = slices.Clone(vs)
		}
	}
	if len(sb.requests) >= maxRequestLog {
		sb.requests = slices.Delete(sb.requests, 0, len(sb.requests)-maxRequestLog+1)
	}
	sb.requests = append(sb.requests, rec)
}

// ---------------------------------------------------------------------------
// Nested form parameters: "a[b][0][c]=v" becomes a tree.

type param struct {
	value    *string
	children map[string]*param
}

func (p *param) child(name string) *param {
	if p == nil || p.children == nil {
		return nil
	}
	return p.children[name]
}

func splitKey(k string) ([]string, bool) {
	i := strings.IndexByte(k, '[')
	if i < 0 {
		return []string{k}, k != "" && !strings.Contains(k, "]")
	}
	segs := []string{k[:i]}
	if segs[0] == "" || strings.Contains(segs[0], "]") {
		return nil, false
	}
	rest := k[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, false
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, false
		}
		seg := rest[1:j]
		if strings.ContainsAny(seg, "[") {
			return nil, false
		}
		segs = append(segs, seg)
		rest = rest[j+1:]
	}
	return segs, true
}

func parseParams(form url.Values) (*param, *apiError) {
	root := &param{children: map[string]*param{}}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		segs, ok := splitKey(k)
		if !ok {
			return nil, invalid(k, "", "Invalid parameter name: %s", k)
		}
		for _, val := range form[k] {
			node := root
			for i, seg := range segs {
				if seg == "" {
					if i != len(segs)-1 {
						return nil, invalid(k, "", "Invalid array: use explicit indexes such as %s[0][...] instead of [] in %s", strings.Join(segs[:i], ""), k)
					}
					seg = strconv.Itoa(len(node.children))
				}
				last := i == len(segs)-1
				c := node.children[seg]
				if c == nil {
					c = &param{}
					node.children[seg] = c
				}
				if last {
					if c.value != nil || c.children != nil {
						return nil, invalid(k, "", "Received duplicate or conflicting values for parameter: %s", k)
					}
					v := val
					c.value = &v
				} else {
					if c.value != nil {
						return nil, invalid(k, "", "Invalid hash: %s is used both as a value and as a hash", k)
					}
					if c.children == nil {
						c.children = map[string]*param{}
					}
				}
				node = c
			}
		}
	}
	return root, nil
}

// checkUnknown rejects children of p whose names are not in allowed.
func checkUnknown(p *param, allowed []string, prefix string) *apiError {
	if p == nil {
		return nil
	}
	names := make([]string, 0, len(p.children))
	for name := range p.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			if prefix == "" {
				return unknownParam(name)
			}
			return unknownParam(prefix + "[" + name + "]")
		}
	}
	return nil
}

// str reads a scalar child. present is false when it is absent.
func str(p *param, name, full string) (val string, present bool, err *apiError) {
	c := p.child(name)
	if c == nil {
		return "", false, nil
	}
	if c.value == nil {
		return "", true, invalid(full, "", "Invalid %s: expected a string, not a hash or array", full)
	}
	return *c.value, true, nil
}

// list returns the elements of an array parameter ordered by index.
func list(p *param, full string) ([]*param, []string, *apiError) {
	if p.value != nil {
		return nil, nil, invalid(full, "", "Invalid array: %s must be an array (e.g. %s[0]=...)", full, full)
	}
	idx := make([]int, 0, len(p.children))
	for k := range p.children {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || strconv.Itoa(n) != k {
			return nil, nil, invalid(full, "", "Invalid array: %s has a non-integer index %q", full, k)
		}
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]*param, len(idx))
	keys := make([]string, len(idx))
	for i, n := range idx {
		keys[i] = strconv.Itoa(n)
		out[i] = p.children[keys[i]]
	}
	return out, keys, nil
}

func parseInt(val, full string, min, max int64) (int64, *apiError) {
	n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
	if err != nil {
		return 0, invalid(full, "parameter_invalid_integer", "Invalid integer: %s", val)
	}
	if n < min {
		return 0, invalid(full, "parameter_invalid_integer", "This value must be greater than or equal to %d.", min)
	}
	if n > max {
		return 0, invalid(full, "parameter_invalid_integer", "This value must be less than or equal to %d.", max)
	}
	return n, nil
}

// expansions reads expand (expand[0]=x, expand[]=x or expand=x) and checks the paths.
func expansions(root *param, allowed ...string) (map[string]bool, *apiError) {
	out := map[string]bool{}
	e := root.child("expand")
	if e == nil {
		return out, nil
	}
	var vals []string
	if e.value != nil {
		if *e.value != "" {
			vals = append(vals, *e.value)
		}
	} else {
		items, keys, err := list(e, "expand")
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			if it.value == nil {
				return nil, invalid("expand["+keys[i]+"]", "", "Invalid expand[%s]: expected a string", keys[i])
			}
			vals = append(vals, *it.value)
		}
	}
	for _, v := range vals {
		if !slices.Contains(allowed, v) {
			return nil, invalid("expand", "", "This property cannot be expanded (%s). The Stripe sandbox can expand: %s.", v, strings.Join(allowed, ", "))
		}
		out[v] = true
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Checkout Sessions

var (
	lineItemParams    = []string{"adjustable_quantity", "dynamic_tax_rates", "price", "price_data", "quantity", "tax_rates"}
	priceDataParams   = []string{"currency", "product", "product_data", "recurring", "tax_behavior", "unit_amount", "unit_amount_decimal"}
	productDataParams = []string{"description", "images", "metadata", "name", "tax_code"}
	currencyRE        = regexp.MustCompile(`^[a-z]{3}$`)
	wholeDecimalRE    = regexp.MustCompile(`^[0-9]+(\.0*)?$`)
)

// uiModes returns the valid ui_mode values for an API version, the default, and the
// value that means embedded Checkout.
func uiModes(version string) (valid []string, def, embedded string) {
	if len(version) >= 10 && version[:10] >= dahliaDate {
		return []string{"hosted_page", "embedded_page", "elements"}, "hosted_page", "embedded_page"
	}
	return []string{"hosted", "embedded", "custom"}, "hosted", "embedded"
}

func oneOf(vals []string) string {
	if len(vals) < 2 {
		return strings.Join(vals, "")
	}
	return strings.Join(vals[:len(vals)-1], ", ") + ", or " + vals[len(vals)-1]
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

func validReturnURL(s string) bool {
	u, err := url.Parse(strings.ReplaceAll(s, "{CHECKOUT_SESSION_ID}", "cs_test_placeholder"))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// embeddedURLs reads redirect_on_completion and return_url for embedded Checkout.
func embeddedURLs(s *session, root *param) *apiError {
	ui := s.UIMode
	for _, name := range []string{"success_url", "cancel_url"} {
		if root.child(name) != nil {
			return invalid(name, "", "%s is not allowed when ui_mode is %s; use return_url instead.", name, ui)
		}
	}
	roc, ok, err := str(root, "redirect_on_completion", "redirect_on_completion")
	if err != nil {
		return err
	}
	if !ok {
		roc = "always"
	}
	if !slices.Contains([]string{"always", "if_required", "never"}, roc) {
		return invalid("redirect_on_completion", "", "Invalid redirect_on_completion: must be one of always, if_required, or never")
	}
	s.RedirectOnCompletion = roc
	ret, ok, err := str(root, "return_url", "return_url")
	switch {
	case err != nil:
		return err
	case roc == "never" && ok:
		return invalid("return_url", "", "return_url cannot be set when redirect_on_completion is never.")
	case roc != "never" && !ok:
		return invalid("return_url", "parameter_missing", "Missing required param: return_url. It is required when ui_mode is %s and redirect_on_completion is %s.", ui, roc)
	case roc != "never" && ret == "":
		return emptyString("return_url")
	case roc != "never" && !validReturnURL(ret):
		return invalid("return_url", "url_invalid", "Not a valid URL: return_url must be an absolute http(s) URL (it may contain {CHECKOUT_SESSION_ID}).")
	}
	if ok {
		s.ReturnURL = &ret
	}
	return nil
}

func (sb *Sandbox) createSessionLocked(root *param, version string) (any, *apiError) {
	v, err := readFields(root, "", sessionFields)
	if err != nil {
		return nil, err
	}
	expand, err := expansions(root, "line_items", "payment_intent", "shipping_cost.shipping_rate")
	if err != nil {
		return nil, err
	}
	now := sb.now()
	s := &session{
		Created:           now.Unix(),
		ExpiresAt:         now.Add(sessionLifetime).Unix(),
		Status:            "open",
		PaymentStatus:     "unpaid",
		Mode:              v["mode"].s,
		Metadata:          map[string]string{},
		CustomerEmail:     v.str("customer_email"),
		ClientReferenceID: v.str("client_reference_id"),
		Locale:            v.str("locale"),
	}
	if s.Mode != "payment" {
		return nil, invalid("mode", "", "The Stripe sandbox simulates only mode=payment (got mode=%s).", s.Mode)
	}
	if md := v["metadata"].md; md != nil {
		s.Metadata = md
	}

	// ui_mode (its values depend on the API version train) and its URLs
	valid, def, embedded := uiModes(version)
	ui, ok, err := str(root, "ui_mode", "ui_mode")
	if err != nil {
		return nil, err
	}
	if !ok {
		ui = def
	}
	if !slices.Contains(valid, ui) {
		return nil, invalid("ui_mode", "", "Invalid ui_mode: must be one of %s (API version %s)", oneOf(valid), versionOrDefault(version))
	}
	s.UIMode = ui
	switch ui {
	case embedded:
		err = embeddedURLs(s, root)
	case def: // hosted Checkout (hosted.go)
		err = sb.hostedURLsLocked(s, root)
	default:
		err = invalid("ui_mode", "", "The Stripe sandbox simulates embedded and hosted Checkout (ui_mode=%s or %s); got ui_mode=%s.", embedded, def, ui)
	}
	if err != nil {
		return nil, err
	}

	// line_items
	if err := sb.lineItemsLocked(s, v["line_items"].p, now); err != nil {
		return nil, err
	}

	// customer, payment_intent_data, payment_method_options, ... (sessionopts.go)
	if err := sb.sessionOptionsLocked(s, v); err != nil {
		return nil, err
	}
	// discounts (promotions.go)
	if err := sb.sessionDiscountsLocked(s, root); err != nil {
		return nil, err
	}
	// shipping, phone, custom fields, tax, texts (goods.go)
	if err := sb.readGoodsLocked(s, v); err != nil {
		return nil, err
	}

	if exp := v["expires_at"]; exp.set {
		switch {
		case exp.n < now.Add(minSessionLifetime).Unix():
			return nil, invalid("expires_at", "", "The expires_at timestamp must be at least 30 minutes from Checkout Session creation.")
		case exp.n > now.Add(sessionLifetime).Unix():
			return nil, invalid("expires_at", "", "The expires_at timestamp must be less than 24 hours from Checkout Session creation.")
		}
		s.ExpiresAt = exp.n
	}

	s.ID = newID("cs_test_", 58)
	s.ClientSecret = s.ID + "_secret_" + randomAlnum(24)
	sb.sessions[s.ID] = s
	sb.secrets[s.ClientSecret] = s
	return s.object(expand), nil
}

// lineItemsLocked reads line_items into s: currency and amounts.
func (sb *Sandbox) lineItemsLocked(s *session, li *param, now time.Time) *apiError {
	if li.value != nil && *li.value == "" {
		return missing("line_items")
	}
	items, keys, err := list(li, "line_items")
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return missing("line_items")
	}
	if len(items) > maxLineItems {
		return invalid("line_items", "", "You may provide at most %d line items in payment mode.", maxLineItems)
	}
	for i, item := range items {
		p := "line_items[" + keys[i] + "]"
		l, err := sb.lineItemLocked(item, p, now)
		if err != nil {
			return err
		}
		if i == 0 {
			s.Currency = l.Currency
		} else if l.Currency != s.Currency {
			return invalid(p, "", "All line items must use the same currency: %s uses %s but line_items[%s] uses %s.", p, l.Currency, keys[0], s.Currency)
		}
		s.AmountSubtotal += l.UnitAmount * l.Quantity
		s.Items = append(s.Items, l)
	}
	if s.AmountSubtotal > maxAmountTotal {
		return invalid("line_items", "amount_too_large", "The total amount due must be no more than %d in the currency's smallest unit.", int64(maxAmountTotal))
	}
	s.price() // goods.go
	return nil
}

func versionOrDefault(v string) string {
	if v == "" {
		return defaultAPIVersion + " (default)"
	}
	return v
}

func (sb *Sandbox) lineItemLocked(item *param, p string, now time.Time) (*lineItem, *apiError) {
	if item.value != nil {
		return nil, invalid(p, "", "Invalid %s: each line item must be a hash (e.g. %s[price_data][currency]=usd)", p, p)
	}
	if err := checkUnknown(item, lineItemParams, p); err != nil {
		return nil, err
	}
	l := &lineItem{ID: newID("li_", 24)}

	q, ok, err := str(item, "quantity", p+"[quantity]")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, missing(p + "[quantity]")
	}
	if l.Quantity, err = parseInt(q, p+"[quantity]", 1, maxQuantity); err != nil {
		return nil, err
	}

	priceNode, dataNode := item.child("price"), item.child("price_data")
	switch {
	case priceNode != nil && dataNode != nil:
		return nil, invalid(p+"[price]", "parameters_exclusive", "You may only specify one of these parameters: %s[price], %s[price_data].", p, p)
	case priceNode == nil && dataNode == nil:
		return nil, invalid(p+"[price_data]", "parameter_missing", "Each line item needs either price or price_data: %s has neither.", p)
	case priceNode != nil:
		id, _, err := str(item, "price", p+"[price]")
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, emptyString(p + "[price]")
		}
		pr := sb.prices[id]
		if pr == nil {
			return nil, invalid(p+"[price]", "resource_missing", "No such price: '%s' (register sandbox prices with POST /_sandbox/prices, or use price_data)", id)
		}
		l.Price, l.Description, l.UnitAmount, l.Currency = pr, pr.Name, pr.UnitAmount, pr.Currency
		return l, nil
	}

	d := p + "[price_data]"
	if dataNode.value != nil {
		return nil, invalid(d, "", "Invalid hash: %s must be given as %s[currency]=..., %s[unit_amount]=...", d, d, d)
	}
	if err := checkUnknown(dataNode, priceDataParams, d); err != nil {
		return nil, err
	}
	if dataNode.child("recurring") != nil {
		return nil, invalid(d+"[recurring]", "", "You specified payment mode but passed a recurring price. Use mode=subscription for recurring prices (not simulated by the sandbox).")
	}
	cur, ok, err := str(dataNode, "currency", d+"[currency]")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, missing(d + "[currency]")
	case cur == "":
		return nil, emptyString(d + "[currency]")
	case !currencyRE.MatchString(strings.ToLower(cur)):
		return nil, invalid(d+"[currency]", "", "Invalid currency: %s. Use a three-letter ISO currency code such as usd.", cur)
	}
	l.Currency = strings.ToLower(cur)

	prodNode, prodData := dataNode.child("product"), dataNode.child("product_data")
	switch {
	case prodNode != nil && prodData != nil:
		return nil, invalid(d+"[product]", "parameters_exclusive", "You may only specify one of these parameters: %s[product], %s[product_data].", d, d)
	case prodNode == nil && prodData == nil:
		return nil, missing(d + "[product_data]")
	case prodNode != nil:
		id, _, err := str(dataNode, "product", d+"[product]")
		if err != nil {
			return nil, err
		}
		name, ok := sb.products[id]
		if !ok {
			return nil, invalid(d+"[product]", "resource_missing", "No such product: '%s'", id)
		}
		l.Price = &price{Product: id}
		l.Description = name
	default:
		pd := d + "[product_data]"
		if prodData.value != nil {
			return nil, invalid(pd, "", "Invalid hash: %s must be given as %s[name]=...", pd, pd)
		}
		if err := checkUnknown(prodData, productDataParams, pd); err != nil {
			return nil, err
		}
		name, ok, err := str(prodData, "name", pd+"[name]")
		switch {
		case err != nil:
			return nil, err
		case !ok:
			return nil, missing(pd + "[name]")
		case strings.TrimSpace(name) == "":
			return nil, emptyString(pd + "[name]")
		}
		l.Price = &price{Product: newID("prod_", 14)}
		l.Description = name
		if l.TaxCode, _, err = str(prodData, "tax_code", pd+"[tax_code]"); err != nil {
			return nil, err
		}
		if img := prodData.child("images"); img != nil {
			imgs, keys, err := list(img, pd+"[images]")
			if err != nil {
				return nil, err
			}
			if len(imgs) > 8 {
				return nil, invalid(pd+"[images]", "", "Invalid %s[images]: at most 8 images.", pd)
			}
			for i, im := range imgs {
				if im.value == nil || !validReturnURL(*im.value) {
					return nil, invalid(pd+"[images]["+keys[i]+"]", "url_invalid", "Not a valid URL: images must be absolute http(s) URLs.")
				}
				l.Images = append(l.Images, *im.value)
			}
		}
	}

	tb, _, err := str(dataNode, "tax_behavior", d+"[tax_behavior]")
	if err != nil {
		return nil, err
	}
	switch tb {
	case "", "exclusive", "inclusive", "unspecified":
		l.TaxBehavior = tb
	default:
		return nil, invalid(d+"[tax_behavior]", "", "Invalid %s[tax_behavior]: must be one of exclusive, inclusive or unspecified", d)
	}
	ua, uaOK, err := str(dataNode, "unit_amount", d+"[unit_amount]")
	if err != nil {
		return nil, err
	}
	uad, uadOK, err := str(dataNode, "unit_amount_decimal", d+"[unit_amount_decimal]")
	if err != nil {
		return nil, err
	}
	switch {
	case uaOK && uadOK:
		return nil, invalid(d+"[unit_amount]", "parameters_exclusive", "You may only specify one of these parameters: %s[unit_amount], %s[unit_amount_decimal].", d, d)
	case uaOK:
		if l.UnitAmount, err = parseInt(ua, d+"[unit_amount]", 0, maxUnitAmount); err != nil {
			return nil, err
		}
	case uadOK:
		if !wholeDecimalRE.MatchString(uad) {
			return nil, invalid(d+"[unit_amount_decimal]", "", "Invalid %s[unit_amount_decimal]: %s (the sandbox accepts only whole amounts in the currency's smallest unit).", d, uad)
		}
		whole, _, _ := strings.Cut(uad, ".")
		if l.UnitAmount, err = parseInt(whole, d+"[unit_amount_decimal]", 0, maxUnitAmount); err != nil {
			return nil, err
		}
	default:
		return nil, missing(d + "[unit_amount]")
	}

	l.Price.ID = newID("price_", 24)
	l.Price.Name = l.Description
	l.Price.UnitAmount = l.UnitAmount
	l.Price.Currency = l.Currency
	l.Price.Created = now.Unix()
	l.Price.Active = false // Stripe creates inline prices as inactive
	return l, nil
}

// refreshLocked expires an open session whose expires_at has passed.
func (sb *Sandbox) refreshLocked(s *session) {
	if s.Status == "open" && sb.now().Unix() >= s.ExpiresAt {
		sb.expireLocked(s)
	}
}

// expireLocked expires an open session: a PaymentIntent left by a failed
// attempt is canceled, and checkout.session.expired is emitted.
func (sb *Sandbox) expireLocked(s *session) {
	s.Status = "expired"
	s.expireGoodsLocked()
	if pi := s.PaymentIntent; pi != nil && (pi.Status == "requires_payment_method" || pi.Status == "requires_action") {
		sb.cancelIntentLocked(pi, "automatic")
	}
	sb.emitLocked("checkout.session.expired", s.ID, s.object(nil))
}

// ExpireDue expires every open session whose expires_at has passed (main runs
// it every second, so checkout.session.expired is sent without anyone asking).
func (sb *Sandbox) ExpireDue() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	for _, s := range sb.sessions {
		sb.refreshLocked(s)
	}
}

func (sb *Sandbox) sessionLocked(id string) (*session, *apiError) {
	s := sb.sessions[id]
	if s == nil {
		return nil, noSuchSession(id)
	}
	sb.refreshLocked(s)
	return s, nil
}

// sessionAndExpandLocked finds a session for a request whose only parameter
// may be expand[] (retrieve, expire), and reads which fields to expand.
func (sb *Sandbox) sessionAndExpandLocked(id string, root *param) (*session, map[string]bool, *apiError) {
	s, err := sb.sessionLocked(id)
	if err != nil {
		return nil, nil, err
	}
	if err := checkUnknown(root, []string{"expand"}, ""); err != nil {
		return nil, nil, err
	}
	expand, err := expansions(root, "line_items", "payment_intent", "shipping_cost.shipping_rate")
	if err != nil {
		return nil, nil, err
	}
	return s, expand, nil
}

func (sb *Sandbox) retrieveSessionLocked(id string, root *param) (any, *apiError) {
	s, expand, err := sb.sessionAndExpandLocked(id, root)
	if err != nil {
		return nil, err
	}
	return s.object(expand), nil
}

func (sb *Sandbox) expireSessionLocked(id string, root *param) (any, *apiError) {
	s, expand, err := sb.sessionAndExpandLocked(id, root)
	if err != nil {
		return nil, err
	}
	if s.Status != "open" {
		return nil, invalid("", "", "Only Checkout Sessions with a status in [\"open\"] can be expired; %s is %s.", s.ID, s.Status)
	}
	sb.expireLocked(s)
	return s.object(expand), nil
}

func (sb *Sandbox) listLineItemsLocked(id string, root *param) (any, *apiError) {
	s, err := sb.sessionLocked(id)
	if err != nil {
		return nil, err
	}
	if err := checkUnknown(root, []string{"ending_before", "expand", "limit", "starting_after"}, ""); err != nil {
		return nil, err
	}
	if _, err := expansions(root); err != nil {
		return nil, err
	}
	limit := int64(defaultListLimit)
	if v, ok, err := str(root, "limit", "limit"); err != nil {
		return nil, err
	} else if ok {
		if limit, err = parseInt(v, "limit", 1, 100); err != nil {
			return nil, err
		}
	}
	after, hasAfter, err := str(root, "starting_after", "starting_after")
	if err != nil {
		return nil, err
	}
	before, hasBefore, err := str(root, "ending_before", "ending_before")
	if err != nil {
		return nil, err
	}
	if hasAfter && hasBefore {
		return nil, invalid("starting_after", "", "You may only specify one of these parameters: starting_after, ending_before.")
	}
	find := func(liID, name string) (int, *apiError) {
		for i, l := range s.Items {
			if l.ID == liID {
				return i, nil
			}
		}
		return 0, invalid(name, "resource_missing", "No such line item: '%s'", liID)
	}
	items := s.Items
	switch {
	case hasAfter:
		i, err := find(after, "starting_after")
		if err != nil {
			return nil, err
		}
		items = items[i+1:]
	case hasBefore:
		i, err := find(before, "ending_before")
		if err != nil {
			return nil, err
		}
		items = items[max(0, i-int(limit)):i]
		return s.lineItemList(items, i-len(items) > 0), nil
	}
	more := int64(len(items)) > limit
	if more {
		items = items[:limit]
	}
	return s.lineItemList(items, more), nil
}

// ---------------------------------------------------------------------------
// JSON shapes (a faithful subset of Stripe's objects)

type sessionObject struct {
	ID                        string            `json:"id"`
	Object                    string            `json:"object"`
	AfterExpiration           any               `json:"after_expiration"`
	CollectedInformation      any               `json:"collected_information"`
	Consent                   any               `json:"consent"`
	ConsentCollection         any               `json:"consent_collection"`
	CustomText                any               `json:"custom_text"`
	PhoneNumberCollection     any               `json:"phone_number_collection"`
	RecoveredFrom             any               `json:"recovered_from"`
	ShippingAddressCollection any               `json:"shipping_address_collection"`
	ShippingCost              any               `json:"shipping_cost"`
	TaxIDCollection           any               `json:"tax_id_collection"`
	AllowPromotionCodes       any               `json:"allow_promotion_codes"`
	AmountSubtotal            int64             `json:"amount_subtotal"`
	AmountTotal               int64             `json:"amount_total"`
	AutomaticTax              map[string]any    `json:"automatic_tax"`
	BillingAddressCollection  any               `json:"billing_address_collection"`
	CancelURL                 any               `json:"cancel_url"`
	ClientReferenceID         *string           `json:"client_reference_id"`
	ClientSecret              any               `json:"client_secret"` // null for hosted Checkout
	Created                   int64             `json:"created"`
	Currency                  string            `json:"currency"`
	CustomFields              []any             `json:"custom_fields"`
	Customer                  any               `json:"customer"`
	CustomerCreation          string            `json:"customer_creation"`
	CustomerDetails           map[string]any    `json:"customer_details"`
	CustomerEmail             *string           `json:"customer_email"`
	Discounts                 []any             `json:"discounts"`
	ExpiresAt                 int64             `json:"expires_at"`
	Invoice                   any               `json:"invoice"`
	LineItems                 *listObject       `json:"line_items,omitempty"`
	Livemode                  bool              `json:"livemode"`
	Locale                    *string           `json:"locale"`
	Metadata                  map[string]string `json:"metadata"`
	Mode                      string            `json:"mode"`
	PaymentIntent             any               `json:"payment_intent"`
	PaymentLink               any               `json:"payment_link"`
	PaymentMethodCollection   string            `json:"payment_method_collection"`
	PaymentMethodOptions      any               `json:"payment_method_options"`
	PaymentMethodTypes        []string          `json:"payment_method_types"`
	PaymentStatus             string            `json:"payment_status"`
	RedirectOnCompletion      string            `json:"redirect_on_completion"`
	ReturnURL                 *string           `json:"return_url"`
	SavedPaymentMethodOptions any               `json:"saved_payment_method_options"`
	SetupIntent               any               `json:"setup_intent"`
	ShippingOptions           []any             `json:"shipping_options"`
	Status                    string            `json:"status"`
	SubmitType                any               `json:"submit_type"`
	Subscription              any               `json:"subscription"`
	SuccessURL                any               `json:"success_url"`
	TotalDetails              map[string]int64  `json:"total_details"`
	UIMode                    string            `json:"ui_mode"`
	URL                       any               `json:"url"`
}

type listObject struct {
	Object  string `json:"object"`
	Data    []any  `json:"data"`
	HasMore bool   `json:"has_more"`
	URL     string `json:"url"`
}

func (s *session) object(expand map[string]bool) *sessionObject {
	o := &sessionObject{
		ID:                      s.ID,
		Object:                  "checkout.session",
		AmountSubtotal:          s.AmountSubtotal,
		AmountTotal:             s.AmountTotal,
		AutomaticTax:            map[string]any{"enabled": false, "liability": nil, "status": nil},
		ClientReferenceID:       s.ClientReferenceID,
		ClientSecret:            s.ClientSecret,
		Created:                 s.Created,
		Currency:                s.Currency,
		CustomFields:            []any{},
		CustomerCreation:        "if_required",
		CustomerEmail:           s.CustomerEmail,
		Discounts:               []any{},
		ExpiresAt:               s.ExpiresAt,
		Locale:                  s.Locale,
		Metadata:                s.Metadata,
		Mode:                    s.Mode,
		PaymentMethodCollection: "if_required",
		PaymentMethodTypes:      []string{"card"},
		PaymentStatus:           s.PaymentStatus,
		RedirectOnCompletion:    s.RedirectOnCompletion,
		ReturnURL:               s.ReturnURL,
		ShippingOptions:         []any{},
		Status:                  s.Status,
		TotalDetails:            map[string]int64{"amount_discount": s.AmountDiscount, "amount_shipping": 0, "amount_tax": 0},
		UIMode:                  s.UIMode,
	}
	if s.hosted() { // hosted Checkout: no client secret; success/cancel URLs; the page while open
		o.ClientSecret, o.SuccessURL, o.CancelURL = nil, s.SuccessURL, s.CancelURL
		if s.Status == "open" {
			o.URL = s.URL
		}
	}
	if s.Customer != nil {
		o.Customer = *s.Customer
	}
	if s.CustomerCreation != "" {
		o.CustomerCreation = s.CustomerCreation
	}
	if s.AllowPromotionCodes != nil {
		o.AllowPromotionCodes = *s.AllowPromotionCodes
	}
	if s.Discount != nil {
		o.Discounts = []any{s.Discount}
	}
	o.PaymentMethodOptions, o.SavedPaymentMethodOptions = s.optionsObject()
	s.goodsObject(o, expand) // goods.go
	if s.PaidEmail != "" {
		o.CustomerDetails = map[string]any{"address": nil, "email": s.PaidEmail, "name": nil,
			"phone": nil, "tax_exempt": "none", "tax_ids": []any{}}
		s.customerDetailsGoods(o.CustomerDetails)
	}
	if pi := s.PaymentIntent; pi != nil {
		if expand["payment_intent"] {
			o.PaymentIntent = pi.object(nil)
		} else {
			o.PaymentIntent = pi.ID
		}
	}
	if expand["line_items"] {
		items := s.Items
		more := len(items) > defaultListLimit
		if more {
			items = items[:defaultListLimit]
		}
		o.LineItems = s.lineItemList(items, more)
	}
	return o
}

func (s *session) lineItemList(items []*lineItem, more bool) *listObject {
	data := make([]any, 0, len(items))
	for _, l := range items {
		amount := l.UnitAmount * l.Quantity
		total := amount - l.Discount
		if !l.TaxIncluded {
			total += l.Tax
		}
		data = append(data, map[string]any{
			"id":              l.ID,
			"object":          "item",
			"amount_discount": l.Discount,
			"amount_subtotal": amount,
			"amount_tax":      l.Tax,
			"amount_total":    total,
			"currency":        l.Currency,
			"description":     l.Description,
			"price":           l.Price.object(),
			"quantity":        l.Quantity,
		})
	}
	return &listObject{Object: "list", Data: data, HasMore: more,
		URL: "/v1/checkout/sessions/" + s.ID + "/line_items"}
}

func (p *price) object() map[string]any {
	return map[string]any{
		"id":                  p.ID,
		"object":              "price",
		"active":              p.Active,
		"billing_scheme":      "per_unit",
		"created":             p.Created,
		"currency":            p.Currency,
		"livemode":            false,
		"lookup_key":          nil,
		"metadata":            map[string]string{},
		"nickname":            nil,
		"product":             p.Product,
		"recurring":           nil,
		"tax_behavior":        "unspecified",
		"tiers_mode":          nil,
		"transform_quantity":  nil,
		"type":                "one_time",
		"unit_amount":         p.UnitAmount,
		"unit_amount_decimal": strconv.FormatInt(p.UnitAmount, 10),
	}
}

// ---------------------------------------------------------------------------
// Stand-in and development endpoints

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
}

func preflight(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodOptions {
		return false
	}
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		w.Header().Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (sb *Sandbox) serveStandin(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setCORS(h)
	if preflight(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD, OPTIONS")
		return
	}
	h.Set("Content-Type", "application/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Content-Length", strconv.Itoa(len(standinJS)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(standinJS)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, devError(http.StatusMethodNotAllowed, "method_not_allowed", "",
		"Method not allowed; use %s.", allow).envelope())
}

func (sb *Sandbox) devReset(w http.ResponseWriter, r *http.Request) {
	sb.mu.Lock()
	sb.resetLocked()
	sb.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// devSession serves a session object, line items expanded, without auth.
func (sb *Sandbox) devSession(w http.ResponseWriter, r *http.Request, id string) {
	sb.mu.Lock()
	s, err := sb.sessionLocked(id)
	var obj any
	if err == nil {
		obj = s.object(map[string]bool{"line_items": true, "payment_intent": false})
	}
	sb.mu.Unlock()
	if err != nil {
		writeJSON(w, err.status, err.envelope())
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// devExpire expires a session without auth.
func (sb *Sandbox) devExpire(w http.ResponseWriter, r *http.Request, id string) {
	sb.mu.Lock()
	obj, err := sb.expireSessionLocked(id, &param{})
	sb.mu.Unlock()
	if err != nil {
		writeJSON(w, err.status, err.envelope())
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// devRequests serves the request log, optionally only the requests with a
// method, a path prefix, or a time at or after since (RFC 3339).
func (sb *Sandbox) devRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			e := devError(http.StatusBadRequest, "parameter_invalid", "since", "since must be an RFC 3339 time such as 2026-11-22T12:00:00Z.")
			writeJSON(w, e.status, e.envelope())
			return
		}
		since = t
	}
	method, prefix := strings.ToUpper(q.Get("method")), q.Get("path_prefix")
	sb.mu.Lock()
	reqs := []requestRecord{}
	for _, rec := range sb.requests {
		if method != "" && rec.Method != method || prefix != "" && !strings.HasPrefix(rec.Path, prefix) {
			continue
		}
		if !since.IsZero() {
			if t, err := time.Parse(time.RFC3339Nano, rec.Time); err == nil && t.Before(since) {
				continue
			}
		}
		reqs = append(reqs, rec)
	}
	sb.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"requests": reqs})
}

type checkoutSummary struct {
	ID             string        `json:"id"`
	Status         string        `json:"status"`
	PaymentStatus  string        `json:"payment_status"`
	AmountSubtotal int64         `json:"amount_subtotal"`
	AmountTotal    int64         `json:"amount_total"`
	Currency       string        `json:"currency"`
	CustomerEmail  *string       `json:"customer_email"`
	LineItems      []summaryItem `json:"line_items"`
	ReturnURL      *string       `json:"return_url"`
	ExpiresAt      int64         `json:"expires_at"`
	Livemode       bool          `json:"livemode"`
	Locale         *string       `json:"locale"`
	// SavePaymentMethod: the form offers "Save card" (payment_method_save enabled).
	SavePaymentMethod bool           `json:"save_payment_method"`
	Sandbox           map[string]any `json:"sandbox"`
	// Goods: what the form asks besides the card (goods.go).
	Goods map[string]any `json:"goods"`
}

type summaryItem struct {
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
	AmountTotal int64  `json:"amount_total"`
}

func (sb *Sandbox) devCheckout(w http.ResponseWriter, r *http.Request) {
	secret := r.URL.Query().Get("client_secret")
	if secret == "" {
		e := devError(http.StatusBadRequest, "parameter_missing", "client_secret", "Missing required query parameter: client_secret.")
		writeJSON(w, e.status, e.envelope())
		return
	}
	sb.mu.Lock()
	s := sb.secrets[secret]
	var sum checkoutSummary
	if s != nil {
		sb.refreshLocked(s)
		sum = checkoutSummary{ID: s.ID, Status: s.Status, PaymentStatus: s.PaymentStatus,
			AmountSubtotal: s.AmountSubtotal, AmountTotal: s.AmountTotal, Currency: s.Currency,
			CustomerEmail: s.CustomerEmail, ReturnURL: s.ReturnURL, ExpiresAt: s.ExpiresAt,
			Locale: s.Locale, LineItems: []summaryItem{},
			SavePaymentMethod: s.SavedPM != nil && s.SavedPM.Save != nil && *s.SavedPM.Save == "enabled",
			Sandbox:           map[string]any{"test_cards": testCardHints}, Goods: s.standinGoods()}
		if s.Customer != nil && sb.customers[*s.Customer] != nil {
			sum.CustomerEmail = sb.customers[*s.Customer].Email
		}
		for _, l := range s.Items {
			sum.LineItems = append(sum.LineItems, summaryItem{Description: l.Description, Quantity: l.Quantity,
				UnitAmount: l.UnitAmount, AmountTotal: l.UnitAmount * l.Quantity})
		}
	}
	sb.mu.Unlock()
	if s == nil {
		e := devError(http.StatusNotFound, "resource_missing", "client_secret", "No Checkout Session in the sandbox has this client_secret (was the sandbox reset or restarted?).")
		writeJSON(w, e.status, e.envelope())
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

// decline describes a Stripe test card that fails.
type decline struct {
	code, declineCode, message string
}

// Test card numbers from Stripe's testing documentation that fail; every other
// number that passes the Luhn check succeeds.
var declines = map[string]decline{
	"4000000000000002": {"card_declined", "generic_decline", "Your card was declined."},
	"4000000000009995": {"card_declined", "insufficient_funds", "Your card has insufficient funds."},
	"4000000000009987": {"card_declined", "lost_card", "Your card was declined."},
	"4000000000009979": {"card_declined", "stolen_card", "Your card was declined."},
	"4100000000000019": {"card_declined", "fraudulent", "Your card was declined."}, // Radar blocks it
	"4000000000000069": {"expired_card", "expired_card", "Your card has expired."},
	"4000000000000127": {"incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."},
	"4000000000000119": {"processing_error", "processing_error", "An error occurred while processing your card. Try again in a little bit."},
}

var testCardHints = []map[string]string{
	{"number": "4242 4242 4242 4242", "outcome": "succeeds"},
	{"number": "4000 0000 0000 0002", "outcome": "declined (card_declined)"},
	{"number": "4000 0000 0000 9995", "outcome": "declined (insufficient_funds)"},
	{"number": "4100 0000 0000 0019", "outcome": "declined (fraudulent)"},
}

type priceRequest struct {
	ID          string `json:"id"`
	ProductName string `json:"product_name"`
	UnitAmount  *int64 `json:"unit_amount"`
	Currency    string `json:"currency"`
}

func (sb *Sandbox) devCreatePrice(w http.ResponseWriter, r *http.Request) {
	var req priceRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJSONBytes)).Decode(&req); err != nil {
		e := devError(http.StatusBadRequest, "invalid_json", "", "The body must be a JSON object {\"id\"?,\"product_name\",\"unit_amount\",\"currency\"}: %v", err)
		writeJSON(w, e.status, e.envelope())
		return
	}
	var e *apiError
	cur := strings.ToLower(req.Currency)
	switch {
	case req.ID != "" && (!strings.HasPrefix(req.ID, "price_") || !isKeyChars(req.ID)):
		e = devError(http.StatusBadRequest, "parameter_invalid", "id", "A price id must look like price_ followed by letters, digits or underscores.")
	case strings.TrimSpace(req.ProductName) == "":
		e = devError(http.StatusBadRequest, "parameter_missing", "product_name", "Missing required field: product_name.")
	case req.UnitAmount == nil:
		e = devError(http.StatusBadRequest, "parameter_missing", "unit_amount", "Missing required field: unit_amount.")
	case *req.UnitAmount < 0 || *req.UnitAmount > maxUnitAmount:
		e = devError(http.StatusBadRequest, "parameter_invalid_integer", "unit_amount", "unit_amount must be between 0 and %d.", maxUnitAmount)
	case !currencyRE.MatchString(cur):
		e = devError(http.StatusBadRequest, "parameter_invalid", "currency", "currency must be a three-letter ISO code such as usd.")
	}
	if e != nil {
		writeJSON(w, e.status, e.envelope())
		return
	}
	sb.mu.Lock()
	p := &price{ID: req.ID, Product: newID("prod_", 14), Name: req.ProductName, UnitAmount: *req.UnitAmount,
		Currency: cur, Created: sb.now().Unix(), Active: true}
	if p.ID == "" {
		p.ID = newID("price_", 24)
	}
	sb.prices[p.ID] = p
	sb.products[p.Product] = p.Name
	obj := p.object()
	sb.mu.Unlock()
	writeJSON(w, http.StatusOK, obj)
}

// ---------------------------------------------------------------------------
// Ids

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomAlnum returns n uniformly random alphanumerics from crypto/rand.
func randomAlnum(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2+8)
	i := 0
	for i < n {
		if _, err := rand.Read(buf); err != nil {
			panic(errors.Join(errors.New("sandbox: crypto/rand failed"), err))
		}
		for _, b := range buf {
			// 248 = 4*62: reject the top bytes so every character is equally likely.
			if b < 248 && i < n {
				out[i] = alnum[int(b)%len(alnum)]
				i++
			}
		}
	}
	return string(out)
}

func newID(prefix string, n int) string { return prefix + randomAlnum(n) }
