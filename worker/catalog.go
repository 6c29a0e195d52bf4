package worker

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// defaultCatalogJSON is the catalog used when CATALOG_JSON is not set.
//
//go:embed catalog.json
var defaultCatalogJSON []byte

// Capture modes of a product (Stripe's capture_method).
const (
	CaptureAutomatic = "automatic"
	CaptureManual    = "manual"
)

// Product is one thing the shop sells. Amounts are in the currency's minor unit
// (cents for USD) and are only ever taken from the catalog, never from a request.
type Product struct {
	// ID is what the browser sends to name the product.
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Image is an absolute URL or a path on the site, shown by the product page.
	Image string `json:"image,omitempty"`
	// UnitAmount and Currency price the product. They are also used for display,
	// for the order total the approval rules see, and for the mixed-currency
	// check when Price is set.
	UnitAmount int64  `json:"unit_amount"`
	Currency   string `json:"currency"`
	// Price is an optional Stripe Price ID (price_...). When set, the Checkout
	// Session uses it instead of inline price data.
	Price string `json:"price,omitempty"`
	// MaxQuantity is the most a single order may contain; 0 means DefaultMaxQuantity.
	MaxQuantity int64 `json:"max_quantity,omitempty"`
	// Stock, when set, is how many the shop can sell in all; the stock approval
	// rule subtracts what is already sold (Server's SoldCounter). Absent means
	// unlimited.
	Stock *int64 `json:"stock,omitempty"`
	// Capture is "automatic" (default: charged at once) or "manual" (only
	// authorized; the operator captures or cancels later).
	Capture string `json:"capture,omitempty"`
	// IncrementalAuthorization asks Stripe for incremental authorization
	// (payment_method_options.card.request_incremental_authorization=if_available);
	// only with capture "manual".
	IncrementalAuthorization bool `json:"incremental_authorization,omitempty"`
	// SavePaymentMethod saves the shopper's payment method for later off-session
	// payments (payment_intent_data.setup_future_usage=off_session); Checkout
	// then creates a Customer to keep it.
	SavePaymentMethod bool `json:"save_payment_method,omitempty"`
	// CardRules adds to the shop's card rules for carts with this product
	// (pay page only; card_rules.go).
	CardRules *CardRules `json:"card_rules,omitempty"`
	// ProductGoods: shipping, custom fields, tax and texts (catalog_goods.go).
	ProductGoods
}

// ShopOptions are the catalog's shop-wide settings ("shop" in catalog.json).
type ShopOptions struct {
	// AllowPromotionCodes shows Checkout's promotion code field.
	AllowPromotionCodes bool `json:"allow_promotion_codes,omitempty"`
	// CustomerCreation is Checkout's customer_creation ("always" or
	// "if_required"); empty leaves Stripe's default. Carts that save a payment
	// method always create a customer.
	CustomerCreation string `json:"customer_creation,omitempty"`
	// SavedPaymentMethodOptions is Checkout's saved_payment_method_options:
	// payment_method_save offers the shopper a "save my card" box (Checkout then
	// creates a customer); payment_method_remove lets a returning customer
	// (customerToken, see payments_customer.go) remove saved cards.
	SavedPaymentMethodOptions *SavedPaymentMethodOptions `json:"saved_payment_method_options,omitempty"`
	// MaxOrderAmount caps an order's total per currency, in minor units
	// ({"usd": 50000} = 500.00 USD). Orders above it are refused before
	// anything is created at Stripe.
	MaxOrderAmount map[string]int64 `json:"max_order_amount,omitempty"`
	// RefusedEmailDomains refuses orders whose email is at one of these
	// domains or their subdomains.
	RefusedEmailDomains []string `json:"refused_email_domains,omitempty"`
	// RefusedCountries refuses orders from these ISO 3166-1 alpha-2 countries
	// (from Cloudflare's CF-IPCountry header or the request's country field).
	RefusedCountries []string `json:"refused_countries,omitempty"`
	// CardRules refuse cards by funding, brand or issuing country on the pay
	// page, before anything is created at Stripe (card_rules.go).
	CardRules *CardRules `json:"card_rules,omitempty"`
	// ShopGoods: shipping, phone, custom fields, tax, texts, recovery and
	// consent (catalog_goods.go).
	ShopGoods
}

// SavedPaymentMethodOptions mirrors Stripe's Checkout parameter of that name.
type SavedPaymentMethodOptions struct {
	PaymentMethodSave   string `json:"payment_method_save,omitempty"`
	PaymentMethodRemove string `json:"payment_method_remove,omitempty"`
}

// DefaultMaxQuantity applies to products that do not set max_quantity.
const DefaultMaxQuantity = 10

// maxCatalogProducts bounds the catalog so a bad variable cannot make every
// request slow.
const maxCatalogProducts = 500

// maxUnitAmount is the largest unit_amount accepted; maxOrderAmount the
// largest total Stripe accepts for one payment (8 digits in minor units).
const (
	maxUnitAmount  = 99999999
	maxOrderAmount = 99999999
)

// Catalog is the server-side list of products, indexed by ID, with the shop's options.
type Catalog struct {
	Products []Product
	Shop     ShopOptions
	byID     map[string]int
}

// Lookup returns the product with the given ID.
func (c *Catalog) Lookup(id string) (*Product, bool) {
	i, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	return &c.Products[i], true
}

// DefaultCatalog returns the catalog bundled with the worker.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(defaultCatalogJSON)
	if err != nil {
		panic("bundled catalog.json is invalid: " + err.Error())
	}
	return c
}

// ParseCatalog reads a catalog document ({"shop":{...},"products":[...]})
// strictly: unknown fields, duplicate IDs, impossible prices and contradictory
// options are errors that name the product and field.
func ParseCatalog(data []byte) (*Catalog, error) {
	var doc struct {
		Shop     *ShopOptions `json:"shop"`
		Products []Product    `json:"products"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("catalog: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("catalog: unexpected data after the JSON document")
	}
	if len(doc.Products) == 0 {
		return nil, fmt.Errorf("catalog: no products")
	}
	if len(doc.Products) > maxCatalogProducts {
		return nil, fmt.Errorf("catalog: %d products, at most %d allowed", len(doc.Products), maxCatalogProducts)
	}
	c := &Catalog{Products: doc.Products, byID: make(map[string]int, len(doc.Products))}
	if doc.Shop != nil {
		c.Shop = *doc.Shop
	}
	if err := c.Shop.validate(); err != nil {
		return nil, err
	}
	for i := range c.Products {
		p := &c.Products[i]
		if !validID(p.ID) {
			return nil, fmt.Errorf("catalog: products[%d].id %q must be 1-64 characters of a-z, A-Z, 0-9, '-' or '_'", i, p.ID)
		}
		if _, dup := c.byID[p.ID]; dup {
			return nil, fmt.Errorf("catalog: product %q: duplicate id", p.ID)
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("catalog: product %q: %v", p.ID, err)
		}
		if err := p.ProductGoods.validate(p, &c.Shop); err != nil {
			return nil, fmt.Errorf("catalog: product %q: %v", p.ID, err)
		}
		c.byID[p.ID] = i
	}
	return c, nil
}

func (p *Product) validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("name is required")
	}
	if p.UnitAmount <= 0 || p.UnitAmount > maxUnitAmount {
		return fmt.Errorf("unit_amount must be between 1 and %d (minor units)", maxUnitAmount)
	}
	p.Currency = strings.ToLower(p.Currency)
	if !validCurrency(p.Currency) {
		return fmt.Errorf("currency %q must be a three-letter ISO code", p.Currency)
	}
	if p.Price != "" && !strings.HasPrefix(p.Price, "price_") {
		return fmt.Errorf("price %q must be a Stripe Price ID (price_...)", p.Price)
	}
	if p.MaxQuantity == 0 {
		p.MaxQuantity = DefaultMaxQuantity
	}
	if p.MaxQuantity < 1 || p.MaxQuantity > 999 {
		return fmt.Errorf("max_quantity must be between 1 and 999")
	}
	if p.Stock != nil && (*p.Stock < 0 || *p.Stock > 1e9) {
		return fmt.Errorf("stock must be between 0 and 1000000000 (leave it out for unlimited)")
	}
	switch p.Capture {
	case "":
		p.Capture = CaptureAutomatic
	case CaptureAutomatic, CaptureManual:
	default:
		return fmt.Errorf("capture %q must be %q or %q", p.Capture, CaptureAutomatic, CaptureManual)
	}
	if p.IncrementalAuthorization && p.Capture != CaptureManual {
		return fmt.Errorf("incremental_authorization needs capture %q: only an authorized, uncaptured payment can be incremented", CaptureManual)
	}
	return p.CardRules.validate()
}

func (o *ShopOptions) validate() error {
	switch o.CustomerCreation {
	case "", "always", "if_required":
	default:
		return fmt.Errorf("catalog: shop.customer_creation %q must be \"always\" or \"if_required\"", o.CustomerCreation)
	}
	if sp := o.SavedPaymentMethodOptions; sp != nil {
		for _, f := range []struct{ name, value string }{{"payment_method_save", sp.PaymentMethodSave}, {"payment_method_remove", sp.PaymentMethodRemove}} {
			if f.value != "" && f.value != "enabled" && f.value != "disabled" {
				return fmt.Errorf("catalog: shop.saved_payment_method_options.%s %q must be \"enabled\" or \"disabled\"", f.name, f.value)
			}
		}
		if sp.PaymentMethodSave == "enabled" && o.CustomerCreation == "if_required" {
			return fmt.Errorf("catalog: shop.saved_payment_method_options.payment_method_save \"enabled\" needs a customer; it cannot be combined with shop.customer_creation \"if_required\"")
		}
	}
	if len(o.MaxOrderAmount) > 0 {
		normalized := make(map[string]int64, len(o.MaxOrderAmount))
		for cur, max := range o.MaxOrderAmount {
			lc := strings.ToLower(cur)
			if !validCurrency(lc) {
				return fmt.Errorf("catalog: shop.max_order_amount: key %q must be a three-letter ISO currency code", cur)
			}
			if max < 1 || max > maxOrderAmount {
				return fmt.Errorf("catalog: shop.max_order_amount.%s must be between 1 and %d (minor units)", lc, maxOrderAmount)
			}
			if _, dup := normalized[lc]; dup {
				return fmt.Errorf("catalog: shop.max_order_amount: currency %q given twice", lc)
			}
			normalized[lc] = max
		}
		o.MaxOrderAmount = normalized
	}
	for i, d := range o.RefusedEmailDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if !validDomain(d) {
			return fmt.Errorf("catalog: shop.refused_email_domains[%d] %q must be a domain name such as example.com", i, o.RefusedEmailDomains[i])
		}
		o.RefusedEmailDomains[i] = d
	}
	for i, cc := range o.RefusedCountries {
		cc = strings.ToUpper(strings.TrimSpace(cc))
		if !validCountry(cc) {
			return fmt.Errorf("catalog: shop.refused_countries[%d] %q must be a two-letter ISO 3166-1 country code such as DE", i, o.RefusedCountries[i])
		}
		o.RefusedCountries[i] = cc
	}
	sort.Strings(o.RefusedCountries)
	if err := o.CardRules.validate(); err != nil {
		return fmt.Errorf("catalog: shop.%v", err)
	}
	return o.ShopGoods.validate()
}

// offersSave reports whether Checkout offers the shopper to save the payment
// method, which needs a customer.
func (o *ShopOptions) offersSave() bool {
	return o.SavedPaymentMethodOptions != nil && o.SavedPaymentMethodOptions.PaymentMethodSave == "enabled"
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// validCountry accepts two upper-case letters (ISO 3166-1 alpha-2 shape).
func validCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// validDomain accepts lower-case DNS names with at least two labels.
func validDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
