package main

// ConfirmationTokens: what Stripe.js's createConfirmationToken makes from the
// Payment Element, and what a server confirms a PaymentIntent with.
//
//	POST /v1/confirmation_tokens               publishable key (the stand-in): payment_method_data[type]=card,
//	                                           payment_method_data[card][number|exp_month|exp_year|cvc],
//	                                           payment_method_data[billing_details][...], payment_method_data[allow_redisplay],
//	                                           return_url, setup_future_usage, shipping, client_context[...]
//	POST /v1/test_helpers/confirmation_tokens  secret key: payment_method (pm_card_visa, ... or a pm_ id),
//	                                           return_url, setup_future_usage, shipping
//	GET  /v1/confirmation_tokens/{id}          secret key
//
// A token lasts 12 hours and confirms one PaymentIntent (confirm=true with
// confirmation_token, or /confirm); confirming makes a new PaymentMethod from its
// payment_method_preview. Card errors at creation are 402 card_error (invalid
// number, expiry or CVC), as Stripe.js reports them.

import (
	"net/http"
	"strings"
	"time"
)

const tokenLifetime = 12 * time.Hour

type confirmationToken struct {
	ID               string
	Created          int64
	ExpiresAt        int64
	PM               *paymentMethod // the preview; not stored as a PaymentMethod
	ReturnURL        *string
	SetupFutureUsage *string
	Shipping         any
	UsedBy           *string // the PaymentIntent it confirmed
}

var (
	tokenParams          = []string{"client_context", "expand", "mandate_data", "payment_method", "payment_method_data", "payment_method_options", "return_url", "setup_future_usage", "shipping"}
	tokenHelperParams    = []string{"expand", "payment_method", "payment_method_data", "payment_method_options", "return_url", "setup_future_usage", "shipping"}
	billingDetailsParams = []string{"address", "email", "name", "phone", "tax_id"}
)

func cardError(e *apiError) *apiError {
	c := *e
	c.status, c.Type = http.StatusPaymentRequired, "card_error"
	return &c
}

func (sb *Sandbox) createTokenLocked(c *apiCall) (any, *apiError) {
	keys := tokenParams
	if !c.publishable {
		keys = tokenHelperParams
	}
	root := c.root
	if err := checkUnknown(root, keys, ""); err != nil {
		return nil, err
	}
	if _, err := expansions(root); err != nil {
		return nil, err
	}
	tok := &confirmationToken{}
	var err *apiError
	pmID, err := optString(root, "payment_method", "payment_method", 0)
	if err != nil {
		return nil, err
	}
	pmd, err := hash(root, "payment_method_data", "payment_method_data")
	if err != nil {
		return nil, err
	}
	switch {
	case pmID != nil && pmd != nil:
		return nil, exclusive("payment_method", "payment_method_data")
	case pmID != nil:
		if number, ok := testPaymentMethods[*pmID]; ok {
			tok.PM = &paymentMethod{Type: "card", Number: number, ExpMonth: 12, ExpYear: int64(sb.now().Year() + 3), AllowRedisplay: "unspecified"}
		} else if pm := sb.paymentMethods[*pmID]; pm != nil {
			cp := *pm
			tok.PM = &cp
		} else {
			return nil, invalid("payment_method", "resource_missing", "No such PaymentMethod: '%s'", *pmID)
		}
	case pmd != nil:
		if tok.PM, err = sb.tokenCard(pmd, c.publishable); err != nil {
			return nil, err
		}
	default:
		return nil, missing("payment_method_data")
	}
	if tok.ReturnURL, err = optString(root, "return_url", "return_url", 2048); err != nil {
		return nil, err
	}
	if tok.ReturnURL != nil && !validReturnURL(*tok.ReturnURL) {
		return nil, invalid("return_url", "url_invalid", "Not a valid URL: return_url must be an absolute http(s) URL.")
	}
	if sfu, err := enum(root, "setup_future_usage", "setup_future_usage", "off_session", "on_session"); err != nil {
		return nil, err
	} else if sfu != "" {
		tok.SetupFutureUsage = &sfu
	}
	if sh, err := hash(root, "shipping", "shipping", "address", "name", "phone"); err != nil {
		return nil, err
	} else if sh != nil {
		tok.Shipping = paramValue(sh)
	}
	now := sb.now()
	tok.ID, tok.Created, tok.ExpiresAt = newID("ctoken_", 24), now.Unix(), now.Add(tokenLifetime).Unix()
	sb.tokens[tok.ID] = tok
	return tok.object(), nil
}

// tokenCard reads payment_method_data: with a publishable key, a card's details
// (as Stripe.js sends them); never raw card numbers from a server.
func (sb *Sandbox) tokenCard(pmd *param, publishable bool) (*paymentMethod, *apiError) {
	const p = "payment_method_data"
	if err := checkUnknown(pmd, []string{"allow_redisplay", "billing_details", "card", "metadata", "type"}, p); err != nil {
		return nil, err
	}
	typ, err := enum(pmd, "type", p+"[type]", "card")
	if err != nil {
		return nil, err
	}
	if typ == "" {
		return nil, missing(p + "[type]")
	}
	card, err := hash(pmd, "card", p+"[card]", "cvc", "exp_month", "exp_year", "number")
	if err != nil {
		return nil, err
	}
	if card == nil {
		return nil, missing(p + "[card]")
	}
	if !publishable {
		return nil, invalid(p+"[card]", "", "Sending card numbers to the API from a server is unsafe: use payment_method=pm_card_visa (or another test PaymentMethod) with a secret key.")
	}
	read := func(name string) string { v, _, _ := str(card, name, p+"[card]["+name+"]"); return v }
	number, expMonth, expYear, cvc := read("number"), read("exp_month"), read("exp_year"), read("cvc")
	for _, f := range []struct{ name, v string }{{"number", number}, {"exp_month", expMonth}, {"exp_year", expYear}} {
		if f.v == "" {
			return nil, cardError(missing(p + "[card][" + f.name + "]"))
		}
	}
	in, cerr := sb.checkCard(number, expMonth+"/"+expYear, cvcOrDefault(cvc), p+"[card][number]", p+"[card][exp_month]", p+"[card][cvc]")
	if cerr != nil {
		cerr.Type = "card_error"
		cerr.status = http.StatusPaymentRequired
		if cerr.Code == "invalid_number" {
			cerr.Code, cerr.Message = "incorrect_number", "Your card number is incorrect."
		}
		if strings.Contains(cerr.Code, "year") {
			cerr.Param = p + "[card][exp_year]"
		}
		return nil, cerr
	}
	pm := &paymentMethod{Type: "card", Number: in.number, ExpMonth: in.expMonth, ExpYear: in.expYear, AllowRedisplay: "unspecified"}
	if ar, err := enum(pmd, "allow_redisplay", p+"[allow_redisplay]", "always", "limited", "unspecified"); err != nil {
		return nil, err
	} else if ar != "" {
		pm.AllowRedisplay = ar
	}
	bd, err := hash(pmd, "billing_details", p+"[billing_details]", billingDetailsParams...)
	if err != nil {
		return nil, err
	}
	if bd != nil {
		if pm.Email, err = optEmail(bd, "email", p+"[billing_details][email]"); err != nil {
			return nil, err
		}
		if pm.Name, err = optString(bd, "name", p+"[billing_details][name]", 256); err != nil {
			return nil, err
		}
	}
	return pm, nil
}

// cvcOrDefault: the CVC is optional in the API (Stripe.js always sends it).
func cvcOrDefault(cvc string) string {
	if cvc == "" {
		return "000"
	}
	return cvc
}

func (sb *Sandbox) retrieveTokenLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	tok := sb.tokens[c.id]
	if tok == nil {
		e := invalid("confirmation_token", "resource_missing", "No such confirmation_token: '%s'", c.id)
		e.status = http.StatusNotFound
		return nil, e
	}
	return tok.object(), nil
}

func (tok *confirmationToken) object() map[string]any {
	preview := tok.PM.object()
	for _, k := range []string{"id", "object", "created", "livemode", "metadata"} {
		delete(preview, k)
	}
	return map[string]any{
		"id": tok.ID, "object": "confirmation_token", "created": tok.Created, "expires_at": tok.ExpiresAt,
		"livemode": false, "mandate_data": nil, "payment_intent": tok.UsedBy, "payment_method_options": nil,
		"payment_method_preview": preview, "return_url": tok.ReturnURL, "setup_future_usage": tok.SetupFutureUsage,
		"setup_intent": nil, "shipping": tok.Shipping, "use_stripe_sdk": true,
	}
}
