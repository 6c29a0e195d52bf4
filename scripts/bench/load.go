package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"checkoutkit/scripts/internal/procfs"
)

// endpoint is one benchmarked request and how to tell a good answer.
type endpoint struct {
	Name    string
	Method  string
	Path    string
	Body    string
	WantKey string // a key the 200 JSON answer must have
	// Next, if set, makes each request instead of Body: its body, headers
	// and a further check of the 200 answer (the webhook's signed events).
	Next func() request
}

// request is one request of an endpoint with Next.
type request struct {
	Body   []byte
	Header http.Header
	Check  func(map[string]json.RawMessage) error // nil: WantKey only
}

// endpointsFor lists the benchmarked endpoints, in the order they run; the
// webhook's come from events (nil is fine for their names only). The first
// one is also the first request after start-up. "dup-event" re-sends the
// first "webhook" event, so it comes after it.
func endpointsFor(events *eventSource) []endpoint {
	return []endpoint{
		{Name: "create", Method: http.MethodPost, Path: "/create-checkout-session", Body: `{"items":[{"id":"tshirt","quantity":1}]}`, WantKey: "clientSecret"},
		{Name: "status", Method: http.MethodGet, Path: "/session-status?session_id=cs_test_a1b2c3", WantKey: "status"},
		{Name: "confirm", Method: http.MethodPost, Path: "/create-confirm-intent",
			Body: `{"items":[{"id":"mug","quantity":1}],"confirmationToken":"ctoken_bench"}`, WantKey: "client_secret"},
		{Name: "webhook", Method: http.MethodPost, Path: "/webhook", WantKey: "order", Next: func() request { return events.newOrder() }},
		{Name: "dup-event", Method: http.MethodPost, Path: "/webhook", WantKey: "duplicate", Next: func() request { return events.duplicate() }},
	}
}

// endpointNames are the endpoints' names, in order (for the report).
func endpointNames() []string {
	var names []string
	for _, ep := range endpointsFor(nil) {
		names = append(names, ep.Name)
	}
	return names
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// do sends one request and checks the answer: status 200 and a JSON object
// with ep.WantKey (and what the request's Check wants).
func do(ctx context.Context, c *http.Client, base string, ep endpoint) error {
	var (
		body  io.Reader
		next  request
		check func(map[string]json.RawMessage) error
	)
	if ep.Next != nil {
		next = ep.Next()
		body, check = bytes.NewReader(next.Body), next.Check
	} else if ep.Body != "" {
		body = strings.NewReader(ep.Body)
	}
	req, err := http.NewRequestWithContext(ctx, ep.Method, base+ep.Path, body)
	if err != nil {
		return err
	}
	if ep.Next != nil {
		req.Header = next.Header.Clone()
	} else if ep.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %.200s", ep.Method, ep.Path, resp.StatusCode, b)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s %s: not JSON: %.200s", ep.Method, ep.Path, b)
	}
	if _, ok := m[ep.WantKey]; !ok {
		return fmt.Errorf("%s %s: no %q in %.200s", ep.Method, ep.Path, ep.WantKey, b)
	}
	if check != nil {
		if err := check(m); err != nil {
			return fmt.Errorf("%s %s: %v: %.200s", ep.Method, ep.Path, err, b)
		}
	}
	return nil
}

// loadStats is what one load run measured on the client side.
type loadStats struct {
	Requests   int       `json:"requests"`
	Errors     int       `json:"errors"`
	FirstError string    `json:"first_error,omitempty"`
	Seconds    float64   `json:"seconds"`
	Latencies  []float64 `json:"latencies_ms"` // in completion order
	// At concurrency 1 with a process to watch: the CPU time of its main
	// thread (schedstat, ns) during each request, in order. It shows the
	// request that meets a retiring Go instance and starts the next one.
	MainCPU []float64 `json:"main_thread_cpu_ms,omitempty"`
}

// runLoad sends n requests with conc workers over keep-alive connections.
// With conc 1 and watch > 0 it also reads the CPU time of process watch's
// main thread around each request (loadStats.MainCPU).
func runLoad(ctx context.Context, c *http.Client, base string, ep endpoint, n, conc, watch int) loadStats {
	var (
		next int64 = -1
		mu   sync.Mutex
		st   = loadStats{Requests: n, Latencies: make([]float64, 0, n)}
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) < int64(n) && ctx.Err() == nil {
				var cpu0 uint64
				if conc == 1 && watch > 0 {
					cpu0, _ = procfs.ThreadNanos(watch, watch)
				}
				t := time.Now()
				err := do(ctx, c, base, ep)
				ms := float64(time.Since(t).Microseconds()) / 1000
				mu.Lock()
				if conc == 1 && watch > 0 {
					cpu1, _ := procfs.ThreadNanos(watch, watch)
					st.MainCPU = append(st.MainCPU, float64(cpu1-cpu0)/1e6)
				}
				st.Latencies = append(st.Latencies, ms)
				if err != nil {
					st.Errors++
					if st.FirstError == "" {
						st.FirstError = err.Error()
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st.Seconds = time.Since(start).Seconds()
	st.Requests = len(st.Latencies)
	return st
}

// percentile is the nearest-rank percentile (p in 0..100) of xs; NaN if empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// median of xs, ignoring NaNs (the mean of the two middle values when even).
func median(xs []float64) float64 {
	var s []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// threadMs sums the CPU time each thread of pid ran between before and
// after by thread name ("main" for the thread whose id is pid), in ms divided
// by per: the requests run in between for a figure per request, 1 for the
// total.
func threadMs(after, before procfs.ThreadCPU, pid, per int) map[string]float64 {
	out := map[string]float64{}
	if per == 0 {
		return out
	}
	for tid, ns := range after.Since(before) {
		name := after[tid].Comm
		if tid == pid {
			name = "main"
		}
		out[name] += float64(ns) / 1e6 / float64(per)
	}
	return out
}

// formatThreads prints threadMs's figures, largest first, leaving
// out threads under 0.005 ms per request.
func formatThreads(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for n, v := range m {
		if v >= 0.005 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.2f", n, m[n])
	}
	return strings.Join(parts, ", ")
}
