// Package stripeapi is the worker's typed client for Stripe's API: one method
// per call the checkout kit makes, taking stripe-go's typed parameters and
// returning the slim decode types of types.go.
//
// It owns everything about reaching Stripe: the secret key, the API paths,
// the request itself (stripe-go's parameters and form encoding, Stripe's
// headers; call.go), the one retry and the per-call deadline
// (transport.go), and the errors that name what went wrong on the way
// (errors.go). Turning those errors into HTTP answers is the worker's
// business (worker/respond.go), not this package's.
//
// Handlers hold an API, so host tests can stub that one interface; the
// worker's HTTP-level tests go through a real Client pointed at a fake
// Stripe, which also checks the wire format.
//
// The package is compiled into the wasm worker by TinyGo: it uses nothing
// beyond what the worker already did (stripe-go's form encoding and
// encoding/json).
package stripeapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"checkoutkit/worker/internal/deadline"

	"github.com/stripe/stripe-go/v82"
)

// API is every call the worker makes to Stripe. *Client implements it; host
// tests implement it with a fake.
//
// Every method sends ctx's cancellation to Stripe's request and bounds the
// call (its retry included) by the client's timeout. Errors are a
// *Error for Stripe's refusals, a *TimeoutError, a *BadResponseError,
// or a transport error (Stripe could not be reached).
//
// Parameters may be nil (none). Their Params (idempotency key, expand) are
// sent as set; their Context is replaced by ctx for the call and put back
// after. A POST without an idempotency key gets a random one from stripe-go.
type API interface {
	// CreateCheckoutSession: POST /v1/checkout/sessions.
	CreateCheckoutSession(ctx context.Context, params *stripe.CheckoutSessionCreateParams) (*CheckoutSession, error)
	// RetrieveCheckoutSession: GET /v1/checkout/sessions/{id}, expanding the
	// named fields (line_items, payment_intent).
	RetrieveCheckoutSession(ctx context.Context, id string, expand ...string) (*CheckoutSession, error)
	// ListLineItems: GET /v1/checkout/sessions/{id}/line_items, the first
	// 100 (an order has at most 20 lines).
	ListLineItems(ctx context.Context, sessionID string) (*LineItemList, error)
	// ListPromotionCodes: GET /v1/promotion_codes?code=X&active=true&limit=1,
	// the active promotion code with that customer-facing code (Stripe
	// compares codes regardless of case), if any.
	ListPromotionCodes(ctx context.Context, code string) (*PromotionCodeList, error)

	// CreatePaymentIntent: POST /v1/payment_intents.
	CreatePaymentIntent(ctx context.Context, params *stripe.PaymentIntentCreateParams) (*PaymentIntent, error)
	// RetrievePaymentIntent: GET /v1/payment_intents/{id}, expanding the
	// named fields (latest_charge).
	RetrievePaymentIntent(ctx context.Context, id string, expand ...string) (*PaymentIntent, error)
	// UpdatePaymentIntent: POST /v1/payment_intents/{id}.
	UpdatePaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentUpdateParams) (*PaymentIntent, error)
	// ConfirmPaymentIntent: POST /v1/payment_intents/{id}/confirm.
	ConfirmPaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentConfirmParams) (*PaymentIntent, error)
	// CapturePaymentIntent: POST /v1/payment_intents/{id}/capture.
	CapturePaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentCaptureParams) (*PaymentIntent, error)
	// CancelPaymentIntent: POST /v1/payment_intents/{id}/cancel.
	CancelPaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentCancelParams) (*PaymentIntent, error)
	// IncrementAuthorization: POST /v1/payment_intents/{id}/increment_authorization.
	IncrementAuthorization(ctx context.Context, id string, params *stripe.PaymentIntentIncrementAuthorizationParams) (*PaymentIntent, error)
	// VerifyMicrodeposits: POST /v1/payment_intents/{id}/verify_microdeposits.
	VerifyMicrodeposits(ctx context.Context, id string, params *stripe.PaymentIntentVerifyMicrodepositsParams) (*PaymentIntent, error)
	// ApplyCustomerBalance: POST /v1/payment_intents/{id}/apply_customer_balance.
	ApplyCustomerBalance(ctx context.Context, id string, params *stripe.PaymentIntentApplyCustomerBalanceParams) (*PaymentIntent, error)
	// SearchPaymentIntents: GET /v1/payment_intents/search, one page (query,
	// limit and page; Single is implied).
	SearchPaymentIntents(ctx context.Context, params *stripe.PaymentIntentSearchParams) (*PaymentIntentPage, error)

	// RetrieveConfirmationToken: GET /v1/confirmation_tokens/{id}.
	RetrieveConfirmationToken(ctx context.Context, id string) (*ConfirmationToken, error)
	// CreateCustomer: POST /v1/customers.
	CreateCustomer(ctx context.Context, params *stripe.CustomerCreateParams) (*Customer, error)

	// CreateRefund: POST /v1/refunds.
	CreateRefund(ctx context.Context, params *stripe.RefundCreateParams) (*Refund, error)
	// CreatePortalSession: POST /v1/billing_portal/sessions.
	CreatePortalSession(ctx context.Context, params *stripe.BillingPortalSessionParams) (*PortalSession, error)
}

// DefaultTimeout bounds a call, its retry included, when Config.Timeout is 0.
const DefaultTimeout = 15 * time.Second

// Config is how a Client reaches Stripe. Only SecretKey is required.
type Config struct {
	// SecretKey is the shop's secret (sk_...) or restricted (rk_...) key.
	SecretKey string
	// APIBase replaces https://api.stripe.com (stripe-mock, a sandbox).
	APIBase string
	// Timeout bounds each call, its retry included; 0: DefaultTimeout.
	Timeout time.Duration
	// Transport carries the requests (on Workers, wasm/fetch_js.go's fetch
	// transport; in tests, a fake Stripe); nil: http.DefaultTransport, except
	// in the wasm build, which has none (default_js.go). The Client puts its
	// retry in front of it.
	Transport http.RoundTripper
}

// Client is the API over Config.Transport. It is safe for concurrent use.
type Client struct {
	key       string
	base      string // "https://api.stripe.com" or Config.APIBase, no trailing slash
	transport http.RoundTripper
	timeout   time.Duration
	keeper    bool // the Transport is a deadline.Keeper
}

var _ API = (*Client)(nil)

// New builds a Client.
func New(cfg Config) *Client {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := strings.TrimRight(cfg.APIBase, "/")
	if base == "" {
		base = stripe.APIURL
	}
	next := cfg.Transport
	if next == nil {
		next = DefaultTransport()
	}
	keeper := deadline.Keeps(next)
	return &Client{key: cfg.SecretKey, base: base, transport: retryTransport{next: next}, timeout: timeout, keeper: keeper}
}
