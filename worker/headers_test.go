package worker

import (
	"net/http/httptest"
	"testing"
)

// Every answer the worker writes, success or error, carries the API security
// headers.
func TestAPISecurityHeadersOnEveryAnswer(t *testing.T) {
	srv, _ := newTestServer(t, map[string]string{"ALLOWED_ORIGINS": "https://shop.example"})
	cases := []struct {
		name, method, target, origin string
		status                       int
	}{
		{"config", "GET", "/config", "", 200},
		{"create", "POST", "/create-checkout-session", "", 200},
		{"status", "GET", "/session-status?session_id=cs_test_abc", "", 200},
		{"bad input", "GET", "/session-status?session_id=nope", "", 400},
		{"unknown path", "GET", "/nope", "", 404},
		{"wrong method", "DELETE", "/config", "", 405},
		{"refused origin", "GET", "/config", "https://evil.example", 403},
		{"allowed origin", "GET", "/config", "https://shop.example", 200},
		{"admin off", "GET", "/admin/ping", "", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "http://worker.test"+c.target, nil)
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			for _, kv := range apiSecurityHeaders {
				if got := rec.Header().Get(kv[0]); got != kv[1] {
					t.Errorf("%s = %q, want %q", kv[0], got, kv[1])
				}
			}
		})
	}
}
