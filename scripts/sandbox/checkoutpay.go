package main

// Paying a Checkout Session through the stand-in (POST /_sandbox/checkout/pay)
// and settling delayed payments (POST /_sandbox/sessions/{id}/async).
//
// Paying creates the session's PaymentIntent (with payment_intent_data's
// capture_method, metadata, setup_future_usage, ...) and attempts the payment:
//
//   - a succeeding card: PaymentIntent succeeded, session complete / paid;
//     events payment_intent.created, payment_intent.succeeded,
//     checkout.session.completed.
//   - with payment_intent_data[capture_method]=manual: PaymentIntent
//     requires_capture, session complete / payment_status "unpaid" (the funds are
//     only authorized; Stripe reports "paid" only for captured funds); events
//     payment_intent.created, payment_intent.amount_capturable_updated,
//     checkout.session.completed. Capturing the PaymentIntent later
//     (POST /v1/payment_intents/{id}/capture) turns the session's payment_status
//     to "paid" (a sandbox choice) and emits payment_intent.succeeded.
//   - a declined card: 402 card_error; the session stays open, its PaymentIntent
//     is requires_payment_method with last_payment_error; events
//     payment_intent.created (first attempt only), payment_intent.payment_failed.
//     Another attempt reuses the PaymentIntent.
//   - "method":"delayed" (a delayed-notification method such as SEPA Debit; no
//     card fields): PaymentIntent processing, session complete / unpaid; events
//     payment_intent.processing, checkout.session.completed. Settle it with
//     POST /_sandbox/sessions/{id}/async {"outcome":"succeeded"|"failed"}:
//     succeeded → PaymentIntent succeeded, session paid, events
//     payment_intent.succeeded + checkout.session.async_payment_succeeded;
//     failed → PaymentIntent requires_payment_method, session stays unpaid,
//     events payment_intent.payment_failed + checkout.session.async_payment_failed.
//   - an amount_total of 0: session complete / no_payment_required, no PaymentIntent.

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

type payRequest struct {
	ClientSecret string `json:"client_secret"`
	Email        string `json:"email"`
	Method       string `json:"method"` // "card" (default) or "delayed"
	CardNumber   string `json:"card_number"`
	Exp          string `json:"exp"`
	CVC          string `json:"cvc"`
	// SavePaymentMethod is the "Save card" box (saved_payment_method_options[payment_method_save]=enabled).
	SavePaymentMethod bool `json:"save_payment_method"`
	// What the session asks besides the card: shipping address and rate,
	// phone, custom fields, terms, tax ID (goods.go).
	goodsPay
}

// cardInput is a validated card from a payment form.
type cardInput struct {
	number            string
	expMonth, expYear int64
}

// checkCard validates a card number, expiry ("MM / YY") and CVC as Stripe.js would;
// errors name the params given.
func (sb *Sandbox) checkCard(number, exp, cvc, numberParam, expParam, cvcParam string) (*cardInput, *apiError) {
	number = strings.NewReplacer(" ", "", "-", "").Replace(number)
	switch {
	case number == "":
		return nil, devError(http.StatusBadRequest, "parameter_missing", numberParam, "Enter your card number.")
	case !allDigits(number) || len(number) < 12 || len(number) > 19 || !luhn(number):
		return nil, devError(http.StatusBadRequest, "invalid_number", numberParam, "Your card number is invalid.")
	}
	if strings.TrimSpace(exp) == "" {
		return nil, devError(http.StatusBadRequest, "parameter_missing", expParam, "Enter your card's expiration date.")
	}
	month, year, e := parseExpiry(exp)
	if e != nil {
		e.Param = expParam
		return nil, e
	}
	if err := sb.checkNotExpired(month, year, expParam); err != nil {
		return nil, err
	}
	cvc = strings.TrimSpace(cvc)
	switch {
	case cvc == "":
		return nil, devError(http.StatusBadRequest, "parameter_missing", cvcParam, "Enter your card's security code.")
	case !allDigits(cvc) || len(cvc) < 3 || len(cvc) > 4:
		return nil, devError(http.StatusBadRequest, "invalid_cvc", cvcParam, "Your card's security code is invalid.")
	}
	return &cardInput{number: number, expMonth: int64(month), expYear: int64(year)}, nil
}

func (sb *Sandbox) checkNotExpired(month, year int, param string) *apiError {
	now := sb.now()
	if year < now.Year() || year == now.Year() && month < int(now.Month()) {
		return devError(http.StatusBadRequest, "invalid_expiry_year_past", param, "Your card's expiration date is in the past.")
	}
	return nil
}

func (sb *Sandbox) devPay(w http.ResponseWriter, r *http.Request) {
	status, v := sb.pay(r)
	writeJSON(w, status, v)
}

func (sb *Sandbox) pay(r *http.Request) (int, any) {
	fail := func(e *apiError) (int, any) { return e.status, e.envelope() }
	var req payRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxJSONBytes))
	if err := dec.Decode(&req); err != nil {
		return fail(devError(http.StatusBadRequest, "invalid_json", "", "The body must be a JSON object {\"client_secret\",\"email\",\"card_number\",\"exp\",\"cvc\"} (or \"method\":\"delayed\" without card fields): %v", err))
	}
	if req.ClientSecret == "" {
		return fail(devError(http.StatusBadRequest, "parameter_missing", "client_secret", "Missing required field: client_secret."))
	}
	if req.Method != "" && req.Method != "card" && req.Method != "delayed" {
		return fail(devError(http.StatusBadRequest, "parameter_invalid", "method", "method must be \"card\" or \"delayed\"."))
	}

	sb.mu.Lock()
	defer sb.mu.Unlock()
	s := sb.secrets[req.ClientSecret]
	if s == nil {
		return fail(devError(http.StatusNotFound, "resource_missing", "client_secret", "No Checkout Session in the sandbox has this client_secret."))
	}
	sb.refreshLocked(s)
	switch s.Status {
	case "complete":
		return fail(devError(http.StatusBadRequest, "checkout_session_complete", "", "This Checkout Session is already complete."))
	case "expired":
		return fail(devError(http.StatusBadRequest, "checkout_session_expired", "", "This Checkout Session has expired. Start a new checkout."))
	}

	email := strings.TrimSpace(req.Email)
	switch {
	case email == "":
		return fail(devError(http.StatusBadRequest, "parameter_missing", "email", "Enter your email address."))
	case !validEmail(email):
		return fail(devError(http.StatusBadRequest, "email_invalid", "email", "Your email address is invalid."))
	case s.CustomerEmail != nil && !strings.EqualFold(email, *s.CustomerEmail):
		return fail(devError(http.StatusBadRequest, "email_invalid", "email", "This checkout is for %s.", *s.CustomerEmail))
	}
	if err := sb.collectGoodsLocked(s, &req.goodsPay); err != nil {
		return fail(err)
	}
	var pm *paymentMethod
	if req.Method == "delayed" {
		pm = &paymentMethod{ID: newID("pm_", 24), Type: "sepa_debit", Created: sb.now().Unix(), AllowRedisplay: "unspecified"}
		sb.paymentMethods[pm.ID] = pm
	} else {
		card, err := sb.checkCard(req.CardNumber, req.Exp, req.CVC, "card_number", "exp", "cvc")
		if err != nil {
			return fail(err)
		}
		if s.AmountTotal > 0 {
			pm = sb.newCardLocked(card.number, card.expMonth, card.expYear)
		}
	}
	if pm != nil {
		pm.Email = &email
	}
	return sb.completeSessionLocked(s, email, pm, req.SavePaymentMethod)
}

// completeSessionLocked attempts the session's payment with pm (nil when nothing
// is due) and completes the session unless the payment is declined.
func (sb *Sandbox) completeSessionLocked(s *session, email string, pm *paymentMethod, save bool) (int, any) {
	if s.AmountTotal > 0 {
		pi := s.PaymentIntent
		if pi == nil || pi.Status == "canceled" {
			pi = sb.sessionIntentLocked(s)
		}
		// Another attempt may have chosen another shipping rate.
		pi.Amount = s.AmountTotal
		sb.sessionCustomerLocked(s, email)
		// Checkout runs any 3D Secure challenge inside its own page.
		if err := sb.attemptLocked(pi, pm, true); err != nil {
			e := *err
			e.Param, e.PaymentIntent, e.PaymentMethod = "card_number", nil, nil
			return e.status, e.envelope()
		}
	}
	if s.AmountTotal == 0 {
		sb.sessionCustomerLocked(s, email)
	}
	sb.attachSessionCardLocked(s, pm, save)
	s.Status = "complete"
	s.PaidEmail = email
	switch {
	case s.AmountTotal == 0:
		s.PaymentStatus = "no_payment_required"
	case s.PaymentIntent.Status == "succeeded":
		s.PaymentStatus = "paid"
	default: // requires_capture (manual capture) or processing (delayed method)
		s.PaymentStatus = "unpaid"
	}
	sb.emitLocked("checkout.session.completed", s.ID, s.object(nil))
	out := map[string]any{"status": s.Status, "payment_status": s.PaymentStatus}
	if s.ReturnURL != nil && s.RedirectOnCompletion != "never" {
		out["return_url"] = strings.ReplaceAll(*s.ReturnURL, "{CHECKOUT_SESSION_ID}", s.ID)
	} else if s.SuccessURL != nil { // hosted Checkout
		out["return_url"] = strings.ReplaceAll(*s.SuccessURL, "{CHECKOUT_SESSION_ID}", s.ID)
	}
	return http.StatusOK, out
}

// sessionIntentLocked creates the PaymentIntent of a Checkout Session from its
// payment_intent_data.
func (sb *Sandbox) sessionIntentLocked(s *session) *paymentIntent {
	pi := sb.newIntentLocked(s.AmountTotal, s.Currency)
	pi.Session = s
	d := s.IntentData
	if d.CaptureMethod != "" {
		pi.CaptureMethod = d.CaptureMethod
	}
	for k, v := range d.Metadata {
		pi.Metadata[k] = v
	}
	pi.Description, pi.ReceiptEmail, pi.StatementDescriptor = d.Description, d.ReceiptEmail, d.StatementDescriptor
	pi.SetupFutureUsage = d.SetupFutureUsage
	pi.IncrementalAuth, pi.ThreeDSecure = s.IncrementalAuth, s.ThreeDSecure
	pi.Customer = s.Customer
	s.PaymentIntent = pi
	sb.emitIntentLocked("payment_intent.created", pi)
	return pi
}

type asyncRequest struct {
	Outcome string `json:"outcome"`
}

// devAsync serves POST /_sandbox/sessions/{id}/async: settles the delayed
// payment of a completed session.
func (sb *Sandbox) devAsync(w http.ResponseWriter, r *http.Request, id string) {
	var req asyncRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJSONBytes)).Decode(&req); err != nil {
		e := devError(http.StatusBadRequest, "invalid_json", "", "The body must be a JSON object {\"outcome\":\"succeeded\"|\"failed\"}: %v", err)
		writeJSON(w, e.status, e.envelope())
		return
	}
	if req.Outcome != "succeeded" && req.Outcome != "failed" {
		e := devError(http.StatusBadRequest, "parameter_invalid", "outcome", "outcome must be \"succeeded\" or \"failed\".")
		writeJSON(w, e.status, e.envelope())
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	s, err := sb.sessionLocked(id)
	if err != nil {
		writeJSON(w, err.status, err.envelope())
		return
	}
	pi := s.PaymentIntent
	if s.Status != "complete" || pi == nil || pi.Status != "processing" {
		e := devError(http.StatusBadRequest, "checkout_session_not_processing", "",
			"Checkout Session %s has no payment awaiting settlement (pay it with \"method\":\"delayed\" first).", s.ID)
		writeJSON(w, e.status, e.envelope())
		return
	}
	ok := req.Outcome == "succeeded"
	sb.settleLocked(pi, ok)
	if ok {
		s.PaymentStatus = "paid"
		sb.emitLocked("checkout.session.async_payment_succeeded", s.ID, s.object(nil))
	} else {
		sb.emitLocked("checkout.session.async_payment_failed", s.ID, s.object(nil))
	}
	writeJSON(w, http.StatusOK, s.object(map[string]bool{"payment_intent": true}))
}

func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// parseExpiry accepts "MM / YY", "MM/YY", "MM/YYYY" and "MMYY".
func parseExpiry(s string) (month, year int, err *apiError) {
	compact := strings.Join(strings.Fields(s), "")
	var mm, yy string
	if a, b, ok := strings.Cut(compact, "/"); ok {
		mm, yy = a, b
	} else if len(compact) == 4 || len(compact) == 6 {
		mm, yy = compact[:2], compact[2:]
	}
	if !allDigits(mm) || len(mm) > 2 {
		return 0, 0, devError(http.StatusBadRequest, "invalid_expiry_month", "exp", "Your card's expiration month is invalid.")
	}
	month, _ = strconv.Atoi(mm)
	if month < 1 || month > 12 {
		return 0, 0, devError(http.StatusBadRequest, "invalid_expiry_month", "exp", "Your card's expiration month is invalid.")
	}
	if !allDigits(yy) || (len(yy) != 2 && len(yy) != 4) {
		return 0, 0, devError(http.StatusBadRequest, "invalid_expiry_year", "exp", "Your card's expiration year is invalid.")
	}
	year, _ = strconv.Atoi(yy)
	if len(yy) == 2 {
		year += 2000
	}
	return month, year, nil
}
