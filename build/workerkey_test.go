package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWorkerKeyCoversTheModulesPackages(t *testing.T) {
	// Tests run in build/; the key is computed from the repository root.
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	dirs, err := moduleDirs()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, d := range dirs {
		have[filepath.ToSlash(d)] = true
	}
	for _, want := range []string{"wasm", "worker", "worker/orders"} {
		if !have[want] {
			t.Errorf("the key does not cover %s (covers %v)", want, dirs)
		}
	}
	a, err := workerKey("go", []string{"build"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := workerKey("go", []string{"build"})
	c, _ := workerKey("go", []string{"build", "-race"})
	if a != b || a == c || len(a) != 64 {
		t.Errorf("keys: %s %s %s", a, b, c)
	}
}

func TestUpToDateNeedsTheKeyAndEveryFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if upToDate(dir, "k1") {
		t.Error("an empty directory is up to date")
	}
	for _, f := range []string{"app.wasm", "wasm_exec.js", "worker.mjs"} {
		write(f, "x")
	}
	write(buildKeyFile, "k1\n")
	if upToDate(dir, "k1") {
		t.Error("up to date without instance.mjs")
	}
	write("instance.mjs", "x")
	if !upToDate(dir, "k1") || upToDate(dir, "k2") {
		t.Error("the key decides")
	}
}

func TestKeyInputLeavesOutTestsAndDocs(t *testing.T) {
	for name, want := range map[string]bool{
		"routes.go": true, "catalog.json": true, "instance.mjs": true, "loader.mjs": true,
		"routes_test.go": false, "README.md": false,
	} {
		if got := keyInput(name); got != want {
			t.Errorf("keyInput(%q) = %v, want %v", name, got, want)
		}
	}
}
