package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v82"
)

var (
	piSecretRE = regexp.MustCompile(`^(pi_[A-Za-z0-9]{24})_secret_[A-Za-z0-9]{24}$`)
	pkHeader   = map[string]string{"Authorization": "Bearer pk_test_sandbox"}
)

func (e *env) createPI(p *stripe.PaymentIntentCreateParams) *stripe.PaymentIntent {
	e.t.Helper()
	pi, err := e.sc.V1PaymentIntents.Create(context.Background(), p)
	if err != nil {
		e.t.Fatalf("create payment intent: %v", err)
	}
	return pi
}

func (e *env) confirmPI(id string, p *stripe.PaymentIntentConfirmParams) (*stripe.PaymentIntent, error) {
	return e.sc.V1PaymentIntents.Confirm(context.Background(), id, p)
}

// cardToken makes a ConfirmationToken the way the stand-in does: a publishable
// key and the card's details.
func (e *env) cardToken(number string) (*http.Response, map[string]any) {
	e.t.Helper()
	form := url.Values{
		"payment_method_data[type]":                   {"card"},
		"payment_method_data[card][number]":           {number},
		"payment_method_data[card][exp_month]":        {"12"},
		"payment_method_data[card][exp_year]":         {"2034"},
		"payment_method_data[card][cvc]":              {"123"},
		"payment_method_data[billing_details][email]": {"jenny@example.com"},
		"payment_method_data[billing_details][name]":  {"Jenny Rosen"},
		"return_url":                                   {"http://127.0.0.1:8787/pay/return"},
		"client_context[mode]":                         {"payment"},
		"client_context[currency]":                     {"usd"},
		"client_context[capture_method]":               {"manual"},
		"client_context[payment_method_creation]":      {"manual"},
		"payment_method_data[allow_redisplay]":         {"unspecified"},
		"payment_method_data[billing_details][phone]":  {"+15555550100"},
		"payment_method_data[billing_details][tax_id]": {""},
	}
	res, body := e.postForm("/v1/confirmation_tokens", form, pkHeader)
	return res, decodeMap(e.t, body)
}

func (e *env) tokenID(number string) string {
	e.t.Helper()
	res, m := e.cardToken(number)
	if res.StatusCode != 200 {
		e.t.Fatalf("confirmation token for %s: %d %v", number, res.StatusCode, m)
	}
	return m["id"].(string)
}

func usd(amount int64) *stripe.PaymentIntentCreateParams {
	return &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(amount), Currency: stripe.String("usd")}
}

func TestIntentLifecycle(t *testing.T) {
	e := newEnv(t)
	p := usd(2000)
	p.AddMetadata("kit_order", "ord_1")
	p.AutomaticPaymentMethods = &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)}
	p.Description = stripe.String("Order ord_1")
	pi := e.createPI(p)
	if m := piSecretRE.FindStringSubmatch(pi.ClientSecret); m == nil || m[1] != pi.ID {
		t.Errorf("client_secret %q", pi.ClientSecret)
	}
	if pi.Status != "requires_payment_method" || pi.Amount != 2000 || pi.Currency != "usd" || pi.Metadata["kit_order"] != "ord_1" ||
		pi.CaptureMethod != "automatic_async" || pi.ConfirmationMethod != "automatic" || pi.AutomaticPaymentMethods == nil ||
		!pi.AutomaticPaymentMethods.Enabled || pi.Description != "Order ord_1" || pi.Livemode || pi.Object != "payment_intent" {
		t.Errorf("created %+v", pi)
	}

	// Confirming without a payment method is refused; with one it succeeds.
	_, err := e.confirmPI(pi.ID, nil)
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Code != "payment_intent_unexpected_state" || se.PaymentIntent == nil {
		t.Errorf("confirm without a payment method: %+v", se)
	}
	cp := &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa"), ReturnURL: stripe.String("https://shop.example/r")}
	cp.AddExpand("latest_charge")
	done, err := e.confirmPI(pi.ID, cp)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != "succeeded" || done.AmountReceived != 2000 || done.AmountCapturable != 0 || done.PaymentMethod == nil ||
		!strings.HasPrefix(done.PaymentMethod.ID, "pm_") || done.PaymentMethod.ID == "pm_card_visa" || done.LatestCharge == nil ||
		!done.LatestCharge.Captured || done.LatestCharge.Amount != 2000 || done.LatestCharge.PaymentIntent.ID != pi.ID {
		t.Errorf("confirmed %+v", done)
	}
	_, err = e.confirmPI(pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa")})
	if se := stripeErr(t, err); se.Code != "payment_intent_unexpected_state" || !strings.Contains(se.Msg, "succeeded") {
		t.Errorf("confirm twice: %+v", se)
	}
	_, err = e.sc.V1PaymentIntents.Cancel(context.Background(), pi.ID, nil)
	if se := stripeErr(t, err); se.Code != "payment_intent_unexpected_state" {
		t.Errorf("cancel succeeded: %+v", se)
	}
	got, err := e.sc.V1PaymentIntents.Retrieve(context.Background(), pi.ID, nil)
	if err != nil || got.Status != "succeeded" {
		t.Errorf("retrieve: %v %+v", err, got)
	}
	if ts := e.events("?object_id=" + pi.ID).types(); strings.Join(ts, ",") != "payment_intent.created,payment_intent.succeeded" {
		t.Errorf("events %v", ts)
	}
	if _, err := e.sc.V1PaymentIntents.Retrieve(context.Background(), "pi_nope", nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("unknown intent")
	}

	// The list, newest first.
	second := e.createPI(usd(3000))
	var ids []string
	for pi, err := range e.sc.V1PaymentIntents.List(context.Background(), &stripe.PaymentIntentListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, pi.ID)
	}
	if len(ids) != 2 || ids[0] != second.ID || ids[1] != pi.ID {
		t.Errorf("list %v", ids)
	}
}

func TestConfirmationTokens(t *testing.T) {
	e := newEnv(t)
	res, tok := e.cardToken("4242 4242 4242 4242")
	if res.StatusCode != 200 || !strings.HasPrefix(tok["id"].(string), "ctoken_") || tok["object"] != "confirmation_token" ||
		res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("token: %d %v", res.StatusCode, tok)
	}
	id := tok["id"].(string)
	ct, err := e.sc.V1ConfirmationTokens.Retrieve(context.Background(), id, nil)
	if err != nil || ct.PaymentMethodPreview == nil || ct.PaymentMethodPreview.Card == nil || ct.PaymentMethodPreview.Card.Last4 != "4242" ||
		ct.PaymentMethodPreview.Card.Brand != "visa" || ct.PaymentMethodPreview.BillingDetails.Email != "jenny@example.com" ||
		ct.ReturnURL != "http://127.0.0.1:8787/pay/return" || ct.ExpiresAt-ct.Created != 12*3600 {
		t.Fatalf("retrieve token: %v %+v", err, ct)
	}
	if strings.Contains(string(mustJSON(t, tok)), "4242424242424242") {
		t.Errorf("the full card number is in the token")
	}

	// Create-and-confirm in one call, as the payments flow does.
	p := usd(1099)
	p.Confirm = stripe.Bool(true)
	p.ConfirmationToken = stripe.String(id)
	p.CaptureMethod = stripe.String("manual")
	pi := e.createPI(p)
	if pi.Status != "requires_capture" || pi.AmountCapturable != 1099 || pi.PaymentMethod == nil || pi.PaymentMethod.ID == "" {
		t.Fatalf("confirmed with a token: %+v", pi)
	}
	ct, _ = e.sc.V1ConfirmationTokens.Retrieve(context.Background(), id, nil)
	if ct.PaymentIntent != pi.ID {
		t.Errorf("token's payment_intent %q", ct.PaymentIntent)
	}
	// A token confirms one PaymentIntent.
	_, err = e.sc.V1PaymentIntents.Create(context.Background(), p)
	if se := stripeErr(t, err); se.Param != "confirmation_token" {
		t.Errorf("reused token: %+v", se)
	}
	// Without confirm=true a token is refused.
	p2 := usd(1099)
	p2.ConfirmationToken = stripe.String(e.tokenID("4242424242424242"))
	if _, err := e.sc.V1PaymentIntents.Create(context.Background(), p2); stripeErr(t, err).Param != "confirmation_token" {
		t.Errorf("token without confirm accepted")
	}

	// The server-side test helper, with a test PaymentMethod.
	ht, err := e.sc.V1TestHelpersConfirmationTokens.Create(context.Background(), &stripe.TestHelpersConfirmationTokenCreateParams{
		PaymentMethod: stripe.String("pm_card_mastercard"),
	})
	if err != nil || ht.PaymentMethodPreview == nil || ht.PaymentMethodPreview.Card.Brand != "mastercard" {
		t.Fatalf("test helper token: %v %+v", err, ht)
	}
	pi2 := e.createPI(usd(500))
	done, err := e.confirmPI(pi2.ID, &stripe.PaymentIntentConfirmParams{ConfirmationToken: stripe.String(ht.ID)})
	if err != nil || done.Status != "succeeded" {
		t.Errorf("confirm with a helper token: %v %+v", err, done)
	}

	// Keys: publishable for /v1/confirmation_tokens, secret for the helper.
	form := url.Values{"payment_method": {"pm_card_visa"}}
	if res, body := e.postForm("/v1/confirmation_tokens", form, nil); res.StatusCode != 400 {
		t.Errorf("secret key on /v1/confirmation_tokens: %d %s", res.StatusCode, body)
	}
	if res, _ := e.postForm("/v1/test_helpers/confirmation_tokens", form, pkHeader); res.StatusCode != 401 {
		t.Errorf("publishable key on the test helper: %d", res.StatusCode)
	}
	raw := url.Values{"payment_method_data[type]": {"card"}, "payment_method_data[card][number]": {"4242424242424242"},
		"payment_method_data[card][exp_month]": {"12"}, "payment_method_data[card][exp_year]": {"2034"}}
	if res, body := e.postForm("/v1/test_helpers/confirmation_tokens", raw, nil); res.StatusCode != 400 {
		t.Errorf("raw card number from a server: %d %s", res.StatusCode, body)
	}

	// Card errors, as Stripe.js sees them.
	for _, c := range []struct{ number, code string }{{"4242424242424241", "incorrect_number"}, {"", "parameter_missing"}} {
		res, m := e.cardToken(c.number)
		if er := errorOf(t, m); res.StatusCode != 402 || er["type"] != "card_error" || er["code"] != c.code {
			t.Errorf("card %q: %d %v", c.number, res.StatusCode, er)
		}
	}
	past := url.Values{"payment_method_data[type]": {"card"}, "payment_method_data[card][number]": {"4242424242424242"},
		"payment_method_data[card][exp_month]": {"1"}, "payment_method_data[card][exp_year]": {"2020"}, "payment_method_data[card][cvc]": {"123"}}
	if res, body := e.postForm("/v1/confirmation_tokens", past, pkHeader); res.StatusCode != 402 || !strings.Contains(string(body), "exp_year") {
		t.Errorf("expired card: %d %s", res.StatusCode, body)
	}
	if res, _ := e.getJSON("/v1/confirmation_tokens/ctoken_nope"); res.StatusCode != 401 {
		t.Errorf("token without a key: %d", res.StatusCode)
	}
	if _, err := e.sc.V1ConfirmationTokens.Retrieve(context.Background(), "ctoken_nope", nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("unknown token")
	}
}

// heldPI authorizes 20.00 with pm, manual capture and incremental
// authorization asked, its latest charge expanded.
func (e *env) heldPI(pm string) *stripe.PaymentIntent {
	e.t.Helper()
	p := usd(2000)
	p.CaptureMethod = stripe.String("manual")
	p.PaymentMethodOptions = &stripe.PaymentIntentCreatePaymentMethodOptionsParams{
		Card: &stripe.PaymentIntentCreatePaymentMethodOptionsCardParams{RequestIncrementalAuthorization: stripe.String("if_available")},
	}
	p.Confirm = stripe.Bool(true)
	p.PaymentMethod = stripe.String(pm)
	p.AddExpand("latest_charge")
	return e.createPI(p)
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestManualCaptureAndIncrementalAuthorization(t *testing.T) {
	e := newEnv(t)
	pi := e.heldPI("pm_card_visa")
	if pi.Status != "requires_capture" || pi.AmountCapturable != 2000 || pi.AmountReceived != 0 ||
		pi.PaymentMethodOptions.Card.RequestIncrementalAuthorization != "if_available" ||
		pi.LatestCharge.PaymentMethodDetails.Card.IncrementalAuthorization.Status != "available" || pi.LatestCharge.Captured {
		t.Fatalf("authorized %+v", pi)
	}
	inc := func(amount int64) (*stripe.PaymentIntent, error) {
		return e.sc.V1PaymentIntents.IncrementAuthorization(context.Background(), pi.ID,
			&stripe.PaymentIntentIncrementAuthorizationParams{Amount: stripe.Int64(amount)})
	}
	got, err := inc(3000)
	if err != nil || got.Amount != 3000 || got.AmountCapturable != 3000 || got.Status != "requires_capture" {
		t.Fatalf("increment: %v %+v", err, got)
	}
	if _, err := inc(2500); stripeErr(t, err).Param != "amount" {
		t.Errorf("an increment below the current amount is refused")
	}
	_, err = inc(incrementalCeiling + 1)
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 402 || se.Code != "card_declined" || se.PaymentIntent == nil || se.PaymentIntent.AmountCapturable != 3000 {
		t.Errorf("increment above the ceiling: %+v", se)
	}
	if got, _ := e.sc.V1PaymentIntents.Retrieve(context.Background(), pi.ID, nil); got.Amount != 3000 || got.AmountCapturable != 3000 || got.Status != "requires_capture" {
		t.Errorf("a declined increment changed the intent: %+v", got)
	}
	if n := len(e.events("?type=payment_intent.amount_capturable_updated&object_id=" + pi.ID).Events); n != 2 {
		t.Errorf("%d amount_capturable_updated events, want 2 (authorization, increment)", n)
	}

	// Capture: at most amount_capturable.
	_, err = e.sc.V1PaymentIntents.Capture(context.Background(), pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(4000)})
	if se := stripeErr(t, err); se.Code != "amount_too_large" {
		t.Errorf("over-capture: %+v", se)
	}
	cp := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(2500)}
	cp.AddMetadata("captured_by", "admin")
	got, err = e.sc.V1PaymentIntents.Capture(context.Background(), pi.ID, cp)
	if err != nil || got.Status != "succeeded" || got.AmountReceived != 2500 || got.AmountCapturable != 0 || got.Metadata["captured_by"] != "admin" {
		t.Fatalf("capture: %v %+v", err, got)
	}
	if _, err := inc(5000); stripeErr(t, err).Code != "payment_intent_unexpected_state" {
		t.Errorf("increment after capture")
	}
	if _, err := e.sc.V1PaymentIntents.Capture(context.Background(), pi.ID, nil); stripeErr(t, err).Code != "payment_intent_unexpected_state" {
		t.Errorf("capture twice")
	}

	// At most 10 attempts, declines included.
	pi = e.heldPI("pm_card_visa")
	for i := 0; i < maxIncrementAttempts; i++ {
		amount := int64(2000 + 100*(i+1))
		if i%3 == 2 {
			amount = incrementalCeiling + 1
		}
		_, err := inc(amount)
		if (err == nil) != (i%3 != 2) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if _, err := inc(99999); err == nil || !strings.Contains(stripeErr(t, err).Msg, "maximum") {
		t.Errorf("11th attempt: %v", err)
	}

	// Without if_available, or without manual capture, no increments.
	plain := usd(2000)
	plain.CaptureMethod = stripe.String("manual")
	plain.Confirm = stripe.Bool(true)
	plain.PaymentMethod = stripe.String("pm_card_visa")
	pi = e.createPI(plain)
	if _, err := inc(3000); err == nil || stripeErr(t, err).HTTPStatusCode != 400 {
		t.Errorf("increment without if_available: %v", err)
	}
	bad := usd(2000)
	bad.PaymentMethodOptions = &stripe.PaymentIntentCreatePaymentMethodOptionsParams{
		Card: &stripe.PaymentIntentCreatePaymentMethodOptionsCardParams{RequestIncrementalAuthorization: stripe.String("if_available")},
	}
	if _, err := e.sc.V1PaymentIntents.Create(context.Background(), bad); stripeErr(t, err).Param != "payment_method_options[card][request_incremental_authorization]" {
		t.Errorf("if_available with automatic capture accepted")
	}
}

func TestCaptureCompletesManualCheckoutSession(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.PaymentIntentData = &stripe.CheckoutSessionCreatePaymentIntentDataParams{CaptureMethod: stripe.String("manual")}
	s := e.create(p)
	e.pay(s.ClientSecret, "4242424242424242")
	got := e.retrieve(s.ID)
	if got.PaymentStatus != "unpaid" {
		t.Fatalf("before capture: %s", got.PaymentStatus)
	}
	if _, err := e.sc.V1PaymentIntents.Capture(context.Background(), got.PaymentIntent.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.retrieve(s.ID); got.PaymentStatus != "paid" || got.Status != "complete" {
		t.Errorf("after capture: %s %s", got.Status, got.PaymentStatus)
	}
	// Releasing an authorization: cancel is allowed on a completed session's intent.
	s2 := e.create(p)
	e.pay(s2.ClientSecret, "4242424242424242")
	pi := e.retrieve(s2.ID).PaymentIntent
	c, err := e.sc.V1PaymentIntents.Cancel(context.Background(), pi.ID, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("requested_by_customer")})
	if err != nil || c.Status != "canceled" || c.CancellationReason != "requested_by_customer" || c.AmountCapturable != 0 {
		t.Errorf("cancel a held payment: %v %+v", err, c)
	}
	// The intent of an open session (after a decline) is Checkout's to cancel.
	s3 := e.create(tshirtParams())
	e.pay(s3.ClientSecret, "4000000000000002")
	open := e.retrieve(s3.ID).PaymentIntent
	if _, err := e.sc.V1PaymentIntents.Cancel(context.Background(), open.ID, nil); stripeErr(t, err).HTTPStatusCode != 400 {
		t.Errorf("cancel the intent of an open session")
	}
	if _, err := e.confirmPI(open.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa")}); stripeErr(t, err).HTTPStatusCode != 400 {
		t.Errorf("confirm a Checkout intent through the API")
	}
}

func TestThreeDSecure(t *testing.T) {
	e := newEnv(t)
	authenticate := func(pi *stripe.PaymentIntent, secret, outcome string) (*http.Response, map[string]any) {
		return e.postJSON("/_sandbox/payment_intents/"+pi.ID+"/authenticate", map[string]string{"client_secret": secret, "outcome": outcome})
	}
	p := usd(1500)
	p.Confirm = stripe.Bool(true)
	p.ConfirmationToken = stripe.String(e.tokenID("4000002500003155"))
	pi := e.createPI(p)
	if pi.Status != "requires_action" || pi.NextAction == nil || pi.NextAction.Type != "use_stripe_sdk" {
		t.Fatalf("3DS card: %+v", pi)
	}
	if res, _ := authenticate(pi, "wrong", "complete"); res.StatusCode != 404 {
		t.Errorf("wrong client secret: %d", res.StatusCode)
	}
	if res, _ := authenticate(pi, pi.ClientSecret, "later"); res.StatusCode != 400 {
		t.Errorf("bad outcome: %d", res.StatusCode)
	}
	res, out := authenticate(pi, pi.ClientSecret, "complete")
	if res.StatusCode != 200 || out["status"] != "succeeded" || out["metadata"] != nil || out["client_secret"] != pi.ClientSecret {
		t.Fatalf("authenticate: %d %v", res.StatusCode, out)
	}
	if res, _ := authenticate(pi, pi.ClientSecret, "complete"); res.StatusCode != 400 {
		t.Errorf("authenticate twice: %d", res.StatusCode)
	}
	if ts := e.events("?object_id=" + pi.ID).types(); strings.Join(ts, ",") != "payment_intent.created,payment_intent.requires_action,payment_intent.succeeded" {
		t.Errorf("events %v", ts)
	}
	ch := &stripe.PaymentIntentRetrieveParams{}
	ch.AddExpand("latest_charge")
	if got, _ := e.sc.V1PaymentIntents.Retrieve(context.Background(), pi.ID, ch); got.LatestCharge.PaymentMethodDetails.Card.ThreeDSecure == nil {
		t.Errorf("charge without three_d_secure details")
	}

	// A failed challenge.
	p.ConfirmationToken = stripe.String(e.tokenID("4000002760003184"))
	pi = e.createPI(p)
	res, out = authenticate(pi, pi.ClientSecret, "fail")
	lpe, _ := out["last_payment_error"].(map[string]any)
	if res.StatusCode != 200 || out["status"] != "requires_payment_method" || lpe["code"] != "payment_intent_authentication_failure" {
		t.Errorf("failed challenge: %d %v", res.StatusCode, out)
	}
	// Authenticates, then declines.
	p.ConfirmationToken = stripe.String(e.tokenID("4000008260003178"))
	pi = e.createPI(p)
	_, out = authenticate(pi, pi.ClientSecret, "complete")
	lpe, _ = out["last_payment_error"].(map[string]any)
	if out["status"] != "requires_payment_method" || lpe["decline_code"] != "insufficient_funds" {
		t.Errorf("decline after authentication: %v", out)
	}
	// confirmation_method=manual: the server confirms again after the challenge.
	mp := usd(1500)
	mp.ConfirmationMethod = stripe.String("manual")
	mp.Confirm = stripe.Bool(true)
	mp.PaymentMethod = stripe.String("pm_card_authenticationRequired")
	pi = e.createPI(mp)
	_, out = authenticate(pi, pi.ClientSecret, "complete")
	if out["status"] != "requires_confirmation" {
		t.Fatalf("manual confirmation after 3DS: %v", out)
	}
	if done, err := e.confirmPI(pi.ID, nil); err != nil || done.Status != "succeeded" {
		t.Errorf("re-confirm: %v %+v", err, done)
	}
	// Off-session payments cannot be authenticated.
	op := usd(1500)
	op.Confirm = stripe.Bool(true)
	op.OffSession = stripe.Bool(true)
	op.PaymentMethod = stripe.String("pm_card_authenticationRequired")
	_, err := e.sc.V1PaymentIntents.Create(context.Background(), op)
	if se := stripeErr(t, err); se.HTTPStatusCode != 402 || se.Code != "authentication_required" || se.PaymentIntent.Status != "requires_payment_method" {
		t.Errorf("off-session 3DS card: %+v", se)
	}
	// request_three_d_secure=challenge asks for any card.
	cp := usd(1500)
	cp.Confirm = stripe.Bool(true)
	cp.PaymentMethod = stripe.String("pm_card_visa")
	cp.PaymentMethodOptions = &stripe.PaymentIntentCreatePaymentMethodOptionsParams{
		Card: &stripe.PaymentIntentCreatePaymentMethodOptionsCardParams{RequestThreeDSecure: stripe.String("challenge")},
	}
	if pi := e.createPI(cp); pi.Status != "requires_action" {
		t.Errorf("challenge requested: %s", pi.Status)
	}
}

func TestDeclinesAndIdempotentReplay(t *testing.T) {
	e := newEnv(t)
	pi := e.createPI(usd(2000))
	_, err := e.confirmPI(pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_chargeDeclinedInsufficientFunds")})
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 402 || se.Type != "card_error" || se.Code != "card_declined" || se.DeclineCode != "insufficient_funds" ||
		se.PaymentIntent == nil || se.PaymentIntent.Status != "requires_payment_method" || se.PaymentIntent.LastPaymentError == nil ||
		se.ChargeID == "" || se.PaymentMethod == nil {
		t.Errorf("decline %+v", se)
	}
	if ts := e.events("?object_id=" + pi.ID).types(); strings.Join(ts, ",") != "payment_intent.created,payment_intent.payment_failed" {
		t.Errorf("events %v", ts)
	}
	done, err := e.confirmPI(pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa")})
	if err != nil || done.Status != "succeeded" || done.LastPaymentError != nil {
		t.Errorf("retry: %v %+v", err, done)
	}

	// A decline executed, so its idempotency key replays it.
	pi2 := e.createPI(usd(2000))
	hdr := map[string]string{"Authorization": "Bearer " + testKey, "Idempotency-Key": "confirm-1"}
	form := url.Values{"payment_method": {"pm_card_chargeDeclined"}}
	r1, b1 := e.postForm("/v1/payment_intents/"+pi2.ID+"/confirm", form, hdr)
	r2, b2 := e.postForm("/v1/payment_intents/"+pi2.ID+"/confirm", form, hdr)
	if r1.StatusCode != 402 || r2.StatusCode != 402 || !bytes.Equal(b1, b2) || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed decline: %d %d %q", r1.StatusCode, r2.StatusCode, r2.Header.Get("Idempotent-Replayed"))
	}
	if n := len(e.events("?type=payment_intent.payment_failed&object_id=" + pi2.ID).Events); n != 1 {
		t.Errorf("a replay emitted events: %d", n)
	}
	form.Set("payment_method", "pm_card_visa")
	if r, b := e.postForm("/v1/payment_intents/"+pi2.ID+"/confirm", form, hdr); r.StatusCode != 400 || !strings.Contains(string(b), "idempotency_error") {
		t.Errorf("same key, other params: %d %s", r.StatusCode, b)
	}
	// Same key, same create: one PaymentIntent.
	ck := usd(700)
	ck.SetIdempotencyKey("create-1")
	a := e.createPI(ck)
	ck2 := usd(700)
	ck2.SetIdempotencyKey("create-1")
	if b := e.createPI(ck2); a.ID != b.ID {
		t.Errorf("idempotent create gave %s and %s", a.ID, b.ID)
	}
}

func TestIntentCancelAndUpdate(t *testing.T) {
	e := newEnv(t)
	p := usd(2000)
	p.AddMetadata("a", "1")
	pi := e.createPI(p)
	up := &stripe.PaymentIntentUpdateParams{Amount: stripe.Int64(2500)}
	up.AddMetadata("b", "2")
	got, err := e.sc.V1PaymentIntents.Update(context.Background(), pi.ID, up)
	if err != nil || got.Amount != 2500 || got.Metadata["a"] != "1" || got.Metadata["b"] != "2" {
		t.Fatalf("update: %v %+v", err, got)
	}
	got, err = e.sc.V1PaymentIntents.Update(context.Background(), pi.ID, &stripe.PaymentIntentUpdateParams{PaymentMethod: stripe.String("pm_card_visa")})
	if err != nil || got.Status != "requires_confirmation" {
		t.Fatalf("attach a payment method: %v %+v", err, got)
	}
	if got, err = e.confirmPI(pi.ID, nil); err != nil || got.Status != "succeeded" || got.Amount != 2500 {
		t.Fatalf("confirm: %v %+v", err, got)
	}
	if _, err := e.sc.V1PaymentIntents.Update(context.Background(), pi.ID, &stripe.PaymentIntentUpdateParams{Amount: stripe.Int64(100)}); stripeErr(t, err).Code != "payment_intent_unexpected_state" {
		t.Errorf("amount updated after success")
	}
	mp := &stripe.PaymentIntentUpdateParams{}
	mp.AddMetadata("shipped", "yes")
	if got, err := e.sc.V1PaymentIntents.Update(context.Background(), pi.ID, mp); err != nil || got.Metadata["shipped"] != "yes" {
		t.Errorf("metadata after success: %v", err)
	}

	c := e.createPI(usd(2000))
	if _, err := e.sc.V1PaymentIntents.Cancel(context.Background(), c.ID, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("bored")}); stripeErr(t, err).Param != "cancellation_reason" {
		t.Errorf("bad reason accepted")
	}
	got, err = e.sc.V1PaymentIntents.Cancel(context.Background(), c.ID, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("abandoned")})
	if err != nil || got.Status != "canceled" || got.CancellationReason != "abandoned" || got.CanceledAt == 0 {
		t.Fatalf("cancel: %v %+v", err, got)
	}
	if _, err := e.sc.V1PaymentIntents.Cancel(context.Background(), c.ID, nil); stripeErr(t, err).Code != "payment_intent_unexpected_state" {
		t.Errorf("cancel twice")
	}
	if _, err := e.confirmPI(c.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa")}); stripeErr(t, err).Code != "payment_intent_unexpected_state" {
		t.Errorf("confirm canceled")
	}
	if ts := e.events("?object_id=" + c.ID).types(); strings.Join(ts, ",") != "payment_intent.created,payment_intent.canceled" {
		t.Errorf("events %v", ts)
	}

	// The endpoints for bank payments refuse card PaymentIntents.
	_, err = e.sc.V1PaymentIntents.VerifyMicrodeposits(context.Background(), c.ID, &stripe.PaymentIntentVerifyMicrodepositsParams{Amounts: []*int64{stripe.Int64(32), stripe.Int64(45)}})
	if se := stripeErr(t, err); se.Code != "payment_intent_unexpected_state" {
		t.Errorf("verify_microdeposits: %+v", se)
	}
	_, err = e.sc.V1PaymentIntents.ApplyCustomerBalance(context.Background(), c.ID, nil)
	if se := stripeErr(t, err); se.Code != "payment_intent_unexpected_state" {
		t.Errorf("apply_customer_balance: %+v", se)
	}
}

func TestIntentValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		form  url.Values
		code  string
		param string
	}{
		{"no amount", url.Values{"currency": {"usd"}}, "parameter_missing", "amount"},
		{"no currency", url.Values{"amount": {"2000"}}, "parameter_missing", "currency"},
		{"too small", url.Values{"amount": {"10"}, "currency": {"usd"}}, "amount_too_small", "amount"},
		{"not a number", url.Values{"amount": {"ten"}, "currency": {"usd"}}, "parameter_invalid_integer", "amount"},
		{"bad currency", url.Values{"amount": {"2000"}, "currency": {"dollars"}}, "", "currency"},
		{"bad capture_method", url.Values{"amount": {"2000"}, "currency": {"usd"}, "capture_method": {"later"}}, "", "capture_method"},
		{"unknown param", url.Values{"amount": {"2000"}, "currency": {"usd"}, "colour": {"red"}}, "parameter_unknown", "colour"},
		{"unknown card option", url.Values{"amount": {"2000"}, "currency": {"usd"}, "payment_method_options[card][colour]": {"red"}}, "parameter_unknown", "payment_method_options[card][colour]"},
		{"connect", url.Values{"amount": {"2000"}, "currency": {"usd"}, "transfer_group": {"g"}}, "", "transfer_group"},
		{"unknown customer", url.Values{"amount": {"2000"}, "currency": {"usd"}, "customer": {"cus_nope"}}, "resource_missing", "customer"},
		{"unknown payment method", url.Values{"amount": {"2000"}, "currency": {"usd"}, "payment_method": {"pm_nope"}}, "resource_missing", "payment_method"},
		{"unknown token", url.Values{"amount": {"2000"}, "currency": {"usd"}, "confirm": {"true"}, "confirmation_token": {"ctoken_nope"}}, "resource_missing", "confirmation_token"},
		{"token and payment method", url.Values{"amount": {"2000"}, "currency": {"usd"}, "confirm": {"true"}, "confirmation_token": {"ctoken_x"}, "payment_method": {"pm_card_visa"}}, "parameters_exclusive", "confirmation_token"},
		{"off_session without confirm", url.Values{"amount": {"2000"}, "currency": {"usd"}, "off_session": {"true"}}, "", "off_session"},
		{"bad off_session", url.Values{"amount": {"2000"}, "currency": {"usd"}, "confirm": {"true"}, "payment_method": {"pm_card_visa"}, "off_session": {"sometimes"}}, "", "off_session"},
		{"bad return_url", url.Values{"amount": {"2000"}, "currency": {"usd"}, "confirm": {"true"}, "return_url": {"nope"}}, "url_invalid", "return_url"},
		{"apm and types", url.Values{"amount": {"2000"}, "currency": {"usd"}, "automatic_payment_methods[enabled]": {"true"}, "payment_method_types[0]": {"card"}}, "parameters_exclusive", "automatic_payment_methods"},
		{"shipping without name", url.Values{"amount": {"2000"}, "currency": {"usd"}, "shipping[address][line1]": {"1 Main St"}}, "parameter_missing", "shipping[name]"},
	}
	for _, c := range cases {
		res, body := e.postForm("/v1/payment_intents", c.form, nil)
		if res.StatusCode != 400 {
			t.Errorf("%s: %d %s", c.name, res.StatusCode, body)
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
	e.sb.mu.Lock()
	n := len(e.sb.intents)
	e.sb.mu.Unlock()
	if n != 0 {
		t.Errorf("%d PaymentIntents made by invalid requests", n)
	}
	// payment_method_types and a shipping address are kept.
	form := url.Values{"amount": {"2000"}, "currency": {"usd"}, "payment_method_types[0]": {"card"},
		"shipping[name]": {"Jenny"}, "shipping[address][line1]": {"1 Main St"}, "receipt_email": {"jenny@example.com"}}
	res, body := e.postForm("/v1/payment_intents", form, nil)
	var pi stripe.PaymentIntent
	json.Unmarshal(body, &pi)
	if res.StatusCode != 200 || pi.AutomaticPaymentMethods != nil || len(pi.PaymentMethodTypes) != 1 || pi.Shipping == nil ||
		pi.Shipping.Name != "Jenny" || pi.Shipping.Address.Line1 != "1 Main St" || pi.ReceiptEmail != "jenny@example.com" {
		t.Errorf("kept fields: %d %s", res.StatusCode, body)
	}
}

func TestIntentSearch(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i, card := range []string{"pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined", "", "pm_card_visa"} {
		p := usd(int64(1000 * (i + 1)))
		p.AddMetadata("kit_order", "ord_"+strconv.Itoa(i))
		if i%2 == 0 {
			p.AddMetadata("kit_cart", "tshirt:1")
		}
		pi := e.createPI(p)
		if card != "" {
			e.confirmPI(pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String(card)})
		}
		ids = append(ids, pi.ID)
	}
	search := func(q string) []string {
		t.Helper()
		var out []string
		sp := &stripe.PaymentIntentSearchParams{}
		sp.Query = q
		sp.Limit = stripe.Int64(2) // pages through next_page
		for pi, err := range e.sc.V1PaymentIntents.Search(context.Background(), sp) {
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			out = append(out, pi.ID)
		}
		return out
	}
	check := func(q string, want ...int) {
		t.Helper()
		got := search(q)
		var w []string
		for _, i := range want {
			w = append(w, ids[i])
		}
		if strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s: got %v, want %v", q, got, w)
		}
	}
	check(`metadata['kit_order']:'ord_1'`, 1)
	check(`metadata["kit_order"]:"ord_3"`, 3)
	check(`status:'succeeded'`, 4, 1, 0)
	check(`status:'succeeded' AND amount>1500`, 4, 1)
	check(`status:'succeeded' and amount>=2000 AND amount<=2000`, 1)
	check(`amount:3000`, 2)
	check(`amount<2000 OR amount>4000`, 4, 0)
	check(`-status:'succeeded'`, 3, 2)
	check(`metadata['kit_cart']:'tshirt:1' AND currency:'usd'`, 4, 2, 0)
	check(`status:'requires_payment_method' AND metadata['kit_order']:'ord_2'`, 2)
	check(`metadata['nope']:'x'`)

	res, body := e.do(http.MethodGet, "/v1/payment_intents/search?query="+url.QueryEscape(`status:'succeeded'`)+"&limit=1", "", nil, nil)
	m := decodeMap(t, body)
	if res.StatusCode != 200 || m["object"] != "search_result" || m["has_more"] != true || m["next_page"] == nil || m["url"] != "/v1/payment_intents/search" {
		t.Errorf("search_result: %d %v", res.StatusCode, m)
	}
	for _, bad := range []string{"", "colour:'red'", "amount>'abc'", "status>'x'", "status:'a' AND amount>1 OR amount<5",
		"status:'unterminated", "metadata:'x'", "status:succeeded", "status:'a' amount>1"} {
		res, body := e.do(http.MethodGet, "/v1/payment_intents/search?query="+url.QueryEscape(bad), "", nil, nil)
		if res.StatusCode != 400 || errorOf(t, decodeMap(t, body))["param"] != "query" {
			t.Errorf("query %q: %d %s", bad, res.StatusCode, body)
		}
	}
	if res, _ := e.do(http.MethodGet, "/v1/payment_intents/search", "", nil, nil); res.StatusCode != 400 {
		t.Errorf("no query: %d", res.StatusCode)
	}
	if res, _ := e.do(http.MethodGet, "/v1/payment_intents/search?query=amount>1&page=garbage", "", nil, nil); res.StatusCode != 400 {
		t.Errorf("bad page: %d", res.StatusCode)
	}
}

// A ConfirmationToken previews the card typed in as Stripe's test cards
// are: brand, funding and issuing country; the worker's card rules read them.
func TestTokenPreviewOfTestCards(t *testing.T) {
	e := newEnv(t)
	for number, want := range map[string][3]string{
		"4242424242424242": {"visa", "credit", "US"},
		"5105105105105100": {"mastercard", "prepaid", "US"},
		"4000056655665556": {"visa", "debit", "US"},
		"4000000760000002": {"visa", "credit", "BR"},
		"4000001240000000": {"visa", "credit", "CA"},
		"4000058260000005": {"visa", "debit", "GB"},
		"378282246310005":  {"amex", "credit", "US"},
	} {
		id := e.tokenID(number)
		tok, err := e.sc.V1ConfirmationTokens.Retrieve(context.Background(), id, nil)
		if err != nil {
			t.Fatalf("%s: %v", number, err)
		}
		c := tok.PaymentMethodPreview.Card
		if got := [3]string{string(c.Brand), string(c.Funding), c.Country}; got != want || c.Wallet != nil || tok.PaymentMethodPreview.Type != "card" {
			t.Errorf("%s: preview %v wallet %v, want %v", number, got, c.Wallet, want)
		}
		if tok.PaymentIntent != "" || tok.SetupIntent != "" || tok.Livemode || tok.ExpiresAt <= tok.Created {
			t.Errorf("%s: a new token is used, live or expired: %+v", number, tok)
		}
	}
	// The test PaymentMethods of the secret-key helper say the same.
	form := url.Values{"payment_method": {"pm_card_mastercard_prepaid"}}
	res, body := e.postForm("/v1/test_helpers/confirmation_tokens", form, nil)
	if m := decodeMap(t, body); res.StatusCode != 200 || m["payment_method_preview"].(map[string]any)["card"].(map[string]any)["funding"] != "prepaid" {
		t.Errorf("helper token: %d %s", res.StatusCode, body)
	}
}

// Incremental authorization is available on a manual-capture payment that
// asked for it with a card that allows it (Visa, Mastercard, Amex, Discover,
// not issued where SCA applies), and the sandbox refuses to increment one
// that is not.
func TestIncrementalAuthorizationByCard(t *testing.T) {
	e := newEnv(t)
	for pm, want := range map[string]string{
		"pm_card_visa":                            "available",
		"pm_card_mastercard_prepaid":              "available",
		"pm_card_debit_incrementalAuthAuthorized": "available",
		"pm_card_gb":                              "unavailable",
		"pm_card_de":                              "unavailable",
	} {
		pi := e.heldPI(pm)
		if got := pi.LatestCharge.PaymentMethodDetails.Card.IncrementalAuthorization.Status; string(got) != want || pi.Status != "requires_capture" {
			t.Errorf("%s: %s %s, want requires_capture %s", pm, pi.Status, got, want)
		}
		_, err := e.sc.V1PaymentIntents.IncrementAuthorization(context.Background(), pi.ID, &stripe.PaymentIntentIncrementAuthorizationParams{Amount: stripe.Int64(3000)})
		if (err == nil) != (want == "available") {
			t.Errorf("%s: increment error %v with %s", pm, err, want)
		}
	}
}
