package worker

// Rate limiting of the endpoints that reach Stripe without any login: a
// card tester (trying stolen card numbers through the confirm-intent flow) or
// anyone running up the shop's Stripe API usage would otherwise have them for
// free. Each client is limited by its address through a RateLimiter, on
// Workers Cloudflare's Rate Limiting binding (wasm/ratelimit_js.go):
//
//   - payments: POST /create-checkout-session and POST /create-confirm-intent,
//     which create objects at Stripe (strict; one budget for both, so that a
//     card tester cannot switch flows for a second one);
//   - status: GET (and HEAD) /session-status, which reads one (looser; the
//     return page asks once per visit).
//
// The check runs in ServeHTTP after routing and before the handler, so a
// limited request is answered 429 rate_limited with Retry-After before its
// body is read or Stripe is called. CORS preflights never get that far
// (guardOrigin answers them), nor do refused origins, unknown paths and
// wrong methods, none of which reach Stripe. Without a limiter (no binding,
// or the host build) the endpoints are unlimited.

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"checkoutkit/worker/internal/deadline"
)

// RateLimiter decides whether one more request counted under key may go
// ahead now. An error means it could not tell (the worker then lets the
// request through; see limited). One that is a deadline.Keeper (the
// bindings on Workers) gets ctx's deadline without a Go timer behind it and
// must give up by the deadline itself.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (bool, error)
}

// RateLimiters are the worker's limiters by kind of endpoint. A nil one
// leaves its endpoints unlimited.
type RateLimiters struct {
	// Payments limits POST /create-checkout-session and POST
	// /create-confirm-intent.
	Payments RateLimiter
	// Status limits GET /session-status.
	Status RateLimiter
}

// Defaults of the rate-limit settings: the periods of wrangler.toml's
// [[ratelimits]] bindings, sent as Retry-After.
const (
	DefaultRateLimitPaymentsPeriod = 60
	DefaultRateLimitStatusPeriod   = 10
)

// RateLimitConfig is the part of Config that rate limiting reads. The limits
// themselves are the bindings' (wrangler.toml), which the worker cannot read:
// it only needs each binding's period, for Retry-After.
type RateLimitConfig struct {
	// PaymentsPeriod is RATE_LIMIT_PAYMENTS_PERIOD: the period in seconds of
	// the RATE_LIMIT_PAYMENTS binding (10 or 60; default 60).
	PaymentsPeriod int
	// StatusPeriod is RATE_LIMIT_STATUS_PERIOD: the period of the
	// RATE_LIMIT_STATUS binding (10 or 60; default 10).
	StatusPeriod int
}

// loadRateLimitConfig reads the rate-limit settings (called by LoadConfig).
func loadRateLimitConfig(getenv func(string) string) (RateLimitConfig, error) {
	c := RateLimitConfig{PaymentsPeriod: DefaultRateLimitPaymentsPeriod, StatusPeriod: DefaultRateLimitStatusPeriod}
	for _, p := range []struct {
		name string
		v    *int
	}{{"RATE_LIMIT_PAYMENTS_PERIOD", &c.PaymentsPeriod}, {"RATE_LIMIT_STATUS_PERIOD", &c.StatusPeriod}} {
		raw := strings.TrimSpace(getenv(p.name))
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || (n != 10 && n != 60) {
			return c, fmt.Errorf("%s must be 10 or 60 (seconds), the period of its [[ratelimits]] binding in wrangler.toml", p.name)
		}
		*p.v = n
	}
	return c, nil
}

// rateLimitTimeout bounds one limiter call. The binding answers from the
// same machine; if it hangs, the request goes ahead as on any other error.
var rateLimitTimeout = time.Second

// limited returns a wrapper that counts each request against lim (nil:
// unlimited) and, over the limit, answers 429 with Retry-After: period,
// before the handler reads anything. The route table (routes.go) says which
// endpoints it wraps.
func (s *Server) limited(name string, lim RateLimiter, period int) func(http.HandlerFunc) http.HandlerFunc {
	return func(h http.HandlerFunc) http.HandlerFunc {
		if lim == nil {
			return h
		}
		return func(w http.ResponseWriter, r *http.Request) {
			if !s.overLimit(w, r, name, lim, period) {
				h(w, r)
			}
		}
	}
}

// overLimit counts r against lim and, over the limit, answers 429. It
// reports whether it has answered.
func (s *Server) overLimit(w http.ResponseWriter, r *http.Request, name string, lim RateLimiter, period int) bool {
	ctx, cancel := deadline.With(r.Context(), rateLimitTimeout, deadline.Keeps(lim))
	defer cancel()
	ok, err := lim.Allow(ctx, clientKey(r))
	if err != nil {
		// Fail open. The limiter guards against abuse; it is not what makes
		// a payment correct (Stripe prices, confirms and screens every
		// payment itself). Failing closed would turn a fault of the
		// rate-limiting service into every shopper's checkout failing, a
		// certain loss, to prevent a possible one for as long as the fault
		// lasts. The key (an address) is not logged.
		log.Printf("rate limit (%s): %v; request allowed", name, err)
		return false
	}
	if ok {
		return false
	}
	if period <= 0 {
		period = DefaultRateLimitPaymentsPeriod
	}
	writeError(w, &apiError{
		Status:     http.StatusTooManyRequests,
		Code:       "rate_limited",
		Message:    fmt.Sprintf("too many requests from your network; please try again in %d seconds", period),
		RetryAfter: period,
	})
	return true
}

// clientKey is the rate-limit key of r's client: its address as Cloudflare
// saw it. CF-Connecting-IP is set by Cloudflare's edge, which replaces any
// value the client sends; X-Forwarded-For and the like are written by the
// client (or any proxy) and are never read. Without CF-Connecting-IP (the
// host build) the connection's address is used. An IPv6 client counts as its
// /64, the block one subscriber usually gets: otherwise it could take a new
// address, and a new budget, for every request. Anything unparsable is one
// shared key, so that no malformed value buys a budget of its own.
func clientKey(r *http.Request) string {
	raw := strings.TrimSpace(r.Header.Get("CF-Connecting-IP"))
	if raw == "" {
		raw = r.RemoteAddr
		if host, _, err := net.SplitHostPort(raw); err == nil {
			raw = host
		}
	}
	addr, err := netip.ParseAddr(raw)
	if err != nil {
		return "unknown"
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
