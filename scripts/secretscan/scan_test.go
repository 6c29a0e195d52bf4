package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPatterns(t *testing.T) {
	long := strings.Repeat("aB3", 10)
	found := []string{
		"sk_live_" + long, "sk_test_" + long, "rk_live_" + long, "rk_test_" + long,
		"whsec_" + long,
		"cs_test_a1B2_secret_" + long, "cs_live_a1_secret_" + long, "pi_3Q1_secret_" + long, "seti_1Ab_secret_" + long,
		`{"clientSecret":"cs_test_abc_secret_xyz123"}`,
	}
	clean := []string{
		"sk_test_unit", "sk_test_sandbox", "pk_test_" + long, "sk_test_****************1234",
		"whsec_...", "cs_test_abc_secret_[redacted]", `split("_secret_")`, "pi_123", "seti_123_secret_",
		"mask" + "sk_live_" + long,           // not at a word start
		"whsec_" + "alwaysreasonamountitems", // string constants run together in a binary
	}
	for _, s := range found {
		if len(ScanBytes("t", []byte(s), nil)) == 0 {
			t.Errorf("not found: %q", s)
		}
	}
	for _, s := range clean {
		if f := ScanBytes("t", []byte(s), nil); len(f) != 0 {
			t.Errorf("false positive %v in %q", f, s)
		}
	}
}

func TestFindingsNameTheFileButNotTheSecret(t *testing.T) {
	dir := t.TempDir()
	key := "sk_live_" + strings.Repeat("Q7", 15)
	token := strings.Repeat("f00d", 10)
	os.WriteFile(filepath.Join(dir, "a.log"), []byte("ok\nstarting with "+key+"\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "b.js"), []byte(`x="`+token+`"`), 0o644)
	os.WriteFile(filepath.Join(dir, "clean.txt"), []byte("nothing"), 0o644)
	found, files, err := ScanPaths([]string{dir}, []literal{{"ADMIN_TOKEN", token}})
	if err != nil || files != 3 {
		t.Fatalf("files %d, err %v", files, err)
	}
	if len(found) != 2 || found[0].File != filepath.Join(dir, "a.log") || found[0].Line != 2 || found[0].Kind != "secret key" ||
		found[1].Kind != "the value of ADMIN_TOKEN" {
		t.Fatalf("found %v", found)
	}
	for _, f := range found {
		if strings.Contains(f.String(), key) || strings.Contains(f.String(), token) || strings.Contains(f.String(), key[:12]) {
			t.Errorf("a finding shows the secret: %s", f)
		}
	}
}

func TestLiteralsFromEnv(t *testing.T) {
	t.Setenv("SCAN_T_LONG", strings.Repeat("x", 20))
	t.Setenv("SCAN_T_SHORT", "short")
	got := literalsFromEnv("SCAN_T_LONG, SCAN_T_SHORT,SCAN_T_UNSET")
	if len(got) != 1 || got[0].name != "SCAN_T_LONG" {
		t.Fatalf("got %v", got)
	}
}

// The built site (what `wrangler deploy` uploads besides the worker) holds
// no credential.
func TestBuiltSiteHasNoSecrets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site")
	cmd := exec.Command("go", "run", "./build", "site", "-site-out", out)
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the site: %v\n%s", err, b)
	}
	found, files, err := ScanPaths([]string{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files built", files)
	}
	for _, f := range found {
		t.Error(f)
	}
}
