package worker

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// maxCartLines bounds the number of distinct products in one order.
const maxCartLines = 20

// publicProduct is what the browser may know about a product.
type publicProduct struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Image       string `json:"image,omitempty"`
	UnitAmount  int64  `json:"unitAmount"`
	Currency    string `json:"currency"`
	MaxQuantity int64  `json:"maxQuantity"`
	// CaptureMethod and SavePaymentMethod configure the pay page's Payment
	// Element (captureMethod, setupFutureUsage) to match the PaymentIntent
	// the worker will create.
	CaptureMethod     string `json:"captureMethod"`
	SavePaymentMethod bool   `json:"savePaymentMethod,omitempty"`
	// What the pay page asks for this product (goods.go): an address and
	// a rate (of ShippingRates when limited), a phone, custom fields; and
	// what the shopper agrees to. CheckoutOnly products are not sold there.
	Shippable             bool          `json:"shippable,omitempty"`
	ShippingRates         []string      `json:"shippingRates,omitempty"`
	PhoneNumberCollection bool          `json:"phoneNumberCollection,omitempty"`
	CustomFields          []CustomField `json:"customFields,omitempty"`
	Disclosure            string        `json:"disclosure,omitempty"`
	CheckoutOnly          bool          `json:"checkoutOnly,omitempty"`
}

// publicShipping is the shop's shipping for the pay page; rates and
// custom fields are the catalog's own entries, as catalog.json writes them.
type publicShipping struct {
	AllowedCountries []string       `json:"allowedCountries"`
	Rates            []ShippingRate `json:"rates"`
}

type configResponse struct {
	PublishableKey string          `json:"publishableKey"`
	StripeJSURL    string          `json:"stripeJsUrl"`
	DefaultItem    string          `json:"defaultItem"`
	Catalog        []publicProduct `json:"catalog"`
	// The shop's shipping, phone and custom fields, for the pay page.
	Shipping              *publicShipping `json:"shipping,omitempty"`
	PhoneNumberCollection bool            `json:"phoneNumberCollection,omitempty"`
	CustomFields          []CustomField   `json:"customFields,omitempty"`
}

// configBody is GET /config's answer. It depends only on the configuration,
// so NewServer encodes it once.
func configBody(cfg Config) []byte {
	resp := configResponse{
		PublishableKey: cfg.PublishableKey,
		StripeJSURL:    cfg.StripeJSURL,
		DefaultItem:    cfg.DefaultItem,
		Catalog:        make([]publicProduct, len(cfg.Catalog.Products)),
	}
	shop := &cfg.Catalog.Shop
	for i := range cfg.Catalog.Products {
		p := &cfg.Catalog.Products[i]
		resp.Catalog[i] = publicProduct{ID: p.ID, Name: p.Name, Description: p.Description, Image: p.Image, UnitAmount: p.UnitAmount, Currency: p.Currency, MaxQuantity: p.MaxQuantity,
			CaptureMethod: p.Capture, SavePaymentMethod: p.SavePaymentMethod,
			Shippable: p.Shippable, ShippingRates: p.ShippingRates, PhoneNumberCollection: p.PhoneNumberCollection, CustomFields: p.CustomFields,
			Disclosure: productTerms(shop, p), CheckoutOnly: !shop.onPayPage(p)}
	}
	if sh := shop.Shipping; sh != nil {
		resp.Shipping = &publicShipping{AllowedCountries: sh.AllowedCountries, Rates: sh.Rates}
	}
	resp.PhoneNumberCollection, resp.CustomFields = shop.PhoneNumberCollection, shop.CustomFields
	body, err := json.Marshal(resp)
	if err != nil {
		panic("encoding /config: " + err.Error()) // only strings and numbers: cannot fail
	}
	return append(body, '\n')
}

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	writeBody(w, http.StatusOK, s.configBody)
}

// cartItem is one line of a create request. Quantity stays raw so that strings,
// fractions and overflows get precise messages.
type cartItem struct {
	ID       string          `json:"id"`
	Quantity json.RawMessage `json:"quantity"`
}

type createSessionRequest struct {
	Items []cartItem `json:"items"`
	// Optional, used by embed.js on other sites; validated by applyReturn
	// (embed.go): paths on the requesting site, never URLs.
	UIMode               string `json:"uiMode"`
	RedirectOnCompletion string `json:"redirectOnCompletion"`
	ReturnPath           string `json:"returnPath"`
	CancelPath           string `json:"cancelPath"`
	// Email, country, idempotency key and customer token: see shopperFields
	// (payments.go). Not embedded, so that JSON errors name the field plainly.
	Email          string `json:"email"`
	Country        string `json:"country"`
	IdempotencyKey string `json:"idempotencyKey"`
	CustomerToken  string `json:"customerToken"`
	// Reference (client_reference_id), Promo (a promotion code applied on
	// the server) and Locale: see checkout_options.go.
	Reference string `json:"reference"`
	Promo     string `json:"promo"`
	Locale    string `json:"locale"`
	// form is set for an HTML form POST, which is answered 303 See Other.
	form bool
}

// orderLine is a validated cart line, priced from the catalog.
type orderLine struct {
	Product  *Product
	Quantity int64
}

// parseCart validates a create request against the catalog. An absent body
// buys one of the default item, as Stripe's own quickstart front end expects.
func (s *Server) parseCart(req *createSessionRequest, hadBody bool) ([]orderLine, *apiError) {
	if !hadBody {
		p, _ := s.cfg.Catalog.Lookup(s.cfg.DefaultItem)
		return []orderLine{{Product: p, Quantity: 1}}, nil
	}
	if req.Items == nil {
		return nil, badRequest("missing_items", "items", "items is required: a list of {\"id\", \"quantity\"}")
	}
	if len(req.Items) == 0 {
		return nil, badRequest("empty_cart", "items", "items must name at least one product")
	}
	if len(req.Items) > maxCartLines {
		return nil, badRequest("too_many_items", "items", "at most %d different products per order", maxCartLines)
	}
	lines := make([]orderLine, 0, len(req.Items))
	seen := make(map[string]bool, len(req.Items))
	for i, it := range req.Items {
		field := "items[" + strconv.Itoa(i) + "]"
		if it.ID == "" {
			return nil, badRequest("missing_id", field+".id", "%s.id is required", field)
		}
		p, ok := s.cfg.Catalog.Lookup(it.ID)
		if !ok {
			return nil, badRequest("unknown_product", field+".id", "%s.id names no product in the catalog", field)
		}
		if seen[p.ID] {
			return nil, badRequest("duplicate_product", field+".id", "%s.id repeats %q; send one line per product with its total quantity", field, p.ID)
		}
		seen[p.ID] = true
		qty, err := parseQuantity(it.Quantity, p.MaxQuantity, field+".quantity")
		if err != nil {
			return nil, err
		}
		if len(lines) > 0 && lines[0].Product.Currency != p.Currency {
			return nil, badRequest("mixed_currencies", field+".id", "%s is priced in %s but the order is in %s; one order takes one currency", field, strings.ToUpper(p.Currency), strings.ToUpper(lines[0].Product.Currency))
		}
		// One order is one payment, and a payment is captured one way.
		if len(lines) > 0 && lines[0].Product.Capture != p.Capture {
			return nil, badRequest("mixed_capture_methods", field+".id", "%s (%s) is paid with %s capture but %s with %s capture; order them separately", field, p.ID, p.Capture, lines[0].Product.ID, lines[0].Product.Capture)
		}
		lines = append(lines, orderLine{Product: p, Quantity: qty})
	}
	return lines, nil
}

func parseQuantity(raw json.RawMessage, max int64, field string) (int64, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return 1, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if raw[0] == '"' {
			return 0, badRequest("invalid_quantity", field, "%s must be a number, not a string", field)
		}
		if _, ferr := strconv.ParseFloat(string(raw), 64); ferr == nil && !strings.ContainsAny(string(raw), "eE") {
			return 0, badRequest("invalid_quantity", field, "%s must be a whole number", field)
		}
		return 0, badRequest("invalid_quantity", field, "%s must be a whole number between 1 and %d", field, max)
	}
	if n < 1 || n > max {
		return 0, badRequest("invalid_quantity", field, "%s must be between 1 and %d", field, max)
	}
	return n, nil
}

// sessionParams builds the Checkout Session for an approved order. Amounts
// come only from the catalog; the options from the catalog and the order.
func (s *Server) sessionParams(o *Order) *stripe.CheckoutSessionCreateParams {
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		UIMode:            stripe.String(string(stripe.CheckoutSessionUIModeEmbedded)),
		LineItems:         make([]*stripe.CheckoutSessionCreateLineItemParams, len(o.Lines)),
		ClientReferenceID: stripe.String(o.Ref),
		Metadata:          s.metadata(o),
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: s.metadata(o)},
		// The session, and the stock it holds, ends at expires_at.
		ExpiresAt: stripe.Int64(o.expires.Unix()),
	}
	for i, l := range o.Lines {
		li := &stripe.CheckoutSessionCreateLineItemParams{Quantity: stripe.Int64(l.Quantity)}
		if l.Product.Price != "" {
			li.Price = stripe.String(l.Product.Price)
		} else {
			pd := &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(l.Product.Name)}
			if l.Product.Description != "" {
				pd.Description = stripe.String(l.Product.Description)
			}
			li.PriceData = &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(l.Product.Currency),
				UnitAmount:  stripe.Int64(l.Product.UnitAmount),
				ProductData: pd,
			}
		}
		params.LineItems[i] = li
	}
	if o.Capture == CaptureManual {
		params.PaymentIntentData.CaptureMethod = stripe.String(string(stripe.PaymentIntentCaptureMethodManual))
	}
	if o.Incremental {
		params.PaymentMethodOptions = &stripe.CheckoutSessionCreatePaymentMethodOptionsParams{
			Card: &stripe.CheckoutSessionCreatePaymentMethodOptionsCardParams{RequestIncrementalAuthorization: stripe.String("if_available")},
		}
	}
	if o.SavePaymentMethod {
		params.PaymentIntentData.SetupFutureUsage = stripe.String(string(stripe.PaymentIntentSetupFutureUsageOffSession))
	}
	shop := &s.cfg.Catalog.Shop
	if shop.AllowPromotionCodes {
		params.AllowPromotionCodes = stripe.Bool(true)
	}
	// Who pays: a verified returning customer, or a customer Checkout creates
	// (needed to keep a saved payment method), or Stripe's default.
	switch {
	case o.Customer != "":
		params.Customer = stripe.String(o.Customer)
	case o.SavePaymentMethod || shop.offersSave():
		params.CustomerCreation = stripe.String(string(stripe.CheckoutSessionCustomerCreationAlways))
	case shop.CustomerCreation != "":
		params.CustomerCreation = stripe.String(shop.CustomerCreation)
	}
	if o.Email != "" && o.Customer == "" {
		params.CustomerEmail = stripe.String(o.Email)
	}
	if sp := shop.SavedPaymentMethodOptions; sp != nil {
		opts := &stripe.CheckoutSessionCreateSavedPaymentMethodOptionsParams{}
		// With setup_future_usage the method is saved anyway: no checkbox.
		if sp.PaymentMethodSave != "" && !o.SavePaymentMethod {
			opts.PaymentMethodSave = stripe.String(sp.PaymentMethodSave)
		}
		// Removing saved methods only means something for a known customer.
		if sp.PaymentMethodRemove != "" && o.Customer != "" {
			opts.PaymentMethodRemove = stripe.String(sp.PaymentMethodRemove)
		}
		if opts.PaymentMethodSave != nil || opts.PaymentMethodRemove != nil {
			params.SavedPaymentMethodOptions = opts
		}
	}
	s.applyGoods(params, o) // goods.go
	params.SetIdempotencyKey(o.idempotencyKey("cs"))
	return params
}

func requestOrigin(r *http.Request) string {
	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	return scheme + "://" + host
}

func (s *Server) handleCreateCheckoutSession(w http.ResponseWriter, r *http.Request) {
	var req createSessionRequest
	var hadBody bool
	var err error
	if isFormPost(r) {
		hadBody, err = readCheckoutForm(w, r, &req) // payments_form.go
	} else {
		hadBody, err = readJSON(w, r, &req)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	lines, aerr := s.parseCart(&req, hadBody)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	opts, aerr := parseCheckoutOptions(&req) // checkout_options.go
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	order, aerr := s.newOrder(r, FlowCheckout, lines, &shopperFields{req.Email, req.Country, req.IdempotencyKey, req.CustomerToken,
		strings.Join([]string{req.UIMode, req.RedirectOnCompletion, req.ReturnPath, req.CancelPath, strconv.FormatBool(req.form), requestOrigin(r), opts.request()}, "\x00")})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	order.Reference, order.PromotionCode = opts.Reference, opts.Promo
	params := s.sessionParams(order)
	// applyReturn (embed.go) sets ui_mode and where Checkout returns to.
	if aerr := s.applyReturn(params, r, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	s.applyRecovery(params) // goods.go
	if aerr := s.approve(r.Context(), order); aerr != nil {
		writeError(w, aerr)
		return
	}
	// The code is looked up after the rules and before the stock is held:
	// an unknown code costs one read at Stripe and writes nothing.
	var promoID string
	if opts.Promo != "" {
		if promoID, aerr = s.resolvePromo(r.Context(), opts.Promo); aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	applyCheckoutOptions(params, opts, promoID)
	if aerr := s.reserve(r.Context(), order, time.Unix(*params.ExpiresAt, 0).Add(holdGrace)); aerr != nil {
		writeError(w, aerr)
		return
	}
	sess, err := s.stripe.CreateCheckoutSession(r.Context(), params)
	if err != nil {
		aerr := fromStripePayment(err, "checkout session")
		if promoID != "" {
			aerr = promoNotApplicable(err, aerr) // checkout_options.go
		}
		s.unreserve(r.Context(), order, aerr)
		writeError(w, aerr)
		return
	}
	answer, aerr := sessionAnswer(&req, sess)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if req.form {
		// A plain HTML form: send the browser on to hosted Checkout.
		w.Header().Set("Location", sess.URL)
		writeJSON(w, http.StatusSeeOther, answer)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// validSessionID accepts what Stripe issues (cs_test_... / cs_live_...) and
// nothing that could smuggle a path or query into the Stripe call.
func validSessionID(id string) bool {
	var rest string
	switch {
	case strings.HasPrefix(id, "cs_test_"):
		rest = id[len("cs_test_"):]
	case strings.HasPrefix(id, "cs_live_"):
		rest = id[len("cs_live_"):]
	default:
		return false
	}
	if len(rest) == 0 || len(rest) > 200 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

type sessionStatusResponse struct {
	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	CustomerEmail string `json:"customer_email"`
	// CaptureMethod is "manual" when the order's products are only
	// authorized at payment (a complete session then stays payment_status
	// unpaid until the shop captures), so the return page can say so.
	CaptureMethod string `json:"capture_method,omitempty"`
}

// cartCapture is the capture mode of an order from its kit_cart metadata
// ("id:qty,..."; one order has one mode), or "" when unknown.
func (s *Server) cartCapture(cart string) string {
	id, _, _ := strings.Cut(cart, ":")
	if p, ok := s.cfg.Catalog.Lookup(id); ok && id != "" {
		return p.Capture
	}
	return ""
}

func (s *Server) handleSessionStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("session_id")
	switch {
	case id == "":
		writeError(w, badRequest("missing_session_id", "session_id", "session_id query parameter is required"))
		return
	case len(q["session_id"]) > 1:
		writeError(w, badRequest("invalid_session_id", "session_id", "give session_id once"))
		return
	case !validSessionID(id):
		writeError(w, badRequest("invalid_session_id", "session_id", "session_id must be a Checkout Session id (cs_test_... or cs_live_...)"))
		return
	}
	sess, err := s.stripe.RetrieveCheckoutSession(r.Context(), id)
	if err != nil {
		writeError(w, fromStripe(err, "checkout session"))
		return
	}
	// Only this deployment's sessions become orders: another's is answered
	// but costs no second Stripe call and no store read.
	if sess.Status == "complete" && s.ours(sess.Metadata) {
		s.fulfillAfterStatus(r.Context(), id) // records.go: record the order if the webhook has not
	}
	resp := sessionStatusResponse{Status: sess.Status, PaymentStatus: sess.PaymentStatus, CustomerEmail: sess.CustomerEmail}
	if c := s.cartCapture(sess.Metadata[metaCart]); c == CaptureManual {
		resp.CaptureMethod = c
	}
	if sess.CustomerDetails != nil && sess.CustomerDetails.Email != "" {
		resp.CustomerEmail = sess.CustomerDetails.Email
	}
	writeJSON(w, http.StatusOK, resp)
}
