// Package ratelimit is the rate-limit suite, on two stacks of its own started
// by the tests themselves (one at a time): one whose [[ratelimits]] bindings
// allow RATE_LIMIT requests per period (default 5; the periods are
// wrangler.toml's), for TestRateLimitPayments and TestRateLimitStatus, and
// one without the bindings, for TestRateLimitOff. Each logs in a directory of
// its own (limited/, off/). dist/ must be built.
//
//	go test -count=1 ./scripts/e2e/ratelimit
package ratelimit
