package main

import (
	"math"
	"strings"
	"testing"
)

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

// The per-request table is printed from each load's main-thread samples:
// median, mean, largest, and the process's CPU per request less the mean.
func TestPrintPerRequest(t *testing.T) {
	load := func(cpu float64, main ...float64) loadResult {
		return loadResult{Endpoint: "create", Concurrency: 1, CPUPerReq: cpu, loadStats: loadStats{Requests: len(main), MainCPU: main}}
	}
	res := results{
		Variants: []variant{{Name: "tinygo"}},
		Runs: []runResult{
			{Variant: "tinygo", Loads: []loadResult{load(5, 2, 3, 4, 11)}},
			{Variant: "tinygo", Loads: []loadResult{load(7, 4, 5, 6, 9), {Endpoint: "create", Concurrency: 10, CPUPerReq: 99}}},
		},
	}
	var b strings.Builder
	printPerRequest(&b, res)
	out := b.String()
	// Rounds: medians 3 and 5 (nearest rank), means 5 and 6, largest 11 and
	// 9, rest 0 and 1; medians over the two rounds: 4.00, 5.50, 10.00, 0.50.
	for _, want := range []string{"4.00", "5.50", "10.00", "0.50", "rest ms/req"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "99") {
		t.Errorf("a c=10 load made it into the table:\n%s", out)
	}
	var none strings.Builder
	printPerRequest(&none, results{Variants: res.Variants})
	if none.Len() != 0 {
		t.Errorf("printed a table without samples: %q", none.String())
	}
}

// The warm-up table sums each endpoint's threads and takes medians over
// rounds; without warm-ups it prints nothing.
func TestPrintWarmups(t *testing.T) {
	wu := func(main, workers, other float64) []warmupResult {
		return []warmupResult{{Endpoint: "create", Requests: 300, Threads: map[string]float64{"main": main, v8Workers: workers, "workerd": other}}}
	}
	res := results{
		Variants: []variant{{Name: "tinygo"}},
		Runs: []runResult{
			{Variant: "tinygo", Warmups: wu(100, 200, 10)},
			{Variant: "tinygo", Warmups: wu(120, 300, 20)},
			{Variant: "tinygo", Warmups: wu(140, 250, 30)},
		},
	}
	var b strings.Builder
	printWarmups(&b, res)
	out := b.String()
	// Totals 310, 440, 420: median 420.0; main 120.0; workers 250.0.
	for _, want := range []string{"420.0", "120.0", "250.0", "300 unmeasured"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var none strings.Builder
	printWarmups(&none, results{Variants: res.Variants})
	if none.Len() != 0 {
		t.Errorf("printed a table without warm-ups: %q", none.String())
	}
}
