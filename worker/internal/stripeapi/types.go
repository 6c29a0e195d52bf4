package stripeapi

// The decode types: the parts of Stripe's objects the worker reads.
//
// Decoding into these instead of stripe-go's stripe.CheckoutSession or
// stripe.PaymentIntent (hundreds of fields, nested objects) is the difference
// between a few and tens of milliseconds of CPU per request under TinyGo, and
// keeps the decoder's stack shallow. A field is here because the worker reads
// it; add one only with its reader.

import (
	"encoding/json"

	"github.com/stripe/stripe-go/v82"
)

// apiResource lets stripe-go hand a call's response to the object it decoded
// (stripe.LastResponseSetter) without putting it in the exported types: the
// Client reads what it needs from it (Refund.Replayed), handlers never do,
// and fakes build the types as plain values. It has no exported field, so it
// neither decodes nor encodes.
type apiResource struct {
	last *stripe.APIResponse
}

// SetLastResponse implements stripe.LastResponseSetter.
func (r *apiResource) SetLastResponse(res *stripe.APIResponse) { r.last = res }

// CheckoutSession is what the worker reads of a Checkout Session: the create
// answer (client secret or URL), the return page's status, and, retrieved
// with expand line_items and payment_intent, what fulfillment records.
type CheckoutSession struct {
	apiResource
	ID            string `json:"id"`
	ClientSecret  string `json:"client_secret"`
	URL           string `json:"url"` // hosted Checkout only
	Mode          string `json:"mode"`
	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	Currency      string `json:"currency"`
	AmountTotal   int64  `json:"amount_total"`
	Livemode      bool   `json:"livemode"`
	CustomerEmail string `json:"customer_email"`
	// ClientReferenceID is the site's own reference for the order
	// (data-checkout-reference), recorded with it.
	ClientReferenceID string `json:"client_reference_id"`
	// CustomerDetails holds the email the shopper typed in Checkout.
	CustomerDetails *CustomerDetails  `json:"customer_details"`
	Metadata        map[string]string `json:"metadata"`
	// PaymentIntent is its id, and the object when expanded.
	PaymentIntent *IntentRef `json:"payment_intent"`
	// LineItems is present when expanded: the first page only.
	LineItems *LineItemList `json:"line_items"`
	// What Checkout collected for physical goods, and the total's parts
	// (the worker's goods.go).
	CollectedInformation *CollectedInformation `json:"collected_information"`
	ShippingCost         *ShippingCost         `json:"shipping_cost"`
	TotalDetails         *TotalDetails         `json:"total_details"`
	CustomFields         []CustomFieldValue    `json:"custom_fields"`
	AfterExpiration      *AfterExpiration      `json:"after_expiration"`
}

// PromotionCodeList is a page of promotion codes.
type PromotionCodeList struct {
	apiResource
	Data []PromotionCode `json:"data"`
}

// PromotionCode is what the worker reads of a promotion code: its id (sent
// as discounts[0][promotion_code]), the customer-facing code and whether it
// can be redeemed.
type PromotionCode struct {
	ID     string `json:"id"`
	Code   string `json:"code"`
	Active bool   `json:"active"`
}

// CustomerDetails is a Checkout Session's customer_details.
type CustomerDetails struct {
	Email  string       `json:"email"`
	Phone  string       `json:"phone"`
	TaxIDs []TaxIDValue `json:"tax_ids"`
}

// TaxIDValue is a tax ID the shopper gave in Checkout.
type TaxIDValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// CollectedInformation is a Checkout Session's collected_information (the
// basil API's home of shipping_details).
type CollectedInformation struct {
	ShippingDetails *ShippingDetails `json:"shipping_details"`
}

// ShippingDetails is a name, phone and postal address (a Checkout
// Session's collected shipping_details, a ConfirmationToken's or a
// PaymentIntent's shipping).
type ShippingDetails struct {
	Name    string   `json:"name"`
	Phone   string   `json:"phone"`
	Address *Address `json:"address"`
}

// Address is a postal address.
type Address struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	State      string `json:"state"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// ShippingCost is the shipping the shopper chose and paid; ShippingRate is
// an object when expanded (shipping_cost.shipping_rate).
type ShippingCost struct {
	AmountTotal  int64           `json:"amount_total"`
	AmountTax    int64           `json:"amount_tax"`
	ShippingRate ShippingRateRef `json:"shipping_rate"`
}

// ShippingRateRef is a shipping rate's id, with the rate when expanded.
type ShippingRateRef struct {
	ID     string
	Object *ShippingRate
}

// ShippingRate is what the worker reads of a shipping rate.
type ShippingRate struct {
	ID          string            `json:"id"`
	DisplayName string            `json:"display_name"`
	Metadata    map[string]string `json:"metadata"`
}

// UnmarshalJSON reads an id or an expanded rate.
func (r *ShippingRateRef) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &r.ID)
	case len(b) > 0 && b[0] == '{':
		r.Object = &ShippingRate{}
		if err := json.Unmarshal(b, r.Object); err != nil {
			return err
		}
		r.ID = r.Object.ID
	}
	return nil
}

// TotalDetails are the parts of a session's amount_total.
type TotalDetails struct {
	AmountDiscount int64 `json:"amount_discount"`
	AmountShipping int64 `json:"amount_shipping"`
	AmountTax      int64 `json:"amount_tax"`
}

// CustomFieldValue is one custom field as the shopper filled it.
type CustomFieldValue struct {
	Key      string      `json:"key"`
	Type     string      `json:"type"`
	Dropdown *FieldValue `json:"dropdown"`
	Text     *FieldValue `json:"text"`
	Numeric  *FieldValue `json:"numeric"`
}

// FieldValue is a custom field's value.
type FieldValue struct {
	Value string `json:"value"`
}

// AfterExpiration holds an expired session's recovery link.
type AfterExpiration struct {
	Recovery *struct {
		URL string `json:"url"`
	} `json:"recovery"`
}

// LineItemList is a page of a Checkout Session's line items.
type LineItemList struct {
	apiResource
	Data    []LineItem `json:"data"`
	HasMore bool       `json:"has_more"`
}

// LineItem is one line of a Checkout Session.
type LineItem struct {
	Description string     `json:"description"`
	Quantity    int64      `json:"quantity"`
	AmountTotal int64      `json:"amount_total"`
	Price       *LinePrice `json:"price"`
}

// LinePrice is a line item's price.
type LinePrice struct {
	UnitAmount int64 `json:"unit_amount"`
}

// IntentRecord is what fulfillment reads of a PaymentIntent (an event's
// object, or a session's expanded payment_intent). These fields are the same
// in every Stripe API version since 2019.
type IntentRecord struct {
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	CaptureMethod    string            `json:"capture_method"`
	Currency         string            `json:"currency"`
	Amount           int64             `json:"amount"`
	AmountReceived   int64             `json:"amount_received"`
	AmountCapturable int64             `json:"amount_capturable"`
	ReceiptEmail     string            `json:"receipt_email"`
	Livemode         bool              `json:"livemode"`
	Metadata         map[string]string `json:"metadata"`
	LastPaymentError *PaymentError     `json:"last_payment_error"`
	// Shipping is what the ConfirmationToken carried (the pay page's
	// Address Element), written onto the PaymentIntent by Stripe.
	Shipping *ShippingDetails `json:"shipping"`
}

// DeclineCode is the intent's last decline, as precise as Stripe gave it.
func (pi *IntentRecord) DeclineCode() string {
	if e := pi.LastPaymentError; e != nil {
		if e.DeclineCode != "" {
			return e.DeclineCode
		}
		return e.Code
	}
	return ""
}

// PaymentError is a PaymentIntent's last_payment_error.
type PaymentError struct {
	Type        string `json:"type,omitempty"`
	Code        string `json:"code,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
}

// IntentRef is a session's payment_intent: an id, or the object when expanded.
type IntentRef struct {
	ID     string
	Object *IntentRecord
}

// UnmarshalJSON reads an id or an expanded object.
func (r *IntentRef) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &r.ID)
	case len(b) > 0 && b[0] == '{':
		r.Object = &IntentRecord{}
		if err := json.Unmarshal(b, r.Object); err != nil {
			return err
		}
		r.ID = r.Object.ID
	}
	return nil
}

// PaymentIntent is the part of a PaymentIntent the worker reads and the
// operator API shows, in Stripe's names (see the top of this file for why
// not stripe.PaymentIntent). The worker encodes it for the operator without
// ClientSecret.
type PaymentIntent struct {
	apiResource
	ID                 string            `json:"id"`
	Object             string            `json:"object,omitempty"`
	Status             string            `json:"status"`
	Amount             int64             `json:"amount"`
	AmountCapturable   int64             `json:"amount_capturable"`
	AmountReceived     int64             `json:"amount_received"`
	Currency           string            `json:"currency"`
	CaptureMethod      string            `json:"capture_method,omitempty"`
	ConfirmationMethod string            `json:"confirmation_method,omitempty"`
	ClientSecret       string            `json:"client_secret,omitempty"`
	Customer           ExpandableID      `json:"customer,omitempty"`
	PaymentMethod      ExpandableID      `json:"payment_method,omitempty"`
	LatestCharge       ChargeRef         `json:"latest_charge,omitzero"`
	CancellationReason string            `json:"cancellation_reason,omitempty"`
	Created            int64             `json:"created,omitempty"`
	Livemode           bool              `json:"livemode"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	NextAction         *NextAction       `json:"next_action,omitempty"`
	LastPaymentError   *PaymentError     `json:"last_payment_error,omitempty"`
	Shipping           *ShippingDetails  `json:"shipping,omitempty"`
	// PaymentMethodOptions tells the operator whether the card allows
	// incremental authorization.
	PaymentMethodOptions *struct {
		Card *struct {
			RequestIncrementalAuthorization        string `json:"request_incremental_authorization,omitempty"`
			RequestIncrementalAuthorizationSupport bool   `json:"request_incremental_authorization_support,omitempty"`
		} `json:"card,omitempty"`
	} `json:"payment_method_options,omitempty"`
}

// Record is the PaymentIntent as fulfillment reads it.
func (pi *PaymentIntent) Record() *IntentRecord {
	return &IntentRecord{ID: pi.ID, Status: pi.Status, CaptureMethod: pi.CaptureMethod, Currency: pi.Currency,
		Amount: pi.Amount, AmountReceived: pi.AmountReceived, AmountCapturable: pi.AmountCapturable,
		Livemode: pi.Livemode, Metadata: pi.Metadata, LastPaymentError: pi.LastPaymentError, Shipping: pi.Shipping}
}

// NextAction is a PaymentIntent's next_action (requires_action).
type NextAction struct {
	Type string `json:"type"`
}

// ExpandableID is a Stripe reference that is an ID, or an object with an id
// when expanded; it always encodes as the ID.
type ExpandableID string

// UnmarshalJSON reads an id or an expanded object's id.
func (e *ExpandableID) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = ExpandableID(s)
	case len(b) > 0 && b[0] == '{':
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*e = ExpandableID(obj.ID)
	default:
		*e = ""
	}
	return nil
}

// PaymentIntentPage is one page of a PaymentIntent search.
type PaymentIntentPage struct {
	apiResource
	Data     []PaymentIntent `json:"data"`
	HasMore  bool            `json:"has_more"`
	NextPage string          `json:"next_page"`
}

// Refund is what the worker reads of a refund (and shows the operator).
type Refund struct {
	apiResource
	ID            string `json:"id"`
	Object        string `json:"object"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Status        string `json:"status"`
	PaymentIntent string `json:"payment_intent"`
	Charge        string `json:"charge"`
	// Replayed: Stripe answered with the refund an earlier request under the
	// same idempotency key made (Idempotent-Replayed), so it is not a new
	// one.
	Replayed bool `json:"-"`
}

// PortalSession is a customer portal session: where to send the customer.
type PortalSession struct {
	apiResource
	ID  string `json:"id"`
	URL string `json:"url"`
}

// ChargeRef is a PaymentIntent's latest_charge: an id, or, expanded, the
// object, of which the worker reads whether the card allows incremental
// authorization. It always encodes as the ID.
type ChargeRef struct {
	ID string
	// IncrementalAuthorization is the expanded charge's
	// payment_method_details.card.incremental_authorization.status
	// ("available", "unavailable"); "" when not expanded or not a card.
	IncrementalAuthorization string
	// Expanded: the object was read, so an empty IncrementalAuthorization
	// means the charge did not say (not a card payment).
	Expanded bool
}

// UnmarshalJSON reads an id or an expanded charge.
func (c *ChargeRef) UnmarshalJSON(b []byte) error {
	*c = ChargeRef{}
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.ID)
	case len(b) > 0 && b[0] == '{':
		var obj struct {
			ID                   string `json:"id"`
			PaymentMethodDetails *struct {
				Card *struct {
					IncrementalAuthorization *struct {
						Status string `json:"status"`
					} `json:"incremental_authorization"`
				} `json:"card"`
			} `json:"payment_method_details"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		c.ID, c.Expanded = obj.ID, true
		if d := obj.PaymentMethodDetails; d != nil && d.Card != nil && d.Card.IncrementalAuthorization != nil {
			c.IncrementalAuthorization = d.Card.IncrementalAuthorization.Status
		}
	}
	return nil
}

// MarshalJSON writes the ID ("" when there is no charge).
func (c ChargeRef) MarshalJSON() ([]byte, error) { return json.Marshal(c.ID) }

// IsZero lets omitempty-aware encoders skip a missing charge.
func (c ChargeRef) IsZero() bool { return c.ID == "" }

// ConfirmationToken is what the worker reads of a ConfirmationToken before
// it confirms a PaymentIntent with it: whether it can still be used, and the
// preview of the payment method and the shipping address that the approval
// rules see.
type ConfirmationToken struct {
	apiResource
	ID string `json:"id"`
	// ExpiresAt: after it the token cannot confirm anything (0: not said).
	ExpiresAt int64 `json:"expires_at"`
	Livemode  bool  `json:"livemode"`
	// PaymentIntent and SetupIntent name the intent the token already
	// confirmed: a token is used once.
	PaymentIntent    ExpandableID          `json:"payment_intent"`
	SetupIntent      ExpandableID          `json:"setup_intent"`
	SetupFutureUsage string                `json:"setup_future_usage"`
	Preview          *PaymentMethodPreview `json:"payment_method_preview"`
	Shipping         *ShippingDetails      `json:"shipping"`
}

// PaymentMethodPreview is a ConfirmationToken's payment_method_preview: what
// the Payment Element collected, without the card number.
type PaymentMethodPreview struct {
	// Type is the payment method type (card, link, sepa_debit, ...).
	Type           string          `json:"type"`
	BillingDetails *BillingDetails `json:"billing_details"`
	Card           *CardPreview    `json:"card"`
}

// BillingDetails is what the worker reads of billing_details.
type BillingDetails struct {
	Email   string   `json:"email"`
	Address *Address `json:"address"`
}

// CardPreview is a card's brand, funding (credit, debit, prepaid, unknown),
// issuing country, and the wallet it came from, if any.
type CardPreview struct {
	Brand   string `json:"brand"`
	Funding string `json:"funding"`
	Country string `json:"country"`
	Wallet  *struct {
		Type string `json:"type"`
	} `json:"wallet"`
}

// Customer is a created Customer.
type Customer struct {
	apiResource
	ID    string `json:"id"`
	Email string `json:"email"`
}
