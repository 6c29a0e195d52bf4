package worker

import (
	"strings"
	"testing"
)

// goodsDoc is a catalog with shop-wide goods settings opts and one product
// with extra fields.
func goodsDoc(opts, extra string) string {
	shop := `"shipping":{"allowed_countries":["us","CA"],"rates":[{"id":"std","display_name":"Standard","amount":{"usd":500},"free_over":{"usd":5000}},` +
		`{"id":"exp","display_name":"Express","amount":{"usd":1500,"eur":1400},"delivery_estimate":{"minimum":{"unit":"business_day","value":1},"maximum":{"unit":"business_day","value":2}}}]}`
	if opts != "" {
		shop += "," + opts
	}
	return `{"shop":{` + shop + `},"products":[{"id":"a","name":"A","unit_amount":100,"currency":"usd"` + extra + `}]}`
}

// Every goods setting that cannot work is refused at start-up, naming the
// product and the field.
func TestParseCatalogGoodsErrorsNameTheField(t *testing.T) {
	cases := []catalogCase{
		{"no countries", `{"shop":{"shipping":{"allowed_countries":[],"rates":[{"id":"s","display_name":"S","amount":{"usd":1}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "shop.shipping.allowed_countries"},
		{"bad country", `{"shop":{"shipping":{"allowed_countries":["USA"],"rates":[{"id":"s","display_name":"S","amount":{"usd":1}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "shop.shipping.allowed_countries[0]"},
		{"no rates", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "shop.shipping.rates must list"},
		{"rate without amount", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[{"id":"s","display_name":"S"}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "shop.shipping.rates s: amount"},
		{"rate negative", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[{"id":"s","display_name":"S","amount":{"usd":-1}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "shop.shipping.rates s: amount.usd"},
		{"free_over other currency", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[{"id":"s","display_name":"S","amount":{"usd":1},"free_over":{"eur":100}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "free_over.eur"},
		{"estimate unit", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[{"id":"s","display_name":"S","amount":{"usd":1},"delivery_estimate":{"minimum":{"unit":"fortnight","value":1}}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "delivery_estimate.minimum.unit"},
		{"six rates", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[` + strings.Repeat(`{"id":"x","display_name":"S","amount":{"usd":1}},`, 5) + `{"id":"y","display_name":"S","amount":{"usd":1}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, "at most 5"},
		{"duplicate rate", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[{"id":"s","display_name":"S","amount":{"usd":1}},{"id":"s","display_name":"T","amount":{"usd":1}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, `"s": duplicate`},
		{"shippable without shipping", `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","shippable":true}]}`, `product "a": shippable needs shop.shipping`},
		{"shippable in unpriced currency", `{"shop":{"shipping":{"allowed_countries":["US"],"rates":[{"id":"s","display_name":"S","amount":{"usd":1}}]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"jpy","shippable":true}]}`, `product "a": shippable: no shipping rate it may use has an amount in JPY`},
		{"unknown rate", goodsDoc("", `,"shippable":true,"shipping_rates":["drone"]`), `product "a": shipping_rates[0] "drone"`},
		{"rates without shippable", goodsDoc("", `,"shipping_rates":["std"]`), `product "a": shipping_rates is for shippable`},
		{"field type", goodsDoc("", `,"custom_fields":[{"key":"size","label":"Size","type":"colour"}]`), `product "a": custom_fields[0] (size): type "colour"`},
		{"field key", goodsDoc("", `,"custom_fields":[{"key":"gift note","label":"Note","type":"text"}]`), `product "a": custom_fields[0].key`},
		{"field label", goodsDoc("", `,"custom_fields":[{"key":"note","label":"","type":"text"}]`), "label is required"},
		{"dropdown without options", goodsDoc("", `,"custom_fields":[{"key":"size","label":"Size","type":"dropdown"}]`), "a dropdown needs"},
		{"dropdown value", goodsDoc("", `,"custom_fields":[{"key":"size","label":"Size","type":"dropdown","options":[{"label":"Small","value":"s m"}]}]`), "options[0]"},
		{"text with options", goodsDoc("", `,"custom_fields":[{"key":"note","label":"Note","type":"text","options":[{"label":"x","value":"x"}]}]`), "options are for dropdown"},
		{"text length", goodsDoc("", `,"custom_fields":[{"key":"note","label":"Note","type":"text","minimum_length":10,"maximum_length":5}]`), "minimum at most maximum"},
		{"four fields", goodsDoc(`"custom_fields":[{"key":"a","label":"A","type":"text"},{"key":"b","label":"B","type":"text"}]`, `,"custom_fields":[{"key":"c","label":"C","type":"text"},{"key":"d","label":"D","type":"text"}]`), `product "a": custom_fields: with shop.custom_fields this product's orders would ask 4`},
		{"shop key reused", goodsDoc(`"custom_fields":[{"key":"a","label":"A","type":"text"}]`, `,"custom_fields":[{"key":"a","label":"A2","type":"text"}]`), `key "a" is also a shop.custom_fields key`},
		{"tax behavior", goodsDoc(`"tax":{"automatic":true,"behavior":"included"}`, `,"pay_page":false`), "shop.tax.behavior"},
		{"tax code", goodsDoc("", `,"tax_code":"clothing"`), `product "a": tax_code "clothing"`},
		{"automatic tax on the pay page", goodsDoc(`"tax":{"automatic":true}`, ""), `product "a": shop.tax.automatic is on, but the product is sold on the pay page`},
		{"custom text length", goodsDoc(`"custom_text":{"submit":"`+strings.Repeat("x", 1201)+`"}`, ""), "shop.custom_text.submit"},
		{"terms text without consent", goodsDoc(`"custom_text":{"terms_of_service_acceptance":"I agree"}`, ""), "shop.terms_of_service_consent"},
		{"submit text and terms too long together", goodsDoc(`"custom_text":{"submit":"`+strings.Repeat("x", 1100)+`"}`, `,"capture":"manual"`), `product "a": shop.custom_text.submit and this product's terms`},
		{"disclosure length", goodsDoc(`"disclosures":{"manual_capture":"`+strings.Repeat("x", 401)+`"}`, ""), "shop.disclosures.manual_capture"},
	}
	refusedCatalogs(t, cases)
}

func TestParseCatalogGoods(t *testing.T) {
	c, err := ParseCatalog([]byte(goodsDoc(`"tax":{"automatic":true},"pay_page":false`, `,"shippable":true,"custom_fields":[{"key":"size","label":"Size","type":"dropdown","options":[{"label":"M","value":"M"}]}]`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Shop.Shipping.AllowedCountries; len(got) != 2 || got[0] != "CA" || got[1] != "US" {
		t.Errorf("allowed countries normalised: %v", got)
	}
	if c.Shop.Tax.Behavior != "exclusive" {
		t.Errorf("automatic tax defaults to exclusive prices: %q", c.Shop.Tax.Behavior)
	}
	p, _ := c.Lookup("a")
	if c.Shop.onPayPage(p) {
		t.Error("shop pay_page false: the product is on the pay page")
	}
	if rates := c.Shop.rates(p); len(rates) != 2 {
		t.Errorf("rates for a usd product: %d, want 2", len(rates))
	}
	if DefaultCatalog() == nil {
		t.Fatal("bundled catalog")
	}
}
