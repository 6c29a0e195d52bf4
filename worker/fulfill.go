package worker

// Fulfillment: turning what Stripe says about a Checkout Session or a
// PaymentIntent into a recorded order, and running the shop's Fulfiller once
// per order when its money has arrived.
//
// One routine, recordOrder, serves every caller: the webhook (webhook.go) and
// the return page's GET /session-status (checkout.go calls
// fulfillAfterStatus). It saves the order (Store.SaveOrder merges and only
// moves states forward) and, if the order is due, claims its fulfillment with
// one conditional update; the one caller that wins runs the Fulfiller, then
// marks it done, or on failure releases the claim so that a retry runs it
// again. A claim left behind by a worker that died mid-way is taken over
// after fulfillmentClaimTTL.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Fulfiller is the shop's action for an order whose money has arrived (state
// paid or captured): send an email, call a URL, start shipping. The worker
// calls it once per order; if it returns an error the order stays
// unfulfilled and the next delivery of a Stripe event for the order (Stripe
// retries failed webhooks for up to three days) runs it again. If the worker
// dies after the action but before recording its success, it runs again after
// fulfillmentClaimTTL: make the action idempotent on the order's ID.
type Fulfiller interface {
	Fulfill(ctx context.Context, o *OrderRecord) error
}

// FulfillerFunc adapts a function to Fulfiller.
type FulfillerFunc func(ctx context.Context, o *OrderRecord) error

func (f FulfillerFunc) Fulfill(ctx context.Context, o *OrderRecord) error { return f(ctx, o) }

// Fulfillers runs several Fulfillers in order; the first error stops it (and
// the whole list runs again on the retry).
type Fulfillers []Fulfiller

func (fs Fulfillers) Fulfill(ctx context.Context, o *OrderRecord) error {
	for _, f := range fs {
		if err := f.Fulfill(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// LogFulfiller logs one line per fulfilled order (no email address).
type LogFulfiller struct{}

func (LogFulfiller) Fulfill(ctx context.Context, o *OrderRecord) error {
	var items int64
	for _, l := range o.Lines {
		items += l.Quantity
	}
	log.Printf("fulfill order %s: %s, %s, %d item(s) in %d line(s), session=%s payment_intent=%s",
		o.ID, o.State, formatMinor(o.AmountTotal, o.Currency), items, len(o.Lines), o.SessionID, o.PaymentIntentID)
	return nil
}

// URLFulfiller POSTs the order as JSON ({"type":"order.fulfill","order":{...}},
// the order as GET /admin/orders/{id} shows it) to a URL, the
// FULFILLMENT_WEBHOOK_URL setting. Headers: Idempotency-Key: the order id;
// with a Secret, Kit-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>, Stripe's scheme, so the receiver can verify it the same
// way (e.g. stripe-go's webhook.ValidatePayload). Any answer but 2xx, or no
// answer within 10 s, is a failure.
type URLFulfiller struct {
	URL    string
	Secret string
	Client *http.Client
}

// urlFulfillerTimeout bounds the call to FULFILLMENT_WEBHOOK_URL.
const urlFulfillerTimeout = 10 * time.Second

func (u *URLFulfiller) Fulfill(ctx context.Context, o *OrderRecord) error {
	body, err := json.Marshal(struct {
		Type  string       `json:"type"`
		Order *OrderRecord `json:"order"`
	}{"order.fulfill", o})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, urlFulfillerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", o.ID)
	if u.Secret != "" {
		now := time.Now()
		sig := webhook.ComputeSignature(now, body, u.Secret)
		req.Header.Set("Kit-Signature", "t="+strconv.FormatInt(now.Unix(), 10)+",v1="+hex.EncodeToString(sig))
	}
	res, err := u.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fulfillment URL: %w", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("fulfillment URL answered %d", res.StatusCode)
	}
	return nil
}

// SetStore gives the worker its order store (nil: no orders are recorded, and
// /webhook and /admin/orders answer 503). The store also counts sold stock.
func (s *Server) SetStore(st Store) {
	s.store = st
	if st != nil {
		s.SetSoldCounter(st)
	} else {
		s.SetSoldCounter(nil)
	}
}

// SetFulfiller replaces the worker's Fulfiller (by default LogFulfiller, then
// a URLFulfiller when FULFILLMENT_WEBHOOK_URL is set).
func (s *Server) SetFulfiller(f Fulfiller) { s.fulfiller = f }

// defaultFulfiller is the built-in Fulfiller for cfg.
func defaultFulfiller(cfg Config, client *http.Client) Fulfiller {
	fs := Fulfillers{LogFulfiller{}}
	if cfg.FulfillmentURL != "" {
		fs = append(fs, &URLFulfiller{URL: cfg.FulfillmentURL, Secret: cfg.FulfillmentSecret, Client: client})
	}
	return fs
}

// fulfillmentClaimTTL is how long a claim protects a running Fulfiller; after
// it, a claim left by a worker that died is taken over.
const fulfillmentClaimTTL = 2 * time.Minute

// errFulfillmentBusy: another caller holds the order's fulfillment right now.
var errFulfillmentBusy = &apiError{Status: http.StatusServiceUnavailable, Code: "fulfillment_in_progress",
	Message: "the order's fulfillment is running in another request; retry later"}

// recordOrder saves o and, if the stored order is due, runs the Fulfiller
// exactly once across all callers. It returns the stored order. Errors:
// errFulfillmentBusy when another caller is fulfilling the order (its outcome
// is unknown yet), a store error, or the Fulfiller's error (the claim is
// released so that a retry runs it again).
func (s *Server) recordOrder(ctx context.Context, o *OrderRecord) (*OrderRecord, error) {
	now := time.Now()
	o.Created, o.Updated = now.Unix(), now.Unix()
	stored, err := s.store.SaveOrder(ctx, o)
	if err != nil {
		return nil, err
	}
	if !stored.State.fulfillable() || stored.Fulfillment.Status == FulfillmentDone {
		return stored, nil
	}
	claim := newClaim()
	won, err := s.store.ClaimFulfillment(ctx, stored.ID, claim, now, now.Add(-fulfillmentClaimTTL))
	if err != nil {
		return nil, err
	}
	if !won {
		// Done in the meantime, or running elsewhere.
		cur, err := s.store.Order(ctx, stored.ID)
		if err != nil {
			return nil, err
		}
		if cur != nil && cur.Fulfillment.Status == FulfillmentDone {
			return cur, nil
		}
		return nil, errFulfillmentBusy
	}
	full, err := s.store.Order(ctx, stored.ID)
	if err == nil && full == nil {
		err = errors.New("order " + stored.ID + " vanished")
	}
	if err == nil {
		err = s.fulfiller.Fulfill(ctx, full)
	}
	if err != nil {
		log.Printf("fulfillment of order %s failed (it will run again on Stripe's retry): %v", stored.ID, err)
		if rerr := s.store.ReleaseFulfillment(ctx, stored.ID, claim); rerr != nil {
			log.Printf("releasing the fulfillment claim of order %s: %v (it expires in %s)", stored.ID, rerr, fulfillmentClaimTTL)
		}
		return nil, fmt.Errorf("fulfill order %s: %w", stored.ID, err)
	}
	done, err := s.store.FinishFulfillment(ctx, stored.ID, claim, time.Now())
	if err != nil {
		return nil, err
	}
	if !done {
		// Our claim expired and another caller took it over: both ran.
		log.Printf("fulfillment of order %s outlived its claim (%s); it may have run twice", stored.ID, fulfillmentClaimTTL)
	}
	full.Fulfillment.Status = FulfillmentDone
	return full, nil
}

func newClaim() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// ---------------------------------------------------------------------------
// Checkout Sessions

// sessionRecord is what fulfillment reads of a Checkout Session retrieved
// with expand[]=line_items and expand[]=payment_intent.
type sessionRecord struct {
	stripe.APIResource
	ID              string            `json:"id"`
	Mode            string            `json:"mode"`
	Status          string            `json:"status"`
	PaymentStatus   string            `json:"payment_status"`
	Currency        string            `json:"currency"`
	AmountTotal     int64             `json:"amount_total"`
	Livemode        bool              `json:"livemode"`
	CustomerEmail   string            `json:"customer_email"`
	Metadata        map[string]string `json:"metadata"`
	CustomerDetails *struct {
		Email string `json:"email"`
	} `json:"customer_details"`
	PaymentIntent *intentRef     `json:"payment_intent"`
	LineItems     *lineItemsList `json:"line_items"`
}

type lineItemsList struct {
	stripe.APIResource
	Data    []lineItem `json:"data"`
	HasMore bool       `json:"has_more"`
}

type lineItem struct {
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	AmountTotal int64  `json:"amount_total"`
	Price       *struct {
		UnitAmount int64 `json:"unit_amount"`
	} `json:"price"`
}

// intentRecord is what fulfillment reads of a PaymentIntent (an event's
// object, or a session's expanded payment_intent). These fields are the same
// in every Stripe API version since 2019.
type intentRecord struct {
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	CaptureMethod    string            `json:"capture_method"`
	Currency         string            `json:"currency"`
	Amount           int64             `json:"amount"`
	AmountReceived   int64             `json:"amount_received"`
	AmountCapturable int64             `json:"amount_capturable"`
	ReceiptEmail     string            `json:"receipt_email"`
	Livemode         bool              `json:"livemode"`
	Metadata         map[string]string `json:"metadata"`
	LastPaymentError *struct {
		Code string `json:"code"`
	} `json:"last_payment_error"`
}

// intentRef is a session's payment_intent: an id, or the object when expanded.
type intentRef struct {
	ID     string
	Object *intentRecord
}

func (r *intentRef) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &r.ID)
	case len(b) > 0 && b[0] == '{':
		r.Object = &intentRecord{}
		if err := json.Unmarshal(b, r.Object); err != nil {
			return err
		}
		r.ID = r.Object.ID
	}
	return nil
}

// metaFlow is the metadata key naming the order's flow (FlowCheckout or
// FlowConfirmIntent), set with kit_order and kit_cart (payments.go).
const metaFlow = "kit_flow"

// sessionState is the order state a Checkout Session stands for, or "" for
// a session that is still open (nothing to record) or not a payment.
func sessionState(sess *sessionRecord, eventType string) OrderState {
	var pi *intentRecord
	if sess.PaymentIntent != nil {
		pi = sess.PaymentIntent.Object
	}
	switch sess.Status {
	case "expired":
		return StateExpired
	case "complete":
	default:
		return ""
	}
	switch sess.PaymentStatus {
	case "paid":
		if pi != nil && pi.CaptureMethod == "manual" {
			return StateCaptured
		}
		return StatePaid
	case "no_payment_required":
		return StatePaid
	}
	// Complete but unpaid: a delayed payment, or funds only authorized.
	if pi != nil {
		if st := intentState(pi); st != "" {
			return st
		}
	}
	if eventType == "checkout.session.async_payment_failed" {
		return StateFailed
	}
	return StateAwaitingPayment
}

// intentState is the order state a PaymentIntent stands for, "" if none.
func intentState(pi *intentRecord) OrderState {
	switch pi.Status {
	case "succeeded":
		if pi.CaptureMethod == "manual" {
			return StateCaptured
		}
		return StatePaid
	case "requires_capture":
		return StateAuthorized
	case "canceled":
		return StateCanceled
	case "processing":
		return StateAwaitingPayment
	case "requires_payment_method":
		if pi.LastPaymentError != nil {
			return StateFailed
		}
	}
	return ""
}

// retrieveSession reads a Checkout Session with its line items and
// PaymentIntent.
func (s *Server) retrieveSession(ctx context.Context, id string) (*sessionRecord, error) {
	params := &stripe.CheckoutSessionRetrieveParams{}
	params.AddExpand("line_items")
	params.AddExpand("payment_intent")
	params.Context = ctx
	var sess sessionRecord
	if err := s.api.Call(http.MethodGet, stripe.FormatURLPath("/v1/checkout/sessions/%s", id), s.cfg.SecretKey, params, &sess); err != nil {
		return nil, fromStripe(err, "checkout session")
	}
	if sess.LineItems != nil && sess.LineItems.HasMore {
		// The expansion holds the first page only.
		all, err := s.listLineItems(ctx, id)
		if err != nil {
			return nil, err
		}
		sess.LineItems = all
	}
	return &sess, nil
}

// lineItemsParams are the list's parameters. stripe-go's own
// CheckoutSessionListLineItemsParams cannot go through Backend.Call (which
// looks for a Metadata field that list parameters lack, and panics).
type lineItemsParams struct {
	stripe.Params `form:"*"`
	Limit         *int64 `form:"limit"`
}

// listLineItems reads a session's line items: an order has at most
// maxCartLines lines, one page of 100.
func (s *Server) listLineItems(ctx context.Context, id string) (*lineItemsList, error) {
	lp := &lineItemsParams{Limit: stripe.Int64(100)}
	lp.Context = ctx
	var all lineItemsList
	if err := s.api.Call(http.MethodGet, stripe.FormatURLPath("/v1/checkout/sessions/%s/line_items", id), s.cfg.SecretKey, lp, &all); err != nil {
		return nil, fromStripe(err, "checkout session line items")
	}
	return &all, nil
}

// sessionOrder is the order a Checkout Session stands for (nil: none yet).
func (s *Server) sessionOrder(sess *sessionRecord, eventType string) *OrderRecord {
	if sess.Mode != "" && sess.Mode != "payment" {
		return nil
	}
	state := sessionState(sess, eventType)
	if state == "" {
		return nil
	}
	o := &OrderRecord{ID: sess.ID, Flow: FlowCheckout, State: state, SessionID: sess.ID, Email: sess.CustomerEmail,
		Currency: sess.Currency, AmountTotal: sess.AmountTotal, Livemode: sess.Livemode}
	if ref := sess.Metadata[metaOrder]; validOrderRef(ref) {
		o.ID = ref
	}
	if sess.CustomerDetails != nil && sess.CustomerDetails.Email != "" {
		o.Email = sess.CustomerDetails.Email
	}
	if sess.PaymentIntent != nil {
		o.PaymentIntentID = sess.PaymentIntent.ID
		if pi := sess.PaymentIntent.Object; pi != nil {
			o.AmountReceived, o.AmountCapturable = pi.AmountReceived, pi.AmountCapturable
		}
	}
	if state == StatePaid && o.PaymentIntentID == "" { // nothing was due
		o.AmountReceived = o.AmountTotal
	}
	cart := parseCartMeta(sess.Metadata[metaCart])
	if sess.LineItems != nil {
		for i, li := range sess.LineItems.Data {
			l := RecordLine{Description: li.Description, Quantity: li.Quantity, AmountTotal: li.AmountTotal}
			if li.Price != nil {
				l.UnitAmount = li.Price.UnitAmount
			}
			// The cart and the line items are built from the same lines,
			// in the same order (checkout.go).
			if len(cart) == len(sess.LineItems.Data) && cart[i].Quantity == li.Quantity {
				l.Product = cart[i].Product
			} else if id := productByName(s.cfg.Catalog, li.Description); id != "" {
				l.Product = id
			}
			o.Lines = append(o.Lines, l)
		}
	} else {
		o.Lines = s.cartLines(cart)
	}
	return o
}

// productByName finds the catalog product a line item describes (Checkout's
// line item description is the product's name), "" if none or several.
func productByName(c *Catalog, name string) string {
	found := ""
	for i := range c.Products {
		if c.Products[i].Name == name {
			if found != "" {
				return ""
			}
			found = c.Products[i].ID
		}
	}
	return found
}

// cartLines prices a kit_cart from the catalog (for orders known only from a
// PaymentIntent).
func (s *Server) cartLines(cart []RecordLine) []RecordLine {
	for i := range cart {
		if p, ok := s.cfg.Catalog.Lookup(cart[i].Product); ok {
			cart[i].Description, cart[i].UnitAmount = p.Name, p.UnitAmount
			cart[i].AmountTotal = p.UnitAmount * cart[i].Quantity
		}
	}
	return cart
}

// validOrderRef accepts order references as payments.go makes them (and
// nothing that could not be an id).
func validOrderRef(ref string) bool { return hasIDPrefix(ref, "ord_") && len(ref) <= 64 }

// fulfillSession records the order of Checkout Session id, as Stripe has it
// now, and fulfills it if due. It returns nil for a session with nothing to
// record (open, or not a payment).
func (s *Server) fulfillSession(ctx context.Context, id, eventType string) (*OrderRecord, error) {
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
	if o, err := s.store.Order(ctx, sessionID); err == nil && o != nil &&
		(o.Fulfillment.Status == FulfillmentDone || o.State == StateExpired || o.State == StateCanceled) {
		return
	}
	if _, err := s.fulfillSession(ctx, sessionID, ""); err != nil && err != errFulfillmentBusy {
		log.Printf("session-status: recording the order of %s: %v", sessionID, err)
	}
}

// ---------------------------------------------------------------------------
// PaymentIntents

// fulfillIntent applies a PaymentIntent event's object. It returns the order
// it recorded, or nil if the PaymentIntent is not (or not yet) an order's:
//
//   - an order with its kit_order, or with its id, is updated;
//   - otherwise a PaymentIntent of the confirm-intent flow (kit_order and
//     kit_cart, kit_flow not "checkout") makes a new order;
//   - a Checkout Session's PaymentIntent whose order is not recorded yet is
//     left to the session's own event (checkout.session.completed reads the
//     PaymentIntent's state), so that Checkout orders are made from the
//     session, with its line items and email;
//   - PaymentIntents without kit metadata that match no order are not the
//     kit's (an invoice, a payment from the Dashboard).
func (s *Server) fulfillIntent(ctx context.Context, pi *intentRecord, eventType string) (*OrderRecord, error) {
	state := intentState(pi)
	if eventType == "payment_intent.payment_failed" && (state == "" || state == StateAwaitingPayment) {
		state = StateFailed
	}
	if state == "" {
		return nil, nil
	}
	ref := pi.Metadata[metaOrder]
	if !validOrderRef(ref) {
		ref = ""
	}
	key := ref
	if key == "" {
		key = pi.ID
	}
	cur, err := s.store.Order(ctx, key)
	if err != nil {
		return nil, err
	}
	if cur == nil && ref != "" {
		// A Checkout order recorded before PAYMENTS set kit_order carries
		// only the PaymentIntent's id.
		if cur, err = s.store.Order(ctx, pi.ID); err != nil {
			return nil, err
		}
	}
	o := &OrderRecord{State: state, PaymentIntentID: pi.ID, Email: pi.ReceiptEmail, Currency: pi.Currency, AmountTotal: pi.Amount,
		AmountReceived: pi.AmountReceived, AmountCapturable: pi.AmountCapturable, Livemode: pi.Livemode}
	switch {
	case cur != nil && cur.PaymentIntentID != "" && cur.PaymentIntentID != pi.ID:
		// An earlier PaymentIntent of the order (a session's first attempt,
		// canceled): its events say nothing about the order any more.
		return nil, nil
	case cur != nil:
		o.ID, o.Flow = cur.ID, cur.Flow
	case ref != "" && pi.Metadata[metaFlow] != FlowCheckout:
		o.ID, o.Flow = ref, FlowConfirmIntent
		o.Lines = s.cartLines(parseCartMeta(pi.Metadata[metaCart]))
	default:
		return nil, nil
	}
	return s.recordOrder(ctx, o)
}
