package worker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLimiter allows limit requests per key and records the keys it saw.
type fakeLimiter struct {
	limit int
	err   error
	block bool // wait for the context instead of answering

	mu   sync.Mutex
	seen map[string]int
	keys []string
}

func (f *fakeLimiter) Allow(ctx context.Context, key string) (bool, error) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[key]++
	n := f.seen[key]
	f.keys = append(f.keys, key)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return false, ctx.Err()
	}
	if f.err != nil {
		return false, f.err
	}
	return n <= f.limit, nil
}

func (f *fakeLimiter) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

func fromIP(ip string) map[string]string {
	return map[string]string{"Content-Type": "application/json", "CF-Connecting-IP": ip}
}

// checkRateLimited asserts a 429 rate_limited answer with Retry-After.
func checkRateLimited(t *testing.T, rec interface {
	Result() *http.Response
}, retryAfter string) {
	t.Helper()
	res := rec.Result()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", res.StatusCode)
	}
	if got := res.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
}

func TestRateLimitPayments(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	payments, status := &fakeLimiter{limit: 2}, &fakeLimiter{limit: 100}
	srv = srv.withDeps(func(d *Deps) { d.RateLimits = RateLimiters{Payments: payments, Status: status} })
	const cart = `{"items":[{"id":"tshirt","quantity":1}]}`
	for i := 0; i < 2; i++ {
		if rec := send(t, srv, "POST", "/create-checkout-session", fromIP("203.0.113.7"), cart); rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := send(t, srv, "POST", "/create-checkout-session", fromIP("203.0.113.7"), cart)
	checkRateLimited(t, rec, "60")
	if eb := decodeError(t, rec); eb.Error.Code != "rate_limited" || !strings.Contains(eb.Error.Message, "60 seconds") {
		t.Errorf("error = %+v, want rate_limited naming 60 seconds", eb.Error)
	}
	// One budget for both ways of creating a payment.
	checkRateLimited(t, send(t, srv, "POST", "/create-confirm-intent", fromIP("203.0.113.7"), `{"items":[{"id":"tshirt","quantity":1}],"confirmationToken":"ctoken_1"}`), "60")
	if n := len(fake.Calls()); n != 2 {
		t.Errorf("Stripe calls = %d, want 2 (none for limited requests)", n)
	}
	// Other clients, and the other endpoints, are not affected.
	if rec := send(t, srv, "POST", "/create-checkout-session", fromIP("203.0.113.8"), cart); rec.Code != 200 {
		t.Errorf("another client: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := send(t, srv, "GET", "/session-status?session_id=cs_test_abc", fromIP("203.0.113.7"), ""); rec.Code != 200 {
		t.Errorf("session-status: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := send(t, srv, "GET", "/config", fromIP("203.0.113.7"), ""); rec.Code != 200 {
		t.Errorf("config: %d %s, want 200", rec.Code, rec.Body)
	}
	if status.calls() != 1 {
		t.Errorf("status limiter calls = %d, want 1", status.calls())
	}
}

func TestRateLimitStatus(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	srv = srv.withDeps(func(d *Deps) { d.RateLimits = RateLimiters{Status: &fakeLimiter{limit: 1}} })
	const target = "/session-status?session_id=cs_test_abc"
	if rec := send(t, srv, "GET", target, fromIP("198.51.100.1"), ""); rec.Code != 200 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	rec := send(t, srv, "GET", target, fromIP("198.51.100.1"), "")
	checkRateLimited(t, rec, "10")
	decodeError(t, rec)
	checkRateLimited(t, send(t, srv, "HEAD", target, fromIP("198.51.100.1"), ""), "10")
	// The quickstart's spelling shares the budget: alternating spellings
	// does not double it.
	checkRateLimited(t, send(t, srv, "GET", "/session_status?session_id=cs_test_abc", fromIP("198.51.100.1"), ""), "10")
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("Stripe calls = %d, want 1", n)
	}
	// No payments limiter: creating is unlimited.
	for i := 0; i < 5; i++ {
		if rec := send(t, srv, "POST", "/create-checkout-session", fromIP("198.51.100.1"), ""); rec.Code != 200 {
			t.Fatalf("create %d: %d %s", i, rec.Code, rec.Body)
		}
	}
}

// Limiting comes before the body is read: a limited client's malformed or
// oversized body is not even looked at.
func TestRateLimitBeforeBody(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	srv = srv.withDeps(func(d *Deps) { d.RateLimits = RateLimiters{Payments: &fakeLimiter{limit: 0}} })
	for _, body := range []string{`{"items":`, strings.Repeat("x", maxBodyBytes+1)} {
		checkRateLimited(t, send(t, srv, "POST", "/create-checkout-session", fromIP("192.0.2.1"), body), "60")
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("Stripe calls = %d, want 0", n)
	}
}

func TestRateLimitPeriodSetting(t *testing.T) {
	srv, _ := newTestServer(t, map[string]string{"RATE_LIMIT_PAYMENTS_PERIOD": "10", "RATE_LIMIT_STATUS_PERIOD": "60"})
	srv = srv.withDeps(func(d *Deps) { d.RateLimits = RateLimiters{Payments: &fakeLimiter{}, Status: &fakeLimiter{}} })
	checkRateLimited(t, send(t, srv, "POST", "/create-checkout-session", fromIP("192.0.2.1"), ""), "10")
	checkRateLimited(t, send(t, srv, "GET", "/session-status?session_id=cs_test_abc", fromIP("192.0.2.1"), ""), "60")
}

func TestRateLimitNoLimiter(t *testing.T) {
	srv, fake := newTestServer(t, nil)
	for i := 0; i < 30; i++ {
		if rec := send(t, srv, "POST", "/create-checkout-session", fromIP("192.0.2.1"), ""); rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := len(fake.Calls()); n != 30 {
		t.Errorf("Stripe calls = %d, want 30", n)
	}
}

// Preflights, refused origins, unknown paths and wrong methods never reach
// Stripe and are not counted; an allowed origin's page can read Retry-After.
func TestRateLimitScope(t *testing.T) {
	srv, _ := newTestServer(t, map[string]string{"ALLOWED_ORIGINS": "https://blog.example.org"})
	lim := &fakeLimiter{limit: 0}
	srv = srv.withDeps(func(d *Deps) { d.RateLimits = RateLimiters{Payments: lim, Status: lim} })
	preflight := map[string]string{"Origin": "https://blog.example.org", "Access-Control-Request-Method": "POST", "CF-Connecting-IP": "192.0.2.1"}
	if rec := send(t, srv, "OPTIONS", "/create-checkout-session", preflight, ""); rec.Code != http.StatusNoContent {
		t.Errorf("preflight: %d, want 204", rec.Code)
	}
	refused := map[string]string{"Origin": "https://evil.example", "CF-Connecting-IP": "192.0.2.1"}
	if rec := send(t, srv, "POST", "/create-checkout-session", refused, ""); rec.Code != http.StatusForbidden {
		t.Errorf("refused origin: %d, want 403", rec.Code)
	}
	if rec := send(t, srv, "GET", "/create-checkout-session", fromIP("192.0.2.1"), ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET create: %d, want 405", rec.Code)
	}
	if rec := send(t, srv, "GET", "/config", fromIP("192.0.2.1"), ""); rec.Code != 200 {
		t.Errorf("config: %d, want 200", rec.Code)
	}
	if n := lim.calls(); n != 0 {
		t.Errorf("limiter calls = %d, want 0", n)
	}
	cross := map[string]string{"Origin": "https://blog.example.org", "CF-Connecting-IP": "192.0.2.1"}
	rec := send(t, srv, "POST", "/create-checkout-session", cross, "")
	checkRateLimited(t, rec, "60")
	if got := rec.Header().Get("Access-Control-Expose-Headers"); got != "Retry-After" {
		t.Errorf("Access-Control-Expose-Headers = %q, want Retry-After", got)
	}
}

// A limiter that fails or hangs lets requests through (see rateLimited).
func TestRateLimitFailsOpen(t *testing.T) {
	defer func(d time.Duration) { rateLimitTimeout = d }(rateLimitTimeout)
	rateLimitTimeout = 20 * time.Millisecond
	for name, lim := range map[string]*fakeLimiter{
		"error": {err: errors.New("binding exploded")},
		"hang":  {block: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv, fake := newTestServer(t, nil)
			srv = srv.withDeps(func(d *Deps) { d.RateLimits = RateLimiters{Payments: lim} })
			if rec := send(t, srv, "POST", "/create-checkout-session", fromIP("192.0.2.1"), ""); rec.Code != 200 {
				t.Fatalf("%d %s, want 200", rec.Code, rec.Body)
			}
			if n := len(fake.Calls()); n != 1 {
				t.Errorf("Stripe calls = %d, want 1", n)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		name       string
		header     map[string]string
		remoteAddr string
		want       string
	}{
		{"IPv4", map[string]string{"CF-Connecting-IP": "203.0.113.7"}, "", "203.0.113.7"},
		{"IPv6 counts as its /64", map[string]string{"CF-Connecting-IP": "2001:db8:1:2:aaaa::1"}, "", "2001:db8:1:2::/64"},
		{"same /64", map[string]string{"CF-Connecting-IP": "2001:db8:1:2:ffff:1:2:3"}, "", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", map[string]string{"CF-Connecting-IP": "::ffff:203.0.113.7"}, "", "203.0.113.7"},
		{"X-Forwarded-For is ignored", map[string]string{"CF-Connecting-IP": "203.0.113.7", "X-Forwarded-For": "10.9.8.7"}, "", "203.0.113.7"},
		{"host build: the connection", map[string]string{"X-Forwarded-For": "10.9.8.7"}, "192.0.2.1:5555", "192.0.2.1"},
		{"bridge: bare address", nil, "192.0.2.2", "192.0.2.2"},
		{"garbage shares one key", map[string]string{"CF-Connecting-IP": "not-an-address"}, "", "unknown"},
		{"nothing", nil, "", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "/create-checkout-session", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			r.RemoteAddr = tc.remoteAddr
			if got := clientKey(r); got != tc.want {
				t.Errorf("clientKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRateLimitConfig(t *testing.T) {
	cfg := testConfig(t, nil)
	if cfg.RateLimit.PaymentsPeriod != 60 || cfg.RateLimit.StatusPeriod != 10 {
		t.Errorf("defaults = %+v, want 60 and 10", cfg.RateLimit)
	}
	for _, name := range []string{"RATE_LIMIT_PAYMENTS_PERIOD", "RATE_LIMIT_STATUS_PERIOD"} {
		for _, bad := range []string{"30", "x", "-10"} {
			_, err := LoadConfig(func(k string) string {
				switch k {
				case "STRIPE_SECRET_KEY":
					return "sk_test_unit"
				case name:
					return bad
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: err = %v, want one naming %s", name, bad, err, name)
			}
		}
	}
}
