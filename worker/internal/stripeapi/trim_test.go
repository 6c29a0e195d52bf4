package stripeapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v82"
)

// fullSession is a Checkout Session as stripe-go encodes one with most of
// its members set: far more than CheckoutSession reads, nested objects
// among them.
func fullSession(t testing.TB) []byte {
	s := &stripe.CheckoutSession{
		ID: "cs_test_a1", Object: "checkout.session", ClientSecret: "cs_test_a1_secret_x", URL: "https://checkout.stripe.com/c/pay/cs_test_a1",
		Mode: stripe.CheckoutSessionModePayment, Status: stripe.CheckoutSessionStatusComplete, PaymentStatus: stripe.CheckoutSessionPaymentStatusPaid,
		Currency: "eur", AmountTotal: 4200, AmountSubtotal: 3700, Livemode: false, CustomerEmail: "a@example.com", ClientReferenceID: "ref-1",
		Metadata:              map[string]string{"kit_cart": "tshirt:1:3700", "kit_deployment": "bench", "Status": "not a field"},
		CustomerDetails:       &stripe.CheckoutSessionCustomerDetails{Email: "b@example.com", Phone: "+49301234567", Name: "B"},
		PaymentIntent:         &stripe.PaymentIntent{ID: "pi_1", Amount: 4200, Status: stripe.PaymentIntentStatusSucceeded, Metadata: map[string]string{"k": "v"}},
		ShippingCost:          &stripe.CheckoutSessionShippingCost{AmountTotal: 500, AmountTax: 80, ShippingRate: &stripe.ShippingRate{ID: "shr_1", DisplayName: "Post", Metadata: map[string]string{"days": "3"}}},
		TotalDetails:          &stripe.CheckoutSessionTotalDetails{AmountDiscount: 0, AmountShipping: 500, AmountTax: 80},
		CustomFields:          []*stripe.CheckoutSessionCustomField{{Key: "gift", Type: "text", Text: &stripe.CheckoutSessionCustomFieldText{Value: "yes \"please\" \u00e9"}}},
		AutomaticTax:          &stripe.CheckoutSessionAutomaticTax{Enabled: true, Status: "complete"},
		PaymentMethodTypes:    []string{"card", "link"},
		ShippingOptions:       []*stripe.CheckoutSessionShippingOption{{ShippingAmount: 500, ShippingRate: &stripe.ShippingRate{ID: "shr_1"}}},
		ConsentCollection:     &stripe.CheckoutSessionConsentCollection{Promotions: "auto"},
		Locale:                "auto",
		ExpiresAt:             1760000000,
		Created:               1759990000,
		SuccessURL:            "https://shop.example/ok?x={}[]\"",
		InvoiceCreation:       &stripe.CheckoutSessionInvoiceCreation{Enabled: false, InvoiceData: &stripe.CheckoutSessionInvoiceCreationInvoiceData{Description: "}]\\"}},
		PhoneNumberCollection: &stripe.CheckoutSessionPhoneNumberCollection{Enabled: true},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeBoth decodes doc into a fresh T with decode and with
// json.Unmarshal.
func decodeBoth[T any](doc []byte) (got, want *T, gotErr, wantErr error) {
	got, want = new(T), new(T)
	return got, want, decode(doc, got), json.Unmarshal(doc, want)
}

func checkSame[T any](t *testing.T, name string, doc []byte) {
	t.Helper()
	got, want, gotErr, wantErr := decodeBoth[T](doc)
	if (gotErr == nil) != (wantErr == nil) {
		t.Errorf("%s: decode error %v, json.Unmarshal error %v\n%s", name, gotErr, wantErr, doc)
		return
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("%s: decode gave\n%+v\njson.Unmarshal\n%+v\nfrom %s", name, got, want, doc)
	}
}

// decode gives what json.Unmarshal gives, for every decode type, on full
// Stripe objects and on the names encoding/json matches loosely: other
// cases, escapes, the Kelvin sign (which it folds to k), repeated members.
func TestDecodeMatchesUnmarshal(t *testing.T) {
	session := fullSession(t)
	pi, _ := json.Marshal(&stripe.PaymentIntent{ID: "pi_1", Amount: 4200, Currency: "eur", Status: stripe.PaymentIntentStatusRequiresCapture,
		AmountCapturable: 4200, Metadata: map[string]string{"kit_order": "ord_1"}, LatestCharge: &stripe.Charge{ID: "ch_1", Amount: 4200},
		Shipping:   &stripe.ShippingDetails{Name: "B", Address: &stripe.Address{City: "Berlin", Country: "DE"}},
		NextAction: &stripe.PaymentIntentNextAction{Type: "use_stripe_sdk"}})
	docs := map[string][]byte{
		"session":  session,
		"intent":   pi,
		"empty":    []byte(`{}`),
		"spaces":   []byte(" \n{ \"id\" : \"cs_1\" , \"junk\" : [ 1 , { \"a\" : [ ] } ] , \"status\" :\t\"open\" }\r\n"),
		"cases":    []byte(`{"ID":"cs_upper","Status":"open","PAYMENT_STATUS":"paid","amount_TOTAL":12}`),
		"escaped":  []byte(`{"st\u0061tus":"open","\u0069d":"cs_esc","junk\"key":1}`),
		"kelvin":   []byte(`{"id":"cs_k","\u212aey":"x","customer_details":{"email":"k@example.com"}}`),
		"repeated": []byte(`{"status":"open","status":"complete","junk":{},"status":"expired"}`),
		"nested":   []byte(`{"id":"cs_n","deep":[[[[{"}":"]"}]]]],"metadata":{"a":"b"}}`),
		"null":     []byte(`null`),
		"array":    []byte(`[{"id":"x"}]`),
		"wrongtyp": []byte(`{"id":5,"junk":true}`),
		"html":     []byte(`<html>busy</html>`),
		"longkey":  []byte(`{"` + strings.Repeat("x", 100) + `":1,"id":"cs_l"}`),
	}
	for name, doc := range docs {
		checkSame[CheckoutSession](t, name+"/CheckoutSession", doc)
		checkSame[PaymentIntent](t, name+"/PaymentIntent", doc)
		checkSame[ConfirmationToken](t, name+"/ConfirmationToken", doc)
		checkSame[PromotionCodeList](t, name+"/PromotionCodeList", doc)
		checkSame[Refund](t, name+"/Refund", doc)
		checkSame[Customer](t, name+"/Customer", doc)
	}
	// The session's unread members were dropped, not decoded.
	trimmed, ok := trimObject(session, fieldNames(reflect.TypeOf(&CheckoutSession{})))
	if !ok || len(trimmed) >= len(session) || strings.Contains(string(trimmed), "automatic_tax") || !strings.Contains(string(trimmed), `"shipping_cost"`) {
		t.Errorf("trimmed session (ok %v, %d of %d bytes): %s", ok, len(trimmed), len(session), trimmed)
	}
}

// A string Stripe echoes from a shopper (a URL, a custom field, metadata)
// in a member no field takes cannot end early and smuggle in a member that
// one does: escaped quotes and backslashes are skipped as encoding/json reads
// them, so the session's own amount_total and status are what decode.
func TestDecodeDroppedStringsCannotInjectMembers(t *testing.T) {
	for _, doc := range []string{
		`{"id":"cs_i","success_url":"x\",\"amount_total\":1,\"status\":\"complete\",\"z\":\"","amount_total":4200,"status":"open"}`,
		`{"id":"cs_i","junk":"a\\","amount_total":4200,"status":"open"}`,
		`{"id":"cs_i","junk":["\\\"]","amount_total",1],"amount_total":4200,"status":"open"}`,
		`{"id":"cs_i","junk":{"k":"}\"},\"amount_total\":1,{"},"amount_total":4200,"status":"open"}`,
	} {
		checkSame[CheckoutSession](t, doc, []byte(doc))
		var v CheckoutSession
		if err := decode([]byte(doc), &v); err != nil || v.AmountTotal != 4200 || v.Status != "open" {
			t.Errorf("%s: amount_total %d, status %q, err %v", doc, v.AmountTotal, v.Status, err)
		}
	}
}

// Every cut of a session is an error for both, never a partial value.
func TestDecodeTruncatedAnswers(t *testing.T) {
	session := fullSession(t)
	for n := 0; n < len(session); n++ {
		var v CheckoutSession
		if err := decode(session[:n], &v); err == nil {
			t.Fatalf("a session cut at %d of %d bytes decoded: %+v", n, len(session), v)
		}
	}
}

// A malformed member that no field takes: dropped members are checked for
// structure (and then the whole answer decides), so these fail as whole.
func TestDecodeMalformedDroppedMembers(t *testing.T) {
	for _, doc := range []string{
		`{"id":"cs_1","junk":tru}`,
		`{"id":"cs_1","junk":nul}`,
		`{"id":"cs_1","junk":{"a":[1,2}]}`,
		`{"id":"cs_1","junk":"unclosed}`,
		`{"id":"cs_1","junk":}`,
		`{"id":"cs_1","junk":1}}`,
		`{"id":"cs_1","junk":"a` + "\x01" + `"}`,
		`{"id":"cs_1" "junk":1}`,
		`{"id":"cs_1",}`,
	} {
		var v CheckoutSession
		if err := decode([]byte(doc), &v); err == nil {
			t.Errorf("%s decoded: %+v", doc, v)
		}
	}
}

// FuzzDecodeMatchesUnmarshal: whatever json.Unmarshal accepts, decode
// accepts with the same result (go test -fuzz FuzzDecodeMatchesUnmarshal).
func FuzzDecodeMatchesUnmarshal(f *testing.F) {
	f.Add(fullSession(f))
	f.Add([]byte(`{"ID":"x","st\u0061tus":"open","junk":[{"a":"}"}]}`))
	f.Add([]byte(`{"customer_details":{"email":"a@b"},"metadata":{"k":"v"},"x":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var want, got CheckoutSession
		if json.Unmarshal(doc, &want) != nil {
			return
		}
		if err := decode(doc, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decode: %v, %+v; json.Unmarshal: %+v; doc %q", err, got, want, doc)
		}
	})
}
