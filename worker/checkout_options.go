package worker

// The Buy Button-style options of POST /create-checkout-session, which the
// embed snippet sends from data-checkout-reference, -promo and -locale (the
// email is a shopper field, payments.go):
//
//   - reference: the site's own reference for the order, sent as Checkout's
//     client_reference_id and recorded with the order. The kit's own order
//     reference stays in metadata kit_order, which is what ties Stripe's
//     objects to the kit (records.go); client_reference_id is the site's.
//   - promo: a promotion code the shop applies for the shopper, resolved on
//     the server (GET /v1/promotion_codes) to discounts[0][promotion_code]
//     before anything is created or held. Stripe refuses discounts together
//     with allow_promotion_codes, so a pre-applied code replaces the field.
//   - locale: Checkout's locale, one of Stripe's list.
//
// Each is checked before any Stripe call; a bad value is a 4xx naming it.

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v82"

	"checkoutkit/worker/internal/stripeapi"
)

const (
	// maxReference is Stripe's limit on client_reference_id.
	maxReference = 200
	// maxPromoCode is Stripe's limit on a promotion code's code.
	maxPromoCode = 500
)

// checkoutLocales are the values Stripe accepts as a Checkout Session's
// locale (basil, as in stripe-mock's spec).
var checkoutLocales = map[string]bool{}

func init() {
	for _, l := range strings.Fields(`auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko
		lt lv ms mt nb nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW`) {
		checkoutLocales[l] = true
	}
}

// checkoutOptions are the checked reference, promotion code and locale of a
// create request.
type checkoutOptions struct {
	Reference, Promo, Locale string
}

// parseCheckoutOptions checks the request's reference, promo and locale. It
// calls nothing at Stripe: an unknown code is found later (resolvePromo).
func parseCheckoutOptions(req *createSessionRequest) (checkoutOptions, *apiError) {
	o := checkoutOptions{Reference: req.Reference, Promo: req.Promo, Locale: req.Locale}
	if o.Reference != "" && !validReference(o.Reference) {
		return o, badRequest("invalid_reference", "reference", "reference must be 1-%d characters of a-z, A-Z, 0-9, '-' or '_'", maxReference)
	}
	if o.Promo != "" && !validPromoCode(o.Promo) {
		return o, badRequest("invalid_promo", "promo", "promo must be a promotion code: 1-%d letters, digits or '-'", maxPromoCode)
	}
	if o.Locale != "" && !checkoutLocales[o.Locale] {
		return o, badRequest("invalid_locale", "locale", "locale must be one of Stripe Checkout's locales, such as auto, en, de, fr-CA or pt-BR")
	}
	return o, nil
}

// request is the options as part of shopperFields.Request: a client key
// deduplicates only retries that ask for the same reference, code and locale.
func (o checkoutOptions) request() string {
	return o.Reference + "\x00" + o.Promo + "\x00" + o.Locale
}

// validReference accepts what Stripe accepts as client_reference_id.
func validReference(s string) bool {
	return len(s) <= maxReference && plainToken(s, "-_")
}

// validPromoCode accepts what Stripe accepts as a promotion code's code.
func validPromoCode(s string) bool {
	return len(s) <= maxPromoCode && plainToken(s, "-")
}

// plainToken reports whether s is non-empty and only ASCII letters, digits
// and the extra characters.
func plainToken(s, extra string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// errPromoInvalid answers a code Stripe does not know or will not redeem.
var errPromoInvalid = &apiError{Status: http.StatusUnprocessableEntity, Code: "promotion_code_invalid", Param: "promo",
	Message: "promo is not an active promotion code of this shop"}

// resolvePromo finds the active promotion code the order's code names and
// returns its id (promo_...). It is the only Stripe call before the session,
// made after the approval rules and before the stock is held, so a refused
// code leaves nothing behind.
func (s *Server) resolvePromo(ctx context.Context, code string) (string, *apiError) {
	list, err := s.stripe.ListPromotionCodes(ctx, code)
	if err != nil {
		return "", fromStripe(err, "promotion code")
	}
	// Stripe filters by code (regardless of case) and active; a page that
	// says otherwise is not trusted to discount anything.
	for _, pc := range list.Data {
		if pc.Active && strings.EqualFold(pc.Code, code) && hasIDPrefix(pc.ID, "promo_") {
			return pc.ID, nil
		}
	}
	return "", errPromoInvalid
}

// applyCheckoutOptions sets the options on the session: the site's reference
// replaces the kit's (which stays in metadata kit_order), a resolved
// promotion code replaces allow_promotion_codes.
func applyCheckoutOptions(params *stripe.CheckoutSessionCreateParams, o checkoutOptions, promoID string) {
	if o.Reference != "" {
		params.ClientReferenceID = stripe.String(o.Reference)
	}
	if o.Locale != "" {
		params.Locale = stripe.String(o.Locale)
	}
	if promoID != "" {
		params.AllowPromotionCodes = nil
		params.Discounts = []*stripe.CheckoutSessionCreateDiscountParams{{PromotionCode: stripe.String(promoID)}}
	}
}

// promoNotApplicable turns Stripe's refusal of the session's discount (a
// code restricted to other customers, first orders, a minimum amount or
// another currency: an invalid request about discounts) into a 4xx naming
// promo; nothing was created, so the stock hold is released. Any other
// failure stays as mapped (aerr).
func promoNotApplicable(err error, aerr *apiError) *apiError {
	var se *stripeapi.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusBadRequest && se.Type == stripe.ErrorTypeInvalidRequest && strings.HasPrefix(se.Param, "discounts") {
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "promotion_code_not_applicable", Param: "promo", RequestID: se.RequestID,
			Message: "promo cannot be used for this order (the code's restrictions: customer, first order, minimum amount or currency)"}
	}
	return aerr
}
