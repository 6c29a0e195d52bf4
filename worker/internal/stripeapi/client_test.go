package stripeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
)

const testKey = "sk_test_client"

// recorded is one request the test server saw.
type recorded struct {
	Method, Path, Auth, Idem string
	Values                   url.Values // query and form
}

// newTestClient returns a Client whose Stripe is handler, and the requests
// it received.
func newTestClient(t *testing.T, timeout time.Duration, handler http.HandlerFunc) (*Client, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var seen []recorded
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		vals, _ := url.ParseQuery(string(body))
		for k, v := range r.URL.Query() {
			vals[k] = v
		}
		mu.Lock()
		seen = append(seen, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), vals})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		handler(w, r)
	}))
	t.Cleanup(ts.Close)
	c := New(Config{SecretKey: testKey, APIBase: ts.URL, Timeout: timeout, Transport: ts.Client().Transport})
	return c, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), seen...)
	}
}

// TestEveryCallSendsItsRequest: each method's path, method and parameters,
// with the key, and an idempotency key on every POST.
func TestEveryCallSendsItsRequest(t *testing.T) {
	c, seen := newTestClient(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"x_1","object":"x"}`)
	})
	ctx := context.Background()
	search := &stripe.PaymentIntentSearchParams{}
	search.Query = "status:'succeeded'"
	search.Limit = stripe.Int64(5)
	search.Page = stripe.String("page_2")
	calls := []struct {
		want string // "METHOD path"
		vals map[string]string
		do   func() error
	}{
		{"POST /v1/checkout/sessions", map[string]string{"mode": "payment"}, func() error {
			_, err := c.CreateCheckoutSession(ctx, &stripe.CheckoutSessionCreateParams{Mode: stripe.String("payment")})
			return err
		}},
		{"GET /v1/checkout/sessions/cs_test_1", map[string]string{"expand[0]": "line_items", "expand[1]": "payment_intent"}, func() error {
			_, err := c.RetrieveCheckoutSession(ctx, "cs_test_1", "line_items", "payment_intent")
			return err
		}},
		{"GET /v1/checkout/sessions/cs_test_1", nil, func() error {
			_, err := c.RetrieveCheckoutSession(ctx, "cs_test_1")
			return err
		}},
		{"GET /v1/checkout/sessions/cs_test_1/line_items", map[string]string{"limit": "100"}, func() error {
			_, err := c.ListLineItems(ctx, "cs_test_1")
			return err
		}},
		{"POST /v1/payment_intents", map[string]string{"amount": "100"}, func() error {
			_, err := c.CreatePaymentIntent(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100)})
			return err
		}},
		{"GET /v1/payment_intents/pi_1", nil, func() error { _, err := c.RetrievePaymentIntent(ctx, "pi_1"); return err }},
		{"POST /v1/payment_intents/pi_1", map[string]string{"metadata[k]": "v"}, func() error {
			_, err := c.UpdatePaymentIntent(ctx, "pi_1", &stripe.PaymentIntentUpdateParams{Metadata: map[string]string{"k": "v"}})
			return err
		}},
		{"POST /v1/payment_intents/pi_1/confirm", nil, func() error {
			_, err := c.ConfirmPaymentIntent(ctx, "pi_1", &stripe.PaymentIntentConfirmParams{})
			return err
		}},
		{"POST /v1/payment_intents/pi_1/capture", map[string]string{"amount_to_capture": "50"}, func() error {
			_, err := c.CapturePaymentIntent(ctx, "pi_1", &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(50)})
			return err
		}},
		{"POST /v1/payment_intents/pi_1/cancel", nil, func() error {
			_, err := c.CancelPaymentIntent(ctx, "pi_1", nil)
			return err
		}},
		{"POST /v1/payment_intents/pi_1/increment_authorization", map[string]string{"amount": "500"}, func() error {
			_, err := c.IncrementAuthorization(ctx, "pi_1", &stripe.PaymentIntentIncrementAuthorizationParams{Amount: stripe.Int64(500)})
			return err
		}},
		{"POST /v1/payment_intents/pi_1/verify_microdeposits", map[string]string{"descriptor_code": "SM11AA"}, func() error {
			_, err := c.VerifyMicrodeposits(ctx, "pi_1", &stripe.PaymentIntentVerifyMicrodepositsParams{DescriptorCode: stripe.String("SM11AA")})
			return err
		}},
		{"POST /v1/payment_intents/pi_1/apply_customer_balance", nil, func() error {
			_, err := c.ApplyCustomerBalance(ctx, "pi_1", &stripe.PaymentIntentApplyCustomerBalanceParams{})
			return err
		}},
		{"GET /v1/payment_intents/search", map[string]string{"query": "status:'succeeded'", "limit": "5", "page": "page_2"}, func() error {
			_, err := c.SearchPaymentIntents(ctx, search)
			return err
		}},
		{"GET /v1/confirmation_tokens/ctoken_1", nil, func() error { _, err := c.RetrieveConfirmationToken(ctx, "ctoken_1"); return err }},
		{"POST /v1/customers", map[string]string{"email": "j@example.com"}, func() error {
			_, err := c.CreateCustomer(ctx, &stripe.CustomerCreateParams{Email: stripe.String("j@example.com")})
			return err
		}},
		{"POST /v1/refunds", map[string]string{"payment_intent": "pi_1"}, func() error {
			_, err := c.CreateRefund(ctx, &stripe.RefundCreateParams{PaymentIntent: stripe.String("pi_1")})
			return err
		}},
		{"POST /v1/billing_portal/sessions", map[string]string{"customer": "cus_1"}, func() error {
			_, err := c.CreatePortalSession(ctx, &stripe.BillingPortalSessionParams{Customer: stripe.String("cus_1")})
			return err
		}},
	}
	for i, call := range calls {
		if err := call.do(); err != nil {
			t.Errorf("%s: %v", call.want, err)
			continue
		}
		all := seen()
		if len(all) != i+1 {
			t.Fatalf("%s: %d requests so far, want %d", call.want, len(all), i+1)
		}
		got := all[i]
		if got.Method+" "+got.Path != call.want {
			t.Errorf("sent %s %s, want %s", got.Method, got.Path, call.want)
		}
		if got.Auth != "Bearer "+testKey {
			t.Errorf("%s: Authorization %q", call.want, got.Auth)
		}
		if got.Method == http.MethodPost && got.Idem == "" {
			t.Errorf("%s: no Idempotency-Key", call.want)
		}
		for k, v := range call.vals {
			if got.Values.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", call.want, k, got.Values.Get(k), v, got.Values)
			}
		}
		if len(got.Values) != len(call.vals) {
			t.Errorf("%s: sent %v, want only %v", call.want, got.Values, call.vals)
		}
	}
	if _, err := c.RetrievePaymentIntent(ctx, ""); !errors.Is(err, errNoID) {
		t.Errorf("no id: err = %v", err)
	}
}

// TestObjectPathMatchesFormatURLPath: the paths the client builds are
// stripe-go's, byte for byte, whatever the id holds.
func TestObjectPathMatchesFormatURLPath(t *testing.T) {
	for _, id := range []string{"cs_test_a1", "pi_1/../x", "a b", "%2F", "?q=1#f", "é", "a+b&c=d", ""} {
		for _, prefix := range []string{"/v1/checkout/sessions/", "/v1/payment_intents/"} {
			if got, want := objectPath(prefix, id), stripe.FormatURLPath(prefix+"%s", id); got != want {
				t.Errorf("objectPath(%q, %q) = %q, want %q", prefix, id, got, want)
			}
		}
	}
}

// TestCallLeavesParamsAsGiven: the caller's parameters come back with their
// own context, so the deadline's context does not outlive the call.
func TestCallLeavesParamsAsGiven(t *testing.T) {
	c, _ := newTestClient(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"pi_1","object":"payment_intent","status":"succeeded"}`)
	})
	params := &stripe.PaymentIntentCaptureParams{}
	pi, err := c.CapturePaymentIntent(context.Background(), "pi_1", params)
	if err != nil || pi.Status != "succeeded" {
		t.Fatalf("capture: %+v %v", pi, err)
	}
	if params.Context != nil {
		t.Errorf("params.Context = %v, want nil as given", params.Context)
	}
}

// TestRefundReplayed: Stripe's Idempotent-Replayed header marks a refund an
// earlier request made.
func TestRefundReplayed(t *testing.T) {
	replay := false
	c, _ := newTestClient(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		if replay {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		io.WriteString(w, `{"id":"re_1","object":"refund","amount":700}`)
	})
	for _, replay = range []bool{false, true} {
		ref, err := c.CreateRefund(context.Background(), &stripe.RefundCreateParams{PaymentIntent: stripe.String("pi_1")})
		if err != nil || ref.Amount != 700 || ref.Replayed != replay {
			t.Errorf("replayed %v: %+v %v", replay, ref, err)
		}
	}
}

// TestErrors: Stripe's refusals are an *Error; a late answer is a
// *TimeoutError; an answer that is not JSON a *BadResponseError that does not
// quote the body (which may hold a client secret). It pins stripe-go's
// message for undecodable answers (stripeJSONError).
func TestErrors(t *testing.T) {
	c, _ := newTestClient(t, 200*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/payment_intents/pi_declined/confirm":
			w.WriteHeader(402)
			io.WriteString(w, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","param":"payment_method","charge":"ch_1","doc_url":"https://stripe.com/docs/error-codes/card-declined","payment_intent":{"id":"pi_declined","object":"payment_intent","amount":2000,"last_payment_error":{"code":"card_declined"}},"payment_method":{"id":"pm_1","card":{"brand":"visa"}},"status":200,"request_id":"req_forged","RetryAfter":"1"}}`)
		case "/v1/payment_intents/pi_slow":
			<-r.Context().Done()
		case "/v1/payment_intents/pi_garbled":
			io.WriteString(w, `{"id":"pi_garbled","client_secret":"pi_garbled_secret_x`)
		}
	})
	ctx := context.Background()
	_, err := c.ConfirmPaymentIntent(ctx, "pi_declined", nil)
	// The status, request id and Retry-After come from the answer, never
	// from its body (which names a "status" and "request_id" of its own here).
	var se *Error
	want := Error{Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeCardDeclined, DeclineCode: "insufficient_funds", Param: "payment_method",
		Msg: "Your card has insufficient funds.", DocURL: "https://stripe.com/docs/error-codes/card-declined", ChargeID: "ch_1",
		PaymentIntent: "pi_declined", HTTPStatusCode: 402}
	if !errors.As(err, &se) || *se != want {
		t.Errorf("decline: %#v, want %#v", err, want)
	}
	// Its message names the refusal but never quotes Stripe's message,
	// which can quote the request.
	if msg := se.Error(); !strings.Contains(msg, "402") || !strings.Contains(msg, "card_declined") || strings.Contains(msg, "insufficient funds") {
		t.Errorf("decline message %q", msg)
	}
	start := time.Now()
	_, err = c.RetrievePaymentIntent(ctx, "pi_slow")
	var te *TimeoutError
	if !errors.As(err, &te) || te.Timeout != 200*time.Millisecond {
		t.Errorf("slow: %#v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow call took %v", d)
	}
	_, err = c.RetrievePaymentIntent(ctx, "pi_garbled")
	var be *BadResponseError
	if !errors.As(err, &be) {
		t.Fatalf("garbled: %#v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error quotes the body: %v", err)
	}
}

// The ConfirmationToken's retrieve and what the worker reads of it; a
// PaymentIntent's latest_charge as an id or expanded, always written as
// the id.
func TestConfirmationTokenAndLatestCharge(t *testing.T) {
	c, seen := newTestClient(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/"):
			io.WriteString(w, `{"id":"ctoken_1","object":"confirmation_token","expires_at":1700000000,"livemode":false,"payment_intent":"pi_9","setup_intent":null,`+
				`"payment_method_preview":{"type":"card","billing_details":{"email":"j@example.com","address":{"country":"US"}},"card":{"brand":"mastercard","funding":"prepaid","country":"US","wallet":{"type":"google_pay"}}},`+
				`"shipping":{"name":"J","address":{"country":"CA"}}}`)
		case r.URL.Query().Get("expand[0]") == "latest_charge":
			io.WriteString(w, `{"id":"pi_1","latest_charge":{"id":"ch_1","payment_method_details":{"type":"card","card":{"incremental_authorization":{"status":"available"}}}}}`)
		default:
			io.WriteString(w, `{"id":"pi_1","latest_charge":"ch_1"}`)
		}
	})
	ctx := context.Background()
	tok, err := c.RetrieveConfirmationToken(ctx, "ctoken_1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresAt != 1700000000 || tok.PaymentIntent != "pi_9" || tok.SetupIntent != "" || tok.Preview.Type != "card" || tok.Preview.Card.Funding != "prepaid" ||
		tok.Preview.Card.Wallet.Type != "google_pay" || tok.Preview.BillingDetails.Email != "j@example.com" || tok.Shipping.Address.Country != "CA" {
		t.Errorf("token = %+v", tok)
	}
	if _, err := c.RetrieveConfirmationToken(ctx, ""); !errors.Is(err, errNoID) {
		t.Errorf("empty id: %v", err)
	}
	plain, err := c.RetrievePaymentIntent(ctx, "pi_1")
	if err != nil || plain.LatestCharge != (ChargeRef{ID: "ch_1"}) {
		t.Errorf("plain: %+v %v", plain, err)
	}
	exp, err := c.RetrievePaymentIntent(ctx, "pi_1", "latest_charge")
	if err != nil || exp.LatestCharge != (ChargeRef{ID: "ch_1", IncrementalAuthorization: "available", Expanded: true}) {
		t.Errorf("expanded: %+v %v", exp, err)
	}
	if b, _ := json.Marshal(exp); !strings.Contains(string(b), `"latest_charge":"ch_1"`) {
		t.Errorf("encoded: %s", b)
	}
	if b, _ := json.Marshal(&PaymentIntent{ID: "pi_2"}); strings.Contains(string(b), "latest_charge") {
		t.Errorf("no charge encoded: %s", b)
	}
	s := seen()
	if s[0].Method != "GET" || s[0].Path != "/v1/confirmation_tokens/ctoken_1" || s[0].Auth != "Bearer "+testKey || len(s[0].Values) != 0 {
		t.Errorf("token request %+v", s[0])
	}
}

// TestCallHeadersAndRefusals: every call names the API version and the key;
// a POST's idempotency key is the caller's (trimmed) or a new one per call,
// and one over Stripe's 255 characters is refused before anything is sent;
// an error status whose body is not Stripe's error JSON is a
// *BadResponseError that does not quote the body, and Stripe's own error
// keeps its Retry-After for the worker's 503.
func TestCallHeadersAndRefusals(t *testing.T) {
	var mu sync.Mutex
	var hdrs []http.Header
	c, seen := newTestClient(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hdrs = append(hdrs, r.Header.Clone())
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/payment_intents/pi_html":
			w.WriteHeader(502)
			io.WriteString(w, `<html>pi_html_secret_x</html>`)
		case "/v1/payment_intents/pi_noerr":
			w.WriteHeader(400)
			io.WriteString(w, `{"client_secret":"pi_noerr_secret_x"}`)
		case "/v1/payment_intents/pi_busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`)
		default:
			io.WriteString(w, `{"id":"pi_1","object":"payment_intent","status":"requires_capture"}`)
		}
	})
	ctx := context.Background()
	p := &stripe.PaymentIntentCaptureParams{}
	p.IdempotencyKey = stripe.String("  capture-pi_1  ")
	if _, err := c.CapturePaymentIntent(ctx, "pi_1", p); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := c.CancelPaymentIntent(ctx, "pi_1", nil); err != nil {
			t.Fatal(err)
		}
	}
	got := seen()
	if len(got) != 3 || got[0].Idem != "capture-pi_1" || got[1].Idem == "" || got[1].Idem == got[2].Idem {
		t.Errorf("idempotency keys: %+v", got)
	}
	for _, h := range hdrs {
		if h.Get("Stripe-Version") != stripe.APIVersion || h.Get("Authorization") != "Bearer "+testKey || h.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("headers: %v", h)
		}
	}
	long := &stripe.PaymentIntentCaptureParams{}
	long.IdempotencyKey = stripe.String(strings.Repeat("k", 256))
	if _, err := c.CapturePaymentIntent(ctx, "pi_1", long); err == nil || len(seen()) != 3 {
		t.Errorf("a 256-character key: err %v, requests %d (want an error and none sent)", err, len(seen()))
	}
	for _, id := range []string{"pi_html", "pi_noerr"} {
		_, err := c.RetrievePaymentIntent(ctx, id)
		var be *BadResponseError
		if !errors.As(err, &be) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %#v", id, err)
		}
	}
	_, err := c.RetrievePaymentIntent(ctx, "pi_busy")
	var se *Error
	if !errors.As(err, &se) || se.HTTPStatusCode != 429 || se.Code != "rate_limit" || se.RetryAfter != "7" {
		t.Errorf("rate limited: %#v", err)
	}
}
