package worker

// Card rules: approval rules that see the payment method the shopper chose.
//
// Only the pay page's ConfirmationToken flow can have them: the worker
// retrieves the ConfirmationToken (GET /v1/confirmation_tokens/{id}) before
// it creates anything, so the rules read its payment_method_preview (type,
// card brand, funding, issuing country, wallet) and its shipping address,
// and a refusal leaves nothing at Stripe: no PaymentIntent, no Customer, no
// stock hold.
//
// Checkout cannot: the shopper chooses the payment method on Stripe's page,
// after the Checkout Session exists, and Checkout confirms the payment
// itself. There the rules never run (Order.PaymentMethod is nil); the
// Checkout way is manual capture plus an operator's review of the
// authorized payment (capture = approve, cancel = reject; README).
//
// Catalog ("card_rules", shop-wide under "shop", with per-product additions
// that apply to carts containing the product):
//
//	"card_rules": {
//	  "refused_funding": ["prepaid"],        // credit, debit, prepaid, unknown
//	  "refused_brands": ["amex"],            // Stripe's card brands
//	  "refused_countries": ["XX"],           // the card's issuing country
//	  "card_country_matches_shipping": true  // issuing country = shipping country
//	}
//
// A rule that cannot be decided passes: a payment method that is not a card
// (the rules are about cards), a card whose country Stripe does not know,
// and, for card_country_matches_shipping, an order without a shipping
// country (nothing shipped: the pay page's Address Element puts the address
// of a shipped order into the ConfirmationToken, goods_intent.go).

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"

	"checkoutkit/worker/internal/stripeapi"
)

// CardRules are the catalog's card rules (see the top of this file).
type CardRules struct {
	RefusedFunding             []string `json:"refused_funding,omitempty"`
	RefusedBrands              []string `json:"refused_brands,omitempty"`
	RefusedCountries           []string `json:"refused_countries,omitempty"`
	CardCountryMatchesShipping bool     `json:"card_country_matches_shipping,omitempty"`
}

// PaymentMethodPreview is what the approval rules see of the payment method
// chosen on the pay page (a ConfirmationToken's payment_method_preview).
type PaymentMethodPreview struct {
	// Type is the payment method type: card, link, us_bank_account, ...
	Type string
	// For a card: brand (visa, mastercard, amex, ...), funding (credit,
	// debit, prepaid, unknown), the issuing country (ISO 3166-1 alpha-2, ""
	// if unknown) and the wallet type (apple_pay, google_pay, link, ...; ""
	// for a card typed in).
	CardBrand, CardFunding, CardCountry, Wallet string
	// Email is billing_details.email, when the Payment Element collected it.
	Email string
}

// cardFundings and cardBrands are Stripe's values of card.funding and
// card.brand.
var (
	cardFundings = []string{"credit", "debit", "prepaid", "unknown"}
	cardBrands   = []string{"amex", "cartes_bancaires", "diners", "discover", "eftpos_au", "interac", "jcb", "link", "mastercard", "unionpay", "visa", "unknown"}
)

// validate normalizes the rules and names the first bad field
// ("card_rules.refused_funding[0] ..."); the caller says whose.
func (c *CardRules) validate() error {
	if c == nil {
		return nil
	}
	for _, l := range []struct {
		name    string
		values  []string
		allowed []string
	}{{"refused_funding", c.RefusedFunding, cardFundings}, {"refused_brands", c.RefusedBrands, cardBrands}} {
		for i, v := range l.values {
			v = strings.ToLower(strings.TrimSpace(v))
			if !slices.Contains(l.allowed, v) {
				return fmt.Errorf("card_rules.%s[%d] %q must be one of %s", l.name, i, l.values[i], strings.Join(l.allowed, ", "))
			}
			l.values[i] = v
		}
	}
	for i, cc := range c.RefusedCountries {
		cc = strings.ToUpper(strings.TrimSpace(cc))
		if !validCountry(cc) {
			return fmt.Errorf("card_rules.refused_countries[%d] %q must be a two-letter ISO 3166-1 country code such as DE", i, c.RefusedCountries[i])
		}
		c.RefusedCountries[i] = cc
	}
	return nil
}

// cardRulesFor is the shop's rules plus those of the order's products.
func (s *Server) cardRulesFor(o *Order) CardRules {
	var all CardRules
	add := func(r *CardRules) {
		if r == nil {
			return
		}
		all.RefusedFunding = append(all.RefusedFunding, r.RefusedFunding...)
		all.RefusedBrands = append(all.RefusedBrands, r.RefusedBrands...)
		all.RefusedCountries = append(all.RefusedCountries, r.RefusedCountries...)
		all.CardCountryMatchesShipping = all.CardCountryMatchesShipping || r.CardCountryMatchesShipping
	}
	add(s.cfg.Catalog.Shop.CardRules)
	for _, l := range o.Lines {
		add(l.Product.CardRules)
	}
	return all
}

// approveCard applies the card rules to the chosen payment method.
func (s *Server) approveCard(_ context.Context, o *Order) *Refusal {
	pm := o.PaymentMethod
	if pm == nil || pm.Type != "card" {
		return nil
	}
	rules := s.cardRulesFor(o)
	refuse := func(msg string) *Refusal {
		return &Refusal{Status: http.StatusUnprocessableEntity, Code: "card_refused", Param: "confirmationToken", Message: msg + "; please pay with another card"}
	}
	if slices.Contains(rules.RefusedFunding, pm.CardFunding) {
		return refuse("the shop does not accept " + pm.CardFunding + " cards")
	}
	if slices.Contains(rules.RefusedBrands, pm.CardBrand) {
		return refuse("the shop does not accept " + pm.CardBrand + " cards")
	}
	if pm.CardCountry != "" && slices.Contains(rules.RefusedCountries, pm.CardCountry) {
		return refuse("the shop does not accept cards issued in " + pm.CardCountry)
	}
	if rules.CardCountryMatchesShipping && pm.CardCountry != "" && o.ShippingCountry != "" && pm.CardCountry != o.ShippingCountry {
		return refuse("the card was issued in " + pm.CardCountry + " but the order ships to " + o.ShippingCountry + "; the shop needs a card from the country it ships to")
	}
	return nil
}

// confirmationToken retrieves the pay page's ConfirmationToken and refuses
// one that cannot confirm a payment, before anything is created: Stripe's
// own refusal would come only after the stock hold (kept until it lapses
// when Stripe's answer is not a clear 4xx) and, for a saved payment method,
// a new Customer. keyed: the request carries the client's idempotency key,
// so a token already used may be this very order's (a retry after a lost
// answer), which Stripe answers with the same PaymentIntent; the
// PaymentIntent it was used for must then be the order's (kit_order), or
// anyone could replay a used token under fresh keys to hold stock.
func (s *Server) confirmationToken(ctx context.Context, id string, o *Order, keyed bool) (*stripeapi.ConfirmationToken, *apiError) {
	tok, err := s.stripe.RetrieveConfirmationToken(ctx, id)
	if err != nil {
		ae := fromStripe(err, "confirmation token")
		if ae.Status == http.StatusNotFound {
			// Another account's or mode's token, or a made-up id.
			return nil, badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken is not a ConfirmationToken of this shop; submit the payment form again")
		}
		return nil, ae
	}
	live := strings.HasPrefix(s.cfg.SecretKey, "sk_live_") || strings.HasPrefix(s.cfg.SecretKey, "rk_live_")
	switch {
	case tok.ID != id:
		log.Printf("confirmation token %s: Stripe answered with %q", id, tok.ID)
		return nil, &apiError{Status: http.StatusBadGateway, Code: "stripe_bad_response", Message: "Stripe's answer could not be read; please try again"}
	case tok.Livemode != live:
		return nil, badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken was made in the other mode (test or live) than the shop's key")
	case tok.ExpiresAt != 0 && tok.ExpiresAt <= now().Unix():
		return nil, badRequest("confirmation_token_expired", "confirmationToken", "the payment details have expired; please submit the payment form again")
	case tok.SetupIntent != "" || tok.PaymentIntent != "" && !keyed:
		return nil, tokenUsed()
	case tok.Preview == nil || tok.Preview.Type == "":
		return nil, badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken carries no payment method")
	case tok.SetupFutureUsage != "" && !o.SavePaymentMethod:
		// Stripe writes the token's setup_future_usage onto the
		// PaymentIntent: a token made to save the card would save it, for
		// an order with no Customer, to nobody.
		return nil, badRequest("invalid_confirmation_token", "confirmationToken", "the payment form was set up to save the card, but this order saves nothing; reload the page")
	case tok.PaymentIntent != "":
		pi, err := s.stripe.RetrievePaymentIntent(ctx, string(tok.PaymentIntent))
		if err != nil {
			if ae := fromStripe(err, "payment intent"); ae.Status >= 500 {
				return nil, ae
			}
			return nil, tokenUsed()
		}
		if pi.Metadata[metaOrder] != o.Ref {
			return nil, tokenUsed()
		}
	}
	return tok, nil
}

func tokenUsed() *apiError {
	return &apiError{Status: http.StatusConflict, Code: "confirmation_token_used", Param: "confirmationToken",
		Message: "these payment details were already used for a payment; please submit the payment form again"}
}

// withToken gives the order what the token says about the payment method
// and the shipping address.
func (o *Order) withToken(tok *stripeapi.ConfirmationToken) {
	p := tok.Preview
	pm := &PaymentMethodPreview{Type: p.Type}
	if c := p.Card; c != nil {
		pm.CardBrand, pm.CardFunding, pm.CardCountry = c.Brand, c.Funding, strings.ToUpper(c.Country)
		if c.Wallet != nil {
			pm.Wallet = c.Wallet.Type
		}
	}
	if b := p.BillingDetails; b != nil {
		pm.Email = b.Email
	}
	o.PaymentMethod = pm
	if sh := tok.Shipping; sh != nil && sh.Address != nil && validCountry(strings.ToUpper(sh.Address.Country)) {
		o.ShippingCountry = strings.ToUpper(sh.Address.Country)
	}
}
