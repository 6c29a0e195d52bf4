package worker

// Orders as the worker records them from Stripe (webhook.go, fulfill.go), and
// the Store that keeps them: D1 through database/sql on Workers (store_sql.go),
// memory in tests and host mode (store_mem.go). Both implement the same
// semantics, each method atomic on its own:
//
//   - one row per order: the order reference (metadata kit_order) when the
//     Stripe object carries one, else the Checkout Session id, else the
//     PaymentIntent id; session and PaymentIntent ids are unique too;
//   - SaveOrder creates the order or merges into it, and moves its state only
//     along the transitions in stateMoves, so that events applied in any
//     order, twice or concurrently converge on the same row;
//   - the fulfillment of an order is claimed with one conditional update
//     (ClaimFulfillment), so exactly one caller runs the Fulfiller.

import (
	"context"
	"errors"
	"strings"
	"time"
)

// OrderState is where an order stands.
type OrderState string

// Order states.
const (
	// StateAwaitingPayment: the order is placed but the money has not
	// arrived: a delayed payment method (SEPA Debit, bank transfer, ...) is
	// processing.
	StateAwaitingPayment OrderState = "awaiting_payment"
	// StatePaid: paid (automatic capture), or nothing was due.
	StatePaid OrderState = "paid"
	// StateFailed: the payment failed (a delayed payment bounced, a card was
	// declined); the shopper may still pay, which moves it to paid.
	StateFailed OrderState = "failed"
	// StateExpired: the Checkout Session expired unpaid.
	StateExpired OrderState = "expired"
	// StateAuthorized: manual capture: the funds are held, not yet taken.
	StateAuthorized OrderState = "authorized"
	// StateCaptured: manual capture: the held funds were taken.
	StateCaptured OrderState = "captured"
	// StateCanceled: the PaymentIntent was canceled (an authorization
	// released, or a payment abandoned).
	StateCanceled OrderState = "canceled"
)

// orderStates lists every state, in a stable order.
var orderStates = []OrderState{StateAwaitingPayment, StatePaid, StateFailed, StateExpired, StateAuthorized, StateCaptured, StateCanceled}

func validOrderState(s string) bool {
	for _, st := range orderStates {
		if string(st) == s {
			return true
		}
	}
	return false
}

// stateMoves lists, for each state, the states an order in it may move to.
// Stripe delivers events in any order and more than once, and the worker
// applies each object's state as it finds it: only moves forward are taken,
// so an older snapshot arriving late never undoes a newer one. paid,
// captured, expired and canceled are final.
var stateMoves = map[OrderState][]OrderState{
	StateAwaitingPayment: {StatePaid, StateFailed, StateExpired, StateAuthorized, StateCaptured, StateCanceled},
	StateFailed:          {StatePaid, StateExpired, StateAuthorized, StateCaptured, StateCanceled},
	StateAuthorized:      {StateCaptured, StateCanceled},
}

// canMove reports whether an order in state from may move to state to.
func canMove(from, to OrderState) bool {
	for _, s := range stateMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// fulfillable reports whether an order in this state is due for fulfillment:
// its money has arrived. Authorized orders wait for their capture.
func (s OrderState) fulfillable() bool { return s == StatePaid || s == StateCaptured }

// soldStates count against a product's stock (SoldQuantity).
var soldStates = []OrderState{StateAwaitingPayment, StatePaid, StateAuthorized, StateCaptured}

// Fulfillment states of an order.
const (
	FulfillmentNone    = "none"    // not run (not due yet, or released after a failure)
	FulfillmentClaimed = "claimed" // a caller is running the Fulfiller
	FulfillmentDone    = "done"    // the Fulfiller succeeded
)

// OrderRecord is a recorded order: what GET /admin/orders shows and what the
// Fulfiller receives. Amounts are in the currency's minor unit.
type OrderRecord struct {
	// ID is the order reference (kit_order, "ord_..."), or for orders made
	// outside the kit the Checkout Session or PaymentIntent id.
	ID string `json:"id"`
	// Flow is FlowCheckout (a Checkout Session) or FlowConfirmIntent (a
	// PaymentIntent the worker created and confirmed, without a session).
	Flow  string     `json:"flow"`
	State OrderState `json:"state"`
	// Stripe's ids.
	SessionID       string `json:"checkout_session,omitempty"`
	PaymentIntentID string `json:"payment_intent,omitempty"`
	Email           string `json:"email,omitempty"`
	Currency        string `json:"currency"`
	// AmountTotal is what the order costs; AmountReceived what was paid
	// (captured); AmountCapturable what is authorized and can still be captured.
	AmountTotal      int64        `json:"amount_total"`
	AmountReceived   int64        `json:"amount_received"`
	AmountCapturable int64        `json:"amount_capturable"`
	Livemode         bool         `json:"livemode"`
	Lines            []RecordLine `json:"lines"`
	Fulfillment      Fulfillment  `json:"fulfillment"`
	// Created and Updated are Unix times (seconds) of the worker's records.
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
}

// RecordLine is one product of an order.
type RecordLine struct {
	// Product is the catalog's product id ("" if it cannot be told).
	Product     string `json:"product,omitempty"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
	AmountTotal int64  `json:"amount_total"`
}

// Fulfillment is how far the order's fulfillment got.
type Fulfillment struct {
	Status string `json:"status"` // FulfillmentNone, FulfillmentClaimed or FulfillmentDone
	// Attempts counts the times the Fulfiller was started for the order.
	Attempts int64 `json:"attempts"`
	// At is when it succeeded (Unix seconds), 0 until then.
	At int64 `json:"fulfilled_at,omitempty"`
	// claim and claimedAt belong to the caller running the Fulfiller.
	claim     string
	claimedAt int64
}

// OrderQuery selects orders for ListOrders: newest first, optionally in one
// state, at most Limit, after the cursor of a previous page.
type OrderQuery struct {
	State OrderState
	Limit int
	After *orderCursor
}

// orderCursor is the position after an order in ListOrders' sort order.
type orderCursor struct {
	Created int64
	ID      string
}

// Store keeps orders and processed webhook events. See the file comment for
// the semantics both implementations share.
type Store interface {
	SoldCounter
	// SaveOrder records o: it creates the order if no order has o.ID, else
	// merges o into it: the state moves to o.State if canMove allows it (with
	// that state's amounts), and fields still empty are filled. Lines are
	// stored by position, the first record of each standing (an order's
	// lines do not change). It returns the order as stored, without lines.
	SaveOrder(ctx context.Context, o *OrderRecord) (*OrderRecord, error)
	// Order returns the order whose id, Checkout Session id or PaymentIntent
	// id is key, with its lines, or nil if there is none.
	Order(ctx context.Context, key string) (*OrderRecord, error)
	// ListOrders returns the orders q selects (with their lines) and whether
	// more follow.
	ListOrders(ctx context.Context, q OrderQuery) ([]OrderRecord, bool, error)
	// ClaimFulfillment takes the order's fulfillment for the caller holding
	// claim, if the order is due (fulfillable state) and its fulfillment is
	// not done and not claimed since staleBefore. Only one caller gets true.
	ClaimFulfillment(ctx context.Context, id, claim string, now, staleBefore time.Time) (bool, error)
	// FinishFulfillment marks the fulfillment done if claim still holds it,
	// and reports whether it did.
	FinishFulfillment(ctx context.Context, id, claim string, now time.Time) (bool, error)
	// ReleaseFulfillment gives the claim up (after the Fulfiller failed), so
	// that a later call can claim it again.
	ReleaseFulfillment(ctx context.Context, id, claim string) error
	// EventProcessed reports whether a webhook event was recorded as processed.
	EventProcessed(ctx context.Context, eventID string) (bool, error)
	// RecordEvent records a webhook event as processed (again: no-op).
	RecordEvent(ctx context.Context, eventID, eventType, orderID string, now time.Time) error
}

// errNoStore is what the order endpoints answer without a store.
var errNoStore = &apiError{Status: 503, Code: "orders_unavailable",
	Message: "orders are not recorded: the worker has no D1 database bound as DB (see README: Webhooks and orders)"}

// mergeOrder applies an incoming record of an order to the stored one, as
// SaveOrder documents. The SQL store does the same in one UPSERT statement
// (store_sql.go); both are tested against the same cases.
func mergeOrder(cur *OrderRecord, in *OrderRecord) {
	switch {
	case canMove(cur.State, in.State):
		cur.State = in.State
		cur.AmountReceived, cur.AmountCapturable = in.AmountReceived, in.AmountCapturable
	case cur.State == in.State:
		// Amounts only grow within a state (incremental authorization).
		cur.AmountReceived = max(cur.AmountReceived, in.AmountReceived)
		cur.AmountCapturable = max(cur.AmountCapturable, in.AmountCapturable)
	}
	cur.AmountTotal = max(cur.AmountTotal, in.AmountTotal)
	if cur.SessionID == "" {
		cur.SessionID = in.SessionID
	}
	if cur.PaymentIntentID == "" {
		cur.PaymentIntentID = in.PaymentIntentID
	}
	if cur.Email == "" {
		cur.Email = in.Email
	}
	if cur.Currency == "" {
		cur.Currency = in.Currency
	}
	// A Checkout Session seen for the order makes it a Checkout order.
	if in.Flow == FlowCheckout {
		cur.Flow = FlowCheckout
	}
	cur.Livemode = cur.Livemode || in.Livemode
	cur.Updated = in.Updated
}

// parseCartMeta reads metadata kit_cart ("tshirt:2,mug:1"). Malformed entries
// end the parse: nil means no usable cart.
func parseCartMeta(s string) []RecordLine {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	lines := make([]RecordLine, 0, len(parts))
	for _, p := range parts {
		id, qty, ok := strings.Cut(p, ":")
		n, err := parseInt(qty)
		if !ok || id == "" || err != nil || n < 1 {
			return nil
		}
		lines = append(lines, RecordLine{Product: id, Quantity: n})
	}
	return lines
}

func parseInt(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, errors.New("not a number")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, nil
}
