package stripeapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/stripe/stripe-go/v82"
)

// errNoID refuses a call on an object without naming it (the path would
// name the collection instead). The worker checks ids before calling.
var errNoID = errors.New("stripeapi: no object id")

// orNew is p, or new parameters if p is nil (a nil *T in a
// stripe.ParamsContainer would panic in GetParams).
func orNew[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// objectPath is the path of one object: prefix, then id escaped as
// stripe.FormatURLPath escapes it (url.QueryEscape), byte for byte.
//
// Why not FormatURLPath itself: it formats with fmt.Sprintf, the only use of
// fmt on the session-status path; fmt's printer was 8.8 KB of WebAssembly
// that the first request after V8 drops its baseline code compiles again
// (wasm/README.md, "Session 8").
func objectPath(prefix, id string) string {
	return prefix + url.QueryEscape(id)
}

// retrieveParams carries expand (nil when there is nothing to expand: a GET
// without parameters skips stripe-go's form encoder, whose reflection over
// the parameter struct was 15 KB of WebAssembly on the session-status path
// and an allocation of every field's encoder state per call).
func retrieveParams[T any, PT interface {
	*T
	stripe.ParamsContainer
	AddExpand(string)
}](expand []string) stripe.ParamsContainer {
	if len(expand) == 0 {
		return nil
	}
	p := PT(new(T))
	for _, f := range expand {
		p.AddExpand(f)
	}
	return p
}

// intentCall is an operation on PaymentIntent id ("" for the PaymentIntent
// itself).
func (c *Client) intentCall(ctx context.Context, method, id, op string, params stripe.ParamsContainer) (*PaymentIntent, error) {
	if id == "" {
		return nil, errNoID
	}
	path := objectPath("/v1/payment_intents/", id)
	if op != "" {
		path += "/" + op
	}
	return send[PaymentIntent](c, ctx, method, path, params)
}

// CreateCheckoutSession implements API.
func (c *Client) CreateCheckoutSession(ctx context.Context, params *stripe.CheckoutSessionCreateParams) (*CheckoutSession, error) {
	return send[CheckoutSession](c, ctx, http.MethodPost, "/v1/checkout/sessions", orNew(params))
}

// RetrieveCheckoutSession implements API.
func (c *Client) RetrieveCheckoutSession(ctx context.Context, id string, expand ...string) (*CheckoutSession, error) {
	if id == "" {
		return nil, errNoID
	}
	params := retrieveParams[stripe.CheckoutSessionRetrieveParams](expand)
	return send[CheckoutSession](c, ctx, http.MethodGet, objectPath("/v1/checkout/sessions/", id), params)
}

// lineItemsParams are the list's parameters. stripe-go's own
// CheckoutSessionListLineItemsParams cannot go through Backend.Call (which
// looks for a Metadata field that list parameters lack, and panics).
type lineItemsParams struct {
	stripe.Params `form:"*"`
	Limit         *int64 `form:"limit"`
}

// ListLineItems implements API.
func (c *Client) ListLineItems(ctx context.Context, sessionID string) (*LineItemList, error) {
	if sessionID == "" {
		return nil, errNoID
	}
	return send[LineItemList](c, ctx, http.MethodGet, objectPath("/v1/checkout/sessions/", sessionID)+"/line_items", &lineItemsParams{Limit: stripe.Int64(100)})
}

// promotionCodesParams are the list's parameters, for the same reason as
// lineItemsParams (stripe-go's PromotionCodeListParams has no Metadata).
type promotionCodesParams struct {
	stripe.Params `form:"*"`
	Active        *bool   `form:"active"`
	Code          *string `form:"code"`
	Limit         *int64  `form:"limit"`
}

// ListPromotionCodes implements API.
func (c *Client) ListPromotionCodes(ctx context.Context, code string) (*PromotionCodeList, error) {
	if code == "" {
		return nil, errNoID
	}
	var list PromotionCodeList
	params := &promotionCodesParams{Active: stripe.Bool(true), Code: stripe.String(code), Limit: stripe.Int64(1)}
	if err := c.call(ctx, http.MethodGet, "/v1/promotion_codes", params, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// CreatePaymentIntent implements API.
func (c *Client) CreatePaymentIntent(ctx context.Context, params *stripe.PaymentIntentCreateParams) (*PaymentIntent, error) {
	return send[PaymentIntent](c, ctx, http.MethodPost, "/v1/payment_intents", orNew(params))
}

// RetrievePaymentIntent implements API.
func (c *Client) RetrievePaymentIntent(ctx context.Context, id string, expand ...string) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodGet, id, "", retrieveParams[stripe.PaymentIntentRetrieveParams](expand))
}

// UpdatePaymentIntent implements API.
func (c *Client) UpdatePaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentUpdateParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "", orNew(params))
}

// ConfirmPaymentIntent implements API.
func (c *Client) ConfirmPaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentConfirmParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "confirm", orNew(params))
}

// CapturePaymentIntent implements API.
func (c *Client) CapturePaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentCaptureParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "capture", orNew(params))
}

// CancelPaymentIntent implements API.
func (c *Client) CancelPaymentIntent(ctx context.Context, id string, params *stripe.PaymentIntentCancelParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "cancel", orNew(params))
}

// IncrementAuthorization implements API.
func (c *Client) IncrementAuthorization(ctx context.Context, id string, params *stripe.PaymentIntentIncrementAuthorizationParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "increment_authorization", orNew(params))
}

// VerifyMicrodeposits implements API.
func (c *Client) VerifyMicrodeposits(ctx context.Context, id string, params *stripe.PaymentIntentVerifyMicrodepositsParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "verify_microdeposits", orNew(params))
}

// ApplyCustomerBalance implements API.
func (c *Client) ApplyCustomerBalance(ctx context.Context, id string, params *stripe.PaymentIntentApplyCustomerBalanceParams) (*PaymentIntent, error) {
	return c.intentCall(ctx, http.MethodPost, id, "apply_customer_balance", orNew(params))
}

// SearchPaymentIntents implements API.
func (c *Client) SearchPaymentIntents(ctx context.Context, params *stripe.PaymentIntentSearchParams) (*PaymentIntentPage, error) {
	return send[PaymentIntentPage](c, ctx, http.MethodGet, "/v1/payment_intents/search", orNew(params))
}

// RetrieveConfirmationToken implements API.
func (c *Client) RetrieveConfirmationToken(ctx context.Context, id string) (*ConfirmationToken, error) {
	if id == "" {
		return nil, errNoID
	}
	return send[ConfirmationToken](c, ctx, http.MethodGet, objectPath("/v1/confirmation_tokens/", id), nil)
}

// CreateCustomer implements API.
func (c *Client) CreateCustomer(ctx context.Context, params *stripe.CustomerCreateParams) (*Customer, error) {
	return send[Customer](c, ctx, http.MethodPost, "/v1/customers", orNew(params))
}

// CreateRefund implements API.
func (c *Client) CreateRefund(ctx context.Context, params *stripe.RefundCreateParams) (*Refund, error) {
	var ref Refund
	if err := c.call(ctx, http.MethodPost, "/v1/refunds", orNew(params), &ref); err != nil {
		return nil, err
	}
	ref.Replayed = ref.last != nil && ref.last.Header.Get("Idempotent-Replayed") == "true"
	return &ref, nil
}

// CreatePortalSession implements API.
func (c *Client) CreatePortalSession(ctx context.Context, params *stripe.BillingPortalSessionParams) (*PortalSession, error) {
	return send[PortalSession](c, ctx, http.MethodPost, "/v1/billing_portal/sessions", orNew(params))
}
