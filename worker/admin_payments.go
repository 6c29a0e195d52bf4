package worker

// The operator API's payment endpoints (under /admin/, bearer token, see
// admin.go). They drive Stripe's PaymentIntent operations for the shop owner:
//
//	GET  /admin/payment_intents/search?query=...&limit=&page=
//	GET  /admin/payment_intents/{id}
//	POST /admin/payment_intents/{id}/confirm                 {payment_method?, return_url?}
//	POST /admin/payment_intents/{id}/capture                 {amount_to_capture?}
//	POST /admin/payment_intents/{id}/approve                 = capture
//	POST /admin/payment_intents/{id}/cancel                  {reason?}
//	POST /admin/payment_intents/{id}/reject                  = cancel
//	POST /admin/payment_intents/{id}/increment_authorization {amount}
//	POST /admin/payment_intents/{id}/verify_microdeposits    {amounts:[a,b]} | {descriptor_code}
//	POST /admin/payment_intents/{id}/apply_customer_balance  {amount?, currency?}
//	POST /admin/billing_portal_sessions                      {customer, return_url?}
//	POST /admin/customer_tokens                              {customer, ttl_seconds?}
//
// With manual capture, approving an order is capturing its PaymentIntent and
// rejecting it is cancelling it (which releases the authorization).
//
// Answers are the PaymentIntent's main fields in Stripe's names (never its
// client secret). Stripe's refusals keep Stripe's code, message and request
// id; the request the worker sent (which carries the secret key) is never
// echoed. An optional Idempotency-Key header (8-64 of a-z A-Z 0-9 - _) is
// passed on to Stripe, so an operator's retry cannot capture twice.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"checkoutkit/worker/internal/stripeapi"

	"github.com/stripe/stripe-go/v82"
)

// metaIncrements counts increment_authorization attempts on a PaymentIntent.
// Stripe allows at most maxIncrements; a failed attempt does not save the
// metadata sent with it, so failures are recorded with a separate update.
const (
	metaIncrements = "kit_increment_attempts"
	maxIncrements  = 10
)

// readAdminJSON reads an optional JSON body strictly (an empty body leaves v
// as it is).
func readAdminJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if _, err := readJSON(w, r, v); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		return badRequest("invalid_json", "", "could not read the body")
	}
	return nil
}

// adminIntentID reads and checks the {id} path segment.
func adminIntentID(r *http.Request) (string, *apiError) {
	id := r.PathValue("id")
	if !hasIDPrefix(id, "pi_") {
		return "", badRequest("invalid_payment_intent", "id", "the path must name a PaymentIntent id (pi_...)")
	}
	return id, nil
}

// adminIntentRequest reads an operator request on a PaymentIntent: the {id}
// path segment, then the JSON body into v. It answers the error itself and
// reports whether the handler may go on.
func adminIntentRequest(w http.ResponseWriter, r *http.Request, v any) (string, bool) {
	id, aerr := adminIntentID(r)
	if aerr == nil {
		aerr = readAdminJSON(w, r, v)
	}
	if aerr != nil {
		writeError(w, aerr)
		return "", false
	}
	return id, true
}

// adminParams prepares the common parameters: the operator's
// Idempotency-Key, if any.
func adminParams(r *http.Request, p *stripe.Params) *apiError {
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if !validIdempotencyKey(k) {
			return badRequest("invalid_idempotency_key", "Idempotency-Key", "the Idempotency-Key header must be 8-64 characters of a-z, A-Z, 0-9, '-' or '_'")
		}
		p.SetIdempotencyKey("kit-admin-" + r.PathValue("id") + "-" + k)
	}
	return nil
}

// fromStripeAdmin maps Stripe errors for the operator: declines as for
// shoppers (402 with Stripe's codes); invalid requests keep Stripe's code and
// message, as 409 when the object is in the wrong state and 400 otherwise.
func fromStripeAdmin(err error, op string) *apiError {
	ae := fromStripePayment(err, op)
	var se *stripeapi.Error
	if !errors.As(err, &se) || ae.Status != http.StatusBadGateway || se.Type != stripe.ErrorTypeInvalidRequest || se.HTTPStatusCode >= 500 {
		return ae
	}
	if se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden {
		return ae
	}
	ae.Status, ae.Code = http.StatusBadRequest, string(se.Code)
	if ae.Code == "" {
		ae.Code = "stripe_invalid_request"
	}
	if strings.HasSuffix(ae.Code, "_unexpected_state") {
		ae.Status = http.StatusConflict
	}
	ae.Param = se.Param
	// Stripe's messages describe the request's problem; they never contain
	// the key, but keep anything that looks like one out regardless.
	if msg := strings.TrimSpace(se.Msg); msg != "" && !strings.Contains(msg, "sk_") && !strings.Contains(msg, "rk_") {
		ae.Message = msg
	}
	return ae
}

// answerIntent answers with the PaymentIntent an operation returned, or
// with the operation's error.
func answerIntent(w http.ResponseWriter, pi *stripeapi.PaymentIntent, err error) {
	if err != nil {
		writeError(w, fromStripeAdmin(err, "payment intent"))
		return
	}
	writeIntent(w, pi)
}

// intentView is the operator's PaymentIntent: Stripe's fields, plus whether
// its latest charge can be incremented.
type intentView struct {
	*stripeapi.PaymentIntent
	// IncrementalAuthorization is the latest charge's
	// payment_method_details.card.incremental_authorization.status:
	// "available" or "unavailable" (also for a charge that is not a card's,
	// or no charge yet); omitted when the charge was not read.
	IncrementalAuthorization string `json:"incremental_authorization,omitempty"`
}

func writeIntent(w http.ResponseWriter, pi *stripeapi.PaymentIntent) {
	pi.ClientSecret = "" // the operator never needs it; keep it out of logs and terminals
	writeJSON(w, http.StatusOK, intentView{pi, incrementalStatus(pi)})
}

// incrementalStatus is what intentView says of pi's latest charge ("" when
// it was not expanded).
func incrementalStatus(pi *stripeapi.PaymentIntent) string {
	switch c := pi.LatestCharge; {
	case c.IncrementalAuthorization != "":
		return c.IncrementalAuthorization
	case c.Expanded:
		return "unavailable"
	}
	return ""
}

// retrieveIntent reads the PaymentIntent the handler works on, with its
// latest charge (whether it allows incremental authorization); on failure
// it answers the error itself.
func (s *Server) retrieveIntent(w http.ResponseWriter, r *http.Request, id string) (*stripeapi.PaymentIntent, bool) {
	pi, err := s.stripe.RetrievePaymentIntent(r.Context(), id, "latest_charge")
	if err != nil {
		writeError(w, fromStripeAdmin(err, "payment intent"))
		return nil, false
	}
	// Asked for and absent (not confirmed yet): known to have no charge.
	pi.LatestCharge.Expanded = pi.LatestCharge.Expanded || pi.LatestCharge.ID == ""
	return pi, true
}

func (s *Server) handleAdminGetIntent(w http.ResponseWriter, r *http.Request) {
	id, aerr := adminIntentID(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if pi, ok := s.retrieveIntent(w, r, id); ok {
		writeIntent(w, pi)
	}
}

func (s *Server) handleAdminConfirm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PaymentMethod string `json:"payment_method"`
		ReturnURL     string `json:"return_url"`
	}
	id, ok := adminIntentRequest(w, r, &req)
	if !ok {
		return
	}
	params := &stripe.PaymentIntentConfirmParams{}
	if req.PaymentMethod != "" {
		if !hasIDPrefix(req.PaymentMethod, "pm_") {
			writeError(w, badRequest("invalid_payment_method", "payment_method", "payment_method must be a PaymentMethod id (pm_...)"))
			return
		}
		params.PaymentMethod = stripe.String(req.PaymentMethod)
	}
	if req.ReturnURL != "" {
		if err := checkAbsoluteURL(req.ReturnURL); err != nil || strings.ContainsAny(req.ReturnURL, " \r\n") {
			writeError(w, badRequest("invalid_return_url", "return_url", "return_url must be an absolute http(s) URL"))
			return
		}
		params.ReturnURL = stripe.String(req.ReturnURL)
	}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	pi, err := s.stripe.ConfirmPaymentIntent(r.Context(), id, params)
	answerIntent(w, pi, err)
}

// notCapturable answers 409 for a PaymentIntent that has nothing to capture.
func notCapturable(pi *stripeapi.PaymentIntent) *apiError {
	return &apiError{Status: http.StatusConflict, Code: "payment_intent_not_capturable",
		Message: "the PaymentIntent is " + pi.Status + "; only a requires_capture (authorized, manual-capture) PaymentIntent can be captured or incremented"}
}

func (s *Server) handleAdminCapture(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AmountToCapture *int64 `json:"amount_to_capture"`
	}
	id, ok := adminIntentRequest(w, r, &req)
	if !ok {
		return
	}
	if req.AmountToCapture != nil && *req.AmountToCapture < 1 {
		writeError(w, badRequest("invalid_amount", "amount_to_capture", "amount_to_capture must be a positive amount in minor units"))
		return
	}
	params := &stripe.PaymentIntentCaptureParams{AmountToCapture: req.AmountToCapture}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	pi, ok := s.retrieveIntent(w, r, id)
	if !ok {
		return
	}
	// The operator's retry (same Idempotency-Key) of a capture whose answer was
	// lost finds the PaymentIntent captured: Stripe replays the first answer
	// (or, if that key captured nothing, refuses: 409 below).
	retried := params.IdempotencyKey != nil && pi.Status == string(stripe.PaymentIntentStatusSucceeded)
	if pi.Status != string(stripe.PaymentIntentStatusRequiresCapture) && !retried {
		writeError(w, notCapturable(pi))
		return
	}
	if req.AmountToCapture != nil && *req.AmountToCapture > pi.AmountCapturable && !retried {
		writeError(w, badRequest("invalid_amount", "amount_to_capture", "amount_to_capture %d is more than the %d authorized (amount_capturable)", *req.AmountToCapture, pi.AmountCapturable))
		return
	}
	captured, err := s.stripe.CapturePaymentIntent(r.Context(), id, params)
	answerIntent(w, captured, err)
}

// cancellationReasons are Stripe's values of cancellation_reason.
var cancellationReasons = map[string]bool{"duplicate": true, "fraudulent": true, "requested_by_customer": true, "abandoned": true}

func (s *Server) handleAdminCancel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	id, ok := adminIntentRequest(w, r, &req)
	if !ok {
		return
	}
	params := &stripe.PaymentIntentCancelParams{}
	if req.Reason != "" {
		if !cancellationReasons[req.Reason] {
			writeError(w, badRequest("invalid_reason", "reason", "reason must be duplicate, fraudulent, requested_by_customer or abandoned"))
			return
		}
		params.CancellationReason = stripe.String(req.Reason)
	}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	pi, err := s.stripe.CancelPaymentIntent(r.Context(), id, params)
	answerIntent(w, pi, err)
}

// handleAdminIncrement raises the authorization of a requires_capture
// PaymentIntent to a new, larger total. A decline answers 402 with Stripe's
// codes; the PaymentIntent stays capturable for the earlier amount.
func (s *Server) handleAdminIncrement(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount int64 `json:"amount"`
	}
	id, ok := adminIntentRequest(w, r, &req)
	if !ok {
		return
	}
	if req.Amount < 1 || req.Amount > maxOrderAmount {
		writeError(w, badRequest("invalid_amount", "amount", "amount is required: the new total to authorize, in minor units (at most %d)", maxOrderAmount))
		return
	}
	params := &stripe.PaymentIntentIncrementAuthorizationParams{Amount: stripe.Int64(req.Amount)}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	pi, ok := s.retrieveIntent(w, r, id)
	if !ok {
		return
	}
	if pi.Status != string(stripe.PaymentIntentStatusRequiresCapture) {
		writeError(w, notCapturable(pi))
		return
	}
	if pi.LatestCharge.IncrementalAuthorization != "available" {
		// Stripe would refuse it too, after counting an attempt: say why
		// before calling.
		charge := "it has no charge yet"
		if pi.LatestCharge.ID != "" {
			charge = "its charge " + pi.LatestCharge.ID + " says unavailable"
		}
		if pi.LatestCharge.ID != "" && pi.LatestCharge.IncrementalAuthorization == "" {
			charge = "its charge " + pi.LatestCharge.ID + " is not a card payment"
		}
		writeError(w, &apiError{Status: http.StatusConflict, Code: "incremental_authorization_unavailable",
			Message: "this payment cannot be incremented (" + charge + "): the card, its network or the shop's account does not support incremental authorization, or the product did not ask for it; capture it and charge the difference as a new payment"})
		return
	}
	if req.Amount <= pi.Amount {
		writeError(w, badRequest("invalid_amount", "amount", "amount %d must exceed the current authorized total %d", req.Amount, pi.Amount))
		return
	}
	attempts, _ := strconv.Atoi(pi.Metadata[metaIncrements])
	if attempts >= maxIncrements {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "increment_limit_reached",
			Message: "this PaymentIntent has had " + strconv.Itoa(attempts) + " incremental authorization attempts; Stripe allows " + strconv.Itoa(maxIncrements)})
		return
	}
	count := strconv.Itoa(attempts + 1)
	params.Metadata = map[string]string{metaIncrements: count}
	out, err := s.stripe.IncrementAuthorization(r.Context(), id, params)
	if err == nil {
		writeIntent(w, out)
		return
	}
	ae := fromStripeAdmin(err, "payment intent")
	if ae.Status == http.StatusPaymentRequired {
		// Stripe kept nothing of the failed attempt: record it, best effort.
		up := &stripe.PaymentIntentUpdateParams{Metadata: map[string]string{metaIncrements: count}}
		if _, uerr := s.stripe.UpdatePaymentIntent(r.Context(), id, up); uerr != nil {
			fromStripe(uerr, "payment intent") // logs it
		}
		ae.Message = "the incremental authorization was declined (" + ae.Message + "); the PaymentIntent stays authorized for " + formatMinor(pi.AmountCapturable, pi.Currency) + " and can still be captured"
		ae.PaymentIntent = id
	}
	writeError(w, ae)
}

func (s *Server) handleAdminVerifyMicrodeposits(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amounts        []int64 `json:"amounts"`
		DescriptorCode string  `json:"descriptor_code"`
	}
	id, ok := adminIntentRequest(w, r, &req)
	if !ok {
		return
	}
	params := &stripe.PaymentIntentVerifyMicrodepositsParams{}
	switch {
	case req.Amounts != nil && req.DescriptorCode != "":
		writeError(w, badRequest("invalid_verification", "amounts", "give either amounts or descriptor_code, not both"))
		return
	case req.Amounts != nil:
		if len(req.Amounts) != 2 || req.Amounts[0] < 1 || req.Amounts[0] > 99 || req.Amounts[1] < 1 || req.Amounts[1] > 99 {
			writeError(w, badRequest("invalid_amounts", "amounts", "amounts must be the two micro-deposit amounts in cents, e.g. [32, 45]"))
			return
		}
		params.Amounts = []*int64{stripe.Int64(req.Amounts[0]), stripe.Int64(req.Amounts[1])}
	case req.DescriptorCode != "":
		if !validDescriptorCode(req.DescriptorCode) {
			writeError(w, badRequest("invalid_descriptor_code", "descriptor_code", "descriptor_code must be the 6-character code starting with SM from the bank statement, e.g. SM11AA"))
			return
		}
		params.DescriptorCode = stripe.String(req.DescriptorCode)
	default:
		writeError(w, badRequest("missing_verification", "amounts", "give amounts (two cents amounts) or descriptor_code"))
		return
	}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	pi, err := s.stripe.VerifyMicrodeposits(r.Context(), id, params)
	answerIntent(w, pi, err)
}

func validDescriptorCode(c string) bool {
	if len(c) != 6 || c[:2] != "SM" {
		return false
	}
	for i := 2; i < 6; i++ {
		if !(c[i] >= 'A' && c[i] <= 'Z' || c[i] >= '0' && c[i] <= '9') {
			return false
		}
	}
	return true
}

func (s *Server) handleAdminApplyBalance(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount   *int64 `json:"amount"`
		Currency string `json:"currency"`
	}
	id, ok := adminIntentRequest(w, r, &req)
	if !ok {
		return
	}
	params := &stripe.PaymentIntentApplyCustomerBalanceParams{}
	if req.Amount != nil {
		if *req.Amount < 1 || *req.Amount > maxOrderAmount {
			writeError(w, badRequest("invalid_amount", "amount", "amount must be between 1 and %d (minor units)", maxOrderAmount))
			return
		}
		params.Amount = req.Amount
	}
	if req.Currency != "" {
		c := strings.ToLower(req.Currency)
		if !validCurrency(c) {
			writeError(w, badRequest("invalid_currency", "currency", "currency must be a three-letter ISO code"))
			return
		}
		params.Currency = stripe.String(c)
	}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	pi, err := s.stripe.ApplyCustomerBalance(r.Context(), id, params)
	answerIntent(w, pi, err)
}

// maxSearchQuery bounds a search query.
const maxSearchQuery = 1000

func (s *Server) handleAdminSearchIntents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for name, v := range q {
		if name != "query" && name != "limit" && name != "page" {
			writeError(w, badRequest("unknown_parameter", name, "unknown query parameter %q; use query, limit and page", name))
			return
		}
		if len(v) > 1 {
			writeError(w, badRequest("duplicate_parameter", name, "give %s once", name))
			return
		}
	}
	query := q.Get("query")
	if strings.TrimSpace(query) == "" {
		writeError(w, badRequest("missing_query", "query", "query is required, in Stripe's search language, e.g. status:'requires_capture' or metadata['kit_order']:'ord_...'"))
		return
	}
	if len(query) > maxSearchQuery || strings.ContainsAny(query, "\x00\r\n") {
		writeError(w, badRequest("invalid_query", "query", "query must be one line of at most %d characters", maxSearchQuery))
		return
	}
	params := &stripe.PaymentIntentSearchParams{}
	params.Query = query
	if l := q.Get("limit"); l != "" {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || n < 1 || n > 100 {
			writeError(w, badRequest("invalid_limit", "limit", "limit must be a whole number from 1 to 100"))
			return
		}
		params.Limit = stripe.Int64(n)
	}
	if p := q.Get("page"); p != "" {
		if len(p) > 500 || strings.ContainsAny(p, "\x00\r\n") {
			writeError(w, badRequest("invalid_page", "page", "page must be the next_page value of a previous answer"))
			return
		}
		params.Page = stripe.String(p)
	}
	res, err := s.stripe.SearchPaymentIntents(r.Context(), params)
	if err != nil {
		writeError(w, fromStripeAdmin(err, "payment intent search"))
		return
	}
	for i := range res.Data {
		res.Data[i].ClientSecret = ""
	}
	if res.Data == nil {
		res.Data = []stripeapi.PaymentIntent{}
	}
	writeJSON(w, http.StatusOK, struct {
		Data     []stripeapi.PaymentIntent `json:"data"`
		HasMore  bool                      `json:"has_more"`
		NextPage string                    `json:"next_page,omitempty"`
	}{res.Data, res.HasMore, res.NextPage})
}

// POST /admin/billing_portal_sessions {"customer":"cus_...","return_url":"https://..."} → {"url"}.
func (s *Server) handleAdminPortalSession(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Customer  string `json:"customer"`
		ReturnURL string `json:"return_url"`
	}
	if aerr := readAdminJSON(w, r, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	if !hasIDPrefix(req.Customer, "cus_") {
		writeError(w, badRequest("invalid_customer", "customer", "customer must be a Stripe customer id (cus_...)"))
		return
	}
	params := &stripe.BillingPortalSessionParams{Customer: stripe.String(req.Customer)}
	if req.ReturnURL != "" {
		if err := checkAbsoluteURL(req.ReturnURL); err != nil || strings.ContainsAny(req.ReturnURL, " \r\n") {
			writeError(w, badRequest("invalid_return_url", "return_url", "return_url must be an absolute http(s) URL"))
			return
		}
		params.ReturnURL = stripe.String(req.ReturnURL)
	}
	if aerr := adminParams(r, &params.Params); aerr != nil {
		writeError(w, aerr)
		return
	}
	sess, err := s.stripe.CreatePortalSession(r.Context(), params)
	if err != nil {
		writeError(w, fromStripeAdmin(err, "billing portal session"))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}{sess.ID, sess.URL})
}
