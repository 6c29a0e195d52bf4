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

var (
	intentDataParams = []string{"application_fee_amount", "capture_method", "description", "metadata", "on_behalf_of",
		"receipt_email", "setup_future_usage", "shipping", "statement_descriptor", "statement_descriptor_suffix",
		"transfer_data", "transfer_group"}
	pmOptionTypes = []string{"acss_debit", "affirm", "afterpay_clearpay", "alipay", "amazon_pay", "au_becs_debit",
		"bacs_debit", "bancontact", "boleto", "card", "cashapp", "customer_balance", "eps", "fpx", "giropay", "grabpay",
		"ideal", "kakao_pay", "klarna", "konbini", "kr_card", "link", "mobilepay", "multibanco", "naver_pay", "oxxo",
		"p24", "pay_by_bank", "payco", "paynow", "paypal", "pix", "revolut_pay", "samsung_pay", "sepa_debit", "sofort",
		"swish", "us_bank_account", "wechat_pay"}
	cardOptionParams = []string{"installments", "request_extended_authorization", "request_incremental_authorization",
		"request_multicapture", "request_overcapture", "request_three_d_secure", "restrictions", "setup_future_usage",
		"statement_descriptor_suffix_kana", "statement_descriptor_suffix_kanji"}
)

type savedPMOptions struct {
	Filters []string
	Remove  *string
	Save    *string
}

// sessionOptionsLocked reads the options above into s (after customer_email).
func (sb *Sandbox) sessionOptionsLocked(s *session, root *param) *apiError {
	// customer, customer_creation
	cus, err := optString(root, "customer", "customer", 0)
	if err != nil {
		return err
	}
	if cus != nil {
		if sb.customers[*cus] == nil {
			return noSuchCustomer("customer", *cus)
		}
		if s.CustomerEmail != nil {
			return exclusive("customer", "customer_email")
		}
		s.Customer = cus
	}
	if s.CustomerCreation, err = enum(root, "customer_creation", "customer_creation", "always", "if_required"); err != nil {
		return err
	}
	if s.CustomerCreation != "" && cus != nil {
		return exclusive("customer", "customer_creation")
	}

	// allow_promotion_codes
	if s.AllowPromotionCodes, err = boolean(root, "allow_promotion_codes", "allow_promotion_codes"); err != nil {
		return err
	}
	if s.AllowPromotionCodes != nil && root.child("discounts") != nil {
		return exclusive("allow_promotion_codes", "discounts")
	}

	// payment_intent_data
	pid, err := hash(root, "payment_intent_data", "payment_intent_data", intentDataParams...)
	if err != nil {
		return err
	}
	d := &s.IntentData
	d.Metadata = map[string]string{}
	if pid != nil {
		const p = "payment_intent_data"
		for _, connect := range []string{"application_fee_amount", "on_behalf_of", "transfer_data", "transfer_group"} {
			if pid.child(connect) != nil {
				return invalid(p+"["+connect+"]", "", "%s[%s] is a Connect parameter; the Stripe sandbox does not simulate Connect.", p, connect)
			}
		}
		if d.CaptureMethod, err = enum(pid, "capture_method", p+"[capture_method]", "automatic", "automatic_async", "manual"); err != nil {
			return err
		}
		sfu, err := enum(pid, "setup_future_usage", p+"[setup_future_usage]", "off_session", "on_session")
		if err != nil {
			return err
		}
		if sfu != "" {
			d.SetupFutureUsage = &sfu
		}
		if d.Description, err = optString(pid, "description", p+"[description]", 1000); err != nil {
			return err
		}
		if d.ReceiptEmail, err = optEmail(pid, "receipt_email", p+"[receipt_email]"); err != nil {
			return err
		}
		if d.StatementDescriptor, err = optString(pid, "statement_descriptor", p+"[statement_descriptor]", 22); err != nil {
			return err
		}
		if _, err = optString(pid, "statement_descriptor_suffix", p+"[statement_descriptor_suffix]", 22); err != nil {
			return err
		}
		if err := readMetadataAt(pid.child("metadata"), p+"[metadata]", d.Metadata); err != nil {
			return err
		}
	}

	// payment_method_options
	pmo, err := hash(root, "payment_method_options", "payment_method_options", pmOptionTypes...)
	if err != nil {
		return err
	}
	if pmo != nil {
		const p = "payment_method_options[card]"
		card, err := hash(pmo, "card", p, cardOptionParams...)
		if err != nil {
			return err
		}
		if card != nil {
			if s.IncrementalAuth, err = enum(card, "request_incremental_authorization", p+"[request_incremental_authorization]", "if_available", "never"); err != nil {
				return err
			}
			if s.IncrementalAuth == "if_available" && d.CaptureMethod != "manual" {
				return invalid(p+"[request_incremental_authorization]", "",
					"Incremental authorization can only be requested when payment_intent_data[capture_method] is manual.")
			}
			if s.ThreeDSecure, err = enum(card, "request_three_d_secure", p+"[request_three_d_secure]", "any", "automatic", "challenge"); err != nil {
				return err
			}
			if s.CardSetupFutureUsage, err = enum(card, "setup_future_usage", p+"[setup_future_usage]", "none", "off_session", "on_session"); err != nil {
				return err
			}
		}
	}

	// saved_payment_method_options
	spo, err := hash(root, "saved_payment_method_options", "saved_payment_method_options",
		"allow_redisplay_filters", "payment_method_remove", "payment_method_save")
	if err != nil {
		return err
	}
	if spo != nil {
		const p = "saved_payment_method_options"
		// "Saving a payment method requires a Customer. Pass an existing customer,
		// or, to create a new customer, set customer_creation to always."
		if s.Customer == nil && s.CustomerCreation != "always" {
			return invalid(p, "", "saved_payment_method_options needs a Customer: pass customer, or customer_creation=always.")
		}
		o := &savedPMOptions{}
		for _, f := range []struct {
			name string
			dst  **string
		}{{"payment_method_remove", &o.Remove}, {"payment_method_save", &o.Save}} {
			v, err := enum(spo, f.name, p+"["+f.name+"]", "enabled", "disabled")
			if err != nil {
				return err
			}
			if v != "" {
				*f.dst = &v
			}
		}
		if fl := spo.child("allow_redisplay_filters"); fl != nil {
			items, keys, err := list(fl, p+"[allow_redisplay_filters]")
			if err != nil {
				return err
			}
			for i, it := range items {
				full := p + "[allow_redisplay_filters][" + keys[i] + "]"
				if it.value == nil || !slices.Contains([]string{"always", "limited", "unspecified"}, *it.value) {
					return invalid(full, "", "Invalid %s: must be one of always, limited, or unspecified", full)
				}
				o.Filters = append(o.Filters, *it.value)
			}
		}
		s.SavedPM = o
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
