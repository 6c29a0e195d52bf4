// Package deadline gives calls a deadline without a Go timer when what
// carries them keeps the deadline itself.
//
// Why: context.WithTimeout arms a Go timer per call, and TinyGo's scheduler
// turns a pending timer into a JavaScript setTimeout every time Go waits for
// JavaScript (wasm_exec.js's runtime.sleepTicks), never cleared, which then
// wakes Go in some later request's event. On Workers the bridge's calls
// (fetch, the rate-limiting bindings) end themselves at the deadline in the
// request's own event, so that timer is work in every request for nothing.
// Measured in wasm/README.md ("Stripe calls without a Go timer").
package deadline

import (
	"context"
	"time"
)

// Keeper is implemented by what ends a call at its context's deadline by
// itself (wasm/fetch_js.go aborts the fetch; wasm/ratelimit_js.go gives up
// on the binding), so that the caller need not arm a timer.
type Keeper interface {
	// KeepsDeadlines marks the implementation; it is never called.
	KeepsDeadlines()
}

// Keeps reports whether v is a Keeper.
func Keeps(v any) bool {
	_, ok := v.(Keeper)
	return ok
}

// With is parent with a call's deadline (the earlier of parent's and
// now+timeout), and its cancel function: context.WithTimeout, or, for a
// Keeper (keeper true), a context that reports the deadline without a timer
// behind it. Its Done and Err are then the parent's, so past the deadline
// only the keeper ends the call; Passed tells the deadline has passed.
func With(parent context.Context, timeout time.Duration, keeper bool) (context.Context, context.CancelFunc) {
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

// Passed reports whether ctx has ended or its deadline has passed, timer or
// not.
func Passed(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
