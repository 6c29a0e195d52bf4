// Command tinygopatch applies the checkout kit's patches to a writable copy of
// TinyGo 0.42.0's module source (github.com/tinygo-org/tinygo@v0.42.0), so
// that it builds against Debian's LLVM 19 with nothing but the Go module proxy
// and compiles the worker the way the kit wants. scripts/install-tools.sh
// copies the module out of the module cache, runs this program on the copy and
// then builds the compiler there; it applies no patch of its own.
//
//	go run ./scripts/tinygopatch -net NETMODULE -finalizer-gc-threshold N TINYGODIR
//
// TINYGODIR is the copy to patch (it holds main.go, go.mod, loader/ and src/).
// NETMODULE is the directory of github.com/tinygo-org/tinygo@v0.30.0, the last
// TinyGo module whose zip still carried an in-tree src/net.
//
// Every patch is named and documented below (run with -list to print them).
// A patch is made of edits, and every edit checks its anchor: the text it
// replaces must be found the expected number of times, or the program stops
// with an error naming the patch, so a TinyGo upgrade cannot be patched
// silently wrong. Every edit is idempotent: an edit that finds its result
// already in place does nothing, so a second run over the same tree changes
// nothing.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// config is what the patches depend on besides the tree itself.
type config struct {
	// netModule is the directory of TinyGo v0.30.0's module source.
	netModule string
	// finalizerGCThreshold replaces the runtime's finalizerGCThreshold (32).
	finalizerGCThreshold int
}

// patch is one named change to the TinyGo tree.
type patch struct {
	name  string
	doc   string
	edits []edit
}

// edit is one step of a patch on the tree rooted at root. It reports whether
// it changed anything; it fails when its anchor is not where it expects it.
type edit interface {
	apply(root string) (changed bool, err error)
}

// patches lists the kit's patches in the order they are applied.
func patches(cfg config) []patch {
	return []patch{
		{
			name: "no-espflasher",
			doc: "Drops the ESP32 flasher: tinygo.org/x/espflasher is refused by the Go module proxy. " +
				"main.go loses the import and flashBinUsingEsp32 becomes a stub that returns an error; " +
				"go.mod loses the requirement; no other file may import it.",
			edits: []edit{
				replace{
					file: "main.go",
					old:  "\t\"golang.org/x/tools/go/buildutil\"\n\t\"tinygo.org/x/espflasher/pkg/espflasher\"\n\t\"tinygo.org/x/go-llvm\"\n",
					new:  "\t\"golang.org/x/tools/go/buildutil\"\n\t\"tinygo.org/x/go-llvm\"\n",
				},
				funcBody{
					file: "main.go",
					name: "flashBinUsingEsp32",
					body: "\treturn errors.New(\"ESP32 flashing was left out of this TinyGo build (checkoutkit)\")\n",
				},
				replace{
					file: "go.mod",
					old:  "\tgopkg.in/yaml.v2 v2.4.0\n\ttinygo.org/x/espflasher v0.8.1\n\ttinygo.org/x/go-llvm ",
					new:  "\tgopkg.in/yaml.v2 v2.4.0\n\ttinygo.org/x/go-llvm ",
				},
				noImport{path: "tinygo.org/x/espflasher"},
			},
		},
		{
			name: "net-from-v0.30.0",
			doc: "TinyGo's src/net is a git submodule (github.com/tinygo-org/net) that the module zip lacks " +
				"and the proxy refuses; the small in-tree src/net of TinyGo v0.30.0 (its non-test Go files) " +
				"takes its place.",
			edits: []edit{
				copyDir{from: filepath.Join(cfg.netModule, "src", "net"), to: "src/net", own: "_checkoutkit.go"},
			},
		},
		{
			name: "net-http-from-std",
			doc: "net/http comes from Go's own std instead of TinyGo's (absent) fork: the \"net/http/\" entry " +
				"is removed from pathsToOverride in loader/goroot.go.",
			edits: []edit{
				replace{
					file: "loader/goroot.go",
					old:  "\t\t\"net/\":                        true,\n\t\t\"net/http/\":                   false,\n\t\t\"os/\": ",
					new:  "\t\t\"net/\":                        true,\n\t\t\"os/\": ",
				},
			},
		},
		{
			name: "tls-stubs",
			doc: "Adds the three symbols that v0.30.0's net with Go's net/http still misses, as stubs: " +
				"net.TLSConn and net.DialTLS (used by TinyGo's crypto/tls) and crypto/tls.RecordHeaderError " +
				"(used by net/http). On Workers all HTTP goes through fetch(), never through sockets.",
			edits: []edit{
				addFile{
					file:     "src/net/tlsconn_checkoutkit.go",
					content:  tlsConnStub,
					needs:    []string{"ErrNotImplemented", "type OpError "},
					declares: []string{"type TLSConn ", "func DialTLS("},
				},
				addFile{
					file:     "src/crypto/tls/recordheadererror_checkoutkit.go",
					content:  recordHeaderErrorStub,
					declares: []string{"type RecordHeaderError "},
				},
			},
		},
		{
			name: "finalizer-gc-threshold",
			doc: "Raises the runtime's finalizerGCThreshold from 32 to -finalizer-gc-threshold " +
				"(TINYGO_FINALIZER_GC_THRESHOLD in install-tools.sh, which has the measurements). " +
				"Go's syscall/js registers a finalizer for every js.Value, and TinyGo 0.42 runs a full " +
				"collection at the next idle point after every 32 registrations, a few requests apart. " +
				"Only builds with a collecting GC see it.",
			edits: []edit{
				replace{
					file: "src/runtime/gc_finalizer.go",
					old:  "\nconst finalizerGCThreshold = 32\n",
					new:  fmt.Sprintf("\nconst finalizerGCThreshold = %d // checkoutkit: was 32\n", cfg.finalizerGCThreshold),
				},
			},
		},
		{
			name: "stack-reuse",
			doc: "Reuses finished goroutines' stacks. Under asyncify every goroutine gets a fixed " +
				"heap-allocated stack and every call from JavaScript into Go starts a goroutine; stock " +
				"TinyGo allocates a new stack each time. Finished stacks go on a free list " +
				"(internal/task/task_asyncify.go), and every finished goroutine is marked for that " +
				"cleanup, not only when finalizers are in use (runtime/scheduler_cooperative.go).",
			edits: []edit{
				replace{
					file:  "src/runtime/scheduler_cooperative.go",
					old:   "\tif finalizerIdleGC != nil {\n\t\ttask.MarkFinishing()\n\t}\n",
					new:   "\ttask.MarkFinishing() // checkoutkit: always, so that finished stacks are reused\n",
					count: 3,
				},
				replace{
					file: "src/internal/task/task_asyncify.go",
					old:  "\t// Create a stack.\n\tstack := runtime_alloc(stackSize, nil)\n",
					new: "\t// Create a stack, reusing a finished goroutine's if one is free\n" +
						"\t// (checkoutkit: see freeStacks).\n" +
						"\tvar stack unsafe.Pointer\n" +
						"\tif f := freeStacks; f != nil && f.size == stackSize {\n" +
						"\t\tfreeStacks = f.next\n" +
						"\t\tf.next, f.size = nil, 0\n" +
						"\t\tstack = unsafe.Pointer(f)\n" +
						"\t} else {\n" +
						"\t\tstack = runtime_alloc(stackSize, nil)\n" +
						"\t}\n",
				},
				replace{
					file: "src/internal/task/task_asyncify.go",
					old:  "\t\tt.state.finishing = false\n\t\tt.clearStack()\n\t\tt.state.args = nil\n",
					new: "\t\tt.state.finishing = false\n\t\tt.clearStack()\n\t\tt.state.args = nil\n" +
						"\t\t// checkoutkit: keep the cleared stack for the next goroutine.\n" +
						"\t\tf := (*freeStack)(unsafe.Pointer(t.state.canaryPtr))\n" +
						"\t\tf.size = uintptr(t.state.top) - uintptr(unsafe.Pointer(t.state.canaryPtr))\n" +
						"\t\tf.next = freeStacks\n" +
						"\t\tfreeStacks = f\n" +
						"\t\tt.state.canaryPtr = nil\n",
				},
				replace{
					file: "src/internal/task/task_asyncify.go",
					old:  "// currentTask is the current running task",
					new: "// freeStack is a finished goroutine's stack kept for reuse (checkoutkit).\n" +
						"// Every goroutine on wasm gets a fixed-size heap stack, and every call from\n" +
						"// JavaScript into Go starts a goroutine; reusing the stacks saves\n" +
						"// allocating one per call.\n" +
						"type freeStack struct {\n\tnext *freeStack\n\tsize uintptr\n}\n\n" +
						"var freeStacks *freeStack\n\n" +
						"// currentTask is the current running task",
				},
			},
		},
		{
			name: "gentle-heap-growth",
			doc: "Grows wasm linear memory by at most 4 MiB (64 pages) at a time instead of doubling it " +
				"(runtime/arch_tinygowasm.go growHeap), so the memory size follows what is used; " +
				"wasm/instance.mjs retires an instance by it.",
			edits: []edit{
				replace{
					file: "src/runtime/arch_tinygowasm.go",
					old: "\tmemorySize := wasm_memory_size(wasmMemoryIndex)\n" +
						"\tresult := wasm_memory_grow(wasmMemoryIndex, memorySize)\n",
					new: "\tmemorySize := wasm_memory_size(wasmMemoryIndex)\n" +
						"\t// checkoutkit: grow by at most 4 MiB (64 pages) at a time instead of\n" +
						"\t// doubling, so that linear memory follows what is actually used.\n" +
						"\tif memorySize > 64 {\n\t\tmemorySize = 64\n\t}\n" +
						"\tresult := wasm_memory_grow(wasmMemoryIndex, memorySize)\n",
				},
			},
		},
	}
}

// The stubs' first line names install-tools.sh, which runs this program:
// the text is kept as it was when the script wrote the files itself, so that
// the patched tree is the same as before.

const tlsConnStub = `// Written by checkoutkit's scripts/install-tools.sh.
//
// TinyGo's crypto/tls refers to net.TLSConn and net.DialTLS, which live in
// TinyGo's networking fork (a git submodule this build cannot fetch). Programs
// built here talk HTTP through the host (fetch on Workers), never through
// sockets, so these only report that TLS dialing is unavailable.

package net

import "time"

// TLSConn stands in for a TLS connection offloaded to a network device.
// Every method fails with ErrNotImplemented.
type TLSConn struct{}

// DialTLS always fails with ErrNotImplemented.
func DialTLS(addr string) (*TLSConn, error) {
	return nil, &OpError{Op: "dial", Net: "tls", Err: ErrNotImplemented}
}

func (c *TLSConn) Read(b []byte) (int, error)         { return 0, ErrNotImplemented }
func (c *TLSConn) Write(b []byte) (int, error)        { return 0, ErrNotImplemented }
func (c *TLSConn) Close() error                       { return ErrNotImplemented }
func (c *TLSConn) LocalAddr() Addr                    { return nil }
func (c *TLSConn) RemoteAddr() Addr                   { return nil }
func (c *TLSConn) SetDeadline(t time.Time) error      { return ErrNotImplemented }
func (c *TLSConn) SetReadDeadline(t time.Time) error  { return ErrNotImplemented }
func (c *TLSConn) SetWriteDeadline(t time.Time) error { return ErrNotImplemented }
func (c *TLSConn) Handshake() error                   { return ErrNotImplemented }
`

const recordHeaderErrorStub = `// Written by checkoutkit's scripts/install-tools.sh.
//
// Go's net/http (used here instead of TinyGo's fork) checks for this error
// type; TinyGo's crypto/tls never produces it.

package tls

import "net"

// RecordHeaderError mirrors the error type of Go's crypto/tls.
type RecordHeaderError struct {
	Msg          string
	RecordHeader [5]byte
	Conn         net.Conn
}

func (e RecordHeaderError) Error() string { return "tls: " + e.Msg }
`

// ---------------------------------------------------------------- edits

// replace swaps old for new in file, where old must occur exactly count times
// (1 if zero). When new already occurs count times the edit is done and does
// nothing. new must not be part of old (or a patched tree could not be told
// from an unpatched one): a deleted line keeps a neighbour on each side.
type replace struct {
	file     string
	old, new string
	count    int
}

func (e replace) apply(root string) (bool, error) {
	want := e.count
	if want == 0 {
		want = 1
	}
	if strings.Contains(e.old, e.new) {
		return false, fmt.Errorf("%s: bad edit: the new text is part of the old one", e.file)
	}
	path := filepath.Join(root, filepath.FromSlash(e.file))
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	s := string(b)
	nOld, nNew := strings.Count(s, e.old), strings.Count(s, e.new)
	switch {
	case nNew == want && (nOld == 0 || strings.Contains(e.new, e.old)):
		return false, nil // done before
	case nOld == want && nNew == 0:
		return true, writeFile(path, strings.ReplaceAll(s, e.old, e.new))
	default:
		return false, fmt.Errorf("%s: expected the code to patch %d time(s), found it %d time(s) and the patched code %d time(s) (TinyGo source changed?):\n%s",
			e.file, want, nOld, nNew, indent(e.old))
	}
}

// funcBody replaces the body of the top-level function name in file: the
// lines between its signature (one line ending in "{") and the first line
// that is just "}".
type funcBody struct {
	file, name, body string
}

func (e funcBody) apply(root string) (bool, error) {
	path := filepath.Join(root, filepath.FromSlash(e.file))
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	s := string(b)
	sig := "\nfunc " + e.name + "("
	if n := strings.Count(s, sig); n != 1 {
		return false, fmt.Errorf("%s: expected one func %s, found %d (TinyGo source changed?)", e.file, e.name, n)
	}
	start := strings.Index(s, sig) + 1
	open := strings.IndexByte(s[start:], '\n')
	if open < 0 || !strings.HasSuffix(s[start:start+open], "{") {
		return false, fmt.Errorf("%s: the signature of func %s is not one line ending in {", e.file, e.name)
	}
	bodyStart := start + open + 1
	end := strings.Index(s[bodyStart-1:], "\n}\n")
	if end < 0 {
		return false, fmt.Errorf("%s: no closing brace for func %s", e.file, e.name)
	}
	bodyEnd := bodyStart + end
	if s[bodyStart:bodyEnd] == e.body {
		return false, nil
	}
	return true, writeFile(path, s[:bodyStart]+e.body+s[bodyEnd:])
}

// noImport changes nothing: it fails if any Go file of the tree still
// imports path (or a package below it).
type noImport struct{ path string }

func (e noImport) apply(root string) (bool, error) {
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if importsPath(line, e.path) {
				rel, _ := filepath.Rel(root, p)
				found = append(found, filepath.ToSlash(rel))
				break
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if len(found) > 0 {
		return false, fmt.Errorf("%s is still imported by %s", e.path, strings.Join(found, ", "))
	}
	return false, nil
}

// importsPath reports whether line is an import of path or a package below
// it: `"path"`, `name "path"` or `import "path"`, with anything after.
func importsPath(line, path string) bool {
	fields := strings.Fields(line)
	if len(fields) > 0 && fields[0] == "import" {
		fields = fields[1:]
	}
	if len(fields) > 1 && !strings.HasPrefix(fields[0], "\"") {
		fields = fields[1:] // a package name
	}
	return len(fields) > 0 && (strings.HasPrefix(fields[0], "\""+path+"\"") || strings.HasPrefix(fields[0], "\""+path+"/"))
}

// copyDir makes the directory to hold exactly the non-test Go files of from
// (plus files of later patches, named with the suffix own). to must not exist
// yet, or must already be that copy.
type copyDir struct {
	from, to, own string
}

func (e copyDir) apply(root string) (bool, error) {
	src, err := goFiles(e.from, func(name string) bool { return !strings.HasSuffix(name, "_test.go") })
	if err != nil {
		return false, err
	}
	if len(src) == 0 {
		return false, fmt.Errorf("no Go files in %s", e.from)
	}
	dst := filepath.Join(root, filepath.FromSlash(e.to))
	have, err := goFiles(dst, func(name string) bool { return !strings.HasSuffix(name, e.own) })
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, err
	case sameFiles(have, src):
		return false, nil
	default:
		return false, fmt.Errorf("%s exists and is not a copy of %s (TinyGo source changed?)", e.to, e.from)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return false, err
	}
	for _, name := range sortedKeys(src) {
		if err := writeFile(filepath.Join(dst, name), string(src[name])); err != nil {
			return false, err
		}
	}
	return true, nil
}

// addFile writes a new file into an existing package directory. The
// package must hold each of needs and must not declare any of declares in
// another file.
type addFile struct {
	file     string
	content  string
	needs    []string
	declares []string
}

func (e addFile) apply(root string) (bool, error) {
	path := filepath.Join(root, filepath.FromSlash(e.file))
	dir, base := filepath.Split(path)
	others, err := goFiles(dir, func(name string) bool { return name != base && !strings.HasSuffix(name, "_test.go") })
	if err != nil {
		return false, err
	}
	var all []byte
	for _, name := range sortedKeys(others) {
		all = append(all, others[name]...)
	}
	for _, s := range e.needs {
		if !bytes.Contains(all, []byte(s)) {
			return false, fmt.Errorf("%s: the package has no %q (unexpected source)", e.file, s)
		}
	}
	for _, s := range e.declares {
		if bytes.Contains(all, []byte(s)) {
			return false, fmt.Errorf("%s: the package already has %q (TinyGo source changed?)", e.file, s)
		}
	}
	if b, err := os.ReadFile(path); err == nil && string(b) == e.content {
		return false, nil
	}
	return true, writeFile(path, e.content)
}

// ---------------------------------------------------------------- helpers

// goFiles reads the .go files of dir whose names keep accepts.
func goFiles(dir string, keep func(string) bool) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, d := range entries {
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".go") || !keep(d.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, err
		}
		files[d.Name()] = b
	}
	return files, nil
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, data := range a {
		if other, ok := b[name]; !ok || !bytes.Equal(data, other) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeFile replaces a file's content, keeping its mode (0644 for a new file;
// copies out of the module cache are read-only until made writable).
func writeFile(path, content string) error {
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm() | 0o200
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(content), mode)
}

func indent(s string) string {
	return "\t| " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n\t| ")
}

// ---------------------------------------------------------------- main

// applyAll applies every patch to the tree at root, reporting each patch
// and whether it changed anything (false: it was applied before).
func applyAll(root string, cfg config, report func(name string, changed bool)) error {
	for _, p := range patches(cfg) {
		changed := false
		for _, e := range p.edits {
			c, err := e.apply(root)
			if err != nil {
				return fmt.Errorf("patch %s: %w", p.name, err)
			}
			changed = changed || c
		}
		report(p.name, changed)
	}
	return nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.netModule, "net", "", "directory of the github.com/tinygo-org/tinygo@v0.30.0 module (its src/net is used)")
	flag.IntVar(&cfg.finalizerGCThreshold, "finalizer-gc-threshold", -1, "the runtime's finalizerGCThreshold (TinyGo's is 32; 0 disables that trigger)")
	list := flag.Bool("list", false, "print the patches and exit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tinygopatch -net NETMODULE -finalizer-gc-threshold N TINYGODIR\n       tinygopatch -list")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *list {
		for _, p := range patches(config{netModule: "NETMODULE", finalizerGCThreshold: cfg.finalizerGCThreshold}) {
			fmt.Printf("%s\n\t%s\n", p.name, p.doc)
		}
		return
	}
	if flag.NArg() != 1 || cfg.netModule == "" || cfg.finalizerGCThreshold < 0 {
		flag.Usage()
		os.Exit(2)
	}
	report := func(name string, changed bool) {
		if changed {
			fmt.Printf("tinygopatch: applied %s\n", name)
		} else {
			fmt.Printf("tinygopatch: %s was already applied\n", name)
		}
	}
	if err := applyAll(flag.Arg(0), cfg, report); err != nil {
		fmt.Fprintln(os.Stderr, "tinygopatch:", err)
		os.Exit(1)
	}
}
