package main

// Promotion codes and the discounts they give a Checkout Session:
//
//	GET /v1/promotion_codes?code=&active=&limit=   list (code compared regardless of case)
//	GET /v1/promotion_codes/{id}                   retrieve
//	POST /v1/checkout/sessions discounts[0][promotion_code]=promo_... | discounts[0][coupon]=...
//
// The sandbox starts (and resets) with demo codes, each on its own coupon:
// SAVE10 (10% off, active), TAKE5 ($5.00 off usd orders, active) and
// EXPIRED20 (inactive). A discount lowers each line's amount_total by its
// share (line items' amount_discount), the session's amount_total, and shows
// in total_details.amount_discount and discounts[]; the PaymentIntent made
// when the session is paid is for the discounted amount, as at Stripe.

import (
	"slices"
	"strings"
)

// coupon is what a promotion code gives: percent_off or amount_off (in
// currency's minor unit).
type coupon struct {
	ID         string
	PercentOff int64
	AmountOff  int64
	Currency   string
}

type promotionCode struct {
	ID     string
	Code   string
	Active bool
	Coupon *coupon
}

// seedPromotionsLocked puts the demo codes in place (New and reset).
func (sb *Sandbox) seedPromotionsLocked() {
	sb.promotions = map[string]*promotionCode{}
	for _, pc := range []*promotionCode{
		{ID: "promo_sandboxSAVE10", Code: "SAVE10", Active: true, Coupon: &coupon{ID: "SANDBOX10PCT", PercentOff: 10}},
		{ID: "promo_sandboxTAKE5", Code: "TAKE5", Active: true, Coupon: &coupon{ID: "SANDBOX5USD", AmountOff: 500, Currency: "usd"}},
		{ID: "promo_sandboxEXPIRED20", Code: "EXPIRED20", Active: false, Coupon: &coupon{ID: "SANDBOX20PCT", PercentOff: 20}},
	} {
		sb.promotions[pc.ID] = pc
	}
}

func (c *coupon) object() map[string]any {
	o := map[string]any{"id": c.ID, "object": "coupon", "percent_off": nil, "amount_off": nil, "currency": nil,
		"duration": "once", "valid": true, "livemode": false, "metadata": map[string]string{}}
	if c.PercentOff > 0 {
		o["percent_off"] = c.PercentOff
	} else {
		o["amount_off"], o["currency"] = c.AmountOff, c.Currency
	}
	return o
}

func (pc *promotionCode) object() map[string]any {
	return map[string]any{"id": pc.ID, "object": "promotion_code", "active": pc.Active, "code": pc.Code,
		"coupon": pc.Coupon.object(), "customer": nil, "expires_at": nil, "livemode": false, "max_redemptions": nil,
		"metadata": map[string]string{}, "times_redeemed": 0,
		"restrictions": map[string]any{"first_time_transaction": false, "minimum_amount": nil, "minimum_amount_currency": nil}}
}

func noSuchPromotionCode(param, id string) *apiError {
	return invalid(param, "resource_missing", "No such promotion code: '%s'", id)
}

// promotionListFields are GET /v1/promotion_codes's parameters: active and
// code filter, limit pages (from the first); the others are accepted.
var promotionListFields = []field{
	{name: "active", kind: boolText},
	{name: "code", kind: text, max: 500},
	{name: "coupon", unused: true},
	{name: "created", unused: true},
	{name: "customer", unused: true},
	{name: "ending_before", unused: true},
	{name: "expand", unused: true},
	{name: "limit", kind: integer, min: 1, max: 100},
	{name: "starting_after", unused: true},
}

func (sb *Sandbox) listPromotionCodesLocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", promotionListFields)
	if err != nil {
		return nil, err
	}
	limit := int64(defaultListLimit)
	if v["limit"].set {
		limit = v["limit"].n
	}
	var active *bool
	if a := v["active"]; a.set {
		active = &a.b
	}
	code := v.str("code")
	data := []any{}
	for _, id := range sortedKeys(sb.promotions) {
		pc := sb.promotions[id]
		if (active != nil && pc.Active != *active) || (code != nil && !strings.EqualFold(pc.Code, *code)) {
			continue
		}
		if int64(len(data)) == limit {
			return &listObject{Object: "list", Data: data, HasMore: true, URL: "/v1/promotion_codes"}, nil
		}
		data = append(data, pc.object())
	}
	return &listObject{Object: "list", Data: data, URL: "/v1/promotion_codes"}, nil
}

func (sb *Sandbox) retrievePromotionCodeLocked(c *apiCall) (any, *apiError) {
	pc := sb.promotions[c.id]
	if pc == nil {
		e := noSuchPromotionCode("", c.id)
		e.status = 404
		return nil, e
	}
	return pc.object(), nil
}

// sessionDiscountsLocked reads a session's discounts (one, as Stripe allows
// in payment mode) and applies it to the session's lines and totals.
func (sb *Sandbox) sessionDiscountsLocked(s *session, root *param) *apiError {
	d := root.child("discounts")
	if d == nil || (d.value != nil && *d.value == "") {
		return nil
	}
	items, keys, err := list(d, "discounts")
	if err != nil {
		return err
	}
	if len(items) > 1 {
		return invalid("discounts", "", "You may only specify one discount per Checkout Session.")
	}
	if len(items) == 0 {
		return nil
	}
	full := "discounts[" + keys[0] + "]"
	if err := checkUnknown(items[0], []string{"coupon", "promotion_code"}, full); err != nil {
		return err
	}
	promo, err := optString(items[0], "promotion_code", full+"[promotion_code]", 0)
	if err != nil {
		return err
	}
	cid, err := optString(items[0], "coupon", full+"[coupon]", 0)
	if err != nil {
		return err
	}
	var pc *promotionCode
	var cp *coupon
	switch {
	case promo != nil && cid != nil:
		return exclusive(full+"[coupon]", full+"[promotion_code]")
	case promo != nil:
		if pc = sb.promotions[*promo]; pc == nil {
			return noSuchPromotionCode(full+"[promotion_code]", *promo)
		}
		if !pc.Active {
			return invalid(full+"[promotion_code]", "", "This promotion code cannot be redeemed because it is inactive.")
		}
		cp = pc.Coupon
	case cid != nil:
		for _, p := range sb.promotions {
			if p.Coupon.ID == *cid {
				cp = p.Coupon
			}
		}
		if cp == nil {
			return invalid(full+"[coupon]", "resource_missing", "No such coupon: '%s'", *cid)
		}
	default:
		return invalid(full, "", "You must specify either coupon or promotion_code in %s.", full)
	}
	if cp.AmountOff > 0 && cp.Currency != s.Currency {
		return invalid(full, "", "This coupon's currency (%s) does not match the Checkout Session's (%s).", cp.Currency, s.Currency)
	}
	s.Discount = map[string]any{"coupon": cp.ID, "promotion_code": nil}
	if pc != nil {
		s.Discount["promotion_code"] = pc.ID
	}
	applyDiscount(s, cp)
	return nil
}

// applyDiscount shares the coupon's discount over the lines: percent_off per
// line (rounded half up), amount_off in proportion to each line's subtotal
// (the last line takes the rounding), never more than a line's subtotal.
func applyDiscount(s *session, cp *coupon) {
	total := cp.AmountOff
	if cp.PercentOff > 0 {
		total = 0
	}
	total = min(total, s.AmountSubtotal)
	left := total
	for i, l := range s.Items {
		sub := l.UnitAmount * l.Quantity
		switch {
		case cp.PercentOff > 0:
			l.Discount = (sub*cp.PercentOff + 50) / 100
		case i == len(s.Items)-1:
			l.Discount = min(left, sub)
		case s.AmountSubtotal > 0:
			l.Discount = min(total*sub/s.AmountSubtotal, sub)
		}
		left -= l.Discount
		s.AmountDiscount += l.Discount
	}
	s.price()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
