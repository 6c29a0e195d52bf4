package worker

// Physical goods on the pay page (the confirm-intent flow). Checkout asks
// for shipping, custom fields and a phone number itself; on the pay page the
// shopper types them into the page:
//
//   - the shipping address (and phone) in the Address Element, which
//     Stripe.js puts into the ConfirmationToken's shipping and Stripe writes
//     onto the PaymentIntent when it is confirmed;
//   - the shipping rate (shippingRate, one of the catalog's rates the order
//     may use; the first when none is sent, as Checkout preselects it) and
//     the custom fields (customFields) in the request.
//
// The worker checks all of it against the catalog before anything is
// created: the rate is added to the amount the worker charges, the address
// must be in an allowed country, the fields must be what the catalog
// asks. The rate and the fields go into the PaymentIntent's metadata
// (kit_shipping "rate:amount", kit_fields URL-encoded), which only the
// worker writes, and the order is recorded from them (records.go).

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"
)

// Metadata keys of the pay page's goods.
const (
	metaShipping = "kit_shipping"
	metaFields   = "kit_fields"
)

// maxFieldValue is the longest custom field value (Stripe's text maximum).
const maxFieldValue = 255

// payPageGoods checks the request's shipping rate and custom fields against
// order o's plan, adds the rate to the amount and records both for the
// PaymentIntent's metadata.
func (s *Server) payPageGoods(o *Order, rate string, fields map[string]string) *apiError {
	g := o.goods
	switch {
	case !g.ship && rate != "":
		return badRequest("unexpected_shipping_rate", "shippingRate", "shippingRate: nothing in this order is shipped")
	case g.ship:
		// No choice sent: the first rate, as Checkout preselects it.
		if rate == "" {
			rate = g.rates[0].rate.ID
		}
		for i := range g.rates {
			if g.rates[i].rate.ID == rate {
				o.shipRate = &g.rates[i]
			}
		}
		if o.shipRate == nil {
			return badRequest("invalid_shipping_rate", "shippingRate", "shippingRate must be one of %s for this order", rateIDs(g.rates))
		}
		o.Amount += o.shipRate.amount
	}
	vals := url.Values{}
	for key := range fields {
		if !hasField(g.fields, key) {
			return badRequest("unknown_custom_field", "customFields."+safeKey(key), "customFields has no field %q for this order; it asks for %s", safeKey(key), fieldKeys(g.fields))
		}
	}
	for _, f := range g.fields {
		v := strings.TrimSpace(fields[f.Key])
		param := "customFields." + f.Key
		if v == "" {
			if !f.Optional {
				return badRequest("missing_custom_field", param, "%s (%s) is required", param, f.Label)
			}
			continue
		}
		if msg := fieldValueProblem(&f, v); msg != "" {
			return badRequest("invalid_custom_field", param, "%s (%s) %s", param, f.Label, msg)
		}
		vals.Set(f.Key, v)
	}
	if enc := vals.Encode(); enc != "" {
		if len(enc) > maxMetadataValue {
			return badRequest("invalid_custom_field", "customFields", "customFields are too long to record with the order (at most %d characters in all)", maxMetadataValue)
		}
		o.fields = enc
	}
	return nil
}

// fieldValueProblem says what is wrong with value v of field f, "" if
// nothing: the same checks Checkout makes.
func fieldValueProblem(f *CustomField, v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return "must be one line without control characters"
		}
	}
	switch f.Type {
	case "dropdown":
		for _, o := range f.Options {
			if o.Value == v {
				return ""
			}
		}
		vals := make([]string, len(f.Options))
		for i, o := range f.Options {
			vals[i] = o.Value
		}
		return "must be one of " + strings.Join(vals, ", ")
	case "numeric":
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return "must be digits only"
			}
		}
	}
	max := f.MaxLength
	if max == 0 {
		max = maxFieldValue
	}
	if n := int64(len([]rune(v))); n < f.MinLength || n > max {
		return "must be " + strconv.FormatInt(f.MinLength, 10) + " to " + strconv.FormatInt(max, 10) + " characters"
	}
	return ""
}

// payPageShipping checks the address the ConfirmationToken carries (from the
// Address Element) for an order that ships, and the phone when the order
// asks for one. It runs after the token is read, before anything is
// created.
func (s *Server) payPageShipping(o *Order, tok *stripeapi.ConfirmationToken) *apiError {
	g := o.goods
	sh := tok.Shipping
	if g.ship {
		if sh == nil || sh.Address == nil || strings.TrimSpace(sh.Name) == "" || strings.TrimSpace(sh.Address.Line1) == "" {
			return badRequest("missing_shipping_address", "confirmationToken",
				"this order is shipped: collect the name and address with the Address Element (mode shipping) before creating the ConfirmationToken")
		}
		cc := strings.ToUpper(sh.Address.Country)
		allowed := s.cfg.Catalog.Shop.Shipping.AllowedCountries
		if !slices.Contains(allowed, cc) {
			return &apiError{Status: http.StatusUnprocessableEntity, Code: "shipping_country_refused", Param: "shipping",
				Message: "the shop does not ship to " + cc + "; it ships to " + strings.Join(allowed, ", ")}
		}
	}
	if g.phone && (sh == nil || strings.TrimSpace(sh.Phone) == "") {
		return badRequest("missing_phone", "confirmationToken", "this order asks for a phone number: collect it with the Address Element (fields.phone \"always\")")
	}
	return nil
}

// goodsMetadata adds the pay page's goods to a PaymentIntent's metadata.
func (o *Order) goodsMetadata(md map[string]string) {
	if r := o.shipRate; r != nil {
		md[metaShipping] = r.rate.ID + ":" + strconv.FormatInt(r.amount, 10)
	}
	if o.fields != "" {
		md[metaFields] = o.fields
	}
}

// intentDetails reads a confirm-intent PaymentIntent's goods back: the
// shipping Stripe wrote from the ConfirmationToken, the rate and fields the
// worker recorded in its metadata.
func (s *Server) intentDetails(pi *stripeapi.IntentRecord) orders.Details {
	var d orders.Details
	if v := pi.Metadata[metaShipping]; v != "" {
		id, amount, _ := strings.Cut(v, ":")
		n, err := strconv.ParseInt(amount, 10, 64)
		if err == nil && n >= 0 {
			d.AmountShipping = n
			sh := &orders.Shipping{Rate: id, Amount: n}
			if sp := s.cfg.Catalog.Shop.Shipping; sp != nil {
				if r := sp.rate(id); r != nil {
					sh.RateName = r.DisplayName
				}
			}
			d.Shipping = sh
		}
	}
	if sd := pi.Shipping; sd != nil {
		if d.Shipping == nil {
			d.Shipping = &orders.Shipping{}
		}
		d.Shipping.Name, d.Shipping.Phone = sd.Name, sd.Phone
		if sd.Address != nil {
			d.Shipping.Address = orders.Address(*sd.Address)
		}
		d.Phone = sd.Phone
	}
	if v := pi.Metadata[metaFields]; v != "" {
		if vals, err := url.ParseQuery(v); err == nil {
			keys := make([]string, 0, len(vals))
			for k := range vals {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				d.CustomFields = append(d.CustomFields, orders.CustomField{Key: k, Value: vals.Get(k)})
			}
		}
	}
	return d
}

func rateIDs(rates []plannedRate) string {
	ids := make([]string, len(rates))
	for i, r := range rates {
		ids[i] = r.rate.ID
	}
	return strings.Join(ids, ", ")
}

func fieldKeys(fs []CustomField) string {
	if len(fs) == 0 {
		return "none"
	}
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.Key
	}
	return strings.Join(keys, ", ")
}

// safeKey shortens and cleans a client-chosen key for an error message.
func safeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k) && b.Len() < 40; i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
