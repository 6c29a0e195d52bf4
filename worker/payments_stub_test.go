package worker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// stubStripe answers Stripe API calls from a table ("METHOD /path" → answer)
// and records each call with its form, query and idempotency key.
type stubStripe struct {
	mu      sync.Mutex
	calls   []stubCall
	answers map[string]stubAnswer
}

type stubCall struct {
	Method, Path string
	Form         url.Values // POST body
	Query        url.Values // GET query
	Idem         string     // Idempotency-Key header
}

type stubAnswer struct {
	Status int
	Body   string
}

const (
	stubSession  = `{"id":"cs_test_abc","object":"checkout.session","client_secret":"cs_test_abc_secret_xyz","url":"https://checkout.stripe.com/c/pay/cs_test_abc","status":"open","payment_status":"unpaid"}`
	stubIntentOK = `{"id":"pi_123","object":"payment_intent","amount":4000,"amount_capturable":0,"amount_received":4000,"currency":"usd","status":"succeeded","client_secret":"pi_123_secret_abc","capture_method":"automatic","metadata":{"kit_order":"ord_1"},"next_action":null,"customer":null,"latest_charge":"ch_1"}`
	stubDecline  = `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_declined","object":"payment_intent","status":"requires_payment_method"}}}`
)

func (f *stubStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.calls = append(f.calls, stubCall{Method: r.Method, Path: r.URL.Path, Form: form, Query: r.URL.Query(), Idem: r.Header.Get("Idempotency-Key")})
	ans, ok := f.answers[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_stub1")
	if !ok {
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/checkout/sessions":
			ans = stubAnswer{200, stubSession}
		case r.Method == "POST" && r.URL.Path == "/v1/payment_intents":
			ans = stubAnswer{200, stubIntentOK}
		case r.Method == "POST" && r.URL.Path == "/v1/customers":
			ans = stubAnswer{200, `{"id":"cus_new1","object":"customer","email":"` + form.Get("email") + `"}`}
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/"):
			ans = stubAnswer{200, stubToken(strings.TrimPrefix(r.URL.Path, "/v1/confirmation_tokens/"), "visa", "credit", "US", "null")}
		default:
			ans = stubAnswer{404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such object"}}`}
		}
	}
	if ans.Status == 0 {
		ans.Status = 200
	}
	w.WriteHeader(ans.Status)
	io.WriteString(w, ans.Body)
}

func (f *stubStripe) Calls() []stubCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stubCall(nil), f.calls...)
}

// Creates are the calls that may create or change something at Stripe
// (all but GETs).
func (f *stubStripe) Creates() []stubCall {
	var out []stubCall
	for _, c := range f.Calls() {
		if c.Method != "GET" {
			out = append(out, c)
		}
	}
	return out
}

func (f *stubStripe) set(key string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[key] = stubAnswer{status, body}
}

// testAdminToken is a made-up operator token for tests.
const testAdminToken = "test-admin-token-0123456789-abcdefgh"

// testCustomerSecret signs customer tokens in tests.
const testCustomerSecret = "test-customer-secret-0123456789-abcd"

// newStubServer returns the worker pointed at a stubStripe, with the operator
// API and customer tokens on.
func newStubServer(t *testing.T, env map[string]string) (*Server, *stubStripe) {
	t.Helper()
	stub := &stubStripe{answers: map[string]stubAnswer{}}
	ts := httptest.NewServer(stub)
	t.Cleanup(ts.Close)
	full := map[string]string{"ADMIN_TOKEN": testAdminToken, "CUSTOMER_TOKEN_SECRET": testCustomerSecret}
	for k, v := range env {
		full[k] = v
	}
	full["STRIPE_API_BASE"] = ts.URL
	return NewServer(testConfig(t, full), Deps{Transport: ts.Client().Transport}), stub
}

// send makes a request with headers and returns the recorder.
func send(t *testing.T, h http.Handler, method, target string, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func postJSON(t *testing.T, h http.Handler, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	return send(t, h, "POST", target, map[string]string{"Content-Type": "application/json"}, body)
}

func adminCall(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	hdr := map[string]string{"Authorization": "Bearer " + testAdminToken}
	if body != "" {
		hdr["Content-Type"] = "application/json"
	}
	return send(t, h, method, target, hdr, body)
}

// testCatalog has one product of each kind.
const testCatalog = `{
  "shop": {"allow_promotion_codes": true, "max_order_amount": {"usd": 10000},
           "refused_email_domains": ["blocked.example"], "refused_countries": ["AQ"]},
  "products": [
    {"id": "plain", "name": "Plain", "unit_amount": 1000, "currency": "usd", "max_quantity": 9},
    {"id": "limited", "name": "Limited", "unit_amount": 500, "currency": "usd", "max_quantity": 5, "stock": 3},
    {"id": "rental", "name": "Rental", "unit_amount": 2000, "currency": "usd", "max_quantity": 3, "capture": "manual", "incremental_authorization": true},
    {"id": "member", "name": "Membership", "unit_amount": 1500, "currency": "usd", "save_payment_method": true},
    {"id": "euro", "name": "Euro thing", "unit_amount": 700, "currency": "eur"}
  ]
}`

// stubToken is a ConfirmationToken as Stripe answers it: unexpired, test
// mode, a card of brand, funding and country; shipping is null or a
// shipping object.
func stubToken(id, brand, funding, country, shipping string) string {
	return `{"id":"` + id + `","object":"confirmation_token","created":1700000000,"expires_at":4102444800,"livemode":false,"payment_intent":null,"setup_intent":null,` +
		`"payment_method_preview":{"type":"card","billing_details":{"email":null,"address":{"country":null}},"card":{"brand":"` + brand + `","funding":"` + funding + `","country":"` + country + `","wallet":null}},` +
		`"setup_future_usage":null,"shipping":` + shipping + `}`
}
