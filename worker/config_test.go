package worker

import (
	"strings"
	"testing"
)

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "STRIPE_SECRET_KEY"},
		{map[string]string{"STRIPE_SECRET_KEY": "pk_test_wrong"}, "STRIPE_SECRET_KEY"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_PUBLISHABLE_KEY": "sk_test_2"}, "STRIPE_PUBLISHABLE_KEY"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_API_BASE": "localhost:12111"}, "STRIPE_API_BASE"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_JS_URL": "/stripe.js"}, "STRIPE_JS_URL"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "PUBLIC_URL": "javascript:alert(1)"}, "PUBLIC_URL"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "RETURN_PATH": "//evil.example/x"}, "RETURN_PATH"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "CATALOG_JSON": "{"}, "CATALOG_JSON"},
		{map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "DEFAULT_ITEM": "nope"}, "DEFAULT_ITEM"},
	}
	for _, tc := range cases {
		_, err := LoadConfig(func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err = %v, want mention of %s", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk_test_2") {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
}

func TestParseCatalog(t *testing.T) {
	bad := map[string]string{
		"unknown field":   `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","colour":"red"}]}`,
		"no products":     `{"products":[]}`,
		"bad id":          `{"products":[{"id":"a b","name":"A","unit_amount":1,"currency":"usd"}]}`,
		"duplicate":       `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"},{"id":"a","name":"B","unit_amount":1,"currency":"usd"}]}`,
		"zero amount":     `{"products":[{"id":"a","name":"A","unit_amount":0,"currency":"usd"}]}`,
		"bad currency":    `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"dollars"}]}`,
		"no name":         `{"products":[{"id":"a","unit_amount":1,"currency":"usd"}]}`,
		"bad price id":    `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","price":"prod_1"}]}`,
		"max qty too big": `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","max_quantity":1000}]}`,
		"trailing data":   `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]} x`,
	}
	for name, doc := range bad {
		if _, err := ParseCatalog([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := ParseCatalog([]byte(`{"products":[{"id":"a","name":"A","unit_amount":150,"currency":"EUR"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.Lookup("a")
	if !ok || p.Currency != "eur" || p.MaxQuantity != DefaultMaxQuantity {
		t.Fatalf("got %+v", p)
	}
	if _, ok := c.Lookup("b"); ok {
		t.Fatal("found a missing product")
	}
	if len(DefaultCatalog().Products) == 0 {
		t.Fatal("bundled catalog is empty")
	}
}
