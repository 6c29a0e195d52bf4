package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// builtHeaders builds the real site and returns its _headers, parsed.
func builtHeaders(t *testing.T) (out string, text string, csp map[string][]string, rule headerRule) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "site")
	if err := BuildSite(SiteOptions{SrcDir: siteSrc, OutDir: out}); err != nil {
		t.Fatalf("BuildSite: %v", err)
	}
	text = siteReadText(t, filepath.Join(out, siteHeadersFile))
	rules, err := parseHeaders("built", text)
	if err != nil {
		t.Fatalf("the built _headers does not parse: %v", err)
	}
	if len(rules) != 1 || rules[0].pattern != "/*" {
		t.Fatalf("want one rule for /*, got %+v", rules)
	}
	for _, h := range rules[0].headers {
		if h.name == cspHeader {
			_, csp, _ = cspDirectives(h.value)
		}
	}
	if csp == nil {
		t.Fatalf("no %s in the built _headers:\n%s", cspHeader, text)
	}
	return out, text, csp, rules[0]
}

func TestBuiltHeadersArePolicy(t *testing.T) {
	out, text, csp, rule := builtHeaders(t)

	// One line per header, as Cloudflare reads it, within its line limit.
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if len(line) > maxHeaderLineLen {
			t.Errorf("line of %d characters: %.80s…", len(line), line)
		}
		if strings.HasPrefix(line, "    ") {
			t.Errorf("continuation line left in the output: %q", line)
		}
	}
	// The source (the build's input) is not copied as a static file besides.
	if _, err := os.Stat(filepath.Join(out, "_headers.txt")); err == nil {
		t.Error("unexpected _headers.txt")
	}

	want := map[string][]string{
		"default-src":     {"'self'"},
		"script-src":      {"'self'", "https://js.stripe.com", "https://*.js.stripe.com"},
		"connect-src":     {"'self'", "https://api.stripe.com", "https://checkout.stripe.com"},
		"frame-src":       {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com", "https://checkout.stripe.com"},
		"img-src":         {"'self'", "https://*.stripe.com"},
		"style-src":       {"'self'"},
		"object-src":      {"'none'"},
		"base-uri":        {"'self'"},
		"form-action":     {"'self'"},
		"frame-ancestors": {"'none'"},
	}
	for d, srcs := range want {
		if got := strings.Join(csp[d], " "); got != strings.Join(srcs, " ") {
			t.Errorf("%s = %q, want %q", d, got, strings.Join(srcs, " "))
		}
	}
	for d := range csp {
		if _, ok := want[d]; !ok {
			t.Errorf("unexpected directive %s %v", d, csp[d])
		}
	}
	if strings.Contains(text, "http://") || strings.Contains(text, "127.0.0.1") || strings.Contains(text, "localhost") {
		t.Errorf("the deployable _headers names a development origin:\n%s", text)
	}

	others := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
	}
	got := map[string]string{}
	for _, h := range rule.headers {
		got[h.name] = h.value
	}
	for k, v := range others {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	pp := got["Permissions-Policy"]
	for _, f := range []string{"camera=()", "microphone=()", "geolocation=()"} {
		if !strings.Contains(pp, f) {
			t.Errorf("Permissions-Policy %q lacks %s", pp, f)
		}
	}
	// Stripe's payment frames use the Payment Request API (wallets); the
	// policy must not take "payment" away from them.
	if strings.Contains(pp, "payment") {
		t.Errorf("Permissions-Policy %q restricts payment, which Stripe's frames need", pp)
	}
}

func TestParseHeadersJoinsContinuations(t *testing.T) {
	src := "# comment\n\n/*\n  A-Header: one;\n    two;\n      three\n  B: x\n/page.html\n  C: y # not a comment\n"
	rules, err := parseHeaders("t", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].pattern != "/*" || rules[1].pattern != "/page.html" {
		t.Fatalf("rules = %+v", rules)
	}
	h := rules[0].headers
	if len(h) != 2 || h[0].name != "A-Header" || h[0].value != "one; two; three" || h[1].name != "B" || h[1].value != "x" {
		t.Errorf("headers = %+v", h)
	}
	if got := rules[1].headers[0].value; got != "y # not a comment" {
		t.Errorf("value = %q", got)
	}
	formatted := formatHeaders("c", rules)
	want := "# c\n/*\n  A-Header: one; two; three\n  B: x\n/page.html\n  C: y # not a comment\n"
	if formatted != want {
		t.Errorf("formatHeaders:\n%s\nwant\n%s", formatted, want)
	}
}

func TestParseHeadersErrors(t *testing.T) {
	for name, src := range map[string]string{
		"header before pattern": "  X-A: b\n/*\n  X-B: c\n",
		"not a header":          "/*\n  no colon here\n",
		"bad header name":       "/*\n  X A: b\n",
		"bad pattern":           "*.html\n  X-A: b\n",
	} {
		if _, err := parseHeaders("src", src); err == nil || !strings.Contains(err.Error(), "src:") {
			t.Errorf("%s: err = %v, want an error naming the file and line", name, err)
		}
	}
}

func TestCheckHeadersRefusesWeakPolicies(t *testing.T) {
	const good = "default-src 'self'; script-src 'self' https://js.stripe.com; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
	rule := func(csp string) string { return "/*\n  Content-Security-Policy: " + csp + "\n" }
	if rules, err := parseHeaders("t", rule(good)); err != nil || checkHeaders("t", rules, true) != nil {
		t.Fatalf("the good policy is refused: %v %v", err, checkHeaders("t", rules, true))
	}
	cases := map[string]struct{ src, want string }{
		"unsafe-inline": {rule(strings.Replace(good, "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1)), "'unsafe-inline'"},
		"unsafe-eval":   {rule(strings.Replace(good, "script-src 'self'", "script-src 'self' 'unsafe-eval'", 1)), "'unsafe-eval'"},
		"wildcard":      {rule(strings.Replace(good, "default-src 'self'", "default-src *", 1)), "any site"},
		"scheme only":   {rule(strings.Replace(good, "script-src 'self'", "script-src https:", 1)), "any site"},
		"plain http":    {rule(strings.Replace(good, "script-src 'self'", "script-src 'self' http://127.0.0.1:8789", 1)), "plain-http"},
		"no framing":    {rule(strings.Replace(good, "; frame-ancestors 'none'", "", 1)), "missing frame-ancestors"},
		"objects":       {rule(strings.Replace(good, "object-src 'none'", "object-src 'self'", 1)), "object-src must be 'none'"},
		"twice":         {rule(good + "; script-src *"), "appears twice"},
		"no CSP":        {"/*\n  X-Frame-Options: DENY\n", "no Content-Security-Policy for /*"},
		"header twice":  {rule(good) + "  X-A: 1\n  x-a: 2\n", "set twice"},
		"too long":      {rule(good + "; img-src " + strings.Repeat("https://a.example ", 120)), "at most 2000"},
	}
	for name, c := range cases {
		rules, err := parseHeaders("t", c.src)
		if err == nil {
			err = checkHeaders("t", rules, true)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", name, err, c.want)
		}
	}
	// Development policies may name plain-http origins.
	rules, _ := parseHeaders("t", rule(strings.Replace(good, "script-src 'self'", "script-src 'self' http://127.0.0.1:8789", 1)))
	if err := checkHeaders("t", rules, false); err != nil {
		t.Errorf("development check refused a dev origin: %v", err)
	}
}

func TestBuildSiteRefusesUnsafeHeaders(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	siteCopyTree(t, siteSrc, src)
	siteEditFile(t, filepath.Join(src, siteHeadersFile), func(s string) string {
		return strings.Replace(s, "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1)
	})
	err := BuildSite(SiteOptions{SrcDir: src, OutDir: filepath.Join(t.TempDir(), "out")})
	if err == nil || !strings.Contains(err.Error(), "_headers:") || !strings.Contains(err.Error(), "'unsafe-inline'") {
		t.Fatalf("BuildSite with 'unsafe-inline' in _headers: err = %v", err)
	}
}

func TestBuildDevSite(t *testing.T) {
	out, prodText, _, _ := builtHeaders(t)
	dev := filepath.Join(t.TempDir(), "site-dev")
	const sandbox = "http://127.0.0.1:18789"
	if err := BuildDevSite(DevSiteOptions{From: out, OutDir: dev, DevOrigins: []string{sandbox + "/"}}); err != nil {
		t.Fatalf("BuildDevSite: %v", err)
	}
	// The deployable site is untouched.
	if got := siteReadText(t, filepath.Join(out, siteHeadersFile)); got != prodText {
		t.Errorf("BuildDevSite changed %s/_headers", out)
	}
	// Every other file is the same.
	n := 0
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		if rel == siteHeadersFile {
			return nil
		}
		n++
		if siteReadText(t, filepath.Join(dev, rel)) != siteReadText(t, p) {
			t.Errorf("%s differs in the dev copy", rel)
		}
		return nil
	})
	if n < 4 {
		t.Errorf("only %d files compared", n)
	}
	rules, err := parseHeaders("dev", siteReadText(t, filepath.Join(dev, siteHeadersFile)))
	if err != nil {
		t.Fatal(err)
	}
	var csp map[string][]string
	for _, h := range rules[0].headers {
		if h.name == cspHeader {
			_, csp, _ = cspDirectives(h.value)
		}
	}
	for _, d := range []string{"script-src", "connect-src", "frame-src"} {
		if srcs := csp[d]; len(srcs) == 0 || srcs[len(srcs)-1] != sandbox {
			t.Errorf("dev %s = %v, want the sandbox origin added", d, srcs)
		}
	}
	for _, d := range []string{"default-src", "img-src", "style-src"} {
		if strings.Contains(strings.Join(csp[d], " "), sandbox) {
			t.Errorf("dev %s = %v: the sandbox origin belongs only in script-, connect- and frame-src", d, csp[d])
		}
	}
	// A production check of the dev copy fails: it could never be built as the deployable site.
	if checkHeaders("dev", rules, true) == nil {
		t.Error("the dev policy passes the production check")
	}

	for _, bad := range []string{"127.0.0.1:8789", "http://127.0.0.1:8789/stripe.js", "ftp://x", "http://u@x"} {
		if err := BuildDevSite(DevSiteOptions{From: out, OutDir: dev, DevOrigins: []string{bad}}); err == nil {
			t.Errorf("BuildDevSite accepted the origin %q", bad)
		}
	}
	if err := BuildDevSite(DevSiteOptions{From: t.TempDir(), OutDir: dev, DevOrigins: []string{sandbox}}); err == nil {
		t.Error("BuildDevSite accepted a directory that is not a built site")
	}
}
