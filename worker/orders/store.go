package orders

import (
	"context"
	"errors"
	"time"
)

// Store keeps orders, processed webhook events and stock holds. Two
// implementations share one test suite: SQLStore (Cloudflare D1 through
// database/sql, the schema of worker/migrations) and MemStore (tests and host
// mode). Every method is atomic on its own.
type Store interface {
	// Get returns the order whose ID, Checkout Session ID, PaymentIntent ID
	// or reference is key (for a reference shared by several, the newest),
	// with its lines, or nil if there is none.
	Get(ctx context.Context, key string) (*Order, error)
	// Create inserts o (Version 1) if no order has its ID, session or
	// PaymentIntent. It reports false, writing nothing, when one does.
	Create(ctx context.Context, o *Order) (bool, error)
	// Update writes o if the stored order still has o.Version, and bumps the
	// version. It reports false, writing nothing, when another write came
	// first (re-read, merge again, retry). Fulfillment is not written here.
	Update(ctx context.Context, o *Order) (bool, error)
	// List returns the orders q selects (with their lines) and whether more
	// follow.
	List(ctx context.Context, q Query) ([]Order, bool, error)

	// ClaimFulfillment takes the order's fulfillment for the caller holding
	// claim, if the order is Fulfillable and its fulfillment is neither done
	// nor claimed since staleBefore. Only one caller gets true.
	ClaimFulfillment(ctx context.Context, id, claim string, now, staleBefore time.Time) (bool, error)
	// FinishFulfillment marks it done if claim still holds it.
	FinishFulfillment(ctx context.Context, id, claim string, now time.Time) (bool, error)
	// ReleaseFulfillment gives the claim up (after the Fulfiller failed).
	ReleaseFulfillment(ctx context.Context, id, claim string) error

	// EventProcessed reports whether a webhook event was recorded.
	EventProcessed(ctx context.Context, eventID string) (bool, error)
	// RecordEvent records a webhook event as processed (again: no-op).
	RecordEvent(ctx context.Context, eventID, eventType, orderID string, now time.Time) error

	// Reserve holds lines' quantities under hold, in one conditional write:
	// all of them if every product's active holds plus the line stay within
	// its Stock, else none. A hold that exists already and is still held is
	// reported as reserved (a retried request); one that was released or
	// has expired is reserved anew.
	Reserve(ctx context.Context, hold string, lines []StockLine, expires, now time.Time) (Reservation, error)
	// SyncHold makes hold follow its order at version: committed (kept
	// without expiry) or released. For committed, a hold that was released
	// or expired is taken again only if the stock allows (else Oversold). A
	// sync older than one already applied (a lower version) changes nothing,
	// and a hold bound to another order (objectID) is left alone.
	SyncHold(ctx context.Context, hold, objectID string, version int64, commit bool, lines []StockLine, now time.Time) (Reservation, error)
	// ReleaseHold releases a hold that no order took (its Stripe call failed).
	ReleaseHold(ctx context.Context, hold string) error
	// Held is how many of product active holds count (committed, or held and
	// not expired).
	Held(ctx context.Context, product string, now time.Time) (int64, error)
}

// StockLine is one stocked product of a hold: its quantity and the stock the
// catalog has of it in all.
type StockLine struct {
	Product  string `json:"p"`
	Quantity int64  `json:"q"`
	Stock    int64  `json:"s"`
}

// Reservation is the outcome of Reserve and SyncHold.
type Reservation int

// Reservation outcomes.
const (
	// Reserved: the quantities are held (or committed).
	Reserved Reservation = iota
	// OutOfStock: the stock does not cover them; nothing was written.
	OutOfStock
	// AlreadyCommitted: Reserve found the hold committed to a paid order; a
	// new order needs a new request.
	AlreadyCommitted
	// Oversold: SyncHold could not take a lapsed hold again at payment.
	Oversold
	// Skipped: SyncHold left the hold alone (stale version, other order).
	Skipped
)

// ErrConflict is returned by helpers that give up after repeated
// compare-and-swap conflicts.
var ErrConflict = errors.New("orders: the order kept changing under concurrent writes; retry")
