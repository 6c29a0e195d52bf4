package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

const testWebhookSecret = "whsec_unit"

type delivery struct {
	body []byte
	sig  string
	hdr  http.Header
}

// hookReceiver is a webhook endpoint that records deliveries and answers with
// status(n) for the n-th delivery (0-based).
type hookReceiver struct {
	mu     sync.Mutex
	got    []delivery
	status func(n int) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status func(n int) int) *hookReceiver {
	h := &hookReceiver{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		h.mu.Lock()
		n := len(h.got)
		h.got = append(h.got, delivery{buf.Bytes(), r.Header.Get("Stripe-Signature"), r.Header.Clone()})
		h.mu.Unlock()
		code := 200
		if h.status != nil {
			code = h.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) deliveries() []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivery(nil), h.got...)
}

// waitFor polls until cond holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newHookEnv is a sandbox delivering to a receiver with fast retries.
func newHookEnv(t *testing.T, status func(n int) int, configure ...func(*Sandbox)) (*env, *hookReceiver) {
	h := newReceiver(t, status)
	e := newEnv(t, append([]func(*Sandbox){func(sb *Sandbox) {
		sb.WebhookURL = h.srv.URL + "/webhook"
		sb.WebhookSecret = testWebhookSecret
		sb.RetryDelays = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	}}, configure...)...)
	t.Cleanup(e.sb.Close)
	return e, h
}

type eventsList struct {
	WebhookURL string `json:"webhook_url"`
	Events     []struct {
		ID         string            `json:"id"`
		Type       string            `json:"type"`
		ObjectID   string            `json:"object_id"`
		State      string            `json:"state"`
		LastStatus *int              `json:"last_status"`
		Attempts   []deliveryAttempt `json:"attempts"`
		Event      stripe.Event      `json:"event"`
	} `json:"events"`
}

func (e *env) events(query string) eventsList {
	e.t.Helper()
	res, body := e.do(http.MethodGet, "/_sandbox/events"+query, "", nil, map[string]string{})
	if res.StatusCode != 200 {
		e.t.Fatalf("events: %d %s", res.StatusCode, body)
	}
	var l eventsList
	if err := json.Unmarshal(body, &l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (l eventsList) types() []string {
	var out []string
	for _, ev := range l.Events {
		out = append(out, ev.Type)
	}
	return out
}

func TestWebhookDeliverySignedLikeStripe(t *testing.T) {
	e, h := newHookEnv(t, nil)
	s := e.create(tshirtParams())
	if res, out := e.pay(s.ClientSecret, "4242424242424242"); res.StatusCode != 200 {
		t.Fatalf("pay: %d %v", res.StatusCode, out)
	}
	want := []string{"payment_intent.created", "payment_intent.succeeded", "checkout.session.completed"}
	waitFor(t, "3 deliveries", func() bool { return len(h.deliveries()) == 3 })

	got := map[string]stripe.Event{}
	for _, d := range h.deliveries() {
		ev, err := webhook.ConstructEvent(d.body, d.sig, testWebhookSecret)
		if err != nil {
			t.Fatalf("ConstructEvent: %v (header %q)", err, d.sig)
		}
		if _, err := webhook.ConstructEvent(d.body, d.sig, "whsec_other"); err == nil {
			t.Errorf("a wrong secret verified")
		}
		if ct := d.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		got[string(ev.Type)] = ev
	}
	for _, typ := range want {
		if _, ok := got[typ]; !ok {
			t.Errorf("no %s delivered (got %v)", typ, got)
		}
	}

	completed := got["checkout.session.completed"]
	if !strings.HasPrefix(completed.ID, "evt_") || completed.Object != "event" || completed.APIVersion != stripe.APIVersion ||
		completed.Livemode || completed.PendingWebhooks != 1 || completed.Request == nil || completed.Request.ID != "" {
		t.Errorf("event envelope %+v", completed)
	}
	var sess stripe.CheckoutSession
	if err := json.Unmarshal(completed.Data.Raw, &sess); err != nil {
		t.Fatal(err)
	}
	if sess.ID != s.ID || sess.Status != "complete" || sess.PaymentStatus != "paid" || sess.PaymentIntent == nil ||
		sess.Metadata["cart"] != "tshirt:2,mug:1" || sess.CustomerDetails == nil || sess.CustomerDetails.Email != "jenny@example.com" {
		t.Errorf("completed session %+v", sess)
	}
	// data.object is the object as GET returns it.
	_, body := e.do(http.MethodGet, "/v1/checkout/sessions/"+s.ID, "", nil, nil)
	var fromGet, fromEvent map[string]any
	json.Unmarshal(body, &fromGet)
	json.Unmarshal(completed.Data.Raw, &fromEvent)
	if !reflect.DeepEqual(fromGet, fromEvent) {
		t.Errorf("event object differs from GET:\n%v\n%v", fromEvent, fromGet)
	}
	var pi stripe.PaymentIntent
	json.Unmarshal(got["payment_intent.succeeded"].Data.Raw, &pi)
	if pi.ID != sess.PaymentIntent.ID || pi.Status != "succeeded" || pi.Amount != 5250 || pi.AmountReceived != 5250 {
		t.Errorf("succeeded payment intent %+v", pi)
	}
	var created stripe.PaymentIntent
	json.Unmarshal(got["payment_intent.created"].Data.Raw, &created)
	if created.ID != pi.ID || created.Status != "requires_payment_method" {
		t.Errorf("payment_intent.created carries the state at creation: %+v", created)
	}

	// The event list shows each delivery.
	l := e.events("")
	if l.WebhookURL != h.srv.URL+"/webhook" || strings.Join(l.types(), ",") != strings.Join(want, ",") {
		t.Fatalf("events %v at %s", l.types(), l.WebhookURL)
	}
	waitFor(t, "delivered state", func() bool {
		for _, ev := range e.events("").Events {
			if ev.State != "delivered" {
				return false
			}
		}
		return true
	})
	for _, ev := range e.events("").Events {
		if len(ev.Attempts) != 1 || ev.Attempts[0].StatusCode != 200 || *ev.LastStatus != 200 || ev.Event.ID != ev.ID {
			t.Errorf("event %s: %+v", ev.ID, ev)
		}
	}
	if l := e.events("?type=payment_intent.*"); len(l.Events) != 2 {
		t.Errorf("type filter with wildcard: %v", l.types())
	}
	if l := e.events("?object_id=" + s.ID); len(l.Events) != 1 || l.Events[0].Type != "checkout.session.completed" {
		t.Errorf("object filter: %v", l.types())
	}
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	e, h := newHookEnv(t, func(n int) int {
		if n < 2 {
			return 500
		}
		return 200
	}, func(sb *Sandbox) {
		sb.Logger = log.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), "", 0)
	})
	s := e.create(tshirtParams())
	if _, err := e.sc.V1CheckoutSessions.Expire(context.Background(), s.ID, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 attempts", func() bool { return len(h.deliveries()) == 3 })
	ds := h.deliveries()
	if !bytes.Equal(ds[0].body, ds[2].body) {
		t.Errorf("a retry sends the same body")
	}
	waitFor(t, "delivered", func() bool { return e.events("").Events[0].State == "delivered" })
	ev := e.events("").Events[0]
	if ev.Type != "checkout.session.expired" || len(ev.Attempts) != 3 || ev.Attempts[0].StatusCode != 500 ||
		ev.Attempts[1].StatusCode != 500 || ev.Attempts[2].StatusCode != 200 || *ev.LastStatus != 200 {
		t.Errorf("event %+v", ev)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "webhook "+ev.ID+" checkout.session.expired delivered (HTTP 200, attempt 3)") {
		t.Errorf("log:\n%s", out)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(h.deliveries()); n != 3 {
		t.Errorf("%d deliveries after success, want 3", n)
	}
}

func TestWebhookGivesUpAfterRetriesAndLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	e, h := newHookEnv(t, func(int) int { return 404 }, func(sb *Sandbox) {
		sb.Logger = log.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), "", 0)
	})
	s := e.create(tshirtParams())
	e.postJSON("/_sandbox/sessions/"+s.ID+"/expire", nil)
	waitFor(t, "failed state", func() bool { return e.events("").Events[0].State == "failed" })
	ev := e.events("").Events[0]
	if len(ev.Attempts) != 4 || len(h.deliveries()) != 4 || *ev.LastStatus != 404 {
		t.Errorf("want 4 attempts, got %+v (%d deliveries)", ev, len(h.deliveries()))
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Count(out, "webhook ") != 1 || !strings.Contains(out, "not delivered after 4 attempts (last: HTTP 404)") {
		t.Errorf("one log line per given-up event, got:\n%s", out)
	}

	// A connection error counts as a failure too.
	e2 := newEnv(t, func(sb *Sandbox) {
		sb.WebhookURL, sb.WebhookSecret = "http://127.0.0.1:1/webhook", testWebhookSecret
		sb.RetryDelays = []time.Duration{time.Millisecond}
	})
	t.Cleanup(e2.sb.Close)
	s2 := e2.create(tshirtParams())
	e2.postJSON("/_sandbox/sessions/"+s2.ID+"/expire", nil)
	waitFor(t, "failed state", func() bool { return e2.events("").Events[0].State == "failed" })
	ev = e2.events("").Events[0]
	if len(ev.Attempts) != 2 || ev.Attempts[1].StatusCode != 0 || ev.Attempts[1].Error == "" || *ev.LastStatus != 0 {
		t.Errorf("connection refused: %+v", ev)
	}
}

func TestWebhookRedirectIsAFailure(t *testing.T) {
	e, h := newHookEnv(t, func(int) int { return 302 })
	s := e.create(tshirtParams())
	e.postJSON("/_sandbox/sessions/"+s.ID+"/expire", nil)
	waitFor(t, "failed state", func() bool { return e.events("").Events[0].State == "failed" })
	if n := len(h.deliveries()); n != 4 {
		t.Errorf("%d deliveries", n)
	}
}

func TestWebhookResend(t *testing.T) {
	e, h := newHookEnv(t, nil)
	s := e.create(tshirtParams())
	e.postJSON("/_sandbox/sessions/"+s.ID+"/expire", nil)
	waitFor(t, "first delivery", func() bool { return len(h.deliveries()) == 1 })
	id := e.events("").Events[0].ID

	res, out := e.postJSON("/_sandbox/events/"+id+"/resend", nil)
	if res.StatusCode != 200 || out["delivered"] != true || out["id"] != id {
		t.Fatalf("resend: %d %v", res.StatusCode, out)
	}
	ds := h.deliveries()
	if len(ds) != 2 || !bytes.Equal(ds[0].body, ds[1].body) {
		t.Fatalf("resend delivers the same event: %d deliveries", len(ds))
	}
	ev, err := webhook.ConstructEvent(ds[1].body, ds[1].sig, testWebhookSecret)
	if err != nil || ev.ID != id {
		t.Errorf("resent event: %v %s", err, ev.ID)
	}
	got := e.events("").Events[0]
	if len(got.Attempts) != 2 || !got.Attempts[1].Resend || got.Attempts[0].Resend {
		t.Errorf("attempts %+v", got.Attempts)
	}

	if res, out := e.postJSON("/_sandbox/events/evt_nope/resend", nil); res.StatusCode != 404 || errorOf(t, out)["code"] != "resource_missing" {
		t.Errorf("unknown event: %d %v", res.StatusCode, out)
	}
	if res, _ := e.getJSON("/_sandbox/events/" + id + "/resend"); res.StatusCode != 405 {
		t.Errorf("GET resend: %d", res.StatusCode)
	}

	// Without an endpoint, events are recorded and not sent.
	plain := newEnv(t)
	s2 := plain.create(tshirtParams())
	plain.postJSON("/_sandbox/sessions/"+s2.ID+"/expire", nil)
	l := plain.events("")
	if len(l.Events) != 1 || l.Events[0].State != "no_endpoint" || l.Events[0].Event.PendingWebhooks != 0 || l.WebhookURL != "" {
		t.Fatalf("no endpoint: %+v", l)
	}
	if res, out := plain.postJSON("/_sandbox/events/"+l.Events[0].ID+"/resend", nil); res.StatusCode != 409 {
		t.Errorf("resend without endpoint: %d %v", res.StatusCode, out)
	}
}

func TestExpiryEvents(t *testing.T) {
	clock := &fakeClock{}
	clock.unix.Store(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).Unix())
	e := newEnv(t, func(sb *Sandbox) { sb.now = clock.now })

	// Through the API: request.id and idempotency_key name the request.
	a := e.create(tshirtParams())
	p := &stripe.CheckoutSessionExpireParams{}
	p.SetIdempotencyKey("expire-a")
	got, err := e.sc.V1CheckoutSessions.Expire(context.Background(), a.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	// A declined attempt leaves a PaymentIntent, canceled when the session expires.
	b := e.create(tshirtParams())
	e.pay(b.ClientSecret, "4000000000000002")
	e.postJSON("/_sandbox/sessions/"+b.ID+"/expire", nil)
	// Sessions past expires_at expire by themselves.
	c := e.create(tshirtParams())
	clock.add(25 * time.Hour)
	e.sb.ExpireDue()
	e.sb.ExpireDue() // only once

	l := e.events("?type=checkout.session.expired")
	if len(l.Events) != 3 {
		t.Fatalf("expired events: %v", l.types())
	}
	byObj := map[string]stripe.Event{}
	for _, ev := range l.Events {
		byObj[ev.ObjectID] = ev.Event
	}
	if r := byObj[a.ID].Request; r == nil || r.ID != got.LastResponse.RequestID || r.IdempotencyKey != "expire-a" {
		t.Errorf("API expire request %+v, want %s", r, got.LastResponse.RequestID)
	}
	if r := byObj[b.ID].Request; r == nil || r.ID != "" || r.IdempotencyKey != "" {
		t.Errorf("dev expire request %+v", r)
	}
	var sc stripe.CheckoutSession
	json.Unmarshal(byObj[c.ID].Data.Raw, &sc)
	if sc.Status != "expired" || byObj[c.ID].Created != clock.now().Unix() {
		t.Errorf("auto-expired session %+v created %d", sc, byObj[c.ID].Created)
	}
	canceled := e.events("?type=payment_intent.canceled")
	if len(canceled.Events) != 1 {
		t.Fatalf("canceled events %v", canceled.types())
	}
	var pi stripe.PaymentIntent
	json.Unmarshal(canceled.Events[0].Event.Data.Raw, &pi)
	if pi.Status != "canceled" || pi.CancellationReason != "automatic" || pi.CanceledAt == 0 {
		t.Errorf("canceled intent %+v", pi)
	}
	// Expired by time: also visible without the sweeper, on the next read.
	d := e.create(tshirtParams())
	clock.add(25 * time.Hour)
	if s := e.retrieve(d.ID); s.Status != "expired" {
		t.Errorf("status %s", s.Status)
	}
	if l := e.events("?object_id=" + d.ID); len(l.Events) != 1 {
		t.Errorf("lazy expiry events %v", l.types())
	}
}

func TestDelayedPaymentSettles(t *testing.T) {
	e, h := newHookEnv(t, nil)
	delayed := func(secret string) (*http.Response, map[string]any) {
		return e.postJSON("/_sandbox/checkout/pay", map[string]string{"client_secret": secret, "email": "jenny@example.com", "method": "delayed"})
	}
	s := e.create(tshirtParams())
	res, out := delayed(s.ClientSecret)
	if res.StatusCode != 200 || out["status"] != "complete" || out["payment_status"] != "unpaid" {
		t.Fatalf("delayed pay: %d %v", res.StatusCode, out)
	}
	got := e.retrieve(s.ID, "payment_intent")
	if got.Status != "complete" || got.PaymentStatus != "unpaid" || got.PaymentIntent.Status != "processing" ||
		got.PaymentIntent.PaymentMethod == nil || strings.Join(got.PaymentIntent.PaymentMethodTypes, ",") != "card,sepa_debit" {
		t.Fatalf("after delayed pay: %s %s %+v", got.Status, got.PaymentStatus, got.PaymentIntent)
	}
	if ts := e.events("").types(); strings.Join(ts, ",") != "payment_intent.created,payment_intent.processing,checkout.session.completed" {
		t.Errorf("events %v", ts)
	}
	var completed stripe.CheckoutSession
	json.Unmarshal(e.events("?type=checkout.session.completed").Events[0].Event.Data.Raw, &completed)
	if completed.PaymentStatus != "unpaid" {
		t.Errorf("completed event payment_status %s", completed.PaymentStatus)
	}

	res, out = e.postJSON("/_sandbox/sessions/"+s.ID+"/async", map[string]string{"outcome": "succeeded"})
	if res.StatusCode != 200 || out["payment_status"] != "paid" || out["payment_intent"].(map[string]any)["status"] != "succeeded" {
		t.Fatalf("settle: %d %v", res.StatusCode, out)
	}
	l := e.events("")
	if ts := l.types(); len(ts) != 5 || ts[3] != "payment_intent.succeeded" || ts[4] != "checkout.session.async_payment_succeeded" {
		t.Errorf("events after settling %v", ts)
	}
	json.Unmarshal(l.Events[4].Event.Data.Raw, &completed)
	if completed.PaymentStatus != "paid" {
		t.Errorf("async_payment_succeeded session %s", completed.PaymentStatus)
	}
	waitFor(t, "5 deliveries", func() bool { return len(h.deliveries()) == 5 })

	// Settling twice, or a session not awaiting a payment, is refused.
	if res, _ := e.postJSON("/_sandbox/sessions/"+s.ID+"/async", map[string]string{"outcome": "failed"}); res.StatusCode != 400 {
		t.Errorf("settle twice: %d", res.StatusCode)
	}
	open := e.create(tshirtParams())
	if res, _ := e.postJSON("/_sandbox/sessions/"+open.ID+"/async", map[string]string{"outcome": "succeeded"}); res.StatusCode != 400 {
		t.Errorf("settle an open session: %d", res.StatusCode)
	}
	if res, _ := e.postJSON("/_sandbox/sessions/cs_test_nope/async", map[string]string{"outcome": "succeeded"}); res.StatusCode != 404 {
		t.Errorf("unknown session: %d", res.StatusCode)
	}
	if res, _ := e.postJSON("/_sandbox/sessions/"+open.ID+"/async", map[string]string{"outcome": "maybe"}); res.StatusCode != 400 {
		t.Errorf("bad outcome: %d", res.StatusCode)
	}
	if res, _ := e.postJSON("/_sandbox/checkout/pay", map[string]string{"client_secret": open.ClientSecret, "email": "jenny@example.com", "method": "cash"}); res.StatusCode != 400 {
		t.Errorf("bad method: %d", res.StatusCode)
	}

	// A failed settlement.
	f := e.create(tshirtParams())
	delayed(f.ClientSecret)
	res, out = e.postJSON("/_sandbox/sessions/"+f.ID+"/async", map[string]string{"outcome": "failed"})
	pi := out["payment_intent"].(map[string]any)
	if res.StatusCode != 200 || out["status"] != "complete" || out["payment_status"] != "unpaid" || pi["status"] != "requires_payment_method" ||
		pi["last_payment_error"] == nil {
		t.Fatalf("failed settlement: %d %v", res.StatusCode, out)
	}
	ts := e.events("?object_id=" + f.ID).types()
	if strings.Join(ts, ",") != "checkout.session.completed,checkout.session.async_payment_failed" {
		t.Errorf("session events %v", ts)
	}
	if l := e.events("?type=payment_intent.payment_failed"); len(l.Events) != 1 {
		t.Errorf("payment_failed events %v", l.types())
	}
}

func TestResetStopsRetries(t *testing.T) {
	e, h := newHookEnv(t, func(int) int { return 500 }, func(sb *Sandbox) {
		sb.RetryDelays = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
	})
	s := e.create(tshirtParams())
	e.postJSON("/_sandbox/sessions/"+s.ID+"/expire", nil)
	waitFor(t, "first attempt", func() bool { return len(h.deliveries()) == 1 })
	e.postJSON("/_sandbox/reset", nil)
	time.Sleep(400 * time.Millisecond)
	if n := len(h.deliveries()); n != 1 {
		t.Errorf("%d deliveries after reset, want 1", n)
	}
	if l := e.events(""); len(l.Events) != 0 {
		t.Errorf("events after reset: %v", l.types())
	}
}

func TestWebhookConfig(t *testing.T) {
	for _, c := range []struct {
		url, secret string
		ok          bool
	}{
		{"", "", true},
		{"http://127.0.0.1:8787/webhook", "whsec_x", true},
		{"http://127.0.0.1:8787/webhook", "", false},
		{"ftp://x/webhook", "whsec_x", false},
	} {
		if err := webhookConfig(c.url, c.secret); (err == nil) != c.ok {
			t.Errorf("webhookConfig(%q, %q) = %v", c.url, c.secret, err)
		}
	}
	// The signature is Stripe's v1 scheme, as stripe-go computes it.
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":"evt_1"}`)
	want := "t=1700000000,v1=" + hexString(webhook.ComputeSignature(at, body, "whsec_x"))
	if got := signature("whsec_x", at, body); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
