package worker

// Stock: a product with "stock" in the catalog is reserved when a Checkout
// Session or PaymentIntent is created for it, in one conditional write to
// the order store (orders.Store.Reserve: all of the order's stocked lines,
// or none, never check-then-act), before Stripe is called. The hold is the
// order reference's (kit_order): a retried request finds its own hold.
//
// A hold lasts as long as the Checkout Session can be paid (expires_at, set
// from CHECKOUT_EXPIRES_MINUTES) plus holdGrace, or as long as a shopper
// takes to finish a confirm-intent payment (3D Secure and the like). When the
// order is recorded the hold follows it (fulfill.go syncStock): committed
// while it is placed or paid, including a delayed payment method still
// processing; released on checkout.session.expired, payment_intent.canceled
// or .payment_failed, an operator's cancel, and a full refund.

import (
	"context"
	"log"
	"net/http"
	"time"

	"checkoutkit/worker/orders"
)

// holdGrace keeps a Checkout Session's hold a little past the session's
// expiry, so that a payment completed in its last second still finds it.
const holdGrace = 5 * time.Minute

// reserve holds the order's stocked lines until expires. Without a store
// only the catalog's stock applies (approveStock).
func (s *Server) reserve(ctx context.Context, o *Order, expires time.Time) *apiError {
	if s.store == nil {
		return nil
	}
	var lines []orders.StockLine
	for _, l := range o.Lines {
		if l.Product.Stock != nil {
			lines = append(lines, orders.StockLine{Product: l.Product.ID, Quantity: l.Quantity, Stock: *l.Product.Stock})
		}
	}
	if len(lines) == 0 {
		return nil
	}
	now := time.Now()
	r, err := s.store.Reserve(ctx, o.Ref, lines, expires, now)
	if err != nil {
		// Fail closed: selling what may not exist is worse than asking the
		// shopper to try again.
		log.Printf("reserving stock for %s: %v", o.Ref, err)
		return &apiError{Status: http.StatusServiceUnavailable, Code: "stock_unavailable", RetryAfter: 2,
			Message: "the shop could not check its stock; please try again in a moment"}
	}
	switch r {
	case orders.Reserved:
		o.held = true
		return nil
	case orders.AlreadyCommitted:
		return &apiError{Status: http.StatusConflict, Code: "idempotency_key_reused", Param: "idempotencyKey",
			Message: "this idempotencyKey already placed an order; use a new key for a new order"}
	}
	// Out of stock: say which product, with what is left of it.
	for i, l := range o.Lines {
		if l.Product.Stock == nil {
			continue
		}
		held, err := s.store.Held(ctx, l.Product.ID, now)
		if err != nil {
			break
		}
		if left := max(*l.Product.Stock-held, 0); l.Quantity > left {
			ref := outOfStock(i, l, left)
			return &apiError{Status: ref.Status, Code: ref.Code, Param: ref.Param, Message: ref.Message}
		}
	}
	return &apiError{Status: http.StatusConflict, Code: "out_of_stock", Param: "items", Message: "some of these products are sold out"}
}

// unreserve gives a hold back when Stripe refused the create call (a 4xx:
// nothing to pay was made). After a failure of Stripe or of the way to it
// (5xx, a timeout) the object may exist with only the answer lost, so the
// hold stays and lapses at its expiry; a retry of the same request finds it.
func (s *Server) unreserve(ctx context.Context, o *Order, failure *apiError) {
	if failure.Status >= 500 {
		return
	}
	s.releaseHold(ctx, o)
}

// releaseHold gives the order's hold back: nothing to pay exists for it.
func (s *Server) releaseHold(ctx context.Context, o *Order) {
	if s.store == nil || !o.held {
		return
	}
	if err := s.store.ReleaseHold(context.WithoutCancel(ctx), o.Ref); err != nil {
		log.Printf("releasing the stock hold of %s: %v (it lapses at its expiry)", o.Ref, err)
	}
}
