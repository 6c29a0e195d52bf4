package worker

// How the worker calls Stripe when Stripe or the network fails.
//
// Retries are stripe-go's own (BackendConfig.MaxNetworkRetries), with its
// rules, which are the ones a payment needs:
//
//   - At most stripeMaxNetworkRetries (1) retry: two attempts per call, so a
//     request costs at most a few subrequests of the Workers Free plan's 50,
//     and the retry's wait is sleep, not CPU.
//   - Only what cannot have a side effect twice is retried. stripe-go puts an
//     Idempotency-Key on every POST (the order's key from payments.go, the
//     operator's from admin_payments.go, else a random one per call; a retry
//     reuses the request, so the same key); stripeBackend makes sure every
//     call has parameters, without which stripe-go would send no key. Stripe
//     answers a retried POST whose first attempt went through with the saved
//     answer instead of doing it again. GETs carry no key and are retried too:
//     they change nothing at Stripe (Stripe calls GET idempotent by
//     definition).
//   - What is retried: failures to get an answer at all (a dropped or refused
//     connection, a body cut short) and Stripe's 429 lock_timeout. What is not:
//     any answer with a Stripe error body (a 500, a rate_limit 429, a 4xx):
//     Stripe saves a 500 under the idempotency key and would replay it, and a
//     rate limit only gets worse when hammered; nor an answer that is not JSON
//     (a retried POST would get the same saved answer); nor a call past its
//     deadline.
//   - Backoff: stripe-go waits 0.5 s before its (only) retry.
//
// Every call has a deadline, Config.StripeTimeout (STRIPE_TIMEOUT_MS, default
// 15 s), for both attempts and the wait between them: a shopper waiting on a
// slow Stripe gets 504 stripe_timeout instead of a page that hangs. The
// deadline ends the worker's wait; a POST that reached Stripe may still
// complete there, which is why create requests accept an idempotencyKey: the
// shopper's retry with it returns what the first attempt made.
//
// fromStripe (respond.go) turns the failures into answers: 502
// stripe_unavailable (Stripe's 5xx), 502 stripe_unreachable (no answer), 502
// stripe_bad_response (not JSON), 503 stripe_rate_limited with Retry-After,
// 504 stripe_timeout. Never a 500.
//
// On the host, Go's own http.Transport also repeats a request that carries an
// Idempotency-Key (and any GET) once when a reused connection breaks before
// the answer; on Workers requests go through fetch (wasm/fetch_js.go), which
// does not, so there the attempts are exactly stripe-go's.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// stripeMaxNetworkRetries is how many times stripe-go may retry one call.
const stripeMaxNetworkRetries = 1

// newStripeBackend builds stripe-go's backend for Stripe's API, with the retry
// policy above, wrapped in the per-call deadline.
func newStripeBackend(cfg Config, httpClient *http.Client) stripe.Backend {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	client := *httpClient
	client.Transport = deadlineTransport{next: httpClient.Transport}
	bc := &stripe.BackendConfig{
		HTTPClient: &client,
		// stripe-go's default logger writes to stderr; errors are logged by
		// fromStripe instead, with the request id and without request bodies.
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		MaxNetworkRetries: stripe.Int64(stripeMaxNetworkRetries),
	}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(cfg.APIBase)
	}
	timeout := cfg.StripeTimeout
	if timeout <= 0 {
		timeout = DefaultStripeTimeout
	}
	return &stripeBackend{Backend: stripe.GetBackendWithConfig(stripe.APIBackend, bc), timeout: timeout}
}

// stripeBackend gives every call a deadline and parameters (so that a POST
// always carries an idempotency key), and names the failures stripe-go
// reports only as text. CallStreaming and CallMultipart, which the worker does
// not use, pass through.
type stripeBackend struct {
	stripe.Backend
	timeout time.Duration
}

func (b *stripeBackend) Call(method, path, key string, params stripe.ParamsContainer, v stripe.LastResponseSetter) error {
	var p *stripe.Params
	if params != nil {
		p = params.GetParams()
	}
	if p == nil {
		p = &stripe.Params{}
		params = p
	}
	restore := b.withDeadline(p)
	err := b.Backend.Call(method, path, key, params, v)
	return restore(err)
}

func (b *stripeBackend) CallRaw(method, path, key string, body []byte, params *stripe.Params, v stripe.LastResponseSetter) error {
	if params == nil {
		params = &stripe.Params{}
	}
	restore := b.withDeadline(params)
	err := b.Backend.CallRaw(method, path, key, body, params, v)
	return restore(err)
}

// withDeadline sets the call's deadline on p and returns the function that
// puts p back as it was and classifies the call's error.
func (b *stripeBackend) withDeadline(p *stripe.Params) func(error) error {
	orig := p.Context
	parent := orig
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, b.timeout)
	p.Context = ctx
	return func(err error) error {
		p.Context = orig
		timedOut := ctx.Err() == context.DeadlineExceeded && parent.Err() == nil
		cancel()
		return classifyStripeError(err, timedOut, b.timeout)
	}
}

// deadlineTransport refuses to start an attempt once the call's deadline has
// passed. stripe-go checks the deadline before its wait, not after, and
// neither Go's http.Client nor the fetch transport (wasm/fetch_js.go) checks
// it before sending: without this, a retry whose wait ran past the deadline
// would still be sent to Stripe, and its answer thrown away.
type deadlineTransport struct {
	next http.RoundTripper
}

func (t deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

// stripeTimeoutError: the call's deadline passed before Stripe answered.
type stripeTimeoutError struct {
	timeout time.Duration
	err     error
}

func (e *stripeTimeoutError) Error() string {
	return "no answer from Stripe within " + e.timeout.String() + ": " + e.err.Error()
}
func (e *stripeTimeoutError) Unwrap() error { return e.err }

// stripeBadResponseError: Stripe answered with something that is not the JSON
// it sends (stripe-go could not decode it).
type stripeBadResponseError struct {
	detail string // stripe-go's message without the body sample
}

func (e *stripeBadResponseError) Error() string { return "unreadable answer from Stripe: " + e.detail }

// stripeJSONError starts stripe-go v82's message for an answer it cannot
// decode (BackendImplementation.UnmarshalJSONVerbose); the message goes on
// with a sample of the body, which may hold a client secret and is never
// logged. TestStripeBadResponse pins it.
const stripeJSONError = "Couldn't deserialize JSON ("

func classifyStripeError(err error, timedOut bool, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		return err
	}
	if timedOut {
		return &stripeTimeoutError{timeout: timeout, err: err}
	}
	if msg := err.Error(); strings.HasPrefix(msg, stripeJSONError) {
		detail, _, _ := strings.Cut(msg[len(stripeJSONError):], ",")
		return &stripeBadResponseError{detail: detail}
	}
	return err
}
