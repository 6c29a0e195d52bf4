// Command bench measures what the checkout worker costs per request under
// `wrangler dev`, built with TinyGo and with standard Go, against a reference
// worker in JavaScript with stripe-node (scripts/bench/reference), all talking
// to one stripe-mock.
//
//	scripts/bench.sh [flags]          # sources scripts/env.sh, then runs this
//	go run ./scripts/bench [flags]    # needs wrangler and STRIPE_MOCK_BIN (env.sh)
//
// It builds the site and both workers into dist/bench (unless -reuse finds
// them there), starts stripe-mock, then for each round runs every variant in
// turn (A B C A B C ...), each in a fresh `wrangler dev` in its own process
// group. Per variant and round it applies the D1 migrations (worker/migrations)
// to a fresh local database, times the first request (which pays for the Go
// instance's start-up), then for each endpoint and concurrency sends -n
// requests over keep-alive connections and reads the CPU time (utime+stime)
// that the user-worker workerd process spent on them. The figure that counts
// is CPU ms per request in that process; "other" is the CPU of the rest of
// wrangler's process tree (node, the proxy workerd), which is the same
// machinery for every variant.
//
// Endpoints: POST /create-checkout-session (one Stripe call, to stripe-mock:
// a session with the bundled catalog's shipping options and custom fields)
// and GET /session-status (one call), POST /create-confirm-intent (two: the
// ConfirmationToken, which the card rules and shipping checks read, then
// create and confirm a PaymentIntent with the shipping rate in its amount),
// and POST /webhook twice:
// "webhook" sends signed payment_intent.succeeded events of the confirm-intent
// flow, each a new event about a new PaymentIntent, which the worker records
// as a new order from the event alone (D1 only, no Stripe call); "dup-event"
// re-sends the first of them, which the worker answers as a duplicate after
// checking the signature and looking the event id up. Every variant gets
// DEPLOYMENT_ID=bench and a STRIPE_WEBHOOK_SECRET made for the run.
//
// It prints medians over rounds to stdout, progress to stderr, and writes the
// raw results to dist/bench/results.json. It asserts nothing.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"checkoutkit/scripts/internal/procfs"
)

const (
	benchDir  = "dist/bench"
	siteDir   = benchDir + "/site"
	logDir    = benchDir + "/logs"
	jsEntry   = "scripts/bench/reference/worker.mjs"
	secretKey = "sk_test_bench"
	d1Dir     = benchDir + "/d1" // one local D1 database per variant run, removed after it
)

// variant is one way of running the worker.
type variant struct {
	Name     string   `json:"name"`
	Compiler string   `json:"compiler,omitempty"` // "tinygo", "go"; "" for the JavaScript reference
	Entry    string   `json:"entry"`
	Wasm     string   `json:"wasm,omitempty"`
	Vars     []string `json:"vars,omitempty"`
}

func goVariant(name, compiler string, vars ...string) variant {
	dir := filepath.Join(benchDir, compiler)
	return variant{Name: name, Compiler: compiler, Entry: filepath.Join(dir, "worker.mjs"), Wasm: filepath.Join(dir, "app.wasm"), Vars: vars}
}

var knownVariants = map[string]variant{
	"tinygo":             goVariant("tinygo", "tinygo"),
	"go":                 goVariant("go", "go"),
	"js":                 {Name: "js", Entry: jsEntry},
	"tinygo-per-request": goVariant("tinygo-per-request", "tinygo", "GO_INSTANCE:per-request"),
	"go-per-request":     goVariant("go-per-request", "go", "GO_INSTANCE:per-request"),
}

// extraTinyGo registers a variant tinygo-NAME (or go-NAME) for a build kept
// in dist/bench/tinygo-NAME (a copy made before or between changes), so that
// several builds are measured in the same run; it reports whether one is there.
func extraTinyGo(name string) bool {
	if !(strings.HasPrefix(name, "tinygo-") || strings.HasPrefix(name, "go-")) || strings.ContainsAny(name, "/\\") {
		return false
	}
	dir := filepath.Join(benchDir, name)
	if _, err := os.Stat(filepath.Join(dir, "app.wasm")); err != nil {
		return false
	}
	knownVariants[name] = variant{Name: name, Compiler: name, Entry: filepath.Join(dir, "worker.mjs"), Wasm: filepath.Join(dir, "app.wasm")}
	return true
}

type options struct {
	Rounds      int      `json:"rounds"`
	N           int      `json:"n"`
	Warmup      int      `json:"warmup"`
	Concurrency []int    `json:"concurrency"`
	Variants    []string `json:"variants"`
	Reuse       bool     `json:"reuse"`
	PerRequest  bool     `json:"per_request"`
	JSONOut     string   `json:"-"`
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each round runs every variant once, in order")
	fs.IntVar(&o.N, "n", 300, "measured requests per endpoint and concurrency")
	fs.IntVar(&o.Warmup, "warmup", 300, "unmeasured requests per endpoint before its measured runs (their CPU is reported apart: V8's tier-up compilation)")
	conc := fs.String("c", "1,10", "concurrency levels, comma-separated")
	vars := fs.String("variants", "tinygo,go,js", "variants, comma-separated: tinygo, go, js, tinygo-per-request, go-per-request, tinygo-NAME (a TinyGo build copied to "+benchDir+"/tinygo-NAME, e.g. from before a change)")
	fs.BoolVar(&o.Reuse, "reuse", false, "reuse the builds in "+benchDir+" (build only what is missing)")
	fs.BoolVar(&o.PerRequest, "per-request", false, "add tinygo-per-request and go-per-request (GO_INSTANCE=per-request: a new Go instance per request)")
	fs.StringVar(&o.JSONOut, "json", filepath.Join(benchDir, "results.json"), "where to write the raw results")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.Rounds < 1 || o.N < 1 || o.Warmup < 0 {
		return o, errors.New("-rounds and -n must be at least 1, -warmup at least 0")
	}
	for _, s := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return o, fmt.Errorf("-c: %q is not a positive number", s)
		}
		o.Concurrency = append(o.Concurrency, c)
	}
	seen := map[string]bool{}
	add := func(name string) error {
		if _, ok := knownVariants[name]; !ok {
			if !extraTinyGo(name) {
				return fmt.Errorf("-variants: unknown variant %q", name)
			}
		}
		if !seen[name] {
			seen[name] = true
			o.Variants = append(o.Variants, name)
		}
		return nil
	}
	for _, s := range strings.Split(*vars, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if err := add(s); err != nil {
				return o, err
			}
		}
	}
	if o.PerRequest {
		_ = add("tinygo-per-request")
		_ = add("go-per-request")
	}
	if len(o.Variants) == 0 {
		return o, errors.New("-variants: none given")
	}
	return o, nil
}

// loadResult is one measured load: one endpoint at one concurrency.
type loadResult struct {
	Endpoint    string  `json:"endpoint"`
	Concurrency int     `json:"concurrency"`
	CPUms       float64 `json:"cpu_ms"`      // user-worker workerd, whole run
	TreeCPUms   float64 `json:"tree_cpu_ms"` // wrangler's whole process tree, whole run
	CPUPerReq   float64 `json:"cpu_ms_per_req"`
	OtherPerReq float64 `json:"other_cpu_ms_per_req"`
	ReqPerSec   float64 `json:"req_per_s"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	RSSMB       float64 `json:"user_workerd_rss_mib_after"`
	// At c=1: the main thread's CPU per request, median, mean and largest,
	// and which request (0-based) was the largest (see loadStats.MainCPU).
	// CPUPerReq less MainMean is what the process spent per request off the
	// request's own main-thread time: V8's background threads (garbage
	// collection, compilation) and the main thread between requests.
	MainP50   float64 `json:"main_thread_p50_ms,omitempty"`
	MainMean  float64 `json:"main_thread_mean_ms,omitempty"`
	MainMax   float64 `json:"main_thread_max_ms,omitempty"`
	MainMaxAt int     `json:"main_thread_max_at,omitempty"`
	// CPU ms per request of the user workerd's threads over the whole load,
	// summed by thread name ("main" for the thread that runs the isolate):
	// it says which of V8's background threads the "rest" is spent in.
	Threads map[string]float64 `json:"threads_ms_per_req,omitempty"`
	loadStats
}

// runResult is one variant in one round.
type runResult struct {
	Variant           string  `json:"variant"`
	Round             int     `json:"round"`
	LoadAvg           string  `json:"loadavg_at_start"`
	StartupSeconds    float64 `json:"startup_s"` // wrangler dev started -> answering
	FirstRequestMs    float64 `json:"first_request_ms"`
	FirstRequestCPUms float64 `json:"first_request_cpu_ms"`
	// The first request's CPU time at nanosecond precision (schedstat): the
	// workerd thread that runs the worker's JavaScript and WebAssembly, and
	// every other thread (V8's background compilation and GC, I/O).
	FirstRequestMainMs  float64 `json:"first_request_main_thread_ms"`
	FirstRequestOtherMs float64 `json:"first_request_other_threads_ms"`
	UserWorkerdPID      int     `json:"user_workerd_pid"`
	RSSAtReadyMB        float64 `json:"user_workerd_rss_mib_at_ready"`
	// CPU time of the user workerd's main thread and of its other threads
	// from its start until it answered (schedstat): workerd's own start-up,
	// compiling the worker's code and running its global scope (for the Go
	// variants the warm-up and the prepared instantiation; see loader.mjs).
	StartupMainMs  float64 `json:"startup_main_thread_ms"`
	StartupOtherMs float64 `json:"startup_other_threads_ms"`
	RSSMB          float64 `json:"user_workerd_rss_mib"` // after all loads
	// Per endpoint, what its -warmup requests cost the user workerd, in CPU
	// ms in total (schedstat, all threads, by thread name as in
	// loadResult.Threads): V8 compiles the code a path runs with Liftoff
	// when it first runs and again with TurboFan once it is hot, on its
	// background threads ("V8 DefaultWorke"). That is a one-time cost per
	// isolate, reported here rather than spread over the measured requests.
	Warmups []warmupResult `json:"warmups,omitempty"`
	Loads   []loadResult   `json:"loads"`
	Error   string         `json:"error,omitempty"`
}

// warmupResult is what one endpoint's warm-up requests cost.
type warmupResult struct {
	Endpoint string             `json:"endpoint"`
	Requests int                `json:"requests"`
	Threads  map[string]float64 `json:"threads_ms"` // CPU ms in total by thread name
}

type results struct {
	Started  time.Time        `json:"started"`
	Seconds  float64          `json:"seconds"`
	Options  options          `json:"options"`
	Machine  map[string]any   `json:"machine"`
	Variants []variant        `json:"variants"`
	Sizes    map[string]sizes `json:"sizes"`
	EmbedJS  *fileSize        `json:"embed_js,omitempty"` // embed.go
	CartJS   *fileSize        `json:"cart_js,omitempty"`  // embed.go
	Runs     []runResult      `json:"runs"`
}

var start = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) (code int) {
	o, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	// Whatever happens (error, signal, panic in this goroutine), end every
	// process group this program started.
	defer stopAll()
	defer func() {
		if ctx.Err() != nil {
			logf("interrupted; stopped everything started")
			code = 130
		}
	}()

	if err := checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if err := writeBenchConfig(); err != nil { // ratelimit.go
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.Remove(benchConfig)
	var sb [16]byte
	if _, err := rand.Read(sb[:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	webhookSecret := "whsec_bench" + hex.EncodeToString(sb[:])
	res := results{Started: start, Options: o, Sizes: map[string]sizes{}}
	tck := procfs.ClockTicks()
	res.Machine = map[string]any{"cpus": runtime.NumCPU(), "clk_tck": tck, "go": runtime.Version(), "wrangler": toolVersion("wrangler", "--version")}
	for _, name := range o.Variants {
		res.Variants = append(res.Variants, knownVariants[name])
	}

	if err := buildAll(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	res.EmbedJS = measureFile(filepath.Join(siteDir, "embed.js"))
	res.CartJS = measureFile(filepath.Join(siteDir, "cart.js"))
	for _, v := range res.Variants {
		key := sizeKey(v)
		if _, done := res.Sizes[key]; done {
			continue
		}
		logf("sizes: %s (wrangler deploy --dry-run)", key)
		res.Sizes[key] = measureSizes(v.Entry, v.Wasm, siteDir)
	}
	if ctx.Err() != nil {
		return 130
	}

	mock, mockURL, err := startStripeMock(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	// ConfirmationTokens the worker accepts (mockfix.go).
	if mockURL, err = startMockFix(mockURL); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer mock.stop()

	msPerTick := 1000 / float64(tck)
	for round := 1; round <= o.Rounds && ctx.Err() == nil; round++ {
		for _, v := range res.Variants {
			if ctx.Err() != nil {
				break
			}
			logf("round %d/%d: %s", round, o.Rounds, v.Name)
			r := runVariant(ctx, o, v, round, mockURL, webhookSecret, msPerTick)
			if r.Error != "" {
				logf("round %d: %s failed: %s", round, v.Name, r.Error)
			}
			res.Runs = append(res.Runs, r)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if err := writeJSON(o.JSONOut, res); err != nil {
		logf("writing %s: %v", o.JSONOut, err)
	} else {
		logf("raw results in %s", o.JSONOut)
	}
	printReport(os.Stdout, res)
	fmt.Fprintf(os.Stdout, "\nTotal time: %s\n", time.Since(start).Round(time.Second))
	return 0
}

func sizeKey(v variant) string {
	if v.Compiler == "" {
		return v.Name
	}
	return v.Compiler
}

func checkTools() error {
	if _, err := exec.LookPath("wrangler"); err != nil {
		return errors.New("wrangler is not on PATH: run scripts/bench.sh (it sources scripts/env.sh), or `make bench`")
	}
	if bin := os.Getenv("STRIPE_MOCK_BIN"); bin == "" {
		return errors.New("STRIPE_MOCK_BIN is not set: run scripts/bench.sh (it sources scripts/env.sh), or `make bench`")
	} else if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("stripe-mock: %v (install it with scripts/install-tools.sh stripe-mock)", err)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root")
	}
	return nil
}

func toolVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(ansiEscape.ReplaceAllString(string(out), ""))
}

// runGroup runs a command in its own process group to the end; on a signal
// it stops the whole group (go run's child, tinygo, wasm-opt...).
func runGroup(ctx context.Context, name string, cmd *exec.Cmd) error {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	g, err := startGroup(name, cmd)
	if err != nil {
		return err
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		g.stop()
		return ctx.Err()
	}
	g.stop() // reaps leftovers, if any, and forgets the group
	if g.err != nil {
		return fmt.Errorf("%s: %w", name, g.err)
	}
	return nil
}

func buildAll(ctx context.Context, o options) error {
	need := map[string]bool{}
	for _, name := range o.Variants {
		if c := knownVariants[name].Compiler; c != "" {
			need[c] = true
		}
	}
	steps := []struct {
		what, marker string
		args         []string
	}{
		{"site", filepath.Join(siteDir, "embed.js"), []string{"run", "./build", "site", "-site-out", siteDir}},
	}
	for _, c := range []string{"tinygo", "go"} {
		if need[c] {
			dir := filepath.Join(benchDir, c)
			steps = append(steps, struct {
				what, marker string
				args         []string
			}{c + " worker", filepath.Join(dir, "app.wasm"), []string{"run", "./build", "worker", "-compiler", c, "-worker-out", dir}})
		}
	}
	for _, s := range steps {
		if o.Reuse {
			if _, err := os.Stat(s.marker); err == nil {
				logf("reusing %s (%s)", s.what, s.marker)
				continue
			}
		}
		logf("building %s: go %s", s.what, strings.Join(s.args, " "))
		t := time.Now()
		if err := runGroup(ctx, "build "+s.what, exec.Command("go", s.args...)); err != nil {
			return fmt.Errorf("building %s: %w", s.what, err)
		}
		logf("built %s in %.0fs", s.what, time.Since(t).Seconds())
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startStripeMock(ctx context.Context) (*group, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(logDir, "stripe-mock.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	defer logFile.Close()
	cmd := exec.Command(os.Getenv("STRIPE_MOCK_BIN"), "-http-port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	g, err := startGroup("stripe-mock", cmd)
	if err != nil {
		return nil, "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/checkout/sessions/cs_test_ping", nil)
		req.Header.Set("Authorization", "Bearer "+secretKey)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			logf("stripe-mock on %s (pid %d)", url, g.pid())
			return g, url, nil
		}
		if g.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			g.stop()
			return nil, "", fmt.Errorf("stripe-mock did not answer on %s; see %s", url, logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// runVariant starts wrangler dev for one variant, measures it and stops it.
func runVariant(ctx context.Context, o options, v variant, round int, mockURL, webhookSecret string, msPerTick float64) (r runResult) {
	r = runResult{Variant: v.Name, Round: round, LoadAvg: loadAvg()}
	fail := func(format string, args ...any) runResult {
		r.Error = fmt.Sprintf(format, args...)
		return r
	}
	port, err := freePort()
	if err != nil {
		return fail("%v", err)
	}
	inspector, err := freePort()
	if err != nil {
		return fail("%v", err)
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-round%d.log", v.Name, round))
	logFile, err := os.Create(logPath)
	if err != nil {
		return fail("%v", err)
	}
	defer logFile.Close()
	persist := filepath.Join(d1Dir, fmt.Sprintf("%s-round%d", v.Name, round))
	if err := os.RemoveAll(persist); err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(persist)
	if err := applyMigrations(ctx, persist, logFile); err != nil {
		return fail("%v; see %s", err, logPath)
	}
	args := []string{"dev", v.Entry, "--config", benchConfig, "--local", "--ip", "127.0.0.1",
		"--persist-to", persist,
		"--port", strconv.Itoa(port), "--inspector-port", strconv.Itoa(inspector),
		"--show-interactive-dev-session=false", "--assets", siteDir,
		"--var", "STRIPE_SECRET_KEY:" + secretKey,
		"--var", "STRIPE_PUBLISHABLE_KEY:pk_test_bench",
		"--var", "STRIPE_API_BASE:" + mockURL,
		"--var", "STRIPE_WEBHOOK_SECRET:" + webhookSecret,
		// Every variant sells from the bundled worker/catalog.json, shipping,
		// custom fields and card rules included: the JS reference builds the
		// same Stripe requests from it (scripts/e2e/reference_parity.test.mjs).
		"--var", "DEPLOYMENT_ID:" + benchDeployment}
	for _, kv := range v.Vars {
		args = append(args, "--var", kv)
	}
	cmd := exec.Command("wrangler", args...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0")
	launched := time.Now()
	g, err := startGroup("wrangler "+v.Name, cmd)
	if err != nil {
		return fail("%v", err)
	}
	defer g.stop()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitReady(ctx, g, base, logPath); err != nil {
		return fail("%v", err)
	}
	r.StartupSeconds = time.Since(launched).Seconds()
	var userPID int
	for i := 0; ; i++ {
		if userPID, err = procfs.FindUserWorkerd(g.pid()); err == nil {
			break
		}
		if i >= 50 {
			return fail("%v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.UserWorkerdPID = userPID
	r.RSSAtReadyMB = procfs.RSSMiB(userPID)
	if th, err := procfs.ReadThreadCPU(userPID); err == nil {
		r.StartupMainMs, r.StartupOtherMs = th.MainAndOthers(userPID, nil)
	}
	logf("  %s ready in %.1fs on %s (user workerd pid %d; start-up CPU %.1f ms main thread, %.1f ms other threads)", v.Name, r.StartupSeconds, base, userPID, r.StartupMainMs, r.StartupOtherMs)

	client := newClient(maxInt(o.Concurrency))
	defer client.CloseIdleConnections()

	// The first request pays for instantiating the worker's code (for the Go
	// variants, the WebAssembly instance and the Go runtime's start-up).
	endpoints := endpointsFor(newEventSource(webhookSecret, benchDeployment, time.Now()))
	create := endpoints[0]
	u0, _ := procfs.CPUTicks(userPID)
	th0, _ := procfs.ReadThreadCPU(userPID)
	t := time.Now()
	err = do(ctx, client, base, create)
	r.FirstRequestMs = float64(time.Since(t).Microseconds()) / 1000
	th1, _ := procfs.ReadThreadCPU(userPID)
	u1, _ := procfs.CPUTicks(userPID)
	r.FirstRequestCPUms = float64(u1-u0) * msPerTick
	r.FirstRequestMainMs, r.FirstRequestOtherMs = th1.MainAndOthers(userPID, th0)
	if err != nil {
		return fail("first request: %v", err)
	}
	logf("  first request %.1f ms (%.0f ms CPU in ticks; %.2f ms main thread, %.2f ms other threads)", r.FirstRequestMs, r.FirstRequestCPUms, r.FirstRequestMainMs, r.FirstRequestOtherMs)

	for _, ep := range endpoints {
		if o.Warmup > 0 {
			th0, _ := procfs.ReadThreadCPU(userPID)
			st := runLoad(ctx, client, base, ep, o.Warmup, 1, 0)
			if st.Errors > 0 {
				return fail("warm-up %s: %d/%d failed: %s", ep.Name, st.Errors, st.Requests, st.FirstError)
			}
			th1, _ := procfs.ReadThreadCPU(userPID)
			w := warmupResult{Endpoint: ep.Name, Requests: st.Requests, Threads: threadMs(th1, th0, userPID, 1)}
			r.Warmups = append(r.Warmups, w)
			logf("  %-9s warm-up %d req: %s ms in total", ep.Name, st.Requests, formatThreads(w.Threads))
		}
		for _, c := range o.Concurrency {
			if ctx.Err() != nil {
				return fail("interrupted")
			}
			u0, err := procfs.CPUTicks(userPID)
			if err != nil {
				return fail("user workerd (pid %d): %v", userPID, err)
			}
			t0 := procfs.TreeTicks(g.pid())
			th0, _ := procfs.ReadThreadCPU(userPID)
			st := runLoad(ctx, client, base, ep, o.N, c, userPID)
			th1, _ := procfs.ReadThreadCPU(userPID)
			u1, err := procfs.CPUTicks(userPID)
			if err != nil {
				return fail("user workerd (pid %d) gone during %s c=%d: %v", userPID, ep.Name, c, err)
			}
			t1 := procfs.TreeTicks(g.pid())
			lr := loadResult{Endpoint: ep.Name, Concurrency: c, loadStats: st, RSSMB: procfs.RSSMiB(userPID),
				CPUms: float64(u1-u0) * msPerTick, TreeCPUms: float64(t1-t0) * msPerTick}
			if st.Requests > 0 {
				lr.CPUPerReq = lr.CPUms / float64(st.Requests)
				lr.OtherPerReq = (lr.TreeCPUms - lr.CPUms) / float64(st.Requests)
				lr.ReqPerSec = float64(st.Requests) / st.Seconds
				lr.P50, lr.P99 = percentile(st.Latencies, 50), percentile(st.Latencies, 99)
				lr.Threads = threadMs(th1, th0, userPID, st.Requests)
			}
			if len(st.MainCPU) > 0 {
				lr.MainP50, lr.MainMax, lr.MainMean = percentile(st.MainCPU, 50), percentile(st.MainCPU, 100), mean(st.MainCPU)
				lr.MainMaxAt = argmax(st.MainCPU)
			}
			// (After the figures above: before, they were set on a copy
			// already appended, and the per-request table never printed.)
			r.Loads = append(r.Loads, lr)
			errNote := ""
			if st.Errors > 0 {
				errNote = fmt.Sprintf("  ERRORS %d: %s", st.Errors, st.FirstError)
			}
			mainNote := ""
			if lr.MainMax > 0 {
				mainNote = fmt.Sprintf("  main thread p50 %.2f mean %.2f max %.2f ms (request %d); threads %s", lr.MainP50, lr.MainMean, lr.MainMax, lr.MainMaxAt, formatThreads(lr.Threads))
			}
			logf("  %-9s c=%-2d %4d req  %6.2f ms CPU/req  %6.2f other  %7.1f req/s  p50 %6.1f ms  p99 %6.1f ms  RSS %4.0f MiB%s%s",
				ep.Name, c, st.Requests, lr.CPUPerReq, lr.OtherPerReq, lr.ReqPerSec, lr.P50, lr.P99, lr.RSSMB, mainNote, errNote)
		}
	}
	r.RSSMB = procfs.RSSMiB(userPID)
	return r
}

// applyMigrations creates the local D1 database (binding DB) in persist with
// the schema of worker/migrations, as scripts/internal/stack does for its stacks.
func applyMigrations(ctx context.Context, persist string, log *os.File) error {
	cmd := exec.Command("wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "--config", benchConfig)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0", "CI=1")
	g, err := startGroup("d1 migrations", cmd)
	if err != nil {
		return err
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		g.stop()
		return ctx.Err()
	}
	g.stop()
	if g.err != nil {
		return fmt.Errorf("applying the D1 migrations: %w", g.err)
	}
	return nil
}

// waitReady waits until wrangler says it is ready and a static asset is
// served. The asset request does not reach the worker's code, so the first
// worker request still pays the worker's own start-up.
func waitReady(ctx context.Context, g *group, base, logPath string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(120 * time.Second)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if g.exited() {
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("wrangler dev exited before it was ready: %s", lastLines(string(b), 8))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wrangler dev not ready after 120s; see %s", logPath)
		}
		if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "Ready on") {
			if resp, err := c.Get(base + "/"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					return nil
				}
				return fmt.Errorf("GET / answered %d %s, want the site's index.html from the assets", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func argmax(xs []float64) int {
	at := 0
	for i, x := range xs {
		if x > xs[at] {
			at = i
		}
	}
	return at
}

func maxInt(xs []int) int {
	m := 1
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
