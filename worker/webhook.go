package worker

// POST /webhook: Stripe's events, verified and turned into orders.
//
// The body is read raw (up to maxWebhookBytes) and its Stripe-Signature header
// checked with stripe-go's webhook package against STRIPE_WEBHOOK_SECRET: a
// v1 HMAC-SHA256 signature (any of several, as during a secret roll) over
// "<t>.<body>", with t at most 300 s old. Anything that fails answers 400 and
// touches nothing.
//
// API versions (a deliberate choice): stripe-go's webhook.ConstructEvent
// refuses events whose API version is not on the basil train of stripe-go
// v82, because it decodes the whole object into stripe-go's basil types. The
// worker verifies with webhook.ValidatePayloadWithTolerance (the same check,
// without the decoding) and accepts events of any API version, because it
// relies on no version-specific field of the event: Checkout Sessions are
// re-read from the API, which answers in the worker's own version (basil),
// and of PaymentIntents only id, status, capture_method, amounts, currency,
// receipt_email, last_payment_error and metadata are read, the same in every
// version since 2019. An endpoint of another version therefore works; one
// created with version 2025-08-27.basil sends objects exactly as the worker
// knows them (README: Webhooks and orders).
//
// Answers: 200 {"received":true,...} once the outcome is recorded in the
// store (or the event type is one the worker ignores); 5xx when recording or
// fulfilling failed, so that Stripe retries (it does for up to three days);
// 503 fulfillment_in_progress when another delivery is fulfilling the same
// order at that moment (its outcome decides; the retry finds it done).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// maxWebhookBytes bounds a webhook body. Stripe's events carry one object
// (a Checkout Session with many custom fields stays far below this). It is
// also the loader's ceiling for every request body (MAX_REQUEST_BYTES in
// wasm/instance.mjs, which answers 413 above it before Go runs): change both.
const maxWebhookBytes = 256 << 10

// webhookTolerance is how old a signature's timestamp may be (Stripe's default).
const webhookTolerance = 300 * time.Second

// handledEvents are the event types the worker acts on; Stripe may send
// others (the endpoint's choice), which are acknowledged and ignored.
var handledEvents = map[string]bool{
	"checkout.session.completed":               true,
	"checkout.session.async_payment_succeeded": true,
	"checkout.session.async_payment_failed":    true,
	"checkout.session.expired":                 true,
	"payment_intent.succeeded":                 true,
	"payment_intent.payment_failed":            true,
	"payment_intent.amount_capturable_updated": true,
	"payment_intent.canceled":                  true,
	"charge.refunded":                          true,
	"charge.dispute.created":                   true,
	"charge.dispute.updated":                   true,
	"charge.dispute.closed":                    true,
}

// stripeEvent is what the worker reads of an event.
type stripeEvent struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

type webhookAnswer struct {
	Received  bool         `json:"received"`
	Ignored   bool         `json:"ignored,omitempty"`
	Duplicate bool         `json:"duplicate,omitempty"`
	Order     string       `json:"order,omitempty"`
	State     orders.State `json:"state,omitempty"`
}

func webhookRefusal(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// verifyWebhook reads and verifies the request; a refusal is a 400 for the
// sender (or a 500 when the worker has no secret to check with).
func (s *Server) verifyWebhook(w http.ResponseWriter, r *http.Request) (*stripeEvent, *apiError) {
	if s.cfg.WebhookSecret == "" {
		log.Printf("webhook: STRIPE_WEBHOOK_SECRET is not set; refusing the event so that Stripe retries it")
		return nil, &apiError{Status: http.StatusInternalServerError, Code: "webhook_not_configured",
			Message: "the worker has no STRIPE_WEBHOOK_SECRET to verify events with"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, webhookRefusal("body_too_large", "the event is larger than %d bytes", maxWebhookBytes)
		}
		return nil, webhookRefusal("unreadable_body", "could not read the request body")
	}
	header := r.Header.Get("Stripe-Signature")
	if header == "" {
		return nil, webhookRefusal("missing_signature", "the Stripe-Signature header is missing")
	}
	switch err := webhook.ValidatePayloadWithTolerance(body, header, s.cfg.WebhookSecret, webhookTolerance); {
	case err == nil:
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNotSigned):
		return nil, webhookRefusal("invalid_signature_header", "the Stripe-Signature header is malformed")
	case errors.Is(err, webhook.ErrTooOld):
		return nil, webhookRefusal("signature_expired", "the signature's timestamp is more than %d seconds old", int(webhookTolerance/time.Second))
	default: // ErrNoValidSignature: no v1 signature, or none matches
		return nil, webhookRefusal("invalid_signature", "no valid v1 signature for this body and the endpoint's secret")
	}
	var ev stripeEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" || len(ev.Data.Object) == 0 {
		return nil, webhookRefusal("invalid_event", "the body is not a Stripe event")
	}
	if ev.Object != "" && ev.Object != "event" {
		return nil, webhookRefusal("invalid_event", "the body is a %q, not a Stripe event", ev.Object)
	}
	return &ev, nil
}

func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	ev, aerr := s.verifyWebhook(w, r)
	if aerr != nil {
		if aerr.Status < 500 {
			log.Printf("webhook refused: %s", aerr.Message)
		}
		writeError(w, aerr)
		return
	}
	if !handledEvents[ev.Type] {
		writeJSON(w, http.StatusOK, webhookAnswer{Received: true, Ignored: true})
		return
	}
	if s.store == nil {
		log.Printf("webhook %s (%s): no order store (D1 binding DB); refusing so that Stripe retries", ev.ID, ev.Type)
		writeError(w, errNoStore)
		return
	}
	if ev.APIVersion != "" && !strings.HasSuffix(ev.APIVersion, "."+apiTrain()) {
		log.Printf("webhook %s: API version %s (the worker speaks %s); reading only version-independent fields", ev.ID, ev.APIVersion, stripe.APIVersion)
	}
	ctx := r.Context()
	if seen, err := s.store.EventProcessed(ctx, ev.ID); err != nil {
		writeError(w, err)
		return
	} else if seen {
		writeJSON(w, http.StatusOK, webhookAnswer{Received: true, Duplicate: true})
		return
	}
	o, err := s.applyEvent(ctx, ev)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			// Bad data inside a validly signed event, or Stripe refusing a
			// read: either way Stripe should retry, and the operator look.
			ae = &apiError{Status: http.StatusBadGateway, Code: ae.Code, Message: ae.Message, RequestID: ae.RequestID}
			err = ae
		}
		if errors.As(err, &ae) && ae == errFulfillmentBusy {
			w.Header().Set("Retry-After", "5")
		}
		log.Printf("webhook %s (%s) not processed, Stripe will retry: %v", ev.ID, ev.Type, err)
		writeError(w, err)
		return
	}
	// An event about no order of this deployment (another integration's
	// session, a charge of a payment the kit never recorded) is
	// acknowledged, so that Stripe stops sending it, and ignored.
	ans := webhookAnswer{Received: true, Ignored: o == nil}
	if o != nil {
		ans.Order, ans.State = o.ID, o.State
	}
	if err := s.store.RecordEvent(ctx, ev.ID, ev.Type, ans.Order, time.Now()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// apiTrain is the release train of stripe-go's API version ("basil").
func apiTrain() string {
	_, train, _ := strings.Cut(stripe.APIVersion, ".")
	return train
}

// applyEvent records what a handled event says. It returns the order
// concerned, nil if the event concerns no order of this deployment.
func (s *Server) applyEvent(ctx context.Context, ev *stripeEvent) (*orders.Order, error) {
	switch {
	case strings.HasPrefix(ev.Type, "checkout.session."):
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(ev.Data.Object, &obj); err != nil || !validSessionID(obj.ID) {
			return nil, badRequest("invalid_event", "", "event %s carries no Checkout Session id", ev.ID)
		}
		return s.fulfillSession(ctx, obj.ID, ev.Type)
	case ev.Type == "charge.refunded":
		var ch chargeRecord
		if err := json.Unmarshal(ev.Data.Object, &ch); err != nil || !hasIDPrefix(ch.ID, "ch_") || ch.AmountRefunded < 0 {
			return nil, badRequest("invalid_event", "", "event %s carries no charge", ev.ID)
		}
		return s.applyToPaid(ctx, ch.PaymentIntent, func(o *orders.Order) { o.AmountRefunded = ch.AmountRefunded })
	case strings.HasPrefix(ev.Type, "charge.dispute."):
		var d disputeRecord
		if err := json.Unmarshal(ev.Data.Object, &d); err != nil || !hasIDPrefix(d.ID, "du_") {
			return nil, badRequest("invalid_event", "", "event %s carries no dispute", ev.ID)
		}
		return s.applyToPaid(ctx, d.PaymentIntent, func(o *orders.Order) { o.Dispute = disputeState(d.Status) })
	}
	var pi stripeapi.IntentRecord
	if err := json.Unmarshal(ev.Data.Object, &pi); err != nil || !hasIDPrefix(pi.ID, "pi_") {
		return nil, badRequest("invalid_event", "", "event %s carries no PaymentIntent", ev.ID)
	}
	return s.fulfillIntent(ctx, &pi, ev.Type)
}
