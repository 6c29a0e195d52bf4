package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestStandinInChromium drives the stand-in's Elements, ConfirmationTokens and
// 3D Secure overlay in headless Chromium (testdata/standin.test.mjs) against a
// sandbox of its own. It needs node, Chromium and playwright-core (npm ci), as
// make test has; without them it is skipped.
func TestStandinInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("Chromium not installed at " + chromium)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "node_modules", "playwright-core")); err != nil {
		t.Skip("playwright-core not installed (npm ci)")
	}
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", filepath.Join("testdata", "standin.test.mjs"))
	cmd.Env = append(os.Environ(), "SANDBOX_URL="+e.srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/standin.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
