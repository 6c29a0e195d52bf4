package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"checkoutkit/worker/internal/stripeapi"
	"checkoutkit/worker/orders"

	"github.com/stripe/stripe-go/v82"
)

// Handler tests against fakeAPI: what the handlers ask Stripe for, in
// stripe-go's typed parameters, and what they make of its answers, with no
// HTTP in between.

func TestCheckoutSessionWithFakeStripe(t *testing.T) {
	var got *stripe.CheckoutSessionCreateParams
	f := &fakeAPI{OnCreateCheckoutSession: func(p *stripe.CheckoutSessionCreateParams) (*stripeapi.CheckoutSession, error) {
		got = p
		return &stripeapi.CheckoutSession{ID: "cs_test_fake", ClientSecret: "cs_test_fake_secret_1", Status: "open"}, nil
	}}
	srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog})
	rec := postJSON(t, srv, "/create-checkout-session", `{"items":[{"id":"plain","quantity":2},{"id":"limited"}],"email":"jenny@Example.com"}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var ans struct{ ClientSecret string }
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.ClientSecret != "cs_test_fake_secret_1" {
		t.Errorf("answer %s", rec.Body)
	}
	if calls := f.Calls(); len(calls) != 1 {
		t.Fatalf("calls %v, want one CreateCheckoutSession", calls)
	}
	if len(got.LineItems) != 2 {
		t.Fatalf("%d line items, want 2", len(got.LineItems))
	}
	for i, want := range []struct{ amount, qty int64 }{{1000, 2}, {500, 1}} {
		li := got.LineItems[i]
		if li.PriceData == nil || *li.PriceData.UnitAmount != want.amount || *li.Quantity != want.qty {
			t.Errorf("line %d: %+v, want %d × %d", i, li, want.qty, want.amount)
		}
	}
	if got.IdempotencyKey == nil || !strings.HasPrefix(*got.IdempotencyKey, "kit-cs-ord_") {
		t.Errorf("idempotency key %v", got.IdempotencyKey)
	}
	if got.Metadata[metaCart] != "plain:2:1000,limited:1:500" || !strings.HasPrefix(got.Metadata[metaOrder], "ord_") {
		t.Errorf("metadata %v", got.Metadata)
	}
	if got.CustomerEmail == nil || *got.CustomerEmail != "jenny@example.com" {
		t.Errorf("customer_email %v", got.CustomerEmail)
	}
}

func TestSessionStatusWithFakeStripe(t *testing.T) {
	f := &fakeAPI{OnRetrieveCheckoutSession: func(id string, expand []string) (*stripeapi.CheckoutSession, error) {
		if id != "cs_test_abc" || len(expand) != 0 {
			t.Errorf("retrieve %q expand %v", id, expand)
		}
		return &stripeapi.CheckoutSession{ID: id, Status: "complete", PaymentStatus: "unpaid", CustomerEmail: "old@example.com",
			CustomerDetails: &stripeapi.CustomerDetails{Email: "typed@example.com"}, Metadata: map[string]string{metaCart: "rental:1:2000"}}, nil
	}}
	srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog})
	rec := do(t, srv, "GET", "/session-status?session_id=cs_test_abc", "", "")
	want := `{"status":"complete","payment_status":"unpaid","customer_email":"typed@example.com","capture_method":"manual"}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("got %d %s, want %s", rec.Code, rec.Body, want)
	}
}

// TestStripeFailuresBecomeAnswers: the client's errors, whatever produced
// them, map to the same answers.
func TestStripeFailuresBecomeAnswers(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"timeout", &stripeapi.TimeoutError{Timeout: time.Second, Err: context.DeadlineExceeded}, 504, "stripe_timeout"},
		{"bad response", &stripeapi.BadResponseError{Detail: "unexpected end of JSON input"}, 502, "stripe_bad_response"},
		{"unreachable", errors.New("connection refused"), 502, "stripe_unreachable"},
		{"rate limited", &stripeapi.Error{HTTPStatusCode: 429, Type: stripe.ErrorTypeInvalidRequest, Code: stripe.ErrorCodeRateLimit}, 503, "stripe_rate_limited"},
		{"stripe down", &stripeapi.Error{HTTPStatusCode: 500, Type: stripe.ErrorTypeAPI}, 502, "stripe_unavailable"},
		{"fraud decline", &stripeapi.Error{HTTPStatusCode: 402, Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeCardDeclined, DeclineCode: "stolen_card",
			PaymentIntent: "pi_declined"}, 402, "card_declined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{OnCreatePaymentIntent: func(*stripe.PaymentIntentCreateParams) (*stripeapi.PaymentIntent, error) { return nil, tc.err }}
			srv := newFakeServer(t, f, map[string]string{"CATALOG_JSON": testCatalog})
			rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_1Abc"}`)
			eb := checkError(t, rec, tc.status, tc.code, "")
			if tc.status == 503 && rec.Header().Get("Retry-After") != "2" {
				t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			if tc.code == "card_declined" && (strings.Contains(rec.Body.String(), "stolen") || !strings.Contains(rec.Body.String(), `"payment_intent":"pi_declined"`)) {
				t.Errorf("decline answer %s (message %q)", rec.Body, eb.Error.Message)
			}
		})
	}
}

// TestAdminIncrementDeclineRecordsTheAttempt: a declined increment is
// counted in the PaymentIntent's metadata by an update (Stripe keeps nothing
// of a failed attempt), and the operator learns what stays authorized.
func TestAdminIncrementDeclineRecordsTheAttempt(t *testing.T) {
	var updated map[string]string
	f := &fakeAPI{
		OnRetrievePaymentIntent: func(id string) (*stripeapi.PaymentIntent, error) {
			return &stripeapi.PaymentIntent{ID: id, Status: "requires_capture", Amount: 4000, AmountCapturable: 4000, Currency: "usd",
				Metadata: map[string]string{metaIncrements: "2"}, LatestCharge: stripeapi.ChargeRef{ID: "ch_1", IncrementalAuthorization: "available", Expanded: true}}, nil
		},
		OnIncrementAuthorization: func(id string, p *stripe.PaymentIntentIncrementAuthorizationParams) (*stripeapi.PaymentIntent, error) {
			if *p.Amount != 6000 || p.Metadata[metaIncrements] != "3" {
				t.Errorf("increment %s: amount %d metadata %v", id, *p.Amount, p.Metadata)
			}
			return nil, &stripeapi.Error{HTTPStatusCode: 402, Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeCardDeclined, DeclineCode: "insufficient_funds", Msg: "Your card has insufficient funds."}
		},
		OnUpdatePaymentIntent: func(id string, p *stripe.PaymentIntentUpdateParams) (*stripeapi.PaymentIntent, error) {
			updated = p.Metadata
			return &stripeapi.PaymentIntent{ID: id}, nil
		},
	}
	srv := newFakeServer(t, f, nil)
	rec := adminCall(t, srv, "POST", "/admin/payment_intents/pi_auth/increment_authorization", `{"amount":6000}`)
	eb := checkError(t, rec, 402, "card_declined", "")
	if !strings.Contains(eb.Error.Message, "40.00 USD") || !strings.Contains(rec.Body.String(), `"payment_intent":"pi_auth"`) {
		t.Errorf("answer %s", rec.Body)
	}
	if updated[metaIncrements] != "3" {
		t.Errorf("update metadata %v, want %s=3", updated, metaIncrements)
	}
	if got := strings.Join(f.Calls(), ","); got != "RetrievePaymentIntent,IncrementAuthorization,UpdatePaymentIntent" {
		t.Errorf("calls %s", got)
	}
}

// TestRefundReplayKeepsTheRefundedAmount: an answer Stripe replays under the
// same idempotency key is a refund already counted.
func TestRefundReplayKeepsTheRefundedAmount(t *testing.T) {
	replayed := false
	f := &fakeAPI{OnCreateRefund: func(p *stripe.RefundCreateParams) (*stripeapi.Refund, error) {
		if *p.PaymentIntent != "pi_refund" || p.IdempotencyKey == nil {
			t.Errorf("refund params %+v", p)
		}
		return &stripeapi.Refund{ID: "re_1", Object: "refund", Amount: *p.Amount, Currency: "usd", Status: "succeeded", PaymentIntent: "pi_refund", Replayed: replayed}, nil
	}}
	st := orders.NewMemStore()
	srv := newFakeServer(t, f, nil).withDeps(func(d *Deps) { d.Store = st })
	o := &orders.Order{ID: "cs_test_refund", Ref: "ord_00000000000000r1", Flow: orders.FlowCheckout, Payment: orders.Paid, SessionID: "cs_test_refund",
		PaymentIntentID: "pi_refund", Currency: "usd", AmountTotal: 2000, AmountReceived: 2000,
		Lines: []orders.Line{{Product: "tshirt", Quantity: 1, UnitAmount: 2000, AmountTotal: 2000}}, Created: 1}
	o.Check()
	o.Derive()
	if ok, err := st.Create(context.Background(), o); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, tc := range []struct {
		replayed bool
		want     int64
	}{{false, 500}, {true, 500}} {
		replayed = tc.replayed
		rec := adminCall(t, srv, "POST", "/admin/orders/cs_test_refund/refund", `{"amount":500}`)
		var ans struct {
			Refund stripeapi.Refund
			Order  orders.Order
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil || ans.Refund.ID != "re_1" {
			t.Fatalf("refund: %d %s", rec.Code, rec.Body)
		}
		if ans.Order.AmountRefunded != tc.want {
			t.Errorf("replayed %v: amount_refunded %d, want %d", tc.replayed, ans.Order.AmountRefunded, tc.want)
		}
	}
}

// TestAdminSearchWithFakeStripe: the operator's search goes to Stripe as
// typed parameters, and client secrets never come back.
func TestAdminSearchWithFakeStripe(t *testing.T) {
	f := &fakeAPI{OnSearchPaymentIntents: func(p *stripe.PaymentIntentSearchParams) (*stripeapi.PaymentIntentPage, error) {
		if p.Query != "status:'requires_capture'" || p.Limit == nil || *p.Limit != 5 || p.Page != nil {
			t.Errorf("search params %+v", p.SearchParams)
		}
		return &stripeapi.PaymentIntentPage{Data: []stripeapi.PaymentIntent{{ID: "pi_1", Status: "requires_capture", ClientSecret: "pi_1_secret_x"}}, HasMore: true, NextPage: "page_2"}, nil
	}}
	srv := newFakeServer(t, f, nil)
	rec := adminCall(t, srv, "GET", "/admin/payment_intents/search?query=status:'requires_capture'&limit=5", "")
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), `"next_page":"page_2"`) {
		t.Errorf("search: %d %s", rec.Code, rec.Body)
	}
}
