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
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// intentFields are the parameters of POST /v1/payment_intents (create),
// /v1/payment_intents/{id} (update) and /v1/payment_intents/{id}/confirm, one
// row each; ops says which of the three take it. byHandler rows are read by
// the handlers' code (paymentMethodParam, confirmFlags, createIntentLocked).
var intentFields = []field{
	{name: "application_fee_amount", kind: refused, refuse: noConnect, ops: onCreate | onUpdate},
	{name: "on_behalf_of", kind: refused, refuse: noConnect, ops: onCreate},
	{name: "transfer_data", kind: refused, refuse: noConnect, ops: onCreate | onUpdate},
	{name: "transfer_group", kind: refused, refuse: noConnect, ops: onCreate | onUpdate},
	{name: "amount", kind: integer, min: 1, max: maxAmountTotal, ops: onCreate | onUpdate}, // at least minChargeAmount
	{name: "currency", kind: currencyCode, ops: onCreate | onUpdate},
	{name: "customer", kind: text, ops: onCreate | onUpdate}, // an existing cus_...
	{name: "description", kind: text, max: 1000, ops: onCreate | onUpdate},
	{name: "metadata", kind: metadataHash, ops: onCreate | onUpdate},
	{name: "statement_descriptor", kind: text, max: 22, ops: onCreate | onUpdate},
	{name: "statement_descriptor_suffix", kind: text, max: 22, unused: true, ops: onCreate | onUpdate},
	{name: "capture_method", kind: enumText, enum: []string{"automatic", "automatic_async", "manual"}},
	{name: "receipt_email", kind: emailText, max: 512},
	{name: "setup_future_usage", kind: enumText, enum: []string{"off_session", "on_session"}},
	{name: "shipping", kind: hashOf, sub: shippingFields},
	{name: "return_url", kind: text, max: 2048, ops: onCreate | onConfirm}, // an absolute http(s) URL
	{name: "payment_method_types", kind: byHandler},
	{name: "payment_method_options", kind: hashOf, sub: pmOptions(intentCardOptionFields)},
	{name: "automatic_payment_methods", kind: hashOf, sub: automaticPMFields, ops: onCreate}, // not with payment_method_types
	{name: "confirm", kind: boolText, ops: onCreate},
	{name: "confirmation_method", kind: enumText, enum: []string{"automatic", "manual"}, ops: onCreate},
	{name: "confirmation_token", kind: byHandler, ops: onCreate | onConfirm},
	{name: "payment_method", kind: byHandler},
	{name: "payment_method_data", kind: byHandler}, // refused: paymentMethodParam
	{name: "off_session", kind: byHandler, ops: onCreate | onConfirm},
	{name: "error_on_requires_action", kind: byHandler, ops: onCreate | onConfirm},
	{name: "expand", kind: byHandler},
	{name: "client_secret", ops: onConfirm},
	{name: "excluded_payment_method_types", ops: onCreate},
	{name: "mandate", ops: onCreate | onConfirm},
	{name: "mandate_data", ops: onCreate | onConfirm},
	{name: "payment_method_configuration", ops: onCreate | onUpdate},
	{name: "radar_options", ops: onCreate | onConfirm},
	{name: "use_stripe_sdk", ops: onCreate | onConfirm},
}

var (
	intentCreateFields  = forOp(intentFields, onCreate)
	intentUpdateFields  = forOp(intentFields, onUpdate)
	intentConfirmFields = forOp(intentFields, onConfirm)
)

var shippingFields = []field{
	{name: "address"},
	{name: "carrier"},
	{name: "name", required: true},
	{name: "phone"},
	{name: "tracking_number"},
}

var automaticPMFields = []field{
	{name: "allow_redirects", kind: enumText, enum: []string{"always", "never"}},
	{name: "enabled", kind: boolText, required: true},
}

// intentCardOptionFields: payment_method_options[card][...] of a PaymentIntent.
var intentCardOptionFields = []field{
	{name: "capture_method", kind: enumText, enum: []string{"manual"}},
	{name: "cvc_token"},
	{name: "installments"},
	{name: "mandate_options"},
	{name: "moto"},
	{name: "network"},
	{name: "request_extended_authorization"},
	{name: "request_incremental_authorization", kind: enumText, enum: []string{"if_available", "never"}}, // needs capture_method=manual
	{name: "request_multicapture"},
	{name: "request_overcapture"},
	{name: "request_three_d_secure", kind: enumText, enum: []string{"any", "automatic", "challenge"}},
	{name: "require_cvc_recollection"},
	{name: "setup_future_usage"},
	{name: "statement_descriptor_suffix_kana"},
	{name: "statement_descriptor_suffix_kanji"},
	{name: "three_d_secure"},
}

// captureFields are the parameters of POST /v1/payment_intents/{id}/capture.
var captureFields = []field{
	{name: "application_fee_amount", kind: refused, refuse: noConnect},
	{name: "transfer_data", kind: refused, refuse: noConnect},
	{name: "amount_to_capture", kind: integer, min: 1, max: maxAmountTotal}, // at most amount_capturable
	{name: "final_capture", kind: boolText, unused: true},
	{name: "metadata", kind: metadataHash}, // merged into the PaymentIntent's
	{name: "statement_descriptor", kind: text, max: 22, unused: true},
	{name: "statement_descriptor_suffix", kind: text, max: 22, unused: true},
	{name: "expand", kind: byHandler}, // payment_method, latest_charge
}

// cancelFields are the parameters of POST /v1/payment_intents/{id}/cancel.
var cancelFields = []field{
	{name: "cancellation_reason", kind: enumText, enum: []string{"abandoned", "duplicate", "fraudulent", "requested_by_customer"}},
	{name: "expand", kind: byHandler},
}

// incrementFields are the parameters of POST
// /v1/payment_intents/{id}/increment_authorization.
var incrementFields = []field{
	{name: "application_fee_amount", kind: refused, refuse: noConnect},
	{name: "transfer_data", kind: refused, refuse: noConnect},
	{name: "amount", kind: integer, required: true, min: 1, max: 1 << 40}, // above the authorized amount
	{name: "description", kind: text, max: 1000},
	{name: "metadata", kind: metadataHash}, // merged into the PaymentIntent's
	{name: "statement_descriptor", kind: text, max: 22, unused: true},
	{name: "expand", kind: byHandler},
}

var preConfirmStates = []string{"requires_payment_method", "requires_confirmation", "requires_action"}

// minChargeAmount is Stripe's minimum charge (in minor units; 50 cents for usd).
const minChargeAmount = 50

func noSuchIntent(id string) *apiError {
	e := invalid("intent", "resource_missing", "No such payment_intent: '%s'", id)
	e.status = http.StatusNotFound
	return e
}

// intentLocked finds a PaymentIntent; with a publishable key the client secret
// must be given and match.
func (sb *Sandbox) intentLocked(c *apiCall) (*paymentIntent, *apiError) {
	pi := sb.intents[c.id]
	if pi == nil {
		return nil, noSuchIntent(c.id)
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
	pm := sb.paymentMethods[c.id]
	if pm == nil {
		e := invalid("payment_method", "resource_missing", "No such PaymentMethod: '%s'", c.id)
		e.status = http.StatusNotFound
		return nil, e
	}
	return pm.object(), nil
}

func unexpectedState(pi *paymentIntent, action, verb string, allowed ...string) *apiError {
	e := invalid("", "payment_intent_unexpected_state",
		"You cannot %s this PaymentIntent because it has a status of %s. Only a PaymentIntent with one of the following statuses may be %s: %s.",
		action, pi.Status, verb, strings.Join(allowed, ", "))
	e.PaymentIntent = pi.object(nil)
	return e
}

// paramValue renders a parameter tree (e.g. shipping) as JSON-able values.
func paramValue(p *param) any {
	if p == nil {
		return nil
	}
	if p.value != nil {
		return *p.value
	}
	m := map[string]any{}
	for k, c := range p.children {
		m[k] = paramValue(c)
	}
	return m
}

// applyIntentParams reads the rows of fields (intentFields for one operation)
// into pi (a copy the caller commits only when everything is valid) and
// returns them for the caller's own rows.
func (sb *Sandbox) applyIntentParams(pi *paymentIntent, root *param, fields []field) (values, *apiError) {
	v, err := readFields(root, "", fields)
	if err != nil {
		return nil, err
	}
	if cur := v.str("currency"); cur != nil {
		pi.Currency = strings.ToLower(*cur)
	}
	if a := v["amount"]; a.set {
		if pi.Amount = a.n; pi.Amount < minChargeAmount {
			return nil, invalid("amount", "amount_too_small", "Amount must be at least %d %s (the sandbox's minimum charge, like Stripe's 0.50 usd).", minChargeAmount, pi.Currency)
		}
	}
	if cus := v.str("customer"); cus != nil {
		if sb.customers[*cus] == nil {
			return nil, noSuchCustomer("customer", *cus)
		}
		pi.Customer = cus
	}
	if d := v.str("description"); d != nil {
		pi.Description = d
	}
	if err := readMetadataAt(v["metadata"].p, "metadata", pi.Metadata); err != nil {
		return nil, err
	}
	if sd := v.str("statement_descriptor"); sd != nil {
		pi.StatementDescriptor = sd
	}
	if cm := v["capture_method"].s; cm != "" {
		pi.CaptureMethod = cm
	}
	if re := v.str("receipt_email"); re != nil {
		pi.ReceiptEmail = re
	}
	if sfu := v.str("setup_future_usage"); sfu != nil {
		pi.SetupFutureUsage = sfu
	}
	if sh := v["shipping"]; sh.set {
		pi.Shipping = paramValue(sh.p)
	}
	if ru := v.str("return_url"); ru != nil {
		if !validReturnURL(*ru) {
			return nil, invalid("return_url", "url_invalid", "Not a valid URL: return_url must be an absolute http(s) URL.")
		}
		pi.ReturnURL = ru
	}
	if types := root.child("payment_method_types"); types != nil {
		items, keys, e := list(types, "payment_method_types")
		if e != nil {
			return nil, e
		}
		var ts []string
		for i, it := range items {
			if it.value == nil || *it.value == "" {
				return nil, invalid("payment_method_types["+keys[i]+"]", "", "Invalid payment_method_types[%s]: expected a payment method type such as card", keys[i])
			}
			ts = append(ts, *it.value)
		}
		if len(ts) == 0 {
			return nil, missing("payment_method_types")
		}
		pi.PaymentMethodTypes, pi.AutomaticPM = ts, nil
	}
	card := v["payment_method_options"].sub["card"].sub
	if ia := card["request_incremental_authorization"].s; ia != "" {
		pi.IncrementalAuth = ia
	}
	if tds := card["request_three_d_secure"].s; tds != "" {
		pi.ThreeDSecure = tds
	}
	if cm := card["capture_method"].s; cm != "" {
		pi.CaptureMethod = cm
	}
	if pi.IncrementalAuth == "if_available" && pi.CaptureMethod != "manual" {
		return nil, invalid("payment_method_options[card][request_incremental_authorization]", "",
			"Incremental authorization can only be requested on a PaymentIntent with capture_method=manual.")
	}
	return v, nil
}

// paymentMethodParam resolves payment_method (a pm_ id or a Stripe test id such
// as pm_card_visa) and confirmation_token; nil when neither is given.
func (sb *Sandbox) paymentMethodParam(root *param, pi *paymentIntent) (*paymentMethod, *confirmationToken, *apiError) {
	pmID, err := optString(root, "payment_method", "payment_method", 0)
	if err != nil {
		return nil, nil, err
	}
	tokID, err := optString(root, "confirmation_token", "confirmation_token", 0)
	if err != nil {
		return nil, nil, err
	}
	if root.child("payment_method_data") != nil {
		if pmID != nil || tokID != nil {
			return nil, nil, exclusive("payment_method", "payment_method_data")
		}
		return nil, nil, invalid("payment_method_data", "",
			"Sending card details to the API from a server is unsafe and the sandbox does not accept it: collect them with Stripe.js (a ConfirmationToken) or use a test PaymentMethod such as payment_method=pm_card_visa.")
	}
	switch {
	case pmID != nil && tokID != nil:
		return nil, nil, exclusive("confirmation_token", "payment_method")
	case tokID != nil:
		tok := sb.tokens[*tokID]
		switch {
		case tok == nil:
			return nil, nil, invalid("confirmation_token", "resource_missing", "No such confirmation_token: '%s'", *tokID)
		case tok.UsedBy != nil && *tok.UsedBy != pi.ID:
			return nil, nil, invalid("confirmation_token", "", "This ConfirmationToken has already been used to confirm %s; create a new one.", *tok.UsedBy)
		case sb.now().Unix() >= tok.ExpiresAt:
			return nil, nil, invalid("confirmation_token", "", "This ConfirmationToken has expired (they are valid for 12 hours); create a new one.")
		}
		pm := *tok.PM // the PaymentMethod is made at confirmation, as at Stripe
		pm.ID, pm.Created = newID("pm_", 24), sb.now().Unix()
		sb.paymentMethods[pm.ID] = &pm
		return &pm, tok, nil
	case pmID != nil:
		if number, ok := testPaymentMethods[*pmID]; ok {
			return sb.newCardLocked(number, 12, int64(sb.now().Year()+3)), nil, nil
		}
		pm := sb.paymentMethods[*pmID]
		if pm == nil {
			return nil, nil, invalid("payment_method", "resource_missing", "No such PaymentMethod: '%s'", *pmID)
		}
		return pm, nil, nil
	}
	return nil, nil, nil
}

func (sb *Sandbox) createIntentLocked(c *apiCall) (any, *apiError) {
	root := c.root
	if err := checkUnknown(root, fieldNames(intentCreateFields), ""); err != nil {
		return nil, err
	}
	expand, err := expansions(root, "payment_method", "latest_charge")
	if err != nil {
		return nil, err
	}
	if root.child("amount") == nil {
		return nil, missing("amount")
	}
	if root.child("currency") == nil {
		return nil, missing("currency")
	}
	next := paymentIntent{Metadata: map[string]string{}, CaptureMethod: "automatic_async", ConfirmationMethod: "automatic",
		PaymentMethodTypes: []string{"card"}, AutomaticPM: map[string]any{"enabled": true, "allow_redirects": "always"}}
	v, err := sb.applyIntentParams(&next, root, intentCreateFields)
	if err != nil {
		return nil, err
	}
	if cm := v["confirmation_method"].s; cm != "" {
		next.ConfirmationMethod = cm
	}
	if apm := v["automatic_payment_methods"]; apm.set {
		if root.child("payment_method_types") != nil {
			return nil, exclusive("automatic_payment_methods", "payment_method_types")
		}
		ar := apm.sub["allow_redirects"].s
		if ar == "" {
			ar = "always"
		}
		next.AutomaticPM = map[string]any{"enabled": true, "allow_redirects": ar}
		if !apm.sub["enabled"].b {
			next.AutomaticPM = map[string]any{"enabled": false}
		}
	}
	confirm := v["confirm"].b
	pm, tok, err := sb.paymentMethodParam(root, &next)
	if err != nil {
		return nil, err
	}
	if tok != nil && !confirm {
		return nil, invalid("confirmation_token", "", "confirmation_token can only be used with confirm=true (or on POST /v1/payment_intents/{id}/confirm).")
	}
	for _, name := range []string{"off_session", "error_on_requires_action", "return_url"} {
		if root.child(name) != nil && !confirm {
			return nil, invalid(name, "", "%s can only be used with confirm=true.", name)
		}
	}
	offSession, requiresActionIsError, err := confirmFlags(root)
	if err != nil {
		return nil, err
	}

	pi := sb.newIntentLocked(next.Amount, next.Currency)
	id, secret, created := pi.ID, pi.ClientSecret, pi.Created
	*pi = next
	pi.ID, pi.ClientSecret, pi.Created, pi.Status = id, secret, created, "requires_payment_method"
	if pm != nil {
		pi.PaymentMethod = pm
		pi.Status = "requires_confirmation"
	}
	sb.emitIntentLocked("payment_intent.created", pi)
	if confirm {
		if err := sb.confirmLocked(pi, pm, tok, offSession, requiresActionIsError); err != nil {
			return nil, err
		}
	}
	return pi.object(expand), nil
}

// confirmFlags reads off_session (true/false/one_off/recurring) and error_on_requires_action.
func confirmFlags(root *param) (offSession, requiresActionIsError bool, err *apiError) {
	if v, ok, e := str(root, "off_session", "off_session"); e != nil {
		return false, false, e
	} else if ok {
		switch v {
		case "true", "one_off", "recurring":
			offSession = true
		case "false":
		default:
			return false, false, invalid("off_session", "", "Invalid off_session: must be true, false, one_off or recurring")
		}
	}
	b, e := boolean(root, "error_on_requires_action", "error_on_requires_action")
	if e != nil {
		return false, false, e
	}
	return offSession, b != nil && *b, nil
}

// confirmLocked confirms pi with pm (or its current payment method).
func (sb *Sandbox) confirmLocked(pi *paymentIntent, pm *paymentMethod, tok *confirmationToken, offSession, requiresActionIsError bool) *apiError {
	if pm == nil {
		pm = pi.PaymentMethod
	}
	if pm == nil {
		e := invalid("", "payment_intent_unexpected_state",
			"You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method or ConfirmationToken.")
		e.PaymentIntent = pi.object(nil)
		return e
	}
	if tok != nil {
		id := pi.ID
		tok.UsedBy = &id
		if pi.ReturnURL == nil {
			pi.ReturnURL = tok.ReturnURL
		}
		if pi.SetupFutureUsage == nil {
			pi.SetupFutureUsage = tok.SetupFutureUsage
		}
		if pi.Shipping == nil {
			pi.Shipping = tok.Shipping
		}
	}
	if pm.Type == "card" && (offSession || requiresActionIsError) && (threeDSCards[pm.Number] || pi.ThreeDSecure == "challenge") && !(pi.authenticated && pi.PaymentMethod == pm) {
		return sb.declineLocked(pi, pm, decline{"authentication_required", "authentication_required",
			"Your card was declined. This transaction requires authentication."})
	}
	if err := sb.attemptLocked(pi, pm, false); err != nil {
		return err
	}
	if pi.Status == "succeeded" || pi.Status == "requires_capture" || pi.Status == "processing" {
		sb.attachIntentCardLocked(pi)
	}
	return nil
}

// attachIntentCardLocked saves the card to the customer when the payment was
// set up for future use.
func (sb *Sandbox) attachIntentCardLocked(pi *paymentIntent) {
	if pm := pi.PaymentMethod; pm != nil && pi.Customer != nil && pi.SetupFutureUsage != nil && pm.Customer == nil {
		pm.Customer, pm.AllowRedisplay = pi.Customer, "limited"
	}
}

func (sb *Sandbox) confirmIntentLocked(c *apiCall) (any, *apiError) {
	root := c.root
	if err := checkUnknown(root, fieldNames(intentConfirmFields), ""); err != nil {
		return nil, err
	}
	expand, err := expansions(root, "payment_method", "latest_charge")
	if err != nil {
		return nil, err
	}
	pi, err := sb.intentLocked(c)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(preConfirmStates, pi.Status) {
		return nil, unexpectedState(pi, "confirm", "confirmed", preConfirmStates...)
	}
	if pi.Session != nil {
		return nil, invalid("", "", "This PaymentIntent is managed by Checkout Session %s and is confirmed by Checkout.", pi.Session.ID)
	}
	next := *pi
	next.Metadata = maps.Clone(pi.Metadata)
	if _, err := sb.applyIntentParams(&next, root, intentConfirmFields); err != nil {
		return nil, err
	}
	pm, tok, err := sb.paymentMethodParam(root, &next)
	if err != nil {
		return nil, err
	}
	offSession, requiresActionIsError, err := confirmFlags(root)
	if err != nil {
		return nil, err
	}
	*pi = next
	if err := sb.confirmLocked(pi, pm, tok, offSession, requiresActionIsError); err != nil {
		return nil, err
	}
	return pi.object(expand), nil
}

func (sb *Sandbox) updateIntentLocked(c *apiCall) (any, *apiError) {
	root := c.root
	if err := checkUnknown(root, fieldNames(intentUpdateFields), ""); err != nil {
		return nil, err
	}
	expand, err := expansions(root, "payment_method", "latest_charge")
	if err != nil {
		return nil, err
	}
	pi, err := sb.intentLocked(c)
	if err != nil {
		return nil, err
	}
	if pi.Status == "canceled" {
		return nil, unexpectedState(pi, "update", "updated", "requires_payment_method", "requires_confirmation", "requires_action", "requires_capture", "processing", "succeeded")
	}
	// Only metadata, description, receipt_email and shipping change after confirmation.
	if !slices.Contains(preConfirmStates, pi.Status) {
		for _, name := range []string{"amount", "currency", "capture_method", "customer", "payment_method", "payment_method_options", "payment_method_types", "setup_future_usage"} {
			if root.child(name) != nil {
				e := invalid(name, "payment_intent_unexpected_state", "You cannot update %s on a PaymentIntent with a status of %s.", name, pi.Status)
				e.PaymentIntent = pi.object(nil)
				return nil, e
			}
		}
	}
	next := *pi
	next.Metadata = maps.Clone(pi.Metadata)
	if _, err := sb.applyIntentParams(&next, root, intentUpdateFields); err != nil {
		return nil, err
	}
	pm, _, err := sb.paymentMethodParam(root, &next)
	if err != nil {
		return nil, err
	}
	if pm != nil {
		next.PaymentMethod = pm
		next.Status = "requires_confirmation"
	}
	if (next.Amount != pi.Amount || next.Currency != pi.Currency) && pi.Status == "requires_action" {
		next.Status, next.NextAction = "requires_confirmation", nil
	}
	*pi = next
	return pi.object(expand), nil
}

func (sb *Sandbox) captureIntentLocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", captureFields)
	if err != nil {
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
	if pi.Status != "requires_capture" {
		return nil, unexpectedState(pi, "capture", "captured", "requires_capture")
	}
	amount := pi.AmountCapturable
	if a := v["amount_to_capture"]; a.set {
		if a.n > pi.AmountCapturable {
			return nil, invalid("amount_to_capture", "amount_too_large",
				"The amount to capture (%d) must be less than or equal to the amount capturable (%d).", a.n, pi.AmountCapturable)
		}
		amount = a.n
	}
	md := maps.Clone(pi.Metadata)
	if err := readMetadataAt(v["metadata"].p, "metadata", md); err != nil {
		return nil, err
	}
	pi.Metadata = md
	pi.Status = "succeeded"
	pi.AmountReceived = amount
	pi.AmountCapturable = 0
	if ch := pi.Charge; ch != nil {
		ch.Captured, ch.AmountCaptured = true, amount
	}
	if s := pi.Session; s != nil && s.Status == "complete" && s.PaymentStatus == "unpaid" {
		s.PaymentStatus = "paid" // a sandbox choice, see checkoutpay.go
	}
	sb.emitIntentLocked("payment_intent.succeeded", pi)
	return pi.object(expand), nil
}

var cancelableStates = []string{"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing"}

func (sb *Sandbox) cancelIntentAPILocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", cancelFields)
	if err != nil {
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
	reason := v["cancellation_reason"].s
	if !slices.Contains(cancelableStates, pi.Status) {
		return nil, unexpectedState(pi, "cancel", "canceled", cancelableStates...)
	}
	if s := pi.Session; s != nil && s.Status == "open" {
		return nil, invalid("", "", "This PaymentIntent belongs to Checkout Session %s, which is still open: expire the session instead.", s.ID)
	}
	sb.cancelIntentLocked(pi, reason)
	return pi.object(expand), nil
}

func (sb *Sandbox) incrementIntentLocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", incrementFields)
	if err != nil {
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
	amount, desc := v["amount"].n, v.str("description")
	md := maps.Clone(pi.Metadata)
	if err := readMetadataAt(v["metadata"].p, "metadata", md); err != nil {
		return nil, err
	}
	if pi.Status != "requires_capture" {
		return nil, unexpectedState(pi, "increment the authorization of", "incremented", "requires_capture")
	}
	if pi.Charge == nil || pi.Charge.IncrementalAuth != "available" {
		e := invalid("", "", "Incremental authorization is not available for this PaymentIntent: create it with payment_method_options[card][request_incremental_authorization]=if_available and capture_method=manual.")
		e.PaymentIntent = pi.object(nil)
		return nil, e
	}
	if amount <= pi.Amount {
		return nil, invalid("amount", "", "The amount (%d) must be greater than the currently authorized amount (%d).", amount, pi.Amount)
	}
	if pi.IncrementAttempts >= maxIncrementAttempts {
		e := invalid("", "", "This PaymentIntent has reached the maximum of %d incremental authorization attempts.", maxIncrementAttempts)
		e.PaymentIntent = pi.object(nil)
		return nil, e
	}
	pi.IncrementAttempts++
	if amount > incrementalCeiling {
		e := &apiError{status: http.StatusPaymentRequired, Type: "card_error", Code: "card_declined", DeclineCode: "insufficient_funds",
			Message: "Your card has insufficient funds for this incremental authorization (the sandbox declines totals above " + strconv.Itoa(incrementalCeiling) + ").",
			Charge:  pi.Charge.ID, PaymentIntent: pi.object(nil)}
		return nil, e
	}
	pi.Amount, pi.AmountCapturable, pi.Charge.Amount = amount, amount, amount
	pi.Metadata = md
	if desc != nil {
		pi.Description = desc
	}
	sb.emitIntentLocked("payment_intent.amount_capturable_updated", pi)
	return pi.object(expand), nil
}

func (sb *Sandbox) verifyMicrodepositsLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"amounts", "client_secret", "descriptor_code", "expand"}, ""); err != nil {
		return nil, err
	}
	pi, err := sb.intentLocked(c)
	if err != nil {
		return nil, err
	}
	if a := c.root.child("amounts"); a != nil {
		items, keys, err := list(a, "amounts")
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			if it.value == nil {
				return nil, invalid("amounts["+keys[i]+"]", "", "Invalid integer")
			}
			if _, err := parseInt(*it.value, "amounts["+keys[i]+"]", 1, 100); err != nil {
				return nil, err
			}
		}
	}
	e := invalid("", "payment_intent_unexpected_state",
		"This PaymentIntent (status %s) has no microdeposit verification pending: the sandbox's PaymentIntents pay by card, and only bank account payments (next_action.type=verify_with_microdeposits) are verified with microdeposits.", pi.Status)
	e.PaymentIntent = pi.object(nil)
	return nil, e
}

func (sb *Sandbox) applyCustomerBalanceLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"amount", "currency", "expand"}, ""); err != nil {
		return nil, err
	}
	pi, err := sb.intentLocked(c)
	if err != nil {
		return nil, err
	}
	if v, ok, err := str(c.root, "amount", "amount"); err != nil {
		return nil, err
	} else if ok {
		if _, err := parseInt(v, "amount", 1, pi.Amount); err != nil {
			return nil, err
		}
	}
	e := invalid("", "payment_intent_unexpected_state",
		"You cannot apply a customer balance to this PaymentIntent: its payment_method_types (%s) do not include customer_balance.", strings.Join(pi.PaymentMethodTypes, ", "))
	e.PaymentIntent = pi.object(nil)
	return nil, e
}

func (sb *Sandbox) listIntentsLocked(c *apiCall) (any, *apiError) {
	root := c.root
	if err := checkUnknown(root, []string{"created", "customer", "ending_before", "expand", "limit", "starting_after"}, ""); err != nil {
		return nil, err
	}
	limit := int64(defaultListLimit)
	if v, ok, err := str(root, "limit", "limit"); err != nil {
		return nil, err
	} else if ok {
		if limit, err = parseInt(v, "limit", 1, 100); err != nil {
			return nil, err
		}
	}
	cus, err := optString(root, "customer", "customer", 0)
	if err != nil {
		return nil, err
	}
	after, err := optString(root, "starting_after", "starting_after", 0)
	if err != nil {
		return nil, err
	}
	data := []any{}
	more, skipping := false, after != nil
	for i := len(sb.intentList) - 1; i >= 0; i-- {
		pi := sb.intentList[i]
		if skipping {
			skipping = pi.ID != *after
			continue
		}
		if cus != nil && (pi.Customer == nil || *pi.Customer != *cus) {
			continue
		}
		if int64(len(data)) == limit {
			more = true
			break
		}
		data = append(data, pi.object(nil))
	}
	return &listObject{Object: "list", Data: data, HasMore: more, URL: "/v1/payment_intents"}, nil
}

// ---------------------------------------------------------------------------
// 3D Secure, completed by the stand-in's handleNextAction

type authenticateRequest struct {
	ClientSecret string `json:"client_secret"`
	Outcome      string `json:"outcome"`
}

// devAuthenticate serves POST /_sandbox/payment_intents/{id}/authenticate with
// {"client_secret":"pi_..._secret_...","outcome":"complete"|"fail"}: the result
// of the 3D Secure challenge of a requires_action PaymentIntent. It answers with
// Stripe.js's view of the PaymentIntent.
func (sb *Sandbox) devAuthenticate(w http.ResponseWriter, r *http.Request, id string) {
	var req authenticateRequest
	if err := decodeJSON(r, &req); err != nil {
		e := devError(http.StatusBadRequest, "invalid_json", "", "The body must be a JSON object {\"client_secret\",\"outcome\":\"complete\"|\"fail\"}: %v", err)
		writeJSON(w, e.status, e.envelope())
		return
	}
	if req.Outcome != "complete" && req.Outcome != "fail" {
		e := devError(http.StatusBadRequest, "parameter_invalid", "outcome", "outcome must be \"complete\" or \"fail\".")
		writeJSON(w, e.status, e.envelope())
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	pi := sb.intents[id]
	switch {
	case pi == nil || req.ClientSecret != pi.ClientSecret:
		e := devError(http.StatusNotFound, "resource_missing", "client_secret", "No PaymentIntent %q with this client_secret.", id)
		writeJSON(w, e.status, e.envelope())
		return
	case pi.Status != "requires_action":
		e := devError(http.StatusBadRequest, "payment_intent_unexpected_state", "", "PaymentIntent %s is %s, not requires_action: nothing to authenticate.", pi.ID, pi.Status)
		writeJSON(w, e.status, e.envelope())
		return
	}
	if req.Outcome == "fail" {
		sb.authenticationFailedLocked(pi)
	} else {
		pi.authenticated = true
		b := behaviourOf(pi.PaymentMethod)
		switch {
		case b.declineAfterAuth != nil:
			sb.declineLocked(pi, pi.PaymentMethod, *b.declineAfterAuth)
		case pi.ConfirmationMethod == "manual":
			// The server confirms again.
			pi.Status, pi.NextAction = "requires_confirmation", nil
		default:
			sb.authorizeLocked(pi, pi.PaymentMethod)
			sb.attachIntentCardLocked(pi)
		}
	}
	writeJSON(w, http.StatusOK, pi.publishableObject())
}

func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, maxJSONBytes)).Decode(v)
}
