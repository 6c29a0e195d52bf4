package worker

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const (
	siteOrigin  = "https://blog.example"
	otherOrigin = "https://evil.example"
)

// corsServer is the worker with ALLOWED_ORIGINS=https://blog.example (plus env).
func corsServer(t *testing.T, env map[string]string) (*Server, *fakeStripe) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["ALLOWED_ORIGINS"]; !ok {
		env["ALLOWED_ORIGINS"] = siteOrigin
	}
	return newTestServer(t, env)
}

// doFrom sends a request as a browser on origin would (no Origin header when origin is "").
func doFrom(t *testing.T, h http.Handler, origin, method, target string, headers map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func hasVaryOrigin(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Origin") {
				return true
			}
		}
	}
	return false
}

func TestParseAllowedOrigins(t *testing.T) {
	got, err := parseAllowedOrigins(" HTTPS://Blog.Example:443/ , http://127.0.0.1:8790,https://blog.example\nhttp://[::1]:8000 http://localhost:80")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://blog.example", "http://127.0.0.1:8790", "http://[::1]:8000", "http://localhost"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("parseAllowedOrigins = %q, want %q", got, want)
	}
	if got, err := parseAllowedOrigins(""); err != nil || len(got) != 0 {
		t.Errorf("empty setting: %q, %v", got, err)
	}
	for _, bad := range []string{"*", "https://*.example.com", "null", "blog.example", "ftp://blog.example", "https://blog.example/shop", "https://blog.example?x=1", "https://user@blog.example", "javascript:alert(1)", "https://"} {
		if _, err := parseAllowedOrigins(bad); err == nil {
			t.Errorf("parseAllowedOrigins(%q) accepted it", bad)
		}
		_, err := LoadConfig(func(k string) string {
			return map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "ALLOWED_ORIGINS": bad}[k]
		})
		if err == nil || !strings.Contains(err.Error(), "ALLOWED_ORIGINS") {
			t.Errorf("LoadConfig with ALLOWED_ORIGINS=%q: err = %v, want one naming ALLOWED_ORIGINS", bad, err)
		}
	}
}

func TestPreflightFromAllowedOrigin(t *testing.T) {
	srv, fake := corsServer(t, nil)
	for path, method := range map[string]string{"/create-checkout-session": "POST", "/config": "GET", "/session-status": "GET"} {
		rec := doFrom(t, srv, siteOrigin, "OPTIONS", "https://shop.example"+path, map[string]string{
			"Access-Control-Request-Method":  method,
			"Access-Control-Request-Headers": "content-type",
		}, "")
		h := rec.Header()
		if rec.Code != http.StatusNoContent {
			t.Fatalf("preflight %s: status %d, want 204: %s", path, rec.Code, rec.Body)
		}
		if got := h.Get("Access-Control-Allow-Origin"); got != siteOrigin {
			t.Errorf("preflight %s: Access-Control-Allow-Origin = %q", path, got)
		}
		if got := h.Get("Access-Control-Allow-Methods"); !strings.Contains(got, method) {
			t.Errorf("preflight %s: Access-Control-Allow-Methods = %q, want it to list %s", path, got, method)
		}
		if got := h.Get("Access-Control-Allow-Headers"); !strings.EqualFold(got, "Content-Type") {
			t.Errorf("preflight %s: Access-Control-Allow-Headers = %q", path, got)
		}
		if got := h.Get("Access-Control-Max-Age"); got == "" || got == "0" {
			t.Errorf("preflight %s: Access-Control-Max-Age = %q", path, got)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s: credentials must not be allowed", path)
		}
		if !hasVaryOrigin(h) {
			t.Errorf("preflight %s: Vary = %q, want Origin", path, h.Values("Vary"))
		}
	}
	// A preflight for a path the worker does not have is not answered with CORS approval.
	rec := doFrom(t, srv, siteOrigin, "OPTIONS", "https://shop.example/no-such-endpoint", map[string]string{"Access-Control-Request-Method": "POST"}, "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("preflight for an unknown path: status %d, want 404", rec.Code)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("preflights made %d Stripe calls", n)
	}
}

func TestAllowedOriginGetsCORSHeaders(t *testing.T) {
	srv, fake := corsServer(t, nil)
	rec := doFrom(t, srv, siteOrigin, "GET", "https://shop.example/config", nil, "")
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != siteOrigin || !hasVaryOrigin(rec.Header()) {
		t.Fatalf("GET /config from %s: %d, ACAO %q, Vary %q", siteOrigin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), rec.Header().Values("Vary"))
	}
	rec = doFrom(t, srv, siteOrigin, "POST", "https://shop.example/create-checkout-session", nil, `{"items":[{"id":"mug","quantity":2}]}`)
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != siteOrigin {
		t.Fatalf("POST from %s: %d, ACAO %q: %s", siteOrigin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), rec.Body)
	}
	// Errors are readable by the allowed page too.
	rec = doFrom(t, srv, siteOrigin, "POST", "https://shop.example/create-checkout-session", nil, `{"items":[{"id":"mug","quantity":0}]}`)
	if rec.Code != 400 || rec.Header().Get("Access-Control-Allow-Origin") != siteOrigin {
		t.Errorf("bad request from %s: %d, ACAO %q", siteOrigin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("Stripe calls = %d, want 1", n)
	}
}

func TestSameOriginAndNoOriginNeedNoCORS(t *testing.T) {
	srv, fake := corsServer(t, nil)
	for _, origin := range []string{"", "https://shop.example"} {
		rec := doFrom(t, srv, origin, "POST", "https://shop.example/create-checkout-session", nil, `{"items":[{"id":"mug","quantity":1}]}`)
		if rec.Code != 200 {
			t.Fatalf("Origin %q: status %d: %s", origin, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Origin %q: Access-Control-Allow-Origin = %q, want none", origin, got)
		}
	}
	if n := len(fake.Calls()); n != 2 {
		t.Errorf("Stripe calls = %d, want 2", n)
	}
	// With no ALLOWED_ORIGINS at all, the kit's own pages keep working.
	srv, _ = corsServer(t, map[string]string{"ALLOWED_ORIGINS": ""})
	if rec := doFrom(t, srv, "http://127.0.0.1:8787", "GET", "http://127.0.0.1:8787/config", nil, ""); rec.Code != 200 {
		t.Errorf("same-origin GET /config without ALLOWED_ORIGINS: %d", rec.Code)
	}
}

func TestRefusedOrigins(t *testing.T) {
	srv, fake := corsServer(t, nil)
	refused := []string{
		otherOrigin,
		"null",                      // file: pages, sandboxed frames
		"https://blog.example:8443", // another port is another origin
		"http://blog.example",       // and another scheme
		"https://blog.example.evil.example",
		"https://shop.example.evil.example",
	}
	for _, origin := range refused {
		for _, rq := range []struct{ method, path, body string }{
			{"POST", "/create-checkout-session", `{"items":[{"id":"mug","quantity":1}]}`},
			{"POST", "/create-checkout-session", ""},
			{"GET", "/session-status?session_id=cs_test_abc", ""},
			{"GET", "/config", ""},
		} {
			rec := doFrom(t, srv, origin, rq.method, "https://shop.example"+rq.path, nil, rq.body)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s %s from %s: status %d, want 403", rq.method, rq.path, origin, rec.Code)
				continue
			}
			eb := decodeError(t, rec)
			if eb.Error.Code != "origin_not_allowed" || !strings.Contains(eb.Error.Message, "ALLOWED_ORIGINS") {
				t.Errorf("%s %s from %s: error %+v", rq.method, rq.path, origin, eb.Error)
			}
			// The refusal itself is readable, so the snippet can explain it.
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("%s %s from %s: refusal has Access-Control-Allow-Origin %q", rq.method, rq.path, origin, got)
			}
			if !hasVaryOrigin(rec.Header()) {
				t.Errorf("%s %s from %s: no Vary: Origin", rq.method, rq.path, origin)
			}
		}
		// A refused preflight approves nothing, so the browser never sends the POST.
		rec := doFrom(t, srv, origin, "OPTIONS", "https://shop.example/create-checkout-session", map[string]string{
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
		}, "")
		if rec.Code != http.StatusForbidden {
			t.Errorf("preflight from %s: status %d, want 403", origin, rec.Code)
		}
		for _, hdr := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
			if got := rec.Header().Get(hdr); got != "" {
				t.Errorf("refused preflight from %s has %s: %q", origin, hdr, got)
			}
		}
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("refused requests made %d Stripe calls, want 0", n)
	}
}

func TestPublicURLOriginIsAllowed(t *testing.T) {
	srv, fake := corsServer(t, map[string]string{"ALLOWED_ORIGINS": "", "PUBLIC_URL": "https://www.example.com/shop"})
	rec := doFrom(t, srv, "https://www.example.com", "POST", "https://api.example.workers.dev/create-checkout-session", nil, `{"items":[{"id":"mug","quantity":1}]}`)
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "https://www.example.com" {
		t.Fatalf("POST from PUBLIC_URL's origin: %d, ACAO %q: %s", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), rec.Body)
	}
	if got := fake.Calls()[0].Form.Get("return_url"); got != "https://www.example.com/shop/return.html?session_id={CHECKOUT_SESSION_ID}" {
		t.Errorf("return_url = %q, want PUBLIC_URL + RETURN_PATH", got)
	}
}

// createFrom posts a create request from origin and returns the status and
// the form sent to Stripe (nil when Stripe was not called).
func createFrom(t *testing.T, srv *Server, fake *fakeStripe, origin, body string) (*httptest.ResponseRecorder, url.Values) {
	t.Helper()
	before := len(fake.Calls())
	rec := doFrom(t, srv, origin, "POST", "https://shop.example/create-checkout-session", nil, body)
	calls := fake.Calls()
	if len(calls) == before {
		return rec, nil
	}
	return rec, calls[len(calls)-1].Form
}

func TestReturnURLIsBuiltFromTheAllowedOrigin(t *testing.T) {
	srv, fake := corsServer(t, map[string]string{"ALLOWED_ORIGINS": siteOrigin + ",http://127.0.0.1:8790", "RETURN_PATH": "/thanks/"})
	cases := []struct {
		origin, fields, want string
	}{
		{siteOrigin, ``, siteOrigin + "/thanks/?session_id={CHECKOUT_SESSION_ID}"},
		{siteOrigin, `,"returnPath":"/shop/mug/"`, siteOrigin + "/shop/mug/?session_id={CHECKOUT_SESSION_ID}"},
		{siteOrigin, `,"returnPath":"/caf%C3%A9/index.html"`, siteOrigin + "/caf%C3%A9/index.html?session_id={CHECKOUT_SESSION_ID}"},
		{"http://127.0.0.1:8790", `,"returnPath":"/plain.html","redirectOnCompletion":"if_required"`, "http://127.0.0.1:8790/plain.html?session_id={CHECKOUT_SESSION_ID}"},
		// Same-origin and origin-less requests keep the worker's own site.
		{"", `,"returnPath":"/p/"`, "https://shop.example/p/?session_id={CHECKOUT_SESSION_ID}"},
		{"https://shop.example", ``, "https://shop.example/thanks/?session_id={CHECKOUT_SESSION_ID}"},
	}
	for _, tc := range cases {
		rec, form := createFrom(t, srv, fake, tc.origin, `{"items":[{"id":"mug","quantity":1}]`+tc.fields+`}`)
		if rec.Code != 200 || form == nil {
			t.Errorf("origin %q %s: status %d: %s", tc.origin, tc.fields, rec.Code, rec.Body)
			continue
		}
		if got := form.Get("return_url"); got != tc.want {
			t.Errorf("origin %q %s: return_url = %q, want %q", tc.origin, tc.fields, got, tc.want)
		}
		if form.Get("ui_mode") != "embedded" {
			t.Errorf("ui_mode = %q", form.Get("ui_mode"))
		}
	}
}

func TestNoOpenRedirect(t *testing.T) {
	srv, fake := corsServer(t, nil)
	bad := []string{
		`"returnPath":"https://evil.example/"`,
		`"returnPath":"//evil.example/x"`,
		`"returnPath":"/\\evil.example"`,
		`"returnPath":"evil"`,
		`"returnPath":"/a?next=https://evil.example"`,
		`"returnPath":"/a#x"`,
		`"returnPath":"/{CHECKOUT_SESSION_ID}"`,
		`"returnPath":"/a b"`,
		`"returnPath":"/a\n"`,
		`"returnPath":"/%zz"`,
		`"returnPath":"/` + strings.Repeat("a", 600) + `"`,
		`"returnUrl":"https://evil.example/"`,
		`"return_url":"https://evil.example/"`,
		`"successUrl":"https://evil.example/"`,
		`"uiMode":"hosted","cancelPath":"https://evil.example/"`,
		`"uiMode":"hosted","cancelPath":"//evil.example"`,
		`"cancelPath":"/x"`, // embedded Checkout has no cancel URL
		`"uiMode":"custom"`,
		`"redirectOnCompletion":"sometimes"`,
		`"redirectOnCompletion":"never","returnPath":"/x"`,
		`"uiMode":"hosted","redirectOnCompletion":"never"`,
	}
	for _, fields := range bad {
		for _, origin := range []string{siteOrigin, ""} {
			rec, form := createFrom(t, srv, fake, origin, `{"items":[{"id":"mug","quantity":1}],`+fields+`}`)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s from %q: status %d, want 400: %s", fields, origin, rec.Code, rec.Body)
			}
			if form != nil {
				t.Errorf("%s from %q reached Stripe with %v", fields, origin, form)
			}
			if rec.Code == http.StatusBadRequest {
				decodeError(t, rec)
			}
		}
	}
}

func TestRedirectOnCompletion(t *testing.T) {
	srv, fake := corsServer(t, nil)
	rec, form := createFrom(t, srv, fake, siteOrigin, `{"items":[{"id":"mug","quantity":1}],"redirectOnCompletion":"never"}`)
	if rec.Code != 200 || form == nil {
		t.Fatalf("never: %d %s", rec.Code, rec.Body)
	}
	if form.Get("redirect_on_completion") != "never" || form.Has("return_url") {
		t.Errorf("never: redirect_on_completion=%q return_url=%q (Stripe refuses a return_url with never)", form.Get("redirect_on_completion"), form.Get("return_url"))
	}
	rec, form = createFrom(t, srv, fake, siteOrigin, `{"items":[{"id":"mug","quantity":1}],"redirectOnCompletion":"if_required","returnPath":"/buy/"}`)
	if rec.Code != 200 || form.Get("redirect_on_completion") != "if_required" || form.Get("return_url") != siteOrigin+"/buy/?session_id={CHECKOUT_SESSION_ID}" {
		t.Errorf("if_required: %d %v", rec.Code, form)
	}
	// Without the option nothing changes for the kit's own pages.
	_, form = createFrom(t, srv, fake, "", `{"items":[{"id":"mug","quantity":1}]}`)
	if form.Has("redirect_on_completion") || form.Get("return_url") != "https://shop.example/return.html?session_id={CHECKOUT_SESSION_ID}" {
		t.Errorf("default: %v", form)
	}
}

// hostedStripe answers a session create with a hosted Checkout URL.
func hostedStripe(t *testing.T, checkoutURL string) (*Server, *[]url.Values) {
	t.Helper()
	var forms []url.Values
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		forms = append(forms, form)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "cs_test_h1", "object": "checkout.session", "url": checkoutURL, "client_secret": nil})
	}))
	t.Cleanup(ts.Close)
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": ts.URL, "ALLOWED_ORIGINS": siteOrigin})
	return NewServer(cfg, Deps{Transport: ts.Client().Transport}), &forms
}

func TestHostedCheckout(t *testing.T) {
	srv, forms := hostedStripe(t, "https://checkout.stripe.com/c/pay/cs_test_h1")
	rec := doFrom(t, srv, siteOrigin, "POST", "https://shop.example/create-checkout-session", nil,
		`{"items":[{"id":"mug","quantity":2}],"uiMode":"hosted","returnPath":"/thanks/","cancelPath":"/shop/mug/"}`)
	if rec.Code != 200 {
		t.Fatalf("hosted: %d %s", rec.Code, rec.Body)
	}
	var got map[string]any
	json.Unmarshal(rec.Body.Bytes(), &got)
	if got["url"] != "https://checkout.stripe.com/c/pay/cs_test_h1" || got["clientSecret"] != nil {
		t.Errorf("hosted answer = %v, want only the url", got)
	}
	f := (*forms)[0]
	want := map[string]string{
		"ui_mode":     "hosted",
		"success_url": siteOrigin + "/thanks/?session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":  siteOrigin + "/shop/mug/",
		"mode":        "payment",
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	for _, k := range []string{"return_url", "redirect_on_completion"} {
		if f.Has(k) {
			t.Errorf("hosted session must not send %s (%q)", k, f.Get(k))
		}
	}

	// A Stripe answer without a usable URL is an error, not a redirect to nowhere.
	srv, _ = hostedStripe(t, "")
	rec = doFrom(t, srv, siteOrigin, "POST", "https://shop.example/create-checkout-session", nil, `{"items":[{"id":"mug","quantity":1}],"uiMode":"hosted"}`)
	if rec.Code != http.StatusBadGateway {
		t.Errorf("hosted without url: %d %s", rec.Code, rec.Body)
	}
}

func TestCheckReturnPath(t *testing.T) {
	for _, ok := range []string{"/", "/return.html", "/shop/mug/", "/caf%C3%A9", "/a-b_c.d~e/f;g=h", "/@user/x:y"} {
		if msg := checkReturnPath(ok); msg != "" {
			t.Errorf("checkReturnPath(%q) = %q, want ok", ok, msg)
		}
	}
}
