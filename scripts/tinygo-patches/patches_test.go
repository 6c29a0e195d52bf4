// Package tinygopatches holds only tests: the patches themselves are the
// .patch files in this directory, applied by apply.sh (see its header).
package tinygopatches

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// patchFiles lists the NN-name.patch files in the order apply.sh applies them.
func patchFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("[0-9][0-9]-*.patch")
	if err != nil || len(files) == 0 {
		t.Fatalf("no patches found (%v)", err)
	}
	return files
}

// Every patch says what it changes and why before its first diff, and
// touches only paths below the tree (a/..., b/..., /dev/null).
func TestPatchesHaveHeadersAndRelativePaths(t *testing.T) {
	pathLine := regexp.MustCompile(`^(---|\+\+\+) (/dev/null|[ab]/[A-Za-z0-9_./-]+)$`)
	for _, f := range patchFiles(t) {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		header, diffs := 0, 0
		for sc.Scan() {
			line := sc.Text()
			if diffs == 0 && strings.HasPrefix(line, "# ") {
				header++
			}
			if strings.HasPrefix(line, "diff --git ") {
				diffs++
			}
			if (strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "+++ ")) && !pathLine.MatchString(line) {
				t.Errorf("%s: unexpected file line %q", f, line)
			}
			if strings.Contains(line, "..") && (strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "+++ ")) {
				t.Errorf("%s: path leaves the tree: %q", f, line)
			}
		}
		fh.Close()
		if header < 3 {
			t.Errorf("%s: want a header comment (what and why) of a few '# ' lines before the first diff, found %d", f, header)
		}
		if diffs == 0 {
			t.Errorf("%s: no diff", f)
		}
	}
}

// tinygoModule is a writable copy of TinyGo v0.42.0's module source, taken
// from the module cache (the test is skipped when it is not there: it needs
// no network).
func tinygoModule(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("GNU patch not installed")
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env GOMODCACHE:", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "github.com", "tinygo-org", "tinygo@v0.42.0")
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		t.Skip("TinyGo v0.42.0 is not in the module cache (scripts/install-tools.sh tinygo puts it there)")
	}
	dst := filepath.Join(t.TempDir(), "tinygo")
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", dst).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v\n%s", err, out)
	}
	return dst
}

func runApply(t *testing.T, tree string) (string, error) {
	t.Helper()
	out, err := exec.Command("bash", "apply.sh", tree).CombinedOutput()
	return string(out), err
}

// A pristine tree takes every patch; a second run finds each already
// applied and changes nothing.
func TestApplyIsCheckedAndIdempotent(t *testing.T) {
	tree := tinygoModule(t)
	out, err := runApply(t, tree)
	if err != nil {
		t.Fatalf("first run failed: %v\n%s", err, out)
	}
	for _, f := range patchFiles(t) {
		if !strings.Contains(out, "applied "+f+"\n") || strings.Contains(out, f+" was already applied") {
			t.Errorf("first run did not apply %s:\n%s", f, out)
		}
	}
	patched, err := os.ReadFile(filepath.Join(tree, "src/runtime/gc_finalizer.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patched), "const finalizerGCThreshold = 256") {
		t.Errorf("05 not in the tree after the first run")
	}
	out, err = runApply(t, tree)
	if err != nil {
		t.Fatalf("second run failed: %v\n%s", err, out)
	}
	for _, f := range patchFiles(t) {
		if !strings.Contains(out, f+" was already applied\n") {
			t.Errorf("second run did not find %s applied:\n%s", f, out)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(tree, "src/runtime/*.orig")); len(matches) > 0 {
		t.Errorf("backup files left: %v", matches)
	}
}

// A tree whose code differs where a patch anchors makes the run fail, naming
// that patch, and leaves the later patches unapplied.
func TestApplyFailsLoudlyOnChangedSource(t *testing.T) {
	tree := tinygoModule(t)
	file := filepath.Join(tree, "src/runtime/gc_finalizer.go")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "const finalizerGCThreshold = 32\n", "const finalizerGCThreshold = 33\n", 1)
	if changed == string(b) {
		t.Fatal("the anchor of 05-finalizer-gc-threshold.patch is not in the pristine tree")
	}
	if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runApply(t, tree)
	if err == nil {
		t.Fatalf("apply.sh succeeded on a changed tree:\n%s", out)
	}
	if !strings.Contains(out, "05-finalizer-gc-threshold.patch does not apply") {
		t.Errorf("the error does not name the patch:\n%s", out)
	}
	if strings.Contains(out, "applied 06-") {
		t.Errorf("a later patch was applied after a failure:\n%s", out)
	}
}

// 08-lazy-rand-seed defers seeding only with the build tag: without it, the
// cooperative scheduler's start-up still seeds (stock behaviour), and the
// runtime exports SeedRand for the program either way.
func TestLazyRandSeedIsOptIn(t *testing.T) {
	tree := tinygoModule(t)
	if out, err := runApply(t, tree); err != nil {
		t.Fatalf("apply failed: %v\n%s", err, out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(tree, "src/runtime", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := read("rand_eager.go"); !strings.HasPrefix(s, "//go:build !runtime_lazyrand\n") || !strings.Contains(s, "const lazyRandSeed = false") {
		t.Errorf("rand_eager.go does not keep start-up seeding without the tag:\n%s", s)
	}
	if s := read("rand_lazy.go"); !strings.HasPrefix(s, "//go:build runtime_lazyrand\n") || !strings.Contains(s, "const lazyRandSeed = true") {
		t.Errorf("rand_lazy.go does not defer seeding under the tag:\n%s", s)
	}
	if s := read("scheduler_cooperative.go"); !strings.Contains(s, "if !lazyRandSeed { // checkoutkit: see SeedRand\n\t\tinitRand()\n\t}\n\tinitHeap()") {
		t.Errorf("run() does not seed at start-up unless the tag is set")
	}
	if s := read("algorithm.go"); !strings.Contains(s, "func SeedRand() {\n\tif !randSeeded {\n\t\tinitRand()") || !strings.Contains(s, "\trandSeeded = true\n}") {
		t.Errorf("algorithm.go lacks SeedRand or initRand does not record the seeding")
	}
}
