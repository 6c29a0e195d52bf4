package main

// `make dev`: the stack on fixed ports, plus the examples server, kept in
// step with the sources until Ctrl-C or SIGTERM.
//
// What an edit costs (the stack watches the tree by polling it):
//   - worker/catalog.json: the worker gets it as its CATALOG_JSON variable
//     (worker/config.go), so only wrangler dev restarts; nothing compiles.
//   - anything under site/: esbuild rebuilds dist/site (go run ./build site)
//     and the development copy wrangler serves, and wrangler dev restarts.
//   - Go code (or the loader's .mjs) under worker/ or wasm/, go.mod, go.sum:
//     the worker is rebuilt (a keyed build: a change that alters no input of
//     the wasm, such as a test file, compiles nothing) and wrangler dev
//     restarts on the new build.
// Every server, and a rebuild in progress, runs in a process group of its
// own; stopping make dev ends each group and waits for it (scripts/e2e/devstop
// checks that nothing is left and the ports are free).

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"checkoutkit/scripts/internal/stack"
)

// devSettings are make dev's settings (environment, defaults in brackets):
//
//	PORT [8787], SANDBOX_PORT [8789], INSPECTOR_PORT [9229], EXAMPLES_PORT [8790]
//	COMPILER [tinygo]     what Go edits are rebuilt with
//	WORKER_DIR [dist/worker]
//	STRIPE_MODE           "sandbox" or "stripe"; default "stripe" when .dev.vars sets
//	                      STRIPE_SECRET_KEY, else "sandbox"
//	STRIPE_WEBHOOK_SECRET, ADMIN_TOKEN  sandbox mode: default random per run
//	                      (.dev.vars's ADMIN_TOKEN wins)
//	ALLOWED_ORIGINS       default the examples' origins (.dev.vars's wins)
//	D1_PERSIST_DIR [.wrangler/state]  the local D1 database, kept across runs
//	RATE_LIMIT [wrangler.toml]  a number, "off" or "wrangler.toml"
//	STACK_LOG_DIR [dist/dev-logs]  the servers' output
//	DEV_POLL [300ms]      how often the tree is looked at
func devSettings() (stack.Config, int, string, time.Duration, error) {
	root, err := stack.FindRoot()
	if err != nil {
		return stack.Config{}, 0, "", 0, err
	}
	cfg := stack.Config{Root: root, Vars: map[string]string{}, DevVarsWin: true}
	ports := []struct {
		env  string
		def  int
		port *int
	}{{"PORT", 8787, &cfg.Port}, {"SANDBOX_PORT", 8789, &cfg.SandboxPort}, {"INSPECTOR_PORT", 9229, &cfg.InspectorPort}}
	examples := 8790
	ports = append(ports, struct {
		env  string
		def  int
		port *int
	}{"EXAMPLES_PORT", 8790, &examples})
	for _, p := range ports {
		*p.port = p.def
		if v := os.Getenv(p.env); v != "" {
			if *p.port, err = strconv.Atoi(v); err != nil || *p.port <= 0 {
				return cfg, 0, "", 0, fmt.Errorf("%s=%q: not a port", p.env, v)
			}
		}
	}
	cfg.WorkerDir = envOr("WORKER_DIR", "dist/worker")
	compiler := envOr("COMPILER", "tinygo")
	mode := os.Getenv("STRIPE_MODE")
	devVars, _ := os.ReadFile(filepath.Join(root, ".dev.vars"))
	if mode == "" {
		mode = "sandbox"
		for _, line := range strings.Split(string(devVars), "\n") {
			if k, _, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.TrimSpace(k) == "STRIPE_SECRET_KEY" {
				mode = "stripe"
			}
		}
	}
	switch mode {
	case "sandbox":
	case "stripe":
		cfg.NoSandbox = true
	default:
		return cfg, 0, "", 0, fmt.Errorf("STRIPE_MODE=%q: want sandbox or stripe", mode)
	}
	cfg.WebhookSecret = os.Getenv("STRIPE_WEBHOOK_SECRET")
	cfg.AdminToken = os.Getenv("ADMIN_TOKEN")
	cfg.AllowedOrigins = os.Getenv("ALLOWED_ORIGINS")
	if _, set := os.LookupEnv("ALLOWED_ORIGINS"); !set {
		cfg.AllowedOrigins = fmt.Sprintf("http://%s:%d,http://localhost:%d", stack.Host, examples, examples)
	}
	cfg.D1Dir = envOr("D1_PERSIST_DIR", ".wrangler/state")
	cfg.RateLimit = envOr("RATE_LIMIT", "wrangler.toml")
	cfg.LogDir = envOr("STACK_LOG_DIR", "dist/dev-logs")
	poll := 300 * time.Millisecond
	if v := os.Getenv("DEV_POLL"); v != "" {
		if poll, err = time.ParseDuration(v); err != nil || poll <= 0 {
			return cfg, 0, "", 0, fmt.Errorf("DEV_POLL=%q: not a duration", v)
		}
	}
	return cfg, examples, compiler, poll, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dev runs make dev until a signal stops it (stack's handler: every group
// ends, then the process exits).
func dev() int {
	cfg, examplesPort, compiler, poll, err := devSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		return 2
	}
	root := cfg.Root
	catalog := filepath.Join(root, "worker", "catalog.json")
	if cfg.CatalogJSON, err = stack.CompactJSONFile(root, "worker/catalog.json"); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		return 1
	}
	// The build program, compiled once: each rebuild then starts at once.
	bin, err := os.MkdirTemp("", "checkout-dev-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		return 1
	}
	defer os.RemoveAll(bin)
	builder := filepath.Join(bin, "build")
	if out, err := exec.Command("go", "build", "-o", builder, "./build").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "dev: go build ./build: %v\n%s", err, out)
		return 1
	}

	// Snapshots before the stack starts: an edit made while it starts is
	// seen by the first poll.
	w := newWatch(root)
	lastCatalog := w.sum(catalog)
	lastSite := w.tree("site", nil)
	lastGo := w.goInputs()

	s, err := stack.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Stop()
	examples := []string{"node", "scripts/examples-server.mjs", "--port", strconv.Itoa(examplesPort), "--worker", s.BaseURL}
	if s.SandboxURL != "" {
		examples = append(examples, "--sandbox", s.SandboxURL)
	}
	if err := s.StartServer("examples", examples...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mode := "real Stripe test mode (.dev.vars)"
	if s.SandboxURL != "" {
		mode = "the offline sandbox at " + s.SandboxURL
	}
	fmt.Printf("\n  Checkout kit running at %s  (Stripe: %s)\n", s.BaseURL, mode)
	fmt.Printf("  Open %s/ and buy something; test card 4242 4242 4242 4242. Ctrl-C stops.\n", s.BaseURL)
	fmt.Printf("  The embed snippet on another site: http://%s:%d/plain.html and http://%s:%d/hugo-shaped/\n", stack.Host, examplesPort, stack.Host, examplesPort)
	fmt.Printf("  A two-page shop with a cart (cart.js) there: http://%s:%d/shop/ (promotion code SAVE10 in the sandbox)\n", stack.Host, examplesPort)
	if s.AdminToken != "" && s.SandboxURL != "" {
		fmt.Printf("  Orders (the operator API, token made for this run):\n    curl -H 'Authorization: Bearer %s' %s/admin/orders\n", s.AdminToken, s.BaseURL)
	}
	fmt.Printf("  Edits reload by themselves: worker/catalog.json, site/, Go under worker/ and wasm/ (%s). Logs: %s\n\n", compiler, s.LogDir)

	run := func(name string, args ...string) error {
		c := exec.Command(builder, args...)
		c.Dir = root
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.Env = append(os.Environ(), "COMPILER="+compiler)
		return s.RunTracked(name, c)
	}
	for range time.Tick(poll) {
		if sum := w.goInputs(); sum != lastGo {
			lastGo = sum
			t := time.Now()
			before := readKey(s, cfg)
			if err := run("build worker", "worker", "-compiler", compiler, "-worker-out", cfg.WorkerDir); err != nil {
				fmt.Fprintf(os.Stderr, "dev: the worker did not build (%v); still serving the last build\n", err)
			} else if readKey(s, cfg) != before {
				restart(s, "", "Go change: worker rebuilt", t)
			}
		}
		if sum := w.sum(catalog); sum != lastCatalog {
			lastCatalog = sum
			t := time.Now()
			js, err := stack.CompactJSONFile(root, "worker/catalog.json")
			if err != nil {
				fmt.Fprintf(os.Stderr, "dev: %v; keeping the last catalog\n", err)
				continue
			}
			restart(s, js, "catalog change", t)
		}
		if sum := w.tree("site", nil); sum != lastSite {
			lastSite = sum
			t := time.Now()
			err := run("build site", "site", "-site-out", "dist/site")
			if err == nil && s.SandboxURL != "" {
				err = run("build dev-site", "dev-site", "-site-out", "dist/site", "-dev-site-out", s.SiteDir, "-dev-origin", s.SandboxURL)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "dev: the site did not build (%v)\n", err)
				continue
			}
			// wrangler dev notices the rewritten directory by itself, but
			// reloads while it is half written and may then answer 500 until
			// restarted: a restart is certain and takes a few seconds.
			restart(s, "", "site change: rebuilt", t)
		}
	}
	return 0
}

// restart restarts the worker, saying how long the change took to apply.
func restart(s *stack.Stack, catalogJSON, what string, since time.Time) {
	if err := s.RestartWorker(catalogJSON); err != nil {
		fmt.Fprintf(os.Stderr, "dev: %s: restarting the worker failed: %v\n", what, err)
		return
	}
	fmt.Printf("dev: %s: worker reloaded in %.1fs\n", what, time.Since(since).Seconds())
}

// readKey is the BUILD-KEY of the served build: a rebuild that left it
// unchanged changed nothing.
func readKey(s *stack.Stack, cfg stack.Config) string {
	dir := cfg.WorkerDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.Root, dir)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "BUILD-KEY"))
	return string(b)
}

// watch fingerprints files by name, size and modification time: cheap
// enough to poll a few times a second.
type watch struct{ root string }

func newWatch(root string) *watch { return &watch{root: root} }

func (w *watch) sum(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
}

// tree fingerprints the files below dir (relative to the root) that keep
// accepts (all when nil); node_modules and dot directories are skipped.
func (w *watch) tree(dir string, keep func(rel string) bool) string {
	h := sha256.New()
	filepath.WalkDir(filepath.Join(w.root, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); n == "node_modules" || (strings.HasPrefix(n, ".") && p != filepath.Join(w.root, dir)) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(w.root, p)
		if keep != nil && !keep(filepath.ToSlash(rel)) {
			return nil
		}
		fmt.Fprintf(h, "%s %s\n", rel, w.sum(p))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// goInputs fingerprints what a worker build compiles: the Go packages and
// loader files under worker/ and wasm/ (tests and the catalog aside: the
// catalog reaches the running worker as a variable), go.mod and go.sum.
func (w *watch) goInputs() string {
	keep := func(rel string) bool {
		if rel == "worker/catalog.json" || strings.HasSuffix(rel, "_test.go") || strings.Contains(rel, "/testdata/") {
			return false
		}
		return strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, ".mjs") || strings.HasSuffix(rel, ".js")
	}
	return w.tree("worker", keep) + w.tree("wasm", keep) + w.sum(filepath.Join(w.root, "go.mod")) + w.sum(filepath.Join(w.root, "go.sum"))
}
