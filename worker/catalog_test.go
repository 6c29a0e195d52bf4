package worker

import (
	"strings"
	"testing"
)

func TestParseCatalogOptions(t *testing.T) {
	c, err := ParseCatalog([]byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Lookup("rental")
	if r.Capture != CaptureManual || !r.IncrementalAuthorization {
		t.Errorf("rental = %+v", r)
	}
	p, _ := c.Lookup("plain")
	if p.Capture != CaptureAutomatic || p.Stock != nil {
		t.Errorf("plain defaults = %+v", p)
	}
	l, _ := c.Lookup("limited")
	if l.Stock == nil || *l.Stock != 3 {
		t.Errorf("limited stock = %v", l.Stock)
	}
	if !c.Shop.AllowPromotionCodes || c.Shop.MaxOrderAmount["usd"] != 10000 || c.Shop.RefusedCountries[0] != "AQ" {
		t.Errorf("shop = %+v", c.Shop)
	}
	// Normalisation of shop lists and currency keys.
	c2, err := ParseCatalog([]byte(`{"shop":{"max_order_amount":{"EUR":5},"refused_email_domains":[" Spam.Example "],"refused_countries":["de"]},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"EUR"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Shop.MaxOrderAmount["eur"] != 5 || c2.Shop.RefusedEmailDomains[0] != "spam.example" || c2.Shop.RefusedCountries[0] != "DE" {
		t.Errorf("normalised shop = %+v", c2.Shop)
	}
	if DefaultCatalog() == nil {
		t.Fatal("bundled catalog")
	}
}

func TestParseCatalogErrorsNameTheField(t *testing.T) {
	prod := func(extra string) string {
		return `{"products":[{"id":"a","name":"A","unit_amount":100,"currency":"usd"` + extra + `}]}`
	}
	shop := func(opts string) string {
		return `{"shop":{` + opts + `},"products":[{"id":"a","name":"A","unit_amount":100,"currency":"usd"}]}`
	}
	cases := []catalogCase{
		{"unknown product field", prod(`,"colour":"red"`), `unknown field "colour"`},
		{"unknown shop field", shop(`"discount":5`), `unknown field "discount"`},
		{"bad id", `{"products":[{"id":"a b","name":"A","unit_amount":1,"currency":"usd"}]}`, "products[0].id"},
		{"duplicate", `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"},{"id":"a","name":"B","unit_amount":1,"currency":"usd"}]}`, `product "a": duplicate id`},
		{"no name", `{"products":[{"id":"a","unit_amount":1,"currency":"usd"}]}`, "name is required"},
		{"zero amount", `{"products":[{"id":"a","name":"A","unit_amount":0,"currency":"usd"}]}`, "unit_amount"},
		{"bad currency", `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"dollars"}]}`, "currency"},
		{"bad price id", prod(`,"price":"prod_1"`), "price"},
		{"max quantity", prod(`,"max_quantity":1000`), "max_quantity"},
		{"negative stock", prod(`,"stock":-1`), "stock"},
		{"capture value", prod(`,"capture":"later"`), `capture "later"`},
		{"incremental without manual", prod(`,"incremental_authorization":true`), "incremental_authorization needs capture"},
		{"stock not a number", prod(`,"stock":"3"`), "stock"},
		{"customer_creation", shop(`"customer_creation":"never"`), "shop.customer_creation"},
		{"payment_method_save", shop(`"saved_payment_method_options":{"payment_method_save":"yes"}`), "shop.saved_payment_method_options.payment_method_save"},
		{"payment_method_remove", shop(`"saved_payment_method_options":{"payment_method_remove":"on"}`), "shop.saved_payment_method_options.payment_method_remove"},
		{"save without customer", shop(`"customer_creation":"if_required","saved_payment_method_options":{"payment_method_save":"enabled"}`), "cannot be combined with shop.customer_creation"},
		{"max amount currency", shop(`"max_order_amount":{"dollars":5}`), "shop.max_order_amount"},
		{"max amount value", shop(`"max_order_amount":{"usd":0}`), "shop.max_order_amount.usd"},
		{"max amount twice", shop(`"max_order_amount":{"usd":5,"USD":6}`), "given twice"},
		{"email domain", shop(`"refused_email_domains":["not a domain"]`), "shop.refused_email_domains[0]"},
		{"email domain with @", shop(`"refused_email_domains":["@spam.example"]`), "shop.refused_email_domains[0]"},
		{"country", shop(`"refused_countries":["Germany"]`), "shop.refused_countries[0]"},
		{"no products", `{"shop":{}}`, "no products"},
	}
	refusedCatalogs(t, cases)
}

// catalogCase is a catalog that must be refused with an error containing
// want.
type catalogCase struct{ name, doc, want string }

// refusedCatalogs checks that ParseCatalog refuses each case, naming what
// its want says.
func refusedCatalogs(t *testing.T, cases []catalogCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCatalog([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted %s", tc.doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// A bad CATALOG_JSON stops the worker at start-up with the variable's name.
func TestCatalogJSONErrorAtStartup(t *testing.T) {
	_, err := LoadConfig(func(k string) string {
		return map[string]string{"STRIPE_SECRET_KEY": "sk_test_unit", "CATALOG_JSON": `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","capture":"soon"}]}`}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "CATALOG_JSON") || !strings.Contains(err.Error(), `product "a": capture`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFormatMinor(t *testing.T) {
	for _, tc := range []struct {
		amount int64
		cur    string
		want   string
	}{{50000, "usd", "500.00 USD"}, {1205, "eur", "12.05 EUR"}, {7, "usd", "0.07 USD"}, {500, "jpy", "500 JPY"}} {
		if got := formatMinor(tc.amount, tc.cur); got != tc.want {
			t.Errorf("formatMinor(%d, %s) = %q, want %q", tc.amount, tc.cur, got, tc.want)
		}
	}
}
