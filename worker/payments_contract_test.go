//go:build contract

package worker

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// capturableStand fabricates the answer to retrieving a PaymentIntent as an
// authorized, manual-capture one (stripe-mock is stateless: its fixture is
// never requires_capture), so that the capture and increment handlers go on
// to send their requests, which stripe-mock then judges. Everything else
// goes to stripe-mock.
type capturableStand struct{ next http.RoundTripper }

var retrieveIntentPath = regexp.MustCompile(`^/v1/payment_intents/pi_[A-Za-z0-9]+$`)

func (c capturableStand) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && retrieveIntentPath.MatchString(r.URL.Path) {
		// stripe-mock judges the retrieve (with its expand of
		// latest_charge); the answer is the stand's.
		res, err := c.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		res.Body.Close()
		body := `{"id":"pi_123","object":"payment_intent","amount":5000,"amount_capturable":5000,"amount_received":0,"currency":"usd","status":"requires_capture","capture_method":"manual","metadata":{},` +
			`"latest_charge":{"id":"ch_123","object":"charge","payment_method_details":{"type":"card","card":{"incremental_authorization":{"status":"available"}}}}}`
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_stand"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/") {
		// stripe-mock judges the retrieve; its fixture expired in 2009 and
		// is live mode, so the answer is made usable (test mode, unexpired)
		// and, for ctoken_prepaid..., a prepaid card.
		res, err := c.next.RoundTrip(r)
		if err != nil || res.StatusCode != 200 {
			return res, err
		}
		var tok map[string]any
		err = json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		tok["expires_at"], tok["livemode"] = time.Now().Add(time.Hour).Unix(), false
		if !strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/ctoken_save") {
			tok["setup_future_usage"] = nil // as the pay page makes it for an order that saves nothing
		}
		funding := "credit"
		if strings.HasPrefix(r.URL.Path, "/v1/confirmation_tokens/ctoken_prepaid") {
			funding = "prepaid"
		}
		tok["payment_method_preview"] = map[string]any{"type": "card", "card": map[string]any{"brand": "mastercard", "funding": funding, "country": "US", "wallet": nil}}
		b, _ := json.Marshal(tok)
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Del("Content-Length")
		return res, nil
	}
	// A declined increment (stripe-mock never declines), so that the worker
	// goes on to record the attempt with an update, which stripe-mock judges.
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/increment_authorization") {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "amount=2000000") {
			decline := `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`
			return &http.Response{StatusCode: 402, Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_stand"}},
				Body: io.NopCloser(strings.NewReader(decline)), Request: r}, nil
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	return c.next.RoundTrip(r)
}

// Every request shape of issue 4 is valid for Stripe's basil API: Checkout
// options from the catalog and the request, hosted Checkout from a form,
// create-and-confirm PaymentIntents, and the operator API.
func TestStripeMockAcceptsPaymentRequests(t *testing.T) {
	mock := stripeMock(t)
	j := &judged{base: http.DefaultTransport}
	cat := `{"shop":{"card_rules":{"refused_funding":["prepaid"],"refused_countries":["BR"]},"allow_promotion_codes":true,"customer_creation":"always","saved_payment_method_options":{"payment_method_save":"enabled","payment_method_remove":"enabled"},"max_order_amount":{"usd":100000}},
	  "products":[
	    {"id":"plain","name":"Plain","description":"A thing","unit_amount":1000,"currency":"usd"},
	    {"id":"rental","name":"Rental","unit_amount":2000,"currency":"usd","capture":"manual","incremental_authorization":true},
	    {"id":"member","name":"Membership","unit_amount":1500,"currency":"usd","save_payment_method":true},
	    {"id":"priced","name":"Priced","unit_amount":900,"currency":"usd","price":"price_1Pabc"}]}`
	cfg := testConfig(t, map[string]string{"STRIPE_API_BASE": mock, "CATALOG_JSON": cat, "PUBLIC_URL": "https://shop.example",
		"ADMIN_TOKEN": testAdminToken, "CUSTOMER_TOKEN_SECRET": testCustomerSecret})
	srv := NewServer(cfg, Deps{Transport: capturableStand{j}})
	tok, _ := srv.mintCustomerToken("cus_123", time.Hour)

	type rq struct{ method, target, ct, body string }
	json, form := "application/json", "application/x-www-form-urlencoded"
	requests := []struct {
		rq
		status, stripeCalls int
	}{
		{rq{"POST", "/create-checkout-session", json, `{"items":[{"id":"rental","quantity":2}],"email":"jenny@example.com","idempotencyKey":"contract-0001"}`}, 200, 1},
		{rq{"POST", "/create-checkout-session", json, `{"items":[{"id":"member"},{"id":"plain"}],"uiMode":"hosted","cancelPath":"/shop/"}`}, 200, 1},
		{rq{"POST", "/create-checkout-session", json, `{"items":[{"id":"plain"},{"id":"priced","quantity":3}],"customerToken":"` + tok + `"}`}, 200, 1},
		{rq{"POST", "/create-checkout-session", form, `product=plain&quantity=2&email=jenny%40example.com`}, 303, 1},
		{rq{"POST", "/create-checkout-session", form, `items=plain%3A1+priced%3A2&returnPath=%2Fthanks%2F`}, 303, 1},
		// Each: GET /v1/confirmation_tokens/{id}, then the PaymentIntent.
		{rq{"POST", "/create-confirm-intent", json, `{"items":[{"id":"rental","quantity":2}],"confirmationToken":"ctoken_1Abc","email":"jenny@example.com","idempotencyKey":"contract-0002"}`}, 200, 2},
		{rq{"POST", "/create-confirm-intent", json, `{"items":[{"id":"member"}],"confirmationToken":"ctoken_save1","customerToken":"` + tok + `","returnPath":"/pay/"}`}, 200, 2},
		{rq{"POST", "/create-confirm-intent", json, `{"items":[{"id":"plain"},{"id":"priced"}],"confirmationToken":"ctoken_1Abc"}`}, 200, 2},
		// A saved payment method without a customer: POST /v1/customers first.
		{rq{"POST", "/create-confirm-intent", json, `{"items":[{"id":"member"}],"confirmationToken":"ctoken_save2","email":"sam@example.com","idempotencyKey":"contract-0003"}`}, 200, 3},
		// A card rule's refusal: the token is read, nothing is created.
		{rq{"POST", "/create-confirm-intent", json, `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_prepaid1"}`}, 422, 1},
		{rq{"GET", "/admin/payment_intents/pi_123", "", ""}, 200, 1}, // judged by stripe-mock (expand[]=latest_charge), answered by the stand
		{rq{"GET", "/admin/payment_intents/search?query=status%3A%27requires_capture%27+AND+metadata%5B%27kit_order%27%5D%3A%27ord_1%27&limit=10", "", ""}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/confirm", json, `{"payment_method":"pm_card_visa","return_url":"https://shop.example/pay.html"}`}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/confirm", "", ""}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/capture", json, `{"amount_to_capture":3000}`}, 200, 2}, // the retrieve, then the capture
		{rq{"POST", "/admin/payment_intents/pi_123/approve", "", ""}, 200, 2},
		{rq{"POST", "/admin/payment_intents/pi_123/cancel", json, `{"reason":"fraudulent"}`}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/reject", "", ""}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/increment_authorization", json, `{"amount":7000}`}, 200, 2},
		{rq{"POST", "/admin/payment_intents/pi_123/increment_authorization", json, `{"amount":2000000}`}, 402, 2}, // the retrieve; the update recording the attempt
		{rq{"POST", "/admin/payment_intents/pi_123/verify_microdeposits", json, `{"amounts":[32,45]}`}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/verify_microdeposits", json, `{"descriptor_code":"SM11AA"}`}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/apply_customer_balance", json, `{"amount":1000,"currency":"usd"}`}, 200, 1},
		{rq{"POST", "/admin/payment_intents/pi_123/apply_customer_balance", "", ""}, 200, 1},
		{rq{"POST", "/admin/billing_portal_sessions", json, `{"customer":"cus_123","return_url":"https://shop.example/account"}`}, 200, 1},
		{rq{"POST", "/admin/billing_portal_sessions", json, `{"customer":"cus_123"}`}, 200, 1},
	}
	want := 0
	for _, r := range requests {
		hdr := map[string]string{}
		if r.ct != "" {
			hdr["Content-Type"] = r.ct
		}
		if strings.HasPrefix(r.target, "/admin/") {
			hdr["Authorization"] = "Bearer " + testAdminToken
		}
		before := len(j.verdicts)
		rec := send(t, srv, r.method, "https://shop.example"+r.target, hdr, r.body)
		if rec.Code != r.status {
			t.Errorf("%s %s %s: status %d, want %d: %s", r.method, r.target, r.body, rec.Code, r.status, rec.Body)
		}
		if got := len(j.verdicts) - before; got != r.stripeCalls {
			t.Errorf("%s %s: %d requests reached stripe-mock, want %d", r.method, r.target, got, r.stripeCalls)
		}
		want += r.stripeCalls
	}
	if len(j.verdicts) != want {
		t.Errorf("stripe-mock saw %d requests, want %d: %v", len(j.verdicts), want, j.verdicts)
	}
	for _, f := range j.failures {
		t.Errorf("stripe-mock rejected: %s", f)
	}
}
