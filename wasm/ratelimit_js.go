//go:build js && wasm

package main

// worker.RateLimiter over Cloudflare's Workers Rate Limiting bindings
// (wrangler.toml [[ratelimits]]), through the instance's bridge as D1 is
// (d1_js.go): Go calls rateLimit(id, binding, key) and the loader answers
// rateLimitDone(id, success, error) from one callback registered for the
// instance's lifetime, so a check creates no JS callbacks and only strings
// cross.

import (
	"context"
	"errors"
	"syscall/js"

	"checkoutkit/worker"
)

// The rate-limiting bindings' names (wrangler.toml [[ratelimits]]; instance.mjs's
// warmUp gives its throw-away instance stand-ins under the same names).
const (
	paymentsRateLimitBinding = "RATE_LIMIT_PAYMENTS"
	statusRateLimitBinding   = "RATE_LIMIT_STATUS"
)

// rateLimiters returns a limiter for each binding present in env. A missing
// binding leaves its endpoints unlimited, which is said once per isolate
// (the loader's logOnce; a Go instance can be replaced many times in one).
func rateLimiters(bridge, env js.Value) worker.RateLimiters {
	rb := &rateLimitBridge{start: bridge.Get("rateLimit")}
	bridge.Set("rateLimitDone", js.FuncOf(rb.done))
	var l worker.RateLimiters
	var missing []string
	for _, b := range []struct {
		name string
		lim  *worker.RateLimiter
	}{{paymentsRateLimitBinding, &l.Payments}, {statusRateLimitBinding, &l.Status}} {
		if env.Truthy() && env.Get(b.name).Truthy() && env.Get(b.name).Get("limit").Type() == js.TypeFunction {
			*b.lim = &bindingLimiter{rb, b.name}
		} else {
			missing = append(missing, b.name)
		}
	}
	switch len(missing) {
	case 1:
		bridge.Call("logOnce", "ratelimit", "rate limiting is off for "+endpointsOf(missing[0])+": no Workers Rate Limiting binding "+missing[0]+" (wrangler.toml [[ratelimits]])")
	case 2:
		bridge.Call("logOnce", "ratelimit", "rate limiting is off: no Workers Rate Limiting bindings "+missing[0]+" and "+missing[1]+" (wrangler.toml [[ratelimits]])")
	}
	return l
}

func endpointsOf(binding string) string {
	if binding == paymentsRateLimitBinding {
		return "POST /create-checkout-session and /create-confirm-intent"
	}
	return "GET /session-status (and /session_status)"
}

// bindingLimiter is one binding: Allow is env[name].limit({key}).
type bindingLimiter struct {
	b    *rateLimitBridge
	name string
}

func (l *bindingLimiter) Allow(ctx context.Context, key string) (bool, error) {
	return l.b.call(ctx, l.name, key)
}

// KeepsDeadlines makes bindingLimiter a deadline.Keeper: the bridge gives up
// on the binding at ctx's deadline (instance.mjs races it with a timer of
// its own, cleared when the binding answers), so the worker arms no Go
// timer for it.
func (*bindingLimiter) KeepsDeadlines() {}

// rateLimitBridge carries limit calls to the loader; one serves every binding.
type rateLimitBridge struct {
	start js.Value // the bridge's rateLimit function

	calls pendingCalls[rateLimitResult]
}

type rateLimitResult struct {
	success bool
	err     string
}

// done receives rateLimitDone(id, success, error).
func (b *rateLimitBridge) done(_ js.Value, args []js.Value) any {
	b.calls.answer(args[0].Int(), rateLimitResult{success: args[1].Truthy(), err: args[2].String()})
	return nil
}

func (b *rateLimitBridge) call(ctx context.Context, binding, key string) (bool, error) {
	id, ch := b.calls.begin()
	b.start.Invoke(id, binding, key, millisLeft(ctx, 0))
	res, err := b.calls.wait(ctx, id, ch)
	switch {
	case err != nil:
		return false, err
	case res.err != "":
		return false, errors.New(binding + ": " + res.err)
	}
	return res.success, nil
}
