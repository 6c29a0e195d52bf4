package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v82"
)

// goodsParams is tshirtParams (2 × 20.00 + 12.50) asking for everything a
// shop of physical goods asks: a shipping address and rate, a phone
// number, a size and a note, texts, automatic tax, tax IDs and consent.
func goodsParams() *stripe.CheckoutSessionCreateParams {
	p := tshirtParams()
	p.ShippingAddressCollection = &stripe.CheckoutSessionCreateShippingAddressCollectionParams{AllowedCountries: stripe.StringSlice([]string{"US", "CA"})}
	for _, r := range []struct {
		id, name string
		amount   int64
	}{{"standard", "Standard", 500}, {"express", "Express", 1500}} {
		p.ShippingOptions = append(p.ShippingOptions, &stripe.CheckoutSessionCreateShippingOptionParams{ShippingRateData: &stripe.CheckoutSessionCreateShippingOptionShippingRateDataParams{
			Type: stripe.String("fixed_amount"), DisplayName: stripe.String(r.name), Metadata: map[string]string{"kit_rate": r.id},
			FixedAmount: &stripe.CheckoutSessionCreateShippingOptionShippingRateDataFixedAmountParams{Amount: stripe.Int64(r.amount), Currency: stripe.String("usd")},
			DeliveryEstimate: &stripe.CheckoutSessionCreateShippingOptionShippingRateDataDeliveryEstimateParams{
				Minimum: &stripe.CheckoutSessionCreateShippingOptionShippingRateDataDeliveryEstimateMinimumParams{Unit: stripe.String("business_day"), Value: stripe.Int64(1)}},
			TaxCode: stripe.String("txcd_92010001"), TaxBehavior: stripe.String("exclusive"),
		}})
	}
	p.PhoneNumberCollection = &stripe.CheckoutSessionCreatePhoneNumberCollectionParams{Enabled: stripe.Bool(true)}
	p.CustomFields = []*stripe.CheckoutSessionCreateCustomFieldParams{
		{Key: stripe.String("size"), Type: stripe.String("dropdown"), Label: &stripe.CheckoutSessionCreateCustomFieldLabelParams{Type: stripe.String("custom"), Custom: stripe.String("Size")},
			Dropdown: &stripe.CheckoutSessionCreateCustomFieldDropdownParams{Options: []*stripe.CheckoutSessionCreateCustomFieldDropdownOptionParams{
				{Label: stripe.String("Small"), Value: stripe.String("S")}, {Label: stripe.String("Medium"), Value: stripe.String("M")}}}},
		{Key: stripe.String("note"), Type: stripe.String("text"), Optional: stripe.Bool(true), Label: &stripe.CheckoutSessionCreateCustomFieldLabelParams{Type: stripe.String("custom"), Custom: stripe.String("Gift note")},
			Text: &stripe.CheckoutSessionCreateCustomFieldTextParams{MaximumLength: stripe.Int64(20)}},
	}
	p.CustomText = &stripe.CheckoutSessionCreateCustomTextParams{
		Submit:          &stripe.CheckoutSessionCreateCustomTextSubmitParams{Message: stripe.String("Authorized now, charged when shipped.")},
		ShippingAddress: &stripe.CheckoutSessionCreateCustomTextShippingAddressParams{Message: stripe.String("We ship in 2 days.")},
	}
	p.AutomaticTax = &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)}
	p.TaxIDCollection = &stripe.CheckoutSessionCreateTaxIDCollectionParams{Enabled: stripe.Bool(true)}
	p.ConsentCollection = &stripe.CheckoutSessionCreateConsentCollectionParams{TermsOfService: stripe.String("required")}
	p.LineItems[0].PriceData.TaxBehavior = stripe.String("exclusive")
	p.LineItems[0].PriceData.ProductData.TaxCode = stripe.String("txcd_99999999")
	p.LineItems[0].PriceData.ProductData.Images = stripe.StringSlice([]string{"https://shop.example/images/tshirt.svg"})
	return p
}

func goodsPayment() map[string]any {
	return map[string]any{
		"shipping":       map[string]any{"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"},
		"phone":          "+1 555 555 0100",
		"custom_fields":  map[string]any{"size": "M"},
		"terms_accepted": true,
		"tax_id":         map[string]any{"type": "eu_vat", "value": "de123456789"},
	}
}

func TestGoodsCollectedAndPriced(t *testing.T) {
	e := newEnv(t)
	s := e.create(goodsParams())
	if s.ShippingAddressCollection == nil || len(s.ShippingOptions) != 2 || !s.PhoneNumberCollection.Enabled || len(s.CustomFields) != 2 ||
		s.CustomText.ShippingAddress.Message != "We ship in 2 days." || !s.AutomaticTax.Enabled || !s.TaxIDCollection.Enabled ||
		s.ConsentCollection.TermsOfService != "required" {
		t.Fatalf("created session does not reflect its options: %+v", s)
	}
	_, summary := e.getJSON("/_sandbox/checkout?client_secret=" + url.QueryEscape(s.ClientSecret))
	goods, _ := summary["goods"].(map[string]any)
	if goods == nil || goods["phone"] != true || goods["shipping"] == nil || len(goods["custom_fields"].([]any)) != 2 {
		t.Fatalf("the stand-in is not told what to ask: %v", summary["goods"])
	}
	opts := goods["shipping"].(map[string]any)["options"].([]any)
	express := opts[1].(map[string]any)["id"].(string)

	// What the form must refuse, naming the field.
	for _, tc := range []struct {
		change func(m map[string]any)
		param  string
	}{
		{func(m map[string]any) { delete(m, "shipping") }, "shipping[name]"},
		{func(m map[string]any) { m["shipping"].(map[string]any)["country"] = "DE" }, "shipping[country]"},
		{func(m map[string]any) { m["shipping_rate"] = "shr_unknown" }, "shipping_rate"},
		{func(m map[string]any) { m["phone"] = "" }, "phone"},
		{func(m map[string]any) { m["custom_fields"] = map[string]any{} }, "custom_fields[size]"},
		{func(m map[string]any) { m["custom_fields"] = map[string]any{"size": "XXL"} }, "custom_fields[size]"},
		{func(m map[string]any) {
			m["custom_fields"] = map[string]any{"size": "S", "note": strings.Repeat("x", 21)}
		}, "custom_fields[note]"},
		{func(m map[string]any) { m["terms_accepted"] = false }, "terms_accepted"},
	} {
		m := goodsPayment()
		tc.change(m)
		res, body := e.payWith(s.ClientSecret, m)
		if res.StatusCode != 400 || body["error"].(map[string]any)["param"] != tc.param {
			t.Errorf("want 400 at %s, got %d %v", tc.param, res.StatusCode, body)
		}
	}
	if got := e.retrieve(s.ID); got.Status != "open" || got.PaymentIntent != nil {
		t.Fatalf("a refused form changed the session: %s", got.Status)
	}

	m := goodsPayment()
	m["shipping_rate"] = express
	if res, body := e.payWith(s.ClientSecret, m); res.StatusCode != 200 {
		t.Fatalf("pay: %d %v", res.StatusCode, body)
	}
	got := e.retrieve(s.ID, "line_items", "payment_intent", "shipping_cost.shipping_rate")
	// Lines 4000 + 1250 with 10% tax on the T-shirt's exclusive price and on
	// the mug's unspecified one; express 1500 + 10% tax.
	if got.ShippingCost == nil || got.ShippingCost.AmountTotal != 1650 || got.ShippingCost.ShippingRate.Metadata["kit_rate"] != "express" {
		t.Fatalf("shipping_cost %+v", got.ShippingCost)
	}
	if got.TotalDetails.AmountTax != 400+125+150 || got.TotalDetails.AmountShipping != 1500 || got.AmountTotal != 5250+525+1650 ||
		got.PaymentIntent.Amount != got.AmountTotal {
		t.Fatalf("totals: tax %d shipping %d total %d intent %d", got.TotalDetails.AmountTax, got.TotalDetails.AmountShipping, got.AmountTotal, got.PaymentIntent.Amount)
	}
	var lines int64
	for _, li := range got.LineItems.Data {
		lines += li.AmountTotal
	}
	if lines+got.ShippingCost.AmountTotal != got.AmountTotal {
		t.Errorf("line totals %d + shipping %d != amount_total %d", lines, got.ShippingCost.AmountTotal, got.AmountTotal)
	}
	sd := got.CollectedInformation.ShippingDetails
	if sd.Name != "Ada Lovelace" || sd.Address.Country != "US" || sd.Address.City != "Springfield" {
		t.Errorf("shipping details %+v", sd)
	}
	if got.CustomerDetails.Phone != "+15555550100" || len(got.CustomerDetails.TaxIDs) != 1 || got.CustomerDetails.TaxIDs[0].Value != "DE123456789" {
		t.Errorf("customer details %+v", got.CustomerDetails)
	}
	if got.CustomFields[0].Dropdown.Value != "M" || got.CustomFields[1].Text.Value != "" {
		t.Errorf("custom fields %+v %+v", got.CustomFields[0].Dropdown, got.CustomFields[1].Text)
	}
	if got.Consent == nil || got.Consent.TermsOfService != "accepted" {
		t.Errorf("consent %+v", got.Consent)
	}
}

// Parameters Stripe refuses are refused, naming the parameter.
func TestGoodsParametersRefused(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		change func(p *stripe.CheckoutSessionCreateParams)
		param  string
	}{
		{func(p *stripe.CheckoutSessionCreateParams) { p.ShippingAddressCollection = nil }, "shipping_options"},
		{func(p *stripe.CheckoutSessionCreateParams) {
			p.ShippingAddressCollection.AllowedCountries = stripe.StringSlice([]string{"USA"})
		}, "shipping_address_collection[allowed_countries][0]"},
		{func(p *stripe.CheckoutSessionCreateParams) {
			p.ShippingOptions[0].ShippingRateData.FixedAmount.Currency = stripe.String("eur")
		}, "shipping_options[0][shipping_rate_data][fixed_amount][currency]"},
		{func(p *stripe.CheckoutSessionCreateParams) { p.CustomFields[0].Type = stripe.String("colour") }, "custom_fields[0][type]"},
		{func(p *stripe.CheckoutSessionCreateParams) { p.CustomFields[1].Key = p.CustomFields[0].Key }, "custom_fields[1][key]"},
		{func(p *stripe.CheckoutSessionCreateParams) {
			p.CustomFields = append(p.CustomFields, p.CustomFields[1], p.CustomFields[1])
		}, "custom_fields"},
		{func(p *stripe.CheckoutSessionCreateParams) {
			p.AfterExpiration = &stripe.CheckoutSessionCreateAfterExpirationParams{Recovery: &stripe.CheckoutSessionCreateAfterExpirationRecoveryParams{Enabled: stripe.Bool(true)}}
		}, "after_expiration[recovery][enabled]"},
		{func(p *stripe.CheckoutSessionCreateParams) {
			p.ConsentCollection = nil
			p.CustomText.TermsOfServiceAcceptance = &stripe.CheckoutSessionCreateCustomTextTermsOfServiceAcceptanceParams{Message: stripe.String("ok")}
		}, "custom_text[terms_of_service_acceptance]"},
		{func(p *stripe.CheckoutSessionCreateParams) {
			p.CustomerUpdate = &stripe.CheckoutSessionCreateCustomerUpdateParams{Address: stripe.String("auto")}
		}, "customer_update"},
	} {
		p := goodsParams()
		tc.change(p)
		_, err := e.sc.V1CheckoutSessions.Create(context.Background(), p)
		var se *stripe.Error
		if err == nil || !errors.As(err, &se) || se.Param != tc.param {
			t.Errorf("want a 400 at %s, got %v", tc.param, err)
		}
	}
}

func TestGoodsRecoveryLink(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.UIMode, p.ReturnURL = stripe.String("hosted"), nil
	p.SuccessURL = stripe.String("https://shop.example/thanks")
	p.AfterExpiration = &stripe.CheckoutSessionCreateAfterExpirationParams{Recovery: &stripe.CheckoutSessionCreateAfterExpirationRecoveryParams{Enabled: stripe.Bool(true)}}
	s := e.create(p)
	if res, _ := e.postJSON("/_sandbox/sessions/"+s.ID+"/expire", map[string]any{}); res.StatusCode != 200 {
		t.Fatalf("expire: %d", res.StatusCode)
	}
	got := e.retrieve(s.ID)
	if got.AfterExpiration == nil || got.AfterExpiration.Recovery == nil || !strings.Contains(got.AfterExpiration.Recovery.URL, "/_sandbox/recover/"+s.ID) {
		t.Fatalf("after_expiration %+v", got.AfterExpiration)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(got.AfterExpiration.Recovery.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, hostedPath) {
		t.Fatalf("recovery link: %d %s", res.StatusCode, loc)
	}
	fresh := e.retrieve(loc[strings.LastIndex(loc, "/")+1:])
	if fresh.Status != "open" || fresh.RecoveredFrom != s.ID || fresh.AmountTotal != s.AmountTotal {
		t.Errorf("recovered session %s from %q total %d", fresh.Status, fresh.RecoveredFrom, fresh.AmountTotal)
	}
}
