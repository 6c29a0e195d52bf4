package stripeapi

// How the client calls Stripe when Stripe or the network fails.
//
// The rules are stripe-go's, which are the ones a payment needs; the one
// retry is made by retryTransport, in front of Config.Transport (call.go
// sends through it).
//
//   - One retry at most: two attempts per call, so a request costs at most a
//     few of the Workers Free plan's 50 subrequests.
//   - Only what cannot have a side effect twice is retried: a request with an
//     Idempotency-Key, or a GET. every POST carries a key (the
//     order's key from worker/payments.go, the operator's from
//     worker/admin_payments.go, else a random one per call; call.go). The retry is the same request with the same key: Stripe
//     answers a retried POST whose first attempt went through with the saved
//     answer instead of doing it again. GETs carry no key and change nothing (Stripe calls them
//     idempotent by definition), so they are retried too.
//   - What is retried, as stripe-go would: a failure to get an answer at all
//     (a dropped or refused connection, a body cut short) and Stripe's 429
//     lock_timeout. What is not: any other answer with a Stripe error body (a
//     500: Stripe saves it under the idempotency key and would replay it; a
//     rate_limit 429, which only gets worse when hammered; a 4xx), an answer
//     that is not JSON (a retried POST would get the same saved answer), a
//     call past its deadline.
//   - No wait before the retry. stripe-go sleeps 0.5 s first, and a sleep is
//     a timer: on Workers one Go instance serves the isolate's concurrent
//     requests (wasm/instance.mjs), and a timer can wake the goroutine inside
//     another request's event, whose I/O workerd cancels or refuses once
//     that request is done ("Cannot perform I/O on behalf of a different
//     request"). Measured in workerd with background traffic: half the
//     retries after stripe-go's sleep lost their answer (504 or 500). Retried
//     at once, the retry starts in the callback of the failed attempt, in its
//     own request. An immediate retry suits what is retried: a new
//     connection, or a lock another request held for a moment.
//
// Every call has a deadline, Config.Timeout (the worker's STRIPE_TIMEOUT_MS,
// default 15 s), for both attempts: a shopper waiting on a slow Stripe gets a
// TimeoutError (the worker's 504 stripe_timeout) instead of a page that hangs. On Workers the fetch itself is
// aborted at the deadline (wasm/fetch_js.go), for the same reason as above:
// the context's own timer would wake the goroutine in another request's
// event. The deadline ends the worker's wait; a POST that reached Stripe may
// still complete there, which is why the worker's create requests accept an
// idempotencyKey: the shopper's retry with it returns what the first attempt
// made.
//
// The failures come back as errors.go describes; the worker's fromStripe
// (worker/respond.go) turns them into HTTP answers.
//
// On the host, Go's own http.Transport also repeats a request that carries an
// Idempotency-Key (and any GET) once when a reused connection breaks before
// the answer; on Workers requests go through fetch (wasm/fetch_js.go), which
// does not, so there the attempts are exactly retryTransport's.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"checkoutkit/worker/internal/deadline"

	"github.com/stripe/stripe-go/v82"
)

// maxPeekBytes bounds how much of a 429's body retryTransport reads to tell a
// lock_timeout (Stripe's error bodies are a few hundred bytes).
const maxPeekBytes = 16 << 10

// retryTransport makes the worker's one retry (see the rules above). It never
// starts an attempt once the call's deadline has passed. The retry sends a
// copy of the request with a fresh body from req.GetBody (which
// http.NewRequest sets for the body call.go gives); a request whose body
// cannot be had again is not retried.
type retryTransport struct {
	next http.RoundTripper
}

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if deadline.Passed(ctx) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, context.DeadlineExceeded
	}
	res, err := t.next.RoundTrip(req)
	safe := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Header.Get("Idempotency-Key") != ""
	hasBody := req.Body != nil && req.Body != http.NoBody
	if !safe || (hasBody && req.GetBody == nil) || deadline.Passed(ctx) || errors.Is(err, context.DeadlineExceeded) {
		return res, err
	}
	if err == nil {
		if res.StatusCode != http.StatusTooManyRequests || !isLockTimeout(res) {
			return res, nil
		}
	}
	retry := req.Clone(ctx)
	if hasBody {
		body, berr := req.GetBody()
		if berr != nil {
			return res, err
		}
		retry.Body = body
	}
	if res != nil {
		res.Body.Close()
	}
	return t.next.RoundTrip(retry)
}

// isLockTimeout reports whether a 429 is Stripe's lock_timeout (safe to
// retry, unlike a rate limit); it leaves res.Body readable.
func isLockTimeout(res *http.Response) bool {
	orig := res.Body
	b, err := io.ReadAll(io.LimitReader(orig, maxPeekBytes))
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), orig), orig}
	if err != nil {
		return false
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error.Code == string(stripe.ErrorCodeLockTimeout)
}
