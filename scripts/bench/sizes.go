package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
)

// sizes of one build, in bytes (wrangler reports KiB with two decimals).
type sizes struct {
	WasmBytes     int64   `json:"wasm_bytes,omitempty"`
	WasmGzipBytes int64   `json:"wasm_gzip_bytes,omitempty"`
	UploadKiB     float64 `json:"upload_kib"`
	UploadGzipKiB float64 `json:"upload_gzip_kib"`
	UploadError   string  `json:"upload_error,omitempty"`
}

// gzipSize is the size of data compressed by compress/gzip at its default level.
func gzipSize(data []byte) (int64, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

var (
	ansiEscape  = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
	totalUpload = regexp.MustCompile(`Total Upload:\s*([0-9.]+)\s*KiB\s*/\s*gzip:\s*([0-9.]+)\s*KiB`)
)

// parseTotalUpload reads wrangler's "Total Upload: X KiB / gzip: Y KiB" line
// (possibly coloured) from its output.
func parseTotalUpload(out string) (raw, gz float64, err error) {
	m := totalUpload.FindStringSubmatch(ansiEscape.ReplaceAllString(out, ""))
	if m == nil {
		return 0, 0, fmt.Errorf("no \"Total Upload: X KiB / gzip: Y KiB\" line in wrangler's output")
	}
	if raw, err = strconv.ParseFloat(m[1], 64); err == nil {
		gz, err = strconv.ParseFloat(m[2], 64)
	}
	return raw, gz, err
}

// measureSizes measures the wasm file (if any) and what `wrangler deploy
// --dry-run` would upload for the entry, with the same assets as the runs.
func measureSizes(entry, wasm, assets string) sizes {
	var s sizes
	if wasm != "" {
		if data, err := os.ReadFile(wasm); err == nil {
			s.WasmBytes = int64(len(data))
			s.WasmGzipBytes, _ = gzipSize(data)
		} else {
			s.UploadError = err.Error()
		}
	}
	dir, err := os.MkdirTemp("", "bench-dry-run-")
	if err != nil {
		s.UploadError = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("wrangler", "deploy", "--dry-run", "--outdir", dir, "--assets", assets, entry)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0", "CI=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.UploadError = fmt.Sprintf("wrangler deploy --dry-run: %v: %s", err, lastLines(string(out), 5))
		return s
	}
	if s.UploadKiB, s.UploadGzipKiB, err = parseTotalUpload(string(out)); err != nil {
		s.UploadError = err.Error()
	}
	return s
}

func lastLines(s string, n int) string {
	lines := regexp.MustCompile(`\r?\n`).Split(ansiEscape.ReplaceAllString(s, ""), -1)
	var kept []string
	for _, l := range lines {
		if l != "" {
			kept = append(kept, l)
		}
	}
	if len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	out := ""
	for _, l := range kept {
		out += l + " | "
	}
	return out
}
