package stripeapi

import (
	"context"
	"net/http"
	"time"
)

// DeadlineKeeper is a Transport that ends a request at its context's
// deadline by itself: on Workers the fetch is aborted (wasm/fetch_js.go, an
// AbortSignal.timeout in the request's own event). A Client whose Transport
// is one gives each call its deadline without arming a Go timer.
//
// Why: context.WithTimeout arms a Go timer per call, and TinyGo's scheduler
// turns a pending timer into a JavaScript setTimeout every time Go waits for
// JavaScript (wasm_exec.js's runtime.sleepTicks), never cleared, which then
// wakes Go in some later request's event. One per Stripe call is work in
// every request for a deadline the fetch already keeps.
type DeadlineKeeper interface {
	http.RoundTripper
	// KeepsDeadlines marks the Transport; it is never called.
	KeepsDeadlines()
}

// withDeadline is ctx with the call's deadline (the earlier of parent's and
// now+timeout), and its cancel function. A DeadlineKeeper transport gets a
// context that reports the deadline without a timer behind it; its Done and
// Err are the parent's, so past the deadline only the transport ends the
// call (retryTransport checks the deadline itself).
func withDeadline(parent context.Context, timeout time.Duration, keeper bool) (context.Context, context.CancelFunc) {
	if !keeper {
		return context.WithTimeout(parent, timeout)
	}
	d := time.Now().Add(timeout)
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return deadlineCtx{parent, d}, func() {}
}

// deadlineCtx reports a deadline that its transport keeps.
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// pastDeadline reports whether ctx's deadline has passed, timer or not.
func pastDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
