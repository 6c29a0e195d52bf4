package worker

// Fulfillment: recording what Stripe says about an order's paying object
// (records.go turns Checkout Sessions, PaymentIntents, charges and disputes
// into orders.Order snapshots) and running the shop's Fulfiller once per
// order when its money has arrived.
//
// One routine, recordOrder, serves every caller: the webhook (webhook.go),
// the return page's GET /session-status (checkout.go calls
// fulfillAfterStatus) and the operator's refunds. It merges the snapshot into
// the stored order with the rules of package orders (compare-and-swap,
// retried on conflict), keeps the order's stock hold in step with it, and,
// if the order is due, claims its fulfillment with one conditional update;
// the one caller that wins runs the Fulfiller, then marks it done, or on
// failure releases the claim so that a retry runs it again. A claim left
// behind by a worker that died mid-way is taken over after
// fulfillmentClaimTTL.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"

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
	Fulfill(ctx context.Context, o *orders.Order) error
}

// FulfillerFunc adapts a function to Fulfiller.
type FulfillerFunc func(ctx context.Context, o *orders.Order) error

func (f FulfillerFunc) Fulfill(ctx context.Context, o *orders.Order) error { return f(ctx, o) }

// Fulfillers runs several Fulfillers in order; the first error stops it (and
// the whole list runs again on the retry).
type Fulfillers []Fulfiller

func (fs Fulfillers) Fulfill(ctx context.Context, o *orders.Order) error {
	for _, f := range fs {
		if err := f.Fulfill(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// LogFulfiller logs one line per fulfilled order (no email address).
type LogFulfiller struct{}

func (LogFulfiller) Fulfill(ctx context.Context, o *orders.Order) error {
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
// answer within 10 s, is a failure; redirects are not followed (a 3xx is a
// failure too: the order goes to the URL the shop configured or nowhere).
type URLFulfiller struct {
	URL    string
	Secret string
	// Transport sends the POST (on Workers, the fetch transport); nil:
	// stripeapi.DefaultTransport().
	Transport http.RoundTripper
}

// urlFulfillerTimeout bounds the call to FULFILLMENT_WEBHOOK_URL.
const urlFulfillerTimeout = 10 * time.Second

func (u *URLFulfiller) Fulfill(ctx context.Context, o *orders.Order) error {
	body, err := json.Marshal(struct {
		Type  string        `json:"type"`
		Order *orders.Order `json:"order"`
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
	rt := u.Transport
	if rt == nil {
		rt = stripeapi.DefaultTransport()
	}
	res, err := rt.RoundTrip(req)
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

// defaultFulfiller is the built-in Fulfiller for cfg.
func defaultFulfiller(cfg Config, rt http.RoundTripper) Fulfiller {
	fs := Fulfillers{LogFulfiller{}}
	if cfg.FulfillmentURL != "" {
		fs = append(fs, &URLFulfiller{URL: cfg.FulfillmentURL, Secret: cfg.FulfillmentSecret, Transport: rt})
	}
	return fs
}

// fulfillmentClaimTTL is how long a claim protects a running Fulfiller; after
// it, a claim left by a worker that died is taken over.
const fulfillmentClaimTTL = 2 * time.Minute

// maxWriteAttempts bounds recordOrder's compare-and-swap retries.
const maxWriteAttempts = 8

// errFulfillmentBusy: another caller holds the order's fulfillment right now.
var errFulfillmentBusy = &apiError{Status: http.StatusServiceUnavailable, Code: "fulfillment_in_progress",
	Message: "the order's fulfillment is running in another request; retry later"}

// reviewOversold is the review reason of an order paid after its stock hold
// lapsed, when the stock had gone to someone else.
const reviewOversold = "out_of_stock_at_payment"

// recordOrder merges in, a snapshot of one paying object's order, into the
// stored order with that ID (or creates it), keeps its stock hold in step,
// and, if the order is due, runs the Fulfiller exactly once across all
// callers. It returns the stored order, or nil when in's paying object or
// session belongs to another order (a record never merges into an order of
// another object). Errors: errFulfillmentBusy when another caller is
// fulfilling the order (its outcome is unknown yet), a store error, or the
// Fulfiller's error (the claim is released so that a retry runs it again).
func (s *Server) recordOrder(ctx context.Context, in *orders.Order) (*orders.Order, error) {
	now := time.Now()
	in.Created, in.Updated = now.Unix(), now.Unix()
	var stored *orders.Order
	for attempt := 0; stored == nil; attempt++ {
		if attempt == maxWriteAttempts {
			return nil, orders.ErrConflict
		}
		cur, err := s.store.Get(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		if cur != nil && cur.ID != in.ID {
			// The key found another order (in's PaymentIntent or session is
			// recorded as that order's): not the same paying object.
			log.Printf("order %s: its Stripe objects belong to order %s; not merged", in.ID, cur.ID)
			return nil, nil
		}
		next, ok := *in, true
		switch {
		case cur == nil:
			next.Version = 1
			next.Check()
			next.Derive()
			ok, err = s.store.Create(ctx, &next)
		default:
			next = *cur
			if next.Merge(in) {
				next.Updated = now.Unix()
				ok, err = s.store.Update(ctx, &next) // compare-and-swap on the version read
				next.Version++
			}
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // another write came first: read it and merge again
		}
		// The stock follows the order as written, at its version: of two
		// racing writers only the one whose write won syncs the hold for
		// that version, and a sync older than the hold's is ignored. An
		// unchanged order syncs again at its own version, which is a no-op
		// unless an earlier sync was lost (a worker that died between).
		oversold, err := s.syncStock(ctx, &next, now)
		if err != nil {
			return nil, err
		}
		if oversold && next.Review == "" {
			log.Printf("order %s was paid after its stock hold lapsed, and the stock is gone: needs review", next.ID)
			next.Review = reviewOversold
			next.Derive()
			next.Updated = now.Unix()
			if ok, err = s.store.Update(ctx, &next); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			next.Version++
		}
		stored = &next
	}
	return s.fulfill(ctx, stored, now)
}

// syncStock keeps the order's stock hold in step with the order as stored at
// o.Version: committed while the order holds stock, released when it ends.
// It reports an order paid after its hold lapsed whose stock went to someone
// else meanwhile (it needs review).
func (s *Server) syncStock(ctx context.Context, o *orders.Order, now time.Time) (oversold bool, err error) {
	lines := s.stockLines(o.Lines)
	if len(lines) == 0 {
		return false, nil
	}
	hold := o.Ref
	if hold == "" {
		hold = o.ID
	}
	r, err := s.store.SyncHold(ctx, hold, o.ID, o.Version, o.Holds(), lines, now)
	return r == orders.Oversold, err
}

// stockLines are the stocked products among lines, with the catalog's stock.
func (s *Server) stockLines(lines []orders.Line) []orders.StockLine {
	var out []orders.StockLine
	for _, l := range lines {
		if p, ok := s.cfg.Catalog.Lookup(l.Product); ok && p.Stock != nil && l.Quantity > 0 {
			out = append(out, orders.StockLine{Product: p.ID, Quantity: l.Quantity, Stock: *p.Stock})
		}
	}
	return out
}

// fulfill runs the Fulfiller for a stored order if it is due, once across
// all callers.
func (s *Server) fulfill(ctx context.Context, stored *orders.Order, now time.Time) (*orders.Order, error) {
	if !stored.Fulfillable() || stored.Fulfillment.Status == orders.FulfillmentDone {
		return stored, nil
	}
	claim := newClaim()
	won, err := s.store.ClaimFulfillment(ctx, stored.ID, claim, now, now.Add(-fulfillmentClaimTTL))
	if err != nil {
		return nil, err
	}
	if !won {
		// Done in the meantime, running elsewhere, or no longer due.
		cur, err := s.store.Get(ctx, stored.ID)
		if err != nil {
			return nil, err
		}
		if cur != nil && (cur.Fulfillment.Status == orders.FulfillmentDone || !cur.Fulfillable()) {
			return cur, nil
		}
		return nil, errFulfillmentBusy
	}
	// The order as stored, with its claim: no need to read it again (its
	// row holds the lines).
	full := *stored
	full.Fulfillment.Status = orders.FulfillmentClaimed
	full.Fulfillment.Attempts++
	err = s.fulfiller.Fulfill(ctx, &full)
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
	full.Fulfillment.Status, full.Fulfillment.At = orders.FulfillmentDone, time.Now().Unix()
	return &full, nil
}

func newClaim() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// errNoStore is what the order endpoints answer without a store.
var errNoStore = &apiError{Status: 503, Code: "orders_unavailable",
	Message: "orders are not recorded: the worker has no D1 database bound as DB (see README: Webhooks and orders)"}
