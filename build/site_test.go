package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const siteSrc = "../site"

var (
	moduleScriptRE = regexp.MustCompile(`<script type="module" src="([^"]+)"></script>`)
	stylesheetRE   = regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`)
)

func siteReadText(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// copyTree copies the site sources so a test can modify them.
func siteCopyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func siteEditFile(t *testing.T, name string, edit func(string) string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(edit(siteReadText(t, name))), 0o644); err != nil {
		t.Fatal(err)
	}
}

// assetFile maps a root-relative URL from a built page to its file in out.
func siteAssetFile(t *testing.T, out, url string) string {
	t.Helper()
	if !strings.HasPrefix(url, "/assets/") {
		t.Fatalf("reference %q is not a /assets/ URL", url)
	}
	return filepath.Join(out, filepath.FromSlash(strings.TrimPrefix(url, "/")))
}

func siteAssertMinified(t *testing.T, name, code string) {
	t.Helper()
	if strings.TrimSpace(code) == "" {
		t.Fatalf("%s is empty", name)
	}
	if n := strings.Count(strings.TrimRight(code, "\n"), "\n"); n > 2 {
		t.Errorf("%s has %d line breaks; expected minified output", name, n)
	}
	if strings.Contains(code, "\n  ") || strings.Contains(code, "/*") {
		t.Errorf("%s contains indentation or comments; expected minified output", name)
	}
}

func TestBuildSite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist", "site")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(out, "stale.txt")
	if err := os.WriteFile(stale, []byte("old build"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := BuildSite(SiteOptions{SrcDir: siteSrc, OutDir: out}); err != nil {
		t.Fatalf("BuildSite: %v", err)
	}

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("OutDir was not wiped: %s still exists (err=%v)", stale, err)
	}
	for _, f := range []string{"index.html", "return.html", "favicon.svg"} {
		if info, err := os.Stat(filepath.Join(out, f)); err != nil || info.Size() == 0 {
			t.Errorf("expected non-empty %s in output: %v", f, err)
		}
	}
	for _, f := range []string{"src", "tsconfig.json", "styles.css"} {
		if _, err := os.Stat(filepath.Join(out, f)); !os.IsNotExist(err) {
			t.Errorf("%s must not be copied to the output (err=%v)", f, err)
		}
	}

	pages := map[string][]string{
		// page -> strings its bundle must contain (proves shared code was bundled in)
		"index.html":  {"/config", "/create-checkout-session", "data-buy", "sessionStorage"},
		"return.html": {"/session-status", "/create-checkout-session", "data-status", "session_id"},
		"pay.html":    {"/config", "/create-confirm-intent", "createConfirmationToken", "handleNextAction", "payment_intent_client_secret"},
	}
	for page, wants := range pages {
		html := siteReadText(t, filepath.Join(out, page))
		if strings.Contains(html, ".ts\"") || strings.Contains(html, "\"styles.css\"") {
			t.Errorf("%s still references source files:\n%s", page, html)
		}
		scripts := moduleScriptRE.FindAllStringSubmatch(html, -1)
		if len(scripts) != 1 {
			t.Fatalf("%s: want exactly 1 module script, found %d", page, len(scripts))
		}
		jsURL := scripts[0][1]
		if !strings.HasSuffix(jsURL, ".js") {
			t.Errorf("%s: script URL %q should end in .js", page, jsURL)
		}
		js := siteReadText(t, siteAssetFile(t, out, jsURL))
		siteAssertMinified(t, jsURL, js)
		for _, w := range wants {
			if !strings.Contains(js, w) {
				t.Errorf("%s: bundle %s lacks %q", page, jsURL, w)
			}
		}
		// Identifier minification renames internal functions.
		for _, internal := range []string{"destroyCurrent", "injectStripeJs", "renderProducts", "showLookupError"} {
			if strings.Contains(js, internal) {
				t.Errorf("%s: bundle %s still contains identifier %q; expected minified identifiers", page, jsURL, internal)
			}
		}
		// No TypeScript syntax may survive.
		if strings.Contains(js, "interface ") || strings.Contains(js, "import type") {
			t.Errorf("%s: bundle %s contains TypeScript syntax", page, jsURL)
		}

		links := stylesheetRE.FindAllStringSubmatch(html, -1)
		if len(links) != 1 {
			t.Fatalf("%s: want exactly 1 stylesheet link, found %d", page, len(links))
		}
		css := siteReadText(t, siteAssetFile(t, out, links[0][1]))
		siteAssertMinified(t, links[0][1], css)
		if !strings.Contains(css, "[data-status=complete]") && !strings.Contains(css, `[data-status="complete"]`) {
			t.Errorf("%s: stylesheet lacks the return page styles", page)
		}
	}

	// Building again into the same directory works and gives the same names
	// (content hashes are stable).
	first := siteReadText(t, filepath.Join(out, "index.html"))
	if err := BuildSite(SiteOptions{SrcDir: siteSrc, OutDir: out}); err != nil {
		t.Fatalf("second BuildSite: %v", err)
	}
	if second := siteReadText(t, filepath.Join(out, "index.html")); second != first {
		t.Errorf("rebuild changed index.html:\n%s\nvs\n%s", first, second)
	}
}

func TestBuildSiteSyntaxError(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	siteCopyTree(t, siteSrc, src)
	file := filepath.Join(src, "src", "return.ts")
	var badLine int
	siteEditFile(t, file, func(s string) string {
		badLine = strings.Count(s, "\n") + 2
		return s + "\nconst broken = ;\n"
	})

	err := BuildSite(SiteOptions{SrcDir: src, OutDir: filepath.Join(t.TempDir(), "out")})
	if err == nil {
		t.Fatal("BuildSite succeeded on a syntax error")
	}
	msg := err.Error()
	wantLoc := filepath.Join(src, "src", "return.ts") + ":" + strconv.Itoa(badLine) + ":"
	if !strings.Contains(msg, wantLoc) {
		t.Errorf("error should name %s…, got:\n%s", wantLoc, msg)
	}
	if !strings.Contains(msg, "const broken = ;") {
		t.Errorf("error should quote the offending line, got:\n%s", msg)
	}
}

func TestBuildSiteMissingImport(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	siteCopyTree(t, siteSrc, src)
	siteEditFile(t, filepath.Join(src, "src", "index.ts"), func(s string) string {
		return "import { nothing } from \"./does-not-exist\";\nvoid nothing;\n" + s
	})
	err := BuildSite(SiteOptions{SrcDir: src, OutDir: filepath.Join(t.TempDir(), "out")})
	if err == nil || !strings.Contains(err.Error(), "index.ts:1:") || !strings.Contains(err.Error(), "does-not-exist") {
		t.Fatalf("want an error at index.ts:1 about the missing import, got: %v", err)
	}
}

func TestBuildSiteRejectsInlineCode(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	siteCopyTree(t, siteSrc, src)
	siteEditFile(t, filepath.Join(src, "index.html"), func(s string) string {
		s = strings.Replace(s, "</head>", "<script>console.log(1)</script>\n<style>p{color:red}</style>\n</head>", 1)
		return strings.Replace(s, "<main ", "<main style=\"color: red\" onclick=\"go()\" ", 1)
	})
	out := filepath.Join(t.TempDir(), "out")
	err := BuildSite(SiteOptions{SrcDir: src, OutDir: out})
	if err == nil {
		t.Fatal("BuildSite accepted inline script/style")
	}
	for _, want := range []string{"index.html:", "inline <script>", "inline <style>", "style attribute", "onclick handler"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("a rejected build must not create OutDir (err=%v)", statErr)
	}
}

func TestBuildSiteMissingReference(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	siteCopyTree(t, siteSrc, src)
	siteEditFile(t, filepath.Join(src, "return.html"), func(s string) string {
		return strings.Replace(s, "src/return.ts", "src/retrun.ts", 1)
	})
	err := BuildSite(SiteOptions{SrcDir: src, OutDir: filepath.Join(t.TempDir(), "out")})
	if err == nil || !strings.Contains(err.Error(), "return.html") || !strings.Contains(err.Error(), "src/retrun.ts") {
		t.Fatalf("want an error naming return.html and the missing file, got: %v", err)
	}
}

func TestBuildSiteRefusesDangerousOutDir(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "site")
	siteCopyTree(t, siteSrc, src)
	for _, out := range []string{src, root, filepath.Join(src, "dist"), "."} {
		if err := BuildSite(SiteOptions{SrcDir: src, OutDir: out}); err == nil {
			t.Errorf("OutDir %q was accepted", out)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "index.html")); err != nil {
		t.Fatalf("sources were damaged: %v", err)
	}
	if err := BuildSite(SiteOptions{SrcDir: src}); err == nil {
		t.Error("empty OutDir was accepted")
	}
}

func TestScanHTMLRewrite(t *testing.T) {
	src := t.TempDir()
	for _, f := range []string{"a.ts", "b.css", "img/logo.png"} {
		p := filepath.Join(src, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := &sitePage{rel: "shop/page.html", label: "shop/page.html", html: `<!doctype html>
<!-- <script>ignored()</script> -->
<title>a < b</title>
<link rel='preload stylesheet' href=../b.css?v=1>
<link rel="icon" href="/img/logo.png">
<script src="/a.ts" type=module></script>
<a href="https://example.com/x.ts">x</a>`}
	if problems := page.analyze(src); len(problems) > 0 {
		t.Fatalf("unexpected problems: %v", problems)
	}
	got, err := page.rewrite(map[string]string{"a.ts": "/assets/a-1.js", "b.css": "/assets/b-2.css"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href=/assets/b-2.css>`, `<script src="/assets/a-1.js" type=module>`, `href="/img/logo.png"`, `href="https://example.com/x.ts"`, `<!-- <script>ignored()</script> -->`} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten page lacks %q:\n%s", want, got)
		}
	}
}
