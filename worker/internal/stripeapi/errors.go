package stripeapi

// What a failed call returns: *Error for Stripe's own refusals, and types
// for the other failures, so that the worker can answer each one precisely
// (worker/respond.go: 504 stripe_timeout, 502 stripe_bad_response); any
// other error is a failure to reach Stripe at all.

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// Error is Stripe's refusal of a call: what the worker reads of Stripe's
// error object, with the answer's status and request id.
//
// It replaces stripe-go's *stripe.Error, whose fields hold a
// stripe.PaymentIntent, PaymentMethod, SetupIntent and PaymentSource and
// whose Error method encodes it all as JSON. Under TinyGo that linked every
// stripe-go type those reach, and put the UnmarshalJSON methods of 53 of
// them into the one function that dispatches json.Unmarshaler calls, which
// every decode of a Stripe answer runs (942 type comparisons, 31.7 KB of
// WebAssembly, 172 KB once V8 compiles it; V8 discards and compiles it
// again, with the rest, whenever workerd starts another isolate: see
// wasm/README.md). Measured with the change: wasm/README.md, session 7.
//
// The tagged fields decode from Stripe's error object; the others come from
// the answer itself, never from its body.
type Error struct {
	Type        stripe.ErrorType   `json:"type"`
	Code        stripe.ErrorCode   `json:"code"`
	DeclineCode stripe.DeclineCode `json:"decline_code"`
	Param       string             `json:"param"`
	// Msg is Stripe's message for a person; it can quote the request.
	Msg      string `json:"message"`
	DocURL   string `json:"doc_url"`
	ChargeID string `json:"charge"`
	// PaymentIntent is the id of the PaymentIntent the error is about (a
	// declined confirmation), if Stripe named one (Stripe sends the object).
	PaymentIntent ExpandableID `json:"payment_intent"`
	// HTTPStatusCode and RequestID are the answer's status and Request-Id.
	HTTPStatusCode int    `json:"-"`
	RequestID      string `json:"-"`
	// RetryAfter is the answer's Retry-After header, as sent.
	RetryAfter string `json:"-"`
}

// Error describes the refusal; Msg is left out (it can quote the request,
// and callers that log it redact it first).
func (e *Error) Error() string {
	s := "stripe: " + strconv.Itoa(e.HTTPStatusCode) + " " + string(e.Type)
	if e.Code != "" {
		s += " " + string(e.Code)
	}
	if e.DeclineCode != "" {
		s += " (" + string(e.DeclineCode) + ")"
	}
	if e.Param != "" {
		s += " param " + e.Param
	}
	if e.RequestID != "" {
		s += " request " + e.RequestID
	}
	return s
}

// TimeoutError: the call's deadline passed before Stripe answered. A POST
// may still have been carried out at Stripe; its retry with the same
// idempotency key gets the same answer.
type TimeoutError struct {
	// Timeout is the deadline the call had.
	Timeout time.Duration
	// Err is the transport's error (context.DeadlineExceeded or a fetch abort).
	Err error
}

func (e *TimeoutError) Error() string {
	return "no answer from Stripe within " + e.Timeout.String() + ": " + e.Err.Error()
}

// Unwrap returns the transport's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// BadResponseError: Stripe answered with something that is not the JSON it
// sends (it does not decode). The answer itself is not kept: it may hold a
// client secret.
type BadResponseError struct {
	// Detail names the answer's status, never its body.
	Detail string
}

func (e *BadResponseError) Error() string { return "unreadable answer from Stripe: " + e.Detail }

// classify names err (the transport's error: no answer, or its body cut
// short) as above; timedOut reports that the call's own deadline passed.
func classify(err error, timedOut bool, timeout time.Duration) error {
	// The fetch transport on Workers ends a call at its deadline itself
	// (wasm/fetch_js.go), a moment before the context expires.
	if timedOut || errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Timeout: timeout, Err: err}
	}
	return err
}
