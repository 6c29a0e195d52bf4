package worker

// Selling physical goods: what an order's products ask of Checkout
// (shipping, phone, custom fields, tax, texts), worked out once per order
// from the catalog (catalog_goods.go), and what Checkout collected, read
// back into the order (records.go).

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v82"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"
)

// metaRate is the metadata key, on a shipping rate Checkout creates from
// shipping_rate_data, naming the catalog's rate.
const metaRate = "kit_rate"

// stripeShippingTaxCode is Stripe's tax code for shipping.
const stripeShippingTaxCode = "txcd_92010001"

// goodsPlan is what an order's products ask for beyond payment.
type goodsPlan struct {
	// ship: a line is shippable; rates are the ones every shippable line
	// may use, priced for this order (free_over applied).
	ship  bool
	rates []plannedRate
	phone bool
	// fields are the shop's custom fields, then each product's.
	fields []CustomField
	// submit is Checkout's custom_text.submit: the shop's text and what the
	// shopper agrees to (saved card, authorization), "" if nothing.
	submit string
}

// plannedRate is a shipping rate with its price for one order.
type plannedRate struct {
	rate   *ShippingRate
	amount int64
}

// planGoods works out what order o asks for. It refuses orders Checkout or
// the pay page cannot take as one: products that share no shipping rate, or
// more custom fields than Stripe allows, or a product not sold on the pay
// page in the confirm-intent flow.
func (s *Server) planGoods(o *Order) (*goodsPlan, *apiError) {
	shop := &s.cfg.Catalog.Shop
	g := &goodsPlan{phone: shop.PhoneNumberCollection, fields: append([]CustomField(nil), shop.CustomFields...)}
	var allowed []*ShippingRate // nil: no shippable line yet
	for i, l := range o.Lines {
		p := l.Product
		if o.Flow == FlowConfirmIntent && !shop.onPayPage(p) {
			return nil, &apiError{Status: http.StatusUnprocessableEntity, Code: "pay_page_unavailable", Param: "items[" + strconv.Itoa(i) + "].id",
				Message: p.Name + " is sold through Checkout only; use the shop's Checkout button"}
		}
		g.phone = g.phone || p.PhoneNumberCollection
		for _, f := range p.CustomFields {
			if !hasField(g.fields, f.Key) {
				g.fields = append(g.fields, f)
			}
		}
		if !p.Shippable {
			continue
		}
		mine := shop.rates(p)
		if !g.ship {
			allowed, g.ship = mine, true
			continue
		}
		var both []*ShippingRate
		for _, r := range allowed {
			for _, m := range mine {
				if r == m {
					both = append(both, r)
				}
			}
		}
		allowed = both
		if len(allowed) == 0 {
			return nil, &apiError{Status: http.StatusUnprocessableEntity, Code: "no_common_shipping_rate", Param: "items[" + strconv.Itoa(i) + "].id",
				Message: p.Name + " ships with other rates than the rest of the order; order it separately"}
		}
	}
	if len(g.fields) > maxCustomFields {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Code: "too_many_custom_fields", Param: "items",
			Message: "these products together ask more questions than one checkout can; order them separately"}
	}
	for _, r := range allowed {
		amount := r.Amount[o.Currency]
		if free, ok := r.FreeOver[o.Currency]; ok && o.Amount >= free {
			amount = 0
		}
		g.rates = append(g.rates, plannedRate{rate: r, amount: amount})
	}
	var own []string
	for _, l := range o.Lines {
		if l.Product.Disclosure != "" {
			own = append(own, l.Product.Disclosure)
		}
	}
	g.submit = shop.submitText(own, o.Capture == CaptureManual, o.Incremental, o.SavePaymentMethod)
	if len(g.submit) > maxCustomTextMessage {
		// Start-up checks that each product's terms fit (catalog_goods.go);
		// only several products' own terms together can be too long, and
		// Checkout must show all of them, never a cut.
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Code: "too_many_terms", Param: "items",
			Message: "these products' terms are too long to show together at checkout; order them separately"}
	}
	return g, nil
}

func hasField(fs []CustomField, key string) bool {
	return slices.ContainsFunc(fs, func(f CustomField) bool { return f.Key == key })
}

// submitText is Checkout's custom_text.submit for an order whose products
// carry these own disclosures: the shop's submit text, then what the
// shopper agrees to (the products' own disclosures, else the shop's or the
// kit's default for a manual capture and an incremental authorization),
// then the saved card's terms. The pay page shows the same terms per
// product (/config).
func (o *ShopOptions) submitText(own []string, manual, incremental, save bool) string {
	d := o.Disclosures
	if d == nil {
		d = &Disclosures{}
	}
	var parts []string
	add := func(text, fallback string) {
		if text == "" {
			text = fallback
		}
		if text != "" && !slices.Contains(parts, text) {
			parts = append(parts, text)
		}
	}
	if o.CustomText != nil {
		add(o.CustomText.Submit, "")
	}
	for _, t := range own {
		add(t, "")
	}
	if len(own) == 0 {
		if manual {
			add(d.ManualCapture, defaultManualDisclosure)
		}
		if incremental {
			add(d.IncrementalAuthorization, defaultIncrementalDisclosure)
		}
	}
	if save {
		add(d.SavePaymentMethod, defaultSaveDisclosure)
	}
	return strings.Join(parts, " ")
}

// productTerms is what a shopper of product p alone agrees to, for the pay
// page: submitText without the shop's submit text.
func productTerms(shop *ShopOptions, p *Product) string {
	var own []string
	if p.Disclosure != "" {
		own = []string{p.Disclosure}
	}
	bare := *shop
	bare.CustomText = nil
	return bare.submitText(own, p.Capture == CaptureManual, p.IncrementalAuthorization, p.SavePaymentMethod)
}

// applyGoods adds what the order's products ask for to its Checkout Session.
func (s *Server) applyGoods(params *stripe.CheckoutSessionCreateParams, o *Order) {
	shop := &s.cfg.Catalog.Shop
	g := o.goods
	tax := shop.Tax != nil && shop.Tax.Automatic
	for i, l := range o.Lines {
		li := params.LineItems[i]
		if li.PriceData == nil {
			continue // a Stripe Price carries its own tax code and behaviour
		}
		if img := s.imageURL(l.Product.Image); img != "" {
			li.PriceData.ProductData.Images = []*string{stripe.String(img)}
		}
		if l.Product.TaxCode != "" {
			li.PriceData.ProductData.TaxCode = stripe.String(l.Product.TaxCode)
		}
		if b := l.Product.TaxBehavior; b != "" {
			li.PriceData.TaxBehavior = stripe.String(b)
		} else if shop.Tax != nil && shop.Tax.Behavior != "" {
			li.PriceData.TaxBehavior = stripe.String(shop.Tax.Behavior)
		}
	}
	if g.ship {
		params.ShippingAddressCollection = &stripe.CheckoutSessionCreateShippingAddressCollectionParams{
			AllowedCountries: stripe.StringSlice(shop.Shipping.AllowedCountries)}
		for _, pr := range g.rates {
			r := pr.rate
			data := &stripe.CheckoutSessionCreateShippingOptionShippingRateDataParams{
				Type:        stripe.String("fixed_amount"),
				DisplayName: stripe.String(r.DisplayName),
				FixedAmount: &stripe.CheckoutSessionCreateShippingOptionShippingRateDataFixedAmountParams{
					Amount: stripe.Int64(pr.amount), Currency: stripe.String(o.Currency)},
				Metadata: map[string]string{metaRate: r.ID},
			}
			if e := r.DeliveryEstimate; e != nil {
				data.DeliveryEstimate = &stripe.CheckoutSessionCreateShippingOptionShippingRateDataDeliveryEstimateParams{}
				if e.Minimum != nil {
					data.DeliveryEstimate.Minimum = &stripe.CheckoutSessionCreateShippingOptionShippingRateDataDeliveryEstimateMinimumParams{
						Unit: stripe.String(e.Minimum.Unit), Value: stripe.Int64(e.Minimum.Value)}
				}
				if e.Maximum != nil {
					data.DeliveryEstimate.Maximum = &stripe.CheckoutSessionCreateShippingOptionShippingRateDataDeliveryEstimateMaximumParams{
						Unit: stripe.String(e.Maximum.Unit), Value: stripe.Int64(e.Maximum.Value)}
				}
			}
			if tax {
				code := r.TaxCode
				if code == "" {
					code = stripeShippingTaxCode
				}
				data.TaxCode = stripe.String(code)
				data.TaxBehavior = stripe.String(shop.Tax.Behavior)
			}
			params.ShippingOptions = append(params.ShippingOptions, &stripe.CheckoutSessionCreateShippingOptionParams{ShippingRateData: data})
		}
	}
	if g.phone {
		params.PhoneNumberCollection = &stripe.CheckoutSessionCreatePhoneNumberCollectionParams{Enabled: stripe.Bool(true)}
	}
	for _, f := range g.fields {
		cf := &stripe.CheckoutSessionCreateCustomFieldParams{
			Key:   stripe.String(f.Key),
			Label: &stripe.CheckoutSessionCreateCustomFieldLabelParams{Type: stripe.String("custom"), Custom: stripe.String(f.Label)},
			Type:  stripe.String(f.Type),
		}
		if f.Optional {
			cf.Optional = stripe.Bool(true)
		}
		switch f.Type {
		case "dropdown":
			cf.Dropdown = &stripe.CheckoutSessionCreateCustomFieldDropdownParams{}
			for _, opt := range f.Options {
				cf.Dropdown.Options = append(cf.Dropdown.Options, &stripe.CheckoutSessionCreateCustomFieldDropdownOptionParams{
					Label: stripe.String(opt.Label), Value: stripe.String(opt.Value)})
			}
		case "text":
			if lo, hi := fieldLengths(f); lo != nil || hi != nil {
				cf.Text = &stripe.CheckoutSessionCreateCustomFieldTextParams{MinimumLength: lo, MaximumLength: hi}
			}
		case "numeric":
			if lo, hi := fieldLengths(f); lo != nil || hi != nil {
				cf.Numeric = &stripe.CheckoutSessionCreateCustomFieldNumericParams{MinimumLength: lo, MaximumLength: hi}
			}
		}
		params.CustomFields = append(params.CustomFields, cf)
	}
	if tax {
		params.AutomaticTax = &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)}
	}
	if shop.Tax != nil && shop.Tax.TaxIDCollection {
		params.TaxIDCollection = &stripe.CheckoutSessionCreateTaxIDCollectionParams{Enabled: stripe.Bool(true)}
	}
	// A returning customer's address and name come from Checkout's form:
	// Stripe Tax needs the address, a tax ID the name, shipping the
	// shipping address.
	if o.Customer != "" && (tax || g.ship || (shop.Tax != nil && shop.Tax.TaxIDCollection)) {
		cu := &stripe.CheckoutSessionCreateCustomerUpdateParams{}
		if tax {
			cu.Address = stripe.String("auto")
		}
		if g.ship {
			cu.Shipping = stripe.String("auto")
		}
		if shop.Tax != nil && shop.Tax.TaxIDCollection {
			cu.Name = stripe.String("auto")
		}
		params.CustomerUpdate = cu
	}
	ct := &stripe.CheckoutSessionCreateCustomTextParams{}
	if t := shop.CustomText; t != nil {
		if t.AfterSubmit != "" {
			ct.AfterSubmit = &stripe.CheckoutSessionCreateCustomTextAfterSubmitParams{Message: stripe.String(t.AfterSubmit)}
		}
		if t.ShippingAddress != "" && g.ship {
			ct.ShippingAddress = &stripe.CheckoutSessionCreateCustomTextShippingAddressParams{Message: stripe.String(t.ShippingAddress)}
		}
		if t.TermsOfServiceAcceptance != "" && shop.TermsOfServiceConsent {
			ct.TermsOfServiceAcceptance = &stripe.CheckoutSessionCreateCustomTextTermsOfServiceAcceptanceParams{Message: stripe.String(t.TermsOfServiceAcceptance)}
		}
	}
	if g.submit != "" {
		ct.Submit = &stripe.CheckoutSessionCreateCustomTextSubmitParams{Message: stripe.String(g.submit)}
	}
	if ct.Submit != nil || ct.AfterSubmit != nil || ct.ShippingAddress != nil || ct.TermsOfServiceAcceptance != nil {
		params.CustomText = ct
	}
	if shop.TermsOfServiceConsent {
		params.ConsentCollection = &stripe.CheckoutSessionCreateConsentCollectionParams{TermsOfService: stripe.String("required")}
	}
}

// applyRecovery asks for a recovery link (after_expiration.recovery) when
// the shop wants one and the session is hosted Checkout: the link opens a
// Stripe-hosted copy of the session, which an embedded session's page
// cannot be. It runs once ui_mode is known (applyReturn).
func (s *Server) applyRecovery(params *stripe.CheckoutSessionCreateParams) {
	if s.cfg.Catalog.Shop.AbandonedCartRecovery && params.UIMode != nil && *params.UIMode == string(stripe.CheckoutSessionUIModeHosted) {
		params.AfterExpiration = &stripe.CheckoutSessionCreateAfterExpirationParams{
			Recovery: &stripe.CheckoutSessionCreateAfterExpirationRecoveryParams{Enabled: stripe.Bool(true)}}
	}
}

// imageURL makes a catalog image absolute for Stripe: an https URL stays,
// a path on the site is joined to PUBLIC_URL; without PUBLIC_URL a path
// cannot be shown by Stripe and is left out.
func (s *Server) imageURL(img string) string {
	switch {
	case img == "":
		return ""
	case strings.HasPrefix(img, "https://") || strings.HasPrefix(img, "http://"):
		return img
	case strings.HasPrefix(img, "/") && !strings.HasPrefix(img, "//") && s.cfg.PublicURL != "":
		return strings.TrimSuffix(s.cfg.PublicURL, "/") + img
	}
	return ""
}

// sessionDetails reads what Checkout collected into an order's details.
func sessionDetails(sess *stripeapi.CheckoutSession) orders.Details {
	var d orders.Details
	if td := sess.TotalDetails; td != nil {
		d.AmountTax, d.AmountDiscount = td.AmountTax, td.AmountDiscount
	}
	if cd := sess.CustomerDetails; cd != nil {
		d.Phone = cd.Phone
		for _, t := range cd.TaxIDs {
			d.TaxIDs = append(d.TaxIDs, orders.TaxID{Type: t.Type, Value: t.Value})
		}
	}
	if sc := sess.ShippingCost; sc != nil {
		d.AmountShipping = sc.AmountTotal
	}
	var sd *stripeapi.ShippingDetails
	if ci := sess.CollectedInformation; ci != nil {
		sd = ci.ShippingDetails
	}
	if sd != nil && sd.Address != nil {
		sh := &orders.Shipping{Name: sd.Name, Address: orders.Address(*sd.Address), Amount: d.AmountShipping}
		if sc := sess.ShippingCost; sc != nil && sc.ShippingRate.Object != nil {
			sh.Rate, sh.RateName = sc.ShippingRate.Object.Metadata[metaRate], sc.ShippingRate.Object.DisplayName
		}
		d.Shipping = sh
	}
	for _, f := range sess.CustomFields {
		v := ""
		switch {
		case f.Dropdown != nil:
			v = f.Dropdown.Value
		case f.Text != nil:
			v = f.Text.Value
		case f.Numeric != nil:
			v = f.Numeric.Value
		}
		d.CustomFields = append(d.CustomFields, orders.CustomField{Key: f.Key, Value: v})
	}
	if ae := sess.AfterExpiration; ae != nil && ae.Recovery != nil {
		d.RecoveryURL = ae.Recovery.URL
	}
	return d
}

// fieldLengths is a text or numeric field's length bounds as Checkout takes
// them: nil where the catalog sets none (0).
func fieldLengths(f CustomField) (lo, hi *int64) {
	if f.MinLength != 0 {
		lo = stripe.Int64(f.MinLength)
	}
	if f.MaxLength != 0 {
		hi = stripe.Int64(f.MaxLength)
	}
	return lo, hi
}
