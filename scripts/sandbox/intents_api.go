package main

// The PaymentIntents API, as Stripe's (see intents.go for the test cards):
//
//	POST /v1/payment_intents                      create (confirm=true runs confirm)
//	GET  /v1/payment_intents/{id}                 retrieve; expand[]=payment_method|latest_charge;
//	                                              with a pk_test_ key and ?client_secret=, Stripe.js's view
//	POST /v1/payment_intents/{id}                 update (amount, currency, metadata, description, ...)
//	POST /v1/payment_intents/{id}/confirm         payment_method | confirmation_token, return_url, ...
//	POST /v1/payment_intents/{id}/capture         amount_to_capture (<= amount_capturable), metadata
//	POST /v1/payment_intents/{id}/cancel          cancellation_reason
//	POST /v1/payment_intents/{id}/increment_authorization  amount (> amount), metadata, description
//	POST /v1/payment_intents/{id}/verify_microdeposits     always refused: card PaymentIntents only
//	POST /v1/payment_intents/{id}/apply_customer_balance   always refused: no customer_balance method
//	GET  /v1/payment_intents                      list (limit, starting_after, customer)
//	GET  /v1/payment_intents/search?query=...     metadata['k']:'v', status:'x', amount>N (>=,<,<=,:),
//	                                              currency:'usd', customer:'cus_..', joined with AND
//
// State machine: requires_payment_method → (confirm) → requires_action (3D Secure
// cards) → succeeded, or requires_capture with capture_method=manual → (capture)
// succeeded; a decline returns 402 card_error (with the PaymentIntent in the
// error) and leaves requires_payment_method + last_payment_error; cancel from any
// state but succeeded/canceled. Wrong-state calls get 400
// payment_intent_unexpected_state, as at Stripe.
//
// Incremental authorization: with payment_method_options[card][request_incremental_authorization]=if_available
// and manual capture, a successful card payment's charge reports
// payment_method_details.card.incremental_authorization.status=available
// (expand[]=latest_charge); increments must exceed the current amount, at most
// 10 attempts (declines included); an increment to a total above 1,000,000 minor
// units (incrementalCeiling) is declined with 402 card_declined and changes nothing.

import (
	"net/http"
)

func noSuchIntent(id string) *apiError {
	e := invalid("intent", "resource_missing", "No such payment_intent: '%s'", id)
	e.status = http.StatusNotFound
	return e
}

// intentLocked finds a PaymentIntent; with a publishable key the client secret
// must be given and match.
func (sb *Sandbox) intentLocked(c *apiCall) (*paymentIntent, *apiError) {
	pi := sb.intents[c.ids[0]]
	if pi == nil {
		return nil, noSuchIntent(c.ids[0])
	}
	if c.publishable {
		secret, ok, err := str(c.root, "client_secret", "client_secret")
		switch {
		case err != nil:
			return nil, err
		case !ok || secret == "":
			return nil, invalid("client_secret", "parameter_missing", "A publishable key needs the PaymentIntent's client_secret.")
		case secret != pi.ClientSecret:
			return nil, invalid("client_secret", "", "The client_secret provided does not match the client_secret associated with the PaymentIntent.")
		}
	}
	return pi, nil
}

func (sb *Sandbox) retrieveIntentLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"client_secret", "expand"}, ""); err != nil {
		return nil, err
	}
	expand, err := expansions(c.root, "payment_method", "latest_charge")
	if err != nil {
		return nil, err
	}
	pi, err := sb.intentLocked(c)
	if err != nil {
		return nil, err
	}
	if c.publishable {
		return pi.publishableObject(), nil
	}
	return pi.object(expand), nil
}

// retrievePaymentMethodLocked serves GET /v1/payment_methods/{id}.
func (sb *Sandbox) retrievePaymentMethodLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	pm := sb.paymentMethods[c.ids[0]]
	if pm == nil {
		e := invalid("payment_method", "resource_missing", "No such PaymentMethod: '%s'", c.ids[0])
		e.status = http.StatusNotFound
		return nil, e
	}
	return pm.object(), nil
}
