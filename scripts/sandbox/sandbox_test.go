package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
)

const testKey = "sk_test_sandbox_test_key"

const returnURL = "http://127.0.0.1:8787/return.html?session_id={CHECKOUT_SESSION_ID}"

var (
	sessionIDRE = regexp.MustCompile(`^cs_test_[A-Za-z0-9]{58}$`)
	secretRE    = regexp.MustCompile(`^(cs_test_[A-Za-z0-9]{58})_secret_[A-Za-z0-9]{24}$`)
	piRE        = regexp.MustCompile(`^pi_[A-Za-z0-9]{24}$`)
	requestIDRE = regexp.MustCompile(`^req_[A-Za-z0-9]{14}$`)
)

type env struct {
	t   *testing.T
	sb  *Sandbox
	srv *httptest.Server
	sc  *stripe.Client
}

func newEnv(t *testing.T, configure ...func(*Sandbox)) *env {
	t.Helper()
	sb := New()
	for _, f := range configure {
		f(sb) // before the server starts, so no request can race with it
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &env{t: t, sb: sb, srv: srv, sc: stripeClient(srv, testKey)}
}

func stripeClient(srv *httptest.Server, key string) *stripe.Client {
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL:               stripe.String(srv.URL),
		HTTPClient:        srv.Client(),
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return stripe.NewClient(key, stripe.WithBackends(backends))
}

// fakeClock is a settable clock safe for concurrent reads.
type fakeClock struct{ unix atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(c.unix.Load(), 0) }
func (c *fakeClock) add(d time.Duration) { c.unix.Add(int64(d / time.Second)) }

func tshirtParams() *stripe.CheckoutSessionCreateParams {
	p := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		UIMode:            stripe.String(string(stripe.CheckoutSessionUIModeEmbedded)),
		ReturnURL:         stripe.String(returnURL),
		ClientReferenceID: stripe.String("order_42"),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{
			{
				PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
					Currency:    stripe.String("usd"),
					ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String("T-shirt")},
					UnitAmount:  stripe.Int64(2000),
				},
				Quantity: stripe.Int64(2),
			},
			{
				PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
					Currency:    stripe.String("usd"),
					ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String("Mug")},
					UnitAmount:  stripe.Int64(1250),
				},
				Quantity: stripe.Int64(1),
			},
		},
	}
	p.AddMetadata("cart", "tshirt:2,mug:1")
	return p
}

func (e *env) create(p *stripe.CheckoutSessionCreateParams) *stripe.CheckoutSession {
	e.t.Helper()
	s, err := e.sc.V1CheckoutSessions.Create(context.Background(), p)
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return s
}

func (e *env) retrieve(id string, expand ...string) *stripe.CheckoutSession {
	e.t.Helper()
	p := &stripe.CheckoutSessionRetrieveParams{}
	for _, x := range expand {
		p.AddExpand(x)
	}
	s, err := e.sc.V1CheckoutSessions.Retrieve(context.Background(), id, p)
	if err != nil {
		e.t.Fatalf("retrieve: %v", err)
	}
	return s
}

// do sends a raw request. A nil header map means: authenticate with testKey.
func (e *env) do(method, path, contentType string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if header == nil {
		header = map[string]string{"Authorization": "Bearer " + testKey}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, b
}

func (e *env) postForm(path string, form url.Values, header map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), header)
}

func (e *env) postJSON(path string, v any) (*http.Response, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(v)
	res, body := e.do(http.MethodPost, path, "application/json", bytes.NewReader(b), map[string]string{})
	return res, decodeMap(e.t, body)
}

func (e *env) getJSON(path string) (*http.Response, map[string]any) {
	e.t.Helper()
	res, body := e.do(http.MethodGet, path, "", nil, map[string]string{})
	return res, decodeMap(e.t, body)
}

func (e *env) pay(secret, card string) (*http.Response, map[string]any) {
	e.t.Helper()
	return e.postJSON("/_sandbox/checkout/pay", map[string]string{
		"client_secret": secret, "email": "jenny@example.com", "card_number": card, "exp": "12 / 34", "cvc": "123",
	})
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func errorOf(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %v", m)
	}
	return e
}

func stripeErr(t *testing.T, err error) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("want *stripe.Error, got %T %v", err, err)
	}
	return se
}

func baseForm() url.Values {
	return url.Values{
		"mode":                                {"payment"},
		"ui_mode":                             {"embedded"},
		"return_url":                          {returnURL},
		"line_items[0][price_data][currency]": {"usd"},
		"line_items[0][price_data][product_data][name]": {"T-shirt"},
		"line_items[0][price_data][unit_amount]":        {"2000"},
		"line_items[0][quantity]":                       {"1"},
	}
}

// ---------------------------------------------------------------------------

func TestCreateWithStripeGo(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.CustomerEmail = stripe.String("jenny@example.com")
	p.AddExpand("line_items")
	s := e.create(p)

	if !sessionIDRE.MatchString(s.ID) {
		t.Errorf("id %q does not look like cs_test_ + 58 alnum", s.ID)
	}
	if m := secretRE.FindStringSubmatch(s.ClientSecret); m == nil || m[1] != s.ID {
		t.Errorf("client_secret %q does not look like <id>_secret_<24 alnum>", s.ClientSecret)
	}
	if s.Object != "checkout.session" || s.Livemode || s.URL != "" {
		t.Errorf("object=%q livemode=%v url=%q", s.Object, s.Livemode, s.URL)
	}
	if s.Status != stripe.CheckoutSessionStatusOpen || s.PaymentStatus != stripe.CheckoutSessionPaymentStatusUnpaid {
		t.Errorf("status=%q payment_status=%q", s.Status, s.PaymentStatus)
	}
	if s.Mode != stripe.CheckoutSessionModePayment || s.UIMode != stripe.CheckoutSessionUIModeEmbedded {
		t.Errorf("mode=%q ui_mode=%q", s.Mode, s.UIMode)
	}
	if s.AmountSubtotal != 5250 || s.AmountTotal != 5250 || s.Currency != "usd" {
		t.Errorf("amounts %d/%d %s, want 5250/5250 usd", s.AmountSubtotal, s.AmountTotal, s.Currency)
	}
	if s.ReturnURL != returnURL || s.CustomerEmail != "jenny@example.com" || s.ClientReferenceID != "order_42" {
		t.Errorf("return_url=%q customer_email=%q client_reference_id=%q", s.ReturnURL, s.CustomerEmail, s.ClientReferenceID)
	}
	if s.Metadata["cart"] != "tshirt:2,mug:1" {
		t.Errorf("metadata %v", s.Metadata)
	}
	if s.ExpiresAt-s.Created != 24*3600 || time.Since(time.Unix(s.Created, 0)) > time.Minute {
		t.Errorf("created=%d expires_at=%d", s.Created, s.ExpiresAt)
	}
	if s.PaymentIntent != nil || s.CustomerDetails != nil {
		t.Errorf("payment_intent=%v customer_details=%v before payment", s.PaymentIntent, s.CustomerDetails)
	}
	if s.LineItems == nil || len(s.LineItems.Data) != 2 {
		t.Fatalf("line_items not expanded: %+v", s.LineItems)
	}
	li := s.LineItems.Data[0]
	if li.Object != "item" || !strings.HasPrefix(li.ID, "li_") || li.Description != "T-shirt" || li.Quantity != 2 ||
		li.AmountSubtotal != 4000 || li.AmountTotal != 4000 || li.Currency != "usd" {
		t.Errorf("line item %+v", li)
	}
	if li.Price == nil || !strings.HasPrefix(li.Price.ID, "price_") || li.Price.UnitAmount != 2000 ||
		li.Price.UnitAmountDecimal != 2000 || li.Price.Currency != "usd" || li.Price.Product == nil ||
		!strings.HasPrefix(li.Price.Product.ID, "prod_") {
		t.Errorf("price %+v", li.Price)
	}
	if s.LineItems.HasMore || s.LineItems.URL != "/v1/checkout/sessions/"+s.ID+"/line_items" {
		t.Errorf("list has_more=%v url=%q", s.LineItems.HasMore, s.LineItems.URL)
	}
	if !requestIDRE.MatchString(s.LastResponse.RequestID) {
		t.Errorf("Request-Id %q", s.LastResponse.RequestID)
	}

	// The request log shows stripe-go's exact wire format.
	_, log := e.getJSON("/_sandbox/requests")
	reqs := log["requests"].([]any)
	if len(reqs) != 1 {
		t.Fatalf("want 1 logged request, got %d", len(reqs))
	}
	form := reqs[0].(map[string]any)["form"].(map[string]any)
	for k, want := range map[string]string{
		"mode":                                "payment",
		"ui_mode":                             "embedded",
		"return_url":                          returnURL,
		"customer_email":                      "jenny@example.com",
		"client_reference_id":                 "order_42",
		"metadata[cart]":                      "tshirt:2,mug:1",
		"expand[0]":                           "line_items",
		"line_items[0][price_data][currency]": "usd",
		"line_items[0][price_data][product_data][name]": "T-shirt",
		"line_items[0][price_data][unit_amount]":        "2000",
		"line_items[0][quantity]":                       "2",
		"line_items[1][price_data][product_data][name]": "Mug",
	} {
		if form[k] != want {
			t.Errorf("form[%s] = %v, want %q (form: %v)", k, form[k], want, form)
		}
	}
}

func TestRetrieveAndListLineItems(t *testing.T) {
	e := newEnv(t)
	created := e.create(tshirtParams())
	if created.LineItems != nil {
		t.Errorf("line_items present without expand")
	}

	s := e.retrieve(created.ID, "line_items")
	if s.ID != created.ID || s.LineItems == nil || len(s.LineItems.Data) != 2 {
		t.Fatalf("retrieve with expand: %+v", s)
	}
	if s.LineItems.Data[1].Description != "Mug" || s.LineItems.Data[1].AmountTotal != 1250 {
		t.Errorf("second line item %+v", s.LineItems.Data[1])
	}

	// expand[]=line_items (curl style) works too.
	res, body := e.do(http.MethodGet, "/v1/checkout/sessions/"+created.ID+"?expand[]=line_items", "", nil, nil)
	var raw stripe.CheckoutSession
	if res.StatusCode != 200 || json.Unmarshal(body, &raw) != nil || raw.LineItems == nil || len(raw.LineItems.Data) != 2 {
		t.Errorf("expand[]: %d %s", res.StatusCode, body)
	}

	var descs []string
	for li, err := range e.sc.V1CheckoutSessions.ListLineItems(context.Background(),
		&stripe.CheckoutSessionListLineItemsParams{Session: stripe.String(created.ID)}) {
		if err != nil {
			t.Fatalf("list line items: %v", err)
		}
		descs = append(descs, li.Description)
	}
	if strings.Join(descs, ",") != "T-shirt,Mug" {
		t.Errorf("line items %v", descs)
	}

	// Pagination through stripe-go's iterator with a page size of 1.
	lp := &stripe.CheckoutSessionListLineItemsParams{Session: stripe.String(created.ID)}
	lp.Limit = stripe.Int64(1)
	n := 0
	for _, err := range e.sc.V1CheckoutSessions.ListLineItems(context.Background(), lp) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("paged iteration saw %d items, want 2", n)
	}

	// Unknown expansion.
	res, body = e.do(http.MethodGet, "/v1/checkout/sessions/"+created.ID+"?expand[0]=customer", "", nil, nil)
	if res.StatusCode != 400 || !strings.Contains(string(body), "cannot be expanded") {
		t.Errorf("bad expand: %d %s", res.StatusCode, body)
	}
}

func TestPayCompletesSession(t *testing.T) {
	e := newEnv(t)
	s := e.create(tshirtParams())

	res, summary := e.getJSON("/_sandbox/checkout?client_secret=" + url.QueryEscape(s.ClientSecret))
	if res.StatusCode != 200 || summary["id"] != s.ID || summary["status"] != "open" ||
		summary["amount_total"] != 5250.0 || summary["currency"] != "usd" || summary["return_url"] != returnURL ||
		summary["customer_email"] != nil {
		t.Fatalf("summary %d %v", res.StatusCode, summary)
	}
	items := summary["line_items"].([]any)
	first := items[0].(map[string]any)
	if len(items) != 2 || first["description"] != "T-shirt" || first["quantity"] != 2.0 || first["amount_total"] != 4000.0 {
		t.Errorf("summary line items %v", items)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("dev endpoint without CORS header")
	}

	res, out := e.postJSON("/_sandbox/checkout/pay", map[string]string{
		"client_secret": s.ClientSecret, "email": "jenny@example.com",
		"card_number": "4242 4242 4242 4242", "exp": "12 / 34", "cvc": "123",
	})
	wantReturn := "http://127.0.0.1:8787/return.html?session_id=" + s.ID
	if res.StatusCode != 200 || out["status"] != "complete" || out["return_url"] != wantReturn {
		t.Fatalf("pay: %d %v (want return_url %s)", res.StatusCode, out, wantReturn)
	}

	got := e.retrieve(s.ID)
	if got.Status != stripe.CheckoutSessionStatusComplete || got.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		t.Errorf("after pay: status=%q payment_status=%q", got.Status, got.PaymentStatus)
	}
	if got.CustomerDetails == nil || got.CustomerDetails.Email != "jenny@example.com" {
		t.Errorf("customer_details %+v", got.CustomerDetails)
	}
	if got.PaymentIntent == nil || !piRE.MatchString(got.PaymentIntent.ID) {
		t.Errorf("payment_intent %+v", got.PaymentIntent)
	}
	expanded := e.retrieve(s.ID, "payment_intent")
	if pi := expanded.PaymentIntent; pi == nil || pi.ID != got.PaymentIntent.ID || pi.Amount != 5250 ||
		pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Errorf("expanded payment_intent %+v", expanded.PaymentIntent)
	}

	// Paying again, or expiring, is refused.
	res, out = e.pay(s.ClientSecret, "4242424242424242")
	if res.StatusCode != 400 || errorOf(t, out)["code"] != "checkout_session_complete" {
		t.Errorf("second pay: %d %v", res.StatusCode, out)
	}
	_, err := e.sc.V1CheckoutSessions.Expire(context.Background(), s.ID, nil)
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Type != stripe.ErrorTypeInvalidRequest {
		t.Errorf("expire complete session: %+v", se)
	}
	_, summary = e.getJSON("/_sandbox/checkout?client_secret=" + url.QueryEscape(s.ClientSecret))
	if summary["status"] != "complete" {
		t.Errorf("summary status after pay %v", summary["status"])
	}
}

func TestPayWithPrefilledEmailAndNoRedirect(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.CustomerEmail = stripe.String("jenny@example.com")
	p.ReturnURL = nil
	p.RedirectOnCompletion = stripe.String("never")
	s := e.create(p)
	res, out := e.postJSON("/_sandbox/checkout/pay", map[string]string{
		"client_secret": s.ClientSecret, "email": "other@example.com",
		"card_number": "4242424242424242", "exp": "12/34", "cvc": "123",
	})
	if res.StatusCode != 400 || errorOf(t, out)["param"] != "email" {
		t.Errorf("mismatched email: %d %v", res.StatusCode, out)
	}
	res, out = e.pay(s.ClientSecret, "4242424242424242")
	if _, has := out["return_url"]; res.StatusCode != 200 || has {
		t.Errorf("pay with redirect_on_completion=never: %d %v", res.StatusCode, out)
	}
}

func TestDeclineKeepsSessionOpen(t *testing.T) {
	e := newEnv(t)
	s := e.create(tshirtParams())
	res, out := e.pay(s.ClientSecret, "4000 0000 0000 0002")
	if res.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("decline status %d %v", res.StatusCode, out)
	}
	if er := errorOf(t, out); er["code"] != "card_declined" || er["message"] != "Your card was declined." || er["type"] != "card_error" {
		t.Errorf("decline error %v", er)
	}
	res, out = e.pay(s.ClientSecret, "4000000000009995")
	if er := errorOf(t, out); res.StatusCode != 402 || er["decline_code"] != "insufficient_funds" {
		t.Errorf("insufficient funds: %d %v", res.StatusCode, er)
	}
	// As at Stripe, the declined attempt leaves a PaymentIntent awaiting another payment method.
	got := e.retrieve(s.ID, "payment_intent")
	if got.Status != stripe.CheckoutSessionStatusOpen || got.PaymentStatus != stripe.CheckoutSessionPaymentStatusUnpaid ||
		got.CustomerDetails != nil {
		t.Errorf("after decline: %+v", got)
	}
	pi := got.PaymentIntent
	if pi == nil || pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod || pi.LastPaymentError == nil ||
		pi.LastPaymentError.DeclineCode != "insufficient_funds" || pi.PaymentMethod != nil {
		t.Errorf("payment intent after decline: %+v", pi)
	}
	if res, _ := e.pay(s.ClientSecret, "4242424242424242"); res.StatusCode != 200 {
		t.Errorf("pay after decline: %d", res.StatusCode)
	}
	paid := e.retrieve(s.ID, "payment_intent")
	if paid.PaymentIntent == nil || paid.PaymentIntent.ID != pi.ID || paid.PaymentIntent.Status != stripe.PaymentIntentStatusSucceeded ||
		paid.PaymentIntent.LastPaymentError != nil || paid.PaymentIntent.AmountReceived != 5250 {
		t.Errorf("the retry reuses the PaymentIntent: %+v", paid.PaymentIntent)
	}
}

func TestPayValidation(t *testing.T) {
	e := newEnv(t)
	s := e.create(tshirtParams())
	valid := map[string]string{"client_secret": s.ClientSecret, "email": "jenny@example.com",
		"card_number": "4242 4242 4242 4242", "exp": "12 / 34", "cvc": "123"}
	cases := []struct {
		field, value string
		status       int
		code         string
	}{
		{"email", "", 400, "parameter_missing"},
		{"email", "not-an-email", 400, "email_invalid"},
		{"email", "jenny@localhost", 400, "email_invalid"},
		{"card_number", "", 400, "parameter_missing"},
		{"card_number", "4242 4242 4242 4241", 400, "invalid_number"},
		{"card_number", "abcd", 400, "invalid_number"},
		{"exp", "", 400, "parameter_missing"},
		{"exp", "13 / 30", 400, "invalid_expiry_month"},
		{"exp", "12 / 3", 400, "invalid_expiry_year"},
		{"exp", "01 / 20", 400, "invalid_expiry_year_past"},
		{"cvc", "", 400, "parameter_missing"},
		{"cvc", "12", 400, "invalid_cvc"},
		{"client_secret", "", 400, "parameter_missing"},
		{"client_secret", "cs_test_nope_secret_nope", 404, "resource_missing"},
	}
	for _, c := range cases {
		body := map[string]string{}
		for k, v := range valid {
			body[k] = v
		}
		body[c.field] = c.value
		res, out := e.postJSON("/_sandbox/checkout/pay", body)
		if er := errorOf(t, out); res.StatusCode != c.status || er["code"] != c.code {
			t.Errorf("%s=%q: got %d %v, want %d %s", c.field, c.value, res.StatusCode, er, c.status, c.code)
		}
	}
	res, _ := e.do(http.MethodPost, "/_sandbox/checkout/pay", "application/json", strings.NewReader("{"), map[string]string{})
	if res.StatusCode != 400 {
		t.Errorf("bad JSON: %d", res.StatusCode)
	}
	if got := e.retrieve(s.ID); got.Status != stripe.CheckoutSessionStatusOpen {
		t.Errorf("session changed by invalid payments: %s", got.Status)
	}
	// Other valid formats are accepted.
	valid["exp"], valid["card_number"] = "1234", "5555-5555-5555-4444"
	if res, out := e.postJSON("/_sandbox/checkout/pay", valid); res.StatusCode != 200 {
		t.Errorf("MMYY expiry and dashed Mastercard: %d %v", res.StatusCode, out)
	}
}

func TestExpire(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	s := e.create(p)
	ep := &stripe.CheckoutSessionExpireParams{}
	ep.AddExpand("line_items")
	got, err := e.sc.V1CheckoutSessions.Expire(context.Background(), s.ID, ep)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != stripe.CheckoutSessionStatusExpired || got.LineItems == nil {
		t.Errorf("expire: %+v", got)
	}
	_, err = e.sc.V1CheckoutSessions.Expire(context.Background(), s.ID, nil)
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 || !strings.Contains(se.Msg, "open") {
		t.Errorf("expire twice: %+v", se)
	}
	res, out := e.pay(s.ClientSecret, "4242424242424242")
	if res.StatusCode != 400 || errorOf(t, out)["code"] != "checkout_session_expired" {
		t.Errorf("pay expired: %d %v", res.StatusCode, out)
	}

	// The development expire endpoint needs no key.
	s2 := e.create(tshirtParams())
	res, out = e.postJSON("/_sandbox/sessions/"+s2.ID+"/expire", nil)
	if res.StatusCode != 200 || out["status"] != "expired" || out["object"] != "checkout.session" {
		t.Errorf("dev expire: %d %v", res.StatusCode, out)
	}
	res, _ = e.postJSON("/_sandbox/sessions/"+s2.ID+"/expire", nil)
	if res.StatusCode != 400 {
		t.Errorf("dev expire twice: %d", res.StatusCode)
	}
	res, _ = e.postJSON("/_sandbox/sessions/cs_test_missing/expire", nil)
	if res.StatusCode != 404 {
		t.Errorf("dev expire unknown: %d", res.StatusCode)
	}
}

func TestSessionsExpireAfter24Hours(t *testing.T) {
	clock := &fakeClock{}
	clock.unix.Store(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).Unix())
	e := newEnv(t, func(sb *Sandbox) { sb.now = clock.now })

	s := e.create(tshirtParams())
	if s.Created != clock.now().Unix() || s.ExpiresAt != s.Created+86400 {
		t.Errorf("created=%d expires_at=%d", s.Created, s.ExpiresAt)
	}
	clock.add(24*time.Hour - time.Second)
	if got := e.retrieve(s.ID); got.Status != stripe.CheckoutSessionStatusOpen {
		t.Errorf("before expiry: %s", got.Status)
	}
	clock.add(time.Second)
	if got := e.retrieve(s.ID); got.Status != stripe.CheckoutSessionStatusExpired {
		t.Errorf("after expiry: %s", got.Status)
	}

	// expires_at is honoured and range-checked.
	p := tshirtParams()
	p.ExpiresAt = stripe.Int64(clock.now().Add(time.Hour).Unix())
	if got := e.create(p); got.ExpiresAt != *p.ExpiresAt {
		t.Errorf("expires_at %d, want %d", got.ExpiresAt, *p.ExpiresAt)
	}
	p.ExpiresAt = stripe.Int64(clock.now().Add(10 * time.Minute).Unix())
	if _, err := e.sc.V1CheckoutSessions.Create(context.Background(), p); stripeErr(t, err).Param != "expires_at" {
		t.Errorf("expires_at too soon accepted")
	}
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	hdr := map[string]string{"Authorization": "Bearer " + testKey, "Idempotency-Key": "order-42-attempt-1"}
	res1, body1 := e.postForm("/v1/checkout/sessions", baseForm(), hdr)
	res2, body2 := e.postForm("/v1/checkout/sessions", baseForm(), hdr)
	if res1.StatusCode != 200 || res2.StatusCode != 200 {
		t.Fatalf("statuses %d %d: %s", res1.StatusCode, res2.StatusCode, body2)
	}
	if !bytes.Equal(body1, body2) {
		t.Errorf("replay differs:\n%s\n%s", body1, body2)
	}
	if res1.Header.Get("Idempotent-Replayed") != "" || res2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotent-Replayed headers: %q %q", res1.Header.Get("Idempotent-Replayed"), res2.Header.Get("Idempotent-Replayed"))
	}
	if res2.Header.Get("Original-Request") != res1.Header.Get("Request-Id") || res2.Header.Get("Request-Id") == res1.Header.Get("Request-Id") {
		t.Errorf("Original-Request %q, first Request-Id %q", res2.Header.Get("Original-Request"), res1.Header.Get("Request-Id"))
	}
	e.sb.mu.Lock()
	n := len(e.sb.sessions)
	e.sb.mu.Unlock()
	if n != 1 {
		t.Errorf("%d sessions after replay, want 1", n)
	}

	// Same key, different parameters.
	other := baseForm()
	other.Set("line_items[0][quantity]", "3")
	res3, body3 := e.postForm("/v1/checkout/sessions", other, hdr)
	if er := errorOf(t, decodeMap(t, body3)); res3.StatusCode != 400 || er["type"] != "idempotency_error" {
		t.Errorf("conflict: %d %s", res3.StatusCode, body3)
	}

	// A key is scoped to the API key, and failed validations are not stored.
	hdr2 := map[string]string{"Authorization": "Bearer sk_test_someoneElse123", "Idempotency-Key": "order-42-attempt-1"}
	if res, body := e.postForm("/v1/checkout/sessions", other, hdr2); res.StatusCode != 200 {
		t.Errorf("other API key with the same idempotency key: %d %s", res.StatusCode, body)
	}
	bad := baseForm()
	bad.Del("mode")
	hdr3 := map[string]string{"Authorization": "Bearer " + testKey, "Idempotency-Key": "k3"}
	if res, _ := e.postForm("/v1/checkout/sessions", bad, hdr3); res.StatusCode != 400 {
		t.Errorf("invalid request: %d", res.StatusCode)
	}
	if res, body := e.postForm("/v1/checkout/sessions", baseForm(), hdr3); res.StatusCode != 200 {
		t.Errorf("retry with fixed params after a validation error: %d %s", res.StatusCode, body)
	}

	// Through stripe-go: an explicit key yields the same session, and stripe-go maps the conflict.
	p := tshirtParams()
	p.SetIdempotencyKey("sdk-key-1")
	a := e.create(p)
	p2 := tshirtParams()
	p2.SetIdempotencyKey("sdk-key-1")
	b := e.create(p2)
	if a.ID != b.ID {
		t.Errorf("stripe-go replay gave %s and %s", a.ID, b.ID)
	}
	p3 := tshirtParams()
	p3.SetIdempotencyKey("sdk-key-1")
	p3.ClientReferenceID = stripe.String("different")
	_, err := e.sc.V1CheckoutSessions.Create(context.Background(), p3)
	var ie *stripe.IdempotencyError
	if !errors.As(err, &ie) {
		t.Errorf("want *stripe.IdempotencyError, got %T %v", err, err)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"missing", map[string]string{}, 401},
		{"garbage", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"live key", map[string]string{"Authorization": "Bearer sk_live_abcdefghijklmnop"}, 401},
		{"publishable", map[string]string{"Authorization": "Bearer pk_test_abcdefghijklmnop"}, 401},
		{"bare prefix", map[string]string{"Authorization": "Bearer sk_test_"}, 401},
		{"bearer", map[string]string{"Authorization": "Bearer " + testKey}, 200},
		{"restricted", map[string]string{"Authorization": "Bearer rk_test_abc123"}, 200},
	}
	for _, c := range cases {
		res, body := e.postForm("/v1/checkout/sessions", baseForm(), c.header)
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, res.StatusCode, c.status, body)
			continue
		}
		if c.status == 401 {
			er := errorOf(t, decodeMap(t, body))
			if er["type"] != "invalid_request_error" || er["message"] == "" {
				t.Errorf("%s: error %v", c.name, er)
			}
			if strings.Contains(string(body), "abcdefghijklmnop") {
				t.Errorf("%s: the key is echoed in full: %s", c.name, body)
			}
		}
		if !requestIDRE.MatchString(res.Header.Get("Request-Id")) {
			t.Errorf("%s: Request-Id %q", c.name, res.Header.Get("Request-Id"))
		}
	}

	// Basic auth with the key as the user name, as curl -u sk_test_...: sends it.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/checkout/sessions", strings.NewReader(baseForm().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testKey, "")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("basic auth: %d", res.StatusCode)
	}

	// stripe-go sees an authentication error.
	_, err = stripeClient(e.srv, "sk_live_notallowedhere1234").V1CheckoutSessions.Create(context.Background(), tshirtParams())
	if se := stripeErr(t, err); se.HTTPStatusCode != 401 {
		t.Errorf("stripe-go with a live key: %+v", se)
	}
}

func TestValidationErrors(t *testing.T) {
	e := newEnv(t)
	e.create(tshirtParams()) // sanity
	type mod func(url.Values)
	set := func(k, v string) mod { return func(f url.Values) { f.Set(k, v) } }
	del := func(k string) mod { return func(f url.Values) { f.Del(k) } }
	cases := []struct {
		name   string
		mods   []mod
		status int
		code   string
		param  string
	}{
		{"missing mode", []mod{del("mode")}, 400, "parameter_missing", "mode"},
		{"bad mode", []mod{set("mode", "donate")}, 400, "", "mode"},
		{"missing line_items", []mod{func(f url.Values) {
			for k := range f {
				if strings.HasPrefix(k, "line_items") {
					f.Del(k)
				}
			}
		}}, 400, "parameter_missing", "line_items"},
		{"missing quantity", []mod{del("line_items[0][quantity]")}, 400, "parameter_missing", "line_items[0][quantity]"},
		{"zero quantity", []mod{set("line_items[0][quantity]", "0")}, 400, "parameter_invalid_integer", "line_items[0][quantity]"},
		{"quantity not integer", []mod{set("line_items[0][quantity]", "two")}, 400, "parameter_invalid_integer", "line_items[0][quantity]"},
		{"negative unit_amount", []mod{set("line_items[0][price_data][unit_amount]", "-1")}, 400, "parameter_invalid_integer", "line_items[0][price_data][unit_amount]"},
		{"fractional unit_amount", []mod{set("line_items[0][price_data][unit_amount]", "19.99")}, 400, "parameter_invalid_integer", "line_items[0][price_data][unit_amount]"},
		{"missing unit_amount", []mod{del("line_items[0][price_data][unit_amount]")}, 400, "parameter_missing", "line_items[0][price_data][unit_amount]"},
		{"bad currency", []mod{set("line_items[0][price_data][currency]", "dollars")}, 400, "", "line_items[0][price_data][currency]"},
		{"missing currency", []mod{del("line_items[0][price_data][currency]")}, 400, "parameter_missing", "line_items[0][price_data][currency]"},
		{"missing product name", []mod{del("line_items[0][price_data][product_data][name]")}, 400, "parameter_missing", "line_items[0][price_data][product_data]"},
		{"empty product name", []mod{set("line_items[0][price_data][product_data][name]", "")}, 400, "parameter_invalid_empty", "line_items[0][price_data][product_data][name]"},
		{"price and price_data", []mod{set("line_items[0][price]", "price_123")}, 400, "parameters_exclusive", "line_items[0][price]"},
		{"neither price nor price_data", []mod{func(f url.Values) {
			for k := range f {
				if strings.HasPrefix(k, "line_items[0][price_data]") {
					f.Del(k)
				}
			}
		}}, 400, "parameter_missing", "line_items[0][price_data]"},
		{"unknown price", []mod{func(f url.Values) {
			for k := range f {
				if strings.HasPrefix(k, "line_items[0][price_data]") {
					f.Del(k)
				}
			}
			f.Set("line_items[0][price]", "price_123")
		}}, 400, "resource_missing", "line_items[0][price]"},
		{"mixed currencies", []mod{
			set("line_items[1][price_data][currency]", "eur"),
			set("line_items[1][price_data][product_data][name]", "Mug"),
			set("line_items[1][price_data][unit_amount]", "100"),
			set("line_items[1][quantity]", "1"),
		}, 400, "", "line_items[1]"},
		{"missing return_url", []mod{del("return_url")}, 400, "parameter_missing", "return_url"},
		{"relative return_url", []mod{set("return_url", "/return.html?session_id={CHECKOUT_SESSION_ID}")}, 400, "url_invalid", "return_url"},
		{"success_url with embedded", []mod{set("success_url", "https://example.com/ok")}, 400, "", "success_url"},
		{"return_url with hosted", []mod{set("ui_mode", "hosted")}, 400, "", "return_url"},
		{"relative success_url", []mod{set("ui_mode", "hosted"), del("return_url"), set("success_url", "/ok")}, 400, "url_invalid", "success_url"},
		{"custom is not simulated", []mod{set("ui_mode", "custom"), del("return_url")}, 400, "", "ui_mode"},
		{"dahlia value on basil", []mod{set("ui_mode", "embedded_page")}, 400, "", "ui_mode"},
		{"unknown parameter", []mod{set("colour", "red")}, 400, "parameter_unknown", "colour"},
		{"unknown nested parameter", []mod{set("line_items[0][colour]", "red")}, 400, "parameter_unknown", "line_items[0][colour]"},
		{"bad customer_email", []mod{set("customer_email", "jenny")}, 400, "email_invalid", "customer_email"},
		{"long metadata key", []mod{set("metadata["+strings.Repeat("k", 41)+"]", "v")}, 400, "", "metadata[" + strings.Repeat("k", 41) + "]"},
		{"recurring in payment mode", []mod{set("line_items[0][price_data][recurring][interval]", "month")}, 400, "", "line_items[0][price_data][recurring]"},
		{"amount too large", []mod{set("line_items[0][price_data][unit_amount]", "99999999"), set("line_items[0][quantity]", "2")}, 400, "amount_too_large", "line_items"},
		{"bad expand", []mod{set("expand[0]", "customer")}, 400, "", "expand"},
		{"malformed key", []mod{set("line_items[0][quantity", "1")}, 400, "", "line_items[0][quantity"},
	}
	for _, c := range cases {
		form := baseForm()
		for _, m := range c.mods {
			m(form)
		}
		res, body := e.postForm("/v1/checkout/sessions", form, nil)
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, res.StatusCode, c.status, body)
			continue
		}
		er := errorOf(t, decodeMap(t, body))
		if er["type"] != "invalid_request_error" || er["message"] == "" {
			t.Errorf("%s: error %v", c.name, er)
		}
		if code, _ := er["code"].(string); code != c.code {
			t.Errorf("%s: code %q, want %q (%v)", c.name, code, c.code, er["message"])
		}
		if p, _ := er["param"].(string); p != c.param {
			t.Errorf("%s: param %q, want %q (%v)", c.name, p, c.param, er["message"])
		}
	}

	// A JSON body is refused like Stripe does.
	res, body := e.do(http.MethodPost, "/v1/checkout/sessions", "application/json", strings.NewReader(`{"mode":"payment"}`), nil)
	if res.StatusCode != 400 || !strings.Contains(string(body), "form-encoded") {
		t.Errorf("JSON body: %d %s", res.StatusCode, body)
	}

	// stripe-go reports a validation error as *stripe.Error with param and code.
	p := tshirtParams()
	p.LineItems[0].Quantity = stripe.Int64(0)
	_, err := e.sc.V1CheckoutSessions.Create(context.Background(), p)
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Code != stripe.ErrorCodeParameterInvalidInteger ||
		se.Param != "line_items[0][quantity]" {
		t.Errorf("stripe-go error %+v", se)
	}
	p = tshirtParams()
	p.Mode = nil
	_, err = e.sc.V1CheckoutSessions.Create(context.Background(), p)
	if se := stripeErr(t, err); se.Code != stripe.ErrorCodeParameterMissing || se.Param != "mode" {
		t.Errorf("stripe-go missing mode %+v", se)
	}
}

func TestAPIVersionTrains(t *testing.T) {
	e := newEnv(t)
	dahlia := map[string]string{"Authorization": "Bearer " + testKey, "Stripe-Version": "2026-03-25.dahlia"}
	res, body := e.postForm("/v1/checkout/sessions", baseForm(), dahlia)
	if res.StatusCode != 400 || !strings.Contains(string(body), "embedded_page") {
		t.Errorf("ui_mode=embedded on dahlia: %d %s", res.StatusCode, body)
	}
	form := baseForm()
	form.Set("ui_mode", "embedded_page")
	res, body = e.postForm("/v1/checkout/sessions", form, dahlia)
	if res.StatusCode != 200 || res.Header.Get("Stripe-Version") != "2026-03-25.dahlia" {
		t.Errorf("ui_mode=embedded_page on dahlia: %d %s", res.StatusCode, body)
	}
	s, err := e.sc.V1CheckoutSessions.Create(context.Background(), tshirtParams())
	if err != nil || s.LastResponse.Header.Get("Stripe-Version") != stripe.APIVersion {
		t.Errorf("stripe-go version echo: %v %v", err, s)
	}
}

func TestPricesRegistry(t *testing.T) {
	e := newEnv(t)
	res, price := e.postJSON("/_sandbox/prices", map[string]any{"id": "price_tshirt", "product_name": "T-shirt", "unit_amount": 2000, "currency": "usd"})
	if res.StatusCode != 200 || price["id"] != "price_tshirt" || price["active"] != true {
		t.Fatalf("register price: %d %v", res.StatusCode, price)
	}
	p := &stripe.CheckoutSessionCreateParams{
		Mode:      stripe.String("payment"),
		UIMode:    stripe.String("embedded"),
		ReturnURL: stripe.String(returnURL),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{
			{Price: stripe.String("price_tshirt"), Quantity: stripe.Int64(3)},
			{PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency: stripe.String("usd"), Product: stripe.String(price["product"].(string)),
				UnitAmountDecimal: stripe.Float64(150),
			}, Quantity: stripe.Int64(1)},
		},
	}
	p.AddExpand("line_items")
	s := e.create(p)
	if s.AmountTotal != 6150 || s.LineItems.Data[0].Price.ID != "price_tshirt" || s.LineItems.Data[1].Description != "T-shirt" {
		t.Errorf("session from registered price: total %d, items %+v %+v", s.AmountTotal, s.LineItems.Data[0], s.LineItems.Data[1])
	}
	if res, _ := e.postJSON("/_sandbox/prices", map[string]any{"product_name": "X", "currency": "usd"}); res.StatusCode != 400 {
		t.Errorf("price without unit_amount: %d", res.StatusCode)
	}
}

func TestUnknownSessionAndRoutes(t *testing.T) {
	e := newEnv(t)
	_, err := e.sc.V1CheckoutSessions.Retrieve(context.Background(), "cs_test_doesnotexist", nil)
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 404 || se.Code != stripe.ErrorCodeResourceMissing || se.Type != stripe.ErrorTypeInvalidRequest ||
		!strings.Contains(se.Msg, "cs_test_doesnotexist") {
		t.Errorf("unknown session: %+v", se)
	}
	for _, path := range []string{"/v1/checkout/sessions/cs_test_x/line_items", "/v1/checkout/sessions/cs_test_x/expire"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "expire") {
			method = http.MethodPost
		}
		if res, body := e.do(method, path, "", nil, nil); res.StatusCode != 404 || !strings.Contains(string(body), "resource_missing") {
			t.Errorf("%s %s: %d %s", method, path, res.StatusCode, body)
		}
	}
	for _, c := range [][2]string{{"GET", "/v1/customers"}, {"DELETE", "/v1/checkout/sessions/cs_test_x"}, {"GET", "/v1/checkout/sessions/a/b/c"}} {
		res, body := e.do(c[0], c[1], "", nil, nil)
		if res.StatusCode != 404 || !strings.Contains(string(body), "Unrecognized request URL") {
			t.Errorf("%s %s: %d %s", c[0], c[1], res.StatusCode, body)
		}
	}
	if res, _ := e.getJSON("/_sandbox/checkout?client_secret=cs_test_x_secret_y"); res.StatusCode != 404 {
		t.Errorf("unknown client_secret: %d", res.StatusCode)
	}
	if res, _ := e.getJSON("/_sandbox/checkout"); res.StatusCode != 400 {
		t.Errorf("missing client_secret: %d", res.StatusCode)
	}
	if res, _ := e.getJSON("/_sandbox/nope"); res.StatusCode != 404 {
		t.Errorf("unknown dev endpoint: %d", res.StatusCode)
	}
	if res, _ := e.getJSON("/_sandbox/reset"); res.StatusCode != 405 || res.Header.Get("Allow") == "" {
		t.Errorf("GET /_sandbox/reset: %d", res.StatusCode)
	}
}

func TestRequestLogAndReset(t *testing.T) {
	e := newEnv(t)
	p := tshirtParams()
	p.SetIdempotencyKey("log-key-1")
	s := e.create(p)
	e.retrieve(s.ID, "line_items")
	e.postForm("/v1/checkout/sessions", baseForm(), map[string]string{"Authorization": "Bearer sk_test_secretKeyDoNotLog99"})
	e.postForm("/v1/checkout/sessions", baseForm(), map[string]string{}) // unauthenticated: logged too

	res, raw := e.do(http.MethodGet, "/_sandbox/requests", "", nil, map[string]string{})
	if res.StatusCode != 200 {
		t.Fatalf("requests: %d", res.StatusCode)
	}
	for _, secret := range []string{testKey, "sk_test_secretKeyDoNotLog99", "Bearer", "uthorization"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("request log contains %q", secret)
		}
	}
	var log struct {
		Requests []struct {
			Method         string         `json:"method"`
			Path           string         `json:"path"`
			Form           map[string]any `json:"form"`
			IdempotencyKey string         `json:"idempotency_key"`
			Status         int            `json:"status"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Requests) != 4 {
		t.Fatalf("want 4 logged requests, got %d: %s", len(log.Requests), raw)
	}
	r0, r1, r3 := log.Requests[0], log.Requests[1], log.Requests[3]
	if r0.Method != "POST" || r0.Path != "/v1/checkout/sessions" || r0.IdempotencyKey != "log-key-1" || r0.Status != 200 ||
		r0.Form["line_items[0][price_data][unit_amount]"] != "2000" {
		t.Errorf("first record %+v", r0)
	}
	if r1.Method != "GET" || r1.Path != "/v1/checkout/sessions/"+s.ID || r1.Form["expand[0]"] != "line_items" || r1.IdempotencyKey != "" {
		t.Errorf("retrieve record %+v", r1)
	}
	if r3.Status != 401 {
		t.Errorf("unauthenticated record %+v", r3)
	}
	// Development endpoints are not logged.
	e.getJSON("/_sandbox/health")
	e.getJSON("/_sandbox/checkout?client_secret=" + url.QueryEscape(s.ClientSecret))

	res, out := e.postJSON("/_sandbox/reset", nil)
	if res.StatusCode != 200 || out["ok"] != true {
		t.Errorf("reset: %d %v", res.StatusCode, out)
	}
	_, after := e.getJSON("/_sandbox/requests")
	if reqs := after["requests"].([]any); len(reqs) != 0 {
		t.Errorf("log after reset: %v", reqs)
	}
	if _, err := e.sc.V1CheckoutSessions.Retrieve(context.Background(), s.ID, nil); stripeErr(t, err).HTTPStatusCode != 404 {
		t.Errorf("session survived reset")
	}
}

func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	const workers, each = 16, 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				s, err := e.sc.V1CheckoutSessions.Create(context.Background(), tshirtParams())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := e.sc.V1CheckoutSessions.Retrieve(context.Background(), s.ID, nil); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					e.pay(s.ClientSecret, "4242424242424242")
				}
				mu.Lock()
				ids[s.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ids) != workers*each {
		t.Errorf("%d distinct ids, want %d", len(ids), workers*each)
	}
	_, log := e.getJSON("/_sandbox/requests")
	if n := len(log["requests"].([]any)); n != 2*workers*each {
		t.Errorf("%d logged requests, want %d", n, 2*workers*each)
	}
}

func TestDevEndpointsCORSAndHealth(t *testing.T) {
	e := newEnv(t)
	res, out := e.getJSON("/_sandbox/health")
	if res.StatusCode != 200 || out["ok"] != true || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("health: %d %v %v", res.StatusCode, out, res.Header)
	}
	for _, path := range []string{"/_sandbox/checkout/pay", "/stripe.js"} {
		res, _ := e.do(http.MethodOptions, path, "", nil, map[string]string{
			"Origin": "http://127.0.0.1:8787", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "content-type",
		})
		h := res.Header
		if res.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") {
			t.Errorf("preflight %s: %d %v", path, res.StatusCode, h)
		}
	}
	if res, _ := e.do(http.MethodGet, "/v1/checkout/sessions/x", "", nil, nil); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the secret-key API must not be CORS-enabled")
	}
	s := e.create(tshirtParams())
	res, obj := e.getJSON("/_sandbox/sessions/" + s.ID)
	if res.StatusCode != 200 || obj["id"] != s.ID || obj["line_items"] == nil {
		t.Errorf("dev session view: %d %v", res.StatusCode, obj)
	}
}

func TestStandinServed(t *testing.T) {
	e := newEnv(t)
	res, body := e.do(http.MethodGet, "/stripe.js", "", nil, map[string]string{})
	if res.StatusCode != 200 {
		t.Fatalf("/stripe.js: %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("headers %v", res.Header)
	}
	if !bytes.Equal(body, standinJS) {
		t.Errorf("served body differs from the embedded file")
	}
	js := string(body)
	for _, want := range []string{
		"window.Stripe", "document.currentScript", "initEmbeddedCheckout", "fetchClientSecret", "onComplete",
		"data-sandbox-checkout", `"card_number"`, `"exp"`, `"cvc"`, `"email"`, "data-sandbox-pay", "data-sandbox-error",
		`role: "alert"`, "Stripe sandbox — development stand-in, no real payment", "4242 4242 4242 4242", "12 / 34",
		"Intl.NumberFormat", "/_sandbox/checkout?client_secret=", "/_sandbox/checkout/pay",
		"window.top.location.assign", "only one embedded checkout is allowed",
		"createConfirmationToken", "handleNextAction", "retrievePaymentIntent", "/v1/confirmation_tokens",
		"input[name=cardnumber]", "data-sandbox-3ds-complete", "Complete authentication", "/authenticate",
		"IntegrationError", "__stripeSandbox", "data-sandbox-delayed", "data-sandbox-save",
	} {
		if !strings.Contains(js, want) {
			t.Errorf("standin.js lacks %q", want)
		}
	}
	// Strict-CSP friendliness: no inline style attributes, no <style>, no HTML strings.
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "<style", `setAttribute("style"`, "cssText", "eval(", "new Function"} {
		if strings.Contains(js, banned) {
			t.Errorf("standin.js uses %q", banned)
		}
	}
}

func TestStandinSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	path, err := filepath.Abs("standin.js")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
		t.Errorf("node --check standin.js: %v\n%s", err, out)
	}
}

func TestLogLinesRedactSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	e := newEnv(t, func(sb *Sandbox) {
		sb.Logger = log.New(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return buf.Write(p)
		}), "", 0)
	})
	s := e.create(tshirtParams())
	e.getJSON("/_sandbox/checkout?client_secret=" + url.QueryEscape(s.ClientSecret))
	e.pay(s.ClientSecret, "4242424242424242")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	secretPart := strings.TrimPrefix(s.ClientSecret, s.ID+"_secret_")
	for _, leak := range []string{testKey, secretPart, "Bearer"} {
		if strings.Contains(out, leak) {
			t.Errorf("log output contains %q:\n%s", leak, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 3 || !strings.Contains(out, "POST /v1/checkout/sessions 200") ||
		!strings.Contains(out, "_secret_[redacted]") {
		t.Errorf("log output:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := newID("cs_test_", 58)
		if !sessionIDRE.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	if !luhn("4242424242424242") || !luhn("4000000000000002") || luhn("4242424242424241") {
		t.Errorf("luhn")
	}
}

func TestListenAddr(t *testing.T) {
	cases := []struct {
		flag, env, want string
		err             bool
	}{
		{"", "", "127.0.0.1:8789", false},
		{"", "9999", "127.0.0.1:9999", false},
		{"127.0.0.1:8790", "9999", "127.0.0.1:8790", false},
		{"", "abc", "", true},
		{"nonsense", "", "", true},
	}
	for _, c := range cases {
		got, err := listenAddr(c.flag, c.env)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("listenAddr(%q, %q) = %q, %v", c.flag, c.env, got, err)
		}
	}
}
