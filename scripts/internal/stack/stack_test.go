package stack

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const toml = `name = "checkout-kit"

[[ratelimits]]
name = "RATE_LIMIT_PAYMENTS"
namespace_id = "1001"
simple = { limit = 10, period = 60 }

[[ratelimits]]
name = "RATE_LIMIT_STATUS"
namespace_id = "1002"
simple = { limit = 60, period = 10 }

[[d1_databases]]
binding = "DB"
`

func writeRoot(t *testing.T, wrangler string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "wrangler.toml"), []byte(wrangler), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestRateLimitConfig(t *testing.T) {
	root := writeRoot(t, toml)
	name, err := writeRateLimitConfig(root, "5")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(name) != root || !strings.HasPrefix(filepath.Base(name), ".wrangler-stack-") {
		t.Errorf("config %s: want a .wrangler-stack-*.toml next to wrangler.toml", name)
	}
	b, _ := os.ReadFile(name)
	if got := regexp.MustCompile(`limit = (\d+), period = (\d+)`).FindAllStringSubmatch(string(b), -1); len(got) != 2 ||
		got[0][1] != "5" || got[0][2] != "60" || got[1][1] != "5" || got[1][2] != "10" {
		t.Errorf("limits %v, want 5 with the periods kept:\n%s", got, b)
	}

	off, err := writeRateLimitConfig(root, "off")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(off)
	if strings.Contains(string(b), "ratelimits") || strings.Contains(string(b), "RATE_LIMIT") || !strings.Contains(string(b), `binding = "DB"`) {
		t.Errorf("off: want no [[ratelimits]] and the rest kept:\n%s", b)
	}

	for _, bad := range []string{"0", "x", "-1"} {
		if _, err := writeRateLimitConfig(root, bad); err == nil {
			t.Errorf("limit %q accepted", bad)
		}
	}
	root = writeRoot(t, "[[ratelimits]]\nname = \"X\"\nsimple = {\n  limit = 1, period = 60 }\n")
	if _, err := writeRateLimitConfig(root, "5"); err == nil {
		t.Error("a binding whose limits are not on one line was accepted")
	}
}

func TestCatalogWith(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "c.json"), []byte(`{"currency": "usd", "products": [{"id": "mug"}]}`), 0o644)
	os.WriteFile(filepath.Join(root, "more.json"), []byte(`[{"id": "poster", "stock": 2}]`), 0o644)
	got, err := CatalogWith(root, "c.json", "more.json")
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Currency string
		Products []map[string]any
	}
	if err := json.Unmarshal([]byte(got), &cat); err != nil || cat.Currency != "usd" || len(cat.Products) != 2 || cat.Products[1]["id"] != "poster" {
		t.Errorf("catalog %s (%v)", got, err)
	}
	if strings.ContainsAny(got, " \n") {
		t.Errorf("catalog not compact: %q", got)
	}
	compact, err := CompactJSONFile(root, "c.json")
	if err != nil || compact != `{"currency":"usd","products":[{"id":"mug"}]}` {
		t.Errorf("CompactJSONFile = %q, %v", compact, err)
	}
}

func TestBusyPortRefused(t *testing.T) {
	l, err := net.Listen("tcp", Host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := checkPortFree(l.Addr().(*net.TCPAddr).Port, "worker"); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Errorf("busy port: %v, want a refusal", err)
	}
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPortFree(p, "worker"); err != nil {
		t.Errorf("free port %d: %v", p, err)
	}
}

func TestMissingBuildFails(t *testing.T) {
	root := writeRoot(t, toml)
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644)
	_, err := Start(Config{Root: root, WorkerDir: "dist/worker"})
	if err == nil || !strings.Contains(err.Error(), "worker.mjs is missing") {
		t.Fatalf("Start without a build: %v, want worker.mjs is missing", err)
	}
}
