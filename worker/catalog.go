package worker

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// defaultCatalogJSON is the catalog used when CATALOG_JSON is not set.
//
//go:embed catalog.json
var defaultCatalogJSON []byte

// Product is one thing the shop sells. Amounts are in the currency's minor unit
// (cents for USD) and are only ever taken from the catalog, never from a request.
type Product struct {
	// ID is what the browser sends to name the product.
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Image is an absolute URL or a path on the site, shown by the product page.
	Image string `json:"image,omitempty"`
	// UnitAmount and Currency price the product. They are also used for display
	// and for the mixed-currency check when Price is set.
	UnitAmount int64  `json:"unit_amount"`
	Currency   string `json:"currency"`
	// Price is an optional Stripe Price ID (price_...). When set, the Checkout
	// Session uses it instead of inline price data.
	Price string `json:"price,omitempty"`
	// MaxQuantity is the most a single order may contain; 0 means DefaultMaxQuantity.
	MaxQuantity int64 `json:"max_quantity,omitempty"`
}

// DefaultMaxQuantity applies to products that do not set max_quantity.
const DefaultMaxQuantity = 10

// maxCatalogProducts bounds the catalog so a bad variable cannot make every
// request slow.
const maxCatalogProducts = 500

// Catalog is the server-side list of products, indexed by ID.
type Catalog struct {
	Products []Product
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

// ParseCatalog reads a catalog document ({"products":[...]}) strictly: unknown
// fields, duplicate IDs and impossible prices are errors that name the product.
func ParseCatalog(data []byte) (*Catalog, error) {
	var doc struct {
		Products []Product `json:"products"`
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
	for i := range c.Products {
		p := &c.Products[i]
		where := fmt.Sprintf("catalog: products[%d]", i)
		if !validID(p.ID) {
			return nil, fmt.Errorf("%s: id %q must be 1-64 characters of a-z, A-Z, 0-9, '-' or '_'", where, p.ID)
		}
		where = fmt.Sprintf("catalog: product %q", p.ID)
		if _, dup := c.byID[p.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate id", where)
		}
		if strings.TrimSpace(p.Name) == "" {
			return nil, fmt.Errorf("%s: name is required", where)
		}
		if p.UnitAmount <= 0 || p.UnitAmount > 99999999 {
			return nil, fmt.Errorf("%s: unit_amount must be between 1 and 99999999 (minor units)", where)
		}
		p.Currency = strings.ToLower(p.Currency)
		if !validCurrency(p.Currency) {
			return nil, fmt.Errorf("%s: currency %q must be a three-letter ISO code", where, p.Currency)
		}
		if p.Price != "" && !strings.HasPrefix(p.Price, "price_") {
			return nil, fmt.Errorf("%s: price %q must be a Stripe Price ID (price_...)", where, p.Price)
		}
		if p.MaxQuantity == 0 {
			p.MaxQuantity = DefaultMaxQuantity
		}
		if p.MaxQuantity < 1 || p.MaxQuantity > 999 {
			return nil, fmt.Errorf("%s: max_quantity must be between 1 and 999", where)
		}
		c.byID[p.ID] = i
	}
	return c, nil
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
