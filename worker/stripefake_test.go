package worker

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"checkoutkit/worker/internal/stripeapi"

	"github.com/stripe/stripe-go/v82"
)

// fakeAPI is Stripe as an in-memory stripeapi.API, for handler tests that
// need no HTTP at all: each call is answered by its On... function, and a
// call without one fails the test. Calls lists the methods called, in order.
// (The HTTP-level stubs, stubStripe and fakeStripe, go through the real
// client instead, which also checks the wire format.)
type fakeAPI struct {
	t     *testing.T
	mu    sync.Mutex
	calls []string

	OnCreateCheckoutSession   func(*stripe.CheckoutSessionCreateParams) (*stripeapi.CheckoutSession, error)
	OnRetrieveCheckoutSession func(id string, expand []string) (*stripeapi.CheckoutSession, error)
	OnListLineItems           func(sessionID string) (*stripeapi.LineItemList, error)
	OnListPromotionCodes      func(code string) (*stripeapi.PromotionCodeList, error)
	OnCreatePaymentIntent     func(*stripe.PaymentIntentCreateParams) (*stripeapi.PaymentIntent, error)
	OnRetrievePaymentIntent   func(id string) (*stripeapi.PaymentIntent, error)
	OnUpdatePaymentIntent     func(id string, p *stripe.PaymentIntentUpdateParams) (*stripeapi.PaymentIntent, error)
	OnConfirmPaymentIntent    func(id string, p *stripe.PaymentIntentConfirmParams) (*stripeapi.PaymentIntent, error)
	OnCapturePaymentIntent    func(id string, p *stripe.PaymentIntentCaptureParams) (*stripeapi.PaymentIntent, error)
	OnCancelPaymentIntent     func(id string, p *stripe.PaymentIntentCancelParams) (*stripeapi.PaymentIntent, error)
	OnIncrementAuthorization  func(id string, p *stripe.PaymentIntentIncrementAuthorizationParams) (*stripeapi.PaymentIntent, error)
	OnVerifyMicrodeposits     func(id string, p *stripe.PaymentIntentVerifyMicrodepositsParams) (*stripeapi.PaymentIntent, error)
	OnApplyCustomerBalance    func(id string, p *stripe.PaymentIntentApplyCustomerBalanceParams) (*stripeapi.PaymentIntent, error)
	OnSearchPaymentIntents    func(*stripe.PaymentIntentSearchParams) (*stripeapi.PaymentIntentPage, error)
	OnCreateRefund            func(*stripe.RefundCreateParams) (*stripeapi.Refund, error)
	OnCreatePortalSession     func(*stripe.BillingPortalSessionParams) (*stripeapi.PortalSession, error)
	// OnRetrieveConfirmationToken nil: a usable test-mode Visa credit
	// token (testToken), so that tests about other things need not set it;
	// the call is recorded either way.
	OnRetrieveConfirmationToken func(id string) (*stripeapi.ConfirmationToken, error)
	OnCreateCustomer            func(*stripe.CustomerCreateParams) (*stripeapi.Customer, error)
}

var _ stripeapi.API = (*fakeAPI)(nil)

// newFakeServer returns the worker with f as its Stripe, the operator API
// and customer tokens on, and an HTTP client that fails the test if used.
func newFakeServer(t *testing.T, f *fakeAPI, env map[string]string) *Server {
	t.Helper()
	f.t = t
	full := map[string]string{"ADMIN_TOKEN": testAdminToken, "CUSTOMER_TOKEN_SECRET": testCustomerSecret}
	for k, v := range env {
		full[k] = v
	}
	noHTTP := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("HTTP request to %s with a fake Stripe", r.URL)
		return nil, errors.New("no HTTP in this test")
	})
	return NewServer(testConfig(t, full), Deps{Transport: noHTTP, Stripe: f})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Calls returns the methods called so far.
func (f *fakeAPI) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// called records a call; it fails the test and returns an error if the
// test gave no answer for it.
func (f *fakeAPI) called(name string, set bool) error {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
	if !set {
		f.t.Errorf("unexpected Stripe call %s", name)
		return errors.New("fakeAPI: unexpected call " + name)
	}
	return nil
}

func (f *fakeAPI) CreateCheckoutSession(_ context.Context, p *stripe.CheckoutSessionCreateParams) (*stripeapi.CheckoutSession, error) {
	if err := f.called("CreateCheckoutSession", f.OnCreateCheckoutSession != nil); err != nil {
		return nil, err
	}
	return f.OnCreateCheckoutSession(p)
}

func (f *fakeAPI) RetrieveCheckoutSession(_ context.Context, id string, expand ...string) (*stripeapi.CheckoutSession, error) {
	if err := f.called("RetrieveCheckoutSession", f.OnRetrieveCheckoutSession != nil); err != nil {
		return nil, err
	}
	return f.OnRetrieveCheckoutSession(id, expand)
}

func (f *fakeAPI) ListLineItems(_ context.Context, id string) (*stripeapi.LineItemList, error) {
	if err := f.called("ListLineItems", f.OnListLineItems != nil); err != nil {
		return nil, err
	}
	return f.OnListLineItems(id)
}

func (f *fakeAPI) ListPromotionCodes(_ context.Context, code string) (*stripeapi.PromotionCodeList, error) {
	if err := f.called("ListPromotionCodes", f.OnListPromotionCodes != nil); err != nil {
		return nil, err
	}
	return f.OnListPromotionCodes(code)
}

func (f *fakeAPI) CreatePaymentIntent(_ context.Context, p *stripe.PaymentIntentCreateParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("CreatePaymentIntent", f.OnCreatePaymentIntent != nil); err != nil {
		return nil, err
	}
	return f.OnCreatePaymentIntent(p)
}

func (f *fakeAPI) RetrievePaymentIntent(_ context.Context, id string, _ ...string) (*stripeapi.PaymentIntent, error) {
	if err := f.called("RetrievePaymentIntent", f.OnRetrievePaymentIntent != nil); err != nil {
		return nil, err
	}
	return f.OnRetrievePaymentIntent(id)
}

func (f *fakeAPI) UpdatePaymentIntent(_ context.Context, id string, p *stripe.PaymentIntentUpdateParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("UpdatePaymentIntent", f.OnUpdatePaymentIntent != nil); err != nil {
		return nil, err
	}
	return f.OnUpdatePaymentIntent(id, p)
}

func (f *fakeAPI) ConfirmPaymentIntent(_ context.Context, id string, p *stripe.PaymentIntentConfirmParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("ConfirmPaymentIntent", f.OnConfirmPaymentIntent != nil); err != nil {
		return nil, err
	}
	return f.OnConfirmPaymentIntent(id, p)
}

func (f *fakeAPI) CapturePaymentIntent(_ context.Context, id string, p *stripe.PaymentIntentCaptureParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("CapturePaymentIntent", f.OnCapturePaymentIntent != nil); err != nil {
		return nil, err
	}
	return f.OnCapturePaymentIntent(id, p)
}

func (f *fakeAPI) CancelPaymentIntent(_ context.Context, id string, p *stripe.PaymentIntentCancelParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("CancelPaymentIntent", f.OnCancelPaymentIntent != nil); err != nil {
		return nil, err
	}
	return f.OnCancelPaymentIntent(id, p)
}

func (f *fakeAPI) IncrementAuthorization(_ context.Context, id string, p *stripe.PaymentIntentIncrementAuthorizationParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("IncrementAuthorization", f.OnIncrementAuthorization != nil); err != nil {
		return nil, err
	}
	return f.OnIncrementAuthorization(id, p)
}

func (f *fakeAPI) VerifyMicrodeposits(_ context.Context, id string, p *stripe.PaymentIntentVerifyMicrodepositsParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("VerifyMicrodeposits", f.OnVerifyMicrodeposits != nil); err != nil {
		return nil, err
	}
	return f.OnVerifyMicrodeposits(id, p)
}

func (f *fakeAPI) ApplyCustomerBalance(_ context.Context, id string, p *stripe.PaymentIntentApplyCustomerBalanceParams) (*stripeapi.PaymentIntent, error) {
	if err := f.called("ApplyCustomerBalance", f.OnApplyCustomerBalance != nil); err != nil {
		return nil, err
	}
	return f.OnApplyCustomerBalance(id, p)
}

func (f *fakeAPI) SearchPaymentIntents(_ context.Context, p *stripe.PaymentIntentSearchParams) (*stripeapi.PaymentIntentPage, error) {
	if err := f.called("SearchPaymentIntents", f.OnSearchPaymentIntents != nil); err != nil {
		return nil, err
	}
	return f.OnSearchPaymentIntents(p)
}

func (f *fakeAPI) CreateRefund(_ context.Context, p *stripe.RefundCreateParams) (*stripeapi.Refund, error) {
	if err := f.called("CreateRefund", f.OnCreateRefund != nil); err != nil {
		return nil, err
	}
	return f.OnCreateRefund(p)
}

func (f *fakeAPI) CreatePortalSession(_ context.Context, p *stripe.BillingPortalSessionParams) (*stripeapi.PortalSession, error) {
	if err := f.called("CreatePortalSession", f.OnCreatePortalSession != nil); err != nil {
		return nil, err
	}
	return f.OnCreatePortalSession(p)
}

func (f *fakeAPI) RetrieveConfirmationToken(_ context.Context, id string) (*stripeapi.ConfirmationToken, error) {
	if f.OnRetrieveConfirmationToken == nil {
		f.called("RetrieveConfirmationToken", true)
		return testToken(id, "visa", "credit", "US"), nil
	}
	if err := f.called("RetrieveConfirmationToken", true); err != nil {
		return nil, err
	}
	return f.OnRetrieveConfirmationToken(id)
}

func (f *fakeAPI) CreateCustomer(_ context.Context, p *stripe.CustomerCreateParams) (*stripeapi.Customer, error) {
	if err := f.called("CreateCustomer", f.OnCreateCustomer != nil); err != nil {
		return nil, err
	}
	return f.OnCreateCustomer(p)
}

// testToken is an unused, unexpired test-mode card ConfirmationToken.
func testToken(id, brand, funding, country string) *stripeapi.ConfirmationToken {
	return &stripeapi.ConfirmationToken{ID: id, ExpiresAt: time.Now().Add(time.Hour).Unix(),
		Preview: &stripeapi.PaymentMethodPreview{Type: "card", Card: &stripeapi.CardPreview{Brand: brand, Funding: funding, Country: country}}}
}
