package worker

import (
	"strings"
	"testing"

	"checkoutkit/worker/orders"
)

// shipsTo is a ConfirmationToken's shipping from the Address Element.
const shipsTo = `{"name":"Ada Lovelace","phone":"+15555550100","address":{"line1":"1 Main St","line2":null,"city":"Springfield","state":"IL","postal_code":"62701","country":"US"}}`

func goodsIntentServer(t *testing.T) (*Server, *stubStripe) {
	t.Helper()
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": goodsCatalog})
	stub.set("GET /v1/confirmation_tokens/ctoken_ship", 200, stubToken("ctoken_ship", "visa", "credit", "US", shipsTo))
	return srv, stub
}

// On the pay page the worker charges the chosen rate, sends the custom
// fields and rate with the PaymentIntent, and the Address Element's
// shipping goes with the token.
func TestPayPageChargesShippingAndRecordsFields(t *testing.T) {
	srv, stub := goodsIntentServer(t)
	rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"tshirt","quantity":1}],"confirmationToken":"ctoken_ship",`+
		`"shippingRate":"courier","customFields":{"size":"M","giftnote":"Happy birthday"}}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	c := stub.Creates()[0]
	wantForm(t, c, map[string]string{"amount": "4000", "metadata[kit_shipping]": "courier:2000", "metadata[kit_fields]": "giftnote=Happy+birthday&size=M"})
	// Free over 50.00: three T-shirts ship free at the standard rate.
	srv, stub = goodsIntentServer(t)
	if rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"tshirt","quantity":3}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M"}}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Creates()[0], map[string]string{"amount": "6000", "metadata[kit_shipping]": "standard:0"})
	// No rate sent: the first the order may use, charged.
	srv, stub = goodsIntentServer(t)
	if rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","customFields":{"size":"M"}}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Creates()[0], map[string]string{"amount": "2500", "metadata[kit_shipping]": "standard:500"})
}

// Everything wrong with the goods fields is a 4xx before any PaymentIntent
// (and, for the request's own fields, before any Stripe call at all).
func TestPayPageGoodsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, body, token string
		status            int
		code, param       string
		stripeCalls       int // the token's GET, if any
	}{
		{"unknown rate", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"drone","customFields":{"size":"M"}}`, "", 400, "invalid_shipping_rate", "shippingRate", 0},
		{"rate the product may not use", `{"items":[{"id":"poster"}],"confirmationToken":"ctoken_ship","shippingRate":"standard"}`, "", 400, "invalid_shipping_rate", "shippingRate", 0},
		{"rate for nothing shipped", `{"items":[{"id":"rental"}],"confirmationToken":"ctoken_ship","shippingRate":"standard"}`, "", 400, "unexpected_shipping_rate", "shippingRate", 0},
		{"missing required field", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard"}`, "", 400, "missing_custom_field", "customFields.size", 0},
		{"dropdown value not offered", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"XXXL"}}`, "", 400, "invalid_custom_field", "customFields.size", 0},
		{"text too long", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M","giftnote":"` + strings.Repeat("x", 201) + `"}}`, "", 400, "invalid_custom_field", "customFields.giftnote", 0},
		{"control characters", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M","giftnote":"a\r\nb"}}`, "", 400, "invalid_custom_field", "customFields.giftnote", 0},
		{"unknown field", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M","colour":"red"}}`, "", 400, "unknown_custom_field", "customFields.colour", 0},
		{"fields not an object", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":["M"]}`, "", 400, "invalid_field_type", "customFields", 0},
		{"no address in the token", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M"}}`, "null", 400, "missing_shipping_address", "confirmationToken", 1},
		{"country not shipped to", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M"}}`,
			strings.Replace(shipsTo, `"country":"US"`, `"country":"FR"`, 1), 422, "shipping_country_refused", "shipping", 1},
		{"no phone", `{"items":[{"id":"tshirt"}],"confirmationToken":"ctoken_ship","shippingRate":"standard","customFields":{"size":"M"}}`,
			strings.Replace(shipsTo, `"phone":"+15555550100",`, ``, 1), 400, "missing_phone", "confirmationToken", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := goodsIntentServer(t)
			if tc.token != "" {
				stub.set("GET /v1/confirmation_tokens/ctoken_ship", 200, stubToken("ctoken_ship", "visa", "credit", "US", tc.token))
			}
			rec := postJSON(t, srv, "/create-confirm-intent", tc.body)
			eb := decodeError(t, rec)
			if rec.Code != tc.status || eb.Error.Code != tc.code || eb.Error.Param != tc.param {
				t.Fatalf("%d %s, want %d %s at %s", rec.Code, rec.Body, tc.status, tc.code, tc.param)
			}
			if calls := stub.Calls(); len(calls) != tc.stripeCalls || len(stub.Creates()) != 0 {
				t.Errorf("Stripe calls %v, want %d (the token's read) and nothing created", calls, tc.stripeCalls)
			}
		})
	}
}

// The order a pay-page PaymentIntent makes carries the shipping Stripe
// wrote from the token, the rate and fields the worker recorded; it must
// have been paid lines plus shipping.
func TestPayPageOrderRecordsShipping(t *testing.T) {
	e := newHookServer(t)
	meta := withMeta(metaFlow, FlowConfirmIntent, metaCart, "plain:1:1000", metaShipping, "standard:500", metaFields, "size=M")
	pi := intentObject("pi_ship", "succeeded", "automatic", meta)
	pi["amount"], pi["amount_received"] = 1500, 1500
	pi["shipping"] = map[string]any{"name": "Ada Lovelace", "phone": "+15555550100", "address": map[string]any{"line1": "1 Main St", "city": "Springfield", "country": "US"}}
	e.deliver(t, eventJSON("evt_ship", "payment_intent.succeeded", pi))
	o := e.order(t, "pi_ship")
	if o == nil || o.State != orders.Paid {
		t.Fatalf("order %+v", o)
	}
	d := o.Details
	if d.Shipping == nil || d.Shipping.Rate != "standard" || d.Shipping.Amount != 500 || d.Shipping.Name != "Ada Lovelace" || d.Shipping.Address.City != "Springfield" ||
		d.Phone != "+15555550100" || len(d.CustomFields) != 1 || d.CustomFields[0] != (orders.CustomField{Key: "size", Value: "M"}) {
		t.Errorf("details %+v shipping %+v", d, d.Shipping)
	}
	// The same cart received without its shipping is not what was charged.
	e2 := newHookServer(t)
	pi["id"], pi["amount_received"] = "pi_short", 1000
	e2.deliver(t, eventJSON("evt_short", "payment_intent.succeeded", pi))
	if o := e2.order(t, "pi_short"); o == nil || o.State != orders.NeedsReview || e2.ful.total() != 0 {
		t.Errorf("received 1000 for 1000 of lines + 500 shipping: %+v", o)
	}
}
