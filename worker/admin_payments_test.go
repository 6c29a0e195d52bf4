package worker

import (
	"encoding/json"
	"strings"
	"testing"

	"checkoutkit/worker/internal/stripeapi"
)

const (
	stubCapturable = `{"id":"pi_auth","object":"payment_intent","amount":4000,"amount_capturable":4000,"amount_received":0,"currency":"usd","status":"requires_capture","capture_method":"manual","client_secret":"pi_auth_secret_hidden","metadata":{"kit_order":"ord_0123456789abcdef"},"customer":{"id":"cus_1","object":"customer"},"payment_method_options":{"card":{"request_incremental_authorization":"if_available","request_incremental_authorization_support":true}},"latest_charge":{"id":"ch_auth","object":"charge","payment_method_details":{"type":"card","card":{"brand":"visa","incremental_authorization":{"status":"available"}}}}}`
	stubCaptured   = `{"id":"pi_auth","object":"payment_intent","amount":4000,"amount_capturable":0,"amount_received":3000,"currency":"usd","status":"succeeded","capture_method":"manual","client_secret":"pi_auth_secret_hidden"}`
	stubCanceled   = `{"id":"pi_auth","object":"payment_intent","amount":4000,"amount_capturable":0,"amount_received":0,"currency":"usd","status":"canceled","cancellation_reason":"fraudulent"}`
)

func decodeIntent(t *testing.T, body []byte) stripeapi.PaymentIntent {
	t.Helper()
	var pi stripeapi.PaymentIntent
	if err := json.Unmarshal(body, &pi); err != nil {
		t.Fatalf("not a PaymentIntent: %v: %s", err, body)
	}
	if strings.Contains(string(body), "secret") {
		t.Errorf("client secret shown to the operator: %s", body)
	}
	return pi
}

func TestAdminPaymentEndpointsNeedTheToken(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	for _, ep := range []struct{ method, path string }{
		{"GET", "/admin/payment_intents/pi_1"}, {"GET", "/admin/payment_intents/search?query=x"},
		{"POST", "/admin/payment_intents/pi_1/capture"}, {"POST", "/admin/payment_intents/pi_1/cancel"},
		{"POST", "/admin/payment_intents/pi_1/confirm"}, {"POST", "/admin/payment_intents/pi_1/increment_authorization"},
		{"POST", "/admin/payment_intents/pi_1/verify_microdeposits"}, {"POST", "/admin/payment_intents/pi_1/apply_customer_balance"},
		{"POST", "/admin/payment_intents/pi_1/approve"}, {"POST", "/admin/payment_intents/pi_1/reject"},
		{"POST", "/admin/billing_portal_sessions"}, {"POST", "/admin/customer_tokens"},
	} {
		rec := send(t, srv, ep.method, ep.path, map[string]string{"Authorization": "Bearer wrong-token-wrong-token-wrong-token"}, "")
		if rec.Code != 401 {
			t.Errorf("%s %s with a wrong token: %d", ep.method, ep.path, rec.Code)
		}
		rec = send(t, srv, ep.method, ep.path, map[string]string{"Authorization": "Bearer " + testAdminToken, "Origin": "https://evil.example"}, "")
		if rec.Code != 403 {
			t.Errorf("%s %s cross-origin: %d", ep.method, ep.path, rec.Code)
		}
	}
	if len(stub.Calls()) != 0 {
		t.Error("Stripe called without a valid token")
	}
}

func TestAdminRetrieveAndSearch(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCapturable)
	rec := adminCall(t, srv, "GET", "/admin/payment_intents/pi_auth", "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	pi := decodeIntent(t, rec.Body.Bytes())
	if pi.ID != "pi_auth" || pi.Status != "requires_capture" || pi.AmountCapturable != 4000 || pi.Customer != "cus_1" ||
		pi.Metadata["kit_order"] != "ord_0123456789abcdef" || !pi.PaymentMethodOptions.Card.RequestIncrementalAuthorizationSupport {
		t.Errorf("intent = %+v", pi)
	}
	checkError(t, adminCall(t, srv, "GET", "/admin/payment_intents/ch_123", ""), 400, "invalid_payment_intent", "id")
	checkError(t, adminCall(t, srv, "GET", "/admin/payment_intents/pi_nope", ""), 404, "not_found", "")

	stub.set("GET /v1/payment_intents/search", 200, `{"object":"search_result","data":[`+stubCapturable+`],"has_more":true,"next_page":"page_2"}`)
	rec = adminCall(t, srv, "GET", "/admin/payment_intents/search?query="+strings.ReplaceAll("status:'requires_capture' AND metadata['kit_order']:'ord_1'", " ", "+")+"&limit=5&page=page_1", "")
	if rec.Code != 200 {
		t.Fatalf("search: %d %s", rec.Code, rec.Body)
	}
	var res struct {
		Data     []stripeapi.PaymentIntent
		HasMore  bool   `json:"has_more"`
		NextPage string `json:"next_page"`
	}
	json.Unmarshal(rec.Body.Bytes(), &res)
	if len(res.Data) != 1 || !res.HasMore || res.NextPage != "page_2" || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("search answer = %s", rec.Body)
	}
	c := stub.Calls()[len(stub.Calls())-1]
	if c.Query.Get("query") != "status:'requires_capture' AND metadata['kit_order']:'ord_1'" || c.Query.Get("limit") != "5" || c.Query.Get("page") != "page_1" {
		t.Errorf("search query sent = %v", c.Query)
	}
	n := len(stub.Calls())
	for _, bad := range []struct{ q, code, param string }{
		{"", "missing_query", "query"}, {"?query=", "missing_query", "query"}, {"?query=a&limit=0", "invalid_limit", "limit"},
		{"?query=a&limit=101", "invalid_limit", "limit"}, {"?query=a%0Ab", "invalid_query", "query"}, {"?query=a&expand=x", "unknown_parameter", "expand"},
		{"?query=a&query=b", "duplicate_parameter", "query"},
	} {
		checkError(t, adminCall(t, srv, "GET", "/admin/payment_intents/search"+bad.q, ""), 400, bad.code, bad.param)
	}
	if len(stub.Calls()) != n {
		t.Error("a bad search reached Stripe")
	}
}

func TestAdminCaptureApproveAndCancelReject(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCapturable)
	stub.set("POST /v1/payment_intents/pi_auth/capture", 200, stubCaptured)
	stub.set("POST /v1/payment_intents/pi_auth/cancel", 200, stubCanceled)

	rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", `{"amount_to_capture":3000}`)
	if rec.Code != 200 || decodeIntent(t, rec.Body.Bytes()).Status != "succeeded" {
		t.Fatalf("capture: %d %s", rec.Code, rec.Body)
	}
	calls := stub.Calls()
	if len(calls) != 2 || calls[1].Path != "/v1/payment_intents/pi_auth/capture" || calls[1].Form.Get("amount_to_capture") != "3000" {
		t.Fatalf("calls = %+v", calls)
	}
	// approve = capture of the whole authorization.
	if rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/approve", ""); rec.Code != 200 {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	calls = stub.Calls()
	if c := calls[len(calls)-1]; c.Path != "/v1/payment_intents/pi_auth/capture" || c.Form.Has("amount_to_capture") {
		t.Errorf("approve sent %s %v", c.Path, c.Form)
	}
	// More than authorized: refused before the capture call.
	n := len(stub.Calls())
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", `{"amount_to_capture":4001}`), 400, "invalid_amount", "amount_to_capture")
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", `{"amount_to_capture":0}`), 400, "invalid_amount", "amount_to_capture")
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", `{"amount_to_capture":"10"}`), 400, "invalid_field_type", "amount_to_capture")
	if got := len(stub.Calls()) - n; got != 1 { // only the retrieve of the first
		t.Errorf("%d Stripe calls for refused captures", got)
	}

	// cancel with a reason; reject = cancel.
	rec = adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/cancel", `{"reason":"fraudulent"}`)
	if rec.Code != 200 || decodeIntent(t, rec.Body.Bytes()).Status != "canceled" {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	calls = stub.Calls()
	if c := calls[len(calls)-1]; c.Path != "/v1/payment_intents/pi_auth/cancel" || c.Form.Get("cancellation_reason") != "fraudulent" {
		t.Errorf("cancel sent %s %v", c.Path, c.Form)
	}
	if rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/reject", `{"reason":"requested_by_customer"}`); rec.Code != 200 {
		t.Errorf("reject: %d %s", rec.Code, rec.Body)
	}
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/cancel", `{"reason":"changed my mind"}`), 400, "invalid_reason", "reason")

	// Not capturable.
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCaptured)
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/capture", ""), 409, "payment_intent_not_capturable", "")
}

func TestAdminStripeErrorsKeepStripesCode(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("POST /v1/payment_intents/pi_auth/cancel", 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"You cannot cancel this PaymentIntent because it has a status of succeeded.","param":""}}`)
	eb := checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/cancel", ""), 409, "payment_intent_unexpected_state", "")
	if eb.Error.RequestID != "req_stub1" || !strings.Contains(eb.Error.Message, "status of succeeded") {
		t.Errorf("error = %+v", eb.Error)
	}
	stub.set("POST /v1/payment_intents/pi_auth/confirm", 400, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method","message":"No such PaymentMethod: 'pm_x'; a similar object exists with sk_test_leak"}}`)
	eb = checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", `{"payment_method":"pm_x"}`), 404, "not_found", "")
	stub.set("POST /v1/payment_intents/pi_auth/confirm", 400, `{"error":{"type":"invalid_request_error","code":"parameter_invalid_empty","param":"return_url","message":"Invalid sk_test_leak"}}`)
	rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", `{"payment_method":"pm_x"}`)
	eb = checkError(t, rec, 400, "parameter_invalid_empty", "return_url")
	if strings.Contains(rec.Body.String(), "sk_test") {
		t.Errorf("secret-looking text echoed: %s", rec.Body)
	}
	stub.set("POST /v1/payment_intents/pi_auth/confirm", 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****unit"}}`)
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", ""), 502, "stripe_auth_failed", "")
}

func TestAdminConfirm(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("POST /v1/payment_intents/pi_auth/confirm", 200, stubCapturable)
	hdr := map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/json", "Idempotency-Key": "op-retry-0001"}
	rec := send(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", hdr, `{"payment_method":"pm_card_visa","return_url":"https://shop.example/pay.html"}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	c := stub.Calls()[0]
	wantForm(t, c, map[string]string{"payment_method": "pm_card_visa", "return_url": "https://shop.example/pay.html"})
	if c.Idem != "kit-admin-pi_auth-op-retry-0001" {
		t.Errorf("Idempotency-Key = %q", c.Idem)
	}
	// Re-confirming with nothing (a manually confirmed intent after its next action).
	if rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", ""); rec.Code != 200 || len(stub.Calls()[1].Form) != 0 {
		t.Errorf("bare confirm: %d %v", rec.Code, stub.Calls()[1].Form)
	}
	n := len(stub.Calls())
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", `{"payment_method":"card_123"}`), 400, "invalid_payment_method", "payment_method")
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", `{"return_url":"javascript:alert(1)"}`), 400, "invalid_return_url", "return_url")
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", `{"payment_method":"pm_1","amount":5}`), 400, "unknown_field", "amount")
	checkError(t, send(t, srv, "POST", "/admin/payment_intents/pi_auth/confirm", map[string]string{"Authorization": "Bearer " + testAdminToken, "Idempotency-Key": "x"}, ""), 400, "invalid_idempotency_key", "Idempotency-Key")
	if len(stub.Calls()) != n {
		t.Error("bad confirms reached Stripe")
	}
}

func TestAdminIncrementAuthorization(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCapturable)
	stub.set("POST /v1/payment_intents/pi_auth/increment_authorization", 200, strings.Replace(stubCapturable, `"amount":4000,"amount_capturable":4000`, `"amount":6000,"amount_capturable":6000`, 1))
	rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":6000}`)
	if rec.Code != 200 || decodeIntent(t, rec.Body.Bytes()).AmountCapturable != 6000 {
		t.Fatalf("increment: %d %s", rec.Code, rec.Body)
	}
	c := stub.Calls()[1]
	wantForm(t, c, map[string]string{"amount": "6000", "metadata[kit_increment_attempts]": "1"})

	// Not above the current total: refused before Stripe's increment.
	n := len(stub.Calls())
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":4000}`), 400, "invalid_amount", "amount")
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{}`), 400, "invalid_amount", "amount")
	for _, c := range stub.Calls()[n:] {
		if strings.HasSuffix(c.Path, "/increment_authorization") {
			t.Error("an invalid increment reached Stripe")
		}
	}

	// Ten attempts already.
	stub.set("GET /v1/payment_intents/pi_auth", 200, strings.Replace(stubCapturable, `"metadata":{`, `"metadata":{"kit_increment_attempts":"10",`, 1))
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":9000}`), 409, "increment_limit_reached", "")

	// A decline: 402 with Stripe's codes, the attempt is recorded, the intent stays capturable.
	stub.set("GET /v1/payment_intents/pi_auth", 200, strings.Replace(stubCapturable, `"metadata":{`, `"metadata":{"kit_increment_attempts":"3",`, 1))
	stub.set("POST /v1/payment_intents/pi_auth/increment_authorization", 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`)
	stub.set("POST /v1/payment_intents/pi_auth", 200, stubCapturable)
	n = len(stub.Calls())
	rec = adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":2000000}`)
	eb := checkError(t, rec, 402, "card_declined", "")
	if !strings.Contains(rec.Body.String(), `"decline_code":"insufficient_funds"`) || !strings.Contains(eb.Error.Message, "40.00 USD") || eb.Error.RequestID == "" {
		t.Errorf("decline answer = %s", rec.Body)
	}
	calls := stub.Calls()[n:]
	if len(calls) != 3 || calls[2].Path != "/v1/payment_intents/pi_auth" || calls[2].Form.Get("metadata[kit_increment_attempts]") != "4" {
		t.Errorf("after the decline: %+v", calls)
	}

	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCaptured)
	checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":9000}`), 409, "payment_intent_not_capturable", "")
}

// The operator sees whether the latest charge can be incremented, and an
// increment of one that cannot is refused before Stripe's endpoint.
func TestAdminIncrementalAuthorizationEligibility(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("GET /v1/payment_intents/pi_auth", 200, stubCapturable)
	rec := adminCall(t, srv, "GET", "/admin/payment_intents/pi_auth", "")
	var view map[string]any
	json.Unmarshal(rec.Body.Bytes(), &view)
	if rec.Code != 200 || view["incremental_authorization"] != "available" || view["latest_charge"] != "ch_auth" || view["client_secret"] != nil {
		t.Fatalf("view: %d %s", rec.Code, rec.Body)
	}
	if q := stub.Calls()[0].Query; q.Get("expand[0]") != "latest_charge" {
		t.Errorf("retrieve query %v, want expand[0]=latest_charge", q)
	}
	unavailable := strings.Replace(stubCapturable, `"status":"available"`, `"status":"unavailable"`, 1)
	notCard := strings.Replace(stubCapturable, `"payment_method_details":{"type":"card","card":{"brand":"visa","incremental_authorization":{"status":"available"}}}`, `"payment_method_details":{"type":"us_bank_account","us_bank_account":{"last4":"6789"}}`, 1)
	noCharge := strings.Replace(stubCapturable, `"latest_charge":{"id":"ch_auth","object":"charge","payment_method_details":{"type":"card","card":{"brand":"visa","incremental_authorization":{"status":"available"}}}}`, `"latest_charge":null`, 1)
	for name, body := range map[string]string{"unavailable": unavailable, "not a card": notCard, "no charge": noCharge} {
		stub.set("GET /v1/payment_intents/pi_auth", 200, body)
		rec := adminCall(t, srv, "GET", "/admin/payment_intents/pi_auth", "")
		view = map[string]any{}
		json.Unmarshal(rec.Body.Bytes(), &view)
		if rec.Code != 200 || view["incremental_authorization"] != "unavailable" {
			t.Errorf("%s: view %d %s", name, rec.Code, rec.Body)
		}
		n := len(stub.Calls())
		eb := checkError(t, adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":6000}`), 409, "incremental_authorization_unavailable", "")
		if !strings.Contains(eb.Error.Message, "cannot be incremented") {
			t.Errorf("%s: message %q", name, eb.Error.Message)
		}
		for _, c := range stub.Calls()[n:] {
			if c.Method != "GET" {
				t.Errorf("%s: %s %s after the refusal", name, c.Method, c.Path)
			}
		}
	}
}

func TestAdminMicrodepositsBalanceAndPortal(t *testing.T) {
	srv, stub := newStubServer(t, nil)
	stub.set("POST /v1/payment_intents/pi_auth/verify_microdeposits", 200, stubCapturable)
	stub.set("POST /v1/payment_intents/pi_auth/apply_customer_balance", 200, stubCapturable)
	stub.set("POST /v1/billing_portal/sessions", 200, `{"id":"bps_1","object":"billing_portal.session","url":"https://billing.stripe.com/p/session/test_1","customer":"cus_1"}`)

	if rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/verify_microdeposits", `{"amounts":[32,45]}`); rec.Code != 200 {
		t.Fatalf("amounts: %d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Calls()[0], map[string]string{"amounts[0]": "32", "amounts[1]": "45"})
	if rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/verify_microdeposits", `{"descriptor_code":"SM11AA"}`); rec.Code != 200 {
		t.Fatalf("descriptor: %d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Calls()[1], map[string]string{"descriptor_code": "SM11AA"})

	if rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/apply_customer_balance", `{"amount":1000,"currency":"USD"}`); rec.Code != 200 {
		t.Fatalf("balance: %d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Calls()[2], map[string]string{"amount": "1000", "currency": "usd"})

	rec := adminCall(t, srv, "POST", "/admin/billing_portal_sessions", `{"customer":"cus_1","return_url":"https://shop.example/account"}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"url":"https://billing.stripe.com/p/session/test_1"`) {
		t.Fatalf("portal: %d %s", rec.Code, rec.Body)
	}
	wantForm(t, stub.Calls()[3], map[string]string{"customer": "cus_1", "return_url": "https://shop.example/account"})

	n := len(stub.Calls())
	for _, bad := range []struct{ path, body, code, param string }{
		{"/admin/payment_intents/pi_auth/verify_microdeposits", `{}`, "missing_verification", "amounts"},
		{"/admin/payment_intents/pi_auth/verify_microdeposits", `{"amounts":[32]}`, "invalid_amounts", "amounts"},
		{"/admin/payment_intents/pi_auth/verify_microdeposits", `{"amounts":[32,450]}`, "invalid_amounts", "amounts"},
		{"/admin/payment_intents/pi_auth/verify_microdeposits", `{"descriptor_code":"AB11AA"}`, "invalid_descriptor_code", "descriptor_code"},
		{"/admin/payment_intents/pi_auth/verify_microdeposits", `{"amounts":[1,2],"descriptor_code":"SM11AA"}`, "invalid_verification", "amounts"},
		{"/admin/payment_intents/pi_auth/apply_customer_balance", `{"amount":0}`, "invalid_amount", "amount"},
		{"/admin/payment_intents/pi_auth/apply_customer_balance", `{"currency":"dollars"}`, "invalid_currency", "currency"},
		{"/admin/billing_portal_sessions", `{}`, "invalid_customer", "customer"},
		{"/admin/billing_portal_sessions", `{"customer":"cus_1/../x"}`, "invalid_customer", "customer"},
		{"/admin/billing_portal_sessions", `{"customer":"cus_1","return_url":"/account"}`, "invalid_return_url", "return_url"},
		// An escaped slash stays inside its path segment, and the id check refuses it.
		{"/admin/payment_intents/pi%2Fx/capture", ``, "invalid_payment_intent", "id"},
	} {
		status := 400
		if bad.code == "not_found" {
			status = 404
		}
		checkError(t, adminCall(t, srv, "POST", bad.path, bad.body), status, bad.code, bad.param)
	}
	if len(stub.Calls()) != n {
		t.Error("bad operator requests reached Stripe")
	}
}
