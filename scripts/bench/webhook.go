package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// Webhook events for POST /webhook: signed payment_intent.succeeded events of
// the confirm-intent flow, which the worker records as new orders from the
// event's PaymentIntent alone (no Stripe call).

const (
	benchDeployment = "bench"            // DEPLOYMENT_ID given to every variant
	benchAPIVersion = "2025-08-27.basil" // the events' api_version
	benchEventType  = "payment_intent.succeeded"
	benchCart       = "mug:2:1200" // metadata kit_cart: 2 × mug at 1200
	benchAmount     = 2 * 1200     // the cart's total
	dupEventNumber  = 0            // the event the duplicate endpoint re-sends
)

// eventIDs are the ids of event number n: the event, its PaymentIntent and
// the kit's order reference (ord_ + 16 hex digits).
func eventIDs(n int64) (evt, pi, ref string) {
	return fmt.Sprintf("evt_bench_%d", n), fmt.Sprintf("pi_bench_%d", n), fmt.Sprintf("ord_%016x", uint64(n))
}

// paymentIntentEvent is event number n: a payment_intent.succeeded event whose
// PaymentIntent carries the kit's metadata for deployment, created at created
// (Unix seconds). It depends on nothing else, so event n is the same body
// every time it is built.
func paymentIntentEvent(n int64, deployment string, created int64) []byte {
	evt, pi, ref := eventIDs(n)
	type obj = map[string]any
	b, err := json.Marshal(obj{
		"id":          evt,
		"object":      "event",
		"api_version": benchAPIVersion,
		"created":     created,
		"type":        benchEventType,
		"livemode":    false,
		"data": obj{"object": obj{
			"id":              pi,
			"object":          "payment_intent",
			"amount":          benchAmount,
			"amount_received": benchAmount,
			"currency":        "usd",
			"status":          "succeeded",
			"capture_method":  "automatic",
			"created":         created,
			"livemode":        false,
			"metadata": obj{
				"kit_order":      ref,
				"kit_cart":       benchCart,
				"kit_flow":       "confirm_intent",
				"kit_deployment": deployment,
			},
		}},
	})
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}

// signatureHeader is the Stripe-Signature header Stripe would send for body
// at time t: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func signatureHeader(body []byte, secret string, t time.Time) string {
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(webhook.ComputeSignature(t, body, secret)))
}

// eventSource hands out the webhook requests of one variant run: a new event
// number per new-order request (numbers are never reused within a run, whose
// database is fresh), and the same event dupEventNumber for every duplicate.
// Each request is signed when it is sent, so no signature grows too old.
type eventSource struct {
	secret     string
	deployment string
	created    int64
	next       atomic.Int64 // the next new event's number
}

func newEventSource(secret, deployment string, created time.Time) *eventSource {
	return &eventSource{secret: secret, deployment: deployment, created: created.Unix()}
}

// signed returns event n's body and headers, signed now.
func (s *eventSource) signed(n int64) ([]byte, http.Header) {
	body := paymentIntentEvent(n, s.deployment, s.created)
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Stripe-Signature", signatureHeader(body, s.secret, time.Now()))
	return body, h
}

// newOrder is the next new-order request and the check of its answer: 200
// {"received":true,"order":"pi_bench_<n>",...}.
func (s *eventSource) newOrder() request {
	n := s.next.Add(1) - 1
	body, h := s.signed(n)
	_, pi, _ := eventIDs(n)
	return request{Body: body, Header: h, Check: func(m map[string]json.RawMessage) error {
		var order string
		if err := json.Unmarshal(m["order"], &order); err != nil || order != pi {
			return fmt.Errorf("order is %s, want %q", m["order"], pi)
		}
		return wantTrue(m, "received")
	}}
}

// duplicate re-sends event dupEventNumber (recorded by the first new-order
// request), signed anew; the answer must be 200 {"received":true,"duplicate":true}.
func (s *eventSource) duplicate() request {
	body, h := s.signed(dupEventNumber)
	return request{Body: body, Header: h, Check: func(m map[string]json.RawMessage) error {
		if err := wantTrue(m, "received"); err != nil {
			return err
		}
		return wantTrue(m, "duplicate")
	}}
}

func wantTrue(m map[string]json.RawMessage, key string) error {
	var b bool
	if err := json.Unmarshal(m[key], &b); err != nil || !b {
		return fmt.Errorf("%s is %s, want true", key, m[key])
	}
	return nil
}
