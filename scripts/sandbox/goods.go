package main

// Selling physical goods through Checkout: shipping addresses and rates,
// phone numbers, custom fields, custom text, automatic tax and tax IDs,
// terms-of-service consent and abandoned-cart recovery, read from the
// session's parameters (rows in sessionFields) and collected by the
// stand-in's form when the session is paid.
//
// Tax in the sandbox is a fixed 10% (sandboxTaxPercent) of every line and
// shipping rate that automatic_tax covers, added on top of "exclusive" (and
// "unspecified") prices and taken out of "inclusive" ones; tax code
// txcd_00000000 (nontaxable) is exempt. Real rates depend on the address and
// the account's registrations; the sandbox only shows the shape.
//
// Recovery: a hosted session created with after_expiration[recovery][enabled]
// gets after_expiration.recovery.url when it expires: /_sandbox/recover/{id}
// on the sandbox, which opens a new hosted session copied from it
// (recovered_from), as Stripe's recovery link does.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const sandboxTaxPercent = 10

var estimateBound = []field{
	{name: "unit", kind: enumText, required: true, enum: []string{"business_day", "day", "hour", "month", "week"}},
	{name: "value", kind: integer, required: true, min: 1, max: 1000},
}

// shippingRateDataFields: shipping_options[i][shipping_rate_data][...].
var shippingRateDataFields = []field{
	{name: "delivery_estimate", kind: hashOf, sub: []field{{name: "maximum", kind: hashOf, sub: estimateBound}, {name: "minimum", kind: hashOf, sub: estimateBound}}},
	{name: "display_name", kind: text, required: true, max: 100},
	{name: "fixed_amount", kind: hashOf, sub: []field{
		{name: "amount", kind: integer, required: true, min: 0, max: maxAmountTotal},
		{name: "currency", kind: currencyCode, required: true},
		{name: "currency_options", unused: true},
	}},
	{name: "metadata", kind: metadataHash},
	{name: "tax_behavior", kind: enumText, enum: []string{"exclusive", "inclusive", "unspecified"}},
	{name: "tax_code", kind: text},
	{name: "type", kind: enumText, enum: []string{"fixed_amount"}},
}

var shippingOptionFields = []field{
	{name: "shipping_rate", kind: refused, refuse: "names a Shipping Rate object; the sandbox creates rates only from shipping_rate_data."},
	{name: "shipping_rate_data", kind: hashOf, required: true, sub: shippingRateDataFields},
}

var lengthFields = []field{
	{name: "default_value", kind: text, max: 255},
	{name: "maximum_length", kind: integer, min: 1, max: 255},
	{name: "minimum_length", kind: integer, min: 0, max: 255},
}

// customFieldFields: custom_fields[i][...].
var customFieldFields = []field{
	{name: "dropdown", kind: hashOf, sub: []field{
		{name: "default_value", kind: text, max: 100},
		{name: "options", kind: listOf, required: true, max: 200, sub: []field{
			{name: "label", kind: text, required: true, max: 100},
			{name: "value", kind: text, required: true, max: 100},
		}},
	}},
	{name: "key", kind: text, required: true, max: 200},
	{name: "label", kind: hashOf, required: true, sub: []field{
		{name: "custom", kind: text, required: true, max: 50},
		{name: "type", kind: enumText, required: true, enum: []string{"custom"}},
	}},
	{name: "numeric", kind: hashOf, sub: lengthFields},
	{name: "optional", kind: boolText},
	{name: "text", kind: hashOf, sub: lengthFields},
	{name: "type", kind: enumText, required: true, enum: []string{"dropdown", "numeric", "text"}},
}

var messageFields = []field{{name: "message", kind: text, required: true, max: 1200}}

// customTextFields: custom_text[...][message].
var customTextFields = []field{
	{name: "after_submit", kind: hashOf, sub: messageFields},
	{name: "shipping_address", kind: hashOf, sub: messageFields},
	{name: "submit", kind: hashOf, sub: messageFields},
	{name: "terms_of_service_acceptance", kind: hashOf, sub: messageFields},
}

// sessionGoods is what a session asks the shopper beyond payment, and what
// the shopper gave when paying.
type sessionGoods struct {
	ShippingCountries []string
	ShippingOptions   []*shippingRate
	Phone             bool
	Fields            []customFieldDef
	Text              map[string]string // custom_text messages by key
	Tax               bool
	TaxIDs            bool
	Recovery          bool
	ConsentTOS        bool
	CustomerUpdate    map[string]string

	// Collected when paid.
	Shipping     *shippingDetails
	Rate         *shippingRate
	PhoneValue   string
	FieldValues  map[string]string
	TaxIDValues  []taxIDValue
	BillingCC    string
	Accepted     bool
	AmountTax    int64 // lines' tax and the shipping's
	ShippingTax  int64
	RecoveryURL  string
	RecoveredFrm string
}

type shippingRate struct {
	ID, DisplayName, Currency string
	Amount                    int64
	Estimate                  map[string]any
	Metadata                  map[string]string
	TaxBehavior, TaxCode      string
	Created                   int64
}

type customFieldDef struct {
	Key, Label, Type string
	Optional         bool
	Options          [][2]string // label, value
	Min, Max         int64
}

type shippingDetails struct {
	Name                                           string
	Line1, Line2, City, State, PostalCode, Country string
}

type taxIDValue struct{ Type, Value string }

// readGoodsLocked reads the goods parameters of a session being created.
func (sb *Sandbox) readGoodsLocked(s *session, v values) *apiError {
	g := &s.Goods
	if sac := v["shipping_address_collection"]; sac.set {
		g.ShippingCountries = sac.sub["allowed_countries"].list
	}
	for i, o := range v["shipping_options"].each {
		d := o["shipping_rate_data"].sub
		fa := d["fixed_amount"].sub
		at := "shipping_options[" + strconv.Itoa(i) + "][shipping_rate_data]"
		if !d["fixed_amount"].set {
			return missing(at + "[fixed_amount]")
		}
		cur := strings.ToLower(fa["currency"].s)
		if cur != s.Currency {
			return invalid(at+"[fixed_amount][currency]", "", "The shipping rate's currency (%s) must match the line items' currency (%s).", cur, s.Currency)
		}
		r := &shippingRate{ID: newID("shr_", 24), DisplayName: d["display_name"].s, Currency: cur, Amount: fa["amount"].n,
			Metadata: map[string]string{}, TaxBehavior: d["tax_behavior"].s, TaxCode: d["tax_code"].s, Created: sb.now().Unix()}
		if md := d["metadata"].md; md != nil {
			r.Metadata = md
		}
		if r.TaxBehavior == "" {
			r.TaxBehavior = "unspecified"
		}
		if e := d["delivery_estimate"]; e.set {
			r.Estimate = map[string]any{}
			for _, b := range []string{"minimum", "maximum"} {
				if x := e.sub[b]; x.set {
					r.Estimate[b] = map[string]any{"unit": x.sub["unit"].s, "value": x.sub["value"].n}
				} else {
					r.Estimate[b] = nil
				}
			}
		}
		g.ShippingOptions = append(g.ShippingOptions, r)
	}
	if len(g.ShippingOptions) > 0 && g.ShippingCountries == nil {
		return invalid("shipping_options", "", "shipping_options requires shipping_address_collection: Checkout only offers shipping rates when it collects a shipping address.")
	}
	if p := v["phone_number_collection"]; p.set {
		if !p.sub["enabled"].set {
			return missing("phone_number_collection[enabled]")
		}
		g.Phone = p.sub["enabled"].b
	}
	keys := map[string]bool{}
	for i, f := range v["custom_fields"].each {
		at := "custom_fields[" + strconv.Itoa(i) + "]"
		def := customFieldDef{Key: f["key"].s, Label: f["label"].sub["custom"].s, Type: f["type"].s, Optional: f["optional"].b}
		if !alnumKey(def.Key) {
			return invalid(at+"[key]", "", "Invalid %s[key]: must be alphanumeric.", at)
		}
		if keys[def.Key] {
			return invalid(at+"[key]", "", "Custom field keys must be unique: %q is repeated.", def.Key)
		}
		keys[def.Key] = true
		for _, other := range []string{"dropdown", "numeric", "text"} {
			if other != def.Type && f[other].set {
				return invalid(at+"["+other+"]", "", "%s[%s] can only be set when %s[type] is %s.", at, other, at, other)
			}
		}
		switch def.Type {
		case "dropdown":
			if !f["dropdown"].set {
				return missing(at + "[dropdown]")
			}
			for _, o := range f["dropdown"].sub["options"].each {
				def.Options = append(def.Options, [2]string{o["label"].s, o["value"].s})
			}
		case "text", "numeric":
			if l := f[def.Type]; l.set {
				def.Min, def.Max = l.sub["minimum_length"].n, l.sub["maximum_length"].n
				if def.Max > 0 && def.Min > def.Max {
					return invalid(at+"["+def.Type+"][minimum_length]", "", "minimum_length must be at most maximum_length.")
				}
			}
		}
		g.Fields = append(g.Fields, def)
	}
	if ct := v["custom_text"]; ct.set {
		g.Text = map[string]string{}
		for name, x := range ct.sub {
			if x.set {
				g.Text[name] = x.sub["message"].s
			}
		}
	}
	if at := v["automatic_tax"]; at.set {
		if !at.sub["enabled"].set {
			return missing("automatic_tax[enabled]")
		}
		g.Tax = at.sub["enabled"].b
	}
	if t := v["tax_id_collection"]; t.set {
		if !t.sub["enabled"].set {
			return missing("tax_id_collection[enabled]")
		}
		g.TaxIDs = t.sub["enabled"].b
	}
	if ae := v["after_expiration"]; ae.set && ae.sub["recovery"].set {
		if !ae.sub["recovery"].sub["enabled"].set {
			return missing("after_expiration[recovery][enabled]")
		}
		g.Recovery = ae.sub["recovery"].sub["enabled"].b
		if g.Recovery && !s.hosted() {
			return invalid("after_expiration[recovery][enabled]", "", "Recovery URLs are only available for Checkout Sessions with ui_mode=hosted (the Stripe sandbox's reading of Stripe's docs).")
		}
	}
	if cc := v["consent_collection"]; cc.set {
		g.ConsentTOS = cc.sub["terms_of_service"].s == "required"
	}
	if g.Text["terms_of_service_acceptance"] != "" && !g.ConsentTOS {
		return invalid("custom_text[terms_of_service_acceptance]", "", "custom_text[terms_of_service_acceptance] requires consent_collection[terms_of_service]=required.")
	}
	if g.Text["shipping_address"] != "" && g.ShippingCountries == nil {
		return invalid("custom_text[shipping_address]", "", "custom_text[shipping_address] requires shipping_address_collection.")
	}
	if cu := v["customer_update"]; cu.set {
		if s.Customer == nil {
			return invalid("customer_update", "", "customer_update can only be used with customer.")
		}
		g.CustomerUpdate = map[string]string{}
		for _, k := range []string{"address", "name", "shipping"} {
			if x := cu.sub[k]; x.set {
				g.CustomerUpdate[k] = x.s
			}
		}
	}
	if g.Tax && s.Customer != nil && g.CustomerUpdate["address"] != "auto" && g.ShippingCountries == nil {
		return invalid("customer_update[address]", "", "Automatic tax with an existing customer needs customer_update[address]=auto (or shipping collection) so Checkout can save the address tax is calculated from.")
	}
	return nil
}

func alnumKey(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// goodsPay is what the stand-in's form sends for the goods.
type goodsPay struct {
	Shipping *struct {
		Name       string `json:"name"`
		Line1      string `json:"line1"`
		Line2      string `json:"line2"`
		City       string `json:"city"`
		State      string `json:"state"`
		PostalCode string `json:"postal_code"`
		Country    string `json:"country"`
	} `json:"shipping"`
	ShippingRate   string            `json:"shipping_rate"`
	Phone          string            `json:"phone"`
	CustomFields   map[string]string `json:"custom_fields"`
	TermsAccepted  bool              `json:"terms_accepted"`
	TaxID          *taxIDValue       `json:"tax_id"`
	BillingCountry string            `json:"billing_country"`
}

// collectGoodsLocked checks what the shopper gave against what the session
// asks and sets the session's amounts (shipping, tax) for the payment.
func (sb *Sandbox) collectGoodsLocked(s *session, in *goodsPay) *apiError {
	g := &s.Goods
	bad := func(param, format string, args ...any) *apiError {
		return devError(http.StatusBadRequest, "parameter_invalid", param, format, args...)
	}
	g.Shipping, g.Rate = nil, nil
	if g.ShippingCountries != nil {
		sh := in.Shipping
		if sh == nil {
			return bad("shipping[name]", "Enter your shipping address.")
		}
		for _, f := range []struct{ param, v, msg string }{{"shipping[name]", sh.Name, "Enter the name to ship to."},
			{"shipping[line1]", sh.Line1, "Enter your street address."}, {"shipping[city]", sh.City, "Enter your city."},
			{"shipping[postal_code]", sh.PostalCode, "Enter your postal code."}, {"shipping[country]", sh.Country, "Choose your country."}} {
			if strings.TrimSpace(f.v) == "" {
				return bad(f.param, "%s", f.msg)
			}
		}
		cc := strings.ToUpper(strings.TrimSpace(sh.Country))
		if !slices.Contains(g.ShippingCountries, cc) {
			return bad("shipping[country]", "The shop does not ship to %s; it ships to %s.", cc, strings.Join(g.ShippingCountries, ", "))
		}
		g.Shipping = &shippingDetails{Name: strings.TrimSpace(sh.Name), Line1: sh.Line1, Line2: sh.Line2, City: sh.City, State: sh.State,
			PostalCode: sh.PostalCode, Country: cc}
		if len(g.ShippingOptions) > 0 {
			g.Rate = g.ShippingOptions[0] // Checkout preselects the first
			if in.ShippingRate != "" {
				g.Rate = nil
				for _, r := range g.ShippingOptions {
					if r.ID == in.ShippingRate {
						g.Rate = r
					}
				}
				if g.Rate == nil {
					return bad("shipping_rate", "Choose one of the shipping options.")
				}
			}
		}
	}
	g.PhoneValue = ""
	if g.Phone {
		ph := strings.ReplaceAll(strings.TrimSpace(in.Phone), " ", "")
		if ph == "" {
			return bad("phone", "Enter your phone number.")
		}
		digits := strings.TrimPrefix(ph, "+")
		if !allDigits(digits) || len(digits) < 7 || len(digits) > 15 {
			return bad("phone", "Your phone number is invalid.")
		}
		if !strings.HasPrefix(ph, "+") {
			ph = "+1" + digits // the sandbox reads national numbers as US ones
		}
		g.PhoneValue = ph
	}
	g.FieldValues = map[string]string{}
	for _, f := range g.Fields {
		v := strings.TrimSpace(in.CustomFields[f.Key])
		param := "custom_fields[" + f.Key + "]"
		if v == "" {
			if !f.Optional {
				return bad(param, "%s is required.", f.Label)
			}
			continue
		}
		switch f.Type {
		case "dropdown":
			ok := false
			for _, o := range f.Options {
				ok = ok || o[1] == v
			}
			if !ok {
				return bad(param, "Choose one of the options for %s.", f.Label)
			}
		case "numeric":
			if !allDigits(v) {
				return bad(param, "%s must be a number.", f.Label)
			}
		}
		max := f.Max
		if max == 0 {
			max = 255
		}
		if f.Type != "dropdown" && (int64(len(v)) < f.Min || int64(len(v)) > max) {
			return bad(param, "%s must be %d to %d characters.", f.Label, f.Min, max)
		}
		g.FieldValues[f.Key] = v
	}
	g.TaxIDValues = nil
	if g.TaxIDs && in.TaxID != nil && strings.TrimSpace(in.TaxID.Value) != "" {
		if !slices.Contains([]string{"eu_vat", "gb_vat", "us_ein", "ca_bn", "au_abn"}, in.TaxID.Type) {
			return bad("tax_id[type]", "Choose the kind of tax ID.")
		}
		g.TaxIDValues = []taxIDValue{{Type: in.TaxID.Type, Value: strings.ToUpper(strings.TrimSpace(in.TaxID.Value))}}
	}
	g.BillingCC = ""
	if g.Tax && g.Shipping == nil {
		cc := strings.ToUpper(strings.TrimSpace(in.BillingCountry))
		if len(cc) != 2 || !allLetters(cc) {
			return bad("billing_country", "Choose your country (tax is calculated from your address).")
		}
		g.BillingCC = cc
	}
	if g.ConsentTOS && !in.TermsAccepted {
		return bad("terms_accepted", "You must agree to the terms of service to continue.")
	}
	g.Accepted = g.ConsentTOS
	s.price()
	return nil
}

// price sets the lines' tax and the session's amount_total: the lines less
// their discount, plus the chosen shipping rate, plus automatic tax once an
// address is known (the only place a session's total is computed).
func (s *session) price() {
	g := &s.Goods
	taxed := g.Tax && (g.Shipping != nil || g.BillingCC != "")
	var extra int64 // added on top of the subtotal: exclusive tax and shipping
	g.AmountTax, g.ShippingTax = 0, 0
	for _, l := range s.Items {
		l.Tax, l.TaxIncluded = 0, false
		if taxed {
			l.Tax, l.TaxIncluded = taxOf(l.UnitAmount*l.Quantity-l.Discount, l.TaxBehavior, l.TaxCode) // after its discount
			g.AmountTax += l.Tax
			if !l.TaxIncluded {
				extra += l.Tax
			}
		}
	}
	if r := g.Rate; r != nil {
		extra += r.Amount
		if taxed && r.TaxCode != "" {
			tax, included := taxOf(r.Amount, r.TaxBehavior, r.TaxCode)
			g.ShippingTax = tax
			g.AmountTax += tax
			if !included {
				extra += tax
			}
		}
	}
	s.AmountTotal = s.AmountSubtotal - s.AmountDiscount + extra
}

// taxOf is the sandbox's tax on amount: sandboxTaxPercent on top of an
// exclusive (or unspecified) price, or the part of an inclusive one.
func taxOf(amount int64, behavior, code string) (tax int64, included bool) {
	if code == "txcd_00000000" {
		return 0, false
	}
	if behavior == "inclusive" {
		return amount - amount*100/(100+sandboxTaxPercent), true
	}
	return (amount*sandboxTaxPercent + 50) / 100, false
}

// goodsObject adds the goods' fields to a session object.
func (s *session) goodsObject(o *sessionObject, expand map[string]bool) {
	g := &s.Goods
	o.AutomaticTax = map[string]any{"enabled": g.Tax, "liability": nil, "status": nil}
	if g.Tax {
		o.AutomaticTax["liability"] = map[string]any{"type": "self"}
		o.AutomaticTax["status"] = "requires_location_inputs"
		if s.Status == "complete" {
			o.AutomaticTax["status"] = "complete"
		}
	}
	if g.ShippingCountries != nil {
		o.ShippingAddressCollection = map[string]any{"allowed_countries": g.ShippingCountries}
	}
	for _, r := range g.ShippingOptions {
		o.ShippingOptions = append(o.ShippingOptions, map[string]any{"shipping_amount": r.Amount, "shipping_rate": r.ID})
	}
	if r := g.Rate; r != nil {
		var rate any = r.ID
		if expand["shipping_cost.shipping_rate"] {
			rate = r.object()
		}
		total := r.Amount
		if r.TaxBehavior != "inclusive" {
			total += g.ShippingTax
		}
		o.ShippingCost = map[string]any{"amount_subtotal": r.Amount, "amount_tax": g.ShippingTax, "amount_total": total, "shipping_rate": rate}
	}
	if sh := g.Shipping; sh != nil {
		o.CollectedInformation = map[string]any{"shipping_details": map[string]any{"name": sh.Name, "address": sh.address()}}
	}
	o.PhoneNumberCollection = map[string]any{"enabled": g.Phone}
	o.TaxIDCollection = map[string]any{"enabled": g.TaxIDs, "required": "never"}
	for _, f := range g.Fields {
		cf := map[string]any{"key": f.Key, "label": map[string]any{"custom": f.Label, "type": "custom"}, "optional": f.Optional, "type": f.Type}
		var value any
		if v, ok := g.FieldValues[f.Key]; ok {
			value = v
		}
		switch f.Type {
		case "dropdown":
			opts := make([]any, len(f.Options))
			for i, op := range f.Options {
				opts[i] = map[string]any{"label": op[0], "value": op[1]}
			}
			cf["dropdown"] = map[string]any{"default_value": nil, "options": opts, "value": value}
		default:
			cf[f.Type] = map[string]any{"default_value": nil, "maximum_length": nullable(f.Max), "minimum_length": nullable(f.Min), "value": value}
		}
		o.CustomFields = append(o.CustomFields, cf)
	}
	ct := map[string]any{"after_submit": nil, "shipping_address": nil, "submit": nil, "terms_of_service_acceptance": nil}
	for k, m := range g.Text {
		ct[k] = map[string]any{"message": m}
	}
	o.CustomText = ct
	if g.ConsentTOS {
		o.ConsentCollection = map[string]any{"payment_method_reuse_agreement": nil, "promotions": "none", "terms_of_service": "required"}
		if g.Accepted && s.Status == "complete" {
			o.Consent = map[string]any{"promotions": nil, "terms_of_service": "accepted"}
		}
	}
	if g.Recovery {
		rec := map[string]any{"allow_promotion_codes": false, "enabled": true, "expires_at": nil, "url": nil}
		if g.RecoveryURL != "" {
			rec["url"], rec["expires_at"] = g.RecoveryURL, s.ExpiresAt+30*24*3600
		}
		o.AfterExpiration = map[string]any{"recovery": rec}
	}
	if g.RecoveredFrm != "" {
		o.RecoveredFrom = g.RecoveredFrm
	}
	o.TotalDetails["amount_tax"] = g.AmountTax
	if g.Rate != nil {
		o.TotalDetails["amount_shipping"] = g.Rate.Amount
	}
}

func nullable(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func (sh *shippingDetails) address() map[string]any {
	return map[string]any{"line1": sh.Line1, "line2": nilIfEmpty(sh.Line2), "city": sh.City, "state": nilIfEmpty(sh.State),
		"postal_code": sh.PostalCode, "country": sh.Country}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r *shippingRate) object() map[string]any {
	return map[string]any{"id": r.ID, "object": "shipping_rate", "active": true, "created": r.Created, "delivery_estimate": r.Estimate,
		"display_name": r.DisplayName, "fixed_amount": map[string]any{"amount": r.Amount, "currency": r.Currency},
		"livemode": false, "metadata": r.Metadata, "tax_behavior": r.TaxBehavior, "tax_code": nilIfEmpty(r.TaxCode), "type": "fixed_amount"}
}

// customerDetailsGoods adds phone, address and tax IDs to customer_details.
func (s *session) customerDetailsGoods(cd map[string]any) {
	g := &s.Goods
	if g.PhoneValue != "" {
		cd["phone"] = g.PhoneValue
	}
	ids := []any{}
	for _, t := range g.TaxIDValues {
		ids = append(ids, map[string]any{"type": t.Type, "value": t.Value})
	}
	cd["tax_ids"] = ids
	switch {
	case g.Shipping != nil:
		cd["address"] = g.Shipping.address()
		cd["name"] = g.Shipping.Name
	case g.BillingCC != "":
		cd["address"] = map[string]any{"line1": nil, "line2": nil, "city": nil, "state": nil, "postal_code": nil, "country": g.BillingCC}
	}
}

// standinGoods is what the stand-in's form needs to ask for the goods.
func (s *session) standinGoods() map[string]any {
	g := &s.Goods
	out := map[string]any{"phone": g.Phone, "terms": g.ConsentTOS, "tax": g.Tax, "tax_id": g.TaxIDs, "text": g.Text}
	if g.ShippingCountries != nil {
		opts := []any{}
		for _, r := range g.ShippingOptions {
			opts = append(opts, map[string]any{"id": r.ID, "display_name": r.DisplayName, "amount": r.Amount, "delivery_estimate": r.Estimate})
		}
		out["shipping"] = map[string]any{"countries": g.ShippingCountries, "options": opts}
	}
	fields := []any{}
	for _, f := range g.Fields {
		opts := []any{}
		for _, o := range f.Options {
			opts = append(opts, map[string]any{"label": o[0], "value": o[1]})
		}
		fields = append(fields, map[string]any{"key": f.Key, "label": f.Label, "type": f.Type, "optional": f.Optional, "options": opts})
	}
	out["custom_fields"] = fields
	return out
}

// expireGoodsLocked gives an expiring hosted session its recovery link.
func (s *session) expireGoodsLocked() {
	if s.Goods.Recovery && s.URL != "" {
		base := s.URL[:strings.Index(s.URL, hostedPath)]
		s.Goods.RecoveryURL = base + "/_sandbox/recover/" + s.ID
	}
}

// devRecover serves GET /_sandbox/recover/{id}: the recovery link of an
// expired session opens a new hosted session with the same cart and options.
func (sb *Sandbox) devRecover(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sb.mu.Lock()
	defer sb.mu.Unlock()
	old, err := sb.sessionLocked(id)
	if err != nil {
		writeJSON(w, err.status, err.envelope())
		return
	}
	if old.Status != "expired" || old.Goods.RecoveryURL == "" {
		e := devError(http.StatusBadRequest, "checkout_session_not_recoverable", "", "Checkout Session %s has no recovery link (it must be hosted, created with after_expiration[recovery][enabled]=true, and expired).", id)
		writeJSON(w, e.status, e.envelope())
		return
	}
	now := sb.now()
	s := &session{}
	*s = *old
	s.ID = newID("cs_test_", 58)
	s.ClientSecret = s.ID + "_secret_" + randomAlnum(24)
	s.Created, s.ExpiresAt = now.Unix(), now.Add(sessionLifetime).Unix()
	s.Status, s.PaymentStatus, s.PaymentIntent, s.PaidEmail = "open", "unpaid", nil, ""
	s.Items = make([]*lineItem, len(old.Items))
	for i, l := range old.Items {
		c := *l
		c.ID = newID("li_", 24)
		s.Items[i] = &c
	}
	s.Goods.Shipping, s.Goods.Rate, s.Goods.BillingCC, s.Goods.RecoveryURL, s.Goods.RecoveredFrm = nil, nil, "", "", old.ID
	s.price()
	s.URL = old.URL[:strings.Index(old.URL, hostedPath)] + hostedPath + s.ID
	sb.sessions[s.ID] = s
	sb.secrets[s.ClientSecret] = s
	http.Redirect(w, r, s.URL, http.StatusSeeOther)
}
