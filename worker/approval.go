package worker

// Approval rules: the shop's own decision, on the server, whether an order may
// go on to payment ("manually approve payments on your server" in Stripe's
// guides). They run after the cart is validated and priced from the catalog
// and before anything is created at Stripe:
//
//   - POST /create-checkout-session: before the Checkout Session is created;
//   - POST /create-confirm-intent: before the PaymentIntent is created and
//     confirmed with the shopper's ConfirmationToken.
//
// A refusal answers the shopper with a 4xx naming the reason and creates
// nothing at Stripe. After authorization, a manual-capture order is approved
// or rejected by the operator: capture = approve, cancel = reject
// (admin_payments.go).
//
// Stripe's own Checkout Session approval (approval_method with
// POST /v1/checkout/sessions/{id}/approve) is a private preview that stripe-go
// v82 and stripe-mock do not have. The rules are written against Order, not
// against a request, so that when it becomes available the same rules can run
// a second time at Stripe's approval step with what Checkout collected (the
// email and country the shopper typed) and the worker can answer approve or
// reject; that stage would be a new Order.Stage value. Nothing here pretends
// to do it today.

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Order stages: when the rules run.
const (
	// StageBeforeCreate: before the Checkout Session or PaymentIntent exists.
	StageBeforeCreate = "before_create"
)

// Order flows.
const (
	FlowCheckout      = "checkout"
	FlowConfirmIntent = "confirm_intent"
)

// Order is what the approval rules see: a validated cart priced from the
// catalog and what is known about the shopper.
type Order struct {
	// Ref is the order reference (kit_order), also on Stripe's objects.
	Ref string
	// Flow is FlowCheckout or FlowConfirmIntent; Stage is StageBeforeCreate.
	Flow, Stage string
	// Lines are the cart's products and quantities, in request order.
	Lines []orderLine
	// Currency and Amount: the order's total in minor units, from the catalog.
	Currency string
	Amount   int64
	// Capture is CaptureAutomatic or CaptureManual (one per order).
	Capture string
	// Incremental: the order asks for incremental authorization.
	Incremental bool
	// SavePaymentMethod: a product asks to save the payment method.
	SavePaymentMethod bool
	// Email is the shopper's email when the request gave one (lower-case
	// domain), else "".
	Email string
	// Country is the country the request declared (its country field), and
	// IPCountry the one Cloudflare derived from the shopper's IP address
	// (CF-IPCountry); either may be "".
	Country, IPCountry string
	// Customer is the Stripe customer of a verified customerToken, else "".
	Customer string
	// Reference is the site's own reference (client_reference_id) and
	// PromotionCode the promotion code the request applies, else "".
	Reference, PromotionCode string
	// PaymentMethod is the pay page's chosen payment method (its
	// ConfirmationToken's preview); nil in Checkout, where the shopper
	// chooses after the session exists (card_rules.go).
	PaymentMethod *PaymentMethodPreview
	// ShippingCountry is where the order ships (ISO 3166-1 alpha-2), "" if
	// not known.
	ShippingCountry string
	// idemKey is the base of the order's idempotency keys (payments.go).
	idemKey string
	// goods is what the products ask for beyond payment: shipping, phone,
	// custom fields, texts (goods.go).
	goods *goodsPlan
	// shipRate and fields: the pay page's chosen rate (in Amount) and
	// custom fields, URL-encoded (goods_intent.go).
	shipRate *plannedRate
	fields   string
	// held: the order's stock is reserved under Ref (stock.go).
	held bool
	// expires is when a Checkout Session for the order expires, and the
	// stock hold of either flow with it (orderRef).
	expires time.Time
}

// Cart is the order as "productId:qty:unitAmount,..." (metadata kit_cart):
// what was sold at which price, recorded on the Stripe object that is paid.
func (o *Order) Cart() string {
	var b strings.Builder
	for i, l := range o.Lines {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Product.ID)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(l.Quantity, 10))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(l.Product.UnitAmount, 10))
	}
	return b.String()
}

// Refusal is a rule's "no": an HTTP status (409 or 422; 0 means 422), a stable
// code, a message the shopper can read and, where one field is at fault, its
// name.
type Refusal struct {
	Status  int
	Code    string
	Message string
	Param   string
}

// ApprovalRule decides whether an order may go on to payment. It returns nil
// to let the order through. Rules must not call Stripe to create anything.
type ApprovalRule interface {
	Approve(ctx context.Context, o *Order) *Refusal
}

// ApprovalFunc adapts a function to ApprovalRule.
type ApprovalFunc func(ctx context.Context, o *Order) *Refusal

// Approve calls f.
func (f ApprovalFunc) Approve(ctx context.Context, o *Order) *Refusal { return f(ctx, o) }

// builtinRules are the rules every server runs, configured by the catalog.
func (s *Server) builtinRules() []ApprovalRule {
	return append(s.cartRules(), ApprovalFunc(s.approveCard)) // card_rules.go
}

// cartRules are the built-in rules that decide from the request alone. The
// pay page runs them before it reads the ConfirmationToken, so that an
// order they refuse costs no call to Stripe at all.
func (s *Server) cartRules() []ApprovalRule {
	return []ApprovalRule{
		ApprovalFunc(s.approveAmount),
		ApprovalFunc(s.approveEmailDomain),
		ApprovalFunc(s.approveCountry),
		ApprovalFunc(s.approveStock),
	}
}

// approve runs every rule in order; the first refusal wins.
func (s *Server) approve(ctx context.Context, o *Order) *apiError {
	return approveWith(ctx, o, s.approvals)
}

// approveWith runs rules in order; the first refusal wins.
func approveWith(ctx context.Context, o *Order, rules []ApprovalRule) *apiError {
	for _, rule := range rules {
		if ref := rule.Approve(ctx, o); ref != nil {
			status := ref.Status
			if status < 400 || status > 499 {
				status = http.StatusUnprocessableEntity
			}
			return &apiError{Status: status, Code: ref.Code, Message: ref.Message, Param: ref.Param}
		}
	}
	return nil
}

// approveAmount refuses totals above the shop's max_order_amount for the
// order's currency, and above what Stripe accepts for one payment.
func (s *Server) approveAmount(_ context.Context, o *Order) *Refusal {
	max, ok := s.cfg.Catalog.Shop.MaxOrderAmount[o.Currency]
	if !ok || max > maxOrderAmount {
		max = maxOrderAmount
	}
	if o.Amount > max {
		return &Refusal{Status: http.StatusUnprocessableEntity, Code: "order_amount_too_large", Param: "items",
			Message: "this order comes to " + formatMinor(o.Amount, o.Currency) + "; the shop takes orders up to " + formatMinor(max, o.Currency) + " online"}
	}
	return nil
}

// approveEmailDomain refuses emails at the shop's refused domains (and their
// subdomains).
func (s *Server) approveEmailDomain(_ context.Context, o *Order) *Refusal {
	if o.Email == "" {
		return nil
	}
	domain := o.Email[strings.LastIndexByte(o.Email, '@')+1:]
	for _, d := range s.cfg.Catalog.Shop.RefusedEmailDomains {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return &Refusal{Status: http.StatusUnprocessableEntity, Code: "email_refused", Param: "email",
				Message: "the shop does not take orders with an email address at " + d + "; please use another address"}
		}
	}
	return nil
}

// approveCountry refuses orders from the shop's refused countries, as declared
// by the request or derived by Cloudflare from the shopper's address.
func (s *Server) approveCountry(_ context.Context, o *Order) *Refusal {
	for _, c := range s.cfg.Catalog.Shop.RefusedCountries {
		if o.Country == c {
			return &Refusal{Status: http.StatusUnprocessableEntity, Code: "country_refused", Param: "country",
				Message: "the shop does not sell to " + c}
		}
		if o.IPCountry == c {
			return &Refusal{Status: http.StatusUnprocessableEntity, Code: "country_refused",
				Message: "the shop does not sell to " + c + " (where this request comes from)"}
		}
	}
	return nil
}

// approveStock refuses quantities above a product's whole stock. What is
// left of it is decided after the rules, atomically, by the reservation
// (stock.go).
func (s *Server) approveStock(_ context.Context, o *Order) *Refusal {
	for i, l := range o.Lines {
		if l.Product.Stock != nil && l.Quantity > *l.Product.Stock {
			return outOfStock(i, l, *l.Product.Stock)
		}
	}
	return nil
}

// outOfStock is the refusal of line i of which only left are available.
func outOfStock(i int, l orderLine, left int64) *Refusal {
	msg := l.Product.Name + " is sold out"
	if left > 0 {
		msg = "only " + strconv.FormatInt(left, 10) + " of " + l.Product.Name + " left"
	}
	return &Refusal{Status: http.StatusConflict, Code: "out_of_stock", Param: "items[" + strconv.Itoa(i) + "].quantity", Message: msg}
}

// zeroDecimal lists Stripe's zero-decimal currencies.
var zeroDecimal = map[string]bool{"bif": true, "clp": true, "djf": true, "gnf": true, "jpy": true, "kmf": true, "krw": true, "mga": true,
	"pyg": true, "rwf": true, "ugx": true, "vnd": true, "vuv": true, "xaf": true, "xof": true, "xpf": true}

// formatMinor writes an amount in minor units for messages: "500.00 USD", "500 JPY".
func formatMinor(amount int64, currency string) string {
	if zeroDecimal[currency] {
		return strconv.FormatInt(amount, 10) + " " + strings.ToUpper(currency)
	}
	whole, frac := amount/100, amount%100
	f := strconv.FormatInt(frac, 10)
	if frac < 10 {
		f = "0" + f
	}
	return strconv.FormatInt(whole, 10) + "." + f + " " + strings.ToUpper(currency)
}
