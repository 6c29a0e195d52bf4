package worker

import (
	"checkoutkit/worker/orders"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

var orderRefRE = regexp.MustCompile(`^ord_[0-9a-f]{16}$`)

func wantForm(t *testing.T, c stubCall, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := c.Form.Get(k); got != v {
			t.Errorf("%s %s: %s = %q, want %q", c.Method, c.Path, k, got, v)
		}
	}
}

func wantAbsent(t *testing.T, c stubCall, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := c.Form[k]; ok {
			t.Errorf("%s %s: %s = %q, want it absent", c.Method, c.Path, k, c.Form.Get(k))
		}
	}
}

func checkError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, param string) errorBody {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d: %s", rec.Code, status, rec.Body)
	}
	eb := decodeError(t, rec)
	if eb.Error.Code != code || eb.Error.Param != param {
		t.Errorf("error = %+v, want code %q param %q", eb.Error, code, param)
	}
	return eb
}

func TestCheckoutSessionOptionsFromCatalog(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
	rec := postJSON(t, srv, "http://shop.example/create-checkout-session", `{"items":[{"id":"rental","quantity":2}],"email":"Jenny@Example.COM"}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	c := stub.Calls()[0]
	ref := c.Form.Get("metadata[kit_order]")
	if !orderRefRE.MatchString(ref) {
		t.Fatalf("metadata[kit_order] = %q", ref)
	}
	wantForm(t, c, map[string]string{
		"metadata[kit_cart]":                                              "rental:2:2000",
		"payment_intent_data[metadata][kit_order]":                        ref,
		"payment_intent_data[metadata][kit_cart]":                         "rental:2:2000",
		"client_reference_id":                                             ref,
		"payment_intent_data[capture_method]":                             "manual",
		"payment_method_options[card][request_incremental_authorization]": "if_available",
		"allow_promotion_codes":                                           "true",
		"customer_email":                                                  "Jenny@example.com",
		"line_items[0][price_data][unit_amount]":                          "2000",
	})
	wantAbsent(t, c, "payment_intent_data[setup_future_usage]", "customer_creation", "customer", "saved_payment_method_options[payment_method_save]")
	if c.Idem != "kit-cs-"+ref {
		t.Errorf("Idempotency-Key = %q, want kit-cs-%s", c.Idem, ref)
	}

	// Saving the payment method: setup_future_usage and a customer to keep it.
	postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"member","quantity":1}]}`)
	c = stub.Calls()[1]
	wantForm(t, c, map[string]string{"payment_intent_data[setup_future_usage]": "off_session", "customer_creation": "always"})
	wantAbsent(t, c, "payment_intent_data[capture_method]", "payment_method_options[card][request_incremental_authorization]", "customer_email")
	if c.Form.Get("metadata[kit_order]") == ref {
		t.Error("two orders got the same reference")
	}
}

func TestCheckoutShopCustomerOptions(t *testing.T) {
	cat := `{"shop":{"customer_creation":"always","saved_payment_method_options":{"payment_method_save":"enabled","payment_method_remove":"enabled"}},
	  "products":[{"id":"a","name":"A","unit_amount":100,"currency":"usd"},{"id":"s","name":"S","unit_amount":100,"currency":"usd","save_payment_method":true}]}`
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cat})
	postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"a"}]}`)
	c := stub.Calls()[0]
	wantForm(t, c, map[string]string{"customer_creation": "always", "saved_payment_method_options[payment_method_save]": "enabled"})
	// payment_method_remove needs a known customer.
	wantAbsent(t, c, "saved_payment_method_options[payment_method_remove]", "allow_promotion_codes", "customer")

	// A forced save needs no checkbox.
	postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"s"}]}`)
	wantAbsent(t, stub.Calls()[1], "saved_payment_method_options[payment_method_save]")

	// A returning customer (customer token): customer, remove allowed, no customer_creation.
	tok, _ := srv.mintCustomerToken("cus_Returning1", time.Hour)
	rec := postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"a"}],"customerToken":"`+tok+`"}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	c = stub.Calls()[2]
	wantForm(t, c, map[string]string{"customer": "cus_Returning1", "saved_payment_method_options[payment_method_remove]": "enabled", "saved_payment_method_options[payment_method_save]": "enabled"})
	wantAbsent(t, c, "customer_creation", "customer_email")

	// if_required passes through.
	srv2, stub2 := newStubServer(t, map[string]string{"CATALOG_JSON": `{"shop":{"customer_creation":"if_required"},"products":[{"id":"a","name":"A","unit_amount":100,"currency":"usd"}]}`})
	postJSON(t, srv2, "/create-checkout-session", `{"items":[{"id":"a"}]}`)
	wantForm(t, stub2.Calls()[0], map[string]string{"customer_creation": "if_required"})
}

func TestCheckoutIdempotencyKey(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	body := `{"items":[{"id":"mug","quantity":2}],"idempotencyKey":"0b6c2f4e-8a1d-4c3e-9f00-1234567890ab"}`
	for i := 0; i < 2; i++ {
		if rec := postJSON(t, srv, "/create-checkout-session", body); rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"mug","quantity":2}],"idempotencyKey":"another-key-123"}`)
	calls := stub.Calls()
	// The server derives the key from the client's key and the request: the
	// client's key itself never reaches Stripe.
	if !strings.HasPrefix(calls[0].Idem, "kit-cs-") || strings.Contains(calls[0].Idem, "0b6c2f4e") || calls[1].Idem != calls[0].Idem {
		t.Errorf("keys = %q, %q", calls[0].Idem, calls[1].Idem)
	}
	// A retry sends Stripe the very same parameters (same order reference).
	if calls[0].Form.Encode() != calls[1].Form.Encode() {
		t.Errorf("retry changed the request:\n%s\n%s", calls[0].Form.Encode(), calls[1].Form.Encode())
	}
	if calls[2].Idem == calls[0].Idem || calls[2].Form.Get("metadata[kit_order]") == calls[0].Form.Get("metadata[kit_order]") {
		t.Error("a different key gave the same order")
	}
	// Stripe's answer to a key reused with other parameters.
	stub.set("POST /v1/checkout/sessions", 400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`)
	rec := postJSON(t, srv, "/create-checkout-session", body)
	eb := checkError(t, rec, 409, "idempotency_key_reused", "idempotencyKey")
	if eb.Error.RequestID != "req_stub1" {
		t.Errorf("request id = %q", eb.Error.RequestID)
	}
}

func TestCheckoutBadShopperFieldsMakeNoStripeCall(t *testing.T) {
	cases := []struct{ name, body, code, param string }{
		{"crlf in email", `{"items":[{"id":"plain"}],"email":"a@b.com\r\nBcc: x@y.com"}`, "invalid_email", "email"},
		{"lf in email", `{"items":[{"id":"plain"}],"email":"a@b.com\nx"}`, "invalid_email", "email"},
		{"nul in email", `{"items":[{"id":"plain"}],"email":"a@b.com\u0000"}`, "invalid_email", "email"},
		{"display name", `{"items":[{"id":"plain"}],"email":"Jenny <jenny@example.com>"}`, "invalid_email", "email"},
		{"two addresses", `{"items":[{"id":"plain"}],"email":"a@b.com, c@d.com"}`, "invalid_email", "email"},
		{"no domain dot", `{"items":[{"id":"plain"}],"email":"jenny@localhost"}`, "invalid_email", "email"},
		{"no at", `{"items":[{"id":"plain"}],"email":"jenny.example.com"}`, "invalid_email", "email"},
		{"too long", `{"items":[{"id":"plain"}],"email":"` + strings.Repeat("a", 250) + `@b.com"}`, "invalid_email", "email"},
		{"email not string", `{"items":[{"id":"plain"}],"email":5}`, "invalid_field_type", "email"},
		{"country", `{"items":[{"id":"plain"}],"country":"Germany"}`, "invalid_country", "country"},
		{"idempotency short", `{"items":[{"id":"plain"}],"idempotencyKey":"abc"}`, "invalid_idempotency_key", "idempotencyKey"},
		{"idempotency chars", `{"items":[{"id":"plain"}],"idempotencyKey":"abc/def/ghi"}`, "invalid_idempotency_key", "idempotencyKey"},
		{"mixed capture", `{"items":[{"id":"plain"},{"id":"rental"}]}`, "mixed_capture_methods", "items[1].id"},
		{"mixed currencies", `{"items":[{"id":"plain"},{"id":"euro"}]}`, "mixed_currencies", "items[1].id"},
		{"customer token bad", `{"items":[{"id":"plain"}],"customerToken":"cus_123"}`, "invalid_customer_token", "customerToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
			for _, path := range []string{"/create-checkout-session", "/create-confirm-intent"} {
				body := tc.body
				if path == "/create-confirm-intent" {
					body = strings.Replace(body, `{"items"`, `{"confirmationToken":"ctoken_1","items"`, 1)
				}
				checkError(t, postJSON(t, srv, path, body), 400, tc.code, tc.param)
			}
			if n := len(stub.Calls()); n != 0 {
				t.Errorf("Stripe called %d times", n)
			}
		})
	}
}

func TestCheckEmail(t *testing.T) {
	good := map[string]string{"jenny@example.com": "jenny@example.com", " Jenny.Rosen+shop@Mail.Example.ORG ": "Jenny.Rosen+shop@mail.example.org"}
	for in, want := range good {
		got, err := checkEmail(in)
		if err != nil || got != want {
			t.Errorf("checkEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "@example.com", "jenny@", "jenny@@example.com", "\"j\"@example.com", "jenny@exa mple.com", "jenny@example.com\r", "jenny@[127.0.0.1]", "jenny@-x.com"} {
		if _, err := checkEmail(bad); err == nil {
			t.Errorf("checkEmail(%q) accepted", bad)
		}
	}
}

func TestCheckoutFormPostRedirectsToHostedCheckout(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"PUBLIC_URL": "https://shop.example"})
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	rec := send(t, srv, "POST", "/create-checkout-session", form, "product=mug&quantity=3&email=jenny%40example.com&cancelPath=%2Fshop%2F")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303: %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "https://checkout.stripe.com/c/pay/cs_test_abc" {
		t.Errorf("Location = %q", loc)
	}
	c := stub.Calls()[0]
	wantForm(t, c, map[string]string{
		"ui_mode":                 "hosted",
		"success_url":             "https://shop.example/return.html?session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":              "https://shop.example/shop/",
		"line_items[0][quantity]": "3",
		"customer_email":          "jenny@example.com",
		"metadata[kit_cart]":      "mug:3:1200",
	})
	wantAbsent(t, c, "return_url")

	// items= uses the snippet's cart syntax.
	rec = send(t, srv, "POST", "/create-checkout-session", form, "items=mug%3A2%2C+tshirt")
	if rec.Code != 303 {
		t.Fatalf("items form: %d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Calls()[1], map[string]string{"metadata[kit_cart]": "mug:2:1200,tshirt:1:2000", "line_items[1][quantity]": "1"})

	// An empty form buys the default item, like an empty JSON body.
	if rec := send(t, srv, "POST", "/create-checkout-session", form, ""); rec.Code != 303 {
		t.Fatalf("empty form: %d %s", rec.Code, rec.Body)
	}
	// JSON callers still get JSON.
	rec = postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"mug"}],"uiMode":"hosted"}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"url":"https://checkout.stripe.com/`) || rec.Header().Get("Location") != "" {
		t.Errorf("JSON hosted: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestCheckoutFormErrors(t *testing.T) {
	cases := []struct{ name, body, code, param string }{
		{"unknown field", "product=mug&colour=red", "unknown_field", "colour"},
		{"repeated field", "product=mug&product=tshirt", "duplicate_field", "product"},
		{"both", "product=mug&items=tshirt", "invalid_items", "items"},
		{"quantity without product", "quantity=2", "missing_id", "product"},
		{"quantity with items", "items=mug&quantity=2", "invalid_items", "quantity"},
		{"bad quantity", "product=mug&quantity=two", "invalid_quantity", "items[0].quantity"},
		{"fraction", "product=mug&quantity=1.5", "invalid_quantity", "items[0].quantity"},
		{"over max", "product=mug&quantity=6", "invalid_quantity", "items[0].quantity"},
		{"quoted", "product=mug&quantity=%222%22", "invalid_quantity", "items[0].quantity"},
		{"unknown product", "product=yacht", "unknown_product", "items[0].id"},
		{"bad item quantity", "items=mug%3A0", "invalid_quantity", "items[0].quantity"},
		{"empty items", "items=+", "empty_cart", "items"},
		{"header injection", "product=mug&email=a%40b.com%0D%0ABcc%3A+c%40d.com", "invalid_email", "email"},
		{"open redirect", "product=mug&returnPath=%2F%2Fevil.example%2F", "invalid_return_path", "returnPath"},
		{"malformed", "product=%zz", "invalid_form", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := newStubServer(t, nil)
			rec := send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, tc.body)
			checkError(t, rec, 400, tc.code, tc.param)
			if len(stub.Calls()) != 0 {
				t.Error("Stripe was called")
			}
		})
	}
}

// failingStore is an order store whose stock reservations fail (D1 down).
type failingStore struct{ *orders.MemStore }

func (failingStore) Reserve(context.Context, string, []orders.StockLine, time.Time, time.Time) (orders.Reservation, error) {
	return orders.OutOfStock, errors.New("d1 down")
}

// holding returns a store where another order holds n of "limited".
func holding(t *testing.T, n int64) orders.Store {
	st := orders.NewMemStore()
	if r, err := st.Reserve(context.Background(), "ord_other", []orders.StockLine{{Product: "limited", Quantity: n, Stock: 3}}, time.Now().Add(time.Hour), time.Now()); r != orders.Reserved || err != nil {
		t.Fatal(r, err)
	}
	return st
}

func TestApprovalRefusalsCreateNothing(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		header map[string]string
		store  func(t *testing.T) orders.Store
		status int
		code   string
		param  string
	}{
		{"static stock", `{"items":[{"id":"limited","quantity":4}]}`, nil, nil, 409, "out_of_stock", "items[0].quantity"},
		{"stock minus held", `{"items":[{"id":"plain"},{"id":"limited","quantity":2}]}`, nil, func(t *testing.T) orders.Store { return holding(t, 2) }, 409, "out_of_stock", "items[1].quantity"},
		{"sold out", `{"items":[{"id":"limited","quantity":1}]}`, nil, func(t *testing.T) orders.Store { return holding(t, 3) }, 409, "out_of_stock", "items[0].quantity"},
		{"store failing", `{"items":[{"id":"limited","quantity":1}]}`, nil, func(t *testing.T) orders.Store { return failingStore{orders.NewMemStore()} }, 503, "stock_unavailable", ""},
		{"max order amount", `{"items":[{"id":"plain","quantity":9},{"id":"limited","quantity":3}]}`, nil, nil, 422, "order_amount_too_large", "items"},
		{"refused email domain", `{"items":[{"id":"plain"}],"email":"x@blocked.example"}`, nil, nil, 422, "email_refused", "email"},
		{"refused email subdomain", `{"items":[{"id":"plain"}],"email":"x@mail.Blocked.example"}`, nil, nil, 422, "email_refused", "email"},
		{"refused declared country", `{"items":[{"id":"plain"}],"country":"aq"}`, nil, nil, 422, "country_refused", "country"},
		{"refused IP country", `{"items":[{"id":"plain"}]}`, map[string]string{"CF-IPCountry": "AQ"}, nil, 422, "country_refused", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
			if tc.store != nil {
				srv = srv.withDeps(func(d *Deps) { d.Store = tc.store(t) })
			}
			for _, path := range []string{"/create-checkout-session", "/create-confirm-intent"} {
				body := tc.body
				if path == "/create-confirm-intent" {
					body = strings.Replace(body, `{"items"`, `{"confirmationToken":"ctoken_1","items"`, 1)
				}
				hdr := map[string]string{"Content-Type": "application/json"}
				for k, v := range tc.header {
					hdr[k] = v
				}
				eb := checkError(t, send(t, srv, "POST", path, hdr, body), tc.status, tc.code, tc.param)
				if eb.Error.Message == "" {
					t.Error("no message")
				}
			}
			// A refusal creates nothing; one the cart alone decides
			// does not even read the ConfirmationToken.
			if n := len(stub.Creates()); n != 0 {
				t.Errorf("Stripe called %d times to create after a refusal", n)
			}
			if n := len(stub.Calls()); tc.store == nil && n != 0 {
				t.Errorf("Stripe called %d times after a refusal: %+v", n, stub.Calls())
			}
		})
	}
}

func TestApprovalRulesLetGoodOrdersThrough(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
	srv = srv.withDeps(func(d *Deps) { d.Store = holding(t, 1) })
	hdr := map[string]string{"Content-Type": "application/json", "CF-IPCountry": "XX"}
	rec := send(t, srv, "POST", "/create-checkout-session", hdr, `{"items":[{"id":"limited","quantity":2}],"email":"x@notblocked.example","country":"DE"}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if len(stub.Calls()) != 1 {
		t.Fatal("no session created")
	}
}

func TestCustomApprovalRuleSeesTheOrder(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
	var seen []Order
	rule := ApprovalFunc(func(_ context.Context, o *Order) *Refusal {
		seen = append(seen, *o)
		if o.Amount > 3000 {
			return &Refusal{Status: 409, Code: "needs_review", Message: "big orders are reviewed by phone"}
		}
		return nil
	})
	srv = srv.withDeps(func(d *Deps) { d.Rules = []ApprovalRule{rule} })
	hdr := map[string]string{"Content-Type": "application/json", "CF-IPCountry": "de"}
	if rec := send(t, srv, "POST", "/create-checkout-session", hdr, `{"items":[{"id":"rental","quantity":1}],"email":"a@b.example"}`); rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkError(t, send(t, srv, "POST", "/create-confirm-intent", hdr, `{"items":[{"id":"rental","quantity":2}],"confirmationToken":"ctoken_1"}`), 409, "needs_review", "")
	if len(seen) != 2 || len(stub.Calls()) != 2 || len(stub.Creates()) != 1 || stub.Calls()[1].Path != "/v1/confirmation_tokens/ctoken_1" {
		t.Fatalf("rule ran %d times, Stripe called %+v", len(seen), stub.Calls())
	}
	// The pay page's rules see the payment method; Checkout's cannot.
	if pm := seen[1].PaymentMethod; pm == nil || pm.Type != "card" || pm.CardBrand != "visa" || pm.CardFunding != "credit" || pm.CardCountry != "US" || seen[0].PaymentMethod != nil {
		t.Errorf("payment method seen: checkout %+v, pay page %+v", seen[0].PaymentMethod, seen[1].PaymentMethod)
	}
	o := seen[0]
	if o.Flow != FlowCheckout || o.Stage != StageBeforeCreate || o.Amount != 2000 || o.Currency != "usd" || o.Capture != CaptureManual || !o.Incremental ||
		o.Email != "a@b.example" || o.IPCountry != "DE" || o.Cart() != "rental:1:2000" || !orderRefRE.MatchString(o.Ref) {
		t.Errorf("order = %+v", o)
	}
	if seen[1].Flow != FlowConfirmIntent || seen[1].Amount != 4000 {
		t.Errorf("second order = %+v", seen[1])
	}
	// A refusal with a status outside 4xx becomes 422.
	srv2, _ := newStubServer(t, nil)
	srv2 = srv2.withDeps(func(d *Deps) {
		d.Rules = []ApprovalRule{ApprovalFunc(func(context.Context, *Order) *Refusal { return &Refusal{Status: 200, Code: "no", Message: "no"} })}
	})
	checkError(t, postJSON(t, srv2, "/create-checkout-session", `{"items":[{"id":"mug"}]}`), 422, "no", "")
}

func TestCustomerTokens(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	tok, exp := srv.mintCustomerToken("cus_A1", time.Hour)
	if cus, err := srv.verifyCustomerToken(tok); err != nil || cus != "cus_A1" {
		t.Fatalf("verify = %q, %v", cus, err)
	}
	if exp < time.Now().Add(59*time.Minute).Unix() {
		t.Errorf("exp = %d", exp)
	}
	parts := strings.Split(tok, ".")
	tampered := parts[0] + ".cus_B2." + parts[2] + "." + parts[3]
	extended := parts[0] + "." + parts[1] + ".9999999999." + parts[3]
	old, _ := srv.mintCustomerToken("cus_A1", -time.Minute)
	for name, bad := range map[string]string{"other customer": tampered, "later expiry": extended, "garbage": "v1.cus_A1", "path": "v1.cus_A1/../x.1.0123456789abcdef0123456789abcdef"} {
		if _, err := srv.verifyCustomerToken(bad); err == nil || err.Code != "invalid_customer_token" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := srv.verifyCustomerToken(old); err == nil || err.Code != "customer_token_expired" {
		t.Errorf("expired: %v", err)
	}
	// Email and a customer together are refused (Stripe takes one or the other).
	checkError(t, postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"mug"}],"email":"a@b.example","customerToken":"`+tok+`"}`), 400, "email_with_customer", "email")
	// Without CUSTOMER_TOKEN_SECRET, tokens are refused.
	off, _ := newStubServer(t, map[string]string{"CUSTOMER_TOKEN_SECRET": ""})
	checkError(t, postJSON(t, off, "/create-checkout-session", `{"items":[{"id":"mug"}],"customerToken":"`+tok+`"}`), 400, "customer_tokens_disabled", "customerToken")
	if len(stub.Calls()) != 0 {
		t.Error("Stripe called")
	}
	// The operator API issues them.
	rec := adminCall(t, srv, "POST", "/admin/customer_tokens", `{"customer":"cus_Z9","ttl_seconds":600}`)
	var got struct {
		Token, Customer string
		ExpiresAt       int64 `json:"expires_at"`
	}
	json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != 200 || got.Customer != "cus_Z9" {
		t.Fatalf("mint: %d %s", rec.Code, rec.Body)
	}
	if cus, err := srv.verifyCustomerToken(got.Token); err != nil || cus != "cus_Z9" {
		t.Errorf("minted token: %q %v", cus, err)
	}
	checkError(t, adminCall(t, srv, "POST", "/admin/customer_tokens", `{"customer":"cus_Z9","ttl_seconds":5}`), 400, "invalid_ttl", "ttl_seconds")
	checkError(t, adminCall(t, srv, "POST", "/admin/customer_tokens", `{"customer":"acct_1"}`), 400, "invalid_customer", "customer")
	checkError(t, adminCall(t, off, "POST", "/admin/customer_tokens", `{"customer":"cus_Z9"}`), 409, "customer_tokens_disabled", "")
	if rec := send(t, srv, "POST", "/admin/customer_tokens", map[string]string{"Content-Type": "application/json"}, `{"customer":"cus_Z9"}`); rec.Code != 401 {
		t.Errorf("without the admin token: %d", rec.Code)
	}
}

func TestConfirmIntentCreatesAndConfirms(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
	rec := postJSON(t, srv, "http://shop.example/create-confirm-intent", `{"items":[{"id":"rental","quantity":2}],"confirmationToken":"ctoken_1Abc","email":"jenny@example.com","idempotencyKey":"attempt-000001"}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var ans map[string]any
	json.Unmarshal(rec.Body.Bytes(), &ans)
	if ans["client_secret"] != "pi_123_secret_abc" || ans["status"] != "succeeded" || ans["id"] != "pi_123" {
		t.Errorf("answer = %v", ans)
	}
	if c := stub.Calls()[0]; c.Method != "GET" || c.Path != "/v1/confirmation_tokens/ctoken_1Abc" {
		t.Fatalf("first call = %s %s, want the ConfirmationToken read", c.Method, c.Path)
	}
	c := stub.Creates()[0]
	if c.Method != "POST" || c.Path != "/v1/payment_intents" {
		t.Fatalf("call = %s %s", c.Method, c.Path)
	}
	ref := c.Form.Get("metadata[kit_order]")
	if !orderRefRE.MatchString(ref) {
		t.Errorf("kit_order = %q", ref)
	}
	wantForm(t, c, map[string]string{
		"amount":                             "4000",
		"currency":                           "usd",
		"confirm":                            "true",
		"confirmation_token":                 "ctoken_1Abc",
		"automatic_payment_methods[enabled]": "true",
		"return_url":                         "http://shop.example/pay.html",
		"capture_method":                     "manual",
		"payment_method_options[card][request_incremental_authorization]": "if_available",
		"metadata[kit_cart]": "rental:2:2000",
		"receipt_email":      "jenny@example.com",
	})
	wantAbsent(t, c, "payment_method_types", "setup_future_usage", "customer")
	if !regexp.MustCompile(`^kit-pi-[0-9a-f]{32}$`).MatchString(c.Idem) {
		t.Errorf("Idempotency-Key = %q", c.Idem)
	}

	// Automatic capture, saving, return path, requires_action.
	stub.set("POST /v1/payment_intents", 200, `{"id":"pi_3ds","object":"payment_intent","amount":1500,"currency":"usd","status":"requires_action","client_secret":"pi_3ds_secret_x","next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{"type":"three_d_secure_redirect"}}}`)
	rec = postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"member"}],"confirmationToken":"ctoken_2","returnPath":"/shop/pay/","email":"sam@example.com"}`)
	json.Unmarshal(rec.Body.Bytes(), &ans)
	if rec.Code != 200 || ans["status"] != "requires_action" || ans["next_action"] != "use_stripe_sdk" || ans["client_secret"] != "pi_3ds_secret_x" {
		t.Errorf("requires_action answer: %d %s", rec.Code, rec.Body)
	}
	// The saved payment method gets a Customer with the shopper's email.
	cus := stub.Creates()[1]
	if cus.Path != "/v1/customers" || cus.Form.Get("email") != "sam@example.com" || !regexp.MustCompile(`^kit-cus-ord_[0-9a-f]{16}$`).MatchString(cus.Idem) {
		t.Errorf("customer call = %s %v key %q", cus.Path, cus.Form, cus.Idem)
	}
	c = stub.Creates()[2]
	wantForm(t, c, map[string]string{"setup_future_usage": "off_session", "return_url": "http://example.com/shop/pay/", "customer": "cus_new1", "receipt_email": "sam@example.com"})
	wantAbsent(t, c, "capture_method", "payment_method_options[card][request_incremental_authorization]")
	if !strings.HasPrefix(c.Idem, "kit-pi-ord_") {
		t.Errorf("Idempotency-Key without a client key = %q", c.Idem)
	}
}

func TestConfirmIntentReturnURLFollowsPublicURL(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"PUBLIC_URL": "https://www.example.com/shop"})
	if rec := postJSON(t, srv, "http://worker.example/create-confirm-intent", `{"items":[{"id":"stove-rental"}],"confirmationToken":"ctoken_1"}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	postJSON(t, srv, "http://worker.example/create-confirm-intent", `{"items":[{"id":"stove-rental"}],"confirmationToken":"ctoken_2","returnPath":"/elsewhere/pay"}`)
	calls := stub.Creates()
	wantForm(t, calls[0], map[string]string{"return_url": "https://www.example.com/shop/pay.html"})
	wantForm(t, calls[1], map[string]string{"return_url": "https://www.example.com/elsewhere/pay"})
}

func TestConfirmIntentDecline(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("POST /v1/payment_intents", 402, stubDecline)
	rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"stove-rental"}],"confirmationToken":"ctoken_9"}`)
	eb := checkError(t, rec, 402, "card_declined", "")
	var full struct {
		Error struct {
			DeclineCode   string `json:"decline_code"`
			PaymentIntent string `json:"payment_intent"`
		}
	}
	json.Unmarshal(rec.Body.Bytes(), &full)
	if full.Error.DeclineCode != "insufficient_funds" || full.Error.PaymentIntent != "pi_declined" || eb.Error.RequestID != "req_stub1" {
		t.Errorf("decline = %s", rec.Body)
	}
	if eb.Error.Message != "Your card has insufficient funds." {
		t.Errorf("message = %q", eb.Error.Message)
	}
}

func TestConfirmIntentBadRequests(t *testing.T) {
	cases := []struct{ name, body, code, param string }{
		{"empty body", ``, "missing_items", "items"},
		{"no token", `{"items":[{"id":"mug"}]}`, "missing_confirmation_token", "confirmationToken"},
		{"payment method instead", `{"items":[{"id":"mug"}],"confirmationToken":"pm_123"}`, "invalid_confirmation_token", "confirmationToken"},
		{"token with path", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_1/../x"}`, "invalid_confirmation_token", "confirmationToken"},
		{"no items", `{"confirmationToken":"ctoken_1"}`, "missing_items", "items"},
		{"unknown product", `{"items":[{"id":"yacht"}],"confirmationToken":"ctoken_1"}`, "unknown_product", "items[0].id"},
		{"quantity", `{"items":[{"id":"mug","quantity":0}],"confirmationToken":"ctoken_1"}`, "invalid_quantity", "items[0].quantity"},
		{"amount field", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_1","amount":1}`, "unknown_field", "amount"},
		{"return path", `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_1","returnPath":"https://evil.example/"}`, "invalid_return_path", "returnPath"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := newStubServer(t, nil)
			checkError(t, postJSON(t, srv, "/create-confirm-intent", tc.body), 400, tc.code, tc.param)
			if len(stub.Calls()) != 0 {
				t.Error("Stripe called")
			}
		})
	}
	srv, _ := newStubServer(t, nil)
	if rec := send(t, srv, "GET", "/create-confirm-intent", nil, ""); rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
}

func TestCartTooLongForMetadata(t *testing.T) {
	var products, items []string
	for i := 0; i < 20; i++ {
		id := strings.Repeat(string(rune('a'+i)), 40)
		products = append(products, `{"id":"`+id+`","name":"P","unit_amount":1,"currency":"usd"}`)
		items = append(items, `{"id":"`+id+`"}`)
	}
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": `{"products":[` + strings.Join(products, ",") + `]}`})
	checkError(t, postJSON(t, srv, "/create-checkout-session", `{"items":[`+strings.Join(items, ",")+`]}`), 400, "too_many_items", "items")
	if len(stub.Calls()) != 0 {
		t.Error("Stripe called")
	}
}

func TestSessionStatusNamesManualCapture(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
	for cart, want := range map[string]string{"rental:1": "manual", "plain:2,limited:1": "", "gone:1": "", "": ""} {
		stub.set("GET /v1/checkout/sessions/cs_test_m1", 200, `{"id":"cs_test_m1","object":"checkout.session","status":"complete","payment_status":"unpaid","metadata":{"kit_cart":"`+cart+`"}}`)
		rec := send(t, srv, "GET", "/session-status?session_id=cs_test_m1", nil, "")
		var got map[string]string
		json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != 200 || got["capture_method"] != want {
			t.Errorf("cart %q: %d %s, want capture_method %q", cart, rec.Code, rec.Body, want)
		}
	}
}

// GET /session_status (Stripe's quickstart client) is /session-status: the
// same answer, the same bad-input errors, and no other method.
func TestSessionStatusAlias(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": testCatalog})
	stub.set("GET /v1/checkout/sessions/cs_test_m1", 200, `{"id":"cs_test_m1","object":"checkout.session","status":"complete","payment_status":"paid","customer_details":{"email":"jenny@example.com"},"metadata":{"kit_cart":"rental:1"}}`)
	dash := send(t, srv, "GET", "/session-status?session_id=cs_test_m1", nil, "")
	under := send(t, srv, "GET", "/session_status?session_id=cs_test_m1", nil, "")
	if dash.Code != 200 || under.Code != 200 || dash.Body.String() != under.Body.String() {
		t.Errorf("/session-status %d %s; /session_status %d %s: want the same 200", dash.Code, dash.Body, under.Code, under.Body)
	}
	if !strings.Contains(under.Body.String(), `"status":"complete"`) {
		t.Errorf("/session_status body %s, want the session's status", under.Body)
	}
	if rec := send(t, srv, "GET", "/session_status?session_id=nope", nil, ""); rec.Code != 400 || !strings.Contains(rec.Body.String(), "session_id") {
		t.Errorf("bad session_id: %d %s, want 400 naming session_id", rec.Code, rec.Body)
	}
	if rec := send(t, srv, "POST", "/session_status?session_id=cs_test_m1", nil, ""); rec.Code != 405 {
		t.Errorf("POST /session_status: %d %s, want 405", rec.Code, rec.Body)
	}
}
