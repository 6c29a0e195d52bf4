package worker

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
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

func TestAdminRuntime(t *testing.T) {
	tok := strings.Repeat("t", 40)
	srv, _ := newTestServer(t, map[string]string{"ADMIN_TOKEN": tok})
	req := httptest.NewRequest("GET", "http://worker.test/admin/runtime?gc=1", nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("without the token: %d", rec.Code)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var st runtimeStats
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &st) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if st.Goroutines < 1 || st.Sys == 0 || st.HeapAlloc == 0 || st.HeapSys < st.HeapAlloc || st.NumGC == 0 {
		t.Errorf("implausible stats %+v", st)
	}
}
