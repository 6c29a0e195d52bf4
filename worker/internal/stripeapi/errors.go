package stripeapi

// What a failed call returns. Stripe's own refusals stay stripe-go's
// *stripe.Error (Type, Code, HTTPStatusCode, RequestID); the other failures
// get types of their own here, so that the
// worker can answer each one precisely (worker/respond.go: 504
// stripe_timeout, 502 stripe_bad_response) and any other error is a failure
// to reach Stripe at all.

import (
	"context"
	"errors"
	"time"
)

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
