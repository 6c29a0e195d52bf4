package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbedSizeLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "embed.js")
	if err := os.WriteFile(file, []byte(strings.Repeat("(()=>{})();", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := measureFile(file)
	if fs.Error != "" || fs.Bytes != 1100 || fs.GzipBytes <= 0 || fs.GzipBytes >= fs.Bytes {
		t.Fatalf("measureFile = %+v", fs)
	}
	var b strings.Builder
	printEmbed(&b, fs, "the checkout snippet")
	if !strings.Contains(b.String(), "embed.js (the checkout snippet, ") || !strings.Contains(b.String(), "1100 bytes raw / ") || !strings.Contains(b.String(), "within the 2048-byte gzip budget") {
		t.Errorf("size line: %q", b.String())
	}
	b.Reset()
	printEmbed(&b, measureFile(filepath.Join(t.TempDir(), "cart.js")), "the optional cart script")
	if !strings.Contains(b.String(), "cart.js: size unknown") {
		t.Errorf("missing file: %q", b.String())
	}
}
