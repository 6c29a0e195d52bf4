package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// WorkerOptions selects how the worker is compiled.
type WorkerOptions struct {
	// Compiler is "tinygo" (the default, smaller) or "go" (GOOS=js GOARCH=wasm).
	Compiler string
	// OutDir receives worker.mjs, instance.mjs, wasm_exec.js and app.wasm; it is
	// wiped first (unless it is up to date: see BuildWorker).
	OutDir string
	// Force rebuilds even when OutDir is up to date.
	Force bool
}

// tinygoStackSize is the stack of every goroutine under TinyGo (asyncify gives
// each a fixed heap-allocated stack that the GC scans as a whole, and an
// overflow is not reliably caught: it corrupts memory). Decoding a whole
// stripe.CheckoutSession needed 256 KB; the worker decodes only the fields it
// reads (stripeapi.CheckoutSession). 64 KB served the happy paths but overflowed
// in stripe-go's decoding of error responses into stripe.Error (since session
// 7 those too decode into a few fields, stripeapi.Error); 128 KB leaves room.
// Finished goroutines' stacks are reused (TinyGo patch
// scripts/tinygo-patches/06-stack-reuse.patch), so the size costs memory per
// concurrent request, not per request.
const tinygoStackSize = "128KB"

// tinygoGC is TinyGo's allocator. "leaking" never frees: allocation is a
// pointer bump and there is no collection at all, which took the worker's CPU
// per request from ~8 ms (conservative GC, dominated by marking and
// sweeping) to under 2 ms. Memory is reclaimed by retiring the whole Go
// instance once its linear memory passes a budget (wasm/instance.mjs); a
// request allocates ~35 KB and a new instance starts in ~1.5 ms.
const tinygoGC = "leaking"

// workerTags are build tags of both builds. nethttpomithttp2 leaves HTTP/2
// (net/http's bundled client and server, ~0.1 MiB of the TinyGo wasm) out:
// requests reach the worker through wasm/bridge_js.go and leave through
// fetch, never through a net/http connection.
const workerTags = "nethttpomithttp2"

// tinygoTags: runtime_lazyrand makes TinyGo's start-up ask for no randomness
// (scripts/tinygo-patches/08-lazy-rand-seed.patch), so that wasm/instance.mjs
// can start the first instance in workerd's global scope, which refuses it;
// wasm/seed_tinygo.go seeds the runtime when the first request is served.
const tinygoTags = "runtime_lazyrand"

// BuildWorker compiles ./wasm and assembles the files wrangler uploads. A
// build whose inputs are unchanged since the one in OutDir keeps it
// (workerkey.go) unless Force is set.
func BuildWorker(opts WorkerOptions) error {
	var args []string
	switch opts.Compiler {
	case "tinygo":
		args = []string{"build", "-tags", workerTags + "," + tinygoTags, "-target", "wasm", "-no-debug", "-opt=z", "-stack-size=" + tinygoStackSize, "-gc=" + tinygoGC}
	case "go":
		args = []string{"build", "-tags", workerTags, "-trimpath", "-ldflags=-s -w"}
	default:
		return fmt.Errorf("unknown compiler %q: use tinygo or go", opts.Compiler)
	}
	key, err := workerKey(opts.Compiler, args)
	if err != nil {
		return err
	}
	if !opts.Force && upToDate(opts.OutDir, key) {
		fmt.Fprintf(os.Stderr, "==> %s is up to date (%s unchanged)\n", opts.OutDir, buildKeyFile)
		return nil
	}
	if err := os.RemoveAll(opts.OutDir); err != nil {
		return err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return err
	}
	wasmPath := filepath.Join(opts.OutDir, "app.wasm")
	var execJS string
	switch opts.Compiler {
	case "tinygo":
		tinygo := envOr("TINYGO", "tinygo")
		if err := run(exec.Command(tinygo, append(args, "-o", wasmPath, "./wasm")...)); err != nil {
			return err
		}
		root, err := output(exec.Command(tinygo, "env", "TINYGOROOT"))
		if err != nil {
			return err
		}
		execJS = filepath.Join(root, "targets", "wasm_exec.js")
	case "go":
		cmd := exec.Command("go", append(args, "-o", wasmPath, "./wasm")...)
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if err := run(cmd); err != nil {
			return err
		}
		root, err := output(exec.Command("go", "env", "GOROOT"))
		if err != nil {
			return err
		}
		execJS = filepath.Join(root, "lib", "wasm", "wasm_exec.js")
	}
	if err := copyFile(execJS, filepath.Join(opts.OutDir, "wasm_exec.js")); err != nil {
		return err
	}
	if err := copyFile(filepath.Join("wasm", "loader.mjs"), filepath.Join(opts.OutDir, "worker.mjs")); err != nil {
		return err
	}
	if err := copyFile(filepath.Join("wasm", "instance.mjs"), filepath.Join(opts.OutDir, "instance.mjs")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(opts.OutDir, "COMPILER"), []byte(opts.Compiler+"\n"), 0o644); err != nil {
		return err
	}
	// Written last: an interrupted build leaves no key, and is redone.
	return os.WriteFile(filepath.Join(opts.OutDir, buildKeyFile), []byte(key+"\n"), 0o644)
}

func run(cmd *exec.Cmd) error {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return nil
}

func output(cmd *exec.Cmd) (string, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
