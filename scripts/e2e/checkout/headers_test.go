package checkout

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// builtPolicy reads the Content-Security-Policy that `go run ./build site`
// wrote for deployment (dist/site/_headers).
func builtPolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e2e.Path("dist", "site", "_headers"))
	if err != nil {
		t.Fatalf("reading the built _headers: %v (run go run ./build site)", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Content-Security-Policy:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no Content-Security-Policy in dist/site/_headers")
	return ""
}

// withOrigin adds origin to the named directives of a policy, as
// `go run ./build dev-site` does for the development copy of the site.
func withOrigin(policy, origin string, directives ...string) string {
	parts := strings.Split(policy, "; ")
	for i, p := range parts {
		for _, d := range directives {
			if strings.HasPrefix(p, d+" ") {
				parts[i] = p + " " + origin
			}
		}
	}
	return strings.Join(parts, "; ")
}

// The site's pages and files, served by wrangler's static assets, carry the
// headers of site/_headers: the deployable policy, plus (offline) the
// sandbox's origin for its Stripe.js stand-in.
func TestPagesCarrySecurityHeaders(t *testing.T) {
	base := e2e.Env(t, "BASE_URL")
	want := builtPolicy(t)
	if sb := os.Getenv("SANDBOX_URL"); sb != "" {
		want = withOrigin(want, sb, "script-src", "connect-src", "frame-src")
	}
	for _, path := range []string{"/", "/index.html", "/return.html", "/return?session_id=cs_test_x", "/embed.js", "/favicon.svg", "/images/mug.svg"} {
		r := e2e.Call(t, "GET", base+path, "", "")
		if r.Status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.Status)
			continue
		}
		if got := r.Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("GET %s: Content-Security-Policy\n got %q\nwant %q", path, got, want)
		}
		for k, v := range map[string]string{
			"X-Frame-Options":        "DENY",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "strict-origin-when-cross-origin",
		} {
			if got := r.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		if pp := r.Header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") {
			t.Errorf("GET %s: Permissions-Policy = %q", path, pp)
		}
		// embed.js is loaded by other sites' <script src>: nothing may stop that.
		if path == "/embed.js" && r.Header.Get("Cross-Origin-Resource-Policy") != "" {
			t.Errorf("embed.js carries Cross-Origin-Resource-Policy %q, which would block other sites", r.Header.Get("Cross-Origin-Resource-Policy"))
		}
	}
	// The headers file itself is configuration, not content.
	if r := e2e.Call(t, "GET", base+"/_headers", "", ""); r.Status == http.StatusOK && strings.Contains(string(r.Body), "Content-Security-Policy") {
		t.Error("GET /_headers serves the headers file")
	}
}

// The worker's own answers are data: a policy that loads nothing and may not
// be framed, on successes and errors alike.
func TestAPIAnswersCarrySecurityHeaders(t *testing.T) {
	base := e2e.Env(t, "BASE_URL")
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/config", 200},
		{"GET", "/session-status?session_id=bad", 400},
		{"GET", "/no-such-page", 404},
		{"PUT", "/config", 405},
	} {
		r := e2e.Call(t, c.method, base+c.path, "", "")
		if r.Status != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, r.Status, c.status)
		}
		for k, v := range map[string]string{
			"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
			"X-Frame-Options":              "DENY",
			"X-Content-Type-Options":       "nosniff",
			"Referrer-Policy":              "no-referrer",
			"Cross-Origin-Resource-Policy": "same-origin",
			"Cache-Control":                "no-store",
		} {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, got, v)
			}
		}
	}
}
