package ratelimit

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
	"checkoutkit/scripts/internal/stack"
)

// The suite's stacks, one running at a time: the tests ask for the one they
// need (limitedStack, offStack), and TestMain stops the last.
var (
	stackMu sync.Mutex
	current *stack.Stack
	mode    string // "limited" or "off"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	stackMu.Lock()
	if current != nil {
		current.Stop()
	}
	stackMu.Unlock()
	os.Exit(code)
}

// limit is RATE_LIMIT, the limited stack's limit (default 5).
func limit(t *testing.T) int {
	raw := os.Getenv("RATE_LIMIT")
	if raw == "" {
		raw = "5"
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 50 {
		t.Fatalf("RATE_LIMIT=%q: want a small limit (1-50)", raw)
	}
	return n
}

// limitedStack makes the running stack one whose bindings allow limit(t)
// requests per period, and returns the limit.
func limitedStack(t *testing.T) int {
	n := limit(t)
	useStack(t, "limited", strconv.Itoa(n))
	return n
}

// offStack makes the running stack one without [[ratelimits]] bindings.
func offStack(t *testing.T) { useStack(t, "off", "off") }

func useStack(t *testing.T, name, rateLimit string) {
	t.Helper()
	stackMu.Lock()
	defer stackMu.Unlock()
	if current != nil && mode == name {
		return
	}
	if current != nil {
		current.Stop()
		current = nil
	}
	cfg, err := e2e.Config("ratelimit")
	if err != nil {
		t.Fatalf("the %s stack: %v", name, err)
	}
	cfg.LogDir = filepath.Join(cfg.LogDir, name)
	if err := os.RemoveAll(cfg.LogDir); err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit = rateLimit
	s, err := stack.Start(cfg)
	if err != nil {
		t.Fatalf("the %s stack: %v", name, err)
	}
	current, mode = s, name
	e2e.Export(s)
	fmt.Printf("ratelimit suite: %s stack (%s build) at %s, logs in %s\n", name, e2e.Flavour(cfg), s.BaseURL, s.LogDir)
}
