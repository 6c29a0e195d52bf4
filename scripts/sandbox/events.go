package main

// Webhook events and their delivery, as Stripe does it.
//
// Every state change of a Checkout Session, PaymentIntent, charge (refunds,
// disputes) or customer records an event
// (GET /_sandbox/events lists them). When the sandbox is started with a webhook
// endpoint (-webhook-url / SANDBOX_WEBHOOK_URL) and a signing secret
// (-webhook-secret / STRIPE_WEBHOOK_SECRET), each event is POSTed to it
// asynchronously, signed exactly like Stripe signs:
//
//	Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// so stripe-go's webhook.ConstructEvent accepts it. An answer other than 2xx (a
// redirect counts as a failure, as at Stripe) or a connection error is retried
// after 0.2 s, 1 s and 3 s; then the event is given up ("failed"). Each event's
// outcome is logged once, not each attempt.
//
// Event JSON: {"id":"evt_...","object":"event","api_version":"2025-08-27.basil",
// "created":<unix>,"data":{"object":{...the object as GET returns it, at the time
// of the change...}},"livemode":false,"pending_webhooks":1 (0 with no endpoint),
// "request":{"id":"req_..."|null,"idempotency_key":"..."|null},"type":"..."}.
// request.id is set when an API request caused the event, null for changes made
// through the stand-in or the development endpoints.
//
// Types emitted: checkout.session.completed, checkout.session.async_payment_succeeded,
// checkout.session.async_payment_failed, checkout.session.expired,
// payment_intent.created, payment_intent.processing, payment_intent.requires_action,
// payment_intent.amount_capturable_updated, payment_intent.succeeded,
// payment_intent.payment_failed, payment_intent.canceled, customer.created,
// charge.refunded (data.object: the charge after the refund, with amount_refunded,
// refunded, payment_intent), refund.created (the refund), charge.dispute.created
// and charge.dispute.closed (the dispute; status won or lost when closed).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	maxEvents          = 5000
	maxAttemptsKept    = 50
	deliveryTimeout    = 5 * time.Second
	maxDeliveryLogBody = 200
)

// defaultRetryDelays are the waits before the 2nd, 3rd and 4th delivery attempts.
var defaultRetryDelays = []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second}

// Delivery states of an event.
const (
	deliveryNoEndpoint = "no_endpoint" // the sandbox has no webhook URL
	deliveryPending    = "pending"     // being delivered or waiting for a retry
	deliveryDelivered  = "delivered"   // an attempt got a 2xx
	deliveryFailed     = "failed"      // every attempt failed
)

type event struct {
	ID       string
	Type     string
	Created  int64
	ObjectID string
	Body     []byte // exactly what is sent, fixed when the event happens
	State    string
	Attempts []deliveryAttempt
}

type deliveryAttempt struct {
	At         string `json:"at"`
	URL        string `json:"url"`
	StatusCode int    `json:"status_code"` // 0: no HTTP answer
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Resend     bool   `json:"resend,omitempty"`
}

// eventRequest is the API request whose handling is under way, for events' "request".
type eventRequest struct {
	ID, IdempotencyKey string
}

type eventJSON struct {
	ID              string    `json:"id"`
	Object          string    `json:"object"`
	APIVersion      string    `json:"api_version"`
	Created         int64     `json:"created"`
	Data            eventData `json:"data"`
	Livemode        bool      `json:"livemode"`
	PendingWebhooks int       `json:"pending_webhooks"`
	Request         struct {
		ID             *string `json:"id"`
		IdempotencyKey *string `json:"idempotency_key"`
	} `json:"request"`
	Type string `json:"type"`
}

type eventData struct {
	Object any `json:"object"`
}

// emitLocked records an event about obj (rendered now, as the snapshot Stripe
// sends) and starts delivering it.
func (sb *Sandbox) emitLocked(typ, objectID string, obj any) *event {
	ev := &event{ID: newID("evt_", 24), Type: typ, Created: sb.now().Unix(), ObjectID: objectID}
	j := eventJSON{ID: ev.ID, Object: "event", APIVersion: defaultAPIVersion, Created: ev.Created,
		Data: eventData{Object: obj}, Type: typ}
	if sb.WebhookURL != "" {
		j.PendingWebhooks = 1
	}
	if rq := sb.curRequest; rq != nil {
		id := rq.ID
		j.Request.ID = &id
		if rq.IdempotencyKey != "" {
			k := rq.IdempotencyKey
			j.Request.IdempotencyKey = &k
		}
	}
	body, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		body = []byte(`{"error":"encoding failed"}`)
	}
	ev.Body = body
	if len(sb.events) >= maxEvents {
		old := sb.events[0]
		delete(sb.eventByID, old.ID)
		sb.events = slices.Delete(sb.events, 0, 1)
	}
	sb.events = append(sb.events, ev)
	sb.eventByID[ev.ID] = ev
	if sb.WebhookURL == "" {
		ev.State = deliveryNoEndpoint
		return ev
	}
	ev.State = deliveryPending
	sb.deliveries.Add(1)
	go sb.deliver(sb.deliveryCtx, ev, sb.WebhookURL, sb.WebhookSecret)
	return ev
}

// signature returns the Stripe-Signature header for body signed at t.
func signature(secret string, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	ts := strconv.FormatInt(t.Unix(), 10)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func (sb *Sandbox) retryDelays() []time.Duration {
	if sb.RetryDelays != nil {
		return sb.RetryDelays
	}
	return defaultRetryDelays
}

func (sb *Sandbox) httpClient() *http.Client {
	if sb.WebhookClient != nil {
		return sb.WebhookClient
	}
	return &http.Client{
		Timeout: deliveryTimeout,
		// Stripe does not follow redirects: a 3xx is a failed delivery.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// deliver runs in its own goroutine: the first attempt, then the retries.
func (sb *Sandbox) deliver(ctx context.Context, ev *event, url, secret string) {
	defer sb.deliveries.Done()
	delays := sb.retryDelays()
	var last deliveryAttempt
	for i := 0; ; i++ {
		var ok bool
		last, ok = sb.attempt(ctx, ev, url, secret, false)
		if ok {
			sb.mu.Lock()
			ev.State = deliveryDelivered
			sb.mu.Unlock()
			sb.logf("webhook %s %s delivered (HTTP %d, attempt %d)", ev.ID, ev.Type, last.StatusCode, i+1)
			return
		}
		if ctx.Err() != nil {
			return // sandbox reset or shutting down
		}
		if i >= len(delays) {
			break
		}
		t := time.NewTimer(delays[i])
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	sb.mu.Lock()
	if ev.State == deliveryPending {
		ev.State = deliveryFailed
	}
	sb.mu.Unlock()
	sb.logf("webhook %s %s not delivered after %d attempts (last: %s)", ev.ID, ev.Type, len(delays)+1, last.outcome())
}

func (a deliveryAttempt) outcome() string {
	if a.StatusCode != 0 {
		return "HTTP " + strconv.Itoa(a.StatusCode)
	}
	return a.Error
}

// attempt POSTs the event once and records the attempt. ok means a 2xx answer.
func (sb *Sandbox) attempt(ctx context.Context, ev *event, url, secret string, resend bool) (deliveryAttempt, bool) {
	start := time.Now()
	a := deliveryAttempt{At: start.UTC().Format(time.RFC3339Nano), URL: url, Resend: resend}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(ev.Body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
		req.Header.Set("Cache-Control", "no-cache")
		// Signed at sending time, as Stripe does for each attempt.
		req.Header.Set("Stripe-Signature", signature(secret, time.Now(), ev.Body))
		var res *http.Response
		res, err = sb.httpClient().Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			a.StatusCode = res.StatusCode
		}
	}
	if err != nil {
		a.Error = err.Error()
		if len(a.Error) > maxDeliveryLogBody {
			a.Error = a.Error[:maxDeliveryLogBody]
		}
	}
	a.DurationMS = time.Since(start).Milliseconds()
	sb.mu.Lock()
	if len(ev.Attempts) >= maxAttemptsKept {
		ev.Attempts = slices.Delete(ev.Attempts, 0, 1)
	}
	ev.Attempts = append(ev.Attempts, a)
	sb.mu.Unlock()
	return a, err == nil && a.StatusCode >= 200 && a.StatusCode < 300
}

func (sb *Sandbox) logf(format string, args ...any) {
	if sb.Logger != nil {
		sb.Logger.Printf(format, args...)
	}
}

// Close stops delivering events (pending retries are abandoned) and waits for
// attempts in flight to end.
func (sb *Sandbox) Close() {
	sb.mu.Lock()
	sb.cancelDeliveries()
	sb.mu.Unlock()
	sb.deliveries.Wait()
}

// ---------------------------------------------------------------------------
// Development endpoints

type eventView struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Created    int64             `json:"created"`
	ObjectID   string            `json:"object_id"`
	State      string            `json:"state"`
	Attempts   []deliveryAttempt `json:"attempts"`
	LastStatus *int              `json:"last_status"`
	Event      json.RawMessage   `json:"event"`
}

func (ev *event) view() eventView {
	v := eventView{ID: ev.ID, Type: ev.Type, Created: ev.Created, ObjectID: ev.ObjectID, State: ev.State,
		Attempts: slices.Clone(ev.Attempts), Event: json.RawMessage(ev.Body)}
	if v.Attempts == nil {
		v.Attempts = []deliveryAttempt{}
	}
	if n := len(ev.Attempts); n > 0 {
		s := ev.Attempts[n-1].StatusCode
		v.LastStatus = &s
	}
	return v
}

// devEvents serves GET /_sandbox/events[?type=...&object_id=...]: oldest first.
func (sb *Sandbox) devEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, obj := q.Get("type"), q.Get("object_id")
	sb.mu.Lock()
	out := []eventView{}
	for _, ev := range sb.events {
		if typ != "" && ev.Type != typ && !(strings.HasSuffix(typ, ".*") && strings.HasPrefix(ev.Type, strings.TrimSuffix(typ, "*"))) {
			continue
		}
		if obj != "" && ev.ObjectID != obj {
			continue
		}
		out = append(out, ev.view())
	}
	url := sb.WebhookURL
	sb.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"webhook_url": url, "events": out})
}

// devResend serves POST /_sandbox/events/{id}/resend: one more delivery attempt of
// the same event (same id and body, fresh signature), made before answering.
func (sb *Sandbox) devResend(w http.ResponseWriter, r *http.Request, id string) {
	sb.mu.Lock()
	ev := sb.eventByID[id]
	url, secret, ctx := sb.WebhookURL, sb.WebhookSecret, sb.deliveryCtx
	sb.mu.Unlock()
	if ev == nil {
		writeJSON(w, http.StatusNotFound, devError(http.StatusNotFound, "resource_missing", "id", "No such event: '%s'", id).envelope())
		return
	}
	if url == "" {
		writeJSON(w, http.StatusConflict, devError(http.StatusConflict, "no_webhook_endpoint", "",
			"The sandbox has no webhook endpoint; start it with -webhook-url (or SANDBOX_WEBHOOK_URL) and a signing secret.").envelope())
		return
	}
	a, ok := sb.attempt(ctx, ev, url, secret, true)
	sb.mu.Lock()
	if ok {
		ev.State = deliveryDelivered
	}
	v := ev.view()
	sb.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": ev.ID, "delivered": ok, "attempt": a, "event": v})
}

// webhookConfig validates the endpoint settings given to main.
func webhookConfig(url, secret string) error {
	if url == "" {
		return nil
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return fmt.Errorf("webhook URL %q: want an http(s) URL", url)
	}
	if secret == "" {
		return fmt.Errorf("a webhook URL needs a signing secret: set -webhook-secret or STRIPE_WEBHOOK_SECRET (whsec_...)")
	}
	return nil
}
