package main

// Security headers of the static site: SrcDir/_headers (Cloudflare's
// `_headers` format, which Workers static assets and `wrangler dev` honour)
// is checked and written to OutDir/_headers.
//
// The source may continue a header's value on following lines indented deeper
// than the header line (a Content-Security-Policy reads better one directive
// per line); the build joins them with a space, because Cloudflare reads one
// line per header.
//
// The policy that is built into OutDir is the production one, and the build
// refuses a production policy that is weaker than this kit needs to be: no
// 'unsafe-inline' or 'unsafe-eval', no wildcard or scheme-only sources, no
// plain-http origins, and default-src, script-src, object-src 'none',
// base-uri and frame-ancestors present.
//
// Development against the local Stripe sandbox needs one more origin (its
// stand-in for Stripe.js). BuildDevSite copies a built site to another
// directory and adds that origin to script-src, connect-src and frame-src
// there; the stacks (scripts/internal/stack, make dev) serve that copy with
// `wrangler dev --assets`. The deployable directory is never changed by it.

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

const (
	// siteHeadersFile is the headers file's name, in the sources and the output.
	siteHeadersFile = "_headers"
	// Cloudflare's limits for _headers: rules per file and characters per line.
	maxHeaderRules    = 100
	maxHeaderLineLen  = 2000
	cspHeader         = "Content-Security-Policy"
	cspReportOnly     = "Content-Security-Policy-Report-Only"
	devSiteDefaultDir = "dist/site-dev"
)

// devOriginDirectives are the CSP directives a development origin is added to.
var devOriginDirectives = []string{"script-src", "connect-src", "frame-src"}

// headerRule is one URL pattern of a _headers file and the headers it sets.
type headerRule struct {
	pattern string
	line    int // source line of the pattern
	headers []headerField
}

type headerField struct {
	name, value string
	line        int
}

// parseHeaders reads a _headers file, joining continuation lines. Messages
// name the file (label) and line.
func parseHeaders(label, text string) ([]headerRule, error) {
	var (
		rules      []headerRule
		problems   []string
		lastIndent = -1 // indentation of the current header line, -1 if none
	)
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", label, line, fmt.Sprintf(format, args...)))
	}
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		if indent == 0 {
			if !strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "https://") {
				bad(n, "%q: a rule starts with a URL pattern such as /* or /page.html", line)
				lastIndent = -1
				continue
			}
			rules = append(rules, headerRule{pattern: line, line: n})
			lastIndent = -1
			continue
		}
		if len(rules) == 0 {
			bad(n, "header line before any URL pattern")
			continue
		}
		r := &rules[len(rules)-1]
		if lastIndent >= 0 && indent > lastIndent {
			h := &r.headers[len(r.headers)-1]
			h.value += " " + trimmed
			continue
		}
		name, value, ok := strings.Cut(trimmed, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !validHeaderName(name) {
			bad(n, "%q is not a header line (Name: value)", trimmed)
			lastIndent = -1
			continue
		}
		r.headers = append(r.headers, headerField{name: name, value: value, line: n})
		lastIndent = indent
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return rules, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// formatHeaders writes rules in Cloudflare's format, one line per header,
// after a comment line.
func formatHeaders(comment string, rules []headerRule) string {
	var b strings.Builder
	b.WriteString("# " + comment + "\n")
	for _, r := range rules {
		b.WriteString(r.pattern)
		b.WriteByte('\n')
		for _, h := range r.headers {
			b.WriteString("  " + h.name + ": " + h.value + "\n")
		}
	}
	return b.String()
}

// checkHeaders applies Cloudflare's limits and, for production, the policy
// rules in this file's comment. Messages name the file and line.
func checkHeaders(label string, rules []headerRule, production bool) error {
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", label, line, fmt.Sprintf(format, args...)))
	}
	if len(rules) > maxHeaderRules {
		bad(1, "%d rules; Cloudflare reads at most %d", len(rules), maxHeaderRules)
	}
	hasRootCSP := false
	for _, r := range rules {
		if len(r.headers) == 0 {
			bad(r.line, "rule %s sets no headers", r.pattern)
		}
		seen := map[string]bool{}
		for _, h := range r.headers {
			if n := len("  " + h.name + ": " + h.value); n > maxHeaderLineLen {
				bad(h.line, "%s is %d characters long; Cloudflare reads at most %d per line", h.name, n, maxHeaderLineLen)
			}
			if h.value == "" {
				bad(h.line, "%s has no value", h.name)
			}
			key := strings.ToLower(h.name)
			if seen[key] {
				bad(h.line, "%s is set twice in rule %s (Cloudflare would join the values with a comma)", h.name, r.pattern)
			}
			seen[key] = true
			if strings.EqualFold(h.name, cspHeader) || strings.EqualFold(h.name, cspReportOnly) {
				if r.pattern == "/*" && strings.EqualFold(h.name, cspHeader) {
					hasRootCSP = true
				}
				for _, msg := range checkCSP(h.value, production) {
					bad(h.line, "%s: %s", h.name, msg)
				}
			}
		}
	}
	if !hasRootCSP {
		bad(1, "no %s for /* (every page must have one)", cspHeader)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// cspDirectives splits a policy into directive name → sources, in order.
func cspDirectives(policy string) (names []string, sources map[string][]string, dups []string) {
	sources = map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, dup := sources[name]; dup {
			dups = append(dups, name)
			continue
		}
		names = append(names, name)
		sources[name] = f[1:]
	}
	return names, sources, dups
}

// checkCSP returns what is wrong with a policy.
func checkCSP(policy string, production bool) []string {
	var out []string
	_, dirs, dups := cspDirectives(policy)
	for _, d := range dups {
		out = append(out, fmt.Sprintf("directive %s appears twice (browsers ignore the second)", d))
	}
	for _, req := range []string{"default-src", "script-src", "object-src", "base-uri", "frame-ancestors"} {
		if _, ok := dirs[req]; !ok {
			out = append(out, "missing "+req)
		}
	}
	if src, ok := dirs["object-src"]; ok && !(len(src) == 1 && src[0] == "'none'") {
		out = append(out, "object-src must be 'none'")
	}
	if !production {
		return out
	}
	for name, srcs := range dirs {
		for _, s := range srcs {
			ls := strings.ToLower(s)
			switch {
			case ls == "'unsafe-inline'" || ls == "'unsafe-eval'" || ls == "'unsafe-hashes'" || ls == "'wasm-unsafe-eval'":
				out = append(out, fmt.Sprintf("%s allows %s", name, s))
			case ls == "*" || strings.HasSuffix(ls, ":") && !strings.HasPrefix(ls, "'"):
				out = append(out, fmt.Sprintf("%s allows %s, which is any site", name, s))
			case strings.HasPrefix(ls, "http://") || strings.HasPrefix(ls, "ws://"):
				out = append(out, fmt.Sprintf("%s allows the plain-http source %s", name, s))
			}
		}
	}
	return out
}

// addCSPSources appends origins to the named directives of every CSP header
// in rules (directives not present are left alone: they fall back to
// default-src, which stays as it is).
func addCSPSources(rules []headerRule, directives, origins []string) {
	for ri := range rules {
		for hi := range rules[ri].headers {
			h := &rules[ri].headers[hi]
			if !strings.EqualFold(h.name, cspHeader) && !strings.EqualFold(h.name, cspReportOnly) {
				continue
			}
			names, srcs, _ := cspDirectives(h.value)
			parts := make([]string, 0, len(names))
			for _, n := range names {
				s := srcs[n]
				for _, d := range directives {
					if n == d {
						s = append(append([]string(nil), s...), origins...)
					}
				}
				parts = append(parts, strings.Join(append([]string{n}, s...), " "))
			}
			h.value = strings.Join(parts, "; ")
		}
	}
}

// siteBuildHeaders checks SrcDir/_headers as a production policy and writes
// OutDir/_headers. A site without the file gets none.
func siteBuildHeaders(src, out, srcLabel string) error {
	data, err := os.ReadFile(filepath.Join(src, siteHeadersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("site build: %w", err)
	}
	label := filepath.Join(srcLabel, siteHeadersFile)
	rules, err := parseHeaders(label, string(data))
	if err != nil {
		return fmt.Errorf("site build: %w", err)
	}
	if err := checkHeaders(label, rules, true); err != nil {
		return fmt.Errorf("site build: %w", err)
	}
	return siteWriteFile(filepath.Join(out, siteHeadersFile), []byte(formatHeaders("Generated by `go run ./build site` from site/_headers; edit that file.", rules)))
}

// DevSiteOptions configures BuildDevSite.
type DevSiteOptions struct {
	// From is a built site (normally dist/site).
	From string
	// OutDir receives the copy (normally dist/site-dev); wiped first.
	OutDir string
	// DevOrigins are added to the policy, e.g. the local Stripe sandbox.
	DevOrigins []string
}

// BuildDevSite copies a built site for development: the same files (hard
// links where possible), with DevOrigins added to its Content-Security-Policy.
func BuildDevSite(opts DevSiteOptions) error {
	if opts.From == "" || opts.OutDir == "" {
		return errors.New("dev site: From and OutDir must be set")
	}
	from, err := filepath.Abs(opts.From)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return err
	}
	origins := make([]string, 0, len(opts.DevOrigins))
	for _, o := range opts.DevOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("dev site: %q is not an origin (want e.g. http://127.0.0.1:8789)", o)
		}
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	if _, err := os.Stat(filepath.Join(from, "index.html")); err != nil {
		return fmt.Errorf("dev site: %s is not a built site (run `go run ./build site` first): %w", opts.From, err)
	}
	if err := siteCheckOutDir(from, out); err != nil {
		return fmt.Errorf("dev site: %w", err)
	}
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("dev site: %w", err)
	}
	err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(out, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case rel == siteHeadersFile || !d.Type().IsRegular():
			return nil
		}
		if os.Link(p, dst) == nil {
			return nil
		}
		return siteCopyFile(p, dst)
	})
	if err != nil {
		return fmt.Errorf("dev site: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(from, siteHeadersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("dev site: %w", err)
	}
	label := filepath.Join(opts.From, siteHeadersFile)
	rules, err := parseHeaders(label, string(data))
	if err != nil {
		return fmt.Errorf("dev site: %w", err)
	}
	addCSPSources(rules, devOriginDirectives, origins)
	if err := checkHeaders(label, rules, false); err != nil {
		return fmt.Errorf("dev site: %w", err)
	}
	text := formatHeaders("Development only (`go run ./build dev-site`): the built policy plus "+strings.Join(origins, " ")+". Never deploy this directory.", rules)
	return siteWriteFile(filepath.Join(out, siteHeadersFile), []byte(text))
}
