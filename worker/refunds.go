package worker

// POST /admin/orders/{id}/refund: the operator refunds an order, in full or
// in part, through Stripe's Refunds API.
//
// Body (optional JSON): {"amount": N} in the currency's minor unit, at most
// what is left to refund; no body or no amount refunds all that is left.
// Idempotent: the Stripe idempotency key is the operator's Idempotency-Key
// header when given, else derived from the order, the amount asked for and
// the amount refunded so far, so that a retried call (a timeout, a double
// click) refunds once. The answer is {"refund":{...},"order":{...}} with the
// order as recorded after the refund; Stripe's charge.refunded event later
// confirms the same figures (refunded amounts only grow, so either order of
// arrival converges). A full refund releases the order's stock.

import (
	"net/http"
	"strconv"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82"
)

type refundRequest struct {
	Amount *int64 `json:"amount"`
	Reason string `json:"reason"`
}

type refundAnswer struct {
	Refund *stripeapi.Refund `json:"refund"`
	Order  *orders.Order     `json:"order"`
}

func (s *Server) handleRefundOrder(w http.ResponseWriter, r *http.Request) {
	if aerr := checkOrderKey(r.PathValue("id")); aerr != nil {
		writeError(w, aerr)
		return
	}
	var req refundRequest
	if aerr := readAdminJSON(w, r, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	switch req.Reason {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		writeError(w, badRequest("invalid_reason", "reason", "reason must be duplicate, fraudulent or requested_by_customer"))
		return
	}
	ctx := r.Context()
	o, ok := s.findOrder(w, r)
	if !ok {
		return
	}
	left := o.AmountReceived - o.AmountRefunded
	switch {
	case o.PaymentIntentID == "" || (o.Payment != orders.Paid && o.Payment != orders.Captured) || left <= 0:
		writeError(w, &apiError{Status: http.StatusConflict, Code: "order_not_refundable",
			Message: "order " + o.ID + " (" + string(o.State) + ") has nothing left to refund"})
		return
	case o.Dispute == orders.DisputeOpen || o.Dispute == orders.DisputeLoss:
		writeError(w, &apiError{Status: http.StatusConflict, Code: "order_disputed",
			Message: "order " + o.ID + " is disputed; its money is handled through the dispute"})
		return
	}
	amount := left
	if req.Amount != nil {
		if *req.Amount < 1 || *req.Amount > left {
			writeError(w, badRequest("invalid_amount", "amount", "amount must be a whole number from 1 to %d (what is left to refund, in the currency's minor unit)", left))
			return
		}
		amount = *req.Amount
	}
	params := &stripe.RefundCreateParams{PaymentIntent: stripe.String(o.PaymentIntentID), Amount: stripe.Int64(amount)}
	if req.Reason != "" {
		params.Reason = stripe.String(req.Reason)
	}
	params.AddMetadata(metaOrder, o.Ref)
	params.AddMetadata(metaDeployment, s.cfg.Deployment)
	// Keyed by the order (whichever of its ids the path named) and the
	// operator's key, or else by what is asked and what was refunded so far.
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if !validIdempotencyKey(k) {
			writeError(w, badRequest("invalid_idempotency_key", "Idempotency-Key", "the Idempotency-Key header must be 8-64 characters of a-z, A-Z, 0-9, '-' or '_'"))
			return
		}
		params.SetIdempotencyKey("kit-refund-" + o.ID + "-" + k)
	} else {
		params.SetIdempotencyKey("kit-refund-" + o.ID + "-" + strconv.FormatInt(amount, 10) + "-after-" + strconv.FormatInt(o.AmountRefunded, 10))
	}
	ref, err := s.stripe.CreateRefund(ctx, params)
	if err != nil {
		writeError(w, fromStripeAdmin(err, "refund"))
		return
	}
	// Record what is known now (the webhook confirms it): the refunds so
	// far plus this one, unless this answer is a replay of one recorded.
	refunded := o.AmountRefunded + ref.Amount
	if ref.Replayed {
		refunded = o.AmountRefunded
	}
	stored, err := s.applyToPaid(ctx, o.PaymentIntentID, func(in *orders.Order) { in.AmountRefunded = refunded })
	if err != nil || stored == nil {
		stored, err = s.store.Get(ctx, o.ID)
		if err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, refundAnswer{Refund: ref, Order: stored})
}
