package worker

// A plain HTML form can start hosted Checkout without any JavaScript:
//
//	<form method="post" action="https://<worker>/create-checkout-session">
//	  <input type="hidden" name="product" value="mug">
//	  <input type="number" name="quantity" value="1" min="1" max="5">
//	  <button>Buy</button>
//	</form>
//
// The worker answers 303 See Other to the Checkout page. Fields: product and
// quantity (one product), or items ("mug:2, tshirt" — as data-checkout-cart);
// optional email, country, returnPath, cancelPath, idempotencyKey,
// customerToken, reference, promo, locale. Other fields are refused, so a typo does not pass silently.

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func isFormPost(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// readCheckoutForm decodes a form POST into req (always hosted Checkout). It
// reports whether the form had any field; an empty form buys the default item.
func readCheckoutForm(w http.ResponseWriter, r *http.Request, req *createSessionRequest) (bool, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return false, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body is larger than " + strconv.Itoa(maxBodyBytes) + " bytes"}
		}
		return false, badRequest("unreadable_body", "", "could not read the request body")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return false, badRequest("invalid_form", "", "the form data is malformed")
	}
	req.form = true
	req.UIMode = "hosted"
	if len(vals) == 0 {
		return false, nil
	}
	get := map[string]*string{
		"email": &req.Email, "country": &req.Country, "returnPath": &req.ReturnPath, "cancelPath": &req.CancelPath,
		"idempotencyKey": &req.IdempotencyKey, "customerToken": &req.CustomerToken,
		"reference": &req.Reference, "promo": &req.Promo, "locale": &req.Locale,
	}
	var product, quantity, items string
	get["product"], get["quantity"], get["items"] = &product, &quantity, &items
	for name, v := range vals {
		dst, ok := get[name]
		if !ok {
			return true, badRequest("unknown_field", name, "unknown field %q", name)
		}
		if len(v) > 1 {
			return true, badRequest("duplicate_field", name, "give %s once", name)
		}
		*dst = v[0]
	}
	switch {
	case product != "" && items != "":
		return true, badRequest("invalid_items", "items", "send either product (with quantity) or items, not both")
	case product != "":
		req.Items = []cartItem{{ID: strings.TrimSpace(product), Quantity: formQuantity(quantity)}}
	case items != "":
		if quantity != "" {
			return true, badRequest("invalid_items", "quantity", "quantity goes with product; in items write id:quantity")
		}
		parsed, aerr := parseCartText(items)
		if aerr != nil {
			return true, aerr
		}
		req.Items = parsed
	case quantity != "":
		return true, badRequest("missing_id", "product", "quantity needs a product")
	}
	return true, nil
}

// parseCartText reads "mug:2, tshirt stickers:3": ids with optional
// quantities, separated by commas or white space.
func parseCartText(s string) ([]cartItem, *apiError) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return []cartItem{}, nil // parseCart answers empty_cart
	}
	if len(fields) > maxCartLines {
		return nil, badRequest("too_many_items", "items", "at most %d different products per order", maxCartLines)
	}
	out := make([]cartItem, len(fields))
	for i, f := range fields {
		id, qty, _ := strings.Cut(f, ":")
		out[i] = cartItem{ID: id, Quantity: formQuantity(qty)}
	}
	return out, nil
}

// formQuantity turns a form's quantity text into the raw JSON number
// parseQuantity checks ("" means 1). Text that is not a number is passed so
// that parseQuantity refuses it as "not a whole number".
func formQuantity(q string) json.RawMessage {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	if q[0] == '"' || q == "null" {
		q = "x"
	}
	return json.RawMessage(q)
}
