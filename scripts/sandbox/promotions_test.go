package main

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stripe/stripe-go/v82"
)

// The worker's lookup (GET /v1/promotion_codes?code=&active=true&limit=1),
// then a session with the code: the discount shows on the session, its
// lines, and the PaymentIntent paid.
func TestPromotionCodeDiscountsSession(t *testing.T) {
	e := newEnv(t)
	res, list := e.getJSONAuth("/v1/promotion_codes?" + url.Values{"code": {"save10"}, "active": {"true"}, "limit": {"1"}}.Encode())
	data, _ := list["data"].([]any)
	if res.StatusCode != 200 || len(data) != 1 {
		t.Fatalf("list: %d %v", res.StatusCode, list)
	}
	pc := data[0].(map[string]any)
	if pc["id"] != "promo_sandboxSAVE10" || pc["code"] != "SAVE10" || pc["active"] != true {
		t.Fatalf("code %v", pc)
	}
	for _, q := range []url.Values{{"code": {"EXPIRED20"}, "active": {"true"}}, {"code": {"NOPE"}}} {
		if _, l := e.getJSONAuth("/v1/promotion_codes?" + q.Encode()); len(l["data"].([]any)) != 0 {
			t.Errorf("%v: %v", q, l)
		}
	}

	p := tshirtParams() // 2 × 2000 + 1 × 1250 = 5250
	p.Discounts = []*stripe.CheckoutSessionCreateDiscountParams{{PromotionCode: stripe.String("promo_sandboxSAVE10")}}
	p.Locale = stripe.String("fr-CA")
	p.AddExpand("line_items")
	s := e.create(p)
	if s.AmountSubtotal != 5250 || s.AmountTotal != 4725 || s.TotalDetails.AmountDiscount != 525 || s.Locale != "fr-CA" {
		t.Fatalf("session totals: subtotal %d total %d discount %d locale %s", s.AmountSubtotal, s.AmountTotal, s.TotalDetails.AmountDiscount, s.Locale)
	}
	if len(s.Discounts) != 1 || s.Discounts[0].PromotionCode == nil || s.Discounts[0].PromotionCode.ID != "promo_sandboxSAVE10" {
		t.Fatalf("discounts %+v", s.Discounts)
	}
	var sum int64
	for _, li := range s.LineItems.Data {
		if li.AmountTotal != li.AmountSubtotal-li.AmountDiscount {
			t.Errorf("line %+v", li)
		}
		sum += li.AmountDiscount
	}
	if sum != 525 {
		t.Errorf("line discounts add up to %d", sum)
	}
	if res, _ := e.pay(s.ClientSecret, "4242424242424242"); res.StatusCode != 200 {
		t.Fatalf("pay: %d", res.StatusCode)
	}
	got, err := e.sc.V1CheckoutSessions.Retrieve(context.Background(), s.ID, &stripe.CheckoutSessionRetrieveParams{Params: stripe.Params{Expand: []*string{stripe.String("payment_intent")}}})
	if err != nil || got.PaymentIntent == nil || got.PaymentIntent.Amount != 4725 || got.PaymentIntent.AmountReceived != 4725 {
		t.Fatalf("paid: %+v %v", got.PaymentIntent, err)
	}
}

func TestPromotionCodeAmountOffSharedOverLines(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.Discounts = []*stripe.CheckoutSessionCreateDiscountParams{{PromotionCode: stripe.String("promo_sandboxTAKE5")}}
	p.AddExpand("line_items")
	s := e.create(p)
	var sum int64
	for _, li := range s.LineItems.Data {
		sum += li.AmountDiscount
	}
	if s.AmountTotal != 4750 || s.TotalDetails.AmountDiscount != 500 || sum != 500 {
		t.Fatalf("total %d discount %d lines %d", s.AmountTotal, s.TotalDetails.AmountDiscount, sum)
	}
}

func TestPromotionCodeErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		set   map[string]string
		code  string
		param string
	}{
		{"unknown code", map[string]string{"discounts[0][promotion_code]": "promo_nope"}, "resource_missing", "discounts[0][promotion_code]"},
		{"inactive code", map[string]string{"discounts[0][promotion_code]": "promo_sandboxEXPIRED20"}, "", "discounts[0][promotion_code]"},
		{"with allow_promotion_codes", map[string]string{"discounts[0][promotion_code]": "promo_sandboxSAVE10", "allow_promotion_codes": "true"}, "parameters_exclusive", "allow_promotion_codes"},
		{"two discounts", map[string]string{"discounts[0][promotion_code]": "promo_sandboxSAVE10", "discounts[1][coupon]": "SANDBOX10PCT"}, "", "discounts"},
		{"coupon and code", map[string]string{"discounts[0][promotion_code]": "promo_sandboxSAVE10", "discounts[0][coupon]": "SANDBOX10PCT"}, "parameters_exclusive", "discounts[0][coupon]"},
		{"unknown discount key", map[string]string{"discounts[0][amount]": "5"}, "parameter_unknown", "discounts[0][amount]"},
	}
	for _, c := range cases {
		form := baseForm()
		for k, v := range c.set {
			form.Set(k, v)
		}
		res, body := e.postForm("/v1/checkout/sessions", form, nil)
		if res.StatusCode != 400 {
			t.Errorf("%s: %d %s", c.name, res.StatusCode, body)
			continue
		}
		er := errorOf(t, decodeMap(t, body))
		if code, _ := er["code"].(string); code != c.code || er["param"] != c.param {
			t.Errorf("%s: code %q param %v", c.name, code, er["param"])
		}
	}
}

// getJSONAuth is a GET with the secret key.
func (e *env) getJSONAuth(path string) (*http.Response, map[string]any) {
	e.t.Helper()
	res, body := e.do(http.MethodGet, path, "", nil, nil)
	return res, decodeMap(e.t, body)
}
