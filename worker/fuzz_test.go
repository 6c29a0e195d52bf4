package worker

// Fuzz targets. `go test` runs their seeds (f.Add and testdata/fuzz/<name>/)
// as ordinary tests; `make test` fuzzes each briefly and `make fuzz` longer:
//
//	go test -run '^$' -fuzz '^FuzzCreateCheckoutSession$' -fuzztime 60s ./worker
//
// Each drives the public surface (the HTTP handler, ParseCatalog) and checks
// properties that hold for every input, not particular answers.

import (
	"bytes"
	"checkoutkit/worker/orders"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzCatalog has two currencies (for mixed-currency carts), a Stripe Price
// and distinct names (the Stripe call names products by name).
const fuzzCatalog = `{"shop":{"card_rules":{"refused_funding":["prepaid"],"refused_countries":["BR"]}},"products":[
 {"id":"tshirt","name":"T-shirt","unit_amount":2000,"currency":"usd","max_quantity":10},
 {"id":"mug","name":"Mug","unit_amount":1200,"currency":"usd","max_quantity":5},
 {"id":"poster","name":"Poster","unit_amount":900,"currency":"usd","price":"price_poster"},
 {"id":"euro-mug","name":"Euro mug","unit_amount":1100,"currency":"eur","max_quantity":3},
 {"id":"rental","name":"Rental","unit_amount":5000,"currency":"usd","capture":"manual","max_quantity":2}
]}`

const fuzzAllowedOrigin = "https://shop.example"

// inProcess is an http.RoundTripper that serves requests with a handler, so
// fuzzing the worker's calls to Stripe uses no sockets.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// fuzzStripe records calls and answers like Stripe for the calls the worker
// makes (a session with a client secret and a hosted URL; any retrieved id).
type fuzzStripe struct{ calls []fakeCall }

func (f *fuzzStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: r.URL.Path, Form: form})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fuzz")
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/checkout/sessions":
		io.WriteString(w, `{"id":"cs_test_f","object":"checkout.session","client_secret":"cs_test_f_secret_z","url":"https://checkout.stripe.com/c/pay/cs_test_f","status":"open","payment_status":"unpaid"}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/checkout/sessions/"):
		io.WriteString(w, `{"id":"cs_test_f","object":"checkout.session","status":"open","payment_status":"unpaid"}`)
	case r.Method == "GET" && r.URL.Path == "/v1/promotion_codes":
		// One active code, SAVE10 (Stripe matches codes regardless of case).
		if strings.EqualFold(r.URL.Query().Get("code"), "SAVE10") && r.URL.Query().Get("active") == "true" {
			io.WriteString(w, `{"object":"list","data":[{"id":"promo_f","object":"promotion_code","code":"SAVE10","active":true}],"has_more":false}`)
		} else {
			io.WriteString(w, `{"object":"list","data":[],"has_more":false}`)
		}
	case r.Method == "POST" && r.URL.Path == "/v1/payment_intents":
		io.WriteString(w, `{"id":"pi_f","object":"payment_intent","client_secret":"pi_f_secret_z","status":"succeeded"}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/ctoken_"):
		// The token's id chooses its card: ..._prepaid_... a prepaid one,
		// ..._BR_... a Brazilian one (both refused by fuzzCatalog's rules),
		// ..._used_... one already used.
		id := strings.TrimPrefix(r.URL.Path, "/v1/confirmation_tokens/")
		funding, country, used := "credit", "US", "null"
		if strings.Contains(id, "_prepaid_") {
			funding = "prepaid"
		}
		if strings.Contains(id, "_BR_") {
			country = "BR"
		}
		if strings.Contains(id, "_used_") {
			used = `"pi_used"`
		}
		io.WriteString(w, `{"id":"`+id+`","object":"confirmation_token","expires_at":4102444800,"livemode":false,"payment_intent":`+used+`,"setup_intent":null,`+
			`"payment_method_preview":{"type":"card","card":{"brand":"visa","funding":"`+funding+`","country":"`+country+`","wallet":null}},"shipping":null}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"no such route"}}`)
	}
}

func (f *fuzzStripe) Calls() []fakeCall { return f.calls }

// fuzzServer is the worker with cfg, talking to a fresh fake Stripe in process.
func fuzzServer(t *testing.T, cfg Config) (*Server, *fuzzStripe) {
	fake := &fuzzStripe{}
	return NewServer(cfg, Deps{Transport: inProcess{fake}}), fake
}

func fuzzConfig(f *testing.F) Config {
	env := map[string]string{
		"STRIPE_SECRET_KEY":      "sk_test_unit",
		"STRIPE_PUBLISHABLE_KEY": "pk_test_unit",
		"STRIPE_API_BASE":        "http://stripe.test",
		"CATALOG_JSON":           fuzzCatalog,
		"ALLOWED_ORIGINS":        fuzzAllowedOrigin,
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		f.Fatalf("LoadConfig: %v", err)
	}
	return cfg
}

// checkErrorAnswer asserts the shape every error answer must have.
func checkErrorAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
	}
	var eb struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("status %d without {\"error\":{\"code\",\"message\"}}: %s", rec.Code, rec.Body)
	}
}

func FuzzCreateCheckoutSession(f *testing.F) {
	cfg := fuzzConfig(f)
	for _, s := range []struct{ ct, origin, body string }{
		{"application/json", "", `{"items":[{"id":"mug","quantity":2}]}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":2},{"id":"tshirt"}],"returnPath":"/shop/"}`},
		{"application/json", fuzzAllowedOrigin, `{"items":[{"id":"poster","quantity":1}],"uiMode":"hosted","cancelPath":"/cart"}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":1},{"id":"euro-mug","quantity":1}]}`},
		{"application/json; charset=utf-8", "", `{"items":[{"id":"mug","quantity":1.5}]}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":"2"}]}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":99999999999999999999}]}`},
		{"text/plain", "", `{"items":[]}`},
		{"", "", ``},
		{"application/json", "https://evil.example", `{"items":[{"id":"mug"}]}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":1}],"redirectOnCompletion":"never","returnPath":"/x"}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":1}]} {}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":1}],"email":"jenny@example.com","country":"de","idempotencyKey":"order-12345678"}`},
		{"application/json", "", `{"items":[{"id":"mug","quantity":1},{"id":"rental","quantity":1}]}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"reference":"blog-order_42","promo":"save10","locale":"fr-CA"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"promo":"NOPE"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"promo":"SAVE 10"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"reference":"a/b?c"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"locale":"xx-YY"}`},
		{"application/x-www-form-urlencoded", "", `product=mug&quantity=2`},
		{"application/x-www-form-urlencoded", "", `items=mug:2,+tshirt&email=a%40example.com`},
		{"application/x-www-form-urlencoded", "", `product=mug&product=tshirt`},
		{"application/x-www-form-urlencoded", "", ``},
	} {
		f.Add(s.ct, s.origin, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType, origin string, body []byte) {
		srv, fake := fuzzServer(t, cfg)
		req := httptest.NewRequest(http.MethodPost, "http://worker.test/create-checkout-session", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		calls := fake.Calls()

		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		// An HTML form post is answered 303 See Other to hosted Checkout;
		// anything else that is accepted, 200.
		accepted := rec.Code == http.StatusOK
		if rec.Code == http.StatusSeeOther {
			if !isFormPost(req) || rec.Header().Get("Location") != "https://checkout.stripe.com/c/pay/cs_test_f" || len(calls) != 1 || calls[0].Form.Get("ui_mode") != "hosted" {
				t.Fatalf("303 for Content-Type %q, Location %q: %+v", contentType, rec.Header().Get("Location"), calls)
			}
			accepted = true
		}
		// The only call that may come before the session is the promotion
		// code's lookup (a read): a refused request creates nothing.
		if len(calls) > 0 && calls[0].Method == "GET" && calls[0].Path == "/v1/promotion_codes" {
			calls = calls[1:]
		}
		if !accepted {
			checkErrorAnswer(t, rec)
			if len(calls) != 0 {
				t.Fatalf("status %d, yet %d Stripe call(s): %+v", rec.Code, len(calls), calls)
			}
			return
		}
		// Accepted: exactly one Stripe call, priced from the catalog only.
		if len(calls) != 1 || calls[0].Method != "POST" || calls[0].Path != "/v1/checkout/sessions" {
			t.Fatalf("%d with Stripe calls %+v", rec.Code, calls)
		}
		checkSessionOptions(t, calls[0].Form)
		if origin != "" && origin != fuzzAllowedOrigin && !strings.EqualFold(origin, "http://worker.test") {
			t.Fatalf("200 for a request from origin %q", origin)
		}
		checkPricedFromCatalog(t, cfg.Catalog, calls[0].Form)
	})
}

// checkSessionOptions asserts that the options a page may set reach Stripe
// only in the shapes Stripe accepts: a pre-applied code is the promotion
// code the lookup found, never with allow_promotion_codes, and
// client_reference_id and locale are valid values.
func checkSessionOptions(t *testing.T, form url.Values) {
	t.Helper()
	if d := form.Get("discounts[0][promotion_code]"); d != "" {
		if d != "promo_f" || form.Has("allow_promotion_codes") || len(form["discounts[0][promotion_code]"]) != 1 {
			t.Fatalf("discounts %q with allow_promotion_codes %q", d, form.Get("allow_promotion_codes"))
		}
	}
	if ref := form.Get("client_reference_id"); !validReference(ref) {
		t.Fatalf("client_reference_id %q", ref)
	}
	if l, ok := form["locale"]; ok && (len(l) != 1 || !checkoutLocales[l[0]]) {
		t.Fatalf("locale %q", l)
	}
}

// checkPricedFromCatalog asserts that a Checkout Session's line items are
// catalog products at catalog prices, in allowed quantities, in one currency.
func checkPricedFromCatalog(t *testing.T, cat *Catalog, form url.Values) {
	t.Helper()
	byName := map[string]*Product{}
	byPrice := map[string]*Product{}
	for i := range cat.Products {
		p := &cat.Products[i]
		byName[p.Name] = p
		if p.Price != "" {
			byPrice[p.Price] = p
		}
	}
	currency := ""
	seen := map[string]bool{}
	n := 0
	for ; ; n++ {
		k := "line_items[" + strconv.Itoa(n) + "]"
		qtyRaw := form.Get(k + "[quantity]")
		if qtyRaw == "" {
			break
		}
		var p *Product
		if id := form.Get(k + "[price]"); id != "" {
			p = byPrice[id]
		} else {
			p = byName[form.Get(k+"[price_data][product_data][name]")]
			if p != nil && (form.Get(k+"[price_data][unit_amount]") != strconv.FormatInt(p.UnitAmount, 10) || form.Get(k+"[price_data][currency]") != p.Currency) {
				t.Fatalf("%s priced %s %s, catalog says %d %s", k, form.Get(k+"[price_data][unit_amount]"), form.Get(k+"[price_data][currency]"), p.UnitAmount, p.Currency)
			}
		}
		if p == nil {
			t.Fatalf("%s is no catalog product: %v", k, form)
		}
		if seen[p.ID] {
			t.Fatalf("%s repeats %s", k, p.ID)
		}
		seen[p.ID] = true
		qty, err := strconv.ParseInt(qtyRaw, 10, 64)
		if err != nil || qty < 1 || qty > p.MaxQuantity {
			t.Fatalf("%s quantity %q outside 1..%d", k, qtyRaw, p.MaxQuantity)
		}
		if currency != "" && p.Currency != currency {
			t.Fatalf("mixed currencies %s and %s", currency, p.Currency)
		}
		currency = p.Currency
	}
	if n == 0 || n > maxCartLines {
		t.Fatalf("%d line items", n)
	}
	// The order's cart, as recorded for the webhooks, is what was priced.
	var cart []string
	for i := 0; i < n; i++ {
		k := "line_items[" + strconv.Itoa(i) + "]"
		p := byName[form.Get(k+"[price_data][product_data][name]")]
		if id := form.Get(k + "[price]"); id != "" {
			p = byPrice[id]
		}
		cart = append(cart, p.ID+":"+form.Get(k+"[quantity]")+":"+strconv.FormatInt(p.UnitAmount, 10))
	}
	if got, want := form.Get("metadata[kit_cart]"), strings.Join(cart, ","); got != want {
		t.Fatalf("metadata[kit_cart] = %q, line items say %q", got, want)
	}
}

// checkIntentFromCatalog asserts that a PaymentIntent's amount and currency
// are the catalog's prices for the cart it records.
func checkIntentFromCatalog(t *testing.T, cat *Catalog, form url.Values) {
	t.Helper()
	cart := form.Get("metadata[kit_cart]")
	var total int64
	currency := ""
	seen := map[string]bool{}
	for _, line := range strings.Split(cart, ",") {
		f := strings.Split(line, ":")
		if len(f) != 3 {
			t.Fatalf("PaymentIntent for cart %q", cart)
		}
		id := f[0]
		p, ok := cat.Lookup(id)
		qty, err := strconv.ParseInt(f[1], 10, 64)
		if !ok || err != nil || qty < 1 || qty > p.MaxQuantity || seen[id] || (currency != "" && p.Currency != currency) || f[2] != strconv.FormatInt(p.UnitAmount, 10) {
			t.Fatalf("PaymentIntent for cart %q", cart)
		}
		seen[id] = true
		currency = p.Currency
		total += p.UnitAmount * qty
	}
	if form.Get("amount") != strconv.FormatInt(total, 10) || form.Get("currency") != currency {
		t.Fatalf("PaymentIntent of %s %s for cart %q, catalog says %d %s", form.Get("amount"), form.Get("currency"), cart, total, currency)
	}
	if form.Get("confirm") != "true" || !confirmationTokenRE.MatchString(form.Get("confirmation_token")) {
		t.Fatalf("PaymentIntent confirm=%q confirmation_token=%q", form.Get("confirm"), form.Get("confirmation_token"))
	}
}

var confirmationTokenRE = regexp.MustCompile(`^ctoken_[A-Za-z0-9_]{1,200}$`)

func FuzzCreateConfirmIntent(f *testing.F) {
	cfg := fuzzConfig(f)
	for _, s := range []struct{ ct, origin, body string }{
		{"application/json", "", `{"items":[{"id":"mug","quantity":2}],"confirmationToken":"ctoken_1AbC"}`},
		{"application/json", fuzzAllowedOrigin, `{"items":[{"id":"rental","quantity":1}],"confirmationToken":"ctoken_x","returnPath":"/pay/"}`},
		{"application/json", "", `{"items":[{"id":"mug"},{"id":"euro-mug"}],"confirmationToken":"ctoken_x"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"pm_card_visa"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x/../../v1/customers"}`},
		{"application/json", "", `{"items":[{"id":"mug"}]}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x","email":"a@example.com\r\nBcc: b@example.com"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x","amount":1}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_a_prepaid_b"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_a_BR_b"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_a_used_b"}`},
		{"application/json", "", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_a_used_b","idempotencyKey":"key-123456789"}`},
		{"", "", ``},
	} {
		f.Add(s.ct, s.origin, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType, origin string, body []byte) {
		srv, fake := fuzzServer(t, cfg)
		req := httptest.NewRequest(http.MethodPost, "http://worker.test/create-confirm-intent", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		calls := fake.Calls()
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		// Only a request valid in every field reaches Stripe, and first
		// only to read its ConfirmationToken (a well-formed id in the
		// path); a refusal after that creates nothing.
		if len(calls) > 0 && (calls[0].Method != "GET" || !stripeTokenPath.MatchString(calls[0].Path)) {
			t.Fatalf("first Stripe call %+v, want GET of the ConfirmationToken", calls[0])
		}
		if rec.Code != http.StatusOK {
			checkErrorAnswer(t, rec)
			for _, c := range calls {
				if c.Method != "GET" {
					t.Fatalf("status %d, yet Stripe calls %+v", rec.Code, calls)
				}
			}
			return
		}
		last := len(calls) - 1
		if last < 1 || calls[last].Method != "POST" || calls[last].Path != "/v1/payment_intents" {
			t.Fatalf("200 with Stripe calls %+v", calls)
		}
		for _, c := range calls[:last] {
			if c.Method != "GET" {
				t.Fatalf("200 with Stripe calls %+v", calls)
			}
		}
		if tok := strings.TrimPrefix(calls[0].Path, "/v1/confirmation_tokens/"); calls[last].Form.Get("confirmation_token") != tok ||
			strings.Contains(tok, "_prepaid_") || strings.Contains(tok, "_BR_") {
			t.Fatalf("PaymentIntent confirmed with %q after reading %q", calls[last].Form.Get("confirmation_token"), tok)
		}
		checkIntentFromCatalog(t, cfg.Catalog, calls[last].Form)
	})
}

var stripeTokenPath = regexp.MustCompile(`^/v1/confirmation_tokens/ctoken_[A-Za-z0-9_]{1,200}$`)

var stripeSessionPath = regexp.MustCompile(`^/v1/checkout/sessions/cs_(test|live)_[A-Za-z0-9]{1,200}$`)

func FuzzSessionStatus(f *testing.F) {
	cfg := fuzzConfig(f)
	for _, q := range []string{
		"session_id=cs_test_a1B2c3",
		"session_id=cs_live_x",
		"session_id=cs_test_x%2F..%2Fcustomers",
		"session_id=cs_test_x&session_id=cs_test_y",
		"session_id=",
		"session_id=cs_test_%00",
		"session_id=pi_123",
		"",
		"session_id=cs_test_a%3Fexpand%5B%5D%3Dcustomer",
		"%zz",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		srv, fake := fuzzServer(t, cfg)
		req := httptest.NewRequest(http.MethodGet, "http://worker.test/session-status", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		calls := fake.Calls()
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			checkErrorAnswer(t, rec)
			if len(calls) != 0 {
				t.Fatalf("status %d, yet Stripe calls %+v", rec.Code, calls)
			}
			return
		}
		if len(calls) != 1 || calls[0].Method != "GET" || !stripeSessionPath.MatchString(calls[0].Path) {
			t.Fatalf("query %q reached Stripe as %+v", query, calls)
		}
	})
}

func FuzzParseCatalog(f *testing.F) {
	f.Add(defaultCatalogJSON)
	f.Add([]byte(fuzzCatalog))
	for _, s := range []string{
		`{"products":[]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"USD"}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"},{"id":"a","name":"B","unit_amount":2,"currency":"usd"}]}`,
		`{"products":[{"id":"a b","name":"A","unit_amount":1,"currency":"usd"}]}`,
		`{"products":[{"id":"a","name":" ","unit_amount":1,"currency":"usd"}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":100000000,"currency":"usd"}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","max_quantity":1000}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","price":"prod_1"}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","extra":1}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1.5,"currency":"usd"}]}`,
		`{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]} x`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data)
		if err != nil {
			if c != nil {
				t.Fatal("a catalog and an error")
			}
			if !strings.HasPrefix(err.Error(), "catalog") {
				t.Fatalf("error does not say it is about the catalog: %v", err)
			}
			return
		}
		if len(c.Products) == 0 || len(c.Products) > maxCatalogProducts {
			t.Fatalf("%d products accepted", len(c.Products))
		}
		for i := range c.Products {
			p := &c.Products[i]
			if !validID(p.ID) || strings.TrimSpace(p.Name) == "" || p.UnitAmount < 1 || !validCurrency(p.Currency) || p.MaxQuantity < 1 {
				t.Fatalf("invalid product accepted: %+v", *p)
			}
			if got, ok := c.Lookup(p.ID); !ok || got != p {
				t.Fatalf("Lookup(%q) does not find products[%d]", p.ID, i)
			}
		}
		// What was accepted survives a round trip unchanged (a catalog can be
		// written back, e.g. into CATALOG_JSON).
		again, err := json.Marshal(map[string]any{"shop": c.Shop, "products": c.Products})
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseCatalog(again)
		if err != nil {
			t.Fatalf("re-encoded catalog refused: %v\n%s", err, again)
		}
		b1, _ := json.Marshal(map[string]any{"shop": c.Shop, "products": c.Products})
		b2, _ := json.Marshal(map[string]any{"shop": c2.Shop, "products": c2.Products})
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed the catalog:\n%s\n%s", b1, b2)
		}
		// The catalog is served by /config: encoding it cannot fail.
		if body := configBody(Config{Catalog: c}); !json.Valid(body) {
			t.Fatalf("configBody is not JSON: %s", body)
		}
	})
}

// fuzzWebhookSecret signs the fuzzer's events when it asks for a signature.
const fuzzWebhookSecret = "whsec_fuzz_not_a_secret"

func fuzzSign(t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(fuzzWebhookSecret))
	fmt.Fprintf(mac, "%d.", t)
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(mac.Sum(nil)))
}

// FuzzWebhook drives POST /webhook with any Stripe-Signature header and body,
// and, when sign is set, with the body correctly signed (so that the event
// decoding behind the signature check is fuzzed too). An unsigned request is
// always a 400 that touches neither Stripe nor the store; a signed one is
// never a 4xx other than "not an event", and a 4xx touches nothing.
func FuzzWebhook(f *testing.F) {
	env := map[string]string{
		"STRIPE_SECRET_KEY": "sk_test_unit", "STRIPE_API_BASE": "http://stripe.test",
		"CATALOG_JSON": fuzzCatalog, "STRIPE_WEBHOOK_SECRET": fuzzWebhookSecret,
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		f.Fatal(err)
	}
	ev := `{"id":"evt_1","object":"event","api_version":"2025-08-27.basil","type":"%s","data":{"object":%s}}`
	for _, s := range []struct {
		header string
		body   string
		sign   bool
	}{
		{"", fmt.Sprintf(ev, "checkout.session.completed", `{"id":"cs_test_f","object":"checkout.session"}`), true},
		{"", fmt.Sprintf(ev, "payment_intent.succeeded", `{"id":"pi_f","object":"payment_intent","amount":1200,"currency":"usd","status":"succeeded","metadata":{"kit_order":"ord_0123456789abcdef","kit_cart":"mug:1"}}`), true},
		{"", fmt.Sprintf(ev, "customer.created", `{"id":"cus_1"}`), true},
		{"", `{"id":"evt_1","object":"charge","type":"x","data":{"object":{}}}`, true},
		{"", `not json`, true},
		{"t=1,v1=00", fmt.Sprintf(ev, "checkout.session.completed", `{}`), false},
		{"t=9999999999,v1=" + strings.Repeat("a", 64) + ",v0=x", `{}`, false},
		{"v1=abc", `{}`, false},
		{",,,=", ``, false},
	} {
		f.Add(s.header, []byte(s.body), s.sign)
	}
	f.Fuzz(func(t *testing.T, header string, body []byte, sign bool) {
		srv, fake := fuzzServer(t, cfg)
		store := orders.NewMemStore()
		srv = srv.withDeps(func(d *Deps) { d.Store = store })
		srv = srv.withDeps(func(d *Deps) { d.Fulfiller = FulfillerFunc(func(context.Context, *orders.Order) error { return nil }) })
		if sign {
			header = fuzzSign(time.Now().Unix(), body)
		}
		req := httptest.NewRequest(http.MethodPost, "http://worker.test/webhook", bytes.NewReader(body))
		if header != "" {
			req.Header.Set("Stripe-Signature", header)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			checkErrorAnswer(t, rec)
		}
		if !sign {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("unsigned webhook answered %d: %s", rec.Code, rec.Body)
			}
		} else if rec.Code >= 400 && rec.Code < 500 && !strings.Contains(rec.Body.String(), `"invalid_event"`) && !strings.Contains(rec.Body.String(), `"body_too_large"`) {
			t.Fatalf("signed webhook refused with %d: %s", rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Code < 500 {
			if n := len(fake.Calls()); n != 0 {
				t.Fatalf("refused webhook made %d Stripe calls", n)
			}
			if n := store.WriteCount(); n != 0 {
				t.Fatalf("refused webhook wrote %d times to the store", n)
			}
		}
	})
}
