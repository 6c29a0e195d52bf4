// Command tinygopatch applies the checkout kit's runtime patches 7 and 8 to a
// copy of TinyGo 0.42.0's src directory (see scripts/install-tools.sh):
//
//   - 7: finished goroutines' stacks are kept on a free list and reused, and
//     every finished goroutine is marked for that cleanup;
//   - 8: wasm linear memory grows by at most 4 MiB at a time.
//
// Each edit replaces an exact piece of TinyGo's source and fails loudly if it
// is not found exactly once, so a TinyGo upgrade cannot be patched silently
// wrong.
//
//	go run ./scripts/tinygopatch $TINYGOROOT/src
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type edit struct {
	file     string
	old, new string
	count    int // exact number of occurrences expected (1 if zero)
}

var edits = []edit{
	{
		file:  "runtime/scheduler_cooperative.go",
		old:   "\tif finalizerIdleGC != nil {\n\t\ttask.MarkFinishing()\n\t}\n",
		new:   "\ttask.MarkFinishing() // checkoutkit: always, so that finished stacks are reused\n",
		count: 3,
	},
	{
		file: "runtime/arch_tinygowasm.go",
		old: "\tmemorySize := wasm_memory_size(wasmMemoryIndex)\n" +
			"\tresult := wasm_memory_grow(wasmMemoryIndex, memorySize)\n",
		new: "\tmemorySize := wasm_memory_size(wasmMemoryIndex)\n" +
			"\t// checkoutkit: grow by at most 4 MiB (64 pages) at a time instead of\n" +
			"\t// doubling, so that linear memory follows what is actually used.\n" +
			"\tif memorySize > 64 {\n\t\tmemorySize = 64\n\t}\n" +
			"\tresult := wasm_memory_grow(wasmMemoryIndex, memorySize)\n",
	},
	{
		file: "internal/task/task_asyncify.go",
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
	{
		file: "internal/task/task_asyncify.go",
		old:  "\t\tt.state.finishing = false\n\t\tt.clearStack()\n\t\tt.state.args = nil\n",
		new: "\t\tt.state.finishing = false\n\t\tt.clearStack()\n\t\tt.state.args = nil\n" +
			"\t\t// checkoutkit: keep the cleared stack for the next goroutine.\n" +
			"\t\tf := (*freeStack)(unsafe.Pointer(t.state.canaryPtr))\n" +
			"\t\tf.size = uintptr(t.state.top) - uintptr(unsafe.Pointer(t.state.canaryPtr))\n" +
			"\t\tf.next = freeStacks\n" +
			"\t\tfreeStacks = f\n" +
			"\t\tt.state.canaryPtr = nil\n",
	},
	{
		file: "internal/task/task_asyncify.go",
		old:  "// currentTask is the current running task",
		new: "// freeStack is a finished goroutine's stack kept for reuse (checkoutkit).\n" +
			"// Every goroutine on wasm gets a fixed-size heap stack, and every call from\n" +
			"// JavaScript into Go starts a goroutine; reusing the stacks saves\n" +
			"// allocating one per call.\n" +
			"type freeStack struct {\n\tnext *freeStack\n\tsize uintptr\n}\n\n" +
			"var freeStacks *freeStack\n\n" +
			"// currentTask is the current running task",
	},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tinygopatch TINYGOROOT/src")
		os.Exit(2)
	}
	if err := apply(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "tinygopatch:", err)
		os.Exit(1)
	}
}

func apply(src string) error {
	for _, e := range edits {
		path := filepath.Join(src, filepath.FromSlash(e.file))
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		want := e.count
		if want == 0 {
			want = 1
		}
		if n := strings.Count(string(b), e.old); n != want {
			return fmt.Errorf("%s: expected %d occurrence(s) of the patched code, found %d (TinyGo source changed?)", e.file, want, n)
		}
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), e.old, e.new)), 0o644); err != nil {
			return err
		}
	}
	return nil
}
