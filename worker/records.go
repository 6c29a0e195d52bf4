package worker

// Records: what the worker reads of Stripe's objects, turned into snapshots
// of orders (orders.Order) for recordOrder (fulfill.go). The rules that make
// those snapshots trustworthy live here:
//
//   - Only this deployment's objects count: a Checkout Session or
//     PaymentIntent without metadata kit_deployment equal to the worker's
//     marker (DEPLOYMENT_ID) is another integration's (a Payment Link, a
//     second deployment on the same Stripe account) and is never recorded.
//   - An order's lines come from the object that paid: a session's line
//     items (matched to the kit_cart the worker wrote, position by position),
//     or a PaymentIntent's kit_cart with the unit amounts priced at creation.
//     Lines that do not match the recorded cart, or amounts that do not add
//     up to what Stripe received, put the order in needs_review
//     (orders.Order.Check), which is never fulfilled.
//   - Refunds and disputes (charge and dispute objects) only ever update an
//     order recorded already, found by its PaymentIntent.

import (
	"context"
	"log"
	"net/http"
	"strconv"
	"strings"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"
)

// metaFlow is the metadata key naming the order's flow (FlowCheckout or
// FlowConfirmIntent), set with kit_order and kit_cart (payments.go).
const metaFlow = "kit_flow"

// ours reports whether metadata marks an object this deployment created.
func (s *Server) ours(meta map[string]string) bool {
	return meta[metaDeployment] == s.cfg.Deployment && orders.ValidRef(meta[metaOrder])
}

// ---------------------------------------------------------------------------
// Checkout Sessions

// sessionState is the payment state a Checkout Session stands for, or "" for
// a session that is still open (nothing to record).
func sessionState(sess *stripeapi.CheckoutSession, eventType string) orders.State {
	var pi *stripeapi.IntentRecord
	if sess.PaymentIntent != nil {
		pi = sess.PaymentIntent.Object
	}
	switch sess.Status {
	case "expired":
		return orders.Expired
	case "complete":
	default:
		return ""
	}
	switch sess.PaymentStatus {
	case "paid":
		if pi != nil && pi.CaptureMethod == "manual" {
			return orders.Captured
		}
		return orders.Paid
	case "no_payment_required":
		return orders.Paid
	}
	// Complete but unpaid: a delayed payment, or funds only authorized.
	if pi != nil {
		if st := intentState(pi); st != "" {
			return st
		}
	}
	if eventType == "checkout.session.async_payment_failed" {
		return orders.Failed
	}
	return orders.AwaitingPayment
}

// intentState is the payment state a PaymentIntent stands for, "" if none.
func intentState(pi *stripeapi.IntentRecord) orders.State {
	switch pi.Status {
	case "succeeded":
		if pi.CaptureMethod == "manual" {
			return orders.Captured
		}
		return orders.Paid
	case "requires_capture":
		return orders.Authorized
	case "canceled":
		return orders.Canceled
	case "processing":
		return orders.AwaitingPayment
	case "requires_payment_method":
		if pi.LastPaymentError != nil {
			return orders.Failed
		}
	}
	return ""
}

// retrieveSession reads a Checkout Session with its line items and
// PaymentIntent.
func (s *Server) retrieveSession(ctx context.Context, id string) (*stripeapi.CheckoutSession, error) {
	sess, err := s.stripe.RetrieveCheckoutSession(ctx, id, "line_items", "payment_intent", "shipping_cost.shipping_rate")
	if err != nil {
		return nil, fromStripe(err, "checkout session")
	}
	if sess.LineItems != nil && sess.LineItems.HasMore {
		// The expansion holds the first page only; an order has at most
		// maxCartLines lines, and ListLineItems reads a page of 100.
		all, err := s.stripe.ListLineItems(ctx, id)
		if err != nil {
			return nil, fromStripe(err, "checkout session line items")
		}
		sess.LineItems = all
	}
	return sess, nil
}

// reviewLinesDiffer is the review reason of a session whose line items are
// not the cart the worker created it with.
const reviewLinesDiffer = "line_items_differ_from_cart"

// sessionOrder is the order a Checkout Session stands for: nil for a session
// with nothing to record (open, not a payment) or that is not this
// deployment's.
func (s *Server) sessionOrder(sess *stripeapi.CheckoutSession, eventType string) *orders.Order {
	if sess.Mode != "" && sess.Mode != "payment" {
		return nil
	}
	if !s.ours(sess.Metadata) {
		return nil
	}
	state := sessionState(sess, eventType)
	if state == "" {
		return nil
	}
	o := &orders.Order{ID: sess.ID, Ref: sess.Metadata[metaOrder], Flow: orders.FlowCheckout, Payment: state, SessionID: sess.ID,
		Email: sess.CustomerEmail, Currency: sess.Currency, AmountTotal: sess.AmountTotal, Livemode: sess.Livemode,
		Details: sessionDetails(sess)}
	if sess.CustomerDetails != nil && sess.CustomerDetails.Email != "" {
		o.Email = sess.CustomerDetails.Email
	}
	// Without the site's own reference, client_reference_id carries the
	// kit's (checkout.go), which is Ref already.
	if sess.ClientReferenceID != o.Ref {
		o.Reference = sess.ClientReferenceID
	}
	if sess.PaymentIntent != nil {
		o.PaymentIntentID = sess.PaymentIntent.ID
		if pi := sess.PaymentIntent.Object; pi != nil {
			o.AmountReceived, o.AmountCapturable = pi.AmountReceived, pi.AmountCapturable
			o.DeclineCode = pi.DeclineCode()
		}
	}
	if state == orders.Paid && o.PaymentIntentID == "" { // nothing was due
		o.AmountReceived = sess.AmountTotal
	}
	cart := parseCartMeta(sess.Metadata[metaCart])
	var items []stripeapi.LineItem
	if sess.LineItems != nil {
		items = sess.LineItems.Data
	}
	if len(items) != len(cart) {
		o.Review = reviewLinesDiffer
	}
	for i, li := range items {
		l := orders.Line{Description: li.Description, Quantity: li.Quantity, AmountTotal: li.AmountTotal}
		if li.Price != nil {
			l.UnitAmount = li.Price.UnitAmount
		}
		// The cart and the line items are built from the same lines, in the
		// same order (checkout.go); a line that is not the cart's is kept as
		// Stripe has it, without a product, and the order needs review.
		// A price the cart recorded must be the line's (a discount lowers
		// amount_total, never the unit price).
		if i < len(cart) && cart[i].Quantity == li.Quantity && (cart[i].UnitAmount < 0 || cart[i].UnitAmount == l.UnitAmount) {
			l.Product = cart[i].Product
		} else {
			o.Review = reviewLinesDiffer
		}
		o.Lines = append(o.Lines, l)
	}
	if o.Review != "" {
		log.Printf("checkout session %s: its line items do not match its kit_cart %q: needs review", sess.ID, sess.Metadata[metaCart])
	}
	return o
}

// fulfillSession records the order of Checkout Session id, as Stripe has it
// now, and fulfills it if due. It returns nil for a session with nothing to
// record (open, not a payment, or another deployment's).
func (s *Server) fulfillSession(ctx context.Context, id, eventType string) (*orders.Order, error) {
	sess, err := s.retrieveSession(ctx, id)
	if err != nil {
		return nil, err
	}
	o := s.sessionOrder(sess, eventType)
	if o == nil {
		return nil, nil
	}
	return s.recordOrder(ctx, o)
}

// fulfillAfterStatus is the return page's part (GET /session-status, for a
// complete session): the order is recorded and fulfilled here if the webhook
// has not done it yet. Failures are logged, never shown to the shopper: the
// webhook retries.
func (s *Server) fulfillAfterStatus(ctx context.Context, sessionID string) {
	if s.store == nil {
		return
	}
	// Recorded already, with nothing left to do: no need to ask Stripe.
	if o, err := s.store.Get(ctx, sessionID); err == nil && o != nil && o.ID == sessionID &&
		(o.Fulfillment.Status == orders.FulfillmentDone || !o.Holds() || o.State == orders.NeedsReview) {
		return
	}
	if _, err := s.fulfillSession(ctx, sessionID, ""); err != nil && err != errFulfillmentBusy {
		log.Printf("session-status: recording the order of %s: %v", sessionID, err)
	}
}

// ---------------------------------------------------------------------------
// The cart in metadata

// parseCartMeta reads metadata kit_cart: "id:qty:unit,..." (unit amounts as
// priced when the object was created), or "id:qty,..." as written before
// unit amounts were recorded. Malformed entries end the parse: nil means no
// usable cart.
func parseCartMeta(s string) []orders.Line {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	lines := make([]orders.Line, 0, len(parts))
	for _, p := range parts {
		f := strings.Split(p, ":")
		if len(f) < 2 || len(f) > 3 || f[0] == "" {
			return nil
		}
		n, err := parseInt(f[1])
		if err != nil || n < 1 {
			return nil
		}
		l := orders.Line{Product: f[0], Quantity: n, UnitAmount: -1}
		if len(f) == 3 {
			if l.UnitAmount, err = parseInt(f[2]); err != nil {
				return nil
			}
			l.AmountTotal = l.UnitAmount * n
		}
		lines = append(lines, l)
	}
	return lines
}

// parseInt reads a non-negative decimal of at most 12 digits (no sign).
func parseInt(s string) (int64, error) {
	if s == "" || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// cartLines completes a PaymentIntent's recorded cart with the catalog's
// names, and with its prices where the cart did not record them.
func (s *Server) cartLines(cart []orders.Line) []orders.Line {
	for i := range cart {
		p, ok := s.cfg.Catalog.Lookup(cart[i].Product)
		if ok {
			cart[i].Description = p.Name
		}
		if cart[i].UnitAmount < 0 {
			cart[i].UnitAmount = 0
			if ok {
				cart[i].UnitAmount = p.UnitAmount
			}
			cart[i].AmountTotal = cart[i].UnitAmount * cart[i].Quantity
		}
	}
	return cart
}

// ---------------------------------------------------------------------------
// PaymentIntents

// fulfillIntent applies a PaymentIntent event's object. It returns the order
// it recorded, or nil if the PaymentIntent is not (or not yet) an order's:
//
//   - PaymentIntents without this deployment's marker are not the kit's;
//   - a Checkout Session's PaymentIntent updates the order recorded for it
//     (found by its id, and only if that order paid with it); until the
//     session's own event has recorded the order it is left to that event,
//     which reads the PaymentIntent's state, so that Checkout orders are made
//     from the session with its line items;
//   - a PaymentIntent of the confirm-intent flow is its own order.
func (s *Server) fulfillIntent(ctx context.Context, pi *stripeapi.IntentRecord, eventType string) (*orders.Order, error) {
	if !s.ours(pi.Metadata) {
		return nil, nil
	}
	state := intentState(pi)
	if eventType == "payment_intent.payment_failed" && (state == "" || state == orders.AwaitingPayment) {
		state = orders.Failed
	}
	if state == "" {
		return nil, nil
	}
	o := &orders.Order{ID: pi.ID, Ref: pi.Metadata[metaOrder], Payment: state, PaymentIntentID: pi.ID, Email: pi.ReceiptEmail,
		Currency: pi.Currency, AmountTotal: pi.Amount, AmountReceived: pi.AmountReceived, AmountCapturable: pi.AmountCapturable,
		Livemode: pi.Livemode, DeclineCode: pi.DeclineCode()}
	if pi.Metadata[metaFlow] == orders.FlowCheckout {
		cur, err := s.store.Get(ctx, pi.ID)
		if err != nil || cur == nil || cur.PaymentIntentID != pi.ID || cur.Flow != orders.FlowCheckout {
			return nil, err
		}
		o.ID, o.Flow, o.SessionID = cur.ID, cur.Flow, cur.SessionID
		return s.recordOrder(ctx, o)
	}
	o.Flow = orders.FlowConfirmIntent
	o.Lines = s.cartLines(parseCartMeta(pi.Metadata[metaCart]))
	o.Details = s.intentDetails(pi) // goods_intent.go
	return s.recordOrder(ctx, o)
}

// ---------------------------------------------------------------------------
// Refunds and disputes

// chargeRecord is what the worker reads of a charge (charge.refunded).
type chargeRecord struct {
	ID             string `json:"id"`
	PaymentIntent  string `json:"payment_intent"`
	AmountRefunded int64  `json:"amount_refunded"`
}

// disputeRecord is what the worker reads of a dispute.
type disputeRecord struct {
	ID            string `json:"id"`
	PaymentIntent string `json:"payment_intent"`
	Status        string `json:"status"`
}

// disputeState maps a dispute's status to the order's dispute.
func disputeState(status string) string {
	switch status {
	case "won", "warning_closed":
		return orders.DisputeWon
	case "lost":
		return orders.DisputeLoss
	case "":
		return orders.DisputeNone
	}
	// needs_response, under_review, warning_needs_response, ...
	return orders.DisputeOpen
}

// applyToPaid merges f's facts (refunds, a dispute) into the order paid with
// PaymentIntent piID. Charges and disputes of PaymentIntents that are no
// recorded order's (another integration's, another deployment's) are
// ignored: nil, nil.
func (s *Server) applyToPaid(ctx context.Context, piID string, f func(o *orders.Order)) (*orders.Order, error) {
	if !hasIDPrefix(piID, "pi_") {
		return nil, nil
	}
	cur, err := s.store.Get(ctx, piID)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.PaymentIntentID != piID {
		return nil, s.notRecordedYet(ctx, piID)
	}
	in := &orders.Order{ID: cur.ID, Payment: cur.Payment, PaymentIntentID: piID}
	f(in)
	return s.recordOrder(ctx, in)
}

// errNotRecordedYet: a refund or dispute of this deployment's payment arrived
// before the payment's own event recorded the order. Stripe delivers events in
// any order; answering 503 makes it deliver this one again later, when the
// order exists, instead of losing the refund.
var errNotRecordedYet = &apiError{Status: http.StatusServiceUnavailable, Code: "order_not_recorded_yet", RetryAfter: 60,
	Message: "the payment's order is not recorded yet; deliver this event again later"}

// notRecordedYet tells a payment of this deployment whose order is not
// recorded yet (errNotRecordedYet) from anyone else's (nil: ignore it), by
// the PaymentIntent's marker at Stripe.
func (s *Server) notRecordedYet(ctx context.Context, piID string) error {
	pi, err := s.stripe.RetrievePaymentIntent(ctx, piID)
	if err != nil {
		if ae := fromStripe(err, "payment intent"); ae.Status == http.StatusNotFound {
			return nil // not this account's, or gone: nothing of ours
		} else {
			return ae
		}
	}
	if s.ours(pi.Metadata) && intentState(pi.Record()) != "" {
		log.Printf("a charge event of payment %s came before its order was recorded; asking Stripe to send it again", piID)
		return errNotRecordedYet
	}
	return nil
}
