package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixture copies testdata/tinygo to a temporary directory and returns it
// with a config whose net module is testdata/net.
func fixture(t *testing.T) (string, config) {
	t.Helper()
	root := t.TempDir()
	copyTree(t, "testdata/tinygo", root, nil)
	net, err := filepath.Abs("testdata/net")
	if err != nil {
		t.Fatal(err)
	}
	return root, config{netModule: net, finalizerGCThreshold: 256}
}

// copyTree copies the files of from (all of them, or those named in only,
// as slash paths) to to.
func copyTree(t *testing.T, from, to string, only []string) {
	t.Helper()
	want := map[string]bool{}
	for _, f := range only {
		want[f] = true
	}
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if only != nil && !want[filepath.ToSlash(rel)] && !want[filepath.ToSlash(filepath.Dir(rel))+"/"] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every file under root.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func run(root string, cfg config) ([]string, error) {
	var log []string
	err := applyAll(root, cfg, func(name string, changed bool) {
		if changed {
			log = append(log, "applied "+name)
		} else {
			log = append(log, "kept "+name)
		}
	})
	return log, err
}

func TestAppliesOnceThenNothing(t *testing.T) {
	root, cfg := fixture(t)
	before := snapshot(t, root)

	log, err := run(root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range patches(cfg) {
		if want := "applied " + p.name; i >= len(log) || log[i] != want {
			t.Errorf("first run, line %d: got %q, want %q", i, at(log, i), want)
		}
	}
	after := snapshot(t, root)

	checks := []struct{ file, has, hasNot string }{
		{"main.go", `return errors.New("ESP32 flashing was left out of this TinyGo build (checkoutkit)")` + "\n}\n\nfunc afterwards", "espflasher\""},
		{"main.go", "", "espflasher.New"},
		{"go.mod", "\tgopkg.in/yaml.v2 v2.4.0\n\ttinygo.org/x/go-llvm v0", "espflasher"},
		{"loader/goroot.go", "\"net/\":                        true,\n\t\t\"os/\":", "net/http"},
		{"src/net/errors.go", "ErrNotImplemented", ""},
		{"src/net/tlsconn_checkoutkit.go", "func DialTLS(addr string) (*TLSConn, error)", ""},
		{"src/crypto/tls/recordheadererror_checkoutkit.go", "type RecordHeaderError struct", ""},
		{"src/runtime/gc_finalizer.go", "const finalizerGCThreshold = 256 // checkoutkit: was 32\n", "= 32\n"},
		{"src/runtime/scheduler_cooperative.go", "", "finalizerIdleGC"},
		{"src/runtime/arch_tinygowasm.go", "if memorySize > 64 {", ""},
		{"src/internal/task/task_asyncify.go", "var freeStacks *freeStack", "stack := runtime_alloc"},
		{"src/internal/task/task_asyncify.go", "\t\tfreeStacks = f\n\t\tt.state.canaryPtr = nil\n", ""},
	}
	for _, c := range checks {
		got, ok := after[c.file]
		if !ok {
			t.Errorf("%s: missing after patching", c.file)
			continue
		}
		if c.has != "" && !strings.Contains(got, c.has) {
			t.Errorf("%s: want %q in:\n%s", c.file, c.has, got)
		}
		if c.hasNot != "" && strings.Contains(got, c.hasNot) {
			t.Errorf("%s: %q still there:\n%s", c.file, c.hasNot, got)
		}
	}
	if n := strings.Count(after["src/runtime/scheduler_cooperative.go"], "task.MarkFinishing() // checkoutkit"); n != 3 {
		t.Errorf("scheduler_cooperative.go: %d patched MarkFinishing calls, want 3", n)
	}
	if _, ok := after["src/net/net_test.go"]; ok {
		t.Error("src/net: the test file of the net module was copied")
	}
	if len(after) != len(before)+4 { // src/net: 2 files and a stub; crypto/tls: a stub
		t.Errorf("%d files after patching, want %d", len(after), len(before)+4)
	}

	log, err = run(root, cfg)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	for i, p := range patches(cfg) {
		if want := "kept " + p.name; i >= len(log) || log[i] != want {
			t.Errorf("second run, line %d: got %q, want %q", i, at(log, i), want)
		}
	}
	again := snapshot(t, root)
	if len(again) != len(after) {
		t.Errorf("second run: %d files, want %d", len(again), len(after))
	}
	for name, data := range after {
		if again[name] != data {
			t.Errorf("second run changed %s", name)
		}
	}
}

func at(log []string, i int) string {
	if i < len(log) {
		return log[i]
	}
	return "(nothing)"
}

func TestMissingAnchorIsAnError(t *testing.T) {
	cases := []struct {
		patch, file, old, new string
	}{
		{"no-espflasher", "main.go", "\t\"golang.org/x/tools/go/buildutil\"\n", "\t\"golang.org/x/tools/go/buildutil/v2\"\n"},
		{"no-espflasher", "main.go", "func flashBinUsingEsp32(", "func flashWithEsp32("},
		{"no-espflasher", "go.mod", "\ttinygo.org/x/espflasher v0.8.1\n", "\ttinygo.org/x/espflasher v0.9.0\n"},
		{"no-espflasher", "src/runtime/gc_finalizer.go", "package runtime\n", "package runtime\n\nimport _ \"tinygo.org/x/espflasher/pkg/espflasher\"\n"},
		{"net-http-from-std", "loader/goroot.go", "\t\t\"net/http/\":                   false,\n", "\t\t\"net/http/\":                   true,\n"},
		{"tls-stubs", "src/crypto/tls/tls.go", "type Config struct{}", "type Config struct{}\n\ntype RecordHeaderError struct{}"},
		{"finalizer-gc-threshold", "src/runtime/gc_finalizer.go", "= 32\n", "= 64\n"},
		{"stack-reuse", "src/runtime/scheduler_cooperative.go", "func two() {\n\tif finalizerIdleGC != nil {\n\t\ttask.MarkFinishing()\n\t}\n", "func two() {\n\ttask.MarkFinishing()\n"},
		{"stack-reuse", "src/internal/task/task_asyncify.go", "// Create a stack.\n", "// Allocate a stack.\n"},
		{"stack-reuse", "src/internal/task/task_asyncify.go", "// currentTask is the current running task", "// currentTask is the running task"},
		{"gentle-heap-growth", "src/runtime/arch_tinygowasm.go", "memorySize)\n", "memorySize*2)\n"},
	}
	for _, c := range cases {
		t.Run(c.patch+"/"+c.file, func(t *testing.T) {
			root, cfg := fixture(t)
			path := filepath.Join(root, filepath.FromSlash(c.file))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.old) {
				t.Fatalf("%s has no %q", c.file, c.old)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = run(root, cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "patch "+c.patch+": ") {
				t.Fatalf("got error %v, want one from patch %s", err, c.patch)
			}
		})
	}

	t.Run("net-from-v0.30.0/no source", func(t *testing.T) {
		root, cfg := fixture(t)
		cfg.netModule = t.TempDir()
		if _, err := run(root, cfg); err == nil || !strings.HasPrefix(err.Error(), "patch net-from-v0.30.0: ") {
			t.Fatalf("got error %v, want one from patch net-from-v0.30.0", err)
		}
	})
	t.Run("net-from-v0.30.0/other net", func(t *testing.T) {
		root, cfg := fixture(t)
		if err := os.MkdirAll(filepath.Join(root, "src/net"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "src/net/dial.go"), []byte("package net\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := run(root, cfg); err == nil || !strings.HasPrefix(err.Error(), "patch net-from-v0.30.0: ") {
			t.Fatalf("got error %v, want one from patch net-from-v0.30.0", err)
		}
	})
}

// TestPatchesAreWellFormed checks what the edits rely on: unique, documented
// patches, and replacements whose result cannot be mistaken for their anchor.
func TestPatchesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range patches(config{netModule: "net", finalizerGCThreshold: 256}) {
		if p.name == "" || p.doc == "" || len(p.edits) == 0 || seen[p.name] {
			t.Errorf("patch %q: needs a unique name, a doc and edits", p.name)
		}
		seen[p.name] = true
		for _, e := range p.edits {
			if r, ok := e.(replace); ok && (r.old == "" || strings.Contains(r.old, r.new)) {
				t.Errorf("patch %s, %s: the new text must not be part of the old one", p.name, r.file)
			}
		}
	}
}

// TestRealTinyGo applies the patches to the files they touch in the real
// TinyGo 0.42.0 and 0.30.0 module sources, when the module cache has them
// (scripts/install-tools.sh downloads them).
func TestRealTinyGo(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env GOMODCACHE:", err)
	}
	cache := strings.TrimSpace(string(out))
	src := filepath.Join(cache, "github.com/tinygo-org/tinygo@v0.42.0")
	net := filepath.Join(cache, "github.com/tinygo-org/tinygo@v0.30.0")
	for _, d := range []string{src, net} {
		if _, err := os.Stat(d); err != nil {
			t.Skipf("%s is not in the module cache", d)
		}
	}
	root := t.TempDir()
	copyTree(t, src, root, []string{
		"main.go", "go.mod", "loader/goroot.go",
		"src/runtime/gc_finalizer.go", "src/runtime/scheduler_cooperative.go", "src/runtime/arch_tinygowasm.go",
		"src/internal/task/task_asyncify.go", "src/crypto/tls/",
	})
	cfg := config{netModule: net, finalizerGCThreshold: 256}
	if _, err := run(root, cfg); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, root)
	log, err := run(root, cfg)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	for _, line := range log {
		if !strings.HasPrefix(line, "kept ") {
			t.Errorf("second run: %s", line)
		}
	}
	for name, data := range snapshot(t, root) {
		if after[name] != data {
			t.Errorf("second run changed %s", name)
		}
	}
}
