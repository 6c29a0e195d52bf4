package stripeapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRetryTransportRetriesOnlyWhatIsSafe: a POST without an Idempotency-Key
// is never repeated; one with a key, and a GET, once, with the same body and
// key; never after the deadline.
func TestRetryTransportRetriesOnlyWhatIsSafe(t *testing.T) {
	var seen []string
	rt := retryTransport{next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.Header.Get("Idempotency-Key")+" "+string(b))
		return nil, errors.New("connection reset (injected)")
	})}
	try := func(method, key, body string, ctx context.Context) []string {
		seen = nil
		req, _ := http.NewRequestWithContext(ctx, method, "http://stripe.test/v1/x", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		if _, err := rt.RoundTrip(req); err == nil {
			t.Fatal("no error")
		}
		return seen
	}
	bg := context.Background()
	if got := try("POST", "", "a=1", bg); len(got) != 1 {
		t.Errorf("POST without a key: %q", got)
	}
	if got := try("POST", "k1", "a=1", bg); len(got) != 2 || got[0] != "POST k1 a=1" || got[1] != got[0] {
		t.Errorf("POST with a key: %q", got)
	}
	if got := try("GET", "", "", bg); len(got) != 2 {
		t.Errorf("GET: %q", got)
	}
	done, cancel := context.WithCancel(bg)
	cancel()
	if got := try("GET", "", "", done); len(got) != 0 {
		t.Errorf("after the deadline: %q", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// keeper is a deadline.Keeper whose requests take delay, ended at the
// context's deadline the way the fetch transport ends them (it never looks
// at Done: a timer-free deadline has none).
type keeper struct {
	delay time.Duration
	seen  *[]time.Time // each request's deadline
}

func (keeper) KeepsDeadlines() {}

func (k keeper) RoundTrip(r *http.Request) (*http.Response, error) {
	d, ok := r.Context().Deadline()
	if !ok {
		return nil, errors.New("no deadline")
	}
	*k.seen = append(*k.seen, d)
	if time.Now().Add(k.delay).After(d) {
		time.Sleep(time.Until(d))
		return nil, context.DeadlineExceeded
	}
	time.Sleep(k.delay)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"id":"pi_1","status":"succeeded"}`))}, nil
}

// TestDeadlineKeeperGetsADeadlineWithoutATimer: a transport that keeps
// deadlines itself gets each call's deadline (the earlier of the caller's
// and the Client's timeout) in a context with no timer behind it; a call it
// ends at the deadline is a *TimeoutError and is not retried.
func TestDeadlineKeeperGetsADeadlineWithoutATimer(t *testing.T) {
	var seen []time.Time
	c := New(Config{SecretKey: "sk_test_x", APIBase: "http://stripe.test", Timeout: 80 * time.Millisecond, Transport: keeper{delay: time.Millisecond, seen: &seen}})
	start := time.Now()
	if _, err := c.RetrievePaymentIntent(context.Background(), "pi_1"); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Sub(start) < 70*time.Millisecond || seen[0].Sub(start) > 2*time.Second {
		t.Fatalf("deadline: %v after the start", seen)
	}
	parent, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	seen = nil
	if _, err := c.RetrievePaymentIntent(parent, "pi_1"); err != nil {
		t.Fatal(err)
	}
	if want, _ := parent.Deadline(); len(seen) != 1 || !seen[0].Equal(want) {
		t.Errorf("deadline %v, want the caller's earlier %v", seen, want)
	}
	slow := New(Config{SecretKey: "sk_test_x", APIBase: "http://stripe.test", Timeout: 30 * time.Millisecond, Transport: keeper{delay: time.Second, seen: &seen}})
	seen = nil
	_, err := slow.RetrievePaymentIntent(context.Background(), "pi_1")
	var te *TimeoutError
	if !errors.As(err, &te) || te.Timeout != 30*time.Millisecond {
		t.Errorf("slow: %#v", err)
	}
	if len(seen) != 1 {
		t.Errorf("attempts after the deadline: %d, want 1", len(seen))
	}
}
