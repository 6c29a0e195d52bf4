package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"checkoutkit/worker/orders"
)

// cardRulesCatalog refuses prepaid cards and Brazilian cards shop-wide; the
// "local" product adds: no amex, and the card's country must be where the
// order ships.
const cardRulesCatalog = `{
  "shop": {"card_rules": {"refused_funding": ["Prepaid"], "refused_countries": ["br"]}},
  "products": [
    {"id": "plain", "name": "Plain", "unit_amount": 1000, "currency": "usd"},
    {"id": "limited", "name": "Limited", "unit_amount": 500, "currency": "usd", "stock": 3},
    {"id": "local", "name": "Local", "unit_amount": 800, "currency": "usd",
     "card_rules": {"refused_brands": ["amex"], "card_country_matches_shipping": true}},
    {"id": "member", "name": "Membership", "unit_amount": 1500, "currency": "usd", "save_payment_method": true}
  ]
}`

const shipsToUS = `{"name":"Jenny Rosen","address":{"country":"US","line1":"1 Main St"}}`

func TestCardRulesRefuseBeforeAnythingIsCreated(t *testing.T) {
	cases := []struct {
		name, items, token string
		refused            string // "" = let through
	}{
		{"prepaid (shop)", `[{"id":"plain"}]`, stubToken("ctoken_t", "mastercard", "prepaid", "US", "null"), "prepaid"},
		{"country (shop)", `[{"id":"plain"}]`, stubToken("ctoken_t", "visa", "credit", "BR", "null"), "BR"},
		{"credit US", `[{"id":"plain"}]`, stubToken("ctoken_t", "visa", "credit", "US", "null"), ""},
		{"debit", `[{"id":"plain"}]`, stubToken("ctoken_t", "visa", "debit", "US", "null"), ""},
		{"amex without local", `[{"id":"plain"}]`, stubToken("ctoken_t", "amex", "credit", "US", "null"), ""},
		{"amex with local", `[{"id":"plain"},{"id":"local"}]`, stubToken("ctoken_t", "amex", "credit", "US", "null"), "amex"},
		{"card country differs from shipping", `[{"id":"local"}]`, stubToken("ctoken_t", "visa", "credit", "CA", shipsToUS), "CA"},
		{"card country matches shipping", `[{"id":"local"}]`, stubToken("ctoken_t", "visa", "credit", "US", shipsToUS), ""},
		// Without a shipping address the rule cannot apply (documented).
		{"no shipping", `[{"id":"local"}]`, stubToken("ctoken_t", "visa", "credit", "CA", "null"), ""},
		// Unknown card country: the country rules cannot apply.
		{"unknown country", `[{"id":"local"}]`, stubToken("ctoken_t", "visa", "credit", "", shipsToUS), ""},
		// Not a card: card rules do not apply.
		{"not a card", `[{"id":"plain"}]`, strings.Replace(stubToken("ctoken_t", "visa", "prepaid", "BR", "null"), `"type":"card"`, `"type":"us_bank_account"`, 1), ""},
		// A wallet's card is still a card.
		{"prepaid in a wallet", `[{"id":"plain"}]`, strings.Replace(stubToken("ctoken_t", "visa", "prepaid", "US", "null"), `"wallet":null`, `"wallet":{"type":"apple_pay"}`, 1), "prepaid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cardRulesCatalog})
			stub.set("GET /v1/confirmation_tokens/ctoken_t", 200, tc.token)
			rec := postJSON(t, srv, "/create-confirm-intent", `{"items":`+tc.items+`,"confirmationToken":"ctoken_t"}`)
			if tc.refused == "" {
				if rec.Code != 200 || len(stub.Creates()) != 1 {
					t.Fatalf("%d %s, creates %+v: want the payment through", rec.Code, rec.Body, stub.Creates())
				}
				return
			}
			eb := checkError(t, rec, 422, "card_refused", "confirmationToken")
			if !strings.Contains(eb.Error.Message, tc.refused) {
				t.Errorf("message %q does not name %s", eb.Error.Message, tc.refused)
			}
			if n := len(stub.Creates()); n != 0 {
				t.Errorf("refused, yet %d create calls: %+v", n, stub.Creates())
			}
		})
	}
}

// A refused card holds no stock and makes no Customer, even for a cart that
// reserves stock and saves the payment method.
func TestCardRefusalLeavesNoHold(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cardRulesCatalog})
	st := orders.NewMemStore()
	srv = srv.withDeps(func(d *Deps) { d.Store = st })
	stub.set("GET /v1/confirmation_tokens/ctoken_p", 200, stubToken("ctoken_p", "mastercard", "prepaid", "US", "null"))
	for range 3 { // more than the stock: nothing accumulates
		checkError(t, postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"limited","quantity":3},{"id":"member"}],"email":"a@b.example","confirmationToken":"ctoken_p","idempotencyKey":"prepaid-attempt-1"}`), 422, "card_refused", "confirmationToken")
	}
	if n, err := st.Held(context.Background(), "limited", time.Now()); err != nil || n != 0 {
		t.Errorf("held %d (%v) after refusals", n, err)
	}
	if c := stub.Creates(); len(c) != 0 {
		t.Errorf("created at Stripe: %+v", c)
	}
	// A good card then gets all the stock.
	if rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"limited","quantity":3}],"confirmationToken":"ctoken_good"}`); rec.Code != 200 {
		t.Fatalf("good card: %d %s", rec.Code, rec.Body)
	}
}

func TestConfirmationTokenMustBeUsable(t *testing.T) {
	expired := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"expires_at":4102444800`, `"expires_at":1700000100`, 1)
	usedPI := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"payment_intent":null`, `"payment_intent":"pi_other"`, 1)
	usedSI := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"setup_intent":null`, `"setup_intent":"seti_1"`, 1)
	live := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"livemode":false`, `"livemode":true`, 1)
	noPreview := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"payment_method_preview":{`, `"payment_method_preview":null,"x":{`, 1)
	saving := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"setup_future_usage":null`, `"setup_future_usage":"off_session"`, 1)
	otherID := strings.Replace(stubToken("ctoken_t", "visa", "credit", "US", "null"), `"id":"ctoken_t"`, `"id":"ctoken_other"`, 1)
	cases := []struct {
		name         string
		status       int
		body, idem   string
		code, param  string
		wantCreation bool
	}{
		{"unknown", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such confirmationtoken: 'ctoken_t'","param":"id"}}`, "", "invalid_confirmation_token", "confirmationToken", false},
		{"expired", 200, expired, "", "confirmation_token_expired", "confirmationToken", false},
		{"used, no key", 200, usedPI, "", "confirmation_token_used", "confirmationToken", false},
		{"used by a SetupIntent", 200, usedSI, "retry-key-0001", "confirmation_token_used", "confirmationToken", false},
		{"live token, test key", 200, live, "", "invalid_confirmation_token", "confirmationToken", false},
		{"no preview", 200, noPreview, "", "invalid_confirmation_token", "confirmationToken", false},
		{"another token's answer", 200, otherID, "", "stripe_bad_response", "", false},
		// A token made to save the card, for an order that saves nothing
		// (so has no Customer): Stripe would save it to nobody.
		{"saving token, plain order", 200, saving, "", "invalid_confirmation_token", "confirmationToken", false},
		{"Stripe down", 500, `{"error":{"type":"api_error","message":"boom"}}`, "", "stripe_unavailable", "", false},
		// With the client's key, a used token may be this order's own (a
		// retry after a lost answer), but pi_other is not this order's:
		// replaying a used token under fresh keys holds nothing.
		{"used by another order, keyed", 200, usedPI, "retry-key-0001", "confirmation_token_used", "confirmationToken", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cardRulesCatalog})
			stub.set("GET /v1/confirmation_tokens/ctoken_t", tc.status, tc.body)
			stub.set("GET /v1/payment_intents/pi_other", 200, `{"id":"pi_other","object":"payment_intent","status":"succeeded","metadata":{"kit_order":"ord_0123456789abcdef"}}`)
			body := `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_t"`
			if tc.idem != "" {
				body += `,"idempotencyKey":"` + tc.idem + `"`
			}
			rec := postJSON(t, srv, "/create-confirm-intent", body+"}")
			if tc.wantCreation {
				if rec.Code != 200 || len(stub.Creates()) != 1 {
					t.Fatalf("%d %s: want the PaymentIntent call", rec.Code, rec.Body)
				}
				return
			}
			status := rec.Code
			if status < 400 {
				t.Fatalf("%d %s, want a refusal", rec.Code, rec.Body)
			}
			checkError(t, rec, status, tc.code, tc.param)
			if n := len(stub.Creates()); n != 0 {
				t.Errorf("refused, yet %d create calls", n)
			}
		})
	}
}

// The saved payment method always belongs to a customer: a new one with
// the shopper's email, or the signed-in shopper's own.
func TestSavedPaymentMethodBelongsToACustomer(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cardRulesCatalog})
	// Without an email or a customer there is nobody to save it to: refused
	// before any Stripe call.
	checkError(t, postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"member"}],"confirmationToken":"ctoken_1"}`), 400, "missing_email", "email")
	if n := len(stub.Calls()); n != 0 {
		t.Fatalf("Stripe called %d times", n)
	}
	// With an email: a Customer, then the PaymentIntent for it; a retry of
	// the same request reaches the same Customer (same idempotency key).
	req := `{"items":[{"id":"member"}],"confirmationToken":"ctoken_1","email":"Sam@Example.COM","idempotencyKey":"save-attempt-01"}`
	for range 2 {
		if rec := postJSON(t, srv, "/create-confirm-intent", req); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	c := stub.Creates()
	if len(c) != 4 || c[0].Path != "/v1/customers" || c[1].Path != "/v1/payment_intents" || c[2].Idem != c[0].Idem || c[3].Idem != c[1].Idem {
		t.Fatalf("calls %+v", c)
	}
	wantForm(t, c[0], map[string]string{"email": "Sam@example.com"})
	if !orderRefRE.MatchString(c[0].Form.Get("metadata[kit_order]")) || c[0].Form.Get("metadata[kit_order]") != c[1].Form.Get("metadata[kit_order]") {
		t.Errorf("customer kit_order %q, payment %q", c[0].Form.Get("metadata[kit_order]"), c[1].Form.Get("metadata[kit_order]"))
	}
	wantForm(t, c[1], map[string]string{"customer": "cus_new1", "setup_future_usage": "off_session"})
	// A signed-in shopper's own customer is used; none is created.
	tok, _ := srv.mintCustomerToken("cus_Known1", time.Hour)
	if rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"member"}],"confirmationToken":"ctoken_2","customerToken":"`+tok+`"}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	c = stub.Creates()
	if len(c) != 5 || c[4].Path != "/v1/payment_intents" {
		t.Fatalf("calls %+v", c)
	}
	wantForm(t, c[4], map[string]string{"customer": "cus_Known1", "setup_future_usage": "off_session"})
	// A token made to save the card is fine for an order that saves it.
	stub.set("GET /v1/confirmation_tokens/ctoken_s", 200, strings.Replace(stubToken("ctoken_s", "visa", "credit", "US", "null"), `"setup_future_usage":null`, `"setup_future_usage":"off_session"`, 1))
	if rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"member"}],"confirmationToken":"ctoken_s","customerToken":"`+tok+`"}`); rec.Code != 200 {
		t.Fatalf("saving token: %d %s", rec.Code, rec.Body)
	}
	n := len(stub.Creates())
	// A product that saves nothing makes no Customer.
	if rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_3","email":"a@b.example"}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	c = stub.Creates()
	if len(c) != n+1 || c[n].Path != "/v1/payment_intents" {
		t.Fatalf("calls %+v", c)
	}
	wantAbsent(t, c[n], "customer", "setup_future_usage")
}

// A Customer Stripe refuses releases the stock hold and creates no payment.
func TestSavedCustomerRefusedReleasesHold(t *testing.T) {
	cat := strings.Replace(cardRulesCatalog, `"save_payment_method": true}`, `"save_payment_method": true, "stock": 2}`, 1)
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cat})
	st := orders.NewMemStore()
	srv = srv.withDeps(func(d *Deps) { d.Store = st })
	stub.set("POST /v1/customers", 400, `{"error":{"type":"invalid_request_error","code":"email_invalid","message":"Invalid email address","param":"email"}}`)
	rec := postJSON(t, srv, "/create-confirm-intent", `{"items":[{"id":"member","quantity":2}],"confirmationToken":"ctoken_1","email":"a@b.example"}`)
	if rec.Code < 400 || rec.Code >= 600 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if n, _ := st.Held(context.Background(), "member", time.Now()); n != 0 {
		t.Errorf("held %d after the Customer was refused", n)
	}
	for _, c := range stub.Creates() {
		if c.Path == "/v1/payment_intents" {
			t.Errorf("a PaymentIntent without its Customer: %+v", c)
		}
	}
}

func TestCatalogCardRules(t *testing.T) {
	c, err := ParseCatalog([]byte(cardRulesCatalog))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Shop.CardRules; r == nil || r.RefusedFunding[0] != "prepaid" || r.RefusedCountries[0] != "BR" {
		t.Errorf("shop rules not normalized: %+v", r)
	}
	refusedCatalogs(t, []catalogCase{
		{"card rules 1", `{"shop":{"card_rules":{"refused_funding":["gift"]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, `shop.card_rules.refused_funding[0] "gift"`},
		{"card rules 2", `{"shop":{"card_rules":{"refused_countries":["USA"]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, `shop.card_rules.refused_countries[0] "USA"`},
		{"card rules 3", `{"shop":{"card_rules":{"refused_brands":["visa","mastercrad"]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, `shop.card_rules.refused_brands[1] "mastercrad"`},
		{"card rules 4", `{"shop":{"card_rules":{"refused_wallets":["apple_pay"]}},"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd"}]}`, `unknown field "refused_wallets"`},
		{"card rules 5", `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","card_rules":{"refused_countries":["1X"]}}]}`, `product "a": card_rules.refused_countries[0] "1X"`},
		{"card rules 6", `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","card_rules":{"refused_funding":[""]}}]}`, `product "a": card_rules.refused_funding[0] ""`},
		{"card rules 7", `{"products":[{"id":"a","name":"A","unit_amount":1,"currency":"usd","card_rules":{"card_country_matches_shipping":"yes"}}]}`, `card_country_matches_shipping`},
	})
}

// A retry after a lost answer: the token is now used by the order's own
// PaymentIntent, and the create call goes again under the same key (Stripe
// answers with that PaymentIntent).
func TestConfirmationTokenRetryOfTheSameOrder(t *testing.T) {
	srv, stub := newStubServer(t, map[string]string{"CATALOG_JSON": cardRulesCatalog})
	req := `{"items":[{"id":"plain"}],"confirmationToken":"ctoken_r","idempotencyKey":"lost-answer-01"}`
	if rec := postJSON(t, srv, "/create-confirm-intent", req); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	first := stub.Creates()[0]
	ref := first.Form.Get("metadata[kit_order]")
	stub.set("GET /v1/confirmation_tokens/ctoken_r", 200, strings.Replace(stubToken("ctoken_r", "visa", "credit", "US", "null"), `"payment_intent":null`, `"payment_intent":"pi_123"`, 1))
	stub.set("GET /v1/payment_intents/pi_123", 200, `{"id":"pi_123","object":"payment_intent","status":"succeeded","metadata":{"kit_order":"`+ref+`"}}`)
	if rec := postJSON(t, srv, "/create-confirm-intent", req); rec.Code != 200 {
		t.Fatalf("retry: %d %s", rec.Code, rec.Body)
	}
	c := stub.Creates()
	if len(c) != 2 || c[1].Idem != first.Idem || c[1].Form.Encode() != first.Form.Encode() {
		t.Fatalf("retry sent %+v, want the first request again", c)
	}
	// The same used token with another key (another order): refused, nothing sent.
	checkError(t, postJSON(t, srv, "/create-confirm-intent", strings.Replace(req, "lost-answer-01", "someone-else-02", 1)), 409, "confirmation_token_used", "confirmationToken")
	if len(stub.Creates()) != 2 {
		t.Errorf("a used token made %d creates", len(stub.Creates())-2)
	}
}
