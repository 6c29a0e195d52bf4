package main

// Charges and refunds, as Stripe's:
//
//	GET  /v1/charges/{id}     a PaymentIntent's charge (its latest_charge); expand[]=payment_intent|refunds
//	POST /v1/refunds          payment_intent (pi_...) or charge (ch_...), amount (default: all that is
//	                          left), reason (duplicate|fraudulent|requested_by_customer), metadata,
//	                          currency (must be the charge's), instructions_email; expand[]=charge|payment_intent
//	GET  /v1/refunds/{id}     expand[]=charge|payment_intent
//
// Every confirmation attempt makes a charge (succeeded, pending for a delayed
// method, failed for a decline); its metadata is a copy of the PaymentIntent's
// at that moment. Only a succeeded, captured charge can be refunded, by one
// refund or by several partial ones until amount_captured is used up; the
// charge's amount_refunded is the sum of its refunds and refunded is true once
// amount_refunded reaches amount_captured. Refunds succeed at once. Each emits
// charge.refunded (data.object: the charge after the refund) and then
// refund.created (the refund).
//
// Errors (400 invalid_request_error): neither payment_intent nor charge
// (parameter_missing); a PaymentIntent without a succeeded charge, or a charge
// that has not succeeded or is not captured; amount above what is left (param
// amount, "Refund amount ($X) is greater than unrefunded amount on charge ($Y)");
// a fully refunded charge (charge_already_refunded); a charge with an open or
// lost dispute (charge_disputed, see disputes.go).

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// refundFields are the parameters of POST /v1/refunds, one row each, read in
// this order (readFields); a new Stripe option is a new row.
var refundFields = []field{
	{name: "refund_application_fee", kind: refused, refuse: noConnect},
	{name: "reverse_transfer", kind: refused, refuse: noConnect},
	{name: "customer", kind: refused, refuse: noBalanceRefunds},
	{name: "origin", kind: refused, refuse: noBalanceRefunds},
	{name: "amount", kind: integer, min: 1, max: maxAmountTotal}, // default: all that is left; at most that
	{name: "reason", kind: enumText, enum: []string{"duplicate", "fraudulent", "requested_by_customer"}},
	{name: "metadata", kind: metadataHash},
	{name: "instructions_email", kind: emailText, max: 512, unused: true},
	{name: "currency", kind: text},       // must be the charge's (createRefundLocked)
	{name: "payment_intent", kind: text}, // pi_...; this or charge (refundChargeLocked)
	{name: "charge", kind: text},         // ch_...
	{name: "expand", kind: byHandler},    // charge, payment_intent
}

// noBalanceRefunds is the refusal of a customer-balance refund's parameters.
const noBalanceRefunds = "is for refunds of a customer balance, which the Stripe sandbox does not simulate; refund a payment_intent or charge."

// refund is a Refund of (part of) a charge.
type refund struct {
	ID       string
	Created  int64
	Amount   int64
	Currency string
	Charge   *charge
	Reason   *string
	Metadata map[string]string
	Status   string // always succeeded in the sandbox
}

func (ch *charge) refunded() bool {
	return ch.AmountCaptured > 0 && ch.AmountRefunded >= ch.AmountCaptured
}

// refundable is what is left to refund.
func (ch *charge) refundable() int64 {
	return ch.AmountCaptured - ch.AmountRefunded
}

// zeroDecimal lists the currencies without minor units.
var zeroDecimal = []string{"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}

// formatAmount renders minor units for a message: $12.34, 1500 JPY, 12.34 EUR.
func formatAmount(amount int64, currency string) string {
	switch {
	case slices.Contains(zeroDecimal, currency):
		return fmt.Sprintf("%d %s", amount, strings.ToUpper(currency))
	case currency == "usd":
		return fmt.Sprintf("$%d.%02d", amount/100, amount%100)
	}
	return fmt.Sprintf("%d.%02d %s", amount/100, amount%100, strings.ToUpper(currency))
}

func (sb *Sandbox) retrieveChargeLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	expand, err := expansions(c.root, "payment_intent", "refunds")
	if err != nil {
		return nil, err
	}
	ch := sb.charges[c.id]
	if ch == nil {
		e := invalid("id", "resource_missing", "No such charge: '%s'", c.id)
		e.status = http.StatusNotFound
		return nil, e
	}
	return ch.object(expand), nil
}

// refundChargeLocked finds the charge a refund is for, from payment_intent
// and/or charge (refundFields' values).
func (sb *Sandbox) refundChargeLocked(v values) (*charge, *apiError) {
	piID, chID := v.str("payment_intent"), v.str("charge")
	var pi *paymentIntent
	var ch *charge
	switch {
	case piID == nil && chID == nil:
		return nil, invalid("payment_intent", "parameter_missing",
			"Missing required param: payment_intent or charge. One of them must be given to say what to refund.")
	case piID != nil:
		if pi = sb.intents[*piID]; pi == nil {
			return nil, invalid("payment_intent", "resource_missing", "No such payment_intent: '%s'", *piID)
		}
	}
	if chID != nil {
		if ch = sb.charges[*chID]; ch == nil {
			return nil, invalid("charge", "resource_missing", "No such charge: '%s'", *chID)
		}
		if pi != nil && ch.Intent != pi {
			return nil, invalid("charge", "", "Charge %s does not belong to PaymentIntent %s.", ch.ID, pi.ID)
		}
	}
	if ch == nil { // by PaymentIntent: its latest charge
		ch = pi.Charge
		switch {
		case pi.Status == "requires_capture":
			return nil, invalid("payment_intent", "",
				"This PaymentIntent (%s) is requires_capture: nothing has been captured, so there is nothing to refund. Cancel it (POST /v1/payment_intents/%s/cancel) to release the authorization.", pi.ID, pi.ID)
		case ch == nil || ch.Status != "succeeded" || !ch.Captured:
			return nil, invalid("payment_intent", "",
				"This PaymentIntent (%s) does not have a successful charge to refund (its status is %s).", pi.ID, pi.Status)
		}
		return ch, nil
	}
	switch {
	case ch.Status != "succeeded":
		return nil, invalid("charge", "", "Charge %s has not succeeded (its status is %s); only a successful charge can be refunded.", ch.ID, ch.Status)
	case !ch.Captured:
		return nil, invalid("charge", "", "Charge %s is not captured: there is nothing to refund. Cancel its PaymentIntent to release the authorization.", ch.ID)
	}
	return ch, nil
}

func (sb *Sandbox) createRefundLocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", refundFields)
	if err != nil {
		return nil, err
	}
	expand, err := expansions(c.root, "charge", "payment_intent")
	if err != nil {
		return nil, err
	}
	var amount *int64
	if a := v["amount"]; a.set {
		amount = &a.n
	}
	reason := v["reason"].s
	md := v["metadata"].md
	if md == nil {
		md = map[string]string{}
	}
	cur := v.str("currency")
	ch, err := sb.refundChargeLocked(v)
	if err != nil {
		return nil, err
	}
	if cur != nil && strings.ToLower(*cur) != ch.Currency {
		return nil, invalid("currency", "", "The currency (%s) must be the charge's currency (%s).", *cur, ch.Currency)
	}
	left := ch.refundable()
	switch {
	case left <= 0:
		return nil, invalid("", "charge_already_refunded", "Charge %s has already been refunded.", ch.ID)
	case ch.Dispute != nil && (ch.Dispute.open() || ch.Dispute.Status == "lost"):
		return nil, invalid("", "charge_disputed",
			"Charge %s has been charged back (dispute %s is %s); it cannot be refunded.", ch.ID, ch.Dispute.ID, ch.Dispute.Status)
	case amount == nil:
		amount = &left
	case *amount > left:
		return nil, invalid("amount", "", "Refund amount (%s) is greater than unrefunded amount on charge (%s)",
			formatAmount(*amount, ch.Currency), formatAmount(left, ch.Currency))
	}
	r := &refund{ID: newID("re_", 24), Created: sb.now().Unix(), Amount: *amount, Currency: ch.Currency,
		Charge: ch, Metadata: md, Status: "succeeded"}
	if reason != "" {
		r.Reason = &reason
	}
	sb.refunds[r.ID] = r
	ch.Refunds = append(ch.Refunds, r)
	ch.AmountRefunded += r.Amount
	sb.emitLocked("charge.refunded", ch.ID, ch.object(nil))
	sb.emitLocked("refund.created", r.ID, r.object(nil))
	return r.object(expand), nil
}

func (sb *Sandbox) retrieveRefundLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	expand, err := expansions(c.root, "charge", "payment_intent")
	if err != nil {
		return nil, err
	}
	r := sb.refunds[c.id]
	if r == nil {
		e := invalid("id", "resource_missing", "No such refund: '%s'", c.id)
		e.status = http.StatusNotFound
		return nil, e
	}
	return r.object(expand), nil
}

// object renders r as the API returns it; expand may name charge and payment_intent.
func (r *refund) object(expand map[string]bool) map[string]any {
	o := map[string]any{
		"id":                          r.ID,
		"object":                      "refund",
		"amount":                      r.Amount,
		"balance_transaction":         nil,
		"charge":                      r.Charge.ID,
		"created":                     r.Created,
		"currency":                    r.Currency,
		"destination_details":         nil,
		"metadata":                    r.Metadata,
		"payment_intent":              nil,
		"reason":                      r.Reason,
		"receipt_number":              nil,
		"source_transfer_reversal":    nil,
		"status":                      r.Status,
		"transfer_reversal":           nil,
		"failure_balance_transaction": nil,
	}
	if expand["charge"] {
		o["charge"] = r.Charge.object(nil)
	}
	if pi := r.Charge.Intent; pi != nil {
		o["payment_intent"] = pi.ID
		if expand["payment_intent"] {
			o["payment_intent"] = pi.object(nil)
		}
	}
	return o
}
