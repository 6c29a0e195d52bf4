package stripeapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
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
