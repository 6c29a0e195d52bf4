package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// payResult is an HTTP answer decoded loosely.
type PayResult struct {
	Status int
	Body   map[string]any
	Raw    string
}

func PayDo(t *testing.T, method, target string, header map[string]string, body string) PayResult {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// Form posts answer 303; look at the redirect instead of following it.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var raw strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		raw.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r := PayResult{Status: resp.StatusCode, Raw: raw.String()}
	json.Unmarshal([]byte(r.Raw), &r.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		if r.Body == nil {
			r.Body = map[string]any{}
		}
		r.Body["_location"] = loc
	}
	return r
}

func (r PayResult) Str(path ...string) string {
	var v any = r.Body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	x, _ := v.(string)
	return x
}

func (r PayResult) Num(key string) int64 {
	f, _ := r.Body[key].(float64)
	return int64(f)
}

func PayAdminToken(t *testing.T) string {
	t.Helper()
	tok := os.Getenv("ADMIN_TOKEN")
	if len(tok) < 32 {
		t.Fatal("ADMIN_TOKEN is not set: run the suite with go test, whose TestMain starts the worker with one and exports it")
	}
	return tok
}

func PayAdmin(t *testing.T, method, path, body string) PayResult {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + PayAdminToken(t)}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	return PayDo(t, method, Env(t, "BASE_URL")+"/admin"+path, h, body)
}

func PayJSON(t *testing.T, path, body string) PayResult {
	t.Helper()
	return PayDo(t, "POST", Env(t, "BASE_URL")+path, map[string]string{"Content-Type": "application/json"}, body)
}

// sandboxPost calls the sandbox's API as the worker would (its secret key).
func SandboxPost(t *testing.T, path string, form url.Values) PayResult {
	t.Helper()
	return PayDo(t, "POST", Env(t, "SANDBOX_URL")+path, map[string]string{
		"Authorization": "Bearer sk_test_sandbox", "Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
}

// Shipped adds to a ConfirmationToken's form the shipping address the pay
// page's Address Element puts into it (the demo catalog ships mugs,
// stickers, T-shirts and posters; the worker ignores it for the rest).
func Shipped(form url.Values) url.Values {
	for k, v := range map[string]string{"shipping[name]": "Jenny Rosen", "shipping[address][line1]": "354 Oyster Point Blvd",
		"shipping[address][city]": "South San Francisco", "shipping[address][state]": "CA", "shipping[address][postal_code]": "94080",
		"shipping[address][country]": "US"} {
		form.Set(k, v)
	}
	return form
}

// confirmationToken makes a ConfirmationToken for a test payment method, as
// Stripe.js would from the Payment Element and the Address Element (the
// sandbox's test-helper route).
func ConfirmationToken(t *testing.T, pm string) string {
	t.Helper()
	r := SandboxPost(t, "/v1/test_helpers/confirmation_tokens", Shipped(url.Values{"payment_method": {pm}}))
	id := r.Str("id")
	if r.Status != 200 || !strings.HasPrefix(id, "ctoken_") {
		t.Fatalf("test-helper confirmation token: %d %s", r.Status, r.Raw)
	}
	return id
}

func ConfirmIntent(t *testing.T, items, pm, extra string) PayResult {
	t.Helper()
	return PayJSON(t, "/create-confirm-intent", `{"items":`+items+`,"confirmationToken":"`+ConfirmationToken(t, pm)+`"`+extra+`}`)
}
