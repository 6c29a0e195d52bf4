package main

import (
	"math"
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and parentheses, as the kernel writes it.
	line := "4242 (work (er) d) S 17 4242 4242 0 -1 4194560 12345 0 0 0 731 96 0 0 20 0 9 0 5000 123456789 4567 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 4242 || st.Comm != "work (er) d" || st.PPID != 17 || st.Utime != 731 || st.Stime != 96 {
		t.Fatalf("got %+v", st)
	}
	for _, bad := range []string{"", "12 no-parens S 1", "12 (x) S 1 2 3"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestOwnProcStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() {
		t.Fatalf("ppid %d, want %d", st.PPID, os.Getppid())
	}
	procs := allProcs()
	found := false
	for _, pid := range descendants(os.Getppid(), procs) {
		found = found || pid == os.Getpid()
	}
	if !found {
		t.Fatal("this process is not among its parent's descendants")
	}
}

func TestDescendants(t *testing.T) {
	procs := map[int]procStat{
		1: {PID: 1}, 10: {PID: 10, PPID: 1}, 11: {PID: 11, PPID: 10}, 12: {PID: 12, PPID: 11},
		13: {PID: 13, PPID: 10}, 20: {PID: 20, PPID: 1},
	}
	got := descendants(10, procs)
	want := []int{10, 11, 13, 12}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got := descendants(99, procs); len(got) != 0 {
		t.Fatalf("missing root: got %v", got)
	}
}

func TestIsUserWorkerd(t *testing.T) {
	user := "/x/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve --binary --experimental --socket-addr=entry=127.0.0.1:0 --control-fd=3 - --inspector-addr=localhost:0"
	proxy := "/x/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve --binary --experimental --socket-addr=entry=127.0.0.1:8787 --control-fd=3 -"
	node := "node wrangler dev x.mjs --inspector-addr"
	if !isUserWorkerd(user) || isUserWorkerd(proxy) || isUserWorkerd(node) {
		t.Fatal("wrong classification")
	}
}

func TestParseTotalUpload(t *testing.T) {
	out := "✨ Read 10 files from the assets directory /w/dist/site\n" +
		"Total Upload: \x1b[32m3312.53 KiB / gzip: 1034.07 KiB\x1b[39m\nNo bindings found.\n--dry-run: exiting now.\n"
	raw, gz, err := parseTotalUpload(out)
	if err != nil || raw != 3312.53 || gz != 1034.07 {
		t.Fatalf("got %v %v %v", raw, gz, err)
	}
	if _, _, err := parseTotalUpload("Total Upload: soon"); err == nil {
		t.Fatal("accepted a line without sizes")
	}
}

func TestPercentileAndMedian(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	cases := map[float64]float64{0: 1, 10: 1, 50: 5, 51: 6, 90: 9, 99: 10, 100: 10}
	for p, want := range cases {
		if got := percentile(xs, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its argument in place")
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing is not NaN")
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	if got := median([]float64{math.NaN(), 7}); got != 7 {
		t.Errorf("median ignores NaN: %v", got)
	}
}

func TestGzipSize(t *testing.T) {
	data := make([]byte, 1<<16)
	n, err := gzipSize(data)
	if err != nil || n <= 0 || n > 1<<10 {
		t.Fatalf("gzip of 64 KiB of zeros: %d %v", n, err)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-rounds", "2", "-n", "50", "-variants", "js, go", "-per-request", "-c", "1,4"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"js", "go", "tinygo-per-request", "go-per-request"}
	if len(o.Variants) != len(want) {
		t.Fatalf("variants %v, want %v", o.Variants, want)
	}
	for i := range want {
		if o.Variants[i] != want[i] {
			t.Fatalf("variants %v, want %v", o.Variants, want)
		}
	}
	if o.Rounds != 2 || o.N != 50 || len(o.Concurrency) != 2 || o.Concurrency[1] != 4 {
		t.Fatalf("got %+v", o)
	}
	for _, bad := range [][]string{{"-variants", "rust"}, {"-c", "0"}, {"-n", "0"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
