package main

// Static site build: bundles the site's TypeScript and CSS with esbuild's Go
// API and writes a deployable directory (served by Workers static assets).
//
// Input layout (SrcDir, normally "site"):
//
//	*.html            pages; each references its code and styles by source path:
//	                  <script type="module" src="src/index.ts"></script>
//	                  <link rel="stylesheet" href="styles.css">
//	src/              TypeScript (never copied; only bundled)
//	anything else     copied as is (images, favicon, ...)
//
// Output (OutDir, normally "dist/site"): the pages with those references
// rewritten to content-hashed bundles under /assets/, plus the copied files.
//
// The pages must be valid under a strict Content-Security-Policy, so the build
// rejects inline <script> and <style> elements, style="" attributes, on*=""
// event handler attributes and javascript: URLs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// SiteOptions configures BuildSite.
type SiteOptions struct {
	// SrcDir holds the site sources (pages, src/*.ts, CSS, images).
	SrcDir string
	// OutDir receives the built site. It is deleted and recreated.
	OutDir string
}

// siteAssetsDir is where bundles and the files they reference are written,
// relative to OutDir (and to the site root URL).
const siteAssetsDir = "assets"

// BuildSite builds the static site from opts.SrcDir into opts.OutDir.
func BuildSite(opts SiteOptions) error {
	if opts.SrcDir == "" || opts.OutDir == "" {
		return errors.New("site build: SrcDir and OutDir must be set")
	}
	src, err := filepath.Abs(opts.SrcDir)
	if err != nil {
		return fmt.Errorf("site build: %w", err)
	}
	out, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return fmt.Errorf("site build: %w", err)
	}
	if info, err := os.Stat(src); err != nil {
		return fmt.Errorf("site build: source directory: %w", err)
	} else if !info.IsDir() {
		return fmt.Errorf("site build: source %s is not a directory", opts.SrcDir)
	}
	if err := siteCheckOutDir(src, out); err != nil {
		return fmt.Errorf("site build: %w", err)
	}

	pages, err := readSitePages(src, opts.SrcDir)
	if err != nil {
		return err
	}
	if len(pages) == 0 {
		return fmt.Errorf("site build: no .html pages in %s", opts.SrcDir)
	}

	// Every local script/stylesheet referenced by a page is an esbuild entry.
	entrySet := map[string]bool{}
	for _, p := range pages {
		for _, ref := range p.refs {
			if ref.bundle {
				entrySet[ref.file] = true
			}
		}
	}
	entries := make([]string, 0, len(entrySet))
	for e := range entrySet {
		entries = append(entries, e)
	}
	sort.Strings(entries)

	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("site build: clearing %s: %w", opts.OutDir, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("site build: %w", err)
	}

	urls, err := siteBundle(src, out, opts.SrcDir, entries)
	if err != nil {
		return err
	}
	if err := siteBuildEmbed(src, out, opts.SrcDir); err != nil { // embed.go
		return err
	}

	for _, p := range pages {
		html, err := p.rewrite(urls)
		if err != nil {
			return err
		}
		if err := siteWriteFile(filepath.Join(out, filepath.FromSlash(p.rel)), []byte(html)); err != nil {
			return fmt.Errorf("site build: %w", err)
		}
	}

	if err := siteCopyStatic(src, out, entrySet); err != nil {
		return fmt.Errorf("site build: %w", err)
	}
	return siteBuildHeaders(src, out, opts.SrcDir) // headers.go
}

// checkOutDir refuses output directories whose deletion would destroy sources
// or the working tree.
func siteCheckOutDir(src, out string) error {
	if out == filepath.Dir(out) {
		return fmt.Errorf("refusing to use the filesystem root %s as OutDir", out)
	}
	if siteWithin(src, out) {
		return fmt.Errorf("OutDir %s must not contain SrcDir %s", out, src)
	}
	if siteWithin(out, src) {
		return fmt.Errorf("OutDir %s must not be inside SrcDir %s", out, src)
	}
	if wd, err := os.Getwd(); err == nil && siteWithin(wd, out) {
		return fmt.Errorf("OutDir %s must not contain the working directory", out)
	}
	if _, err := os.Lstat(filepath.Join(out, ".git")); err == nil {
		return fmt.Errorf("OutDir %s looks like a repository (has .git); not deleting it", out)
	}
	return nil
}

// within reports whether path is dir or below it.
func siteWithin(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}

// bundleEntries runs esbuild on the entries (slash paths relative to src) and
// returns each entry's output URL path ("/assets/index-HASH.js").
func siteBundle(src, out, srcLabel string, entries []string) (map[string]string, error) {
	urls := map[string]string{}
	if len(entries) == 0 {
		return urls, nil
	}
	entryPoints := make([]string, len(entries))
	for i, e := range entries {
		entryPoints[i] = "./" + e
	}
	fileLoader := map[string]api.Loader{}
	for _, ext := range []string{".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".woff", ".woff2", ".ttf", ".otf"} {
		fileLoader[ext] = api.LoaderFile
	}

	opts := browserBundle(src)
	opts.EntryPoints = entryPoints
	opts.Outdir = out
	opts.EntryNames = siteAssetsDir + "/[name]-[hash]"
	opts.ChunkNames = siteAssetsDir + "/chunk-[hash]"
	opts.AssetNames = siteAssetsDir + "/[name]-[hash]"
	opts.PublicPath = "/"
	opts.Format = api.FormatESModule
	opts.Loader = fileLoader
	opts.Metafile = true
	result := api.Build(opts)
	if len(result.Errors) > 0 {
		return nil, siteEsbuildError(srcLabel, result.Errors)
	}

	var meta struct {
		Outputs map[string]struct {
			EntryPoint string `json:"entryPoint"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(result.Metafile), &meta); err != nil {
		return nil, fmt.Errorf("site build: reading esbuild metafile: %w", err)
	}
	for outPath, o := range meta.Outputs {
		if o.EntryPoint == "" {
			continue
		}
		abs := outPath
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(src, filepath.FromSlash(outPath))
		}
		rel, err := filepath.Rel(out, abs)
		if err != nil || !siteWithin(abs, out) {
			return nil, fmt.Errorf("site build: esbuild wrote %s outside OutDir", outPath)
		}
		entry := path.Clean(strings.TrimPrefix(filepath.ToSlash(o.EntryPoint), "./"))
		urls[entry] = "/" + filepath.ToSlash(rel)
	}
	for _, e := range entries {
		if urls[e] == "" {
			return nil, fmt.Errorf("site build: esbuild produced no output for %s", path.Join(filepath.ToSlash(srcLabel), e))
		}
	}
	return urls, nil
}

// esbuildError turns esbuild messages into one error listing every message
// with its location (paths shown relative to the caller's SrcDir).
func siteEsbuildError(srcLabel string, msgs []api.Message) error {
	var b strings.Builder
	fmt.Fprintf(&b, "site build: esbuild reported %d error(s):", len(msgs))
	for _, m := range msgs {
		b.WriteString("\n  ")
		siteWriteLocation(&b, srcLabel, m.Location)
		b.WriteString(m.Text)
		if m.Location != nil && strings.TrimSpace(m.Location.LineText) != "" {
			b.WriteString("\n      | ")
			b.WriteString(strings.TrimRight(m.Location.LineText, " \t\r"))
		}
		for _, n := range m.Notes {
			b.WriteString("\n    note: ")
			siteWriteLocation(&b, srcLabel, n.Location)
			b.WriteString(n.Text)
		}
	}
	return errors.New(b.String())
}

func siteWriteLocation(b *strings.Builder, srcLabel string, loc *api.Location) {
	if loc == nil || loc.File == "" {
		return
	}
	file := loc.File
	if !filepath.IsAbs(file) && !strings.Contains(file, ":") {
		file = filepath.Join(srcLabel, filepath.FromSlash(file))
	}
	fmt.Fprintf(b, "%s:%d:%d: ", file, loc.Line, loc.Column+1)
}

// copyStatic copies everything in src except pages, the src/ code directory,
// TypeScript, tool configuration, dotfiles and bundled entries.
func siteCopyStatic(src, out string, entries map[string]bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		slashRel := filepath.ToSlash(rel)
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || slashRel == "src" || slashRel == siteExamplesDir) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || entries[slashRel] || siteSkipStatic(name) || slashRel == siteHeadersFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		dst := filepath.Join(out, rel)
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("%s would overwrite a generated file", slashRel)
		}
		return siteCopyFile(p, dst)
	})
}

func siteSkipStatic(name string) bool {
	lower := strings.ToLower(name)
	switch lower {
	case "tsconfig.json", "jsconfig.json", "package.json", "package-lock.json":
		return true
	}
	if strings.HasPrefix(lower, "readme") {
		return true
	}
	for _, ext := range []string{".html", ".htm", ".ts", ".tsx", ".mts", ".cts"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

func siteWriteFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

func siteCopyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, in); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// ---------------------------------------------------------------------------
// Pages

// sitePage is one HTML page and the local references found in it.
type sitePage struct {
	rel   string // slash path relative to SrcDir
	label string // path for messages (SrcDir as given + rel)
	html  string
	refs  []pageRef
}

// pageRef is a local URL in a src/href attribute.
type pageRef struct {
	file       string // slash path relative to SrcDir
	bundle     bool   // script or stylesheet: replaced by its bundle's URL
	start, end int    // byte range of the attribute value in html
}

func readSitePages(src, srcLabel string) ([]*sitePage, error) {
	var pages []*sitePage
	var problems []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != src && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || p == filepath.Join(src, "src") || p == filepath.Join(src, siteExamplesDir)) {
				return filepath.SkipDir
			}
			return nil
		}
		lower := strings.ToLower(d.Name())
		if !strings.HasSuffix(lower, ".html") && !strings.HasSuffix(lower, ".htm") {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		page := &sitePage{
			rel:   filepath.ToSlash(rel),
			label: filepath.Join(srcLabel, rel),
			html:  string(data),
		}
		problems = append(problems, page.analyze(src)...)
		pages = append(pages, page)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("site build: %w", err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("site build: %d problem(s) in pages:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return pages, nil
}

// analyze checks the page against the CSP rules and collects its local
// references. It returns human-readable problems ("file:line: ...").
func (p *sitePage) analyze(src string) []string {
	var problems []string
	report := func(offset int, format string, args ...any) {
		line := 1 + strings.Count(p.html[:offset], "\n")
		problems = append(problems, fmt.Sprintf("%s:%d: %s", p.label, line, fmt.Sprintf(format, args...)))
	}

	tags, err := scanHTML(p.html)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", p.label, err)}
	}
	for _, t := range tags {
		for _, a := range t.attrs {
			switch {
			case a.name == "style":
				report(t.start, "style attribute on <%s> (not allowed under the strict CSP; use the stylesheet)", t.name)
			case strings.HasPrefix(a.name, "on"):
				report(t.start, "%s handler on <%s> (not allowed under the strict CSP; attach listeners in TypeScript)", a.name, t.name)
			case a.hasValue && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.value)), "javascript:"):
				report(t.start, "javascript: URL in <%s %s> (not allowed under the strict CSP)", t.name, a.name)
			}
		}

		switch t.name {
		case "style":
			report(t.start, "inline <style> element (not allowed under the strict CSP; use the stylesheet)")
		case "script":
			srcAttr, ok := t.attr("src")
			if !ok {
				report(t.start, "inline <script> element (not allowed under the strict CSP; use <script type=\"module\" src=\"...\">)")
				continue
			}
			if strings.TrimSpace(t.content) != "" {
				report(t.start, "<script src> must not also have inline content")
			}
			if !siteIsLocalURL(srcAttr.value) {
				continue
			}
			if typ, _ := t.attr("type"); strings.ToLower(strings.TrimSpace(typ.value)) != "module" {
				report(t.start, "local script %q must use type=\"module\" (bundles are ES modules)", srcAttr.value)
			}
			p.addRef(src, srcAttr, true, report, t.start)
		case "link":
			hrefAttr, ok := t.attr("href")
			if !ok || !siteIsLocalURL(hrefAttr.value) {
				continue
			}
			rel, _ := t.attr("rel")
			p.addRef(src, hrefAttr, siteHasToken(rel.value, "stylesheet"), report, t.start)
		case "img", "source":
			if srcAttr, ok := t.attr("src"); ok && siteIsLocalURL(srcAttr.value) {
				p.addRef(src, srcAttr, false, report, t.start)
			}
		}
	}
	return problems
}

func (p *sitePage) addRef(src string, a htmlAttr, bundle bool, report func(int, string, ...any), offset int) {
	file, ok := siteResolveLocal(p.rel, a.value)
	if !ok {
		report(offset, "%q points outside the site directory", a.value)
		return
	}
	info, err := os.Stat(filepath.Join(src, filepath.FromSlash(file)))
	if err != nil || info.IsDir() {
		report(offset, "%q: file %s not found", a.value, file)
		return
	}
	p.refs = append(p.refs, pageRef{file: file, bundle: bundle, start: a.valStart, end: a.valEnd})
}

// rewrite returns the page with bundled references replaced by their URLs.
func (p *sitePage) rewrite(urls map[string]string) (string, error) {
	refs := append([]pageRef(nil), p.refs...)
	sort.Slice(refs, func(i, j int) bool { return refs[i].start > refs[j].start })
	html := p.html
	for _, r := range refs {
		if !r.bundle {
			continue
		}
		u, ok := urls[r.file]
		if !ok {
			return "", fmt.Errorf("site build: %s: no bundle for %s", p.label, r.file)
		}
		html = html[:r.start] + u + html[r.end:]
	}
	return html, nil
}

// isLocalURL reports whether u refers to a file of this site (no scheme, not
// protocol-relative, not a fragment or data URL).
func siteIsLocalURL(u string) bool {
	u = strings.TrimSpace(u)
	if u == "" || strings.HasPrefix(u, "#") || strings.HasPrefix(u, "//") {
		return false
	}
	if i := strings.IndexAny(u, ":/?#"); i >= 0 && u[i] == ':' {
		return false // has a scheme (https:, data:, mailto:, ...)
	}
	return true
}

// resolveLocal resolves a local URL found in page (slash path relative to the
// site root) to a slash path relative to the site root.
func siteResolveLocal(page, u string) (string, bool) {
	u = strings.TrimSpace(u)
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	var joined string
	if strings.HasPrefix(u, "/") {
		joined = path.Clean(u)
	} else {
		joined = path.Clean("/" + path.Join(path.Dir(page), u))
	}
	rel := strings.TrimPrefix(joined, "/")
	if rel == "" || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

func siteHasToken(list, token string) bool {
	for _, f := range strings.Fields(strings.ToLower(list)) {
		if f == token {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// A small HTML start-tag scanner, enough for our own pages: it finds start
// tags with their attributes (and value offsets), skips comments, and treats
// the contents of script/style/textarea/title as raw text.

type htmlTag struct {
	name    string
	start   int // offset of '<'
	attrs   []htmlAttr
	content string // raw text content for script/style/textarea/title
}

type htmlAttr struct {
	name             string
	value            string
	hasValue         bool
	valStart, valEnd int // byte range of the value (without quotes)
}

func (t htmlTag) attr(name string) (htmlAttr, bool) {
	for _, a := range t.attrs {
		if a.name == name {
			return a, true
		}
	}
	return htmlAttr{}, false
}

func htmlIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func htmlIsLetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func scanHTML(doc string) ([]htmlTag, error) {
	var tags []htmlTag
	i := 0
	for i < len(doc) {
		lt := strings.IndexByte(doc[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := doc[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment at line %d", htmlLineAt(doc, i))
			}
			i += 4 + end + 3
			continue
		case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?") || strings.HasPrefix(rest, "</"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return nil, fmt.Errorf("unterminated tag at line %d", htmlLineAt(doc, i))
			}
			i += end + 1
			continue
		case len(rest) < 2 || !htmlIsLetter(rest[1]):
			i++
			continue
		}

		tag := htmlTag{start: i}
		j := i + 1
		for j < len(doc) && !htmlIsSpace(doc[j]) && doc[j] != '>' && doc[j] != '/' {
			j++
		}
		tag.name = strings.ToLower(doc[i+1 : j])
		closed := false
		for j < len(doc) && !closed {
			c := doc[j]
			switch {
			case htmlIsSpace(c) || c == '/':
				j++
			case c == '>':
				j++
				closed = true
			default:
				a := htmlAttr{valStart: -1, valEnd: -1}
				k := j
				for k < len(doc) && !htmlIsSpace(doc[k]) && doc[k] != '=' && doc[k] != '>' && doc[k] != '/' {
					k++
				}
				a.name = strings.ToLower(doc[j:k])
				j = k
				for j < len(doc) && htmlIsSpace(doc[j]) {
					j++
				}
				if j < len(doc) && doc[j] == '=' {
					j++
					for j < len(doc) && htmlIsSpace(doc[j]) {
						j++
					}
					a.hasValue = true
					if j < len(doc) && (doc[j] == '"' || doc[j] == '\'') {
						q := doc[j]
						end := strings.IndexByte(doc[j+1:], q)
						if end < 0 {
							return nil, fmt.Errorf("unterminated attribute value in <%s> at line %d", tag.name, htmlLineAt(doc, i))
						}
						a.valStart, a.valEnd = j+1, j+1+end
						j = j + 1 + end + 1
					} else {
						k := j
						for k < len(doc) && !htmlIsSpace(doc[k]) && doc[k] != '>' {
							k++
						}
						a.valStart, a.valEnd = j, k
						j = k
					}
					a.value = doc[a.valStart:a.valEnd]
				}
				tag.attrs = append(tag.attrs, a)
			}
		}
		if !closed {
			return nil, fmt.Errorf("unterminated <%s> tag at line %d", tag.name, htmlLineAt(doc, i))
		}
		switch tag.name {
		case "script", "style", "textarea", "title":
			closeTag := "</" + tag.name
			end := strings.Index(strings.ToLower(doc[j:]), closeTag)
			if end < 0 {
				return nil, fmt.Errorf("<%s> at line %d is never closed", tag.name, htmlLineAt(doc, i))
			}
			tag.content = doc[j : j+end]
			j += end
		}
		tags = append(tags, tag)
		i = j
	}
	return tags, nil
}

func htmlLineAt(doc string, offset int) int {
	return 1 + strings.Count(doc[:offset], "\n")
}

// browserBundle holds the esbuild options every bundle of the site shares:
// bundled ES2020 for browsers, fully minified, no source maps or legal
// comments, written to disk, problems returned as data rather than logged.
func browserBundle(workDir string) api.BuildOptions {
	return api.BuildOptions{
		AbsWorkingDir:     workDir,
		Bundle:            true,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2020,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Sourcemap:         api.SourceMapNone,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		Write:             true,
		LogLevel:          api.LogLevelSilent,
	}
}
