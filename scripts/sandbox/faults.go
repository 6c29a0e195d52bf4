package main

// Fault injection for reliability tests: make the next N matching API requests
// fail the way a network or Stripe can.
//
//	POST   /_sandbox/faults   {"path_prefix":"/v1/checkout/sessions","method":"POST","kind":"500",
//	                           "count":1,"delay_ms":0,"after":false}
//	       → 200 {"fault":{"id":"flt_...","path_prefix","method","kind","count","remaining",
//	                       "delay_ms","after"}}
//	GET    /_sandbox/faults   → {"faults":[...]} (those with requests left)
//	DELETE /_sandbox/faults   → {"ok":true,"cleared":<n>}
//
// path_prefix (default "/v1/") and method ("" = any) select requests to /v1/;
// count (default 1, at most 1000) is how many; the first registered fault that
// matches and has requests left applies. kind:
//
//	"500"             500 {"error":{"type":"api_error",...}}
//	"429"             429 {"error":{"type":"invalid_request_error","code":"rate_limit",...}}
//	"slow"            waits delay_ms (default 2000, at most 60000), then answers normally
//	"drop"            closes the connection without an answer
//	"malformed_json"  200 with a truncated JSON body
//
// delay_ms also delays the other kinds. By default the faulted request is not
// processed (nothing changes, nothing is saved under its idempotency key). With
// "after":true (for 500, drop and malformed_json) it is processed first and its
// answer replaced: the change happens and a retry with the same Idempotency-Key
// gets the saved answer, the case idempotency keys exist for.
//
// The request log (GET /_sandbox/requests) records faulted requests with
// "fault":<kind>, "fault_executed":<bool> and their idempotency_key; "status" is
// what the client got (0 for drop).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	maxFaultCount   = 1000
	maxFaultDelayMS = 60000
	defaultSlowMS   = 2000
)

var faultKinds = []string{"500", "429", "slow", "drop", "malformed_json"}

type fault struct {
	ID         string `json:"id"`
	PathPrefix string `json:"path_prefix"`
	Method     string `json:"method"`
	Kind       string `json:"kind"`
	Count      int    `json:"count"`
	Remaining  int    `json:"remaining"`
	DelayMS    int    `json:"delay_ms"`
	After      bool   `json:"after"`
}

type faultRequest struct {
	PathPrefix string `json:"path_prefix"`
	Method     string `json:"method"`
	Kind       string `json:"kind"`
	Count      *int   `json:"count"`
	DelayMS    *int   `json:"delay_ms"`
	After      bool   `json:"after"`
}

func (sb *Sandbox) devFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		sb.mu.Lock()
		out := []fault{}
		for _, f := range sb.faults {
			if f.Remaining > 0 {
				out = append(out, *f)
			}
		}
		sb.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"faults": out})
	case http.MethodDelete:
		sb.mu.Lock()
		n := 0
		for _, f := range sb.faults {
			if f.Remaining > 0 {
				n++
			}
		}
		sb.faults = nil
		sb.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "cleared": n})
	case http.MethodPost:
		f, err := parseFault(r)
		if err != nil {
			writeJSON(w, err.status, err.envelope())
			return
		}
		sb.mu.Lock()
		sb.faults = append(sb.faults, f)
		out := *f
		sb.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"fault": out})
	default:
		methodNotAllowed(w, "GET, POST, DELETE, OPTIONS")
	}
}

func parseFault(r *http.Request) (*fault, *apiError) {
	var req faultRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, devError(http.StatusBadRequest, "invalid_json", "",
			"The body must be a JSON object {\"path_prefix\",\"method\",\"kind\",\"count\",\"delay_ms\",\"after\"}: %v", err)
	}
	f := &fault{ID: newID("flt_", 14), PathPrefix: req.PathPrefix, Method: strings.ToUpper(req.Method), Kind: req.Kind, Count: 1, After: req.After}
	if f.PathPrefix == "" {
		f.PathPrefix = "/v1/"
	}
	switch {
	case f.PathPrefix != "/v1" && !strings.HasPrefix(f.PathPrefix, "/v1/"):
		return nil, devError(http.StatusBadRequest, "parameter_invalid", "path_prefix", "path_prefix must start with /v1/ (faults apply to the API only).")
	case f.Method != "" && !slices.Contains([]string{"GET", "POST", "DELETE"}, f.Method):
		return nil, devError(http.StatusBadRequest, "parameter_invalid", "method", "method must be GET, POST, DELETE or empty (any).")
	case f.Kind == "":
		return nil, devError(http.StatusBadRequest, "parameter_missing", "kind", "Missing kind: one of %s.", strings.Join(faultKinds, ", "))
	case !slices.Contains(faultKinds, f.Kind):
		return nil, devError(http.StatusBadRequest, "parameter_invalid", "kind", "kind must be one of %s.", strings.Join(faultKinds, ", "))
	case f.After && (f.Kind == "429" || f.Kind == "slow"):
		return nil, devError(http.StatusBadRequest, "parameter_invalid", "after", "after applies to 500, drop and malformed_json (a 429 never runs the request; slow always does).")
	}
	if req.Count != nil {
		if *req.Count < 1 || *req.Count > maxFaultCount {
			return nil, devError(http.StatusBadRequest, "parameter_invalid", "count", "count must be between 1 and %d.", maxFaultCount)
		}
		f.Count = *req.Count
	}
	f.Remaining = f.Count
	if f.Kind == "slow" {
		f.DelayMS = defaultSlowMS
	}
	if req.DelayMS != nil {
		if *req.DelayMS < 0 || *req.DelayMS > maxFaultDelayMS {
			return nil, devError(http.StatusBadRequest, "parameter_invalid", "delay_ms", "delay_ms must be between 0 and %d.", maxFaultDelayMS)
		}
		f.DelayMS = *req.DelayMS
	}
	return f, nil
}

// takeFault finds the fault for an API request and uses one of its requests.
func (sb *Sandbox) takeFault(method, path string) *fault {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	for _, f := range sb.faults {
		if f.Remaining > 0 && (f.Method == "" || f.Method == method) && strings.HasPrefix(path, f.PathPrefix) {
			f.Remaining--
			cp := *f
			return &cp
		}
	}
	return nil
}

// wait sleeps delay_ms, or less if the client goes away.
func (f *fault) wait(ctx context.Context) {
	if f.DelayMS <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// executes reports whether the faulted request is processed.
func (f *fault) executes() bool { return f.Kind == "slow" || f.After }

// answer is what the client gets instead of (or, with after, in place of) body.
func (f *fault) answer(status int, body []byte) (int, []byte) {
	switch f.Kind {
	case "500":
		e := &apiError{status: http.StatusInternalServerError, Type: "api_error",
			Message: "Sandbox fault: an error occurred with our connection to Stripe (injected by POST /_sandbox/faults)."}
		return e.status, marshal(e.envelope())
	case "429":
		e := &apiError{status: http.StatusTooManyRequests, Type: "invalid_request_error", Code: "rate_limit",
			Message: "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests. (Sandbox fault, injected by POST /_sandbox/faults.)"}
		return e.status, marshal(e.envelope())
	case "malformed_json":
		if body == nil {
			body = []byte(`{"error": {"type": "api_error", "message": "sandbox fault: malformed JSON"}}`)
		}
		return http.StatusOK, body[:len(body)/2]
	case "drop":
		return 0, nil
	}
	return status, body // slow
}
