//go:build !js

package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestInstanceBodies runs the JavaScript host tests of instance.mjs's body
// reading (testdata/instance.test.mjs: limits, no cancelled streams) in Node.
// Without node it is skipped.
func TestInstanceBodies(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	test := filepath.Join("testdata", "instance.test.mjs")
	out, err := exec.CommandContext(ctx, node, "--test", test).CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", test, err, out)
	}
}
