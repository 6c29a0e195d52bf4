package stripeapi

// One call to Stripe's API: the request stripe-go's backend would send, sent
// through Config.Transport.
//
// Why not stripe-go's own backend (stripe.GetBackendWithConfig): it sends
// through an *http.Client, and http.Client.Do falls back to
// http.DefaultTransport, which links net/http's whole client side into the
// wasm worker (HTTP/1 and HTTP/2 connections, proxies, TLS and x509) although
// every request there goes through fetch. Measured with TinyGo (issue 15,
// `go run ./build worker`, then `gzip -9` of app.wasm): see the figures in
// wasm/README.md. The backend also ran `uname` (os/exec) for its
// X-Stripe-Client-User-Agent header and queued telemetry for the next call.
// What stays stripe-go's: the parameter types and their form encoding
// (form.AppendTo, the same function its backend calls), Stripe's error type,
// the API version and idempotency keys.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"checkoutkit/worker/internal/deadline"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/form"
)

// userAgent names the caller to Stripe (stripe-go sends "Stripe/v1
// GoBindings/<version>").
const userAgent = "Stripe/v1 checkoutkit (stripe-go/v82)"

// maxIdempotencyKey is Stripe's limit on an Idempotency-Key (stripe-go
// refuses longer ones before sending).
const maxIdempotencyKey = 255

// call sends one request: params (nil: none) form-encoded, with ctx and the
// Client's deadline, decoded into v. A POST always carries an idempotency
// key (the parameters' own, else a new one), so that retryTransport may
// retry it.
func (c *Client) call(ctx context.Context, method, path string, params stripe.ParamsContainer, v stripe.LastResponseSetter) error {
	var p *stripe.Params
	values := &form.Values{}
	if params != nil {
		p = params.GetParams()
		form.AppendTo(values, params)
	}
	u := c.base + path
	var body io.Reader
	if encoded := encodeForm(values); method == http.MethodPost {
		body = strings.NewReader(encoded)
	} else if encoded != "" {
		u += "?" + encoded
	}
	parent := ctx
	ctx, cancel := deadline.With(parent, c.timeout, c.keeper)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	h := req.Header
	h["Authorization"] = []string{"Bearer " + c.key}
	h["Stripe-Version"] = []string{stripe.APIVersion}
	h["User-Agent"] = []string{userAgent}
	if method == http.MethodPost {
		h["Content-Type"] = []string{"application/x-www-form-urlencoded"}
		key := ""
		if p != nil && p.IdempotencyKey != nil {
			key = strings.TrimSpace(*p.IdempotencyKey)
		}
		if key == "" {
			key = stripe.NewIdempotencyKey()
		}
		if len(key) > maxIdempotencyKey {
			return errors.New("stripeapi: idempotency key longer than 255 characters")
		}
		h["Idempotency-Key"] = []string{key}
	}
	res, err := c.transport.RoundTrip(req)
	var resBody []byte
	if err == nil {
		resBody, err = readAll(res.Body, res.ContentLength)
		res.Body.Close()
	}
	if err != nil {
		// The call's own deadline, not the caller's context, ended it.
		timedOut := deadline.Passed(ctx) && parent.Err() == nil
		return classify(err, timedOut, c.timeout)
	}
	last := &stripe.APIResponse{
		Header:         res.Header,
		IdempotencyKey: res.Header.Get("Idempotency-Key"),
		RawJSON:        resBody,
		RequestID:      res.Header.Get("Request-Id"),
		Status:         res.Status,
		StatusCode:     res.StatusCode,
	}
	if res.StatusCode >= 400 {
		return stripeError(last)
	}
	if err := decode(resBody, v); err != nil {
		return badResponse(res.StatusCode)
	}
	v.SetLastResponse(last)
	return nil
}

// send is call for a fresh T, the decode type of one Stripe object or list.
func send[T any, PT interface {
	*T
	stripe.LastResponseSetter
}](c *Client, ctx context.Context, method, path string, params stripe.ParamsContainer) (*T, error) {
	v := PT(new(T))
	if err := c.call(ctx, method, path, params, v); err != nil {
		return nil, err
	}
	return v, nil
}

// stripeError is Stripe's refusal in res: an *Error with the status,
// request id and Retry-After.
func stripeError(res *stripe.APIResponse) error {
	var raw struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(res.RawJSON, &raw); err != nil || raw.Error == nil {
		return badResponse(res.StatusCode)
	}
	e := raw.Error
	e.HTTPStatusCode, e.RequestID, e.RetryAfter = res.StatusCode, res.RequestID, res.Header.Get("Retry-After")
	return e
}

// badResponse is an answer that is not the JSON Stripe sends; the body is
// not quoted (it may hold a client secret).
func badResponse(status int) error {
	return &BadResponseError{Detail: "response status: " + strconv.Itoa(status)}
}

// presizeLimit bounds the buffer readAll makes from a declared length: a
// larger answer (none of Stripe's is) grows as io.ReadAll would.
const presizeLimit = 1 << 20

// readAll is io.ReadAll with its first buffer sized from n, the length the
// answer declared (-1: unknown), so that an answer of that length is read
// into one allocation; io.ReadAll starts at 512 bytes and grows, copying
// (about 2 % of a create-session request under TinyGo, with the same for
// the request body in the fetch transport).
func readAll(r io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > presizeLimit {
		return io.ReadAll(r)
	}
	// One byte more, so that the read that meets the end has room.
	b := make([]byte, 0, n+1)
	for {
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than declared: grow
		}
	}
}
