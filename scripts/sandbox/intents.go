package main

// PaymentIntents, PaymentMethods and Charges: the objects, the card outcomes and
// the payment state machine shared by Checkout (paying a session creates a
// PaymentIntent) and the PaymentIntents API (intents_api.go).
//
// Test cards (Stripe's numbers; any future expiry, any CVC):
//
//	4242424242424242, 5555555555554444, ... any other Luhn-valid number: succeeds
//	4000002500003155, 4000002760003184,
//	4000000000003220, 4000000000003063   requires authentication (3D Secure): the
//	                                     PaymentIntent goes to requires_action with
//	                                     next_action.type=use_stripe_sdk until the
//	                                     stand-in's handleNextAction completes it
//	4000008260003178                     authenticates, then declines (insufficient_funds)
//	4000000000000002                     declined: card_declined / generic_decline (402)
//	4000000000009995                     declined: card_declined / insufficient_funds
//	4000000000009987, 4000000000009979   declined: lost_card, stolen_card
//	4100000000000019                     declined: card_declined / fraudulent (Radar blocks it)
//	4000000000000069, 4000000000000127   expired_card, incorrect_cvc
//	4000000000000119                     processing_error
//
// Test PaymentMethod ids usable as payment_method: pm_card_visa, pm_card_mastercard,
// pm_card_amex, pm_card_visa_debit, pm_card_debit_incrementalAuthAuthorized,
// pm_card_chargeDeclined, pm_card_visa_chargeDeclined,
// pm_card_chargeDeclinedInsufficientFunds, pm_card_authenticationRequired,
// pm_card_threeDSecure2Required, pm_card_radarBlock (each use makes a new pm_...
// as at Stripe).
//
// Checkout Sessions in the stand-in authenticate 3D Secure cards by themselves
// (the real Checkout page runs the challenge inside its own iframe).

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// incrementalCeiling is the sandbox's limit for incremental authorizations: an
// increment to a total above this many minor units is declined (card_declined),
// and the PaymentIntent keeps its previous amount_capturable.
const incrementalCeiling = 1000000

// maxIncrementAttempts is Stripe's limit of incremental authorization attempts
// (declines included) per PaymentIntent.
const maxIncrementAttempts = 10

type paymentIntent struct {
	ID                  string
	ClientSecret        string
	Created             int64
	Amount              int64
	AmountCapturable    int64
	AmountReceived      int64
	Currency            string
	Status              string
	CaptureMethod       string // automatic, automatic_async, manual
	ConfirmationMethod  string // automatic, manual
	Metadata            map[string]string
	Description         *string
	ReceiptEmail        *string
	StatementDescriptor *string
	Customer            *string
	SetupFutureUsage    *string
	ReturnURL           *string
	Shipping            any
	PaymentMethod       *paymentMethod
	PaymentMethodTypes  []string
	AutomaticPM         map[string]any // automatic_payment_methods, nil if absent
	IncrementalAuth     string         // payment_method_options[card][request_incremental_authorization]
	ThreeDSecure        string         // payment_method_options[card][request_three_d_secure]; "challenge" always asks
	NextAction          map[string]any
	LastPaymentError    *apiError
	CanceledAt          *int64
	CancellationReason  *string
	Charge              *charge
	Session             *session // the Checkout Session that made it
	IncrementAttempts   int
	authenticated       bool // 3D Secure completed for the current payment method
}

type paymentMethod struct {
	ID             string
	Type           string // card, sepa_debit
	Created        int64
	Number         string // card number (never rendered in full)
	ExpMonth       int64
	ExpYear        int64
	Email, Name    *string
	Customer       *string
	AllowRedisplay string
}

// charge is a payment attempt of a PaymentIntent (its latest_charge); see
// refunds.go for GET /v1/charges/{id}, refunds and disputes.
type charge struct {
	ID              string
	Created         int64
	Amount          int64
	AmountCaptured  int64
	AmountRefunded  int64 // the sum of its refunds
	Captured        bool
	Currency        string
	Status          string // succeeded, pending, failed
	FailureCode     *string
	FailureMessage  *string
	IncrementalAuth string // available, unavailable
	PaymentMethod   *paymentMethod
	Metadata        map[string]string // the PaymentIntent's metadata when the charge was made
	Intent          *paymentIntent
	Refunds         []*refund // oldest first
	Dispute         *dispute  // the latest dispute, nil if never disputed
}

// cardBehaviour is what a test card does when a payment is attempted with it.
type cardBehaviour struct {
	decline          *decline
	threeDS          bool
	declineAfterAuth *decline
}

var threeDSCards = map[string]bool{
	"4000002500003155": true,
	"4000002760003184": true,
	"4000000000003220": true,
	"4000000000003063": true,
	"4000008260003178": true,
}

func behaviourOf(pm *paymentMethod) cardBehaviour {
	if pm.Type != "card" {
		return cardBehaviour{}
	}
	if d, ok := declines[pm.Number]; ok {
		return cardBehaviour{decline: &d}
	}
	b := cardBehaviour{threeDS: threeDSCards[pm.Number]}
	if pm.Number == "4000008260003178" {
		d := declines["4000000000009995"]
		b.declineAfterAuth = &d
	}
	return b
}

// testPaymentMethods maps Stripe's test PaymentMethod ids to card numbers.
var testPaymentMethods = map[string]string{
	"pm_card_visa":                            "4242424242424242",
	"pm_card_mastercard":                      "5555555555554444",
	"pm_card_amex":                            "378282246310005",
	"pm_card_visa_debit":                      "4000056655665556",
	"pm_card_debit_incrementalAuthAuthorized": "4000056655665556",
	"pm_card_chargeDeclined":                  "4000000000000002",
	"pm_card_visa_chargeDeclined":             "4000000000000002",
	"pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
	"pm_card_authenticationRequired":          "4000002760003184",
	"pm_card_threeDSecure2Required":           "4000000000003220",
	"pm_card_radarBlock":                      "4100000000000019",
	"pm_card_mastercard_prepaid":              "5105105105105100",
	"pm_card_mastercard_debit":                "5200828282828210",
	"pm_card_br":                              "4000000760000002",
	"pm_card_ca":                              "4000001240000000",
	"pm_card_mx":                              "4000004840008001",
	"pm_card_de":                              "4000002760000016",
	"pm_card_fr":                              "4000002500000003",
	"pm_card_gb":                              "4000008260000000",
	"pm_card_gb_debit":                        "4000058260000005",
}

func cardBrand(n string) string {
	switch {
	case strings.HasPrefix(n, "4"):
		return "visa"
	case strings.HasPrefix(n, "34"), strings.HasPrefix(n, "37"):
		return "amex"
	case strings.HasPrefix(n, "5"), strings.HasPrefix(n, "2"):
		return "mastercard"
	case strings.HasPrefix(n, "6011"), strings.HasPrefix(n, "65"):
		return "discover"
	}
	return "unknown"
}

func last4(n string) string {
	if len(n) < 4 {
		return n
	}
	return n[len(n)-4:]
}

func (sb *Sandbox) newCardLocked(number string, expMonth, expYear int64) *paymentMethod {
	pm := &paymentMethod{ID: newID("pm_", 24), Type: "card", Created: sb.now().Unix(), Number: number,
		ExpMonth: expMonth, ExpYear: expYear, AllowRedisplay: "unspecified"}
	sb.paymentMethods[pm.ID] = pm
	return pm
}

// ---------------------------------------------------------------------------
// The payment state machine

// newChargeLocked records a payment attempt of pi with pm (GET /v1/charges/{id}
// finds it). It is not captured yet.
func (sb *Sandbox) newChargeLocked(pi *paymentIntent, pm *paymentMethod, status string) *charge {
	md := maps.Clone(pi.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	ch := &charge{ID: newID("ch_", 24), Created: sb.now().Unix(), Amount: pi.Amount, Currency: pi.Currency,
		Status: status, PaymentMethod: pm, IncrementalAuth: "unavailable", Metadata: md, Intent: pi}
	sb.charges[ch.ID] = ch
	return ch
}

// newIntentLocked creates a PaymentIntent in requires_payment_method.
func (sb *Sandbox) newIntentLocked(amount int64, currency string) *paymentIntent {
	pi := &paymentIntent{
		ID:                 newID("pi_", 24),
		Created:            sb.now().Unix(),
		Amount:             amount,
		Currency:           currency,
		Status:             "requires_payment_method",
		CaptureMethod:      "automatic_async",
		ConfirmationMethod: "automatic",
		Metadata:           map[string]string{},
		PaymentMethodTypes: []string{"card"},
	}
	pi.ClientSecret = pi.ID + "_secret_" + randomAlnum(24)
	sb.intents[pi.ID] = pi
	sb.intentList = append(sb.intentList, pi)
	return pi
}

func (sb *Sandbox) emitIntentLocked(typ string, pi *paymentIntent) {
	sb.emitLocked(typ, pi.ID, pi.object(nil))
}

// attemptLocked runs a payment attempt with pm on pi (confirmation). It returns
// a card error (402) when the payment is declined; pi is then back in
// requires_payment_method with last_payment_error set.
//
// authenticated means a 3D Secure challenge is already done (Checkout runs it).
func (sb *Sandbox) attemptLocked(pi *paymentIntent, pm *paymentMethod, authenticated bool) *apiError {
	if pi.PaymentMethod != pm {
		pi.authenticated = false
	}
	if authenticated {
		pi.authenticated = true
	}
	pi.PaymentMethod = pm
	pi.LastPaymentError = nil
	pi.NextAction = nil
	if !slices.Contains(pi.PaymentMethodTypes, pm.Type) {
		pi.PaymentMethodTypes = append(slices.Clone(pi.PaymentMethodTypes), pm.Type)
	}
	if pm.Type == "sepa_debit" { // a delayed-notification method: settles later
		pi.Status = "processing"
		pi.Charge = sb.newChargeLocked(pi, pm, "pending")
		sb.emitIntentLocked("payment_intent.processing", pi)
		return nil
	}
	b := behaviourOf(pm)
	if pm.Type == "card" && pi.ThreeDSecure == "challenge" {
		b.threeDS = true
	}
	if b.decline != nil {
		return sb.declineLocked(pi, pm, *b.decline)
	}
	if b.threeDS && !pi.authenticated {
		pi.Status = "requires_action"
		pi.NextAction = map[string]any{
			"type": "use_stripe_sdk",
			"use_stripe_sdk": map[string]any{
				"type":                    "three_d_secure_redirect",
				"source":                  "src_" + randomAlnum(24),
				"stripe_js":               "/_sandbox/payment_intents/" + pi.ID + "/authenticate",
				"three_d_secure_2_source": nil,
			},
		}
		sb.emitIntentLocked("payment_intent.requires_action", pi)
		return nil
	}
	if b.declineAfterAuth != nil {
		return sb.declineLocked(pi, pm, *b.declineAfterAuth)
	}
	sb.authorizeLocked(pi, pm)
	return nil
}

// authorizeLocked completes a successful card payment: captured at once, or
// held (requires_capture) for manual capture.
func (sb *Sandbox) authorizeLocked(pi *paymentIntent, pm *paymentMethod) {
	ch := sb.newChargeLocked(pi, pm, "succeeded")
	if pi.IncrementalAuth == "if_available" && pi.CaptureMethod == "manual" && pm.incrementable() {
		ch.IncrementalAuth = "available"
	}
	pi.Charge = ch
	pi.NextAction = nil
	pi.LastPaymentError = nil
	if pi.CaptureMethod == "manual" {
		pi.Status = "requires_capture"
		pi.AmountCapturable = pi.Amount
		sb.emitIntentLocked("payment_intent.amount_capturable_updated", pi)
		return
	}
	ch.Captured, ch.AmountCaptured = true, pi.Amount
	pi.Status = "succeeded"
	pi.AmountReceived = pi.Amount
	sb.emitIntentLocked("payment_intent.succeeded", pi)
}

func (sb *Sandbox) declineLocked(pi *paymentIntent, pm *paymentMethod, d decline) *apiError {
	ch := sb.newChargeLocked(pi, pm, "failed")
	ch.FailureCode, ch.FailureMessage = &d.code, &d.message
	pi.Charge = ch
	pi.Status = "requires_payment_method"
	pi.PaymentMethod = nil
	pi.NextAction = nil
	pi.authenticated = false
	pi.LastPaymentError = &apiError{status: http.StatusPaymentRequired, Type: "card_error", Code: d.code,
		DeclineCode: d.declineCode, Message: d.message, Charge: ch.ID, PaymentMethod: pm.object()}
	sb.emitIntentLocked("payment_intent.payment_failed", pi)
	e := *pi.LastPaymentError
	e.PaymentIntent = pi.object(nil)
	return &e
}

// authenticationFailedLocked is a failed 3D Secure challenge.
func (sb *Sandbox) authenticationFailedLocked(pi *paymentIntent) {
	pm := pi.PaymentMethod
	pi.Status = "requires_payment_method"
	pi.PaymentMethod = nil
	pi.NextAction = nil
	pi.authenticated = false
	pi.LastPaymentError = &apiError{status: http.StatusBadRequest, Type: "invalid_request_error",
		Code:    "payment_intent_authentication_failure",
		Message: "We are unable to authenticate your payment method. Please choose a different payment method and try again."}
	if pm != nil {
		pi.LastPaymentError.PaymentMethod = pm.object()
	}
	sb.emitIntentLocked("payment_intent.payment_failed", pi)
}

// settleLocked ends a processing (delayed-notification) payment.
func (sb *Sandbox) settleLocked(pi *paymentIntent, succeeded bool) {
	ch := pi.Charge
	if succeeded {
		pi.Status = "succeeded"
		pi.AmountReceived = pi.Amount
		if ch != nil {
			ch.Status, ch.Captured, ch.AmountCaptured = "succeeded", true, pi.Amount
		}
		sb.emitIntentLocked("payment_intent.succeeded", pi)
		return
	}
	pm := pi.PaymentMethod
	if ch != nil {
		code, msg := "payment_intent_payment_attempt_failed", "The payment failed."
		ch.Status, ch.FailureCode, ch.FailureMessage = "failed", &code, &msg
	}
	pi.Status = "requires_payment_method"
	pi.PaymentMethod = nil
	pi.LastPaymentError = &apiError{status: http.StatusBadRequest, Type: "invalid_request_error",
		Code: "payment_intent_payment_attempt_failed", Message: "The latest payment attempt of this PaymentIntent has failed."}
	if pm != nil {
		pi.LastPaymentError.PaymentMethod = pm.object()
	}
	sb.emitIntentLocked("payment_intent.payment_failed", pi)
}

func (sb *Sandbox) cancelIntentLocked(pi *paymentIntent, reason string) {
	now := sb.now().Unix()
	pi.Status = "canceled"
	pi.CanceledAt = &now
	if reason != "" {
		pi.CancellationReason = &reason
	}
	pi.AmountCapturable = 0
	pi.NextAction = nil
	sb.emitIntentLocked("payment_intent.canceled", pi)
}

// ---------------------------------------------------------------------------
// JSON shapes

type intentObject struct {
	ID                        string            `json:"id"`
	Object                    string            `json:"object"`
	Amount                    int64             `json:"amount"`
	AmountCapturable          int64             `json:"amount_capturable"`
	AmountDetails             map[string]any    `json:"amount_details"`
	AmountReceived            int64             `json:"amount_received"`
	Application               any               `json:"application"`
	ApplicationFeeAmount      any               `json:"application_fee_amount"`
	AutomaticPaymentMethods   any               `json:"automatic_payment_methods"`
	CanceledAt                *int64            `json:"canceled_at"`
	CancellationReason        *string           `json:"cancellation_reason"`
	CaptureMethod             string            `json:"capture_method"`
	ClientSecret              string            `json:"client_secret"`
	ConfirmationMethod        string            `json:"confirmation_method"`
	Created                   int64             `json:"created"`
	Currency                  string            `json:"currency"`
	Customer                  any               `json:"customer"`
	Description               *string           `json:"description"`
	LastPaymentError          *apiError         `json:"last_payment_error"`
	LatestCharge              any               `json:"latest_charge"`
	Livemode                  bool              `json:"livemode"`
	Metadata                  map[string]string `json:"metadata"`
	NextAction                map[string]any    `json:"next_action"`
	OnBehalfOf                any               `json:"on_behalf_of"`
	PaymentMethod             any               `json:"payment_method"`
	PaymentMethodOptions      map[string]any    `json:"payment_method_options"`
	PaymentMethodTypes        []string          `json:"payment_method_types"`
	Processing                any               `json:"processing"`
	ReceiptEmail              *string           `json:"receipt_email"`
	Review                    any               `json:"review"`
	SetupFutureUsage          *string           `json:"setup_future_usage"`
	Shipping                  any               `json:"shipping"`
	Source                    any               `json:"source"`
	StatementDescriptor       *string           `json:"statement_descriptor"`
	StatementDescriptorSuffix any               `json:"statement_descriptor_suffix"`
	Status                    string            `json:"status"`
	TransferData              any               `json:"transfer_data"`
	TransferGroup             any               `json:"transfer_group"`
}

// object renders pi as the API returns it; expand may name payment_method,
// latest_charge and customer.
func (pi *paymentIntent) object(expand map[string]bool) *intentObject {
	card := map[string]any{"installments": nil, "mandate_options": nil, "network": nil, "request_three_d_secure": "automatic"}
	if pi.IncrementalAuth != "" {
		card["request_incremental_authorization"] = pi.IncrementalAuth
	}
	if pi.ThreeDSecure != "" {
		card["request_three_d_secure"] = pi.ThreeDSecure
	}
	if pi.SetupFutureUsage != nil {
		card["setup_future_usage"] = nil
	}
	o := &intentObject{
		ID:                   pi.ID,
		Object:               "payment_intent",
		Amount:               pi.Amount,
		AmountCapturable:     pi.AmountCapturable,
		AmountDetails:        map[string]any{"tip": map[string]any{}},
		AmountReceived:       pi.AmountReceived,
		CanceledAt:           pi.CanceledAt,
		CancellationReason:   pi.CancellationReason,
		CaptureMethod:        pi.CaptureMethod,
		ClientSecret:         pi.ClientSecret,
		ConfirmationMethod:   pi.ConfirmationMethod,
		Created:              pi.Created,
		Currency:             pi.Currency,
		Description:          pi.Description,
		LastPaymentError:     pi.LastPaymentError,
		Metadata:             pi.Metadata,
		NextAction:           pi.NextAction,
		PaymentMethodOptions: map[string]any{"card": card},
		PaymentMethodTypes:   pi.PaymentMethodTypes,
		ReceiptEmail:         pi.ReceiptEmail,
		SetupFutureUsage:     pi.SetupFutureUsage,
		Shipping:             pi.Shipping,
		StatementDescriptor:  pi.StatementDescriptor,
		Status:               pi.Status,
	}
	if pi.AutomaticPM != nil {
		o.AutomaticPaymentMethods = pi.AutomaticPM
	}
	if pi.Customer != nil {
		o.Customer = *pi.Customer
	}
	if pm := pi.PaymentMethod; pm != nil {
		if expand["payment_method"] {
			o.PaymentMethod = pm.object()
		} else {
			o.PaymentMethod = pm.ID
		}
	}
	if ch := pi.Charge; ch != nil {
		if expand["latest_charge"] {
			o.LatestCharge = ch.object(nil)
		} else {
			o.LatestCharge = ch.ID
		}
	}
	return o
}

// publishableObject is what a publishable key with the client secret may see.
func (pi *paymentIntent) publishableObject() map[string]any {
	o := pi.object(nil)
	out := map[string]any{
		"id": o.ID, "object": o.Object, "amount": o.Amount, "amount_details": o.AmountDetails,
		"automatic_payment_methods": o.AutomaticPaymentMethods, "canceled_at": o.CanceledAt,
		"cancellation_reason": o.CancellationReason, "capture_method": o.CaptureMethod,
		"client_secret": o.ClientSecret, "confirmation_method": o.ConfirmationMethod, "created": o.Created,
		"currency": o.Currency, "description": o.Description, "last_payment_error": o.LastPaymentError,
		"livemode": false, "next_action": o.NextAction, "payment_method": o.PaymentMethod,
		"payment_method_types": o.PaymentMethodTypes, "processing": nil, "receipt_email": o.ReceiptEmail,
		"setup_future_usage": o.SetupFutureUsage, "shipping": o.Shipping, "source": nil, "status": o.Status,
	}
	return out
}

func nullAddress() map[string]any {
	return map[string]any{"city": nil, "country": nil, "line1": nil, "line2": nil, "postal_code": nil, "state": nil}
}

func (pm *paymentMethod) object() map[string]any {
	o := map[string]any{
		"id":              pm.ID,
		"object":          "payment_method",
		"allow_redisplay": pm.AllowRedisplay,
		"billing_details": map[string]any{"address": nullAddress(), "email": pm.Email, "name": pm.Name, "phone": nil, "tax_id": nil},
		"created":         pm.Created,
		"customer":        pm.Customer,
		"livemode":        false,
		"metadata":        map[string]string{},
		"type":            pm.Type,
	}
	switch pm.Type {
	case "card":
		o["card"] = pm.cardDetails()
	case "sepa_debit":
		o["sepa_debit"] = map[string]any{"bank_code": "37040044", "branch_code": nil, "country": "DE",
			"fingerprint": "sandboxsepa0001", "generated_from": nil, "last4": "3000"}
	}
	return o
}

// testCardIssue is the funding and issuing country of Stripe's test cards
// that are not a US credit card (Stripe's testing page: cards by brand and
// by country); any other number is a US credit card.
var testCardIssue = map[string]struct{ funding, country string }{
	"4000056655665556": {"debit", "US"},   // Visa (debit)
	"5200828282828210": {"debit", "US"},   // Mastercard (debit)
	"5105105105105100": {"prepaid", "US"}, // Mastercard (prepaid)
	"6011981111111113": {"debit", "US"},   // Discover (debit)
	"4000000760000002": {"credit", "BR"},
	"4000001240000000": {"credit", "CA"},
	"4000004840008001": {"credit", "MX"},
	"4000000400000008": {"credit", "AT"},
	"4000000560000004": {"credit", "BE"},
	"4000002080000001": {"credit", "DK"},
	"4000002460000001": {"credit", "FI"},
	"4000002500000003": {"credit", "FR"},
	"4000002760000016": {"credit", "DE"},
	"4000003720000005": {"credit", "IE"},
	"4000003800000008": {"credit", "IT"},
	"4000005280000002": {"credit", "NL"},
	"4000005780000007": {"credit", "NO"},
	"4000007240000007": {"credit", "ES"},
	"4000007520000008": {"credit", "SE"},
	"4000007560000009": {"credit", "CH"},
	"4000008260000000": {"credit", "GB"},
	"4000058260000005": {"debit", "GB"}, // Visa (debit)
	"5555558265554449": {"credit", "GB"},
	"4000008260003178": {"credit", "GB"}, // 3D Secure, then insufficient funds
	"4000000360000006": {"credit", "AU"},
	"4000003920000003": {"credit", "JP"},
}

// cardIssue is a card's funding and issuing country.
func cardIssue(number string) (funding, country string) {
	if in, ok := testCardIssue[number]; ok {
		return in.funding, in.country
	}
	return "credit", "US"
}

// scaCountries are where Strong Customer Authentication (or a rule like it)
// applies: Stripe's incremental authorization is not available for their
// cardholders (the EEA, the UK and Switzerland).
var scaCountries = map[string]bool{"AT": true, "BE": true, "BG": true, "CH": true, "CY": true, "CZ": true, "DE": true, "DK": true, "EE": true,
	"ES": true, "FI": true, "FR": true, "GB": true, "GR": true, "HR": true, "HU": true, "IE": true, "IS": true, "IT": true, "LI": true, "LT": true,
	"LU": true, "LV": true, "MT": true, "NL": true, "NO": true, "PL": true, "PT": true, "RO": true, "SE": true, "SI": true, "SK": true}

// incrementable: Stripe offers incremental authorization on the card
// (Visa, Mastercard, American Express or Discover, not issued where SCA
// applies). Whether it was asked for is the caller's business.
func (pm *paymentMethod) incrementable() bool {
	if pm.Type != "card" {
		return false
	}
	switch cardBrand(pm.Number) {
	case "visa", "mastercard", "amex", "discover":
	default:
		return false
	}
	_, country := cardIssue(pm.Number)
	return !scaCountries[country]
}

func (pm *paymentMethod) cardDetails() map[string]any {
	brand := cardBrand(pm.Number)
	funding, country := cardIssue(pm.Number)
	return map[string]any{
		"brand":                brand,
		"checks":               map[string]any{"address_line1_check": nil, "address_postal_code_check": nil, "cvc_check": "pass"},
		"country":              country,
		"display_brand":        brand,
		"exp_month":            pm.ExpMonth,
		"exp_year":             pm.ExpYear,
		"fingerprint":          "sandbox" + last4(pm.Number),
		"funding":              funding,
		"generated_from":       nil,
		"last4":                last4(pm.Number),
		"networks":             map[string]any{"available": []string{brand}, "preferred": nil},
		"regulated_status":     "unregulated",
		"three_d_secure_usage": map[string]any{"supported": true},
		"wallet":               nil,
	}
}

// object renders ch as GET /v1/charges/{id} returns it; expand may name
// payment_intent and refunds.
func (ch *charge) object(expand map[string]bool) map[string]any {
	pi := ch.Intent
	details := map[string]any{"type": ch.PaymentMethod.Type}
	if ch.PaymentMethod.Type == "card" {
		card := ch.PaymentMethod.cardDetails()
		delete(card, "display_brand")
		card["incremental_authorization"] = map[string]any{"status": ch.IncrementalAuth}
		card["network"] = card["brand"]
		card["three_d_secure"] = nil
		if pi != nil && pi.authenticated && pi.Charge == ch {
			card["three_d_secure"] = map[string]any{"authentication_flow": "challenge", "result": "authenticated", "version": "2.2.0"}
		}
		details["card"] = card
	} else {
		details[ch.PaymentMethod.Type] = map[string]any{"last4": "3000"}
	}
	o := map[string]any{
		"id":                     ch.ID,
		"object":                 "charge",
		"amount":                 ch.Amount,
		"amount_captured":        ch.AmountCaptured,
		"amount_refunded":        ch.AmountRefunded,
		"captured":               ch.Captured,
		"created":                ch.Created,
		"currency":               ch.Currency,
		"customer":               nil,
		"disputed":               ch.Dispute != nil,
		"failure_code":           ch.FailureCode,
		"failure_message":        ch.FailureMessage,
		"livemode":               false,
		"metadata":               ch.Metadata,
		"paid":                   ch.Status == "succeeded",
		"payment_intent":         nil,
		"payment_method":         ch.PaymentMethod.ID,
		"payment_method_details": details,
		"refunded":               ch.refunded(),
		"status":                 ch.Status,
	}
	if pi != nil {
		o["payment_intent"] = pi.ID
		if expand["payment_intent"] {
			o["payment_intent"] = pi.object(nil)
		}
		if pi.Customer != nil {
			o["customer"] = *pi.Customer
		}
	}
	if expand["refunds"] {
		data := make([]any, 0, len(ch.Refunds))
		for i := len(ch.Refunds) - 1; i >= 0; i-- { // newest first, as Stripe lists
			data = append(data, ch.Refunds[i].object(nil))
		}
		o["refunds"] = &listObject{Object: "list", Data: data, URL: "/v1/refunds?charge=" + ch.ID}
	}
	return o
}
