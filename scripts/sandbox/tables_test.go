package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The parameter tables of refunds, customers, the portal and a
// PaymentIntent's capture, cancel and increment: every bad parameter gets a
// Stripe-shaped 400 naming it, and nothing changes.
func TestParameterTablesRefuse(t *testing.T) {
	e := newEnv(t)
	held := e.heldPI("pm_card_visa")
	paid := e.paidPI(1500)
	cus := "/v1/customers"
	long := strings.Repeat("x", 23)
	cases := []struct {
		name, path  string
		form        url.Values
		param, code string
	}{
		{"refund: unknown", "/v1/refunds", url.Values{"payment_intent": {paid.ID}, "amount_to_refund": {"1"}}, "amount_to_refund", "parameter_unknown"},
		{"refund: customer balance", "/v1/refunds", url.Values{"payment_intent": {paid.ID}, "customer": {"cus_x"}}, "customer", ""},
		{"refund: origin", "/v1/refunds", url.Values{"payment_intent": {paid.ID}, "origin": {"customer_balance"}}, "origin", ""},
		{"refund: connect", "/v1/refunds", url.Values{"payment_intent": {paid.ID}, "refund_application_fee": {"true"}}, "refund_application_fee", ""},
		{"refund: bad email", "/v1/refunds", url.Values{"payment_intent": {paid.ID}, "instructions_email": {"nope"}}, "instructions_email", "email_invalid"},
		{"refund: metadata not a hash", "/v1/refunds", url.Values{"payment_intent": {paid.ID}, "metadata": {"x"}}, "metadata", ""},
		{"refund: intent as hash", "/v1/refunds", url.Values{"payment_intent[id]": {paid.ID}}, "payment_intent", ""},
		{"customer: unknown", cus, url.Values{"emails": {"a@example.com"}}, "emails", "parameter_unknown"},
		{"customer: bad email", cus, url.Values{"email": {"not-an-address"}}, "email", "email_invalid"},
		{"customer: long phone", cus, url.Values{"phone": {strings.Repeat("1", 21)}}, "phone", ""},
		{"customer: metadata value", cus, url.Values{"metadata[k][x]": {"v"}}, "metadata[k]", ""},
		{"portal: no customer", "/v1/billing_portal/sessions", url.Values{"return_url": {"https://example.com/"}}, "customer", "parameter_missing"},
		{"portal: unknown customer", "/v1/billing_portal/sessions", url.Values{"customer": {"cus_nope"}}, "customer", "resource_missing"},
		{"portal: long locale", "/v1/billing_portal/sessions", url.Values{"customer": {"cus_nope"}, "locale": {"abcdefghijk"}}, "locale", ""},
		{"capture: connect", "/v1/payment_intents/" + held.ID + "/capture", url.Values{"transfer_data[destination]": {"acct_x"}}, "transfer_data", ""},
		{"capture: amount", "/v1/payment_intents/" + held.ID + "/capture", url.Values{"amount_to_capture": {"0"}}, "amount_to_capture", "parameter_invalid_integer"},
		{"capture: too much", "/v1/payment_intents/" + held.ID + "/capture", url.Values{"amount_to_capture": {"2001"}}, "amount_to_capture", "amount_too_large"},
		{"capture: final_capture", "/v1/payment_intents/" + held.ID + "/capture", url.Values{"final_capture": {"yes"}}, "final_capture", ""},
		{"capture: descriptor", "/v1/payment_intents/" + held.ID + "/capture", url.Values{"statement_descriptor": {long}}, "statement_descriptor", ""},
		{"capture: unknown", "/v1/payment_intents/" + held.ID + "/capture", url.Values{"amount": {"100"}}, "amount", "parameter_unknown"},
		{"cancel: reason", "/v1/payment_intents/" + held.ID + "/cancel", url.Values{"cancellation_reason": {"bored"}}, "cancellation_reason", ""},
		{"cancel: empty reason", "/v1/payment_intents/" + held.ID + "/cancel", url.Values{"cancellation_reason": {""}}, "cancellation_reason", ""},
		{"increment: no amount", "/v1/payment_intents/" + held.ID + "/increment_authorization", url.Values{"description": {"more"}}, "amount", "parameter_missing"},
		{"increment: connect", "/v1/payment_intents/" + held.ID + "/increment_authorization", url.Values{"amount": {"3000"}, "application_fee_amount": {"10"}}, "application_fee_amount", ""},
		{"increment: long description", "/v1/payment_intents/" + held.ID + "/increment_authorization", url.Values{"amount": {"3000"}, "description": {strings.Repeat("d", 1001)}}, "description", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := e.postForm(c.path, c.form, nil)
			got := decodeMap(t, body)
			errObj, _ := got["error"].(map[string]any)
			if res.StatusCode != http.StatusBadRequest || errObj == nil || errObj["type"] != "invalid_request_error" {
				t.Fatalf("status %d, body %s: want a 400 invalid_request_error", res.StatusCode, body)
			}
			if errObj["param"] != c.param {
				t.Errorf("param %v, want %s (%s)", errObj["param"], c.param, body)
			}
			if c.code != "" && errObj["code"] != c.code {
				t.Errorf("code %v, want %s", errObj["code"], c.code)
			}
			if msg, _ := errObj["message"].(string); msg == "" {
				t.Errorf("no message: %s", body)
			}
		})
	}

	// Nothing was written: the held PaymentIntent is as authorized, the paid
	// one's charge is not refunded, and no customer exists.
	after, err := e.sc.V1PaymentIntents.Retrieve(context.Background(), held.ID, nil)
	if err != nil || after.Status != "requires_capture" || after.Amount != 2000 || after.AmountCapturable != 2000 || len(after.Metadata) != 0 {
		t.Errorf("the held PaymentIntent changed: %v %+v", err, after)
	}
	if ch := e.charge(paid.LatestCharge.ID); ch.AmountRefunded != 0 {
		t.Errorf("the paid charge was refunded: %+v", ch)
	}
	if n := len(e.sb.customers); n != 0 {
		t.Errorf("%d customers were created", n)
	}

	// The same tables accept the good forms.
	if res, body := e.postForm("/v1/payment_intents/"+held.ID+"/increment_authorization", url.Values{"amount": {"2500"}, "metadata[step]": {"inc"}, "description": {"more"}}, nil); res.StatusCode != 200 {
		t.Fatalf("increment: %d %s", res.StatusCode, body)
	}
	if res, body := e.postForm("/v1/payment_intents/"+held.ID+"/capture", url.Values{"amount_to_capture": {"2400"}, "metadata[order]": {"42"}, "final_capture": {"true"}}, nil); res.StatusCode != 200 {
		t.Fatalf("capture: %d %s", res.StatusCode, body)
	} else if got := decodeMap(t, body); got["amount_received"] != float64(2400) || got["metadata"].(map[string]any)["step"] != "inc" || got["metadata"].(map[string]any)["order"] != "42" {
		t.Errorf("capture: %s", body)
	}
	if res, body := e.postForm(cus, url.Values{"email": {"a@example.com"}, "name": {"A"}, "metadata[k]": {"v"}, "preferred_locales[0]": {"en"}}, nil); res.StatusCode != 200 {
		t.Fatalf("customer: %d %s", res.StatusCode, body)
	} else if got := decodeMap(t, body); got["email"] != "a@example.com" || got["metadata"].(map[string]any)["k"] != "v" {
		t.Errorf("customer: %s", body)
	}
	if res, body := e.postForm("/v1/refunds", url.Values{"payment_intent": {paid.ID}, "amount": {"500"}, "reason": {"duplicate"}, "metadata[r]": {"1"}}, nil); res.StatusCode != 200 {
		t.Fatalf("refund: %d %s", res.StatusCode, body)
	} else if got := decodeMap(t, body); got["amount"] != float64(500) || got["reason"] != "duplicate" {
		t.Errorf("refund: %s", body)
	}
}
