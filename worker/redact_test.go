package worker

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedactSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "",
		"no secrets here":               "no secrets here",
		"key sk_live_51AbCdEf0123 bad":  "key sk_live_[redacted] bad",
		"sk_test_x rk_live_y rk_test_z": "sk_test_[redacted] rk_live_[redacted] rk_test_[redacted]",
		"whsec_abc123=":                 "whsec_[redacted]=",
		"cs_test_a1_secret_b2c3, pi_3Q_secret_Zz and seti_1_secret_2": "cs_test_a1_secret_[redacted], pi_3Q_secret_[redacted] and seti_1_secret_[redacted]",
		"masked sk_test_****1234":                                     "masked sk_test_****1234",
		"bare prefix sk_live_":                                        "bare prefix sk_live_",
		"_secret_":                                                    "_secret_",
	} {
		if got := redactSecrets(in); got != want {
			t.Errorf("redactSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}

// What Stripe says in an error is logged, but never a credential in it.
func TestStripeMessagesAreLoggedRedacted(t *testing.T) {
	secrets := []string{
		"sk_live_" + strings.Repeat("A1b2", 6),
		"rk_test_" + strings.Repeat("Z9y8", 6),
		"whsec_" + strings.Repeat("w3", 16),
		"pi_3Hx_secret_" + strings.Repeat("s", 24),
	}
	stripeSays := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_redact")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"parameter_invalid","message":"about `+strings.Join(secrets, " and ")+`"}}`)
	})
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": "http://stripe.test"})
	srv := NewServer(cfg, Deps{Transport: inProcess{stripeSays}})

	var logged bytes.Buffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&logged)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "http://worker.test/create-checkout-session", strings.NewReader(`{"items":[{"id":"mug","quantity":1}]}`))
	req.Header.Set("Content-Type", "application/json")
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logged.String(), "req_redact") || !strings.Contains(logged.String(), "[redacted]") {
		t.Fatalf("the Stripe error was not logged as expected: %q", logged.String())
	}
	for _, s := range secrets {
		if strings.Contains(logged.String(), s) || strings.Contains(rec.Body.String(), s) {
			t.Errorf("%.12s… appears in the log or the answer:\n%s\n%s", s, logged.String(), rec.Body)
		}
	}
}
