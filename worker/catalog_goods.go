package worker

// The catalog's settings for selling physical goods: shipping, phone
// numbers, custom fields, tax, the texts Checkout shows (custom_text and the
// seeds' disclosures), abandoned-checkout recovery and terms-of-service
// consent. Each is shop-wide ("shop" in catalog.json) with per-product
// overrides, and is validated once at start-up (ParseCatalog); errors name
// the product and the field.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Stripe's limits for these Checkout parameters.
const (
	maxShippingOptions   = 5    // shipping_options
	maxCustomFields      = 3    // custom_fields
	maxCustomFieldKey    = 200  // custom_fields[].key
	maxCustomFieldLabel  = 50   // custom_fields[].label.custom
	maxDropdownOptions   = 200  // custom_fields[].dropdown.options
	maxDropdownLabel     = 100  // ....options[].label and value
	maxCustomFieldText   = 255  // text and numeric: maximum_length
	maxCustomTextMessage = 1200 // custom_text.*.message
	maxShippingCountries = 250
)

// ShopGoods are the shop-wide settings for physical goods, embedded in
// ShopOptions.
type ShopGoods struct {
	// Shipping, when set, is where and at which rates the shop ships its
	// shippable products.
	Shipping *Shipping `json:"shipping,omitempty"`
	// PhoneNumberCollection asks Checkout for the shopper's phone number.
	PhoneNumberCollection bool `json:"phone_number_collection,omitempty"`
	// CustomFields are asked on every order (with the products' own, at most
	// 3 in all).
	CustomFields []CustomField `json:"custom_fields,omitempty"`
	// Tax configures Stripe Tax on Checkout.
	Tax *TaxOptions `json:"tax,omitempty"`
	// CustomText is shown by Checkout (Stripe's custom_text).
	CustomText *CustomText `json:"custom_text,omitempty"`
	// Disclosures say what the shopper agrees to when a payment method is
	// saved or a payment only authorized; shown beside Checkout's pay
	// button (custom_text.submit) and on the pay page.
	Disclosures *Disclosures `json:"disclosures,omitempty"`
	// AbandonedCartRecovery makes Checkout keep a recovery URL for a
	// session that expires unpaid (after_expiration.recovery); the worker
	// stores it in the expired order for the shop to send.
	AbandonedCartRecovery bool `json:"abandoned_cart_recovery,omitempty"`
	// TermsOfServiceConsent asks the shopper to accept the shop's terms of
	// service (consent_collection.terms_of_service=required; the terms URL
	// is set in the Stripe Dashboard's public details).
	TermsOfServiceConsent bool `json:"terms_of_service_consent,omitempty"`
	// PayPage is false to sell only through Checkout: the pay page
	// (POST /create-confirm-intent) then refuses the shop's products. A
	// product's pay_page overrides it. Default true.
	PayPage *bool `json:"pay_page,omitempty"`
}

// ProductGoods are a product's own settings for physical goods, embedded in
// Product.
type ProductGoods struct {
	// Shippable marks a physical product: an order with one asks for a
	// shipping address and a shipping rate (shop.shipping).
	Shippable bool `json:"shippable,omitempty"`
	// ShippingRates, when set, limits the shop's rates for this product to
	// these ids (e.g. posters only by courier).
	ShippingRates []string `json:"shipping_rates,omitempty"`
	// PhoneNumberCollection asks for a phone number when the product is
	// ordered, even if the shop does not.
	PhoneNumberCollection bool `json:"phone_number_collection,omitempty"`
	// CustomFields are asked when the product is ordered (a T-shirt's size).
	CustomFields []CustomField `json:"custom_fields,omitempty"`
	// TaxCode is the product's Stripe tax code (txcd_...); TaxBehavior
	// overrides shop.tax.behavior.
	TaxCode     string `json:"tax_code,omitempty"`
	TaxBehavior string `json:"tax_behavior,omitempty"`
	// Disclosure replaces the shop's disclosure for this product's payment
	// terms (e.g. a rental's authorization terms).
	Disclosure string `json:"disclosure,omitempty"`
	// PayPage overrides shop.pay_page for this product.
	PayPage *bool `json:"pay_page,omitempty"`
}

// Shipping is shop.shipping.
type Shipping struct {
	// AllowedCountries are ISO 3166-1 alpha-2 codes the shop ships to.
	AllowedCountries []string `json:"allowed_countries"`
	// Rates are offered in this order; the first is the default.
	Rates []ShippingRate `json:"rates"`
}

// ShippingRate is one way of shipping, priced per currency.
type ShippingRate struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	// Amount is the price per currency in minor units ({"usd": 500}); a
	// product sold in a currency the rate has no amount for cannot use it.
	Amount map[string]int64 `json:"amount"`
	// FreeOver makes the rate free when the order's subtotal (its lines)
	// reaches this amount in the currency.
	FreeOver map[string]int64 `json:"free_over,omitempty"`
	// DeliveryEstimate is shown to the shopper, e.g.
	// {"minimum": {"unit": "business_day", "value": 3}, "maximum": {...}}.
	DeliveryEstimate *DeliveryEstimate `json:"delivery_estimate,omitempty"`
	// TaxCode defaults to Stripe's shipping code when tax is automatic.
	TaxCode string `json:"tax_code,omitempty"`
}

// DeliveryEstimate is a shipping rate's delivery_estimate.
type DeliveryEstimate struct {
	Minimum *EstimateBound `json:"minimum,omitempty"`
	Maximum *EstimateBound `json:"maximum,omitempty"`
}

// EstimateBound is one end of a delivery estimate.
type EstimateBound struct {
	Unit  string `json:"unit"`
	Value int64  `json:"value"`
}

// CustomField is one of Checkout's custom_fields: text, dropdown or
// numeric.
type CustomField struct {
	Key      string           `json:"key"`
	Label    string           `json:"label"`
	Type     string           `json:"type"`
	Optional bool             `json:"optional,omitempty"`
	Options  []DropdownOption `json:"options,omitempty"` // dropdown
	// MinLength and MaxLength bound text and numeric values (0: Stripe's
	// defaults, up to 255).
	MinLength int64 `json:"minimum_length,omitempty"`
	MaxLength int64 `json:"maximum_length,omitempty"`
}

// DropdownOption is one choice of a dropdown field.
type DropdownOption struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// TaxOptions is shop.tax.
type TaxOptions struct {
	// Automatic turns on Stripe Tax (automatic_tax) in Checkout. It needs
	// Stripe Tax set up in the Dashboard (origin address, registrations).
	Automatic bool `json:"automatic,omitempty"`
	// Behavior is the prices' tax_behavior: "exclusive" (tax added on top,
	// the default with automatic tax) or "inclusive".
	Behavior string `json:"behavior,omitempty"`
	// TaxIDCollection lets businesses enter a tax ID (tax_id_collection).
	TaxIDCollection bool `json:"tax_id_collection,omitempty"`
}

// CustomText is Checkout's custom_text, one message each.
type CustomText struct {
	Submit                   string `json:"submit,omitempty"`
	AfterSubmit              string `json:"after_submit,omitempty"`
	ShippingAddress          string `json:"shipping_address,omitempty"`
	TermsOfServiceAcceptance string `json:"terms_of_service_acceptance,omitempty"`
}

// Disclosures are what the shopper agrees to, by kind of payment.
type Disclosures struct {
	SavePaymentMethod        string `json:"save_payment_method,omitempty"`
	ManualCapture            string `json:"manual_capture,omitempty"`
	IncrementalAuthorization string `json:"incremental_authorization,omitempty"`
}

// The disclosures shown when the catalog gives none: the seeds ask that the
// shopper is told, whenever a card is saved or only authorized.
const (
	defaultSaveDisclosure        = "Your card will be saved so the shop can charge it for later payments you agree to. You can ask the shop to remove it at any time."
	defaultManualDisclosure      = "Your card is authorized now and charged when the shop confirms your order; if the order is cancelled, the authorization is released."
	defaultIncrementalDisclosure = "The authorized amount may be increased for charges you agree to (such as a late return) before your card is charged."
)

func (g *ShopGoods) validate() error {
	if s := g.Shipping; s != nil {
		if err := s.validate(); err != nil {
			return err
		}
	}
	if err := validateCustomFields(g.CustomFields, "shop.custom_fields"); err != nil {
		return err
	}
	if t := g.Tax; t != nil {
		switch t.Behavior {
		case "":
			if t.Automatic {
				t.Behavior = "exclusive"
			}
		case "exclusive", "inclusive":
		default:
			return fmt.Errorf("catalog: shop.tax.behavior %q must be \"exclusive\" or \"inclusive\"", t.Behavior)
		}
	}
	if ct := g.CustomText; ct != nil {
		for _, f := range []struct{ name, v string }{{"submit", ct.Submit}, {"after_submit", ct.AfterSubmit},
			{"shipping_address", ct.ShippingAddress}, {"terms_of_service_acceptance", ct.TermsOfServiceAcceptance}} {
			if len(f.v) > maxCustomTextMessage {
				return fmt.Errorf("catalog: shop.custom_text.%s is %d characters; Checkout shows at most %d", f.name, len(f.v), maxCustomTextMessage)
			}
		}
		if ct.TermsOfServiceAcceptance != "" && !g.TermsOfServiceConsent {
			return fmt.Errorf("catalog: shop.custom_text.terms_of_service_acceptance replaces the terms checkbox's text, which only shows with shop.terms_of_service_consent true")
		}
	}
	if d := g.Disclosures; d != nil {
		for _, f := range []struct{ name, v string }{{"save_payment_method", d.SavePaymentMethod}, {"manual_capture", d.ManualCapture},
			{"incremental_authorization", d.IncrementalAuthorization}} {
			if len(f.v) > maxCustomTextMessage/3 {
				return fmt.Errorf("catalog: shop.disclosures.%s is %d characters; at most %d (Checkout shows all of an order's disclosures in one message)", f.name, len(f.v), maxCustomTextMessage/3)
			}
		}
	}
	return nil
}

func (s *Shipping) validate() error {
	if len(s.AllowedCountries) == 0 {
		return fmt.Errorf("catalog: shop.shipping.allowed_countries must list at least one country")
	}
	if len(s.AllowedCountries) > maxShippingCountries {
		return fmt.Errorf("catalog: shop.shipping.allowed_countries lists %d countries; at most %d", len(s.AllowedCountries), maxShippingCountries)
	}
	seen := map[string]bool{}
	for i, cc := range s.AllowedCountries {
		up := strings.ToUpper(strings.TrimSpace(cc))
		if !validCountry(up) {
			return fmt.Errorf("catalog: shop.shipping.allowed_countries[%d] %q must be a two-letter ISO 3166-1 country code such as DE", i, cc)
		}
		if seen[up] {
			return fmt.Errorf("catalog: shop.shipping.allowed_countries: %s given twice", up)
		}
		seen[up] = true
		s.AllowedCountries[i] = up
	}
	sort.Strings(s.AllowedCountries)
	if len(s.Rates) == 0 {
		return fmt.Errorf("catalog: shop.shipping.rates must list at least one rate")
	}
	if len(s.Rates) > maxShippingOptions {
		return fmt.Errorf("catalog: shop.shipping.rates lists %d rates; Checkout offers at most %d", len(s.Rates), maxShippingOptions)
	}
	ids := map[string]bool{}
	for i := range s.Rates {
		r := &s.Rates[i]
		at := fmt.Sprintf("shop.shipping.rates[%d]", i)
		if !validID(r.ID) {
			return fmt.Errorf("catalog: %s.id %q must be 1-64 characters of a-z, A-Z, 0-9, '-' or '_'", at, r.ID)
		}
		if ids[r.ID] {
			return fmt.Errorf("catalog: %s.id %q: duplicate id", at, r.ID)
		}
		ids[r.ID] = true
		at = "shop.shipping.rates " + r.ID
		if strings.TrimSpace(r.DisplayName) == "" || len(r.DisplayName) > 100 {
			return fmt.Errorf("catalog: %s: display_name is required (at most 100 characters)", at)
		}
		var err error
		if r.Amount, err = currencyAmounts(r.Amount, at+": amount", 0); err != nil {
			return err
		}
		if len(r.Amount) == 0 {
			return fmt.Errorf("catalog: %s: amount must give a price for at least one currency, e.g. {\"usd\": 500}", at)
		}
		if r.FreeOver, err = currencyAmounts(r.FreeOver, at+": free_over", 1); err != nil {
			return err
		}
		for cur := range r.FreeOver {
			if _, ok := r.Amount[cur]; !ok {
				return fmt.Errorf("catalog: %s: free_over.%s has no amount.%s to waive", at, cur, cur)
			}
		}
		if r.TaxCode != "" && !strings.HasPrefix(r.TaxCode, "txcd_") {
			return fmt.Errorf("catalog: %s: tax_code %q must be a Stripe tax code (txcd_...)", at, r.TaxCode)
		}
		if e := r.DeliveryEstimate; e != nil {
			for _, b := range []struct {
				name string
				v    *EstimateBound
			}{{"minimum", e.Minimum}, {"maximum", e.Maximum}} {
				if b.v == nil {
					continue
				}
				switch b.v.Unit {
				case "hour", "day", "business_day", "week", "month":
				default:
					return fmt.Errorf("catalog: %s: delivery_estimate.%s.unit %q must be hour, day, business_day, week or month", at, b.name, b.v.Unit)
				}
				if b.v.Value < 1 || b.v.Value > 1000 {
					return fmt.Errorf("catalog: %s: delivery_estimate.%s.value must be between 1 and 1000", at, b.name)
				}
			}
			if e.Minimum != nil && e.Maximum != nil && e.Minimum.Unit == e.Maximum.Unit && e.Minimum.Value > e.Maximum.Value {
				return fmt.Errorf("catalog: %s: delivery_estimate.minimum is after its maximum", at)
			}
		}
	}
	return nil
}

// currencyAmounts normalizes a {currency: minor units} map (lower-case keys)
// and checks every amount is in [min, maxOrderAmount].
func currencyAmounts(m map[string]int64, at string, min int64) (map[string]int64, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]int64, len(m))
	for cur, v := range m {
		lc := strings.ToLower(cur)
		if !validCurrency(lc) {
			return nil, fmt.Errorf("catalog: %s: key %q must be a three-letter ISO currency code", at, cur)
		}
		if _, dup := out[lc]; dup {
			return nil, fmt.Errorf("catalog: %s: currency %q given twice", at, lc)
		}
		if v < min || v > maxOrderAmount {
			return nil, fmt.Errorf("catalog: %s.%s must be between %d and %d (minor units)", at, lc, min, maxOrderAmount)
		}
		out[lc] = v
	}
	return out, nil
}

func validateCustomFields(fs []CustomField, at string) error {
	if len(fs) > maxCustomFields {
		return fmt.Errorf("catalog: %s lists %d fields; Checkout takes at most %d per order", at, len(fs), maxCustomFields)
	}
	keys := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		where := fmt.Sprintf("%s[%d]", at, i)
		if !alnum(f.Key) || len(f.Key) > maxCustomFieldKey {
			return fmt.Errorf("catalog: %s.key %q must be 1-%d letters and digits", where, f.Key, maxCustomFieldKey)
		}
		if keys[f.Key] {
			return fmt.Errorf("catalog: %s.key %q: duplicate key", where, f.Key)
		}
		keys[f.Key] = true
		if strings.TrimSpace(f.Label) == "" || len(f.Label) > maxCustomFieldLabel {
			return fmt.Errorf("catalog: %s (%s): label is required, at most %d characters", where, f.Key, maxCustomFieldLabel)
		}
		switch f.Type {
		case "dropdown":
			if len(f.Options) == 0 || len(f.Options) > maxDropdownOptions {
				return fmt.Errorf("catalog: %s (%s): a dropdown needs 1-%d options", where, f.Key, maxDropdownOptions)
			}
			values := map[string]bool{}
			for j, o := range f.Options {
				if strings.TrimSpace(o.Label) == "" || len(o.Label) > maxDropdownLabel || !alnum(o.Value) || len(o.Value) > maxDropdownLabel {
					return fmt.Errorf("catalog: %s (%s): options[%d] needs a label and a value of 1-%d letters and digits", where, f.Key, j, maxDropdownLabel)
				}
				if values[o.Value] {
					return fmt.Errorf("catalog: %s (%s): options[%d].value %q given twice", where, f.Key, j, o.Value)
				}
				values[o.Value] = true
			}
			if f.MinLength != 0 || f.MaxLength != 0 {
				return fmt.Errorf("catalog: %s (%s): minimum_length and maximum_length are for text and numeric fields", where, f.Key)
			}
		case "text", "numeric":
			if len(f.Options) > 0 {
				return fmt.Errorf("catalog: %s (%s): options are for dropdown fields", where, f.Key)
			}
			if f.MinLength < 0 || f.MaxLength < 0 || f.MinLength > maxCustomFieldText || f.MaxLength > maxCustomFieldText ||
				(f.MaxLength != 0 && f.MinLength > f.MaxLength) {
				return fmt.Errorf("catalog: %s (%s): minimum_length and maximum_length must be 0-%d, minimum at most maximum", where, f.Key, maxCustomFieldText)
			}
		default:
			return fmt.Errorf("catalog: %s (%s): type %q must be \"text\", \"dropdown\" or \"numeric\"", where, f.Key, f.Type)
		}
	}
	return nil
}

// validate checks a product's goods settings against the shop's (p is the
// product, for its currency and capture; shop the validated shop options).
func (g *ProductGoods) validate(p *Product, shop *ShopOptions) error {
	for i, id := range g.ShippingRates {
		if !g.Shippable {
			return fmt.Errorf("shipping_rates is for shippable products")
		}
		if shop.Shipping == nil || shop.Shipping.rate(id) == nil {
			return fmt.Errorf("shipping_rates[%d] %q names no rate in shop.shipping.rates", i, id)
		}
	}
	if g.Shippable {
		if shop.Shipping == nil {
			return fmt.Errorf("shippable needs shop.shipping (allowed countries and rates)")
		}
		if len(shop.rates(p)) == 0 {
			return fmt.Errorf("shippable: no shipping rate it may use has an amount in %s", strings.ToUpper(p.Currency))
		}
	}
	if err := validateCustomFields(g.CustomFields, "custom_fields"); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "catalog: "))
	}
	for _, f := range g.CustomFields {
		for _, s := range shop.CustomFields {
			if s.Key == f.Key {
				return fmt.Errorf("custom_fields: key %q is also a shop.custom_fields key", f.Key)
			}
		}
	}
	if n := len(shop.CustomFields) + len(g.CustomFields); n > maxCustomFields {
		return fmt.Errorf("custom_fields: with shop.custom_fields this product's orders would ask %d fields; Checkout takes at most %d", n, maxCustomFields)
	}
	if g.TaxCode != "" && !strings.HasPrefix(g.TaxCode, "txcd_") {
		return fmt.Errorf("tax_code %q must be a Stripe tax code (txcd_...)", g.TaxCode)
	}
	switch g.TaxBehavior {
	case "", "exclusive", "inclusive":
	default:
		return fmt.Errorf("tax_behavior %q must be \"exclusive\" or \"inclusive\"", g.TaxBehavior)
	}
	if g.TaxBehavior != "" && p.Price != "" {
		return fmt.Errorf("tax_behavior is set on the Stripe Price (price %s), not in the catalog", p.Price)
	}
	if len(g.Disclosure) > maxCustomTextMessage/3 {
		return fmt.Errorf("disclosure is %d characters; at most %d", len(g.Disclosure), maxCustomTextMessage/3)
	}
	// Checkout shows the shop's submit text and the product's terms in one
	// message, which Stripe caps; they are never cut (goods.go).
	var own []string
	if g.Disclosure != "" {
		own = []string{g.Disclosure}
	}
	if n := len(shop.submitText(own, p.Capture == CaptureManual, p.IncrementalAuthorization, p.SavePaymentMethod)); n > maxCustomTextMessage {
		return fmt.Errorf("shop.custom_text.submit and this product's terms (disclosures) come to %d characters; Checkout shows at most %d", n, maxCustomTextMessage)
	}
	// The pay page cannot calculate tax: a product taxed automatically
	// must be sold through Checkout only, or it would be charged untaxed.
	if shop.Tax != nil && shop.Tax.Automatic && shop.onPayPage(p) {
		return fmt.Errorf("shop.tax.automatic is on, but the product is sold on the pay page, which cannot calculate tax and would charge it untaxed; set \"pay_page\": false in shop or on the product")
	}
	return nil
}

// onPayPage reports whether product p may be bought on the pay page.
func (o *ShopOptions) onPayPage(p *Product) bool {
	if p.PayPage != nil {
		return *p.PayPage
	}
	return o.PayPage == nil || *o.PayPage
}

// rate returns the shipping rate with this id, or nil.
func (s *Shipping) rate(id string) *ShippingRate {
	for i := range s.Rates {
		if s.Rates[i].ID == id {
			return &s.Rates[i]
		}
	}
	return nil
}

// rates are the shop's shipping rates product p may ship with: those priced
// in its currency, limited to its shipping_rates when it has some.
func (o *ShopOptions) rates(p *Product) []*ShippingRate {
	if o.Shipping == nil {
		return nil
	}
	var out []*ShippingRate
	for i := range o.Shipping.Rates {
		r := &o.Shipping.Rates[i]
		if _, ok := r.Amount[p.Currency]; !ok {
			continue
		}
		if len(p.ShippingRates) > 0 && !slices.Contains(p.ShippingRates, r.ID) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// alnum accepts 1 or more ASCII letters and digits.
func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
