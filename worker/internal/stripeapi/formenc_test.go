package stripeapi

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/form"
)

// encodeForm must send what stripe-go's own Encode would: same pairs, same
// order, same escaping (brackets kept in keys only).
func TestEncodeFormMatchesStripeGo(t *testing.T) {
	if unsafe.Sizeof(form.Values{}) != unsafe.Sizeof(formValues{}) {
		t.Fatal("form.Values changed layout: formValues no longer mirrors it")
	}
	tricky := "a b+c&d=e/f?g#h%5B[i]%5D~j.k_l-m ünï €"
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String("payment"),
		ClientReferenceID: stripe.String(tricky),
		Metadata:          map[string]string{"kit_order": "ord_1", "we[ir]d key%5B": tricky, "": "empty key"},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(2),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency: stripe.String("usd"), UnitAmount: stripe.Int64(2000),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String("Kit T-shirt"), Description: stripe.String(tricky)},
			},
		}},
		ShippingAddressCollection: &stripe.CheckoutSessionCreateShippingAddressCollectionParams{AllowedCountries: stripe.StringSlice([]string{"US", "DE"})},
		AllowPromotionCodes:       stripe.Bool(true),
		ReturnURL:                 stripe.String("https://shop.example/return.html?session_id={CHECKOUT_SESSION_ID}"),
	}
	params.AddExpand("payment_intent")
	values := &form.Values{}
	form.AppendTo(values, params)
	if len(formPairs(values)) < 10 {
		t.Fatalf("mirror sees %d pairs", len(formPairs(values)))
	}
	if got, want := encodeForm(values), values.Encode(); got != want {
		t.Fatalf("encodeForm:\n%s\nEncode:\n%s", got, want)
	}
	for _, v := range []*form.Values{nil, {}} {
		if got := encodeForm(v); got != "" {
			t.Errorf("empty values encode as %q", got)
		}
	}
	one := &form.Values{}
	one.Add("k", "")
	if got, want := encodeForm(one), one.Encode(); got != want {
		t.Errorf("empty value: %q, want %q", got, want)
	}
	// Every byte value, in a key and in a value.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	every := &form.Values{}
	every.Add(string(all), string(all))
	if got, want := encodeForm(every), every.Encode(); got != want {
		t.Errorf("every byte:\n%q\nwant\n%q", got, want)
	}
}

// readAll reads every byte whatever the declared length says.
func TestReadAllWhateverTheDeclaredLength(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	for _, n := range []int64{-1, 0, 1, 999, 1000, 1001, 5000, presizeLimit + 1} {
		got, err := readAll(iotest.OneByteReader(strings.NewReader(body)), n)
		if err != nil || string(got) != body {
			t.Errorf("declared %d: %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := readAll(iotest.ErrReader(errors.New("boom")), 10); err == nil {
		t.Error("a read error was lost")
	}
}
