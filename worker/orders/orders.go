// Package orders holds the checkout kit's orders: what was paid, by which
// Stripe object, how far its fulfillment got, and the stock it holds.
//
// The rules live here, in plain Go, and the stores only keep rows:
//
//   - An order belongs to exactly one paying Stripe object: a Checkout
//     Session (ID "cs_...") or, in the confirm-intent flow, a PaymentIntent
//     (ID "pi_..."). Its ID is that object's ID, so a record about another
//     object can never merge into it. The kit's order reference (metadata
//     kit_order, "ord_...") is kept as Ref, for people, not for identity.
//   - Stripe delivers events in any order and more than once. Each record is
//     a snapshot of a Stripe object; Merge applies it so that events applied
//     in any order, twice or concurrently converge on the same order: the
//     payment state only moves forward (Moves), refunded amounts only grow,
//     and a dispute only moves from open to won or lost.
//   - The state an operator sees (State) is derived from those facts: a
//     dispute or a refund shows over the payment, and an order whose lines do
//     not add up to what Stripe received shows as needs_review and is never
//     fulfilled.
//   - Writes are compare-and-swap on Version (Store.Update), so concurrent
//     deliveries never lose each other's changes, and each write is one
//     statement, which is all Cloudflare D1 makes atomic.
package orders

import (
	"strconv"
	"strings"
)

// State is where an order stands, as the operator API shows it.
type State string

// Order states.
const (
	// AwaitingPayment: placed, but the money has not arrived (a delayed
	// payment method such as SEPA Debit is processing).
	AwaitingPayment State = "awaiting_payment"
	// Paid: paid (automatic capture), or nothing was due.
	Paid State = "paid"
	// Failed: the payment failed; the shopper may still pay, which moves it on.
	Failed State = "failed"
	// Expired: the Checkout Session expired unpaid.
	Expired State = "expired"
	// Authorized: manual capture: the funds are held, not yet taken.
	Authorized State = "authorized"
	// Captured: manual capture: the held funds were taken.
	Captured State = "captured"
	// Canceled: the PaymentIntent was canceled (an authorization released by
	// the operator, or a payment abandoned).
	Canceled State = "canceled"
	// NeedsReview: paid, but what was paid does not match the order's lines
	// (or the stock was gone when the money arrived). Never fulfilled; the
	// operator decides (GET /admin/orders?state=needs_review).
	NeedsReview State = "needs_review"
	// PartiallyRefunded and Refunded: money went back to the shopper.
	PartiallyRefunded State = "partially_refunded"
	Refunded          State = "refunded"
	// Disputed: the shopper's bank opened a dispute; DisputeLost: the shop
	// lost it (a dispute won shows the state from before it).
	Disputed    State = "disputed"
	DisputeLost State = "dispute_lost"
)

// States lists every state, in a stable order.
var States = []State{AwaitingPayment, Paid, Failed, Expired, Authorized, Captured, Canceled,
	NeedsReview, PartiallyRefunded, Refunded, Disputed, DisputeLost}

// Valid reports whether s names a state.
func Valid(s string) bool {
	for _, st := range States {
		if string(st) == s {
			return true
		}
	}
	return false
}

// Flows: how the order was paid.
const (
	FlowCheckout      = "checkout"       // a Checkout Session (embedded or hosted)
	FlowConfirmIntent = "confirm_intent" // a PaymentIntent the worker created and confirmed
)

// paymentMoves lists, for each payment state, the payment states it may move
// to. Only moves forward are taken, so an older snapshot arriving late never
// undoes a newer one. paid, captured, expired and canceled are final.
var paymentMoves = map[State][]State{
	AwaitingPayment: {Paid, Failed, Expired, Authorized, Captured, Canceled},
	Failed:          {Paid, Expired, Authorized, Captured, Canceled},
	Authorized:      {Captured, Canceled},
}

// Moves reports whether a payment in state from may move to state to.
func Moves(from, to State) bool {
	for _, s := range paymentMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Dispute outcomes (Order.Dispute).
const (
	DisputeNone = ""
	DisputeOpen = "open"
	DisputeWon  = "won"
	DisputeLoss = "lost"
)

// Fulfillment states of an order.
const (
	FulfillmentNone    = "none"    // not run (not due yet, or released after a failure)
	FulfillmentClaimed = "claimed" // a caller is running the Fulfiller
	FulfillmentDone    = "done"    // the Fulfiller succeeded
)

// Order is a recorded order: what GET /admin/orders shows and what the
// Fulfiller receives. Amounts are in the currency's minor unit.
type Order struct {
	// ID is the paying object's ID: the Checkout Session (cs_...) or, for the
	// confirm-intent flow, the PaymentIntent (pi_...).
	ID string `json:"id"`
	// Ref is the kit's order reference (kit_order, "ord_..."), "" if none.
	Ref string `json:"reference,omitempty"`
	// Reference is the site's own reference (Checkout's client_reference_id
	// from data-checkout-reference), "" if it set none.
	Reference string `json:"client_reference_id,omitempty"`
	Flow      string `json:"flow"`
	// State is derived (see Derive); Payment is the payment's own state.
	State   State `json:"state"`
	Payment State `json:"payment_state"`
	// Review says why the order needs review ("" if it does not).
	Review string `json:"review_reason,omitempty"`
	// Stripe's ids. A Checkout order's PaymentIntent is the one the session
	// paid with; it never changes once recorded.
	SessionID       string `json:"checkout_session,omitempty"`
	PaymentIntentID string `json:"payment_intent,omitempty"`
	Email           string `json:"email,omitempty"`
	Currency        string `json:"currency"`
	// AmountTotal is what the order costs; AmountReceived what was paid
	// (captured); AmountCapturable what is authorized and can still be
	// captured; AmountRefunded what went back to the shopper.
	AmountTotal      int64 `json:"amount_total"`
	AmountReceived   int64 `json:"amount_received"`
	AmountCapturable int64 `json:"amount_capturable"`
	AmountRefunded   int64 `json:"amount_refunded"`
	// Dispute is DisputeNone, DisputeOpen, DisputeWon or DisputeLoss.
	Dispute string `json:"dispute,omitempty"`
	// DeclineCode is the last decline's code as Stripe gave it (fraud codes
	// included: the shopper only ever sees a plain decline).
	DeclineCode string `json:"decline_code,omitempty"`
	Livemode    bool   `json:"livemode"`
	Lines       []Line `json:"lines"`
	// Details are the shipping, phone, custom fields, tax and discounts.
	Details     Details     `json:"details"`
	Fulfillment Fulfillment `json:"fulfillment"`
	// Created and Updated are Unix times (seconds) of the worker's records.
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	// Version counts the order's writes (compare-and-swap in Store.Update).
	Version int64 `json:"-"`
}

// Line is one product of an order, as paid.
type Line struct {
	// Product is the catalog's product id.
	Product     string `json:"product"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
	AmountTotal int64  `json:"amount_total"`
}

// Details are what the shopper gave besides the payment, and how the
// order's total is made beyond its lines. A Line's AmountTotal already
// holds its discounts and tax (Stripe's line item amount_total), so what an
// order costs is its lines plus AmountShipping; AmountTax and
// AmountDiscount are the parts of that total shown to the operator.
type Details struct {
	Shipping       *Shipping     `json:"shipping,omitempty"`
	Phone          string        `json:"phone,omitempty"`
	CustomFields   []CustomField `json:"custom_fields,omitempty"`
	TaxIDs         []TaxID       `json:"tax_ids,omitempty"`
	AmountShipping int64         `json:"amount_shipping,omitempty"`
	AmountTax      int64         `json:"amount_tax,omitempty"`
	AmountDiscount int64         `json:"amount_discount,omitempty"`
	// RecoveryURL is an expired Checkout Session's recovery link (shop
	// abandoned_cart_recovery), for the shop to send to the shopper.
	RecoveryURL string `json:"recovery_url,omitempty"`
}

// Shipping is where an order goes and how.
type Shipping struct {
	Name    string  `json:"name"`
	Phone   string  `json:"phone,omitempty"`
	Address Address `json:"address"`
	// Rate is the catalog's shipping rate id, RateName its display name,
	// Amount what it cost (tax included).
	Rate     string `json:"rate,omitempty"`
	RateName string `json:"rate_name,omitempty"`
	Amount   int64  `json:"amount"`
}

// Address is a postal address in Stripe's fields.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// CustomField is one of the shop's custom fields as the shopper filled it
// ("" for an optional field left empty).
type CustomField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TaxID is a business customer's tax ID as given in Checkout.
type TaxID struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// merge fills what d lacks from in: a payment's details do not change once
// given, and a later snapshot (an expired session's) may add the recovery
// link.
func (d *Details) merge(in *Details) {
	if d.Shipping == nil {
		d.Shipping = in.Shipping
	}
	if d.Phone == "" {
		d.Phone = in.Phone
	}
	if d.CustomFields == nil {
		d.CustomFields = in.CustomFields
	}
	if d.TaxIDs == nil {
		d.TaxIDs = in.TaxIDs
	}
	d.AmountShipping = max(d.AmountShipping, in.AmountShipping)
	d.AmountTax = max(d.AmountTax, in.AmountTax)
	d.AmountDiscount = max(d.AmountDiscount, in.AmountDiscount)
	if d.RecoveryURL == "" {
		d.RecoveryURL = in.RecoveryURL
	}
}

// Fulfillment is how far the order's fulfillment got.
type Fulfillment struct {
	Status string `json:"status"` // FulfillmentNone, FulfillmentClaimed or FulfillmentDone
	// Attempts counts the times the Fulfiller was started for the order.
	Attempts int64 `json:"attempts"`
	// At is when it succeeded (Unix seconds), 0 until then.
	At int64 `json:"fulfilled_at,omitempty"`
}

// Fulfillable reports whether the order is due for fulfillment: its money
// has arrived and nothing stands against it.
func (o *Order) Fulfillable() bool { return o.State == Paid || o.State == Captured }

// Holds reports whether the order keeps its stock: anything placed and not
// ended (a delayed payment keeps it until it settles or fails).
func (o *Order) Holds() bool {
	switch o.State {
	case Failed, Expired, Canceled, Refunded:
		return false
	}
	return true
}

// Derive sets State from the order's facts.
func (o *Order) Derive() {
	switch {
	case o.Dispute == DisputeOpen:
		o.State = Disputed
	case o.Dispute == DisputeLoss:
		o.State = DisputeLost
	case o.AmountRefunded > 0 && o.AmountRefunded >= o.AmountReceived:
		o.State = Refunded
	case o.AmountRefunded > 0:
		o.State = PartiallyRefunded
	case o.Review != "":
		o.State = NeedsReview
	default:
		o.State = o.Payment
	}
}

// paid reports whether the payment's money has arrived.
func (o *Order) paid() bool { return o.Payment == Paid || o.Payment == Captured }

// Merge applies in, a newer or older snapshot of the same paying object, to
// o. It reports whether anything changed. in.ID must equal o.ID: records
// about other objects are never merged (the caller checks).
func (o *Order) Merge(in *Order) bool {
	before := *o
	switch {
	case Moves(o.Payment, in.Payment):
		o.Payment = in.Payment
		o.AmountReceived, o.AmountCapturable = in.AmountReceived, in.AmountCapturable
	case o.Payment == in.Payment:
		// Amounts only grow within a state (incremental authorization).
		o.AmountReceived = max(o.AmountReceived, in.AmountReceived)
		o.AmountCapturable = max(o.AmountCapturable, in.AmountCapturable)
	}
	o.AmountTotal = max(o.AmountTotal, in.AmountTotal)
	o.AmountRefunded = max(o.AmountRefunded, in.AmountRefunded)
	if o.PaymentIntentID == "" {
		o.PaymentIntentID = in.PaymentIntentID
	}
	if o.SessionID == "" {
		o.SessionID = in.SessionID
	}
	if o.Ref == "" {
		o.Ref = in.Ref
	}
	if o.Email == "" {
		o.Email = in.Email
	}
	if o.Reference == "" {
		o.Reference = in.Reference
	}
	if o.Currency == "" {
		o.Currency = in.Currency
	}
	if len(o.Lines) == 0 {
		o.Lines = in.Lines
	}
	o.Details.merge(&in.Details)
	if in.DeclineCode != "" && !o.paid() {
		o.DeclineCode = in.DeclineCode
	}
	o.Livemode = o.Livemode || in.Livemode
	if o.Review == "" {
		o.Review = in.Review
	}
	o.mergeDispute(in.Dispute)
	o.Check()
	o.Derive()
	return !o.same(&before)
}

// mergeDispute moves the dispute from none to open to won or lost; a later
// dispute on the same payment opens again.
func (o *Order) mergeDispute(d string) {
	switch {
	case d == DisputeNone || d == o.Dispute:
	case o.Dispute == DisputeNone:
		o.Dispute = d
	case o.Dispute == DisputeOpen && (d == DisputeWon || d == DisputeLoss):
		o.Dispute = d
	}
}

func (o *Order) same(b *Order) bool {
	if len(o.Lines) != len(b.Lines) {
		return false
	}
	for i := range o.Lines {
		if o.Lines[i] != b.Lines[i] {
			return false
		}
	}
	return o.ID == b.ID && o.Ref == b.Ref && o.Flow == b.Flow && o.State == b.State && o.Payment == b.Payment &&
		o.Review == b.Review && o.SessionID == b.SessionID && o.PaymentIntentID == b.PaymentIntentID &&
		o.Email == b.Email && o.Currency == b.Currency && o.AmountTotal == b.AmountTotal &&
		o.AmountReceived == b.AmountReceived && o.AmountCapturable == b.AmountCapturable &&
		o.AmountRefunded == b.AmountRefunded && o.Dispute == b.Dispute && o.DeclineCode == b.DeclineCode &&
		o.Livemode == b.Livemode && o.Reference == b.Reference && o.Details.same(&b.Details)
}

// same compares details as merge changes them: it only fills what is
// missing, so an empty part becoming set is the only change there is.
func (d *Details) same(b *Details) bool {
	return (d.Shipping == nil) == (b.Shipping == nil) && d.Phone == b.Phone &&
		(d.CustomFields == nil) == (b.CustomFields == nil) && (d.TaxIDs == nil) == (b.TaxIDs == nil) &&
		d.AmountShipping == b.AmountShipping && d.AmountTax == b.AmountTax && d.AmountDiscount == b.AmountDiscount &&
		d.RecoveryURL == b.RecoveryURL
}

// Check compares what arrived with what the lines say was bought, once the
// money has arrived, and sets Review when they differ. Automatic payments
// must match exactly; a manual capture may take more than the lines (an
// incremental authorization for a late return) but never less.
func (o *Order) Check() {
	if o.Review != "" || !o.paid() {
		return
	}
	want := o.Details.AmountShipping
	for _, l := range o.Lines {
		want += l.AmountTotal
	}
	switch {
	case len(o.Lines) == 0:
		o.Review = "no_lines"
	case o.AmountReceived < want:
		o.Review = "amount_received_below_lines: received " + strconv.FormatInt(o.AmountReceived, 10) + ", lines " + strconv.FormatInt(want, 10)
	case o.AmountReceived > want && o.Payment != Captured:
		o.Review = "amount_received_above_lines: received " + strconv.FormatInt(o.AmountReceived, 10) + ", lines " + strconv.FormatInt(want, 10)
	}
}

// Query selects orders for Store.List: newest first, optionally in one
// state, at most Limit, after the cursor of a previous page.
type Query struct {
	State State
	Limit int
	After *Cursor
}

// Cursor is the position after an order in List's sort order.
type Cursor struct {
	Created int64
	ID      string
}

// ValidRef accepts order references as the worker makes them.
func ValidRef(ref string) bool {
	if !strings.HasPrefix(ref, "ord_") || len(ref) > 64 || len(ref) < 5 {
		return false
	}
	for _, c := range ref[4:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
