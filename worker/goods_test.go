package worker

import (
	"strings"
	"testing"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82"
)

// goodsCatalog sells a shippable T-shirt with a size, a shippable poster
// only by courier, a digital download and a rental on the pay page's
// terms.
const goodsCatalog = `{
  "shop": {
    "shipping": {"allowed_countries": ["US", "CA"], "rates": [
      {"id": "standard", "display_name": "Standard", "amount": {"usd": 500}, "free_over": {"usd": 5000},
       "delivery_estimate": {"minimum": {"unit": "business_day", "value": 3}, "maximum": {"unit": "business_day", "value": 5}}},
      {"id": "courier", "display_name": "Courier", "amount": {"usd": 2000}}]},
    "phone_number_collection": true,
    "custom_fields": [{"key": "giftnote", "label": "Gift note", "type": "text", "optional": true, "maximum_length": 200}],
    "custom_text": {"after_submit": "Thanks!", "shipping_address": "We ship in 2 days."},
    "abandoned_cart_recovery": true
  },
  "products": [
    {"id": "tshirt", "name": "T-shirt", "image": "/images/tshirt.svg", "unit_amount": 2000, "currency": "usd", "shippable": true, "tax_code": "txcd_99999999",
     "custom_fields": [{"key": "size", "label": "Size", "type": "dropdown", "options": [{"label": "Small", "value": "S"}, {"label": "Medium", "value": "M"}]}]},
    {"id": "poster", "name": "Poster", "unit_amount": 3500, "currency": "usd", "shippable": true, "shipping_rates": ["courier"]},
    {"id": "ebook", "name": "E-book", "unit_amount": 900, "currency": "usd", "pay_page": false},
    {"id": "mug", "name": "Mug", "unit_amount": 1200, "currency": "usd", "shippable": true, "shipping_rates": ["standard"],
     "custom_fields": [{"key": "a", "label": "A", "type": "text"}, {"key": "b", "label": "B", "type": "text"}]},
    {"id": "rental", "name": "Rental", "unit_amount": 4000, "currency": "usd", "capture": "manual", "incremental_authorization": true}
  ]
}`

func goodsSession(t *testing.T, env map[string]string, body string) (*stripe.CheckoutSessionCreateParams, *fakeAPI, int, string) {
	t.Helper()
	var got *stripe.CheckoutSessionCreateParams
	f := &fakeAPI{OnCreateCheckoutSession: func(p *stripe.CheckoutSessionCreateParams) (*stripeapi.CheckoutSession, error) {
		got = p
		if p.UIMode != nil && *p.UIMode == "hosted" {
			return &stripeapi.CheckoutSession{ID: "cs_test_goods", URL: "https://checkout.stripe.com/c/pay/cs_test_goods", Status: "open"}, nil
		}
		return &stripeapi.CheckoutSession{ID: "cs_test_goods", ClientSecret: "cs_test_goods_secret_1", Status: "open"}, nil
	}}
	full := map[string]string{"CATALOG_JSON": goodsCatalog, "PUBLIC_URL": "https://shop.example"}
	for k, v := range env {
		full[k] = v
	}
	srv := newFakeServer(t, f, full)
	rec := postJSON(t, srv, "/create-checkout-session", body)
	return got, f, rec.Code, rec.Body.String()
}

func TestCheckoutAsksForWhatTheGoodsNeed(t *testing.T) {
	p, _, code, body := goodsSession(t, nil, `{"items":[{"id":"tshirt","quantity":1}]}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if p.ShippingAddressCollection == nil || len(p.ShippingAddressCollection.AllowedCountries) != 2 || *p.ShippingAddressCollection.AllowedCountries[0] != "CA" {
		t.Errorf("shipping_address_collection %+v", p.ShippingAddressCollection)
	}
	// The T-shirt may use both rates; 20.00 is under the free threshold.
	if len(p.ShippingOptions) != 2 {
		t.Fatalf("shipping options %d, want 2", len(p.ShippingOptions))
	}
	std := p.ShippingOptions[0].ShippingRateData
	if *std.DisplayName != "Standard" || *std.FixedAmount.Amount != 500 || *std.FixedAmount.Currency != "usd" || std.Metadata[metaRate] != "standard" ||
		*std.DeliveryEstimate.Minimum.Unit != "business_day" || *std.DeliveryEstimate.Maximum.Value != 5 {
		t.Errorf("standard rate %+v", std)
	}
	if p.PhoneNumberCollection == nil || !*p.PhoneNumberCollection.Enabled {
		t.Error("phone_number_collection not enabled")
	}
	if len(p.CustomFields) != 2 || *p.CustomFields[0].Key != "giftnote" || *p.CustomFields[0].Text.MaximumLength != 200 || !*p.CustomFields[0].Optional ||
		*p.CustomFields[1].Key != "size" || *p.CustomFields[1].Type != "dropdown" || len(p.CustomFields[1].Dropdown.Options) != 2 {
		t.Errorf("custom fields %+v", p.CustomFields)
	}
	pd := p.LineItems[0].PriceData.ProductData
	if len(pd.Images) != 1 || *pd.Images[0] != "https://shop.example/images/tshirt.svg" || *pd.TaxCode != "txcd_99999999" {
		t.Errorf("product data %+v", pd)
	}
	if p.CustomText == nil || *p.CustomText.AfterSubmit.Message != "Thanks!" || *p.CustomText.ShippingAddress.Message != "We ship in 2 days." || p.CustomText.Submit != nil {
		t.Errorf("custom_text %+v", p.CustomText)
	}
	if p.AfterExpiration != nil {
		t.Error("after_expiration.recovery on an embedded session: its link would open hosted Checkout")
	}
	hosted, _, code, body := goodsSession(t, nil, `{"items":[{"id":"tshirt"}],"uiMode":"hosted"}`)
	if code != 200 || hosted.AfterExpiration == nil || !*hosted.AfterExpiration.Recovery.Enabled {
		t.Errorf("hosted session: %d %s: after_expiration %+v", code, body, hosted.AfterExpiration)
	}
	if p.AutomaticTax != nil || p.ConsentCollection != nil {
		t.Errorf("automatic_tax %+v consent %+v: not configured", p.AutomaticTax, p.ConsentCollection)
	}
}

func TestCheckoutShippingRatesFollowTheOrder(t *testing.T) {
	// Over the free threshold the standard rate costs nothing.
	p, _, code, body := goodsSession(t, nil, `{"items":[{"id":"tshirt","quantity":3}]}`)
	if code != 200 || *p.ShippingOptions[0].ShippingRateData.FixedAmount.Amount != 0 || *p.ShippingOptions[1].ShippingRateData.FixedAmount.Amount != 2000 {
		t.Fatalf("%d %s: %+v", code, body, p.ShippingOptions)
	}
	// A poster only goes by courier, and so does its whole order.
	p, _, _, _ = goodsSession(t, nil, `{"items":[{"id":"tshirt"},{"id":"poster"}]}`)
	if len(p.ShippingOptions) != 1 || p.ShippingOptions[0].ShippingRateData.Metadata[metaRate] != "courier" {
		t.Fatalf("t-shirt + poster: %+v", p.ShippingOptions)
	}
	// Nothing shippable: no address, no rates, no images without one.
	p, _, _, _ = goodsSession(t, nil, `{"items":[{"id":"ebook"}]}`)
	if p.ShippingAddressCollection != nil || p.ShippingOptions != nil {
		t.Fatalf("e-book: shipping asked %+v", p.ShippingAddressCollection)
	}
}

// Orders Checkout cannot take as one are refused before Stripe is called.
func TestCheckoutRefusesOrdersTheGoodsCannotMake(t *testing.T) {
	for _, tc := range []struct{ body, code, param string }{
		{`{"items":[{"id":"poster"},{"id":"mug"}]}`, "no_common_shipping_rate", "items[1].id"},
		{`{"items":[{"id":"tshirt"},{"id":"mug","quantity":1}]}`, "too_many_custom_fields", "items"},
	} {
		_, f, code, body := goodsSession(t, nil, tc.body)
		if code != 422 || !strings.Contains(body, `"code":"`+tc.code+`"`) || !strings.Contains(body, `"param":"`+tc.param+`"`) {
			t.Errorf("%s: %d %s, want 422 %s at %s", tc.body, code, body, tc.code, tc.param)
		}
		if len(f.Calls()) != 0 {
			t.Errorf("%s: Stripe was called: %v", tc.body, f.Calls())
		}
	}
}

// Disclosures: a manual-capture, incremental rental says what the shopper
// agrees to beside the pay button.
func TestCheckoutShowsTheDisclosures(t *testing.T) {
	p, _, code, body := goodsSession(t, nil, `{"items":[{"id":"rental"}]}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if p.CustomText == nil || p.CustomText.Submit == nil {
		t.Fatal("no custom_text.submit for a manual-capture, incremental order")
	}
	msg := *p.CustomText.Submit.Message
	if !strings.Contains(msg, defaultManualDisclosure) || !strings.Contains(msg, defaultIncrementalDisclosure) {
		t.Errorf("submit message %q", msg)
	}
}

// Several products' own terms that cannot be shown together in Checkout
// are refused, never cut.
func TestCheckoutNeverCutsTheTerms(t *testing.T) {
	long := strings.Repeat("t", 390)
	cat := strings.Replace(goodsCatalog, `"id": "ebook", "name": "E-book", "unit_amount": 900, "currency": "usd", "pay_page": false}`,
		`"id": "ebook", "name": "E-book", "unit_amount": 900, "currency": "usd", "pay_page": false, "disclosure": "A`+long+`"},`+
			`{"id": "ebook2", "name": "E-book 2", "unit_amount": 900, "currency": "usd", "disclosure": "B`+long+`"},`+
			`{"id": "ebook3", "name": "E-book 3", "unit_amount": 900, "currency": "usd", "disclosure": "C`+long+`"},`+
			`{"id": "ebook4", "name": "E-book 4", "unit_amount": 900, "currency": "usd", "disclosure": "D`+long+`"}`, 1)
	p, _, code, body := goodsSession(t, map[string]string{"CATALOG_JSON": cat}, `{"items":[{"id":"ebook"},{"id":"ebook2"},{"id":"ebook3"}]}`)
	if code != 200 || len(*p.CustomText.Submit.Message) != 3*391+2 {
		t.Fatalf("three products' terms (%d) %s", code, body)
	}
	_, f, code, body := goodsSession(t, map[string]string{"CATALOG_JSON": cat}, `{"items":[{"id":"ebook"},{"id":"ebook2"},{"id":"ebook3"},{"id":"ebook4"}]}`)
	if code != 422 || !strings.Contains(body, `"code":"too_many_terms"`) || len(f.Calls()) != 0 {
		t.Fatalf("four products' terms (1567 characters): %d %s, Stripe calls %v", code, body, f.Calls())
	}
}

func TestAutomaticTaxAndConsent(t *testing.T) {
	cat := strings.Replace(goodsCatalog, `"abandoned_cart_recovery": true`,
		`"abandoned_cart_recovery": true, "tax": {"automatic": true, "tax_id_collection": true}, "pay_page": false, "terms_of_service_consent": true`, 1)
	p, _, code, body := goodsSession(t, map[string]string{"CATALOG_JSON": cat}, `{"items":[{"id":"tshirt"}]}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if p.AutomaticTax == nil || !*p.AutomaticTax.Enabled || p.TaxIDCollection == nil || !*p.TaxIDCollection.Enabled {
		t.Errorf("automatic_tax %+v tax_id_collection %+v", p.AutomaticTax, p.TaxIDCollection)
	}
	if *p.LineItems[0].PriceData.TaxBehavior != "exclusive" {
		t.Errorf("tax_behavior %v", p.LineItems[0].PriceData.TaxBehavior)
	}
	rate := p.ShippingOptions[0].ShippingRateData
	if *rate.TaxCode != stripeShippingTaxCode || *rate.TaxBehavior != "exclusive" {
		t.Errorf("shipping rate tax %v %v", rate.TaxCode, rate.TaxBehavior)
	}
	if p.ConsentCollection == nil || *p.ConsentCollection.TermsOfService != "required" {
		t.Errorf("consent_collection %+v", p.ConsentCollection)
	}
}

// What Checkout collected reaches the order: address, rate, phone, custom
// fields, tax IDs and the total's parts; lines plus shipping must add up to
// what was paid.
func TestOrderRecordsWhatCheckoutCollected(t *testing.T) {
	e := newHookServer(t)
	pi := intentObject("pi_s", "succeeded", "automatic", checkoutMeta)
	pi["amount"], pi["amount_received"] = 3100, 3100
	sess := sessionObject("cs_test_s", "complete", "paid", pi, checkoutMeta)
	sess["amount_total"] = 3100
	sess["line_items"] = lineItems(item("Plain", 2, 1000), item("Limited", 1, 500))
	sess["line_items"].(map[string]any)["data"].([]any)[0].(map[string]any)["amount_total"] = 2100 // 100 tax
	sess["collected_information"] = map[string]any{"shipping_details": map[string]any{"name": "Ada Lovelace",
		"address": map[string]any{"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US", "state": "IL"}}}
	sess["shipping_cost"] = map[string]any{"amount_total": 500, "amount_tax": 0, "shipping_rate": map[string]any{"id": "shr_1", "display_name": "Standard", "metadata": map[string]any{"kit_rate": "standard"}}}
	sess["total_details"] = map[string]any{"amount_discount": 0, "amount_shipping": 500, "amount_tax": 100}
	sess["customer_details"] = map[string]any{"email": "ada@example.com", "phone": "+15555550100", "tax_ids": []any{map[string]any{"type": "eu_vat", "value": "DE123456789"}}}
	sess["custom_fields"] = []any{map[string]any{"key": "size", "type": "dropdown", "dropdown": map[string]any{"value": "M"}},
		map[string]any{"key": "giftnote", "type": "text", "text": map[string]any{"value": nil}}}
	e.setSession(t, sess)
	if rec := e.deliver(t, eventJSON("evt_s", "checkout.session.completed", map[string]any{"id": "cs_test_s"})); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	o := e.order(t, "cs_test_s")
	if o.State != orders.Paid {
		t.Fatalf("state %s (%s), want paid: lines 2600 + shipping 500 = 3100", o.State, o.Review)
	}
	d := o.Details
	if d.Shipping == nil || d.Shipping.Name != "Ada Lovelace" || d.Shipping.Address.City != "Springfield" || d.Shipping.Rate != "standard" ||
		d.Shipping.RateName != "Standard" || d.Shipping.Amount != 500 {
		t.Errorf("shipping %+v", d.Shipping)
	}
	if d.Phone != "+15555550100" || len(d.TaxIDs) != 1 || d.AmountTax != 100 || d.AmountShipping != 500 {
		t.Errorf("details %+v", d)
	}
	if len(d.CustomFields) != 2 || d.CustomFields[0] != (orders.CustomField{Key: "size", Value: "M"}) || d.CustomFields[1].Value != "" {
		t.Errorf("custom fields %+v", d.CustomFields)
	}
	if e.ful.total() != 1 || e.ful.last["cs_test_s"].Details.Shipping == nil {
		t.Errorf("the fulfiller did not get the shipping: %d calls", e.ful.total())
	}
	// Shipping charged but not received: review, never fulfilled.
	e2 := newHookServer(t)
	sess["id"] = "cs_test_short"
	pi["amount_received"] = 2600
	e2.setSession(t, sess)
	e2.deliver(t, eventJSON("evt_short", "checkout.session.completed", map[string]any{"id": "cs_test_short"}))
	if o := e2.order(t, "cs_test_short"); o.State != orders.NeedsReview || e2.ful.total() != 0 {
		t.Errorf("received 2600 for 2600 of lines + 500 shipping: %s", o.State)
	}
}

// /config tells the pay page what each product asks, in the catalog's own
// entries (the shapes site/src/shared.ts reads).
func TestConfigShowsTheGoods(t *testing.T) {
	srv := newFakeServer(t, &fakeAPI{}, map[string]string{"CATALOG_JSON": goodsCatalog})
	rec := do(t, srv, "GET", "/config", "", "")
	body := rec.Body.String()
	for _, want := range []string{`"allowedCountries":["CA","US"]`, `"display_name":"Standard"`, `"free_over":{"usd":5000}`,
		`"customFields":[{"key":"size","label":"Size","type":"dropdown"`, `"maximum_length":200`, `"checkoutOnly":true`,
		`"disclosure":"` + defaultManualDisclosure} {
		if !strings.Contains(body, want) {
			t.Errorf("/config lacks %s: %s", want, body)
		}
	}
}
