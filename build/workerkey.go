package main

// Skipping unchanged worker builds. Compiling the worker with TinyGo takes a
// minute or more on a small machine, and `make dev`/`make test` build it
// every time; most of those builds change nothing. A build writes a key of
// everything its output depends on next to it (OutDir/BUILD-KEY), and a build
// whose key matches the one there keeps the output as it is.
//
// The key covers: the compiler and its flags; the compiler's version (`go
// version`, `tinygo version`); the files that patch and install TinyGo
// (scripts/install-tools.sh, scripts/tinygo-patches), since a patched compiler
// reports the same version; go.mod and go.sum (modules from the proxy are
// immutable by version); and every file in this module's packages that ./wasm
// imports (their whole directories, whatever the build tags, test files,
// testdata and Markdown aside: keyInput), which includes embedded files such
// as the catalog and the loader's .mjs files copied next to the wasm.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// buildKeyFile holds the key of the build in an output directory.
const buildKeyFile = "BUILD-KEY"

// workerKey computes the key of a worker build with the given compiler
// command line.
func workerKey(compiler string, args []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "compiler %s\nargs %q\n", compiler, args)
	var version string
	var err error
	switch compiler {
	case "tinygo":
		version, err = output(exec.Command(envOr("TINYGO", "tinygo"), "version"))
	default:
		version, err = output(exec.Command("go", "version"))
	}
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "version %s\n", version)
	files := []string{"go.mod", "go.sum", "scripts/install-tools.sh"}
	patches, _ := filepath.Glob("scripts/tinygo-patches/*")
	for _, f := range patches {
		if !strings.HasSuffix(f, "_test.go") { // its tests change no compiler
			files = append(files, f)
		}
	}
	dirs, err := moduleDirs()
	if err != nil {
		return "", err
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if !e.IsDir() && keyInput(e.Name()) {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	}
	sort.Strings(files)
	for _, f := range files {
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// keyInput reports whether a file of a package directory is an input of the
// worker build. Tests are not, and neither is Markdown: the READMEs beside the
// code are neither compiled nor embedded (no //go:embed names a .md file;
// one that did would have to be let in here), and editing them must not cost
// a TinyGo compile.
func keyInput(name string) bool {
	return !strings.HasSuffix(name, "_test.go") && !strings.HasSuffix(name, ".md")
}

// moduleDirs lists the directories of this module's packages that ./wasm
// imports, itself included, for GOOS=js GOARCH=wasm.
func moduleDirs() ([]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := output(cmd)
	if err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, d := range strings.Fields(out) {
		rel, err := filepath.Rel(wd, d)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, rel)
	}
	return dirs, nil
}

func hashFile(h io.Writer, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	fmt.Fprintf(h, "%s %x\n", filepath.ToSlash(path), sum)
	return nil
}

// upToDate reports whether dir holds a complete build with this key.
func upToDate(dir, key string) bool {
	got, err := os.ReadFile(filepath.Join(dir, buildKeyFile))
	if err != nil || !bytes.Equal(bytes.TrimSpace(got), []byte(key)) {
		return false
	}
	for _, f := range []string{"app.wasm", "wasm_exec.js", "worker.mjs", "instance.mjs"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}
