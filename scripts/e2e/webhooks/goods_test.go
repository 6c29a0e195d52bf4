package webhooks

import (
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// A shopper buys the demo T-shirt in a size, shipped to an address at the
// express rate: the session asks for all of it, the sandbox collects it, and
// the order (the operator API's and the fulfillment hook's) has all of it,
// with the shipping counted in what was paid.
func TestGoodsShippedOrderWithASize(t *testing.T) {
	sink := e2e.StartSink(t)
	secret, id := e2e.CreateSession(t, `{"items":[{"id":"tshirt","quantity":1}]}`)
	var view struct {
		Goods struct {
			Shipping struct {
				Countries []string
				Options   []struct {
					ID          string `json:"id"`
					DisplayName string `json:"display_name"`
					Amount      int64  `json:"amount"`
				}
			}
			CustomFields []struct{ Key string } `json:"custom_fields"`
		}
	}
	e2e.Decode(t, e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout?client_secret="+secret, "", ""), &view)
	opts := view.Goods.Shipping.Options
	if len(opts) != 2 || opts[0].Amount != 500 || opts[1].Amount != 1500 || len(view.Goods.CustomFields) != 1 || view.Goods.CustomFields[0].Key != "size" {
		t.Fatalf("the session does not ask for shipping and a size: %+v", view.Goods)
	}
	// A size is required.
	noSize := `{"client_secret":"` + secret + `","email":"jenny@example.com","card_number":"4242424242424242","exp":"12/34","cvc":"123",` +
		`"shipping":{"name":"Ada","line1":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"}}`
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", noSize); r.Status != 400 {
		t.Fatalf("paid without a size: %d %s", r.Status, r.Body)
	}
	pay := `{"client_secret":"` + secret + `","email":"ada@example.com","card_number":"4242424242424242","exp":"12/34","cvc":"123",` +
		`"shipping":{"name":"Ada Lovelace","line1":"1 Main St","city":"Springfield","state":"IL","postal_code":"62701","country":"US"},` +
		`"shipping_rate":"` + opts[1].ID + `","custom_fields":{"size":"L"}}`
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", pay); r.Status != 200 {
		t.Fatalf("pay: %d %s", r.Status, r.Body)
	}
	o := e2e.WaitOrder(t, id, "fulfilled", func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" })
	if o.State != "paid" || o.AmountReceived != 2000+1500 || len(o.Lines) != 1 || o.Lines[0].Product != "tshirt" {
		t.Fatalf("order %s (%s): received %d, lines %+v", o.State, o.ReviewReason, o.AmountReceived, o.Lines)
	}
	d := o.Details
	if d.Shipping == nil || d.Shipping.Name != "Ada Lovelace" || d.Shipping.Address["city"] != "Springfield" || d.Shipping.Rate != "express" ||
		d.Shipping.Amount != 1500 || d.AmountShipping != 1500 {
		t.Errorf("shipping %+v", d.Shipping)
	}
	if len(d.CustomFields) != 1 || d.CustomFields[0].Key != "size" || d.CustomFields[0].Value != "L" {
		t.Errorf("custom fields %+v", d.CustomFields)
	}
	if hooked, ok := sink.LastOrder(id); !ok || hooked.Details.Shipping == nil || hooked.Details.Shipping.Rate != "express" || len(hooked.Details.CustomFields) != 1 {
		t.Errorf("the fulfillment hook did not get the shipping and size: %+v", hooked.Details)
	}
}
