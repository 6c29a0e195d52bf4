package main

// Checkout Session options beyond line items and URLs, read and reflected as
// Stripe does:
//
//	customer                       an existing cus_... (POST /v1/customers); not with
//	                               customer_email or customer_creation
//	customer_creation              always | if_required (default): "always", or a
//	                               payment_intent_data[setup_future_usage], creates a
//	                               Customer with the paying email when the session is paid
//	allow_promotion_codes          true | false (not with discounts)
//	payment_intent_data[...]       capture_method (automatic, automatic_async, manual),
//	                               setup_future_usage (on_session, off_session), metadata,
//	                               description, receipt_email, statement_descriptor(_suffix),
//	                               shipping; the Connect ones (application_fee_amount,
//	                               on_behalf_of, transfer_data, transfer_group) are refused
//	payment_method_options[card][request_incremental_authorization]
//	                               if_available | never; if_available needs
//	                               payment_intent_data[capture_method]=manual
//	payment_method_options[card][request_three_d_secure|setup_future_usage|...]
//	saved_payment_method_options[payment_method_save|payment_method_remove]
//	                               enabled | disabled, [allow_redisplay_filters][]; need customer
//	                               or customer_creation=always
//
// The PaymentIntent made when the session is paid carries payment_intent_data
// (metadata included) and the session's customer. With payment_method_save
// enabled the stand-in's form shows "Save card" ([data-sandbox-save]); a saved
// card, or any card paid with setup_future_usage, is attached to the customer.

import "slices"

// sessionFields are the parameters stripe-go v82 can send to
// POST /v1/checkout/sessions, one row each: the sandbox interprets some,
// checks some without effect (unused), accepts the rest without effect, and
// rejects anything else like Stripe does. byHandler rows are read by
// createSessionLocked's own code (their rules depend on other parameters).
var sessionFields = []field{
	{name: "adaptive_pricing"},
	{name: "after_expiration", kind: hashOf, sub: []field{{name: "recovery", kind: hashOf, sub: []field{
		{name: "allow_promotion_codes", kind: boolText, unused: true}, {name: "enabled", kind: boolText, required: true}}}}}, // hosted only: goods.go
	{name: "allow_promotion_codes", kind: boolText},
	{name: "automatic_tax", kind: hashOf, sub: []field{{name: "enabled", kind: boolText, required: true}, {name: "liability", unused: true}}},
	{name: "billing_address_collection"},
	{name: "cancel_url", kind: byHandler}, // hosted only: embeddedURLs, hostedURLsLocked
	{name: "client_reference_id", kind: text, max: maxClientRefLen},
	{name: "consent_collection", kind: hashOf, sub: []field{{name: "payment_method_reuse_agreement", unused: true},
		{name: "promotions", kind: enumText, enum: []string{"auto", "none"}, unused: true}, {name: "terms_of_service", kind: enumText, enum: []string{"none", "required"}}}},
	{name: "currency", kind: currencyCode, unused: true},                  // the line items' currency is the session's
	{name: "custom_fields", kind: listOf, max: 3, sub: customFieldFields}, // goods.go
	{name: "custom_text", kind: hashOf, sub: customTextFields},
	{name: "customer", kind: text}, // an existing cus_...; not with customer_email or customer_creation
	{name: "customer_creation", kind: enumText, enum: []string{"always", "if_required"}},
	{name: "customer_email", kind: emailText},
	{name: "customer_update", kind: hashOf, sub: []field{{name: "address", kind: enumText, enum: []string{"auto", "never"}},
		{name: "name", kind: enumText, enum: []string{"auto", "never"}}, {name: "shipping", kind: enumText, enum: []string{"auto", "never"}}}}, // needs customer
	{name: "discounts", kind: byHandler}, // not with allow_promotion_codes; promotions.go
	{name: "expand", kind: byHandler},
	{name: "expires_at", kind: integer, min: 0, max: 1 << 62}, // 30 minutes to 24 hours from now
	{name: "invoice_creation"},
	{name: "line_items", kind: byHandler, required: true}, // lineItemLocked
	{name: "locale", kind: text},
	{name: "metadata", kind: metadataHash},
	{name: "mode", kind: enumText, required: true, enum: []string{"payment", "setup", "subscription"}}, // only payment is simulated
	{name: "optional_items"},
	{name: "origin_context"},
	{name: "payment_intent_data", kind: hashOf, sub: intentDataFields},
	{name: "payment_method_collection"},
	{name: "payment_method_configuration"},
	{name: "payment_method_data"},
	{name: "payment_method_options", kind: hashOf, sub: pmOptionFields},
	{name: "payment_method_types"},
	{name: "permissions"},
	{name: "phone_number_collection", kind: hashOf, sub: []field{{name: "enabled", kind: boolText, required: true}}},
	{name: "redirect_on_completion", kind: byHandler}, // embedded only
	{name: "return_url", kind: byHandler},             // embedded only
	{name: "saved_payment_method_options", kind: hashOf, sub: savedPMFields},
	{name: "setup_intent_data"},
	{name: "shipping_address_collection", kind: hashOf, sub: []field{{name: "allowed_countries", kind: countryList, required: true}}},
	{name: "shipping_options", kind: listOf, max: 5, sub: shippingOptionFields}, // needs shipping_address_collection
	{name: "submit_type"},
	{name: "subscription_data"},
	{name: "success_url", kind: byHandler}, // hosted only
	{name: "tax_id_collection", kind: hashOf, sub: []field{{name: "enabled", kind: boolText, required: true},
		{name: "required", kind: enumText, enum: []string{"if_supported", "never"}, unused: true}}},
	{name: "ui_mode", kind: byHandler}, // its values depend on the API version: uiModes
	{name: "wallet_options"},
}

const noConnect = "is a Connect parameter; the Stripe sandbox does not simulate Connect."

// intentDataFields: payment_intent_data[...], carried to the session's PaymentIntent.
var intentDataFields = []field{
	{name: "application_fee_amount", kind: refused, refuse: noConnect},
	{name: "capture_method", kind: enumText, enum: []string{"automatic", "automatic_async", "manual"}},
	{name: "description", kind: text, max: 1000},
	{name: "metadata", kind: metadataHash},
	{name: "on_behalf_of", kind: refused, refuse: noConnect},
	{name: "receipt_email", kind: emailText, max: 512},
	{name: "setup_future_usage", kind: enumText, enum: []string{"off_session", "on_session"}},
	{name: "shipping"},
	{name: "statement_descriptor", kind: text, max: 22},
	{name: "statement_descriptor_suffix", kind: text, max: 22, unused: true},
	{name: "transfer_data", kind: refused, refuse: noConnect},
	{name: "transfer_group", kind: refused, refuse: noConnect},
}

// cardOptionFields: payment_method_options[card][...].
var cardOptionFields = []field{
	{name: "installments"},
	{name: "request_extended_authorization"},
	{name: "request_incremental_authorization", kind: enumText, enum: []string{"if_available", "never"}}, // needs capture_method=manual
	{name: "request_multicapture"},
	{name: "request_overcapture"},
	{name: "request_three_d_secure", kind: enumText, enum: []string{"any", "automatic", "challenge"}},
	{name: "restrictions"},
	{name: "setup_future_usage", kind: enumText, enum: []string{"none", "off_session", "on_session"}},
	{name: "statement_descriptor_suffix_kana"},
	{name: "statement_descriptor_suffix_kanji"},
}

// pmOptionTypes are the payment method types payment_method_options takes.
var pmOptionTypes = []string{"acss_debit", "affirm", "afterpay_clearpay", "alipay", "amazon_pay", "au_becs_debit",
	"bacs_debit", "bancontact", "boleto", "card", "cashapp", "customer_balance", "eps", "fpx", "giropay", "grabpay",
	"ideal", "kakao_pay", "klarna", "konbini", "kr_card", "link", "mobilepay", "multibanco", "naver_pay", "oxxo",
	"p24", "pay_by_bank", "payco", "paynow", "paypal", "pix", "revolut_pay", "samsung_pay", "sepa_debit", "sofort",
	"swish", "us_bank_account", "wechat_pay"}

// pmOptionFields: payment_method_options[type]: card is read, the other types accepted.
var pmOptionFields = pmOptions(cardOptionFields)

// pmOptions returns payment_method_options rows: card has the rows card, every
// other type is accepted without effect.
func pmOptions(card []field) []field {
	fs := make([]field, len(pmOptionTypes))
	for i, t := range pmOptionTypes {
		fs[i] = field{name: t}
	}
	fs[slices.Index(pmOptionTypes, "card")] = field{name: "card", kind: hashOf, sub: card}
	return fs
}

// savedPMFields: saved_payment_method_options[...]; they need customer or customer_creation=always.
var savedPMFields = []field{
	{name: "allow_redisplay_filters", kind: enumList, enum: []string{"always", "limited", "unspecified"}},
	{name: "payment_method_remove", kind: enumText, enum: []string{"enabled", "disabled"}},
	{name: "payment_method_save", kind: enumText, enum: []string{"enabled", "disabled"}},
}

type savedPMOptions struct {
	Filters []string
	Remove  *string
	Save    *string
}

// sessionOptionsLocked applies the options above, read into v, to s (after
// customer_email), with the rules that tie parameters together.
func (sb *Sandbox) sessionOptionsLocked(s *session, v values) *apiError {
	if cus := v.str("customer"); cus != nil {
		if sb.customers[*cus] == nil {
			return noSuchCustomer("customer", *cus)
		}
		if s.CustomerEmail != nil {
			return exclusive("customer", "customer_email")
		}
		s.Customer = cus
	}
	s.CustomerCreation = v["customer_creation"].s
	if s.CustomerCreation != "" && s.Customer != nil {
		return exclusive("customer", "customer_creation")
	}
	if apc := v["allow_promotion_codes"]; apc.set {
		s.AllowPromotionCodes = &apc.b
		if v["discounts"].set {
			return exclusive("allow_promotion_codes", "discounts")
		}
	}

	pid, d := v["payment_intent_data"].sub, &s.IntentData
	d.CaptureMethod = pid["capture_method"].s
	d.SetupFutureUsage = pid.str("setup_future_usage")
	d.Description = pid.str("description")
	d.ReceiptEmail = pid.str("receipt_email")
	d.StatementDescriptor = pid.str("statement_descriptor")
	d.Metadata = map[string]string{}
	if md := pid["metadata"].md; md != nil {
		d.Metadata = md
	}

	card := v["payment_method_options"].sub["card"].sub
	s.IncrementalAuth = card["request_incremental_authorization"].s
	if s.IncrementalAuth == "if_available" && d.CaptureMethod != "manual" {
		return invalid("payment_method_options[card][request_incremental_authorization]", "",
			"Incremental authorization can only be requested when payment_intent_data[capture_method] is manual.")
	}
	s.ThreeDSecure = card["request_three_d_secure"].s
	s.CardSetupFutureUsage = card["setup_future_usage"].s

	if spo := v["saved_payment_method_options"]; spo.set {
		// "Saving a payment method requires a Customer. Pass an existing customer,
		// or, to create a new customer, set customer_creation to always."
		if s.Customer == nil && s.CustomerCreation != "always" {
			return invalid("saved_payment_method_options", "", "saved_payment_method_options needs a Customer: pass customer, or customer_creation=always.")
		}
		s.SavedPM = &savedPMOptions{Filters: spo.sub["allow_redisplay_filters"].list,
			Remove: spo.sub.str("payment_method_remove"), Save: spo.sub.str("payment_method_save")}
	}
	return nil
}

// sessionCustomerLocked gives a session being paid the Customer it needs
// (customer_creation=always, or setup_future_usage) and hands it to its PaymentIntent.
func (sb *Sandbox) sessionCustomerLocked(s *session, email string) {
	if s.Customer == nil && (s.CustomerCreation == "always" || s.IntentData.SetupFutureUsage != nil) {
		e := email
		cu := sb.addCustomerLocked(&customer{Email: &e})
		s.Customer = &cu.ID
	}
	if pi := s.PaymentIntent; pi != nil && pi.Customer == nil {
		pi.Customer = s.Customer
	}
}

// attachSessionCardLocked saves the card a session was paid with to its customer
// when the payment was set up for future use or the shopper ticked "Save card".
func (sb *Sandbox) attachSessionCardLocked(s *session, pm *paymentMethod, save bool) {
	if pm == nil || s.Customer == nil {
		return
	}
	switch {
	case save && s.SavedPM != nil && s.SavedPM.Save != nil && *s.SavedPM.Save == "enabled":
		pm.Customer, pm.AllowRedisplay = s.Customer, "always"
	case s.IntentData.SetupFutureUsage != nil:
		pm.Customer, pm.AllowRedisplay = s.Customer, "limited"
	}
}

// optionsObject renders payment_method_options and saved_payment_method_options.
func (s *session) optionsObject() (pmo, spo any) {
	card := map[string]any{}
	if s.IncrementalAuth != "" {
		card["request_incremental_authorization"] = s.IncrementalAuth
	}
	if s.ThreeDSecure != "" {
		card["request_three_d_secure"] = s.ThreeDSecure
	}
	if s.CardSetupFutureUsage != "" {
		card["setup_future_usage"] = s.CardSetupFutureUsage
	}
	if len(card) > 0 {
		pmo = map[string]any{"card": card}
	}
	if s.Customer != nil || s.SavedPM != nil {
		o := map[string]any{"allow_redisplay_filters": []string{"always"}, "payment_method_remove": nil, "payment_method_save": nil}
		if v := s.SavedPM; v != nil {
			if v.Filters != nil {
				o["allow_redisplay_filters"] = v.Filters
			}
			o["payment_method_remove"], o["payment_method_save"] = v.Remove, v.Save
		}
		spo = o
	}
	return pmo, spo
}
