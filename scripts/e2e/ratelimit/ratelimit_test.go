// Rate limiting in workerd (wrangler dev runs the Workers Rate Limiting
// bindings locally, counting in memory), on stacks of the suite's own
// (main_test.go): the limited one sets every binding's limit to RATE_LIMIT
// (default 5; the periods are wrangler.toml's), the other has no bindings.
//
// wrangler dev keeps a CF-Connecting-IP that the client sends (Cloudflare's
// edge replaces it), which lets these tests play several clients; requests
// without one count as 127.0.0.1.

package ratelimit

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// bindingPeriod reads a [[ratelimits]] binding's period from wrangler.toml,
// which the stack's copy keeps: the Retry-After the worker must send.
func bindingPeriod(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(e2e.Path("wrangler.toml"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^name\s*=\s*"` + name + `"\s*\n(?:.*\n)*?simple\s*=\s*\{[^}]*period\s*=\s*(\d+)`)
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("wrangler.toml has no [[ratelimits]] binding %s with a period", name)
	}
	p, _ := strconv.Atoi(string(m[1]))
	return p
}

// awayFromWindowEnd waits, if need be, so that a burst of requests falls in
// one counting window: wrangler dev's limiter counts in fixed windows of the
// period, aligned to the clock, and forgets every count when one ends.
func awayFromWindowEnd(period int) {
	const burst = 3 * time.Second
	now := time.Now()
	into := time.Duration(now.UnixMilli()%int64(period*1000)) * time.Millisecond
	if left := time.Duration(period)*time.Second - into; left < burst {
		time.Sleep(left + 200*time.Millisecond)
	}
}

func checkLimited(t *testing.T, r e2e.Response, what string, period int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("%s: %d %s, want 429", what, r.Status, r.Body)
	}
	if got, want := r.Header.Get("Retry-After"), strconv.Itoa(period); got != want {
		t.Errorf("%s: Retry-After = %q, want %q (the binding's period)", what, got, want)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type = %q, want JSON", what, ct)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	e2e.Decode(t, r, &e)
	if e.Error.Code != "rate_limited" || e.Error.Message == "" {
		t.Errorf("%s: error = %+v, want code rate_limited and a message", what, e.Error)
	}
}

func fromClient(ip string) map[string]string {
	if ip == "" {
		return nil
	}
	return map[string]string{"CF-Connecting-IP": ip}
}

// TestRateLimitPayments: N+1 rapid creates from one client; the last is
// refused before any Stripe call, and everything else still answers.
func TestRateLimitPayments(t *testing.T) {
	n := limitedStack(t)
	base := e2e.Env(t, "BASE_URL")
	period := bindingPeriod(t, "RATE_LIMIT_PAYMENTS")
	awayFromWindowEnd(period)
	var sessionID string
	for i := 1; i <= n; i++ {
		r := e2e.Call(t, "POST", base+"/create-checkout-session", "", "")
		if r.Status != 200 {
			t.Fatalf("create %d of %d: %d %s, want 200", i, n, r.Status, r.Body)
		}
		if sessionID == "" {
			var got struct{ ClientSecret string }
			e2e.Decode(t, r, &got)
			sessionID, _, _ = strings.Cut(got.ClientSecret, "_secret_")
		}
	}
	before := e2e.StripeCalls(t)
	checkLimited(t, e2e.Call(t, "POST", base+"/create-checkout-session", "application/json", `{"items":[{"id":"tshirt","quantity":1}]}`), fmt.Sprintf("create %d", n+1), period)
	// One budget for both ways of creating a payment.
	checkLimited(t, e2e.Call(t, "POST", base+"/create-confirm-intent", "application/json", `{"items":[{"id":"tshirt","quantity":1}],"confirmationToken":"ctoken_x"}`), "confirm-intent", period)
	if after := e2e.StripeCalls(t); after != before {
		t.Errorf("Stripe calls went from %d to %d: a limited request reached Stripe", before, after)
	}

	// The same client's other requests still answer.
	for _, c := range []struct{ method, path string }{
		{"GET", "/config"},
		{"GET", "/session-status?session_id=" + sessionID}, // its own, looser budget
		{"GET", "/"},
	} {
		if r := e2e.Call(t, c.method, base+c.path, "", ""); r.Status != 200 {
			t.Errorf("%s %s: %d %s, want 200", c.method, c.path, r.Status, r.Body)
		}
	}
	// A CORS preflight is not counted (nor refused).
	if origin := os.Getenv("ALLOWED_ORIGINS"); origin != "" {
		origin, _, _ = strings.Cut(origin, ",")
		r := e2e.Send(t, "OPTIONS", base+"/create-checkout-session", map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}, "")
		if r.Status != http.StatusNoContent {
			t.Errorf("preflight: %d %s, want 204", r.Status, r.Body)
		}
	}
	// Another client has a budget of its own.
	if r := e2e.Send(t, "POST", base+"/create-checkout-session", fromClient("198.51.100.23"), ""); r.Status != 200 {
		t.Errorf("another client: %d %s, want 200", r.Status, r.Body)
	}
}

// TestRateLimitStatus: the status budget, and an IPv6 client counted by /64.
func TestRateLimitStatus(t *testing.T) {
	n := limitedStack(t)
	base := e2e.Env(t, "BASE_URL")
	// The session to read is made by yet another client (127.0.0.1's budget
	// may be spent by TestRateLimitPayments).
	r := e2e.Send(t, "POST", base+"/create-checkout-session", fromClient("198.51.100.50"), "")
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created struct{ ClientSecret string }
	e2e.Decode(t, r, &created)
	id, _, _ := strings.Cut(created.ClientSecret, "_secret_")
	period := bindingPeriod(t, "RATE_LIMIT_STATUS")
	awayFromWindowEnd(period)
	for i := 1; i <= n; i++ {
		// A new address in the same /64 each time: still one client.
		ip := fmt.Sprintf("2001:db8:77:1::%x", i)
		if r := e2e.Send(t, "GET", base+"/session-status?session_id="+id, fromClient(ip), ""); r.Status != 200 {
			t.Fatalf("status %d of %d from %s: %d %s, want 200", i, n, ip, r.Status, r.Body)
		}
	}
	checkLimited(t, e2e.Send(t, "GET", base+"/session-status?session_id="+id, fromClient("2001:db8:77:1:ffff::1"), ""), fmt.Sprintf("status %d", n+1), period)
	if r := e2e.Send(t, "GET", base+"/config", fromClient("2001:db8:77:1::1"), ""); r.Status != 200 {
		t.Errorf("config: %d %s, want 200", r.Status, r.Body)
	}
	if r := e2e.Send(t, "GET", base+"/session-status?session_id="+id, fromClient("2001:db8:77:2::1"), ""); r.Status != 200 {
		t.Errorf("another /64: %d %s, want 200", r.Status, r.Body)
	}
}

// TestRateLimitOff: without the bindings nothing is limited, and the worker
// says so once, however many Go instances the isolate starts (a TinyGo
// instance retires after wasm/instance.mjs's RETIRE_REQUESTS, 256).
func TestRateLimitOff(t *testing.T) {
	offStack(t)
	base := e2e.Env(t, "BASE_URL")
	for i := 0; i < 15; i++ { // more than wrangler.toml's limits
		if r := e2e.Call(t, "POST", base+"/create-checkout-session", "", ""); r.Status != 200 {
			t.Fatalf("create %d: %d %s, want 200", i+1, r.Status, r.Body)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 80; i++ {
				resp, err := http.Get(base + "/config")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		t.Errorf("%d of 320 GET /config failed", failed)
	}
	if r := e2e.Call(t, "POST", base+"/create-checkout-session", "", ""); r.Status != 200 {
		t.Fatalf("create after: %d %s, want 200", r.Status, r.Body)
	}
	dir := e2e.Env(t, "STACK_LOG_DIR")
	const line = "rate limiting is off"
	var count int
	for i := 0; i < 20; i++ { // wrangler writes the worker's output a little later
		b, _ := os.ReadFile(filepath.Join(dir, "wrangler.log"))
		if count = strings.Count(string(b), line); count > 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if count != 1 {
		t.Errorf("wrangler.log has %q %d times, want once", line, count)
	}
}
