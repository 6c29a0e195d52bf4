// Package stack starts and stops what the end-to-end suites run against: the
// worker built to wasm under `wrangler dev` (workerd), with a fresh local D1
// database whose schema (worker/migrations) is applied first, and the offline
// Stripe sandbox (scripts/sandbox) that it calls and that delivers signed
// webhook events back to it. StripeMock starts stripe-mock.
//
// Every server runs in a process group of its own; Stop (and an interrupt of
// the process, once any stack was started) ends the groups. A port that
// something already listens on is refused, never reused: a stale server from
// another run would answer for this one.
//
// The suites use it through scripts/e2e/internal/e2e (TestMain), the node
// tests and `make dev` through the scripts/stack command.
package stack

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Host is the address every server listens on.
const Host = "127.0.0.1"

// Config says what a stack runs with. The zero value (with Root found by
// FindRoot) is a stack of the TinyGo build on free ports.
type Config struct {
	// Root is the repository root (FindRoot).
	Root string
	// WorkerDir holds the built worker (worker.mjs), relative to Root or
	// absolute; default dist/worker. dist/site must be built too. Nothing is
	// built here: a missing build is an error.
	WorkerDir string
	// Port, SandboxPort, InspectorPort: 0 picks a free port.
	Port, SandboxPort, InspectorPort int
	// LogDir, if set, receives sandbox.log, wrangler.log and
	// d1-migrations.log (relative to Root or absolute); otherwise they go to a
	// temporary directory removed by Stop.
	LogDir string
	// Vars are the worker's extra variables (wrangler dev --var KEY:VALUE).
	Vars map[string]string
	// CatalogJSON, if set, is the worker's CATALOG_JSON.
	CatalogJSON string
	// AllowedOrigins is the worker's ALLOWED_ORIGINS, if set.
	AllowedOrigins string
	// WebhookSecret is the whsec_ secret the sandbox signs its events with
	// and the worker verifies them with; AdminToken the operator API's token.
	// Empty: random for this stack.
	WebhookSecret, AdminToken string
	// RateLimit is every [[ratelimits]] binding's limit (the periods stay
	// wrangler.toml's), "off" for no bindings, or "wrangler.toml" for the
	// limits as configured; wrangler dev runs a generated copy of
	// wrangler.toml. Empty: 1000000, since the suites send
	// thousands of requests from one address and are not about rate limits.
	RateLimit string
	// D1Dir is where the local D1 database lives; empty: a fresh directory
	// removed by Stop.
	D1Dir string
	// StartTimeout bounds waiting for wrangler dev to answer; default 3 min.
	StartTimeout time.Duration
	// NoSandbox runs no sandbox: the worker talks to Stripe with the keys
	// .dev.vars sets (make dev with a real test key), and serves dist/site as
	// built.
	NoSandbox bool
	// DevVarsWin leaves out every variable .dev.vars sets (wrangler dev reads
	// that file next to the config): a developer's own ADMIN_TOKEN or
	// ALLOWED_ORIGINS wins over the stack's. The suites leave it false.
	DevVarsWin bool
}

// Stack is a running stack.
type Stack struct {
	Config        Config // as started: ports, secrets, directories filled in
	BaseURL       string // the worker, http://127.0.0.1:Port
	SandboxURL    string // the Stripe sandbox
	WranglerPID   int    // wrangler dev's process (the load test reads workerd under it)
	WebhookSecret string
	AdminToken    string
	D1Dir         string
	LogDir        string

	// SiteDir is the directory wrangler dev serves the site from: a
	// development copy of dist/site (go run ./build dev-site), or dist/site
	// itself with NoSandbox. Rewriting it while the stack runs is served on
	// the next request.
	SiteDir string

	tmp    string
	config string // generated wrangler config, removed on Stop
	env    []string
	vars   map[string]string // the worker's --var values
	worker *group            // wrangler dev, replaced by RestartWorker

	mu      sync.Mutex // guards groups and stopped: RunTracked adds and removes builds
	groups  []*group
	stopped bool
	once    sync.Once
}

// FindRoot returns the repository root: the nearest directory at or above
// the working directory holding go.mod and wrangler.toml.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "wrangler.toml")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: no repository root (go.mod and wrangler.toml) at or above the working directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// RandomHex is n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// FreePort asks the kernel for a port nobody listens on.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", Host+":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkPortFree refuses a port something already listens on.
func checkPortFree(port int, what string) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(Host, strconv.Itoa(port)), 500*time.Millisecond)
	if err == nil {
		c.Close()
		return fmt.Errorf("stack: something already listens on %s:%d (%s); stop it or choose another port", Host, port, what)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("stack: cannot use port %d (%s): %v", port, what, err)
	}
	return l.Close()
}

func (c *Config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}

// Start starts a stack; on error, whatever it started is stopped.
func Start(cfg Config) (_ *Stack, err error) {
	if cfg.Root == "" {
		if cfg.Root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	if cfg.WorkerDir == "" {
		cfg.WorkerDir = "dist/worker"
	}
	for _, f := range []string{filepath.Join(cfg.abs(cfg.WorkerDir), "worker.mjs"), cfg.abs("dist/site/index.html")} {
		if !fileExists(f) {
			return nil, fmt.Errorf("stack: %s is missing: build first (make build, or go run ./build all; the Go build: go run ./build worker -compiler go -worker-out dist/worker-go)", f)
		}
	}
	for _, p := range []struct {
		port *int
		what string
	}{{&cfg.Port, "worker"}, {&cfg.SandboxPort, "sandbox"}, {&cfg.InspectorPort, "wrangler inspector"}} {
		if *p.port == 0 {
			if *p.port, err = FreePort(); err != nil {
				return nil, err
			}
		} else if err := checkPortFree(*p.port, p.what); err != nil {
			return nil, err
		}
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = "whsec_" + RandomHex(24)
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = RandomHex(32)
	}
	if cfg.RateLimit == "" {
		cfg.RateLimit = "1000000"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 3 * time.Minute
	}
	s := &Stack{Config: cfg, WebhookSecret: cfg.WebhookSecret, AdminToken: cfg.AdminToken}
	watchSignals()
	register(s)
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.tmp, err = os.MkdirTemp("", "checkout-stack-"); err != nil {
		return nil, err
	}
	s.LogDir = cfg.abs(cfg.LogDir)
	if s.LogDir == "" {
		s.LogDir = filepath.Join(s.tmp, "logs")
	}
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return nil, err
	}
	s.D1Dir = cfg.abs(cfg.D1Dir)
	if s.D1Dir == "" {
		s.D1Dir = filepath.Join(s.tmp, "d1")
	}
	s.BaseURL = fmt.Sprintf("http://%s:%d", Host, cfg.Port)
	s.SandboxURL = fmt.Sprintf("http://%s:%d", Host, cfg.SandboxPort)

	// wrangler dev registers every running worker by name in a registry
	// shared by all of the user's `wrangler dev` processes; every stack of the
	// kit registers "checkout-kit", so side-by-side stacks would overwrite and
	// remove each other's entry. Each stack keeps a registry of its own.
	env := append(os.Environ(), "WRANGLER_REGISTRY_PATH="+filepath.Join(s.tmp, "registry"),
		"WRANGLER_SEND_METRICS=false", "CLOUDFLARE_CF_FETCH_ENABLED=false")
	s.env = env
	if cfg.NoSandbox {
		s.SandboxURL = ""
		s.SiteDir = cfg.abs("dist/site")
	} else if err := s.startSandbox(); err != nil {
		return nil, err
	}

	// Rate limits: a copy of wrangler.toml next to it (wrangler resolves the
	// config's paths from its directory and reads .dev.vars there), named
	// for this stack (.gitignore), removed on Stop.
	if s.config, err = writeRateLimitConfig(cfg.Root, cfg.RateLimit); err != nil {
		return nil, err
	}

	// Orders live in D1 (binding DB): the schema first.
	mig := s.command(env, "wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", s.D1Dir)
	if err := s.runLogged(mig, "d1-migrations.log"); err != nil {
		return nil, fmt.Errorf("stack: applying the D1 migrations (worker/migrations): %v; see %s", err, filepath.Join(s.LogDir, "d1-migrations.log"))
	}

	s.vars = map[string]string{}
	if !cfg.NoSandbox {
		// Development-only values: a fake key the sandbox accepts, and its
		// stand-in for Stripe.js instead of js.stripe.com.
		s.vars["STRIPE_SECRET_KEY"] = "sk_test_sandbox"
		s.vars["STRIPE_PUBLISHABLE_KEY"] = "pk_test_sandbox"
		s.vars["STRIPE_API_BASE"] = s.SandboxURL
		s.vars["STRIPE_JS_URL"] = s.SandboxURL + "/stripe.js"
		s.vars["STRIPE_WEBHOOK_SECRET"] = cfg.WebhookSecret
		s.vars["ADMIN_TOKEN"] = cfg.AdminToken
	}
	if cfg.AllowedOrigins != "" {
		s.vars["ALLOWED_ORIGINS"] = cfg.AllowedOrigins
	}
	if cfg.DevVarsWin {
		for k := range devVarsKeys(cfg.Root) {
			delete(s.vars, k)
			if k == "ADMIN_TOKEN" {
				s.AdminToken = ""
			}
		}
	}
	if cfg.CatalogJSON != "" {
		s.vars["CATALOG_JSON"] = cfg.CatalogJSON
	}
	for k, v := range cfg.Vars {
		s.vars[k] = v
	}
	if err := s.startWorker(); err != nil {
		return nil, err
	}
	return s, nil
}

// startSandbox builds and starts the Stripe sandbox and makes the
// development copy of the site whose policy allows it.
func (s *Stack) startSandbox() error {
	cfg, env := s.Config, s.env

	// The sandbox: built from source (go build), signing its events with the
	// stack's secret and POSTing them to the worker's /webhook.
	sandboxBin := filepath.Join(s.tmp, "stripe-sandbox")
	if out, err := s.command(env, "go", "build", "-o", sandboxBin, "./scripts/sandbox").CombinedOutput(); err != nil {
		return fmt.Errorf("stack: building the sandbox: %v\n%s", err, out)
	}
	sb := s.command(append(env, "STRIPE_WEBHOOK_SECRET="+cfg.WebhookSecret, "SANDBOX_WEBHOOK_URL="+s.BaseURL+"/webhook"),
		sandboxBin, "-addr", fmt.Sprintf("%s:%d", Host, cfg.SandboxPort))
	if _, err := s.start("sandbox", sb); err != nil {
		return err
	}
	if err := s.waitHTTP(s.SandboxURL+"/_sandbox/health", 30*time.Second, "the Stripe sandbox", "sandbox.log"); err != nil {
		return err
	}

	// The pages' Content-Security-Policy must also allow the sandbox's
	// origin: a copy of the built site whose policy adds it, dist/site
	// (what gets deployed) left as built.
	s.SiteDir = filepath.Join(s.tmp, "site")
	if out, err := s.command(env, "go", "run", "./build", "dev-site", "-site-out", "dist/site", "-dev-site-out", s.SiteDir, "-dev-origin", s.SandboxURL).CombinedOutput(); err != nil {
		return fmt.Errorf("stack: go run ./build dev-site: %v\n%s", err, out)
	}
	return nil
}

// startWorker starts wrangler dev with the stack's variables and waits
// until the worker answers.
func (s *Stack) startWorker() error {
	cfg := s.Config
	args := []string{"dev", filepath.Join(cfg.abs(cfg.WorkerDir), "worker.mjs"), "--config", s.config, "--local",
		"--ip", Host, "--port", strconv.Itoa(cfg.Port), "--inspector-port", strconv.Itoa(cfg.InspectorPort),
		"--show-interactive-dev-session=false", "--persist-to", s.D1Dir, "--assets", s.SiteDir}
	for _, k := range sortedKeys(s.vars) {
		// wrangler splits a --var at its first colon only: JSON passes unchanged.
		args = append(args, "--var", k+":"+s.vars[k])
	}
	w := s.command(s.env, "wrangler", args...)
	g, err := s.start("wrangler", w)
	if err != nil {
		return err
	}
	s.worker = g
	s.WranglerPID = w.Process.Pid
	return s.waitHTTP(s.BaseURL+"/config", cfg.StartTimeout, "wrangler dev", "wrangler.log")
}

// RestartWorker stops wrangler dev (its whole process group, workerd
// included) and starts it again, with CATALOG_JSON set to catalogJSON when
// that is not empty; the sandbox, the D1 database and the ports stay. It is
// how `make dev` applies a new catalog or a rebuilt worker: a restart takes
// seconds and is certain, where wrangler's own file watching is not.
func (s *Stack) RestartWorker(catalogJSON string) error {
	if catalogJSON != "" {
		s.vars["CATALOG_JSON"] = catalogJSON
	}
	if g := s.worker; g != nil {
		g.signal(syscall.SIGTERM)
		g.wait(5 * time.Second)
		g.signal(syscall.SIGKILL)
		g.wait(5 * time.Second)
		s.forget(g)
	}
	if err := waitPortFree(s.Config.Port, 10*time.Second); err != nil {
		return err
	}
	return s.startWorker()
}

// waitPortFree waits until nothing listens on port (a stopped server's
// socket can outlive it briefly).
func waitPortFree(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := checkPortFree(port, "worker")
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartServer starts another server of the stack (make dev's examples
// server) in a process group of its own, its output in name.log; Stop ends it
// with the others.
func (s *Stack) StartServer(name string, args ...string) error {
	_, err := s.start(name, s.command(s.env, args[0], args[1:]...))
	return err
}

// RunTracked runs c to its end in a process group of its own, with the
// output c already has; while it runs, Stop ends it like a server. make dev's
// rebuilds run so, so that stopping make dev never leaves a compiler behind.
func (s *Stack) RunTracked(name string, c *exec.Cmd) error {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.mu.Lock()
	stopped := s.stopped
	if !stopped {
		if err := c.Start(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	var g *group
	if !stopped {
		g = &group{name: name, pid: c.Process.Pid, done: make(chan struct{})}
		s.groups = append(s.groups, g)
	}
	s.mu.Unlock()
	if stopped {
		return errors.New("stack: stopped")
	}
	err := c.Wait()
	close(g.done)
	s.forget(g)
	return err
}

// forget drops a group that has ended from the stack's list.
func (s *Stack) forget(g *group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.groups {
		if h == g {
			s.groups = append(s.groups[:i], s.groups[i+1:]...)
			break
		}
	}
}

// devVarsKeys is the set of variables .dev.vars (KEY=VALUE lines) sets.
func devVarsKeys(root string) map[string]bool {
	keys := map[string]bool{}
	b, err := os.ReadFile(filepath.Join(root, ".dev.vars"))
	if err != nil {
		return keys
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok {
			keys[strings.TrimSpace(k)] = true
		}
	}
	return keys
}

// Env is the stack's description as environment variables, as the suites
// and the node tests read it.
func (s *Stack) Env() []string {
	return []string{
		"BASE_URL=" + s.BaseURL,
		"SANDBOX_URL=" + s.SandboxURL,
		"PORT=" + strconv.Itoa(s.Config.Port),
		"WRANGLER_PID=" + strconv.Itoa(s.WranglerPID),
		"STRIPE_WEBHOOK_SECRET=" + s.WebhookSecret,
		"ADMIN_TOKEN=" + s.AdminToken,
		"D1_PERSIST_DIR=" + s.D1Dir,
		"STACK_LOG_DIR=" + s.LogDir,
		"ALLOWED_ORIGINS=" + s.Config.AllowedOrigins,
		"WORKER_DIR=" + s.Config.abs(s.Config.WorkerDir),
	}
}

// Stop ends every process group of the stack (SIGTERM, then SIGKILL after
// 5 s) and removes its temporary files. It may be called more than once.
func (s *Stack) Stop() {
	s.once.Do(func() {
		s.mu.Lock()
		s.stopped = true
		groups := append([]*group(nil), s.groups...)
		s.mu.Unlock()
		for _, g := range groups {
			g.signal(syscall.SIGTERM)
		}
		for _, g := range groups {
			g.wait(5 * time.Second)
			g.signal(syscall.SIGKILL)
			g.wait(2 * time.Second)
		}
		if s.config != "" {
			os.Remove(s.config)
		}
		if s.tmp != "" {
			os.RemoveAll(s.tmp)
		}
		unregister(s)
	})
}

func (s *Stack) command(env []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Dir = s.Config.Root
	c.Env = env
	return c
}

func (s *Stack) logFile(name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(s.LogDir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

func (s *Stack) runLogged(c *exec.Cmd, log string) error {
	f, err := s.logFile(log)
	if err != nil {
		return err
	}
	defer f.Close()
	c.Stdout, c.Stderr = f, f
	return c.Run()
}

// start runs c as the leader of a new process group, its output in name.log.
func (s *Stack) start(name string, c *exec.Cmd) (*group, error) {
	f, err := s.logFile(name + ".log")
	if err != nil {
		return nil, err
	}
	c.Stdout, c.Stderr = f, f
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		f.Close()
		return nil, fmt.Errorf("stack: not starting %s: the stack is stopping", name)
	}
	if err := c.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("stack: starting %s: %v", name, err)
	}
	g := &group{name: name, pid: c.Process.Pid, done: make(chan struct{})}
	go func() {
		c.Wait()
		f.Close()
		close(g.done)
	}()
	s.groups = append(s.groups, g)
	return g, nil
}

// waitHTTP polls url until it answers 2xx, failing early when a server of
// the stack exits (a port taken meanwhile, a crash).
func (s *Stack) waitHTTP(url string, limit time.Duration, what, log string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r, err := client.Get(url); err == nil {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
			r.Body.Close()
			if r.StatusCode < 300 {
				return nil
			}
			// A worker that refuses its configuration (a bad catalog, say)
			// answers so for good: waiting longer changes nothing.
			if r.StatusCode == http.StatusInternalServerError && bytes.Contains(body, []byte(`"configuration_error"`)) {
				return fmt.Errorf("stack: %s answers %s with %d: %s", what, url, r.StatusCode, bytes.TrimSpace(body))
			}
		}
		s.mu.Lock()
		groups := append([]*group(nil), s.groups...)
		s.mu.Unlock()
		for _, g := range groups {
			if g.exited() {
				return fmt.Errorf("stack: %s exited while waiting for %s (port in use?); %s ends:\n%s", g.name, what, g.name+".log", s.tail(g.name+".log"))
			}
		}
	}
	return fmt.Errorf("stack: %s did not answer %s within %v; %s ends:\n%s", what, url, limit, log, s.tail(log))
}

func (s *Stack) tail(log string) string {
	b, _ := os.ReadFile(filepath.Join(s.LogDir, log))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

var limitLine = regexp.MustCompile(`(?m)^(simple[ \t]*=[ \t]*\{[ \t]*limit[ \t]*=[ \t]*)[0-9]+`)

// writeRateLimitConfig writes root/.wrangler-stack-<pid>-<random>.toml, a
// copy of wrangler.toml whose [[ratelimits]] bindings allow limit requests
// per period, or which has none (limit "off").
func writeRateLimitConfig(root, limit string) (string, error) {
	src, err := os.ReadFile(filepath.Join(root, "wrangler.toml"))
	if err != nil {
		return "", err
	}
	var out []byte
	switch {
	case limit == "wrangler.toml":
		out = src // the limits as configured (make dev)
	case limit == "off":
		skip := false
		var b bytes.Buffer
		for _, line := range strings.SplitAfter(string(src), "\n") {
			if strings.HasPrefix(line, "[[ratelimits]]") {
				skip = true
				continue
			}
			if strings.HasPrefix(line, "[") {
				skip = false
			}
			if !skip {
				b.WriteString(line)
			}
		}
		out = b.Bytes()
	default:
		if n, err := strconv.Atoi(limit); err != nil || n < 1 {
			return "", fmt.Errorf("stack: the rate limit must be a whole number or off, not %q", limit)
		}
		bindings := len(regexp.MustCompile(`(?m)^\[\[ratelimits\]\]`).FindAll(src, -1))
		if got := len(limitLine.FindAll(src, -1)); got != bindings {
			return "", errors.New("stack: cannot set the rate limit: write each [[ratelimits]] binding's limits in wrangler.toml as one line, simple = { limit = N, period = P }")
		}
		out = limitLine.ReplaceAll(src, []byte("${1}"+limit))
	}
	name := filepath.Join(root, fmt.Sprintf(".wrangler-stack-%d-%s.toml", os.Getpid(), RandomHex(4)))
	return name, os.WriteFile(name, out, 0o644)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// CatalogWith is the catalog file base (JSON, relative to root) with the
// products of each extra file (JSON arrays) appended, compacted.
func CatalogWith(root, base string, extra ...string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, base))
	if err != nil {
		return "", err
	}
	var cat map[string]json.RawMessage
	if err := json.Unmarshal(b, &cat); err != nil {
		return "", fmt.Errorf("%s: %v", base, err)
	}
	var products []json.RawMessage
	if err := json.Unmarshal(cat["products"], &products); err != nil {
		return "", fmt.Errorf("%s: products: %v", base, err)
	}
	for _, f := range extra {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", err
		}
		var more []json.RawMessage
		if err := json.Unmarshal(b, &more); err != nil {
			return "", fmt.Errorf("%s: %v", f, err)
		}
		products = append(products, more...)
	}
	if cat["products"], err = json.Marshal(products); err != nil {
		return "", err
	}
	out, err := json.Marshal(cat)
	return string(out), err
}

// CompactJSONFile is a JSON file (relative to root) without white space.
func CompactJSONFile(root, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return out.String(), nil
}

// group is a started process group.
type group struct {
	name string
	pid  int
	done chan struct{}
}

func (g *group) exited() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// signal signals the whole group (its id is the leader's pid).
func (g *group) signal(sig syscall.Signal) { syscall.Kill(-g.pid, sig) }

func (g *group) wait(d time.Duration) {
	select {
	case <-g.done:
	case <-time.After(d):
	}
}

// Running stacks, stopped on SIGINT/SIGTERM.
var (
	mu      sync.Mutex
	running = map[*Stack]bool{}
	sigOnce sync.Once
)

func register(s *Stack)   { mu.Lock(); running[s] = true; mu.Unlock() }
func unregister(s *Stack) { mu.Lock(); delete(running, s); mu.Unlock() }

// StopAll stops every running stack of this process.
func StopAll() {
	mu.Lock()
	list := make([]*Stack, 0, len(running))
	for s := range running {
		list = append(list, s)
	}
	mu.Unlock()
	for _, s := range list {
		s.Stop()
	}
}

func watchSignals() {
	sigOnce.Do(func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		go func() {
			sig := <-c
			fmt.Fprintf(os.Stderr, "stack: %v: stopping the stacks\n", sig)
			StopAll()
			code := 130 // a shell's status for a process ended by SIGINT
			if n, ok := sig.(syscall.Signal); ok {
				code = 128 + int(n)
			}
			os.Exit(code)
		}()
	})
}

// StripeMock starts stripe-mock (STRIPE_MOCK_BIN, else stripe-mock on PATH)
// on a free HTTP port in a process group of its own, and waits until it
// answers. Stop it with the returned function.
func StripeMock(logDir string) (url string, stop func(), err error) {
	bin := os.Getenv("STRIPE_MOCK_BIN")
	if bin == "" {
		bin = "stripe-mock"
	}
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	s := &Stack{LogDir: logDir}
	if s.LogDir == "" {
		if s.tmp, err = os.MkdirTemp("", "stripe-mock-"); err != nil {
			return "", nil, err
		}
		s.LogDir = s.tmp
	}
	watchSignals()
	register(s)
	c := exec.Command(bin, "-http-addr", fmt.Sprintf("%s:%d", Host, port), "-https-port", "-1")
	if _, err := s.start("stripe-mock", c); err != nil {
		s.Stop()
		return "", nil, err
	}
	url = fmt.Sprintf("http://%s:%d", Host, port)
	// stripe-mock answers 401 without a key: any answer means it is up.
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r, err := client.Get(url + "/v1/customers"); err == nil {
			r.Body.Close()
			return url, s.Stop, nil
		}
		if s.groups[0].exited() || time.Now().After(deadline) {
			s.Stop()
			return "", nil, fmt.Errorf("stack: stripe-mock did not start:\n%s", s.tail("stripe-mock.log"))
		}
	}
}

// FromEnv is the configuration of a stack named name (a suite, "browser")
// from the environment:
//
//	WORKER_DIR      the built worker (worker.mjs), default dist/worker
//	E2E_LOG_DIR     logs go to <E2E_LOG_DIR>/<flavour>-<name>/ (default dist/test-logs)
//	PORT, SANDBOX_PORT, INSPECTOR_PORT  fixed ports (default: free ones)
//	STRIPE_WEBHOOK_SECRET, ADMIN_TOKEN  the stack's secrets (default: random)
//	ALLOWED_ORIGINS the worker's ALLOWED_ORIGINS (default http://127.0.0.1:$EXAMPLES_PORT, 8790)
//
// Vars is an empty map, ready for additions.
func FromEnv(name string) (Config, error) {
	root, err := FindRoot()
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Root: root, WorkerDir: os.Getenv("WORKER_DIR"), Vars: map[string]string{}}
	if cfg.WorkerDir == "" {
		cfg.WorkerDir = "dist/worker"
	}
	logs := os.Getenv("E2E_LOG_DIR")
	if logs == "" {
		logs = "dist/test-logs"
	}
	cfg.LogDir = cfg.abs(filepath.Join(logs, Flavour(cfg)+"-"+name))
	for _, p := range []struct {
		env  string
		port *int
	}{{"PORT", &cfg.Port}, {"SANDBOX_PORT", &cfg.SandboxPort}, {"INSPECTOR_PORT", &cfg.InspectorPort}} {
		if v := os.Getenv(p.env); v != "" {
			if *p.port, err = strconv.Atoi(v); err != nil {
				return cfg, fmt.Errorf("%s=%q: not a port", p.env, v)
			}
		}
	}
	cfg.WebhookSecret = os.Getenv("STRIPE_WEBHOOK_SECRET")
	cfg.AdminToken = os.Getenv("ADMIN_TOKEN")
	cfg.AllowedOrigins = os.Getenv("ALLOWED_ORIGINS")
	if cfg.AllowedOrigins == "" {
		examples := os.Getenv("EXAMPLES_PORT")
		if examples == "" {
			examples = "8790"
		}
		cfg.AllowedOrigins = "http://" + Host + ":" + examples
	}
	return cfg, nil
}

// Flavour is "go" or "tinygo": the compiler cfg's build was made with (its
// COMPILER file), else the build directory's name.
func Flavour(cfg Config) string {
	dir := cfg.abs(cfg.WorkerDir)
	if b, err := os.ReadFile(filepath.Join(dir, "COMPILER")); err == nil {
		if c := strings.TrimSpace(string(b)); c != "" {
			return c
		}
	}
	return filepath.Base(dir)
}
