package worker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeStripe records every call and answers with canned Checkout Sessions.
type fakeStripe struct {
	mu    sync.Mutex
	calls []fakeCall
	// status, when set, is returned with a Stripe error body instead.
	status int
	code   string
}

type fakeCall struct {
	Method, Path string
	Form         url.Values
	Auth         string
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: r.URL.Path, Form: form, Auth: r.Header.Get("Authorization")})
	status, code := f.status, f.code
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake123")
	if status != 0 {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": code, "message": "secret detail sk_test_should_not_leak"}})
		return
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/checkout/sessions":
		io.WriteString(w, `{"id":"cs_test_abc","object":"checkout.session","client_secret":"cs_test_abc_secret_xyz","status":"open","payment_status":"unpaid"}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/"):
		io.WriteString(w, stubToken(strings.TrimPrefix(r.URL.Path, "/v1/confirmation_tokens/"), "visa", "credit", "US", "null"))
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/checkout/sessions/"):
		io.WriteString(w, `{"id":"`+strings.TrimPrefix(r.URL.Path, "/v1/checkout/sessions/")+`","object":"checkout.session","status":"complete","payment_status":"paid","customer_email":null,"customer_details":{"email":"jenny@example.com"}}`)
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"no such route"}}`)
	}
}

func (f *fakeStripe) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func testConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	base := map[string]string{"STRIPE_SECRET_KEY": "sk_test_unit", "STRIPE_PUBLISHABLE_KEY": "pk_test_unit"}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return base[k] })
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	return cfg
}

// newTestServer returns the worker pointed at a fake Stripe.
func newTestServer(t *testing.T, env map[string]string) (*Server, *fakeStripe) {
	t.Helper()
	fake := &fakeStripe{}
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	if env == nil {
		env = map[string]string{}
	}
	env["STRIPE_API_BASE"] = ts.URL
	return NewServer(testConfig(t, env), Deps{Transport: ts.Client().Transport}), fake
}

func do(t *testing.T, h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type errorBody struct {
	Error struct {
		Code, Message, Param string
		RequestID            string `json:"request_id"`
	}
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var eb errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, rec.Body)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("error body lacks code or message: %s", rec.Body)
	}
	return eb
}

func TestCreateCheckoutSessionPricesFromCatalog(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	rec := do(t, srv, "POST", "http://shop.example/create-checkout-session", "application/json",
		`{"items":[{"id":"mug","quantity":3},{"id":"stickers","quantity":1}]}`)
	if rec.Code != 200 {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
	var got struct{ ClientSecret string }
	json.Unmarshal(rec.Body.Bytes(), &got)
	if got.ClientSecret != "cs_test_abc_secret_xyz" {
		t.Fatalf("clientSecret = %q", got.ClientSecret)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("Stripe calls = %d, want 1", len(calls))
	}
	f := calls[0].Form
	want := map[string]string{
		"mode":                                   "payment",
		"ui_mode":                                "embedded",
		"return_url":                             "http://shop.example/return.html?session_id={CHECKOUT_SESSION_ID}",
		"line_items[0][quantity]":                "3",
		"line_items[0][price_data][unit_amount]": "1200",
		"line_items[0][price_data][currency]":    "usd",
		"line_items[0][price_data][product_data][name]": "Enamel mug",
		"line_items[1][quantity]":                       "1",
		"line_items[1][price_data][unit_amount]":        "500",
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, f.Get(k), v)
		}
	}
	if calls[0].Auth != "Bearer sk_test_unit" {
		t.Errorf("Authorization = %q", calls[0].Auth)
	}
}

func TestCreateCheckoutSessionEmptyBodyBuysDefault(t *testing.T) {
	srv, fake := newTestServer(t, map[string]string{"DEFAULT_ITEM": "mug", "PUBLIC_URL": "https://www.example.com/"})
	for _, ct := range []string{"", "application/json", "text/plain"} {
		rec := do(t, srv, "POST", "/create-checkout-session", ct, "")
		if rec.Code != 200 {
			t.Fatalf("Content-Type %q: status = %d: %s", ct, rec.Code, rec.Body)
		}
	}
	calls := fake.Calls()
	if len(calls) != 3 {
		t.Fatalf("calls = %d, want 3", len(calls))
	}
	f := calls[0].Form
	if f.Get("line_items[0][price_data][product_data][name]") != "Enamel mug" || f.Get("line_items[0][quantity]") != "1" {
		t.Errorf("default item not bought: %v", f)
	}
	if got := f.Get("return_url"); got != "https://www.example.com/return.html?session_id={CHECKOUT_SESSION_ID}" {
		t.Errorf("return_url = %q", got)
	}
}

func TestCreateCheckoutSessionUsesPriceID(t *testing.T) {
	cat := `{"products":[{"id":"pro","name":"Pro","unit_amount":900,"currency":"eur","price":"price_123"}]}`
	srv, fake := newTestServer(t, map[string]string{"CATALOG_JSON": cat})
	rec := do(t, srv, "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"pro","quantity":2}]}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	f := fake.Calls()[0].Form
	if f.Get("line_items[0][price]") != "price_123" || f.Get("line_items[0][price_data][unit_amount]") != "" {
		t.Errorf("want price id and no price_data, got %v", f)
	}
}

func TestBadRequestsMakeNoStripeCall(t *testing.T) {
	mixed := `{"products":[{"id":"a","name":"A","unit_amount":100,"currency":"usd"},{"id":"b","name":"B","unit_amount":100,"currency":"eur"}]}`
	cases := []struct {
		name, method, target, ct, body string
		env                            map[string]string
		status                         int
		code, param                    string
	}{
		{"malformed json", "POST", "/create-checkout-session", "application/json", `{"items":[`, nil, 400, "invalid_json", ""},
		{"syntax error", "POST", "/create-checkout-session", "application/json", `{"items":}`, nil, 400, "invalid_json", ""},
		{"two values", "POST", "/create-checkout-session", "application/json", `{} {}`, nil, 400, "invalid_json", ""},
		{"a closing bracket after the value", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"tshirt"}]}]`, nil, 400, "invalid_json", ""},
		{"a brace after the value", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"tshirt"}]} }`, nil, 400, "invalid_json", ""},
		{"a letter after the value", "POST", "/create-checkout-session", "application/json", "{\"items\":[{\"id\":\"tshirt\"}]}\n\tx", nil, 400, "invalid_json", ""},
		{"a NUL after the value", "POST", "/create-checkout-session", "application/json", "{\"items\":[{\"id\":\"tshirt\"}]}\x00", nil, 400, "invalid_json", ""},
		{"wrong content type", "POST", "/create-checkout-session", "text/plain", `{"items":[]}`, nil, 415, "unsupported_media_type", ""},
		{"form with unknown item", "POST", "/create-checkout-session", "application/x-www-form-urlencoded", `items=1`, nil, 400, "unknown_product", "items[0].id"},
		{"multipart form", "POST", "/create-checkout-session", "multipart/form-data; boundary=x", "--x--", nil, 415, "unsupported_media_type", ""},
		{"no content type", "POST", "/create-checkout-session", "", `{"items":[]}`, nil, 415, "unsupported_media_type", ""},
		{"unknown field", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":1}],"amount":1}`, nil, 400, "unknown_field", "amount"},
		{"price in item", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":1,"unit_amount":1}]}`, nil, 400, "unknown_field", "unit_amount"},
		{"items not a list", "POST", "/create-checkout-session", "application/json", `{"items":{"id":"mug"}}`, nil, 400, "invalid_field_type", "items"},
		{"missing items", "POST", "/create-checkout-session", "application/json", `{}`, nil, 400, "missing_items", "items"},
		{"empty items", "POST", "/create-checkout-session", "application/json", `{"items":[]}`, nil, 400, "empty_cart", "items"},
		{"unknown product", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"yacht","quantity":1}]}`, nil, 400, "unknown_product", "items[0].id"},
		{"missing id", "POST", "/create-checkout-session", "application/json", `{"items":[{"quantity":1}]}`, nil, 400, "missing_id", "items[0].id"},
		{"quantity zero", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":0}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"quantity negative", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":-2}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"quantity over max", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":6}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"quantity huge", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":99999999999999999999999}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"quantity fractional", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":1.5}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"quantity exponent", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":1e3}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"quantity string", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":"2"}]}`, nil, 400, "invalid_quantity", "items[0].quantity"},
		{"duplicate product", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"mug","quantity":1},{"id":"mug","quantity":1}]}`, nil, 400, "duplicate_product", "items[1].id"},
		{"mixed currencies", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"a","quantity":1},{"id":"b","quantity":1}]}`, map[string]string{"CATALOG_JSON": mixed}, 400, "mixed_currencies", "items[1].id"},
		{"too many lines", "POST", "/create-checkout-session", "application/json", `{"items":[` + strings.Repeat(`{"id":"mug","quantity":1},`, 20) + `{"id":"mug","quantity":1}]}`, nil, 400, "too_many_items", "items"},
		{"body too large", "POST", "/create-checkout-session", "application/json", `{"items":[{"id":"` + strings.Repeat("x", 20000) + `"}]}`, nil, 413, "body_too_large", ""},
		{"GET create", "GET", "/create-checkout-session", "", "", nil, 405, "method_not_allowed", ""},
		{"POST status", "POST", "/session-status?session_id=cs_test_abc", "", "", nil, 405, "method_not_allowed", ""},
		{"missing session id", "GET", "/session-status", "", "", nil, 400, "missing_session_id", "session_id"},
		{"bad session id", "GET", "/session-status?session_id=pi_123", "", "", nil, 400, "invalid_session_id", "session_id"},
		{"path in session id", "GET", "/session-status?session_id=cs_test_abc%2F..%2F..%2Fv1%2Fcustomers", "", "", nil, 400, "invalid_session_id", "session_id"},
		{"query in session id", "GET", "/session-status?session_id=cs_test_abc%3Fexpand%5B%5D%3Dcustomer", "", "", nil, 400, "invalid_session_id", "session_id"},
		{"empty session suffix", "GET", "/session-status?session_id=cs_test_", "", "", nil, 400, "invalid_session_id", "session_id"},
		{"repeated session id", "GET", "/session-status?session_id=cs_test_a&session_id=cs_test_b", "", "", nil, 400, "invalid_session_id", "session_id"},
		{"unknown path", "GET", "/v1/customers", "", "", nil, 404, "not_found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, fake := newTestServer(t, tc.env)
			rec := do(t, srv, tc.method, tc.target, tc.ct, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			eb := decodeError(t, rec)
			if eb.Error.Code != tc.code {
				t.Errorf("code = %q, want %q (%s)", eb.Error.Code, tc.code, eb.Error.Message)
			}
			if eb.Error.Param != tc.param {
				t.Errorf("param = %q, want %q", eb.Error.Param, tc.param)
			}
			if n := len(fake.Calls()); n != 0 {
				t.Errorf("Stripe was called %d times for a bad request", n)
			}
		})
	}
}

func TestSessionStatus(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	rec := do(t, srv, "GET", "/session-status?session_id=cs_test_a1B2c3", "", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got map[string]string
	json.Unmarshal(rec.Body.Bytes(), &got)
	want := map[string]string{"status": "complete", "payment_status": "paid", "customer_email": "jenny@example.com"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	c := fake.Calls()
	if len(c) != 1 || c[0].Path != "/v1/checkout/sessions/cs_test_a1B2c3" || c[0].Method != "GET" {
		t.Fatalf("calls = %+v", c)
	}
}

func TestStripeErrorsAreMappedNotEchoed(t *testing.T) {
	cases := []struct {
		stripeStatus int
		code         string
		want         int
		wantCode     string
	}{
		{404, "resource_missing", 404, "not_found"},
		{401, "", 502, "stripe_auth_failed"},
		{429, "rate_limit", 503, "stripe_rate_limited"},
		{500, "", 502, "stripe_unavailable"},
		{400, "parameter_invalid_integer", 502, "stripe_rejected"},
	}
	for _, tc := range cases {
		srv, fake := newTestServer(t, nil)
		fake.status, fake.code = tc.stripeStatus, tc.code
		rec := do(t, srv, "GET", "/session-status?session_id=cs_test_x", "", "")
		if rec.Code != tc.want {
			t.Errorf("Stripe %d: status = %d, want %d", tc.stripeStatus, rec.Code, tc.want)
			continue
		}
		eb := decodeError(t, rec)
		if eb.Error.Code != tc.wantCode || eb.Error.RequestID != "req_fake123" {
			t.Errorf("Stripe %d: error = %+v", tc.stripeStatus, eb.Error)
		}
		if strings.Contains(rec.Body.String(), "sk_test") {
			t.Errorf("Stripe's message was echoed: %s", rec.Body)
		}
	}
}

func TestStripeUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close() // nothing listens there now
	srv := NewServer(testConfig(t, map[string]string{"STRIPE_API_BASE": ts.URL}), Deps{Transport: http.DefaultTransport})
	rec := do(t, srv, "POST", "/create-checkout-session", "", "")
	if rec.Code != 502 || decodeError(t, rec).Error.Code != "stripe_unreachable" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestConfigEndpointShowsOnlyPublicFields(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	rec := do(t, srv, "GET", "/config", "", "")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	if strings.Contains(body, "sk_test") {
		t.Fatal("secret key in /config")
	}
	for _, private := range []string{"stock", "max_order_amount", "refused", "incremental"} {
		if strings.Contains(body, private) {
			t.Errorf("/config shows the private catalog field %q: %s", private, body)
		}
	}
	var got configResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.PublishableKey != "pk_test_unit" || got.StripeJSURL != DefaultStripeJSURL || got.DefaultItem != "tshirt" {
		t.Errorf("config = %+v", got)
	}
	if len(got.Catalog) != 5 || got.Catalog[4].CaptureMethod != "manual" || got.Catalog[1].ID != "mug" || got.Catalog[1].UnitAmount != 1200 || got.Catalog[1].MaxQuantity != 5 {
		t.Errorf("catalog = %+v", got.Catalog)
	}
	if len(fake.Calls()) != 0 {
		t.Error("/config called Stripe")
	}
}

func TestPanicBecomes500(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	srv = srv.withDeps(func(d *Deps) {
		d.Rules = []ApprovalRule{ApprovalFunc(func(context.Context, *Order) *Refusal { panic("boom") })}
	})
	rec := do(t, srv, "POST", "/create-checkout-session", "", "")
	if rec.Code != 500 || decodeError(t, rec).Error.Code != "internal_error" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	// The server keeps serving.
	if rec := do(t, srv, "GET", "/config", "", ""); rec.Code != 200 {
		t.Fatalf("after panic: %d", rec.Code)
	}
}

func TestConfigErrorHandlerNamesVariable(t *testing.T) {
	_, err := LoadConfig(func(string) string { return "" })
	rec := do(t, ConfigErrorHandler(err), "GET", "/config", "", "")
	if rec.Code != 500 || !strings.Contains(decodeError(t, rec).Error.Message, "STRIPE_SECRET_KEY") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

// withDeps builds a server like s whose dependencies f changes (a Server is
// never changed after NewServer).
func (s *Server) withDeps(f func(*Deps)) *Server {
	d := s.deps
	f(&d)
	return NewServer(s.cfg, d)
}
