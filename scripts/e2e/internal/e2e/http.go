package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func Env(t *testing.T, k string) string {
	t.Helper()
	v := os.Getenv(k)
	if v == "" {
		t.Fatalf("%s is not set: run the suite with go test ./scripts/e2e/<suite>, whose TestMain starts the stack and sets it", k)
	}
	return v
}

type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

func Call(t *testing.T, method, url, contentType, body string) Response {
	t.Helper()
	var header map[string]string
	if contentType != "" {
		header = map[string]string{"Content-Type": contentType}
	}
	return Send(t, method, url, header, body)
}

// send is call with arbitrary headers.
func Send(t *testing.T, method, url string, header map[string]string, body string) Response {
	t.Helper()
	return SendBody(t, method, url, header, strings.NewReader(body))
}

// sendChunked is send with the body's length left unsaid: it goes out with
// Transfer-Encoding: chunked and no Content-Length, as a streaming client
// sends it.
func SendChunked(t *testing.T, method, url string, header map[string]string, body string) Response {
	t.Helper()
	// A reader net/http cannot measure: the request's ContentLength stays
	// unknown.
	return SendBody(t, method, url, header, io.MultiReader(strings.NewReader(body)))
}

func SendBody(t *testing.T, method, url string, header map[string]string, body io.Reader) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return Response{resp.StatusCode, b, resp.Header}
}

func Decode(t *testing.T, r Response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, r.Body)
	}
}

// stripeCalls counts the /v1 requests the sandbox has received.
func StripeCalls(t *testing.T) int {
	t.Helper()
	var log struct{ Requests []json.RawMessage }
	Decode(t, Call(t, "GET", Env(t, "SANDBOX_URL")+"/_sandbox/requests", "", ""), &log)
	return len(log.Requests)
}

// waitWebhooksSettled waits until the sandbox has no webhook delivery in
// flight. The worker's webhook handler calls Stripe too (fulfillment reads
// the session), asynchronously after the request that caused the event; a
// test counting Stripe calls must not count those.
func WaitWebhooksSettled(t *testing.T) {
	t.Helper()
	for i := 0; i < 100; i++ {
		var out struct{ Events []struct{ State string } }
		Decode(t, Call(t, "GET", Env(t, "SANDBOX_URL")+"/_sandbox/events", "", ""), &out)
		pending := false
		for _, e := range out.Events {
			pending = pending || e.State == "pending"
		}
		if !pending {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("webhook deliveries still pending after 10 s")
}

func CreateSession(t *testing.T, body string) (clientSecret, id string) {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	r := Call(t, "POST", Env(t, "BASE_URL")+"/create-checkout-session", ct, body)
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var got struct{ ClientSecret string }
	Decode(t, r, &got)
	id, _, ok := strings.Cut(got.ClientSecret, "_secret_")
	if !ok || !strings.HasPrefix(id, "cs_test_") {
		t.Fatalf("clientSecret %q does not look like a Checkout Session secret", got.ClientSecret)
	}
	return got.ClientSecret, id
}

type SessionState struct {
	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	CustomerEmail string `json:"customer_email"`
}

func SessionStatus(t *testing.T, id string) SessionState {
	t.Helper()
	r := Call(t, "GET", Env(t, "BASE_URL")+"/session-status?session_id="+id, "", "")
	if r.Status != 200 {
		t.Fatalf("session-status: %d %s", r.Status, r.Body)
	}
	var s SessionState
	Decode(t, r, &s)
	return s
}
