// The hardening suites (bad input, load) run against their own stack, started
// by TestMain (main_test.go): ADMIN_TOKEN set, and a catalog with two currencies
// (testdata/two-currencies.json as CATALOG_JSON).
//
//	go test -count=1 -run TestBadRequests ./scripts/e2e/hardening    # needs dist/ built (make build)

package hardening

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// badRequest is one request the worker must refuse: a 4xx with
// {"error":{"code","message"}}, one of codes, and nothing done.
type badRequest struct {
	name   string
	method string
	path   string
	header map[string]string
	body   string
	status int
	codes  []string
	// check, if set, asserts more about the answer.
	check func(t *testing.T, r e2e.Response)
	// chunked: the body is sent without Content-Length (sendChunked).
	chunked bool
}

// jsonPost is a POST of body as application/json.
func jsonPost(name, path, body string, status int, codes ...string) badRequest {
	return badRequest{name: name, method: "POST", path: path, header: map[string]string{"Content-Type": "application/json"}, body: body, status: status, codes: codes}
}

func get(name, path string, status int, codes ...string) badRequest {
	return badRequest{name: name, method: "GET", path: path, status: status, codes: codes}
}

// adminPost is an operator POST with the right token and a JSON body.
func adminPost(name, path, token, body string, status int, codes ...string) badRequest {
	return jsonPost(name, path, body, status, codes...).with("Authorization", "Bearer "+token)
}

// formPost is an HTML form's POST.
func formPost(name, body string, status int, codes ...string) badRequest {
	return jsonPost(name, createPath, body, status, codes...).with("Content-Type", "application/x-www-form-urlencoded")
}

// sentChunked is b with its body sent chunked, without a Content-Length.
func (b badRequest) sentChunked() badRequest {
	b.name += ", chunked"
	b.chunked = true
	return b
}

func (b badRequest) with(k, v string) badRequest {
	h := map[string]string{}
	for hk, hv := range b.header {
		h[hk] = hv
	}
	h[k] = v
	b.header = h
	return b
}

// probe reads state a bad request must not change. The sandbox's request log
// proves no Stripe call; the order store (GET /admin/orders) will prove
// nothing was written once the worker has one.
type probe struct {
	name string
	read func(t *testing.T) string
}

func sandboxRequestCount(t *testing.T) string {
	var log struct{ Requests []json.RawMessage }
	e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/requests", "", ""), &log)
	return fmt.Sprint(len(log.Requests), " Stripe API calls")
}

// badInputProbes: no bad request may call Stripe, nor record or change an
// order (orderStoreState, webhook_probe_test.go).
var badInputProbes = []probe{
	{"Stripe calls (sandbox request log)", sandboxRequestCount},
	{"orders (GET /admin/orders)", orderStoreState},
}

// signed returns a Stripe-Signature header for body, made with secret at t.
func signed(secret string, t int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t, body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(mac.Sum(nil)))
}

// webhookPost is a POST /webhook of body with the given signature header.
func webhookPost(name, body, signature string, status int, codes ...string) badRequest {
	b := jsonPost(name, "/webhook", body, status, codes...)
	if signature != "" {
		b = b.with("Stripe-Signature", signature)
	}
	return b
}

// adminToken is the ADMIN_TOKEN the stack's worker was started with.
func adminToken(t *testing.T) string {
	t.Helper()
	tok := os.Getenv("ADMIN_TOKEN")
	if len(tok) < 32 {
		t.Fatal("ADMIN_TOKEN (32+ characters) is not set: the suite's TestMain passes it to the worker")
	}
	return tok
}

const (
	createPath  = "/create-checkout-session"
	statusPath  = "/session-status"
	confirmPath = "/create-confirm-intent"
	intentPath  = "/admin/payment_intents/pi_3Hardening"
)

func badRequests(t *testing.T) []badRequest {
	tok := adminToken(t)
	allowed := os.Getenv("ALLOWED_ORIGINS")
	if i := strings.IndexByte(allowed, ','); i >= 0 {
		allowed = allowed[:i]
	}
	if allowed == "" {
		t.Fatal("ALLOWED_ORIGINS is not set (the suite's TestMain sets it)")
	}
	const evil = "https://evil.example"
	noCORS := func(t *testing.T, r e2e.Response) {
		if v := r.Header.Get("Access-Control-Allow-Methods"); v != "" {
			t.Errorf("refused preflight approves methods %q", v)
		}
		if v := r.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("refused preflight carries Access-Control-Allow-Origin %q", v)
		}
	}
	deep := `{"items":` + strings.Repeat("[", 7000) + strings.Repeat("]", 7000) + `}`
	whsec := os.Getenv("STRIPE_WEBHOOK_SECRET")
	if !strings.HasPrefix(whsec, "whsec_") {
		t.Fatal("STRIPE_WEBHOOK_SECRET is not set (the stack sets it for the worker and the sandbox)")
	}
	now := time.Now().Unix()
	event := `{"id":"evt_hardening","object":"event","api_version":"2025-08-27.basil","type":"checkout.session.completed","data":{"object":{"id":"cs_test_hardening","object":"checkout.session"}}}`
	charge := `{"id":"ch_1","object":"charge","type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`
	bigEvent := strings.Replace(event, `"object":"checkout.session"`, `"object":"checkout.session","padding":"`+strings.Repeat("p", 300<<10)+`"`, 1)
	var lines []string
	for i := 0; i < 21; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":"p%d","quantity":1}`, i))
	}
	cases := []badRequest{
		// Malformed, truncated and wrongly typed JSON.
		jsonPost("malformed JSON", createPath, `{"items":[{"id":"mug",}]}`, 400, "invalid_json"),
		jsonPost("truncated JSON", createPath, `{"items":[{"id":"mug","quantity":1}`, 400, "invalid_json"),
		jsonPost("truncated in a string", createPath, `{"items":[{"id":"mu`, 400, "invalid_json"),
		jsonPost("single quotes", createPath, `{'items':[]}`, 400, "invalid_json"),
		jsonPost("two JSON values", createPath, `{"items":[{"id":"mug"}]} {"items":[]}`, 400, "invalid_json"),
		jsonPost("trailing garbage", createPath, `{"items":[{"id":"mug"}]}x`, 400, "invalid_json"),
		jsonPost("a list, not an object", createPath, `[{"id":"mug"}]`, 400, "invalid_field_type"),
		jsonPost("a string, not an object", createPath, `"mug"`, 400, "invalid_field_type"),
		jsonPost("null body", createPath, `null`, 400, "missing_items"),
		jsonPost("deeply nested (7,000 levels)", createPath, deep, 400, "invalid_field_type", "invalid_json"),
		jsonPost("invalid UTF-8", createPath, "{\"items\":[{\"id\":\"mug\xff\xfe\"}]}", 400, "unknown_product", "invalid_json"),
		// Wrong content types.
		jsonPost("text/plain", createPath, `{"items":[{"id":"mug"}]}`, 415, "unsupported_media_type").with("Content-Type", "text/plain"),
		jsonPost("multipart", createPath, "--b\r\nContent-Disposition: form-data; name=\"items\"\r\n\r\nmug\r\n--b--\r\n", 415, "unsupported_media_type").with("Content-Type", "multipart/form-data; boundary=b"),
		jsonPost("malformed media type", createPath, `{"items":[{"id":"mug"}]}`, 415, "unsupported_media_type").with("Content-Type", "application/json; charset"),
		jsonPost("JSON look-alike type", createPath, `{"items":[{"id":"mug"}]}`, 415, "unsupported_media_type").with("Content-Type", "application/jsonp"),
		{name: "body without Content-Type", method: "POST", path: createPath, body: `{"items":[{"id":"mug"}]}`, status: 415, codes: []string{"unsupported_media_type"}},
		// Unknown fields: nothing but ids and quantities may name a price.
		jsonPost("unknown top-level field", createPath, `{"items":[{"id":"mug","quantity":1}],"amount":1}`, 400, "unknown_field"),
		jsonPost("unit_amount on an item", createPath, `{"items":[{"id":"mug","quantity":1,"unit_amount":1}]}`, 400, "unknown_field"),
		jsonPost("price on an item", createPath, `{"items":[{"id":"mug","price":"price_cheap"}]}`, 400, "unknown_field"),
		jsonPost("currency on an item", createPath, `{"items":[{"id":"mug","currency":"jpy"}]}`, 400, "unknown_field"),
		jsonPost("success_url", createPath, `{"items":[{"id":"mug"}],"success_url":"https://evil.example/"}`, 400, "unknown_field"),
		// Bodies over the limit (16 KiB).
		jsonPost("body of 17 KB", createPath, `{"items":[{"id":"mug","quantity":1}],"returnPath":"/`+strings.Repeat("a", 17<<10)+`"}`, 413, "body_too_large"),
		jsonPost("body of 1 MB", createPath, strings.Repeat(" ", 1<<20)+`{}`, 413, "body_too_large"),
		// Quantities.
		jsonPost("quantity 0", createPath, `{"items":[{"id":"mug","quantity":0}]}`, 400, "invalid_quantity"),
		jsonPost("quantity -1", createPath, `{"items":[{"id":"mug","quantity":-1}]}`, 400, "invalid_quantity"),
		jsonPost("quantity over the product's maximum", createPath, `{"items":[{"id":"mug","quantity":6}]}`, 400, "invalid_quantity"),
		jsonPost("quantity 1,000,000", createPath, `{"items":[{"id":"mug","quantity":1000000}]}`, 400, "invalid_quantity"),
		jsonPost("quantity past int64", createPath, `{"items":[{"id":"mug","quantity":99999999999999999999}]}`, 400, "invalid_quantity"),
		jsonPost("quantity 1.5", createPath, `{"items":[{"id":"mug","quantity":1.5}]}`, 400, "invalid_quantity"),
		jsonPost("quantity 1e3", createPath, `{"items":[{"id":"mug","quantity":1e3}]}`, 400, "invalid_quantity"),
		jsonPost("quantity as a string", createPath, `{"items":[{"id":"mug","quantity":"2"}]}`, 400, "invalid_quantity"),
		jsonPost("quantity true", createPath, `{"items":[{"id":"mug","quantity":true}]}`, 400, "invalid_quantity"),
		jsonPost("quantity as a list", createPath, `{"items":[{"id":"mug","quantity":[1]}]}`, 400, "invalid_quantity"),
		// Products and carts.
		jsonPost("unknown product", createPath, `{"items":[{"id":"yacht","quantity":1}]}`, 400, "unknown_product"),
		jsonPost("product id with a path", createPath, `{"items":[{"id":"../mug","quantity":1}]}`, 400, "unknown_product"),
		jsonPost("product id differing in case", createPath, `{"items":[{"id":"MUG","quantity":1}]}`, 400, "unknown_product"),
		jsonPost("missing product id", createPath, `{"items":[{"quantity":1}]}`, 400, "missing_id"),
		jsonPost("product id as a number", createPath, `{"items":[{"id":7,"quantity":1}]}`, 400, "invalid_field_type"),
		jsonPost("empty cart", createPath, `{"items":[]}`, 400, "empty_cart"),
		jsonPost("items null", createPath, `{"items":null}`, 400, "missing_items"),
		jsonPost("items an object", createPath, `{"items":{"id":"mug"}}`, 400, "invalid_field_type"),
		jsonPost("21 cart lines", createPath, `{"items":[`+strings.Join(lines, ",")+`]}`, 400, "too_many_items"),
		jsonPost("the same product twice", createPath, `{"items":[{"id":"mug","quantity":1},{"id":"mug","quantity":1}]}`, 400, "duplicate_product"),
		jsonPost("mixed currencies", createPath, `{"items":[{"id":"mug","quantity":1},{"id":"euro-mug","quantity":1}]}`, 400, "mixed_currencies"),
		// Return options: paths on the site only.
		jsonPost("unknown uiMode", createPath, `{"items":[{"id":"mug"}],"uiMode":"popup"}`, 400, "invalid_ui_mode"),
		jsonPost("unknown redirectOnCompletion", createPath, `{"items":[{"id":"mug"}],"redirectOnCompletion":"sometimes"}`, 400, "invalid_redirect_on_completion"),
		jsonPost("returnPath an absolute URL", createPath, `{"items":[{"id":"mug"}],"returnPath":"https://evil.example/"}`, 400, "invalid_return_path"),
		jsonPost("returnPath protocol-relative", createPath, `{"items":[{"id":"mug"}],"returnPath":"//evil.example/x"}`, 400, "invalid_return_path"),
		jsonPost("returnPath with CRLF (header injection)", createPath, `{"items":[{"id":"mug"}],"returnPath":"/ok\r\nSet-Cookie: a=b"}`, 400, "invalid_return_path"),
		jsonPost("returnPath smuggling a query", createPath, `{"items":[{"id":"mug"}],"returnPath":"/r?session_id=cs_test_x"}`, 400, "invalid_return_path"),
		jsonPost("returnPath with a backslash", createPath, `{"items":[{"id":"mug"}],"returnPath":"/\\evil.example"}`, 400, "invalid_return_path"),
		jsonPost("cancelPath on embedded Checkout", createPath, `{"items":[{"id":"mug"}],"cancelPath":"/cart"}`, 400, "invalid_cancel_path"),
		// Header injection through the email field (Checkout's customer_email).
		jsonPost("email with CRLF and Bcc", createPath, `{"items":[{"id":"mug"}],"email":"a@example.com\r\nBcc: all@example.com"}`, 400, "invalid_email"),
		jsonPost("email with an encoded newline", createPath, `{"items":[{"id":"mug"}],"email":"a@example.com\u000aX-Injected: 1"}`, 400, "invalid_email"),
		jsonPost("two emails", createPath, `{"items":[{"id":"mug"}],"email":"a@example.com, b@example.com"}`, 400, "invalid_email"),
		jsonPost("customer_email (Stripe's name)", createPath, `{"items":[{"id":"mug"}],"customer_email":"a@example.com"}`, 400, "unknown_field"),
		// Origins.
		jsonPost("disallowed origin", createPath, `{"items":[{"id":"mug"}]}`, 403, "origin_not_allowed").with("Origin", evil),
		jsonPost("origin null", createPath, `{"items":[{"id":"mug"}]}`, 403, "origin_not_allowed").with("Origin", "null"),
		jsonPost("origin differing only in scheme", createPath, `{"items":[{"id":"mug"}]}`, 403, "origin_not_allowed").with("Origin", strings.Replace(allowed, "http://", "https://", 1)),
		{name: "disallowed preflight", method: "OPTIONS", path: createPath, header: map[string]string{"Origin": evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, status: 403, codes: []string{"origin_not_allowed"}, check: noCORS},
		get("disallowed origin on /config", "/config", 403, "origin_not_allowed").with("Origin", evil),
		get("disallowed origin on /session-status", statusPath+"?session_id=cs_test_a1", 403, "origin_not_allowed").with("Origin", evil),
		// Wrong methods.
		get("GET on create", createPath, 405, "method_not_allowed"),
		{name: "PUT on create", method: "PUT", path: createPath, header: map[string]string{"Content-Type": "application/json"}, body: `{"items":[{"id":"mug"}]}`, status: 405, codes: []string{"method_not_allowed"}},
		{name: "DELETE on /config", method: "DELETE", path: "/config", status: 405, codes: []string{"method_not_allowed"}},
		jsonPost("POST on /session-status", statusPath+"?session_id=cs_test_a1", `{}`, 405, "method_not_allowed"),
		// Session ids.
		get("missing session_id", statusPath, 400, "missing_session_id"),
		get("empty session_id", statusPath+"?session_id=", 400, "missing_session_id"),
		get("a PaymentIntent id", statusPath+"?session_id=pi_123", 400, "invalid_session_id"),
		get("session id with a path", statusPath+"?session_id=cs_test_x%2F..%2F..%2Fv1%2Fcustomers", 400, "invalid_session_id"),
		get("session id with a query", statusPath+"?session_id=cs_test_a%3Fexpand%5B%5D%3Dcustomer", 400, "invalid_session_id"),
		get("session id with CRLF", statusPath+"?session_id=cs_test_a%0D%0AX-Injected:%201", 400, "invalid_session_id"),
		get("session id twice", statusPath+"?session_id=cs_test_a&session_id=cs_test_b", 400, "invalid_session_id"),
		get("session id of 209 characters", statusPath+"?session_id=cs_test_"+strings.Repeat("a", 201), 400, "invalid_session_id"),
		get("session id with a non-ASCII letter", statusPath+"?session_id=cs_test_%C3%A4", 400, "invalid_session_id"),
		get("session id in upper case prefix", statusPath+"?session_id=CS_TEST_a1", 400, "invalid_session_id"),
		// The operator API.
		get("admin without a token", "/admin/ping", 401, "missing_token"),
		get("admin with a wrong token", "/admin/ping", 401, "invalid_token").with("Authorization", "Bearer "+strings.Repeat("0", len(tok))),
		get("admin with a truncated token", "/admin/ping", 401, "invalid_token").with("Authorization", "Bearer "+tok[:len(tok)-1]),
		get("admin with the token and more", "/admin/ping", 401, "invalid_token").with("Authorization", "Bearer "+tok+"x"),
		get("admin with Basic auth", "/admin/ping", 401, "missing_token").with("Authorization", "Basic "+tok),
		get("admin with an empty bearer", "/admin/ping", 401, "missing_token").with("Authorization", "Bearer "),
		get("admin token in the query", "/admin/ping?token="+tok, 401, "missing_token"),
		get("admin from an allowed origin", "/admin/ping", 403, "cross_origin_admin").with("Authorization", "Bearer "+tok).with("Origin", allowed),
		get("admin from another origin", "/admin/ping", 403, "cross_origin_admin").with("Authorization", "Bearer "+tok).with("Origin", evil),
		{name: "admin preflight from an allowed origin", method: "OPTIONS", path: "/admin/ping", header: map[string]string{"Origin": allowed, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}, status: 403, codes: []string{"cross_origin_admin"}, check: noCORS},
		// More create options.
		jsonPost("mixed capture methods", createPath, `{"items":[{"id":"mug","quantity":1},{"id":"rental","quantity":1}]}`, 400, "mixed_capture_methods"),
		jsonPost("country not an ISO code", createPath, `{"items":[{"id":"mug"}],"country":"Germany"}`, 400, "invalid_country"),
		jsonPost("idempotencyKey too short", createPath, `{"items":[{"id":"mug"}],"idempotencyKey":"abc"}`, 400, "invalid_idempotency_key"),
		jsonPost("idempotencyKey with a slash", createPath, `{"items":[{"id":"mug"}],"idempotencyKey":"order/12345678"}`, 400, "invalid_idempotency_key"),
		jsonPost("email with a display name", createPath, `{"items":[{"id":"mug"}],"email":"Jenny <jenny@example.com>"}`, 400, "invalid_email"),
		// The embed attributes data-checkout-reference, -promo and -locale. (An
		// unknown but well-formed promo is looked up at Stripe first: 422
		// promotion_code_invalid, in the browser suite and worker's host tests.)
		jsonPost("reference with a slash", createPath, `{"items":[{"id":"mug"}],"reference":"order/1"}`, 400, "invalid_reference"),
		jsonPost("reference too long", createPath, `{"items":[{"id":"mug"}],"reference":"`+strings.Repeat("r", 201)+`"}`, 400, "invalid_reference"),
		jsonPost("reference with CRLF", createPath, `{"items":[{"id":"mug"}],"reference":"a\r\nb"}`, 400, "invalid_reference"),
		jsonPost("promo with a space", createPath, `{"items":[{"id":"mug"}],"promo":"SAVE 10"}`, 400, "invalid_promo"),
		jsonPost("promo smuggling a query", createPath, `{"items":[{"id":"mug"}],"promo":"X&active=false"}`, 400, "invalid_promo"),
		jsonPost("locale not Stripe's", createPath, `{"items":[{"id":"mug"}],"locale":"klingon"}`, 400, "invalid_locale"),
		jsonPost("locale as a number", createPath, `{"items":[{"id":"mug"}],"locale":7}`, 400, "invalid_field_type"),
		jsonPost("forged customerToken", createPath, `{"items":[{"id":"mug"}],"customerToken":"v1.cus_forged.9999999999.00000000000000000000000000000000"}`, 400, "invalid_customer_token"),
		// HTML form posts (hosted Checkout without JavaScript).
		formPost("form with JSON-style fields", `items[0][id]=mug&items[0][quantity]=1`, 400, "unknown_field"),
		formPost("form naming a product twice", `product=mug&product=tshirt`, 400, "duplicate_field"),
		formPost("form with product and items", `product=mug&items=tshirt:1`, 400, "invalid_items"),
		formPost("form with a quantity and no product", `quantity=2`, 400, "missing_id"),
		formPost("form quantity in words", `product=mug&quantity=two`, 400, "invalid_quantity"),
		formPost("form with a bad escape", `product=mug%zz`, 400, "invalid_form"),
		formPost("form email with CRLF", `product=mug&email=a%40example.com%0D%0ABcc%3A+b%40example.com`, 400, "invalid_email"),
		formPost("form price field", `product=mug&unit_amount=1`, 400, "unknown_field"),
		// POST /create-confirm-intent (the pay page's server-side confirmation).
		jsonPost("confirm-intent without a body", confirmPath, ``, 400, "missing_items"),
		jsonPost("confirm-intent without a token", confirmPath, `{"items":[{"id":"mug"}]}`, 400, "missing_confirmation_token"),
		jsonPost("confirm-intent with a PaymentMethod id", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"pm_card_visa"}`, 400, "invalid_confirmation_token"),
		jsonPost("confirm-intent token with a path", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x/../../v1/customers"}`, 400, "invalid_confirmation_token"),
		jsonPost("confirm-intent with an amount", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x","amount":1}`, 400, "unknown_field"),
		jsonPost("confirm-intent quantity 0", confirmPath, `{"items":[{"id":"mug","quantity":0}],"confirmationToken":"ctoken_x"}`, 400, "invalid_quantity"),
		jsonPost("confirm-intent mixed currencies", confirmPath, `{"items":[{"id":"mug"},{"id":"euro-mug"}],"confirmationToken":"ctoken_x"}`, 400, "mixed_currencies"),
		jsonPost("confirm-intent email with CRLF", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x","email":"a@example.com\r\nBcc: b@example.com"}`, 400, "invalid_email"),
		jsonPost("confirm-intent returnPath elsewhere", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x","returnPath":"https://evil.example/"}`, 400, "invalid_return_path"),
		jsonPost("confirm-intent as text/plain", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x"}`, 415, "unsupported_media_type").with("Content-Type", "text/plain"),
		jsonPost("confirm-intent from a disallowed origin", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x"}`, 403, "origin_not_allowed").with("Origin", evil),
		// The pay page's goods: a shipping rate and custom fields (goods_intent.go).
		jsonPost("confirm-intent unknown shipping rate", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","shippingRate":"drone","customFields":{"size":"M"}}`, 400, "invalid_shipping_rate"),
		jsonPost("confirm-intent shipping rate smuggling a path", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","shippingRate":"../v1/customers","customFields":{"size":"M"}}`, 400, "invalid_shipping_rate"),
		jsonPost("confirm-intent shipping rate for nothing shipped", confirmPath, `{"items":[{"id":"mug"}],"confirmationToken":"ctoken_x","shippingRate":"standard"}`, 400, "unexpected_shipping_rate"),
		jsonPost("confirm-intent shipping rate as a number", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","shippingRate":5}`, 400, "invalid_field_type"),
		jsonPost("confirm-intent without the size", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x"}`, 400, "missing_custom_field"),
		jsonPost("confirm-intent size not offered", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","customFields":{"size":"XXL"}}`, 400, "invalid_custom_field"),
		jsonPost("confirm-intent custom field with CRLF", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","customFields":{"size":"M\r\nX"}}`, 400, "invalid_custom_field"),
		jsonPost("confirm-intent unknown custom field", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","customFields":{"size":"M","kit_order":"ord_x"}}`, 400, "unknown_custom_field"),
		jsonPost("confirm-intent custom fields as a list", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","customFields":["M"]}`, 400, "invalid_field_type"),
		jsonPost("confirm-intent custom field as a number", confirmPath, `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_x","customFields":{"size":5}}`, 400, "invalid_field_type"),
		jsonPost("confirm-intent saving a card for nobody", confirmPath, `{"items":[{"id":"member"}],"confirmationToken":"ctoken_x"}`, 400, "missing_email"),
		jsonPost("confirm-intent saving a card, bad email", confirmPath, `{"items":[{"id":"member"}],"confirmationToken":"ctoken_x","email":"nobody"}`, 400, "invalid_email"),
		get("GET on confirm-intent", confirmPath, 405, "method_not_allowed"),
		get("session_status alias without session_id", "/session_status", 400, "missing_session_id"),
		get("session_status alias with a bad id", "/session_status?session_id=pi_123", 400, "invalid_session_id"),
		// The operator's payment endpoints: refused before any Stripe call.
		get("payment intent without a token", intentPath, 401, "missing_token"),
		get("payment intent id of a session", "/admin/payment_intents/cs_test_x", 400, "invalid_payment_intent").with("Authorization", "Bearer "+tok),
		get("payment intent id with a semicolon", "/admin/payment_intents/pi_1;x", 400, "invalid_payment_intent").with("Authorization", "Bearer "+tok),
		adminPost("capture 0", intentPath+"/capture", tok, `{"amount_to_capture":0}`, 400, "invalid_amount"),
		adminPost("capture a string amount", intentPath+"/capture", tok, `{"amount_to_capture":"10"}`, 400, "invalid_field_type"),
		adminPost("capture with an unknown field", intentPath+"/capture", tok, `{"amount":10}`, 400, "unknown_field"),
		adminPost("capture with a bad Idempotency-Key", intentPath+"/capture", tok, `{}`, 400, "invalid_idempotency_key").with("Idempotency-Key", "x y"),
		adminPost("capture from an allowed origin", intentPath+"/capture", tok, `{}`, 403, "cross_origin_admin").with("Origin", allowed),
		adminPost("cancel with an unknown reason", intentPath+"/cancel", tok, `{"reason":"because"}`, 400, "invalid_reason"),
		adminPost("increment to 0", intentPath+"/increment_authorization", tok, `{"amount":0}`, 400, "invalid_amount"),
		adminPost("increment past the maximum", intentPath+"/increment_authorization", tok, `{"amount":100000000000}`, 400, "invalid_amount"),
		adminPost("micro-deposits with one amount", intentPath+"/verify_microdeposits", tok, `{"amounts":[32]}`, 400, "invalid_amounts"),
		adminPost("micro-deposits with both proofs", intentPath+"/verify_microdeposits", tok, `{"amounts":[32,45],"descriptor_code":"SM11AA"}`, 400, "invalid_verification"),
		adminPost("micro-deposits with a bad code", intentPath+"/verify_microdeposits", tok, `{"descriptor_code":"XX"}`, 400, "invalid_descriptor_code"),
		adminPost("customer balance in no currency", intentPath+"/apply_customer_balance", tok, `{"currency":"dollars"}`, 400, "invalid_currency"),
		get("search without a query", "/admin/payment_intents/search", 400, "missing_query").with("Authorization", "Bearer "+tok),
		get("search with an unknown parameter", "/admin/payment_intents/search?query=status:'succeeded'&expand=customer", 400, "unknown_parameter").with("Authorization", "Bearer "+tok),
		get("search limit 1000", "/admin/payment_intents/search?query=status:'succeeded'&limit=1000", 400, "invalid_limit").with("Authorization", "Bearer "+tok),
		adminPost("portal for no customer", "/admin/billing_portal_sessions", tok, `{"customer":"jenny"}`, 400, "invalid_customer"),
		adminPost("portal returning to javascript:", "/admin/billing_portal_sessions", tok, `{"customer":"cus_1","return_url":"javascript:alert(1)"}`, 400, "invalid_return_url"),
		adminPost("customer token for no customer", "/admin/customer_tokens", tok, `{"customer":"jenny"}`, 400, "invalid_customer"),
		adminPost("customer token for 10 years", "/admin/customer_tokens", tok, `{"customer":"cus_1","ttl_seconds":315360000}`, 400, "invalid_ttl"),
		{name: "PUT on capture", method: "PUT", path: intentPath + "/capture", header: map[string]string{"Authorization": "Bearer " + tok}, status: 405, codes: []string{"method_not_allowed"}},
		// POST /webhook: only events signed with the endpoint's secret, fresh.
		webhookPost("event without a signature", event, "", 400, "missing_signature"),
		webhookPost("signature header of garbage", event, "garbage", 400, "invalid_signature_header"),
		webhookPost("signature without v1", event, fmt.Sprintf("t=%d", now), 400, "invalid_signature_header", "invalid_signature"),
		webhookPost("signature with another secret", event, signed("whsec_"+strings.Repeat("0", 32), now, event), 400, "invalid_signature"),
		webhookPost("signature of another body", event, signed(whsec, now, strings.Replace(event, "evt_hardening", "evt_other", 1)), 400, "invalid_signature"),
		webhookPost("signature 10 minutes old", event, signed(whsec, now-600, event), 400, "signature_expired"),
		webhookPost("signature with a v0 scheme only", event, strings.Replace(signed(whsec, now, event), "v1=", "v0=", 1), 400, "invalid_signature", "invalid_signature_header"),
		webhookPost("signed body that is no event", `{"id":"x"}`, signed(whsec, now, `{"id":"x"}`), 400, "invalid_event"),
		webhookPost("signed charge object", charge, signed(whsec, now, charge), 400, "invalid_event"),
		// Over 256 KiB: refused by the loader (wasm/instance.mjs), 413 like every
		// body over its ceiling, before Go's own 400 for events.
		webhookPost("event of 300 KB", bigEvent, signed(whsec, now, bigEvent), 413, "body_too_large"),
		get("GET on /webhook", "/webhook", 405, "method_not_allowed"),
		// The operator's order endpoints.
		get("orders in an unknown state", "/admin/orders?state=shipped_to_mars", 400, "invalid_state").with("Authorization", "Bearer "+tok),
		get("orders limit 0", "/admin/orders?limit=0", 400, "invalid_limit").with("Authorization", "Bearer "+tok),
		get("orders with a forged cursor", "/admin/orders?cursor=not-a-cursor", 400, "invalid_cursor").with("Authorization", "Bearer "+tok),
		get("orders with an unknown parameter", "/admin/orders?sort=amount", 400, "unknown_parameter").with("Authorization", "Bearer "+tok),
		get("order id with a quote", "/admin/orders/ord_1'or'1", 400, "invalid_order_id").with("Authorization", "Bearer "+tok),
		get("orders without a token", "/admin/orders", 401, "missing_token"),
		// Paths that are not endpoints.
		get("Stripe's API path", "/v1/checkout/sessions", 404, "not_found"),
		get("unknown admin endpoint", "/admin/secrets", 404, "not_found").with("Authorization", "Bearer "+tok),
		// Chunked bodies reach Go's own limits too.
		jsonPost("body of 100 KB", createPath, strings.Repeat(" ", 100<<10)+`{}`, 413, "body_too_large").sentChunked(),
	}
	// Bodies of 2 MiB, over the loader's ceiling (256 KiB, wasm/instance.mjs),
	// with a Content-Length and chunked: refused 413 without breaking the
	// next request (wrangler dev did, when the loader cancelled a body it had
	// begun to read).
	huge := strings.Repeat(" ", 2<<20) + `{}`
	for _, b := range []badRequest{
		jsonPost("body of 2 MiB", createPath, huge, 413, "body_too_large"),
		jsonPost("confirm-intent body of 2 MiB", confirmPath, huge, 413, "body_too_large"),
		webhookPost("event of 2 MiB", huge, signed(whsec, now, huge), 413, "body_too_large"),
	} {
		cases = append(cases, b, b.sentChunked())
	}
	return cases
}

// nextRequestWorks checks that an ordinary request made right after a bad
// one is served: GET /config answers 200 with the catalog. A bad request
// must never hurt the next one (wrangler dev once answered it 503 "Your
// worker restarted mid-request", or not at all).
func nextRequestWorks(t *testing.T, base string) {
	t.Helper()
	client := http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(base + "/config")
	if err != nil {
		t.Errorf("the next request, GET /config: %v", err)
		return
	}
	defer resp.Body.Close()
	var config struct{ Catalog []struct{ ID string } }
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		err = json.Unmarshal(body, &config)
	}
	if resp.StatusCode != 200 || err != nil || len(config.Catalog) == 0 {
		t.Errorf("the next request, GET /config: %d (%v) %.300s", resp.StatusCode, err, body)
	}
}

// TestBadRequests sends every bad request and checks each was refused with a
// 4xx and an error body, and changed nothing: no Stripe call (the sandbox's
// request log, emptied first), no stored order, and the next ordinary
// request is served.
func TestBadRequests(t *testing.T) {
	base, sandbox := e2e.Env(t, "BASE_URL"), e2e.Env(t, "SANDBOX_URL")
	cases := badRequests(t)
	if len(badInputProbes) < 2 {
		t.Fatal("the order store's probe (webhook_probe_test.go) is missing")
	}
	if len(cases) < 50 {
		t.Fatalf("only %d bad requests; the suite promises at least 50", len(cases))
	}
	if r := e2e.Call(t, "POST", sandbox+"/_sandbox/reset", "", ""); r.Status != 200 {
		t.Fatalf("sandbox reset: %d %s", r.Status, r.Body)
	}
	snapshot := func(t *testing.T) []string {
		out := make([]string, len(badInputProbes))
		for i, p := range badInputProbes {
			out[i] = p.read(t)
		}
		return out
	}
	before := snapshot(t)
	if before[0] != "0 Stripe API calls" {
		t.Fatalf("the sandbox log is not empty after a reset: %s", before[0])
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			do := e2e.Send
			if c.chunked {
				do = e2e.SendChunked
			}
			r := do(t, c.method, base+c.path, c.header, c.body)
			if r.Status != c.status || r.Status < 400 || r.Status > 499 {
				t.Errorf("status %d, want %d: %.300s", r.Status, c.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var e struct {
				Error *struct{ Code, Message string }
			}
			if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Errorf("no {\"error\":{\"code\",\"message\"}} in %.300s", r.Body)
			} else if !contains(c.codes, e.Error.Code) {
				t.Errorf("code %q (%s), want %s", e.Error.Code, e.Error.Message, strings.Join(c.codes, " or "))
			}
			if c.check != nil {
				c.check(t, r)
			}
			nextRequestWorks(t, base)
			after := snapshot(t)
			for i, p := range badInputProbes {
				if after[i] != before[i] {
					t.Errorf("%s changed: %s -> %s", p.name, before[i], after[i])
				}
			}
			before = after
		})
	}
	t.Logf("%d bad requests: each a 4xx with an error code; none reached Stripe, wrote an order or hurt the next request", len(cases))

	// Controls: the token and the probes work, so the cases above failed for
	// the reasons they name.
	tok := adminToken(t)
	if r := e2e.Send(t, "GET", base+"/admin/ping", map[string]string{"Authorization": "Bearer " + tok}, ""); r.Status != 200 {
		t.Errorf("admin ping with the right token: %d %s", r.Status, r.Body)
	}
	ordersBefore := orderStoreState(t)
	r := e2e.Send(t, "POST", base+createPath, map[string]string{"Content-Type": "application/json"}, `{"items":[{"id":"euro-mug","quantity":3}]}`)
	var created struct{ ClientSecret string }
	if r.Status != 200 || json.Unmarshal(r.Body, &created) != nil || created.ClientSecret == "" {
		t.Fatalf("a good create request: %d %s", r.Status, r.Body)
	}
	if got := sandboxRequestCount(t); got != "1 Stripe API calls" {
		t.Errorf("after one good request the probe reads %s, want 1 call", got)
	}
	// Paying it makes the sandbox send checkout.session.completed, and the
	// worker records the order: the D1 probe sees that.
	pay := e2e.PayBody(created.ClientSecret, "4242424242424242")
	if r := e2e.Call(t, "POST", sandbox+"/_sandbox/checkout/pay", "application/json", pay); r.Status != 200 {
		t.Fatalf("paying the control session: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for orderStoreState(t) == ordersBefore {
		if time.Now().After(deadline) {
			t.Fatalf("the order of a paid session did not show in GET /admin/orders within 20 s (still %s)", ordersBefore)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
