package worker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82"
)

// promoFake answers the promotion code SAVE10 (any case) as promo_save10 and
// records the session parameters it is asked to create.
func promoFake(created *[]*stripe.CheckoutSessionCreateParams) *fakeAPI {
	return &fakeAPI{
		OnListPromotionCodes: func(code string) (*stripeapi.PromotionCodeList, error) {
			if strings.EqualFold(code, "SAVE10") {
				return &stripeapi.PromotionCodeList{Data: []stripeapi.PromotionCode{{ID: "promo_save10", Code: "SAVE10", Active: true}}}, nil
			}
			return &stripeapi.PromotionCodeList{}, nil
		},
		OnCreateCheckoutSession: func(p *stripe.CheckoutSessionCreateParams) (*stripeapi.CheckoutSession, error) {
			*created = append(*created, p)
			return &stripeapi.CheckoutSession{ID: "cs_test_o", ClientSecret: "cs_test_o_secret_x", URL: "https://checkout.stripe.com/c/pay/cs_test_o"}, nil
		},
	}
}

func TestCheckoutOptionsReachTheSession(t *testing.T) {
	var created []*stripe.CheckoutSessionCreateParams
	f := promoFake(&created)
	srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog}) // allow_promotion_codes: true
	rec := send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"},
		`{"items":[{"id":"plain"}],"email":"jenny@example.com","reference":"blog-order_42","promo":"save10","locale":"pt-BR"}`)
	if rec.Code != 200 || len(created) != 1 {
		t.Fatalf("status %d, %d sessions: %s", rec.Code, len(created), rec.Body)
	}
	p := created[0]
	if got := stripe.StringValue(p.ClientReferenceID); got != "blog-order_42" {
		t.Errorf("client_reference_id = %q", got)
	}
	if !orders.ValidRef(p.Metadata[metaOrder]) {
		t.Errorf("kit_order = %q: the kit's reference must stay in metadata", p.Metadata[metaOrder])
	}
	if got := stripe.StringValue(p.Locale); got != "pt-BR" {
		t.Errorf("locale = %q", got)
	}
	if got := stripe.StringValue(p.CustomerEmail); got != "jenny@example.com" {
		t.Errorf("customer_email = %q", got)
	}
	if len(p.Discounts) != 1 || stripe.StringValue(p.Discounts[0].PromotionCode) != "promo_save10" {
		t.Errorf("discounts = %+v", p.Discounts)
	}
	// Stripe refuses allow_promotion_codes together with discounts.
	if p.AllowPromotionCodes != nil {
		t.Error("allow_promotion_codes sent with discounts")
	}
	if calls := f.Calls(); strings.Join(calls, ",") != "ListPromotionCodes,CreateCheckoutSession" {
		t.Errorf("calls = %v", calls)
	}
}

func TestCheckoutOptionsDefaults(t *testing.T) {
	var created []*stripe.CheckoutSessionCreateParams
	srv := newFakeServer(t, promoFake(&created), map[string]string{"CATALOG_JSON": testCatalog})
	rec := send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"}, `{"items":[{"id":"plain"}]}`)
	if rec.Code != 200 || len(created) != 1 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	p := created[0]
	if stripe.StringValue(p.ClientReferenceID) != p.Metadata[metaOrder] || p.Locale != nil || p.Discounts != nil || !stripe.BoolValue(p.AllowPromotionCodes) {
		t.Errorf("without options: client_reference_id %q, locale %v, discounts %v, allow_promotion_codes %v",
			stripe.StringValue(p.ClientReferenceID), p.Locale, p.Discounts, p.AllowPromotionCodes)
	}
}

func TestCheckoutOptionsRefusedCreateNothing(t *testing.T) {
	cases := []struct {
		name, body  string
		status      int
		code, param string
		lookedUp    bool
	}{
		{"reference with a slash", `"reference":"a/b"`, 400, "invalid_reference", "reference", false},
		{"reference with a space", `"reference":"order 1"`, 400, "invalid_reference", "reference", false},
		{"reference too long", `"reference":"` + strings.Repeat("r", 201) + `"`, 400, "invalid_reference", "reference", false},
		{"reference with a newline", `"reference":"a\nb"`, 400, "invalid_reference", "reference", false},
		{"locale unknown", `"locale":"xx"`, 400, "invalid_locale", "locale", false},
		{"locale in the wrong case", `"locale":"pt-br"`, 400, "invalid_locale", "locale", false},
		{"promo with a space", `"promo":"SAVE 10"`, 400, "invalid_promo", "promo", false},
		{"promo with a query", `"promo":"SAVE10&active=false"`, 400, "invalid_promo", "promo", false},
		{"promo too long", `"promo":"` + strings.Repeat("P", 501) + `"`, 400, "invalid_promo", "promo", false},
		{"promo unknown", `"promo":"NOPE"`, 422, "promotion_code_invalid", "promo", true},
		{"reference not a string", `"reference":42`, 400, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var created []*stripe.CheckoutSessionCreateParams
			f := promoFake(&created)
			st := orders.NewMemStore()
			srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog}).withDeps(func(d *Deps) { d.Store = st })
			rec := send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"},
				`{"items":[{"id":"limited","quantity":3}],`+tc.body+`}`)
			if tc.code == "" {
				if rec.Code != 400 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			} else {
				checkError(t, rec, tc.status, tc.code, tc.param)
			}
			if len(created) != 0 {
				t.Fatal("a session was created")
			}
			want := ""
			if tc.lookedUp {
				want = "ListPromotionCodes"
			}
			if got := strings.Join(f.Calls(), ","); got != want {
				t.Errorf("calls = %q, want %q", got, want)
			}
			// Nothing held: all 3 of the stock can still be held.
			if r, err := st.Reserve(context.Background(), "ord_next", []orders.StockLine{{Product: "limited", Quantity: 3, Stock: 3}}, time.Now().Add(time.Hour), time.Now()); r != orders.Reserved || err != nil {
				t.Errorf("stock after the refusal: %v %v", r, err)
			}
		})
	}
}

// A lookup answer that is not the code asked for, or not active, does not
// discount anything.
func TestResolvePromoTrustsOnlyAMatchingActiveCode(t *testing.T) {
	for name, pc := range map[string]stripeapi.PromotionCode{
		"inactive":   {ID: "promo_1", Code: "SAVE10", Active: false},
		"other code": {ID: "promo_1", Code: "SAVE20", Active: true},
		"bad id":     {ID: "coupon_1", Code: "SAVE10", Active: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeAPI{OnListPromotionCodes: func(string) (*stripeapi.PromotionCodeList, error) {
				return &stripeapi.PromotionCodeList{Data: []stripeapi.PromotionCode{pc}}, nil
			}}
			srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog})
			checkError(t, send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"},
				`{"items":[{"id":"plain"}],"promo":"SAVE10"}`), 422, "promotion_code_invalid", "promo")
		})
	}
}

// The same client key with another promotion code is another order: the code
// is part of what the key derives from.
func TestIdempotencyKeyCoversCheckoutOptions(t *testing.T) {
	var created []*stripe.CheckoutSessionCreateParams
	srv := newFakeServer(t, promoFake(&created), map[string]string{"CATALOG_JSON": testCatalog})
	for _, extra := range []string{``, `,"promo":"SAVE10"`, `,"reference":"r1"`, `,"locale":"de"`, `,"promo":"SAVE10"`} {
		rec := send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"},
			`{"items":[{"id":"plain"}],"idempotencyKey":"key-12345678"`+extra+`}`)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	keys := map[string]int{}
	for _, p := range created {
		keys[stripe.StringValue(p.IdempotencyKey)]++
	}
	if len(keys) != 4 || keys[stripe.StringValue(created[1].IdempotencyKey)] != 2 {
		t.Errorf("idempotency keys: %v", keys)
	}
}

// A session paid with a promotion code records the site's reference and the
// discount (details); its lines are what Stripe charged for them, after the
// discount, so the order adds up and is fulfillable.
func TestSessionOrderWithDiscountAndReference(t *testing.T) {
	srv := newFakeServer(t, &fakeAPI{}, map[string]string{"CATALOG_JSON": testCatalog})
	raw := `{"id":"cs_test_d","mode":"payment","status":"complete","payment_status":"paid","currency":"usd",
	  "amount_subtotal":2000,"amount_total":1800,"client_reference_id":"blog-order_42","total_details":{"amount_discount":200},
	  "metadata":{"kit_order":"ord_0123456789abcdef","kit_cart":"plain:2:1000","kit_flow":"checkout","kit_deployment":"` + srv.cfg.Deployment + `"},
	  "payment_intent":{"id":"pi_d","status":"succeeded","amount":1800,"amount_received":1800,"currency":"usd"},
	  "line_items":{"data":[{"description":"Plain","quantity":2,"amount_subtotal":2000,"amount_discount":200,"amount_total":1800,"price":{"unit_amount":1000}}]}}`
	var sess stripeapi.CheckoutSession
	if err := json.Unmarshal([]byte(raw), &sess); err != nil {
		t.Fatal(err)
	}
	o := srv.sessionOrder(&sess, "checkout.session.completed")
	if o == nil {
		t.Fatal("no order")
	}
	o.Check()
	o.Derive()
	if o.State != orders.Paid || o.Reference != "blog-order_42" || o.Details.AmountDiscount != 200 || o.Ref != "ord_0123456789abcdef" {
		t.Fatalf("order: state %s (%s), reference %q, discount %d, lines %+v", o.State, o.Review, o.Reference, o.Details.AmountDiscount, o.Lines)
	}
	// Without the site's reference, client_reference_id is the kit's own: no
	// second reference is recorded.
	sess.ClientReferenceID = "ord_0123456789abcdef"
	if o = srv.sessionOrder(&sess, ""); o.Reference != "" {
		t.Fatalf("reference %q", o.Reference)
	}
}

// A plain HTML form takes the same options, with the same checks.
func TestCheckoutOptionsFromAForm(t *testing.T) {
	var created []*stripe.CheckoutSessionCreateParams
	srv := newFakeServer(t, promoFake(&created), map[string]string{"CATALOG_JSON": testCatalog})
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	rec := send(t, srv, "POST", "/create-checkout-session", form, "product=plain&reference=r-1&promo=SAVE10&locale=de")
	if rec.Code != 303 || len(created) != 1 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if p := created[0]; stripe.StringValue(p.ClientReferenceID) != "r-1" || stripe.StringValue(p.Locale) != "de" || len(p.Discounts) != 1 {
		t.Errorf("params: %+v", p)
	}
	checkError(t, send(t, srv, "POST", "/create-checkout-session", form, "product=plain&locale=de-XX"), 400, "invalid_locale", "locale")
	if len(created) != 1 {
		t.Error("a refused form created a session")
	}
}

// Stripe refusing the discount itself (the code's restrictions) is the
// shopper's 4xx naming promo, and the stock held for the order is released.
func TestPromoRefusedByStripeReleasesTheHold(t *testing.T) {
	var created []*stripe.CheckoutSessionCreateParams
	f := promoFake(&created)
	f.OnCreateCheckoutSession = func(p *stripe.CheckoutSessionCreateParams) (*stripeapi.CheckoutSession, error) {
		created = append(created, p)
		return nil, &stripeapi.Error{HTTPStatusCode: 400, Type: stripe.ErrorTypeInvalidRequest, Param: "discounts[0][promotion_code]",
			Msg: "This promotion code cannot be redeemed because the order does not meet the minimum amount."}
	}
	st := orders.NewMemStore()
	srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog}).withDeps(func(d *Deps) { d.Store = st })
	checkError(t, send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"},
		`{"items":[{"id":"limited","quantity":3}],"promo":"SAVE10"}`), 422, "promotion_code_not_applicable", "promo")
	if r, err := st.Reserve(context.Background(), "ord_next", []orders.StockLine{{Product: "limited", Quantity: 3, Stock: 3}}, time.Now().Add(time.Hour), time.Now()); r != orders.Reserved || err != nil {
		t.Errorf("stock after the refusal: %v %v", r, err)
	}
	// Without a promo, the same refusal is Stripe's problem, not the shopper's.
	checkError(t, send(t, srv, "POST", "/create-checkout-session", map[string]string{"Content-Type": "application/json"},
		`{"items":[{"id":"plain"}]}`), 502, "stripe_rejected", "")
}
