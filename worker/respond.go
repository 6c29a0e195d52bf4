package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"checkoutkit/worker/internal/stripeapi"

	"github.com/stripe/stripe-go/v82"
)

// maxBodyBytes bounds every request body the worker reads.
const maxBodyBytes = 16 << 10

// apiError is an error a client is allowed to see: an HTTP status, a stable
// machine-readable code, a human message and, where one field is at fault, its name.
type apiError struct {
	Status    int    `json:"-"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// DeclineCode and PaymentIntent accompany declined payments (payments.go).
	DeclineCode   string `json:"decline_code,omitempty"`
	PaymentIntent string `json:"payment_intent,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header (503s).
	RetryAfter int `json:"-"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badRequest(code, param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// writeJSON writes v with the given status. Headers are set before WriteHeader.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"internal error"}}`)
	}
	writeBody(w, status, append(body, '\n'))
}

// writeBody writes an encoded JSON body with the headers every answer carries.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	setAPISecurityHeaders(h) // headers.go
	w.WriteHeader(status)
	w.Write(body)
}

// writeError answers with {"error":{...}}. Errors that are not *apiError are
// logged in full and shown to the client only as "internal error".
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		log.Printf("internal error: %s", redactSecrets(err.Error()))
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal error"}
	}
	if ae.RetryAfter > 0 {
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
		if h.Get("Access-Control-Allow-Origin") != "" {
			h.Set("Access-Control-Expose-Headers", "Retry-After") // readable by embed.js elsewhere
		}
	}
	writeJSON(w, ae.Status, struct {
		Error *apiError `json:"error"`
	}{ae})
}

// stripeRetryAfter is the Retry-After (seconds) of a 503 stripe_rate_limited
// when Stripe's answer names none.
const stripeRetryAfter = 2

// fromStripe turns an error of a Stripe call (internal/stripeapi) into what
// the browser may see. Stripe's own message is logged, not forwarded: it can
// describe our request. Failures of Stripe or the way to it are never a 500:
// 502 stripe_unavailable (Stripe's 5xx), 502 stripe_unreachable (no answer),
// 502 stripe_bad_response (not JSON), 503 stripe_rate_limited with
// Retry-After, 504 stripe_timeout.
func fromStripe(err error, op string) *apiError {
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		var te *stripeapi.TimeoutError
		var be *stripeapi.BadResponseError
		switch {
		case errors.As(err, &te):
			log.Printf("stripe %s: timeout: %s", op, redactSecrets(err.Error()))
			return &apiError{Status: http.StatusGatewayTimeout, Code: "stripe_timeout", Message: "Stripe did not answer in time; please try again"}
		case errors.As(err, &be):
			log.Printf("stripe %s: %s", op, redactSecrets(err.Error()))
			return &apiError{Status: http.StatusBadGateway, Code: "stripe_bad_response", Message: "Stripe's answer could not be read; please try again"}
		}
		log.Printf("stripe %s: transport error: %s", op, redactSecrets(err.Error()))
		return &apiError{Status: http.StatusBadGateway, Code: "stripe_unreachable", Message: "could not reach Stripe; please try again"}
	}
	log.Printf("stripe %s: status=%d type=%s code=%s request_id=%s: %s", op, se.HTTPStatusCode, se.Type, se.Code, se.RequestID, redactSecrets(se.Msg))
	ae := &apiError{RequestID: se.RequestID}
	switch {
	case se.HTTPStatusCode == http.StatusNotFound || se.Code == stripe.ErrorCodeResourceMissing:
		ae.Status, ae.Code, ae.Message = http.StatusNotFound, "not_found", "no such "+op+" object at Stripe"
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		ae.Status, ae.Code, ae.Message = http.StatusServiceUnavailable, "stripe_rate_limited", "Stripe is busy; please try again in a moment"
		ae.RetryAfter = retryAfter(se)
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		ae.Status, ae.Code, ae.Message = http.StatusBadGateway, "stripe_auth_failed", "the shop's Stripe key was refused; the shop owner must check STRIPE_SECRET_KEY"
	case se.Type == stripe.ErrorTypeCard:
		ae.Status, ae.Code, ae.Message = http.StatusPaymentRequired, string(se.Code), "the payment was declined"
	case se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 0:
		ae.Status, ae.Code, ae.Message = http.StatusBadGateway, "stripe_unavailable", "Stripe is unavailable; please try again"
	default:
		ae.Status, ae.Code, ae.Message = http.StatusBadGateway, "stripe_rejected", "Stripe refused the request"
		if se.Code != "" {
			ae.Message += " (" + string(se.Code) + ")"
		}
	}
	return ae
}

// retryAfter is Stripe's Retry-After in seconds if it sent a plausible one
// (1-60), else stripeRetryAfter.
func retryAfter(se *stripeapi.Error) int {
	if n, err := strconv.Atoi(strings.TrimSpace(se.RetryAfter)); err == nil && n >= 1 && n <= 60 {
		return n
	}
	return stripeRetryAfter
}

// readJSON decodes a JSON request body strictly into v: JSON media type, size
// limit, no unknown fields, exactly one value. It reports whether a body was
// present; an empty body leaves v untouched.
func readJSON(w http.ResponseWriter, r *http.Request, v any) (bool, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return false, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes)}
		}
		return false, badRequest("unreadable_body", "", "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return true, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send the body as application/json"}
		}
	} else {
		return true, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Content-Type: application/json is required with a body"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return true, jsonError(err)
	}
	// Only JSON whitespace may follow the value. The body is in memory, so
	// what is left of it is read directly: dec.More and dec.Token did the
	// same with 3 KB more WebAssembly on the create-session path, which the
	// first request after V8 drops its baseline code compiles again.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return true, badRequest("invalid_json", "", "the body must hold exactly one JSON value")
	}
	return true, nil
}

func jsonError(err error) *apiError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("invalid_json", "", "malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "", "the JSON body is truncated")
	case errors.As(err, &te):
		kind := jsonKind(te.Type.Kind().String())
		article := "a"
		if strings.IndexByte("aeiou", kind[0]) >= 0 {
			article = "an"
		}
		return badRequest("invalid_field_type", te.Field, "%s must be %s %s, not a JSON %s", fieldName(te.Field), article, kind, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest("unknown_field", name, "unknown field %q", name)
	}
	return badRequest("invalid_json", "", "could not decode the JSON body: %v", err)
}

func fieldName(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	case "int64", "int", "int32", "uint", "uint64":
		return "whole number"
	}
	return k
}
