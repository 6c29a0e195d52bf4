package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v82"
)

func (e *env) newCustomer(email string) *stripe.Customer {
	e.t.Helper()
	c, err := e.sc.V1Customers.Create(context.Background(), &stripe.CustomerCreateParams{Email: stripe.String(email)})
	if err != nil {
		e.t.Fatalf("create customer: %v", err)
	}
	return c
}

func (e *env) payWith(secret string, fields map[string]any) (*http.Response, map[string]any) {
	e.t.Helper()
	body := map[string]any{"client_secret": secret, "email": "jenny@example.com", "card_number": "4242424242424242", "exp": "12 / 34", "cvc": "123"}
	for k, v := range fields {
		body[k] = v
	}
	return e.postJSON("/_sandbox/checkout/pay", body)
}

// The options the payments stream sends, all at once, through stripe-go.
func TestSessionOptionsReflectedAndApplied(t *testing.T) {
	e := newEnv(t)
	cus := e.newCustomer("jenny@example.com")
	p := tshirtParams()
	p.UIMode = stripe.String("hosted")
	p.ReturnURL = nil
	p.SuccessURL = stripe.String("https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}")
	p.CancelURL = stripe.String("https://shop.example/cart")
	p.Customer = stripe.String(cus.ID)
	p.ClientReferenceID = stripe.String("ord_0123456789abcdef")
	p.AddMetadata("kit_order", "ord_0123456789abcdef")
	p.AllowPromotionCodes = stripe.Bool(true)
	p.PaymentIntentData = &stripe.CheckoutSessionCreatePaymentIntentDataParams{
		CaptureMethod: stripe.String("manual"),
		Description:   stripe.String("Order ord_0123456789abcdef"),
	}
	p.PaymentIntentData.AddMetadata("kit_order", "ord_0123456789abcdef")
	p.PaymentIntentData.AddMetadata("kit_cart", "tshirt:2,mug:1")
	p.PaymentMethodOptions = &stripe.CheckoutSessionCreatePaymentMethodOptionsParams{
		Card: &stripe.CheckoutSessionCreatePaymentMethodOptionsCardParams{RequestIncrementalAuthorization: stripe.String("if_available")},
	}
	p.SavedPaymentMethodOptions = &stripe.CheckoutSessionCreateSavedPaymentMethodOptionsParams{
		PaymentMethodSave: stripe.String("enabled"), PaymentMethodRemove: stripe.String("enabled"),
	}
	s := e.create(p)
	if s.Customer == nil || s.Customer.ID != cus.ID || !s.AllowPromotionCodes || s.ClientReferenceID != "ord_0123456789abcdef" ||
		s.Metadata["kit_order"] != "ord_0123456789abcdef" || s.UIMode != "hosted" || !strings.Contains(s.URL, hostedPath+s.ID) {
		t.Errorf("session %+v", s)
	}
	if s.PaymentMethodOptions == nil || s.PaymentMethodOptions.Card == nil ||
		s.PaymentMethodOptions.Card.RequestIncrementalAuthorization != "if_available" {
		t.Errorf("payment_method_options %+v", s.PaymentMethodOptions)
	}
	if o := s.SavedPaymentMethodOptions; o == nil || o.PaymentMethodSave != "enabled" || o.PaymentMethodRemove != "enabled" ||
		len(o.AllowRedisplayFilters) != 1 || o.AllowRedisplayFilters[0] != "always" {
		t.Errorf("saved_payment_method_options %+v", o)
	}
	if s.PaymentIntent != nil {
		t.Errorf("a PaymentIntent before payment")
	}

	// The stand-in learns the customer's email and offers to save the card.
	res, body := e.do(http.MethodGet, hostedPath+s.ID, "", nil, map[string]string{})
	if res.StatusCode != 200 {
		t.Fatalf("hosted page %d", res.StatusCode)
	}
	secret := string(body)[strings.Index(string(body), `data-client-secret="`)+len(`data-client-secret="`):]
	secret = secret[:strings.IndexByte(secret, '"')]
	_, sum := e.getJSON("/_sandbox/checkout?client_secret=" + url.QueryEscape(secret))
	if sum["customer_email"] != "jenny@example.com" || sum["save_payment_method"] != true {
		t.Errorf("summary %v", sum)
	}

	res, out := e.payWith(secret, map[string]any{"save_payment_method": true})
	if res.StatusCode != 200 || out["payment_status"] != "unpaid" || out["return_url"] != "https://shop.example/thanks?session_id="+s.ID {
		t.Fatalf("pay: %d %v", res.StatusCode, out)
	}
	got := e.retrieve(s.ID)
	if got.Status != "complete" || got.PaymentStatus != "unpaid" || got.PaymentIntent == nil {
		t.Fatalf("manual-capture session after paying: %s %s", got.Status, got.PaymentStatus)
	}
	gp := &stripe.PaymentIntentRetrieveParams{}
	gp.AddExpand("latest_charge")
	gp.AddExpand("payment_method")
	pi, err := e.sc.V1PaymentIntents.Retrieve(context.Background(), got.PaymentIntent.ID, gp)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Status != "requires_capture" || pi.CaptureMethod != "manual" || pi.AmountCapturable != 5250 || pi.AmountReceived != 0 ||
		pi.Metadata["kit_order"] != "ord_0123456789abcdef" || pi.Metadata["kit_cart"] != "tshirt:2,mug:1" ||
		pi.Description != "Order ord_0123456789abcdef" || pi.Customer == nil || pi.Customer.ID != cus.ID {
		t.Errorf("payment intent %+v", pi)
	}
	if pi.PaymentMethodOptions == nil || pi.PaymentMethodOptions.Card == nil || pi.PaymentMethodOptions.Card.RequestIncrementalAuthorization != "if_available" {
		t.Errorf("payment_method_options %+v", pi.PaymentMethodOptions)
	}
	if ch := pi.LatestCharge; ch == nil || ch.Captured || ch.PaymentMethodDetails == nil || ch.PaymentMethodDetails.Card == nil ||
		ch.PaymentMethodDetails.Card.IncrementalAuthorization == nil || ch.PaymentMethodDetails.Card.IncrementalAuthorization.Status != "available" ||
		ch.PaymentMethodDetails.Card.Last4 != "4242" {
		t.Errorf("latest_charge %+v", pi.LatestCharge)
	}
	if pm := pi.PaymentMethod; pm == nil || pm.Customer == nil || pm.Customer.ID != cus.ID || pm.AllowRedisplay != "always" || pm.Card.Last4 != "4242" {
		t.Errorf("the saved card %+v", pi.PaymentMethod)
	}
	pm, err := e.sc.V1PaymentMethods.Retrieve(context.Background(), pi.PaymentMethod.ID, nil)
	if err != nil || pm.ID != pi.PaymentMethod.ID || pm.BillingDetails.Email != "jenny@example.com" {
		t.Errorf("GET payment method: %v %+v", err, pm)
	}
	if ts := e.events("").types(); strings.Join(ts, ",") != "customer.created,payment_intent.created,payment_intent.amount_capturable_updated,checkout.session.completed" {
		t.Errorf("events %v", ts)
	}
	// Stripe.js's view of the PaymentIntent, with the publishable key and client secret.
	pk := map[string]string{"Authorization": "Bearer pk_test_sandbox"}
	res, body = e.do(http.MethodGet, "/v1/payment_intents/"+pi.ID+"?client_secret="+url.QueryEscape(pi.ClientSecret), "", nil, pk)
	m := decodeMap(t, body)
	if res.StatusCode != 200 || m["status"] != "requires_capture" || m["metadata"] != nil || m["customer"] != nil ||
		res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("publishable view: %d %v %v", res.StatusCode, m, res.Header)
	}
	for _, q := range []string{"", "?client_secret=" + pi.ID + "_secret_wrong"} {
		if res, body := e.do(http.MethodGet, "/v1/payment_intents/"+pi.ID+q, "", nil, pk); res.StatusCode != 400 {
			t.Errorf("publishable view without the right secret %q: %d %s", q, res.StatusCode, body)
		}
	}
	if res, body := e.do(http.MethodGet, "/v1/checkout/sessions/"+s.ID, "", nil, pk); res.StatusCode != 401 ||
		errorOf(t, decodeMap(t, body))["code"] != "secret_key_required" {
		t.Errorf("publishable key on a secret route: %d %s", res.StatusCode, body)
	}
}

func TestSessionCustomerCreation(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.CustomerEmail = stripe.String("jenny@example.com")
	p.CustomerCreation = stripe.String("always")
	p.PaymentIntentData = &stripe.CheckoutSessionCreatePaymentIntentDataParams{}
	p.PaymentIntentData.AddMetadata("kit_order", "ord_1")
	s := e.create(p)
	if s.CustomerCreation != "always" || s.Customer != nil || s.SavedPaymentMethodOptions != nil || s.PaymentMethodOptions != nil {
		t.Errorf("session %+v", s)
	}
	if res, out := e.pay(s.ClientSecret, "4242424242424242"); res.StatusCode != 200 || out["payment_status"] != "paid" {
		t.Fatalf("pay: %d %v", res.StatusCode, out)
	}
	got := e.retrieve(s.ID, "payment_intent")
	if got.Customer == nil || !strings.HasPrefix(got.Customer.ID, "cus_") || got.PaymentIntent.Customer == nil ||
		got.PaymentIntent.Customer.ID != got.Customer.ID || got.PaymentIntent.Metadata["kit_order"] != "ord_1" ||
		got.PaymentIntent.Status != "succeeded" || got.PaymentIntent.CaptureMethod != "automatic_async" {
		t.Fatalf("session %+v / intent %+v", got, got.PaymentIntent)
	}
	cus, err := e.sc.V1Customers.Retrieve(context.Background(), got.Customer.ID, nil)
	if err != nil || cus.Email != "jenny@example.com" {
		t.Errorf("created customer: %v %+v", err, cus)
	}
	// customer_creation=always with "Save card": the card goes to the new customer.
	p = tshirtParams()
	p.CustomerCreation = stripe.String("always")
	p.SavedPaymentMethodOptions = &stripe.CheckoutSessionCreateSavedPaymentMethodOptionsParams{PaymentMethodSave: stripe.String("enabled")}
	saved := e.create(p)
	if o := saved.SavedPaymentMethodOptions; o == nil || o.PaymentMethodSave != "enabled" {
		t.Errorf("saved_payment_method_options %+v", o)
	}
	e.payWith(saved.ClientSecret, map[string]any{"save_payment_method": true})
	got = e.retrieve(saved.ID, "payment_intent")
	spm, err := e.sc.V1PaymentMethods.Retrieve(context.Background(), got.PaymentIntent.PaymentMethod.ID, nil)
	if err != nil || got.Customer == nil || spm.Customer == nil || spm.Customer.ID != got.Customer.ID || spm.AllowRedisplay != "always" {
		t.Errorf("saved card: %v %+v", err, spm)
	}
	// Without customer_creation no customer is made in payment mode...
	plain := e.create(tshirtParams())
	e.pay(plain.ClientSecret, "4242424242424242")
	if got := e.retrieve(plain.ID); got.Customer != nil {
		t.Errorf("customer without customer_creation: %v", got.Customer)
	}
	// ...unless the card is set up for future use, which attaches it.
	p = tshirtParams()
	p.PaymentIntentData = &stripe.CheckoutSessionCreatePaymentIntentDataParams{SetupFutureUsage: stripe.String("off_session")}
	sfu := e.create(p)
	e.pay(sfu.ClientSecret, "4242424242424242")
	got = e.retrieve(sfu.ID, "payment_intent")
	if got.Customer == nil || got.PaymentIntent.SetupFutureUsage != "off_session" {
		t.Fatalf("setup_future_usage session %+v", got)
	}
	pm, err := e.sc.V1PaymentMethods.Retrieve(context.Background(), got.PaymentIntent.PaymentMethod.ID, nil)
	if err != nil || pm.Customer == nil || pm.Customer.ID != got.Customer.ID {
		t.Errorf("card not attached: %v %+v", err, pm)
	}
}

func TestSessionOptionErrors(t *testing.T) {
	e := newEnv(t)
	cus := e.newCustomer("jenny@example.com")
	cases := []struct {
		name   string
		set    map[string]string
		status int
		code   string
		param  string
	}{
		{"unknown payment_intent_data key", map[string]string{"payment_intent_data[colour]": "red"}, 400, "parameter_unknown", "payment_intent_data[colour]"},
		{"bad capture_method", map[string]string{"payment_intent_data[capture_method]": "later"}, 400, "", "payment_intent_data[capture_method]"},
		{"bad setup_future_usage", map[string]string{"payment_intent_data[setup_future_usage]": "always"}, 400, "", "payment_intent_data[setup_future_usage]"},
		{"bad receipt_email", map[string]string{"payment_intent_data[receipt_email]": "nope"}, 400, "email_invalid", "payment_intent_data[receipt_email]"},
		{"long metadata value", map[string]string{"payment_intent_data[metadata][k]": strings.Repeat("v", 501)}, 400, "", "payment_intent_data[metadata][k]"},
		{"connect", map[string]string{"payment_intent_data[application_fee_amount]": "100"}, 400, "", "payment_intent_data[application_fee_amount]"},
		{"unknown customer", map[string]string{"customer": "cus_nope"}, 400, "resource_missing", "customer"},
		{"customer and customer_email", map[string]string{"customer": cus.ID, "customer_email": "a@example.com"}, 400, "parameters_exclusive", "customer"},
		{"customer and customer_creation", map[string]string{"customer": cus.ID, "customer_creation": "always"}, 400, "parameters_exclusive", "customer"},
		{"bad customer_creation", map[string]string{"customer_creation": "sometimes"}, 400, "", "customer_creation"},
		{"bad boolean", map[string]string{"allow_promotion_codes": "maybe"}, 400, "", "allow_promotion_codes"},
		{"promotion codes and discounts", map[string]string{"allow_promotion_codes": "true", "discounts[0][coupon]": "X"}, 400, "parameters_exclusive", "allow_promotion_codes"},
		{"saved options without customer", map[string]string{"saved_payment_method_options[payment_method_save]": "enabled"}, 400, "", "saved_payment_method_options"},
		{"bad payment_method_save", map[string]string{"customer": cus.ID, "saved_payment_method_options[payment_method_save]": "yes"}, 400, "", "saved_payment_method_options[payment_method_save]"},
		{"unknown saved option", map[string]string{"customer": cus.ID, "saved_payment_method_options[colour]": "red"}, 400, "parameter_unknown", "saved_payment_method_options[colour]"},
		{"incremental without manual capture", map[string]string{"payment_method_options[card][request_incremental_authorization]": "if_available"}, 400, "", "payment_method_options[card][request_incremental_authorization]"},
		{"bad incremental value", map[string]string{"payment_intent_data[capture_method]": "manual", "payment_method_options[card][request_incremental_authorization]": "yes"}, 400, "", "payment_method_options[card][request_incremental_authorization]"},
		{"unknown card option", map[string]string{"payment_method_options[card][colour]": "red"}, 400, "parameter_unknown", "payment_method_options[card][colour]"},
		{"unknown payment method type", map[string]string{"payment_method_options[cheque][x]": "y"}, 400, "parameter_unknown", "payment_method_options[cheque]"},
		{"ok: saving with customer_creation=always", map[string]string{"customer_creation": "always", "saved_payment_method_options[payment_method_save]": "enabled",
			"saved_payment_method_options[payment_method_remove]": "disabled", "saved_payment_method_options[allow_redisplay_filters][0]": "limited",
			"payment_method_options[card][request_three_d_secure]": "any"}, 200, "", ""},
		{"ok: everything", map[string]string{"customer": cus.ID, "allow_promotion_codes": "false", "payment_intent_data[capture_method]": "manual",
			"payment_intent_data[setup_future_usage]": "on_session", "payment_method_options[card][request_incremental_authorization]": "never",
			"payment_method_options[card][request_three_d_secure]": "any", "payment_method_options[klarna][setup_future_usage]": "none",
			"saved_payment_method_options[payment_method_remove]": "disabled", "saved_payment_method_options[allow_redisplay_filters][0]": "limited"}, 200, "", ""},
	}
	for _, c := range cases {
		form := baseForm()
		for k, v := range c.set {
			form.Set(k, v)
		}
		res, body := e.postForm("/v1/checkout/sessions", form, nil)
		if res.StatusCode != c.status {
			t.Errorf("%s: %d %s", c.name, res.StatusCode, body)
			continue
		}
		if c.status == 200 {
			var s stripe.CheckoutSession
			json.Unmarshal(body, &s)
			if s.AllowPromotionCodes || s.PaymentMethodOptions.Card.RequestThreeDSecure != "any" ||
				s.SavedPaymentMethodOptions.AllowRedisplayFilters[0] != "limited" || s.SavedPaymentMethodOptions.PaymentMethodRemove != "disabled" {
				t.Errorf("%s: %s", c.name, body)
			}
			continue
		}
		er := errorOf(t, decodeMap(t, body))
		if code, _ := er["code"].(string); code != c.code {
			t.Errorf("%s: code %q, want %q (%v)", c.name, code, c.code, er["message"])
		}
		if p, _ := er["param"].(string); p != c.param {
			t.Errorf("%s: param %q, want %q (%v)", c.name, p, c.param, er["message"])
		}
	}
}

func TestCustomersPortalAndEventsAPI(t *testing.T) {
	e := newEnv(t)
	cp := &stripe.CustomerCreateParams{Email: stripe.String("jenny@example.com"), Name: stripe.String("Jenny Rosen")}
	cp.AddMetadata("kit", "1")
	cus, err := e.sc.V1Customers.Create(context.Background(), cp)
	if err != nil || !strings.HasPrefix(cus.ID, "cus_") || cus.Email != "jenny@example.com" || cus.Name != "Jenny Rosen" || cus.Metadata["kit"] != "1" {
		t.Fatalf("create customer: %v %+v", err, cus)
	}
	if got, err := e.sc.V1Customers.Retrieve(context.Background(), cus.ID, nil); err != nil || got.Email != cus.Email {
		t.Errorf("retrieve: %v %+v", err, got)
	}
	if _, err := e.sc.V1Customers.Retrieve(context.Background(), "cus_nope", nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("unknown customer")
	}
	if _, err := e.sc.V1Customers.Create(context.Background(), &stripe.CustomerCreateParams{Email: stripe.String("nope")}); stripeErr(t, err).Param != "email" {
		t.Errorf("bad email accepted")
	}

	ps, err := e.sc.V1BillingPortalSessions.Create(context.Background(), &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(cus.ID), ReturnURL: stripe.String("https://shop.example/account"),
	})
	if err != nil || !strings.HasPrefix(ps.ID, "bps_") || ps.Customer != cus.ID || ps.ReturnURL != "https://shop.example/account" || ps.Object != "billing_portal.session" {
		t.Fatalf("portal session: %v %+v", err, ps)
	}
	u, _ := url.Parse(ps.URL)
	res, err := http.Get(e.srv.URL + u.Path)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), cus.ID) || !strings.Contains(string(page), `href="https://shop.example/account"`) {
		t.Errorf("portal page %d:\n%s", res.StatusCode, page)
	}
	for _, bad := range []*stripe.BillingPortalSessionCreateParams{{}, {Customer: stripe.String("cus_nope")}} {
		if _, err := e.sc.V1BillingPortalSessions.Create(context.Background(), bad); stripeErr(t, err).Param != "customer" {
			t.Errorf("portal without a valid customer: %v", err)
		}
	}

	// Events through the API, newest first.
	s := e.create(tshirtParams())
	e.sc.V1CheckoutSessions.Expire(context.Background(), s.ID, nil)
	var types []string
	for ev, err := range e.sc.V1Events.List(context.Background(), &stripe.EventListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, string(ev.Type))
	}
	if strings.Join(types, ",") != "checkout.session.expired,customer.created" {
		t.Errorf("events %v", types)
	}
	first := e.events("").Events[0]
	ev, err := e.sc.V1Events.Retrieve(context.Background(), first.ID, nil)
	if err != nil || ev.ID != first.ID || ev.Type != "customer.created" {
		t.Errorf("retrieve event: %v %+v", err, ev)
	}
	lp := &stripe.EventListParams{Type: stripe.String("checkout.session.expired")}
	n := 0
	for _, err := range e.sc.V1Events.List(context.Background(), lp) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("type filter: %d", n)
	}
}

func TestAPICORSOnlyForPublishableKeys(t *testing.T) {
	e := newEnv(t)
	res, _ := e.do(http.MethodOptions, "/v1/confirmation_tokens", "", nil, map[string]string{
		"Origin": "http://127.0.0.1:8787", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type",
	})
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := e.do(http.MethodGet, "/v1/payment_intents/pi_x", "", nil, nil); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("secret-key answers must not be CORS-enabled")
	}
	if res, _ := e.do(http.MethodGet, "/v1/payment_intents/pi_x", "", nil, map[string]string{"Authorization": "Bearer pk_live_abcdefghijklmnop"}); res.StatusCode != 401 {
		t.Errorf("live publishable key: %d", res.StatusCode)
	}
}
