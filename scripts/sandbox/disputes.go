package main

// Disputes (chargebacks), opened and closed through development endpoints since
// only a cardholder's bank can open one at Stripe:
//
//	POST /_sandbox/payment_intents/{id}/dispute  optional {"reason":"fraudulent"|...}: a dispute on the
//	                                             PaymentIntent's latest charge (succeeded and captured),
//	                                             for its unrefunded amount; status needs_response;
//	                                             the charge becomes disputed; emits charge.dispute.created
//	POST /_sandbox/disputes/{id}/close           {"outcome":"won"|"lost"}: status won or lost;
//	                                             emits charge.dispute.closed
//	GET  /v1/disputes/{id}                       (secret key) retrieve; expand[]=charge|payment_intent
//
// Both development endpoints answer with the dispute object. They refuse (400)
// a PaymentIntent without a succeeded, captured charge, a fully refunded charge,
// a charge whose dispute is still open or was lost, and closing a closed dispute. A charge
// with an open or lost dispute cannot be refunded (charge_disputed, refunds.go);
// after a won dispute it can, and it may be disputed again.

import (
	"errors"
	"io"
	"net/http"
	"slices"
)

// disputeReasons are Stripe's dispute reasons.
var disputeReasons = []string{"bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
	"debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details", "insufficient_funds",
	"noncompliant", "product_not_received", "product_unacceptable", "subscription_canceled", "unrecognized"}

// disputeResponseWindow is how long the merchant has to respond (evidence_details.due_by).
const disputeResponseWindow = 7 * 24 * 3600

type dispute struct {
	ID       string
	Created  int64
	Amount   int64
	Currency string
	Charge   *charge
	Reason   string
	Status   string // needs_response, won, lost
}

func (d *dispute) open() bool { return d.Status != "won" && d.Status != "lost" }

// object renders d as the API returns it; expand may name charge and payment_intent.
func (d *dispute) object(expand map[string]bool) map[string]any {
	o := map[string]any{
		"id":                         d.ID,
		"object":                     "dispute",
		"amount":                     d.Amount,
		"balance_transactions":       []any{},
		"charge":                     d.Charge.ID,
		"created":                    d.Created,
		"currency":                   d.Currency,
		"enhanced_eligibility_types": []string{},
		"evidence_details": map[string]any{
			"due_by":           d.Created + disputeResponseWindow,
			"has_evidence":     false,
			"past_due":         false,
			"submission_count": 0,
		},
		"is_charge_refundable": false,
		"livemode":             false,
		"metadata":             map[string]string{},
		"payment_intent":       nil,
		"reason":               d.Reason,
		"status":               d.Status,
	}
	if expand["charge"] {
		o["charge"] = d.Charge.object(nil)
	}
	if pi := d.Charge.Intent; pi != nil {
		o["payment_intent"] = pi.ID
		if expand["payment_intent"] {
			o["payment_intent"] = pi.object(nil)
		}
	}
	return o
}

func (sb *Sandbox) retrieveDisputeLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	expand, err := expansions(c.root, "charge", "payment_intent")
	if err != nil {
		return nil, err
	}
	d := sb.disputes[c.id]
	if d == nil {
		e := invalid("dispute", "resource_missing", "No such dispute: '%s'", c.id)
		e.status = http.StatusNotFound
		return nil, e
	}
	return d.object(expand), nil
}

// decodeOptionalJSON decodes a JSON body into v; an empty body leaves v as it is.
func decodeOptionalJSON(r *http.Request, v any) error {
	if err := decodeJSON(r, v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

type disputeRequest struct {
	Reason string `json:"reason"`
}

// devDispute serves POST /_sandbox/payment_intents/{id}/dispute.
func (sb *Sandbox) devDispute(w http.ResponseWriter, r *http.Request, id string) {
	req := disputeRequest{Reason: "fraudulent"}
	if err := decodeOptionalJSON(r, &req); err != nil {
		e := devError(http.StatusBadRequest, "invalid_json", "", "The body must be empty or a JSON object {\"reason\":\"fraudulent\"|...}: %v", err)
		writeJSON(w, e.status, e.envelope())
		return
	}
	if !slices.Contains(disputeReasons, req.Reason) {
		e := devError(http.StatusBadRequest, "parameter_invalid", "reason", "reason must be one of %s.", oneOf(disputeReasons))
		writeJSON(w, e.status, e.envelope())
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	pi := sb.intents[id]
	if pi == nil {
		e := devError(http.StatusNotFound, "resource_missing", "id", "No such payment_intent: '%s'", id)
		writeJSON(w, e.status, e.envelope())
		return
	}
	ch := pi.Charge
	var e *apiError
	switch {
	case ch == nil || ch.Status != "succeeded" || !ch.Captured:
		e = devError(http.StatusBadRequest, "charge_not_disputable", "",
			"PaymentIntent %s (status %s) has no succeeded, captured charge to dispute.", pi.ID, pi.Status)
	case ch.Dispute != nil && ch.Dispute.open():
		e = devError(http.StatusBadRequest, "charge_already_disputed", "",
			"Charge %s already has an open dispute (%s, status %s); close it first (POST /_sandbox/disputes/%s/close).",
			ch.ID, ch.Dispute.ID, ch.Dispute.Status, ch.Dispute.ID)
	case ch.Dispute != nil && ch.Dispute.Status == "lost":
		e = devError(http.StatusBadRequest, "charge_already_disputed", "",
			"Charge %s lost dispute %s: its funds already went back to the cardholder.", ch.ID, ch.Dispute.ID)
	case ch.refundable() <= 0:
		e = devError(http.StatusBadRequest, "charge_already_refunded", "",
			"Charge %s has been fully refunded: there is nothing left to dispute.", ch.ID)
	}
	if e != nil {
		writeJSON(w, e.status, e.envelope())
		return
	}
	d := &dispute{ID: newID("du_", 24), Created: sb.now().Unix(), Amount: ch.refundable(), Currency: ch.Currency,
		Charge: ch, Reason: req.Reason, Status: "needs_response"}
	sb.disputes[d.ID] = d
	ch.Dispute = d
	sb.emitLocked("charge.dispute.created", d.ID, d.object(nil))
	writeJSON(w, http.StatusOK, d.object(nil))
}

type closeDisputeRequest struct {
	Outcome string `json:"outcome"`
}

// devCloseDispute serves POST /_sandbox/disputes/{id}/close.
func (sb *Sandbox) devCloseDispute(w http.ResponseWriter, r *http.Request, id string) {
	var req closeDisputeRequest
	if err := decodeJSON(r, &req); err != nil {
		e := devError(http.StatusBadRequest, "invalid_json", "", "The body must be a JSON object {\"outcome\":\"won\"|\"lost\"}: %v", err)
		writeJSON(w, e.status, e.envelope())
		return
	}
	if req.Outcome != "won" && req.Outcome != "lost" {
		e := devError(http.StatusBadRequest, "parameter_invalid", "outcome", "outcome must be \"won\" or \"lost\".")
		writeJSON(w, e.status, e.envelope())
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	d := sb.disputes[id]
	if d == nil {
		e := devError(http.StatusNotFound, "resource_missing", "id", "No such dispute: '%s'", id)
		writeJSON(w, e.status, e.envelope())
		return
	}
	if !d.open() {
		e := devError(http.StatusBadRequest, "dispute_already_closed", "", "Dispute %s is already closed (%s).", d.ID, d.Status)
		writeJSON(w, e.status, e.envelope())
		return
	}
	d.Status = req.Outcome
	sb.emitLocked("charge.dispute.closed", d.ID, d.object(nil))
	writeJSON(w, http.StatusOK, d.object(nil))
}
