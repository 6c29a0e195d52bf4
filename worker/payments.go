package worker

// The payment surface shared by both flows (Checkout Sessions in checkout.go,
// and POST /create-confirm-intent here): turning a validated cart into an
// Order (reference, total, options, what is known about the shopper), order
// metadata and idempotency keys, and Stripe's payment errors.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"checkoutkit/worker/internal/stripeapi"
)

// shopperFields are the optional fields both create requests accept (each
// request type declares them itself).
type shopperFields struct {
	// Email prefills Checkout (customer_email) or is the receipt address of a
	// PaymentIntent (receipt_email); the approval rules see it.
	Email string
	// Country is the shopper's declared country (ISO 3166-1 alpha-2), for the
	// approval rules.
	Country string
	// IdempotencyKey, chosen by the client once per order attempt, makes a
	// retried request return the same session or payment instead of a new one.
	IdempotencyKey string
	// CustomerToken names a returning Stripe customer (payments_customer.go).
	CustomerToken string
	// Request is the rest of the request that shapes the Stripe object (the
	// flow's own fields: UI mode and return paths, or the ConfirmationToken),
	// so that a client key deduplicates only retries of the same request.
	Request string
}

// Order metadata keys (read by the webhook handlers).
const (
	metaOrder      = "kit_order"
	metaCart       = "kit_cart"
	metaDeployment = "kit_deployment"
)

// maxMetadataValue is Stripe's limit on a metadata value.
const maxMetadataValue = 500

// newOrder validates the shopper fields, prices the lines and builds the
// order the approval rules see. It calls nothing at Stripe.
func (s *Server) newOrder(r *http.Request, flow string, lines []orderLine, f *shopperFields) (*Order, *apiError) {
	o := &Order{Flow: flow, Stage: StageBeforeCreate, Lines: lines, Currency: lines[0].Product.Currency, Capture: lines[0].Product.Capture}
	for _, l := range lines {
		o.Amount += l.Product.UnitAmount * l.Quantity // at most 20 × 999 × 99999999: no overflow
		o.Incremental = o.Incremental || l.Product.IncrementalAuthorization
		o.SavePaymentMethod = o.SavePaymentMethod || l.Product.SavePaymentMethod
	}
	goods, aerr := s.planGoods(o)
	if aerr != nil {
		return nil, aerr
	}
	o.goods = goods
	if len(o.Cart()) > maxMetadataValue {
		return nil, badRequest("too_many_items", "items", "the cart is too long to record with the order; order fewer different products at once")
	}
	if f.Email != "" {
		email, aerr := checkEmail(f.Email)
		if aerr != nil {
			return nil, aerr
		}
		o.Email = email
	}
	if f.Country != "" {
		c := strings.ToUpper(f.Country)
		if !validCountry(c) {
			return nil, badRequest("invalid_country", "country", "country must be a two-letter ISO 3166-1 code such as DE")
		}
		o.Country = c
	}
	// Cloudflare sets CF-IPCountry on every request it forwards; XX means
	// unknown and T1 Tor.
	if c := strings.ToUpper(strings.TrimSpace(r.Header.Get("CF-IPCountry"))); validCountry(c) && c != "XX" && c != "T1" {
		o.IPCountry = c
	}
	if f.IdempotencyKey != "" && !validIdempotencyKey(f.IdempotencyKey) {
		return nil, badRequest("invalid_idempotency_key", "idempotencyKey", "idempotencyKey must be 8-64 characters of a-z, A-Z, 0-9, '-' or '_' (a UUID works)")
	}
	if f.CustomerToken != "" {
		cus, aerr := s.verifyCustomerToken(f.CustomerToken)
		if aerr != nil {
			return nil, aerr
		}
		if o.Email != "" {
			return nil, badRequest("email_with_customer", "email", "email cannot be combined with customerToken: the customer's own email is used")
		}
		o.Customer = cus
	}
	o.Ref, o.idemKey = s.orderRef(o, f)
	return o, nil
}

// retryWindow is how long retries of a keyed request reach the same
// Checkout Session (see orderRef).
const retryWindow = 10 * time.Minute

// expiryMargin is added to a Checkout Session's expires_at: Stripe refuses
// one less than 30 minutes after it creates the session, which is a little
// after the worker computed it (the stock reservation, the way to Stripe).
const expiryMargin = 2 * time.Minute

// orderRef returns a new order reference ("ord_" + 16 hex digits) and the base
// of its idempotency keys. The server owns both: with a client key they derive
// from everything the request asks for (deployment, flow, cart, shopper
// fields, the flow's own fields) and the key, so that a retry of the same
// request sends Stripe byte-for-byte the same request under the same key and
// gets the same session or payment back, while the same key sent with
// anything else makes a new, separate order: a client key never chooses an
// order or joins two.
func (s *Server) orderRef(o *Order, f *shopperFields) (ref, idem string) {
	if f.IdempotencyKey != "" {
		// Checkout's expires_at is a parameter too, and must be the same in
		// a retry: it is taken from a retryWindow-long window of time, which
		// is part of the key, so a retry in a later window makes a new
		// session instead of a conflicting request.
		window := time.Now().Unix() / int64(retryWindow/time.Second)
		o.expires = time.Unix((window+1)*int64(retryWindow/time.Second), 0).Add(s.cfg.CheckoutExpiry + expiryMargin)
		h := sha256.New()
		for _, part := range []string{"kit_order", s.cfg.Deployment, o.Flow, o.Cart(), o.Email, o.Country, o.Customer, f.Request, f.IdempotencyKey, strconv.FormatInt(window, 10)} {
			h.Write([]byte(part))
			h.Write([]byte{0})
		}
		sum := h.Sum(nil)
		return "ord_" + hex.EncodeToString(sum[:8]), hex.EncodeToString(sum[:16])
	}
	o.expires = time.Now().Add(s.cfg.CheckoutExpiry + expiryMargin)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // cannot happen on Workers or the host
	}
	ref = "ord_" + hex.EncodeToString(b[:])
	return ref, ref
}

// idempotencyKey is the Stripe idempotency key of the order's create call of
// the given kind ("cs" session, "pi" payment intent).
func (o *Order) idempotencyKey(kind string) string { return "kit-" + kind + "-" + o.idemKey }

// metadata is the order's metadata on Stripe objects: the webhook and the
// return page read it back (records.go), and kit_deployment tells this
// deployment's objects from any other's.
func (s *Server) metadata(o *Order) map[string]string {
	return map[string]string{metaOrder: o.Ref, metaCart: o.Cart(), metaFlow: o.Flow, metaDeployment: s.cfg.Deployment}
}

func validIdempotencyKey(k string) bool {
	if len(k) < 8 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxEmail is the longest email accepted (RFC 5321's path limit).
const maxEmail = 254

// checkEmail accepts one plain address (local@domain.tld) and returns it with
// the domain in lower case. Control characters (a CR/LF header injection),
// display names, lists and comments are refused.
func checkEmail(raw string) (string, *apiError) {
	e := strings.Trim(raw, " ")
	for i := 0; i < len(e); i++ {
		if c := e[i]; c < 0x20 || c == 0x7f {
			return "", badRequest("invalid_email", "email", "email must be a single address on one line, without control characters")
		}
	}
	if len(e) > maxEmail {
		return "", badRequest("invalid_email", "email", "email must be at most %d characters", maxEmail)
	}
	a, err := mail.ParseAddress(e)
	at := strings.LastIndexByte(e, '@')
	if err != nil || a.Name != "" || a.Address != e || at < 1 || strings.ContainsAny(e, " ,;<>()\"\\[]") {
		return "", badRequest("invalid_email", "email", "email must be an address such as jenny@example.com")
	}
	domain := strings.ToLower(e[at+1:])
	if !validDomain(domain) {
		return "", badRequest("invalid_email", "email", "email must be an address such as jenny@example.com")
	}
	return e[:at+1] + domain, nil
}

// fraudDeclines are the decline codes that reveal a fraud suspicion
// (Stripe's list of codes to present as a generic decline).
var fraudDeclines = map[string]bool{"fraudulent": true, "stolen_card": true, "lost_card": true, "pickup_card": true,
	"merchant_blacklist": true, "restricted_card": true, "security_violation": true, "revocation_of_all_authorizations": true,
	"revocation_of_authorization": true, "stop_payment_order": true}

// fromStripePayment maps Stripe errors of payment calls: declines become 402
// with Stripe's code, decline code and shopper-facing message (Stripe writes
// card errors' messages to be shown); a reused idempotency key with other
// parameters becomes 409. Everything else as fromStripe.
func fromStripePayment(err error, op string) *apiError {
	ae := fromStripe(err, op)
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		return ae
	}
	switch {
	case se.Type == stripe.ErrorTypeCard && fraudDeclines[string(se.DeclineCode)]:
		// Stripe's advice: never tell a card tester (or a thief) that the
		// card was flagged. The shopper sees a plain decline; the operator
		// sees the real code on the order (decline_code, from the webhook).
		ae.Status, ae.Code, ae.DeclineCode = http.StatusPaymentRequired, "card_declined", "generic_decline"
		ae.Message = "Your card was declined."
		ae.PaymentIntent = string(se.PaymentIntent)
	case se.Type == stripe.ErrorTypeCard:
		ae.Status, ae.Code = http.StatusPaymentRequired, string(se.Code)
		if ae.Code == "" {
			ae.Code = "card_declined"
		}
		ae.DeclineCode = string(se.DeclineCode)
		if msg := strings.TrimSpace(se.Msg); msg != "" && len(msg) < 300 && !strings.Contains(msg, "sk_") {
			ae.Message = msg
		}
		ae.PaymentIntent = string(se.PaymentIntent)
	case se.Type == stripe.ErrorTypeIdempotency:
		ae.Status, ae.Code, ae.Param = http.StatusConflict, "idempotency_key_reused", "idempotencyKey"
		ae.Message = "this idempotencyKey was already used for a different request; use a new key for a new order"
	}
	return ae
}

// ---------------------------------------------------------------------------
// POST /create-confirm-intent: "finalize payments on the server". The pay page
// collects payment details with the Payment Element in deferred-intent mode,
// creates a ConfirmationToken and sends it here with the cart; the worker
// re-prices the cart, runs the approval rules and creates and confirms the
// PaymentIntent in one call.

// DefaultPayPath is the pay page, where redirect-based payment methods return.
const DefaultPayPath = "/pay.html"

type confirmIntentRequest struct {
	Items []cartItem `json:"items"`
	// ConfirmationToken is the ctoken_... the page created with Stripe.js.
	ConfirmationToken string `json:"confirmationToken"`
	// ReturnPath is where redirect-based payment methods come back to on the
	// requesting site (default /pay.html); a plain path, as for Checkout.
	ReturnPath string `json:"returnPath"`
	// As in shopperFields.
	Email          string `json:"email"`
	Country        string `json:"country"`
	IdempotencyKey string `json:"idempotencyKey"`
	CustomerToken  string `json:"customerToken"`
	// ShippingRate and CustomFields: the shop's goods (goods_intent.go).
	ShippingRate string            `json:"shippingRate"`
	CustomFields map[string]string `json:"customFields"`
}

// intentAnswer is the create-confirm-intent answer, in the names Stripe's
// guide uses.
type intentAnswer struct {
	ID           string `json:"id"`
	ClientSecret string `json:"client_secret"`
	Status       string `json:"status"`
	// NextAction is next_action.type when status is requires_action.
	NextAction string `json:"next_action,omitempty"`
}

func validConfirmationToken(t string) bool {
	return hasIDPrefix(t, "ctoken_")
}

// hasIDPrefix checks a Stripe object ID: the prefix, then 1-200 characters of
// letters, digits and '_' (nothing that could change the API path or query).
func hasIDPrefix(id, prefix string) bool {
	if !strings.HasPrefix(id, prefix) {
		return false
	}
	rest := id[len(prefix):]
	if len(rest) == 0 || len(rest) > 200 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Server) handleCreateConfirmIntent(w http.ResponseWriter, r *http.Request) {
	var req confirmIntentRequest
	hadBody, err := readJSON(w, r, &req)
	if err != nil {
		writeError(w, err)
		return
	}
	if !hadBody {
		writeError(w, badRequest("missing_items", "items", "send {\"items\":[...], \"confirmationToken\":\"ctoken_...\"} as JSON"))
		return
	}
	lines, aerr := s.parseCart(&createSessionRequest{Items: req.Items}, true)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	switch {
	case req.ConfirmationToken == "":
		writeError(w, badRequest("missing_confirmation_token", "confirmationToken", "confirmationToken is required: create it with stripe.createConfirmationToken"))
		return
	case !validConfirmationToken(req.ConfirmationToken):
		writeError(w, badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken must be a ConfirmationToken id (ctoken_...)"))
		return
	}
	if req.ReturnPath != "" {
		if msg := checkReturnPath(req.ReturnPath); msg != "" {
			writeError(w, badRequest("invalid_return_path", "returnPath", "returnPath %s", msg))
			return
		}
	}
	fields := url.Values{}
	for k, v := range req.CustomFields {
		fields.Set(k, v)
	}
	order, aerr := s.newOrder(r, FlowConfirmIntent, lines, &shopperFields{req.Email, req.Country, req.IdempotencyKey, req.CustomerToken,
		req.ConfirmationToken + "\x00" + req.ReturnPath + "\x00" + req.ShippingRate + "\x00" + fields.Encode()})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	// The shipping rate (charged) and custom fields (goods_intent.go).
	if aerr := s.payPageGoods(order, req.ShippingRate, req.CustomFields); aerr != nil {
		writeError(w, aerr)
		return
	}
	if order.SavePaymentMethod && order.Customer == "" && order.Email == "" {
		// A saved payment method belongs to a Customer (savedCustomer),
		// whom the shop must be able to find and contact again.
		writeError(w, badRequest("missing_email", "email", "this order saves your payment details for later payments: give your email (or sign in, customerToken)"))
		return
	}
	if aerr := approveWith(r.Context(), order, s.cartRules()); aerr != nil {
		writeError(w, aerr)
		return
	}
	// The token is read before anything is created: the rules (all of them,
	// the custom ones too) see the payment method, and an unusable token
	// costs no hold.
	tok, aerr := s.confirmationToken(r.Context(), req.ConfirmationToken, order, req.IdempotencyKey != "")
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	order.withToken(tok)
	if aerr := s.payPageShipping(order, tok); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := s.approve(r.Context(), order); aerr != nil {
		writeError(w, aerr)
		return
	}
	// As for Checkout (applyReturn): the site (PUBLIC_URL may carry a path
	// prefix) plus the pay page, or the request's own path on its origin.
	site, origin := s.returnSite(r)
	returnURL := site + DefaultPayPath
	if req.ReturnPath != "" {
		returnURL = origin + req.ReturnPath
	}
	// The shopper has as long as a Checkout Session would give them to finish
	// (3D Secure, a bank's page); the webhook then commits or releases it.
	if aerr := s.reserve(r.Context(), order, order.expires); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := s.savedCustomer(r.Context(), order); aerr != nil {
		// Whatever became of the Customer, no PaymentIntent exists: a retry
		// reserves again.
		s.releaseHold(r.Context(), order)
		writeError(w, aerr)
		return
	}
	pi, err := s.stripe.CreatePaymentIntent(r.Context(), s.intentParams(order, req.ConfirmationToken, returnURL))
	if err != nil {
		aerr := fromStripePayment(err, "payment intent")
		s.unreserve(r.Context(), order, aerr)
		writeError(w, aerr)
		return
	}
	ans := intentAnswer{ID: pi.ID, ClientSecret: pi.ClientSecret, Status: pi.Status}
	if pi.NextAction != nil {
		ans.NextAction = pi.NextAction.Type
	}
	writeJSON(w, http.StatusOK, ans)
}

// intentParams builds the create-and-confirm call for an approved order.
func (s *Server) intentParams(o *Order, ctoken, returnURL string) *stripe.PaymentIntentCreateParams {
	params := &stripe.PaymentIntentCreateParams{
		Amount:            stripe.Int64(o.Amount),
		Currency:          stripe.String(o.Currency),
		Confirm:           stripe.Bool(true),
		ConfirmationToken: stripe.String(ctoken),
		// As in Stripe's deferred-intent guide: the payment methods enabled in
		// the Dashboard, matching the Payment Element (which sets no
		// paymentMethodTypes either).
		AutomaticPaymentMethods: &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)},
		ReturnURL:               stripe.String(returnURL),
		Metadata:                s.metadata(o),
	}
	o.goodsMetadata(params.Metadata) // goods_intent.go
	if o.Capture == CaptureManual {
		params.CaptureMethod = stripe.String(string(stripe.PaymentIntentCaptureMethodManual))
	}
	if o.Incremental {
		params.PaymentMethodOptions = &stripe.PaymentIntentCreatePaymentMethodOptionsParams{
			Card: &stripe.PaymentIntentCreatePaymentMethodOptionsCardParams{RequestIncrementalAuthorization: stripe.String("if_available")},
		}
	}
	if o.SavePaymentMethod {
		params.SetupFutureUsage = stripe.String(string(stripe.PaymentIntentSetupFutureUsageOffSession))
	}
	if o.Customer != "" {
		params.Customer = stripe.String(o.Customer)
	}
	if o.Email != "" {
		params.ReceiptEmail = stripe.String(o.Email)
	}
	params.SetIdempotencyKey(o.idempotencyKey("pi"))
	return params
}

// savedCustomer gives an order that saves its payment method a Customer to
// keep it: Stripe would otherwise attach the saved card to nobody. A signed-in
// shopper's (customerToken) is used as is; otherwise a new Customer with the
// shopper's email, under the order's idempotency key so that a retry finds
// the same one. It is never looked up by email: an email typed in a form
// proves nothing, and a stranger's card must not join someone's account.
func (s *Server) savedCustomer(ctx context.Context, o *Order) *apiError {
	if !o.SavePaymentMethod || o.Customer != "" {
		return nil
	}
	params := &stripe.CustomerCreateParams{
		Email:    stripe.String(o.Email),
		Metadata: map[string]string{metaOrder: o.Ref, metaDeployment: s.cfg.Deployment},
	}
	params.SetIdempotencyKey(o.idempotencyKey("cus"))
	cus, err := s.stripe.CreateCustomer(ctx, params)
	if err != nil {
		return fromStripePayment(err, "customer")
	}
	o.Customer = cus.ID
	return nil
}
