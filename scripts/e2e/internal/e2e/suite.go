// Package e2e is what the end-to-end suites (scripts/e2e/<suite>) share:
// starting a suite's stack from TestMain (scripts/internal/stack), and the
// HTTP, payment and order helpers the tests call.
//
// A suite runs alone with one command, against the build WORKER_DIR names
// (default dist/worker, the TinyGo build; dist/worker-go is the standard Go
// one), which must be built already (make build):
//
//	go test -count=1 ./scripts/e2e/webhooks
//	WORKER_DIR=dist/worker-go go test -count=1 ./scripts/e2e/faults
//
// Settings (environment), all optional:
//
//	WORKER_DIR      the built worker (worker.mjs), default dist/worker
//	E2E_LOG_DIR     where each stack logs, in <flavour>-<suite>/ (default dist/test-logs)
//	PORT, SANDBOX_PORT, INSPECTOR_PORT  fixed ports (default: free ones)
//	STRIPE_WEBHOOK_SECRET, ADMIN_TOKEN  the stack's secrets (default: random)
//	ALLOWED_ORIGINS the worker's ALLOWED_ORIGINS (default http://127.0.0.1:$EXAMPLES_PORT, 8790)
//
// The stack's description goes into the test process's environment
// (BASE_URL, SANDBOX_URL, ADMIN_TOKEN, D1_PERSIST_DIR, ...: stack.Stack.Env),
// where the tests read it with Env.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"checkoutkit/scripts/internal/stack"
)

// Root is the repository root ("" until a suite's configuration is made).
var Root string

// Path is a file of the repository.
func Path(elem ...string) string { return filepath.Join(append([]string{Root}, elem...)...) }

// Config is the stack configuration of suite name, from the environment
// (stack.FromEnv; see the package comment).
func Config(name string) (stack.Config, error) {
	cfg, err := stack.FromEnv(name)
	Root = cfg.Root
	return cfg, err
}

// Flavour is "go" or "tinygo": the compiler of cfg's build.
func Flavour(cfg stack.Config) string { return stack.Flavour(cfg) }

// Export puts the stack's description into this process's environment.
func Export(s *stack.Stack) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
}

// Main is a suite's TestMain: it starts the suite's stack (Config(name),
// changed by configure if not nil), exports it, runs the tests, stops the
// stack and exits. A stack that cannot start (a missing build, a port in
// use) fails the suite. after, if not nil, runs once the tests passed and
// may fail the suite too (an error).
func Main(m *testing.M, name string, configure func(*stack.Config) error, after func() error) {
	flag.Parse()
	os.Exit(run(m, name, configure, after))
}

func run(m *testing.M, name string, configure func(*stack.Config) error, after func() error) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "FAIL: the %s suite's stack: %v\n", name, err)
		return 1
	}
	cfg, err := Config(name)
	if err != nil {
		return fail(err)
	}
	if err := os.RemoveAll(cfg.LogDir); err != nil { // this run's logs only
		return fail(err)
	}
	if configure != nil {
		if err := configure(&cfg); err != nil {
			return fail(err)
		}
	}
	s, err := stack.Start(cfg)
	if err != nil {
		return fail(err)
	}
	defer s.Stop()
	Export(s)
	fmt.Printf("%s suite: %s build (%s) at %s, sandbox %s, logs in %s\n", name, Flavour(cfg), cfg.WorkerDir, s.BaseURL, s.SandboxURL, s.LogDir)
	code := m.Run()
	if code == 0 && after != nil {
		if err := after(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %s: %v\n", name, err)
			code = 1
		}
	}
	return code
}

// Filtered reports whether the tests run were chosen by -run or -skip: a
// check over the whole suite then does not apply.
func Filtered() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}
