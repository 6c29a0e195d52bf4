package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildSiteEmbedSnippet(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site")
	if err := BuildSite(SiteOptions{SrcDir: siteSrc, OutDir: out}); err != nil {
		t.Fatalf("BuildSite: %v", err)
	}
	file := filepath.Join(out, EmbedFile)
	js := siteReadText(t, file)
	siteAssertMinified(t, EmbedFile, js)
	// A classic script for <script src defer>: no module syntax, no strict-mode prologue needed.
	if strings.Contains(js, "import ") || strings.Contains(js, "export ") || strings.Contains(js, "import.meta") {
		t.Errorf("embed.js must be a classic script (IIFE), found module syntax")
	}
	if !strings.HasPrefix(js, "(()=>{") {
		t.Errorf("embed.js should be one IIFE, starts with %.40q", js)
	}
	for _, want := range []string{"/config", "/create-checkout-session", "/session-status", "data-checkout-", "checkout:", "initEmbeddedCheckout", "currentScript"} {
		if !strings.Contains(js, want) {
			t.Errorf("embed.js lacks %q", want)
		}
	}
	for _, banned := range []string{"innerHTML", "eval(", "new Function", `setAttribute("style"`, "localStorage", "document.cookie"} {
		if strings.Contains(js, banned) {
			t.Errorf("embed.js uses %s", banned)
		}
	}
	raw, gz, err := EmbedSizes(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("embed.js: %d bytes raw, %d bytes gzip", raw, gz)
	if gz > embedBudgetGzip {
		t.Errorf("embed.js is %d bytes gzip, over the %d-byte budget", gz, embedBudgetGzip)
	}
	// The optional cart beside it: a classic script too, the same budget;
	// it keeps the cart in localStorage and builds its view without HTML strings.
	cartFile := filepath.Join(out, CartFile)
	cart := siteReadText(t, cartFile)
	siteAssertMinified(t, CartFile, cart)
	if !strings.HasPrefix(cart, "(()=>{") || strings.Contains(cart, "import ") || strings.Contains(cart, "export ") {
		t.Errorf("cart.js should be one IIFE, starts with %.40q", cart)
	}
	for _, want := range []string{"/config", "localStorage", "checkout:cart", "checkout:completed", "data-checkout-", "currentScript"} {
		if !strings.Contains(cart, want) {
			t.Errorf("cart.js lacks %q", want)
		}
	}
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", `setAttribute("style"`, "document.cookie", "/create-checkout-session"} {
		if strings.Contains(cart, banned) {
			t.Errorf("cart.js uses %s", banned)
		}
	}
	raw, gz, err = EmbedSizes(cartFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cart.js: %d bytes raw, %d bytes gzip", raw, gz)
	if gz > embedBudgetGzip {
		t.Errorf("cart.js is %d bytes gzip, over the %d-byte budget", gz, embedBudgetGzip)
	}
	// The examples are for site owners, served from another origin; never deployed.
	if _, err := os.Stat(filepath.Join(out, siteExamplesDir)); !os.IsNotExist(err) {
		t.Errorf("%s/ must not be copied into the built site (err=%v)", siteExamplesDir, err)
	}
}

// The example pages follow the same strict-CSP rules as the site's own pages
// and show the paste-in.
func TestExamplePages(t *testing.T) {
	src, err := filepath.Abs(siteSrc)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(src, siteExamplesDir, "*.html"))
	if err != nil {
		t.Fatal(err)
	}
	nested, _ := filepath.Glob(filepath.Join(src, siteExamplesDir, "*", "*.html"))
	pages = append(pages, nested...)
	if len(pages) < 3 {
		t.Fatalf("want at least plain.html, thanks.html and hugo-shaped/index.html, found %v", pages)
	}
	snippet := `<script src="http://127.0.0.1:8787/embed.js" defer></script>`
	for _, file := range pages {
		rel, _ := filepath.Rel(src, file)
		html := siteReadText(t, file)
		p := &sitePage{rel: filepath.ToSlash(rel), label: rel, html: html}
		for _, problem := range p.analyze(src) {
			t.Errorf("%s", problem)
		}
		if !strings.Contains(html, snippet) {
			t.Errorf("%s does not show the paste-in %s", rel, snippet)
		}
	}
}
