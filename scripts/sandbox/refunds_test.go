package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

var (
	chargeIDRE  = regexp.MustCompile(`^ch_[A-Za-z0-9]{24}$`)
	refundIDRE  = regexp.MustCompile(`^re_[A-Za-z0-9]{24}$`)
	disputeIDRE = regexp.MustCompile(`^du_[A-Za-z0-9]{24}$`)
)

// paidPI is a PaymentIntent paid through the PaymentIntents API, with metadata.
func (e *env) paidPI(amount int64) *stripe.PaymentIntent {
	e.t.Helper()
	p := usd(amount)
	p.AddMetadata("kit_order", "ord_r1")
	p.Confirm = stripe.Bool(true)
	p.PaymentMethod = stripe.String("pm_card_visa")
	pi := e.createPI(p)
	if pi.Status != "succeeded" || pi.LatestCharge == nil || !chargeIDRE.MatchString(pi.LatestCharge.ID) {
		e.t.Fatalf("paid intent: %+v", pi)
	}
	return pi
}

func (e *env) refund(p *stripe.RefundCreateParams) (*stripe.Refund, error) {
	return e.sc.V1Refunds.Create(context.Background(), p)
}

func (e *env) charge(id string) *stripe.Charge {
	e.t.Helper()
	ch, err := e.sc.V1Charges.Retrieve(context.Background(), id, nil)
	if err != nil {
		e.t.Fatalf("retrieve charge %s: %v", id, err)
	}
	return ch
}

func TestChargesOfSucceededIntents(t *testing.T) {
	e := newEnv(t)
	pi := e.paidPI(2000)
	ch := e.charge(pi.LatestCharge.ID)
	if ch.ID != pi.LatestCharge.ID || ch.Object != "charge" || ch.Amount != 2000 || ch.AmountCaptured != 2000 ||
		ch.AmountRefunded != 0 || ch.Refunded || !ch.Captured || ch.Currency != "usd" || ch.PaymentIntent == nil ||
		ch.PaymentIntent.ID != pi.ID || ch.Status != "succeeded" || ch.Disputed || ch.Livemode ||
		ch.Metadata["kit_order"] != "ord_r1" || ch.Created == 0 {
		t.Errorf("charge %+v", ch)
	}
	// The metadata is the PaymentIntent's when the charge was made.
	up := &stripe.PaymentIntentUpdateParams{}
	up.AddMetadata("kit_order", "changed")
	if _, err := e.sc.V1PaymentIntents.Update(context.Background(), pi.ID, up); err != nil {
		t.Fatal(err)
	}
	if ch := e.charge(pi.LatestCharge.ID); ch.Metadata["kit_order"] != "ord_r1" {
		t.Errorf("charge metadata followed the PaymentIntent: %v", ch.Metadata)
	}
	_, body := e.do(http.MethodGet, "/v1/charges/"+pi.LatestCharge.ID+"?expand[]=payment_intent", "", nil, nil)
	if m := decodeMap(t, body); m["payment_intent"].(map[string]any)["id"] != pi.ID {
		t.Errorf("expanded payment_intent: %v", m["payment_intent"])
	}
	if _, err := e.sc.V1Charges.Retrieve(context.Background(), "ch_nope", nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("unknown charge")
	}

	// A paid Checkout Session's PaymentIntent.
	s := e.create(tshirtParams())
	if res, out := e.pay(s.ClientSecret, "4242424242424242"); res.StatusCode != 200 {
		t.Fatalf("pay: %d %v", res.StatusCode, out)
	}
	spi := e.retrieve(s.ID, "payment_intent").PaymentIntent
	if spi == nil || spi.LatestCharge == nil {
		t.Fatalf("session intent %+v", spi)
	}
	if ch := e.charge(spi.LatestCharge.ID); ch.PaymentIntent.ID != spi.ID || ch.Amount != 5250 || !ch.Captured ||
		ch.Status != "succeeded" || ch.Metadata == nil {
		t.Errorf("session charge %+v", ch)
	}

	// A manual-capture intent: the charge is captured with the PaymentIntent.
	mp := usd(3000)
	mp.CaptureMethod = stripe.String("manual")
	mp.Confirm = stripe.Bool(true)
	mp.PaymentMethod = stripe.String("pm_card_visa")
	held := e.createPI(mp)
	if ch := e.charge(held.LatestCharge.ID); ch.Captured || ch.AmountCaptured != 0 {
		t.Errorf("held charge %+v", ch)
	}
	if _, err := e.sc.V1PaymentIntents.Capture(context.Background(), held.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(2500)}); err != nil {
		t.Fatal(err)
	}
	if ch := e.charge(held.LatestCharge.ID); !ch.Captured || ch.AmountCaptured != 2500 || ch.Amount != 3000 {
		t.Errorf("captured charge %+v", ch)
	}
	// What is refundable is what was captured.
	_, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(held.ID), Amount: stripe.Int64(2600)})
	if se := stripeErr(t, err); se.Param != "amount" || se.Msg != "Refund amount ($26.00) is greater than unrefunded amount on charge ($25.00)" {
		t.Errorf("over-refund of a partial capture: %+v", se)
	}
	if r, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(held.ID)}); err != nil || r.Amount != 2500 {
		t.Errorf("refund of a partial capture: %v %+v", err, r)
	}
}

func TestFullRefund(t *testing.T) {
	e := newEnv(t)
	pi := e.paidPI(2000)
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Reason: stripe.String("requested_by_customer")}
	p.AddMetadata("kit_refund", "rf_1")
	r, err := e.refund(p)
	if err != nil {
		t.Fatal(err)
	}
	if !refundIDRE.MatchString(r.ID) || r.Object != "refund" || r.Amount != 2000 || r.Charge == nil || r.Charge.ID != pi.LatestCharge.ID ||
		r.PaymentIntent == nil || r.PaymentIntent.ID != pi.ID || r.Currency != "usd" || r.Status != "succeeded" ||
		r.Reason != "requested_by_customer" || r.Metadata["kit_refund"] != "rf_1" || r.Created == 0 {
		t.Errorf("refund %+v", r)
	}
	if ch := e.charge(pi.LatestCharge.ID); ch.AmountRefunded != 2000 || !ch.Refunded || ch.AmountCaptured != 2000 {
		t.Errorf("refunded charge %+v", ch)
	}
	got, err := e.sc.V1Refunds.Retrieve(context.Background(), r.ID, nil)
	if err != nil || got.ID != r.ID || got.Amount != 2000 || got.Charge.ID != pi.LatestCharge.ID || got.Reason != "requested_by_customer" {
		t.Errorf("retrieve refund: %v %+v", err, got)
	}
	if _, err := e.sc.V1Refunds.Retrieve(context.Background(), "re_nope", nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("unknown refund")
	}
	// Nothing is left.
	_, err = e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID)})
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Code != "charge_already_refunded" || se.Type != "invalid_request_error" {
		t.Errorf("second refund: %+v", se)
	}
	_, err = e.refund(&stripe.RefundCreateParams{Charge: stripe.String(pi.LatestCharge.ID), Amount: stripe.Int64(1)})
	if se := stripeErr(t, err); se.Code != "charge_already_refunded" {
		t.Errorf("refund of a refunded charge by id: %+v", se)
	}
	if ts := e.events("?object_id=" + pi.LatestCharge.ID).types(); strings.Join(ts, ",") != "charge.refunded" {
		t.Errorf("charge events %v", ts)
	}
	if ts := e.events("?object_id=" + r.ID).types(); strings.Join(ts, ",") != "refund.created" {
		t.Errorf("refund events %v", ts)
	}
	// The PaymentIntent itself is unchanged.
	if again, _ := e.sc.V1PaymentIntents.Retrieve(context.Background(), pi.ID, nil); again.Status != "succeeded" || again.AmountReceived != 2000 {
		t.Errorf("intent after refund %+v", again)
	}
}

func TestPartialRefundsThenOverRefund(t *testing.T) {
	e := newEnv(t)
	pi := e.paidPI(2000)
	chID := pi.LatestCharge.ID
	r1, err := e.refund(&stripe.RefundCreateParams{Charge: stripe.String(chID), Amount: stripe.Int64(500)})
	if err != nil || r1.Amount != 500 || r1.PaymentIntent.ID != pi.ID || r1.Reason != "" {
		t.Fatalf("first partial refund: %v %+v", err, r1)
	}
	r2, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(700), Reason: stripe.String("duplicate")})
	if err != nil || r2.Amount != 700 || r2.ID == r1.ID {
		t.Fatalf("second partial refund: %v %+v", err, r2)
	}
	if ch := e.charge(chID); ch.AmountRefunded != 1200 || ch.Refunded {
		t.Errorf("after two partial refunds: %+v", ch)
	}
	_, err = e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(900)})
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 400 || se.Type != "invalid_request_error" || se.Param != "amount" ||
		se.Msg != "Refund amount ($9.00) is greater than unrefunded amount on charge ($8.00)" {
		t.Errorf("over-refund: %+v", se)
	}
	if ch := e.charge(chID); ch.AmountRefunded != 1200 {
		t.Errorf("the refused refund changed amount_refunded: %d", ch.AmountRefunded)
	}
	// Without amount: what is left.
	r3, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID)})
	if err != nil || r3.Amount != 800 {
		t.Fatalf("refund of the rest: %v %+v", err, r3)
	}
	if ch := e.charge(chID); ch.AmountRefunded != 2000 || !ch.Refunded {
		t.Errorf("fully refunded by parts: %+v", ch)
	}
	if n := len(e.events("?type=charge.refunded&object_id=" + chID).Events); n != 3 {
		t.Errorf("%d charge.refunded events, want 3", n)
	}
	// expand[]=refunds lists them, newest first.
	_, body := e.do(http.MethodGet, "/v1/charges/"+chID+"?expand[]=refunds", "", nil, nil)
	var ch stripe.Charge
	if err := json.Unmarshal(body, &ch); err != nil || ch.Refunds == nil || len(ch.Refunds.Data) != 3 || ch.Refunds.Data[0].ID != r3.ID || ch.Refunds.Data[2].ID != r1.ID {
		t.Errorf("expanded refunds: %v %s", err, body)
	}
}

func TestRefundRefusals(t *testing.T) {
	e := newEnv(t)
	paid := e.paidPI(2000)
	cases := []struct {
		name        string
		form        url.Values
		param, code string
		msg         string
	}{
		{"unknown param", url.Values{"payment_intent": {paid.ID}, "amount_to_refund": {"100"}}, "amount_to_refund", "parameter_unknown", ""},
		{"unknown nested param", url.Values{"payment_intent": {paid.ID}, "expand[0]": {"balance_transaction"}}, "expand", "", ""},
		{"neither", url.Values{"amount": {"100"}}, "payment_intent", "parameter_missing", ""},
		{"unknown intent", url.Values{"payment_intent": {"pi_nope"}}, "payment_intent", "resource_missing", ""},
		{"unknown charge", url.Values{"charge": {"ch_nope"}}, "charge", "resource_missing", ""},
		{"zero amount", url.Values{"payment_intent": {paid.ID}, "amount": {"0"}}, "amount", "parameter_invalid_integer", ""},
		{"amount not a number", url.Values{"payment_intent": {paid.ID}, "amount": {"ten"}}, "amount", "parameter_invalid_integer", ""},
		{"bad reason", url.Values{"payment_intent": {paid.ID}, "reason": {"changed_mind"}}, "reason", "", ""},
		{"other currency", url.Values{"payment_intent": {paid.ID}, "currency": {"eur"}}, "currency", "", ""},
		{"connect", url.Values{"payment_intent": {paid.ID}, "reverse_transfer": {"true"}}, "reverse_transfer", "", ""},
	}
	other := e.paidPI(1000)
	cases = append(cases, struct {
		name        string
		form        url.Values
		param, code string
		msg         string
	}{"charge of another intent", url.Values{"payment_intent": {paid.ID}, "charge": {other.LatestCharge.ID}}, "charge", "", "does not belong"})

	// An intent that never succeeded, and one only authorized.
	open := e.createPI(usd(1500))
	cases = append(cases, struct {
		name        string
		form        url.Values
		param, code string
		msg         string
	}{"intent not paid", url.Values{"payment_intent": {open.ID}}, "payment_intent", "", "does not have a successful charge"})
	hp := usd(1500)
	hp.CaptureMethod, hp.Confirm, hp.PaymentMethod = stripe.String("manual"), stripe.Bool(true), stripe.String("pm_card_visa")
	held := e.createPI(hp)
	cases = append(cases, struct {
		name        string
		form        url.Values
		param, code string
		msg         string
	}{"intent not captured", url.Values{"payment_intent": {held.ID}}, "payment_intent", "", "requires_capture"})
	// A declined attempt's charge.
	declined := e.createPI(usd(1500))
	_, err := e.confirmPI(declined.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_chargeDeclined")})
	failedCharge := stripeErr(t, err).ChargeID
	cases = append(cases, struct {
		name        string
		form        url.Values
		param, code string
		msg         string
	}{"failed charge", url.Values{"charge": {failedCharge}}, "charge", "", "has not succeeded"},
		struct {
			name        string
			form        url.Values
			param, code string
			msg         string
		}{"declined intent", url.Values{"payment_intent": {declined.ID}}, "payment_intent", "", "does not have a successful charge"})

	for _, c := range cases {
		res, body := e.postForm("/v1/refunds", c.form, nil)
		m := decodeMap(t, body)
		er := errorOf(t, m)
		if res.StatusCode != 400 || er["type"] != "invalid_request_error" || er["param"] != c.param ||
			(c.code != "" && er["code"] != c.code) || !strings.Contains(er["message"].(string), c.msg) {
			t.Errorf("%s: %d %v", c.name, res.StatusCode, er)
		}
	}
	if ch := e.charge(paid.LatestCharge.ID); ch.AmountRefunded != 0 {
		t.Errorf("a refused refund refunded: %+v", ch)
	}
	if n := len(e.events("?type=charge.refunded").Events) + len(e.events("?type=refund.created").Events); n != 0 {
		t.Errorf("refused refunds emitted %d events", n)
	}
	// Through stripe-go: the pending intent, and an unknown parameter.
	_, err = e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(open.ID)})
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Param != "payment_intent" {
		t.Errorf("refund of an unpaid intent: %+v", se)
	}
	up := &stripe.RefundCreateParams{PaymentIntent: stripe.String(paid.ID)}
	up.AddExtra("speed", "instant")
	_, err = e.refund(up)
	if se := stripeErr(t, err); se.Code != "parameter_unknown" || se.Param != "speed" {
		t.Errorf("unknown parameter through stripe-go: %+v", se)
	}
}

func TestRefundIdempotentReplay(t *testing.T) {
	e := newEnv(t)
	pi := e.paidPI(2000)
	hdr := map[string]string{"Authorization": "Bearer " + testKey, "Idempotency-Key": "refund-ord_r1-1"}
	form := url.Values{"payment_intent": {pi.ID}, "amount": {"600"}, "metadata[kit_refund]": {"rf_1"}}
	r1, b1 := e.postForm("/v1/refunds", form, hdr)
	r2, b2 := e.postForm("/v1/refunds", form, hdr)
	if r1.StatusCode != 200 || r2.StatusCode != 200 || string(b1) != string(b2) || r2.Header.Get("Idempotent-Replayed") != "true" ||
		r1.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("replay: %d %d %q\n%s\n%s", r1.StatusCode, r2.StatusCode, r2.Header.Get("Idempotent-Replayed"), b1, b2)
	}
	if ch := e.charge(pi.LatestCharge.ID); ch.AmountRefunded != 600 || len(ch.Metadata) == 0 {
		t.Errorf("refunded twice: %+v", ch)
	}
	if n := len(e.events("?type=charge.refunded").Events); n != 1 {
		t.Errorf("%d charge.refunded events after a replay, want 1", n)
	}
	form.Set("amount", "700")
	if r, b := e.postForm("/v1/refunds", form, hdr); r.StatusCode != 400 || !strings.Contains(string(b), "idempotency_error") {
		t.Errorf("same key, other amount: %d %s", r.StatusCode, b)
	}

	// Through stripe-go, as the worker calls it; the event names the key.
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(400)}
	p.SetIdempotencyKey("refund-ord_r1-2")
	a, err := e.refund(p)
	if err != nil {
		t.Fatal(err)
	}
	p2 := &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(400)}
	p2.SetIdempotencyKey("refund-ord_r1-2")
	b, err := e.refund(p2)
	if err != nil || a.ID != b.ID {
		t.Errorf("stripe-go replay gave %s and %v %v", a.ID, b, err)
	}
	if ch := e.charge(pi.LatestCharge.ID); ch.AmountRefunded != 1000 {
		t.Errorf("amount_refunded %d, want 1000", ch.AmountRefunded)
	}
	evs := e.events("?object_id=" + a.ID).Events
	if len(evs) != 1 || evs[0].Event.Request == nil || evs[0].Event.Request.IdempotencyKey != "refund-ord_r1-2" {
		t.Errorf("refund.created request: %+v", evs)
	}
}

func TestChargeRefundedWebhook(t *testing.T) {
	e, h := newHookEnv(t, nil)
	pi := e.paidPI(2000)
	if _, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(1500)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID)}); err != nil {
		t.Fatal(err)
	}
	// payment_intent.created, payment_intent.succeeded, then two of charge.refunded + refund.created.
	waitFor(t, "6 deliveries", func() bool { return len(h.deliveries()) == 6 })
	var refunded []stripe.Charge
	var refunds []stripe.Refund
	for _, d := range h.deliveries() {
		ev, err := webhook.ConstructEvent(d.body, d.sig, testWebhookSecret)
		if err != nil {
			t.Fatalf("ConstructEvent: %v", err)
		}
		switch ev.Type {
		case "charge.refunded":
			var ch stripe.Charge
			if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
				t.Fatal(err)
			}
			refunded = append(refunded, ch)
		case "refund.created":
			var r stripe.Refund
			if err := json.Unmarshal(ev.Data.Raw, &r); err != nil {
				t.Fatal(err)
			}
			refunds = append(refunds, r)
		}
	}
	if len(refunded) != 2 || len(refunds) != 2 {
		t.Fatalf("%d charge.refunded, %d refund.created", len(refunded), len(refunds))
	}
	// Deliveries may arrive in any order: sort by amount_refunded.
	if refunded[0].AmountRefunded > refunded[1].AmountRefunded {
		refunded[0], refunded[1] = refunded[1], refunded[0]
	}
	first, last := refunded[0], refunded[1]
	if first.ID != pi.LatestCharge.ID || first.AmountRefunded != 1500 || first.Refunded || first.PaymentIntent == nil ||
		first.PaymentIntent.ID != pi.ID || first.Amount != 2000 || first.Object != "charge" || first.Currency != "usd" ||
		first.Metadata["kit_order"] != "ord_r1" {
		t.Errorf("first charge.refunded: %+v", first)
	}
	if last.AmountRefunded != 2000 || !last.Refunded || last.PaymentIntent == nil || last.PaymentIntent.ID != pi.ID {
		t.Errorf("last charge.refunded: %+v", last)
	}
	for _, r := range refunds {
		if r.Object != "refund" || r.Charge == nil || r.Charge.ID != pi.LatestCharge.ID || r.PaymentIntent.ID != pi.ID ||
			(r.Amount != 1500 && r.Amount != 500) {
			t.Errorf("refund.created %+v", r)
		}
	}
}

// dispute opens a dispute through the development endpoint.
func (e *env) dispute(piID string, body any) (*http.Response, map[string]any) {
	e.t.Helper()
	return e.postJSON("/_sandbox/payment_intents/"+piID+"/dispute", body)
}

func (e *env) disputeEvent(typ, id string) stripe.Dispute {
	e.t.Helper()
	evs := e.events("?type=" + typ + "&object_id=" + id).Events
	if len(evs) != 1 {
		e.t.Fatalf("%d %s events for %s", len(evs), typ, id)
	}
	var d stripe.Dispute
	if err := json.Unmarshal(evs[0].Event.Data.Raw, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func TestDisputes(t *testing.T) {
	e := newEnv(t)
	pi := e.paidPI(2000)
	chID := pi.LatestCharge.ID
	if _, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(300)}); err != nil {
		t.Fatal(err)
	}
	// An empty body: reason fraudulent.
	res, body := e.do(http.MethodPost, "/_sandbox/payment_intents/"+pi.ID+"/dispute", "", nil, map[string]string{})
	d := decodeMap(t, body)
	if res.StatusCode != 200 || !disputeIDRE.MatchString(d["id"].(string)) || d["object"] != "dispute" || d["amount"] != 1700.0 ||
		d["charge"] != chID || d["payment_intent"] != pi.ID || d["currency"] != "usd" || d["reason"] != "fraudulent" ||
		d["status"] != "needs_response" || d["livemode"] != false || d["created"] == 0.0 {
		t.Fatalf("open dispute: %d %v", res.StatusCode, d)
	}
	id := d["id"].(string)
	if ch := e.charge(chID); !ch.Disputed {
		t.Errorf("charge not disputed: %+v", ch)
	}
	if ev := e.disputeEvent("charge.dispute.created", id); ev.ID != id || ev.Status != "needs_response" || ev.Amount != 1700 ||
		ev.Charge == nil || ev.Charge.ID != chID || ev.PaymentIntent == nil || ev.PaymentIntent.ID != pi.ID || ev.Reason != "fraudulent" {
		t.Errorf("charge.dispute.created %+v", ev)
	}
	got, err := e.sc.V1Disputes.Retrieve(context.Background(), id, nil)
	if err != nil || got.ID != id || got.Status != "needs_response" || got.Charge.ID != chID {
		t.Errorf("retrieve dispute: %v %+v", err, got)
	}
	if _, err := e.sc.V1Disputes.Retrieve(context.Background(), "du_nope", nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("unknown dispute")
	}

	// A second dispute while this one is open is refused, and so is a refund.
	if res, out := e.dispute(pi.ID, map[string]string{"reason": "duplicate"}); res.StatusCode != 400 || errorOf(t, out)["code"] != "charge_already_disputed" {
		t.Errorf("second dispute: %d %v", res.StatusCode, out)
	}
	_, err = e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID)})
	if se := stripeErr(t, err); se.Code != "charge_disputed" {
		t.Errorf("refund of a disputed charge: %+v", se)
	}

	// Closing: won.
	res, out := e.postJSON("/_sandbox/disputes/"+id+"/close", map[string]string{"outcome": "won"})
	if res.StatusCode != 200 || out["status"] != "won" || out["id"] != id {
		t.Errorf("close won: %d %v", res.StatusCode, out)
	}
	if ev := e.disputeEvent("charge.dispute.closed", id); ev.Status != "won" || ev.ID != id || ev.Charge.ID != chID {
		t.Errorf("charge.dispute.closed %+v", ev)
	}
	if res, out := e.postJSON("/_sandbox/disputes/"+id+"/close", map[string]string{"outcome": "lost"}); res.StatusCode != 400 ||
		errorOf(t, out)["code"] != "dispute_already_closed" {
		t.Errorf("close twice: %d %v", res.StatusCode, out)
	}
	if ch := e.charge(chID); !ch.Disputed {
		t.Errorf("a won dispute cleared disputed")
	}

	// Another charge: a dispute lost.
	pi2 := e.paidPI(1000)
	res, out = e.dispute(pi2.ID, map[string]string{"reason": "product_not_received"})
	if res.StatusCode != 200 || out["reason"] != "product_not_received" || out["amount"] != 1000.0 {
		t.Fatalf("open second: %d %v", res.StatusCode, out)
	}
	id2 := out["id"].(string)
	if res, out := e.postJSON("/_sandbox/disputes/"+id2+"/close", map[string]string{"outcome": "lost"}); res.StatusCode != 200 || out["status"] != "lost" {
		t.Errorf("close lost: %d %v", res.StatusCode, out)
	}
	if ev := e.disputeEvent("charge.dispute.closed", id2); ev.Status != "lost" || ev.PaymentIntent.ID != pi2.ID {
		t.Errorf("lost charge.dispute.closed %+v", ev)
	}
	_, err = e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(pi2.ID)})
	if se := stripeErr(t, err); se.Code != "charge_disputed" {
		t.Errorf("refund after a lost dispute: %+v", se)
	}
	if res, _ := e.dispute(pi2.ID, nil); res.StatusCode != 400 {
		t.Errorf("dispute after a lost one: %d", res.StatusCode)
	}

	// Refusals.
	unpaid := e.createPI(usd(1000))
	refundedPI := e.paidPI(1000)
	if _, err := e.refund(&stripe.RefundCreateParams{PaymentIntent: stripe.String(refundedPI.ID)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		body   any
		status int
		code   string
	}{
		{"/_sandbox/payment_intents/" + unpaid.ID + "/dispute", nil, 400, "charge_not_disputable"},
		{"/_sandbox/payment_intents/" + refundedPI.ID + "/dispute", nil, 400, "charge_already_refunded"},
		{"/_sandbox/payment_intents/pi_nope/dispute", nil, 404, "resource_missing"},
		{"/_sandbox/payment_intents/" + e.paidPI(1000).ID + "/dispute", map[string]string{"reason": "bored"}, 400, "parameter_invalid"},
		{"/_sandbox/disputes/du_nope/close", map[string]string{"outcome": "won"}, 404, "resource_missing"},
		{"/_sandbox/disputes/" + id2 + "/close", map[string]string{"outcome": "draw"}, 400, "parameter_invalid"},
	} {
		res, out := e.postJSON(c.path, c.body)
		if res.StatusCode != c.status || errorOf(t, out)["code"] != c.code {
			t.Errorf("%s %v: %d %v", c.path, c.body, res.StatusCode, out)
		}
	}
	if res, _ := e.do(http.MethodGet, "/_sandbox/payment_intents/"+pi.ID+"/dispute", "", nil, map[string]string{}); res.StatusCode != 405 {
		t.Errorf("GET dispute: %d", res.StatusCode)
	}
	if n := len(e.events("?type=charge.dispute.created").Events); n != 2 {
		t.Errorf("%d charge.dispute.created events, want 2", n)
	}
}

func TestFraudulentCardDeclines(t *testing.T) {
	e := newEnv(t)
	// Checkout: the stand-in's pay endpoint.
	s := e.create(tshirtParams())
	res, out := e.pay(s.ClientSecret, "4100 0000 0000 0019")
	if er := errorOf(t, out); res.StatusCode != 402 || er["type"] != "card_error" || er["code"] != "card_declined" ||
		er["decline_code"] != "fraudulent" || er["message"] != "Your card was declined." {
		t.Errorf("checkout decline: %d %v", res.StatusCode, er)
	}
	spi := e.retrieve(s.ID, "payment_intent").PaymentIntent
	if spi == nil || spi.Status != "requires_payment_method" || spi.LastPaymentError == nil ||
		spi.LastPaymentError.Code != "card_declined" || spi.LastPaymentError.DeclineCode != "fraudulent" {
		t.Errorf("checkout intent after a fraud decline: %+v", spi)
	}
	if n := len(e.events("?type=payment_intent.payment_failed&object_id=" + spi.ID).Events); n != 1 {
		t.Errorf("%d payment_failed events for the checkout intent", n)
	}

	// The PaymentIntents API with a ConfirmationToken from the stand-in.
	p := usd(2000)
	p.Confirm = stripe.Bool(true)
	p.ConfirmationToken = stripe.String(e.tokenID("4100000000000019"))
	_, err := e.sc.V1PaymentIntents.Create(context.Background(), p)
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 402 || se.Type != "card_error" || se.Code != "card_declined" || se.DeclineCode != "fraudulent" ||
		se.Msg != "Your card was declined." || se.PaymentIntent == nil || se.ChargeID == "" {
		t.Fatalf("token decline: %+v", se)
	}
	pi, err := e.sc.V1PaymentIntents.Retrieve(context.Background(), se.PaymentIntent.ID, nil)
	if err != nil || pi.Status != "requires_payment_method" || pi.LastPaymentError == nil || pi.LastPaymentError.Code != "card_declined" ||
		pi.LastPaymentError.DeclineCode != "fraudulent" {
		t.Errorf("intent after a fraud decline: %v %+v", err, pi)
	}
	if ts := e.events("?object_id=" + pi.ID).types(); strings.Join(ts, ",") != "payment_intent.created,payment_intent.payment_failed" {
		t.Errorf("events %v", ts)
	}
	if ch := e.charge(se.ChargeID); ch.Status != "failed" || ch.FailureCode != "card_declined" {
		t.Errorf("failed charge %+v", ch)
	}
	// Stripe's test PaymentMethod for the same card.
	pi2 := e.createPI(usd(2000))
	_, err = e.confirmPI(pi2.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_radarBlock")})
	if se := stripeErr(t, err); se.DeclineCode != "fraudulent" {
		t.Errorf("pm_card_radarBlock: %+v", se)
	}
}
