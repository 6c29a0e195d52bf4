// Trustworthy orders, end to end through wrangler dev with a local D1
// database and the sandbox delivering signed events (TestMain, main_test.go).
// What the operator API shows and what the fulfillment counter receives must
// follow what was actually paid, by which Stripe object, made by this
// deployment:
//
//   - an order is its paying object (cs_... or pi_...); a client's
//     idempotencyKey deduplicates retries of one request, never joins two;
//   - sessions and intents this deployment did not create (no metadata
//     kit_deployment of its own: a Payment Link, another integration, another
//     deployment) are acknowledged and never recorded or fulfilled;
//   - an order whose paid amount does not match its lines needs review and is
//     never fulfilled;
//   - stock is held atomically when a session or intent is made and given
//     back when the payment ends without money (expiry, failure, cancel) or
//     is fully refunded;
//   - refunds (operator API) and disputes (the sandbox's dev endpoints) move
//     the order's state, and never fulfill it again.
//
// The stack (TestMain) sets DEPLOYMENT_ID and a catalog with the stocked
// products of testdata/trust-products.json. Each test buys products of its
// own, so any one runs alone (-run) as well as in the suite.

package webhooks

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// ---------------------------------------------------------------------------
// Helpers

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newCheckout creates a Checkout Session through the worker; it fails the
// test unless the worker answers 200, and returns the session id and secret.
func newCheckout(t *testing.T, body string) (id, secret string) {
	t.Helper()
	r := e2e.PayJSON(t, "/create-checkout-session", body)
	secret = r.Str("clientSecret")
	id, _, _ = strings.Cut(secret, "_secret_")
	if r.Status != 200 || !strings.HasPrefix(id, "cs_") {
		t.Fatalf("POST /create-checkout-session %s: %d %s", body, r.Status, r.Raw)
	}
	return id, secret
}

// payCheckout pays a session in the sandbox's stand-in with a card.
func payCheckout(t *testing.T, secret, email, card string) {
	t.Helper()
	body := e2e.PayBodyAs(secret, email, card)
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", body); r.Status != 200 {
		t.Fatalf("pay: %d %s", r.Status, r.Body)
	}
}

// sandboxObject reads an object from the sandbox with the secret key
// (path: /v1/payment_intents/pi_..., /v1/charges/ch_...).
func sandboxObject(t *testing.T, path string) e2e.PayResult {
	t.Helper()
	r := e2e.PayDo(t, "GET", e2e.Env(t, "SANDBOX_URL")+path, map[string]string{"Authorization": "Bearer sk_test_sandbox"}, "")
	if r.Status != 200 {
		t.Fatalf("GET %s at the sandbox: %d %s", path, r.Status, r.Raw)
	}
	return r
}

// sandboxSession is a Checkout Session as the sandbox holds it.
type sandboxSession struct {
	ID            string            `json:"id"`
	Created       int64             `json:"created"`
	ExpiresAt     int64             `json:"expires_at"`
	Status        string            `json:"status"`
	Metadata      map[string]string `json:"metadata"`
	PaymentIntent json.RawMessage   `json:"payment_intent"`
}

func getSandboxSession(t *testing.T, id string) sandboxSession {
	t.Helper()
	r := e2e.Call(t, "GET", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+id, "", "")
	if r.Status != 200 {
		t.Fatalf("GET /_sandbox/sessions/%s: %d %s", id, r.Status, r.Body)
	}
	var s sandboxSession
	e2e.Decode(t, r, &s)
	return s
}

// intentID is the session's PaymentIntent id (a string or an expanded object).
func (s sandboxSession) intentID() string {
	var id string
	if json.Unmarshal(s.PaymentIntent, &id) == nil {
		return id
	}
	var obj struct{ ID string }
	json.Unmarshal(s.PaymentIntent, &obj)
	return obj.ID
}

// directSession creates a Checkout Session at the sandbox with the secret
// key, as another integration on the same Stripe account would (a Payment
// Link, another shop, another deployment of the kit): one line of name ×
// quantity at unitAmount, with metadata on the session and its
// PaymentIntent.
func directSession(t *testing.T, name string, unitAmount, quantity int64, metadata map[string]string) (id, secret string) {
	t.Helper()
	form := url.Values{
		"mode":                                   {"payment"},
		"ui_mode":                                {"embedded"},
		"redirect_on_completion":                 {"never"},
		"line_items[0][price_data][currency]":    {"usd"},
		"line_items[0][price_data][unit_amount]": {strconv.FormatInt(unitAmount, 10)},
		"line_items[0][price_data][product_data][name]": {name},
		"line_items[0][quantity]":                       {strconv.FormatInt(quantity, 10)},
	}
	for k, v := range metadata {
		form.Set("metadata["+k+"]", v)
		form.Set("payment_intent_data[metadata]["+k+"]", v)
	}
	r := e2e.SandboxPost(t, "/v1/checkout/sessions", form)
	if r.Status != 200 || !strings.HasPrefix(r.Str("id"), "cs_") {
		t.Fatalf("creating a session at the sandbox: %d %s", r.Status, r.Raw)
	}
	return r.Str("id"), r.Str("client_secret")
}

// directIntent creates and confirms (test card pm_card_visa) a PaymentIntent
// at the sandbox with the secret key, as another integration would.
func directIntent(t *testing.T, amount int64, metadata map[string]string) string {
	t.Helper()
	form := url.Values{"amount": {strconv.FormatInt(amount, 10)}, "currency": {"usd"}, "confirm": {"true"},
		"payment_method": {"pm_card_visa"}, "payment_method_types[0]": {"card"}}
	for k, v := range metadata {
		form.Set("metadata["+k+"]", v)
	}
	r := e2e.SandboxPost(t, "/v1/payment_intents", form)
	if r.Status != 200 || r.Str("status") != "succeeded" {
		t.Fatalf("creating a PaymentIntent at the sandbox: %d %s", r.Status, r.Raw)
	}
	return r.Str("id")
}

// deliveredEvents waits until the sandbox has delivered every event about
// the objects (none pending) and returns them; it fails the test if any
// event was given up or answered other than 2xx.
func deliveredEvents(t *testing.T, wantTypes []string, objectIDs ...string) []e2e.SandboxEvent {
	t.Helper()
	var all []e2e.SandboxEvent
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		all = nil
		pending := false
		for _, id := range objectIDs {
			for _, ev := range e2e.SandboxEvents(t, id) {
				all = append(all, ev)
				pending = pending || ev.State == "pending"
			}
		}
		have := map[string]bool{}
		for _, ev := range all {
			have[ev.Type] = true
		}
		missing := false
		for _, typ := range wantTypes {
			missing = missing || !have[typ]
		}
		if !pending && !missing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events about %v not all delivered within 20 s (want %v): %+v", objectIDs, wantTypes, all)
		}
	}
	for _, ev := range all {
		if ev.State != "delivered" || ev.LastStatus == nil || *ev.LastStatus < 200 || *ev.LastStatus > 299 {
			t.Errorf("event %s (%s) was not acknowledged: state %s, attempts %+v", ev.ID, ev.Type, ev.State, ev.Attempts)
		}
	}
	return all
}

// declinedIntent is the PaymentIntent of a declined /create-confirm-intent
// answer: error.payment_intent when the answer names it, else the failed
// confirm-intent order of the shopper's (test-unique) email, as the operator
// finds it.
func declinedIntent(t *testing.T, r e2e.PayResult, email string) string {
	t.Helper()
	if pi := r.Str("error", "payment_intent"); pi != "" {
		return pi
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		res := e2e.AdminGet(t, "/admin/orders?limit=100&state=failed")
		var list struct{ Data []e2e.Order }
		e2e.Decode(t, res, &list)
		for _, o := range list.Data {
			if o.Email == email && o.Flow == "confirm_intent" {
				return o.ID
			}
		}
	}
	t.Fatalf("no failed confirm-intent order for %s in /admin/orders?state=failed (the 402 was %s)", email, r.Raw)
	return ""
}

// errorCode is the "error.code" of a worker's error answer.
func errorCode(r e2e.PayResult) string { return r.Str("error", "code") }

// ordersInD1 counts the order rows about any of the Stripe ids.
func ordersInD1(t *testing.T, ids ...string) string {
	t.Helper()
	q := "'" + strings.Join(ids, "','") + "'"
	rows := e2e.D1(t, `SELECT COUNT(*) AS n FROM orders WHERE id IN (`+q+`) OR session_id IN (`+q+`) OR payment_intent_id IN (`+q+`)`)
	return fmt.Sprint(rows[0]["n"])
}

// listed reports whether GET /admin/orders?state=state lists the order id.
func listed(t *testing.T, state, id string) bool {
	t.Helper()
	r := e2e.AdminGet(t, "/admin/orders?limit=100&state="+state)
	if r.Status != 200 {
		t.Fatalf("GET /admin/orders?state=%s: %d %s", state, r.Status, r.Body)
	}
	var list struct{ Data []e2e.Order }
	e2e.Decode(t, r, &list)
	for _, o := range list.Data {
		if o.ID == id {
			return true
		}
	}
	return false
}

func sameLines(got []e2e.OrderLine, want ...e2e.OrderLine) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Product != w.Product || g.Quantity != w.Quantity || g.UnitAmount != w.UnitAmount || g.AmountTotal != w.AmountTotal {
			return false
		}
	}
	return true
}

// adminRefund calls POST /admin/orders/{id}/refund with the admin token.
func adminRefund(t *testing.T, id, body, idempotencyKey string) e2e.PayResult {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + e2e.HookAdminToken(t)}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	if idempotencyKey != "" {
		h["Idempotency-Key"] = idempotencyKey
	}
	return e2e.PayDo(t, "POST", e2e.Env(t, "BASE_URL")+"/admin/orders/"+id+"/refund", h, body)
}

// refundAmount is the refund's amount in a refund answer (-1 if none).
func refundAmount(r e2e.PayResult) int64 {
	var out struct {
		Refund *struct{ Amount int64 }
	}
	if json.Unmarshal([]byte(r.Raw), &out) != nil || out.Refund == nil {
		return -1
	}
	return out.Refund.Amount
}

// refundOrder is the order in a refund answer.
func refundOrder(t *testing.T, r e2e.PayResult) e2e.Order {
	t.Helper()
	var out struct{ Order e2e.Order }
	if err := json.Unmarshal([]byte(r.Raw), &out); err != nil {
		t.Fatalf("refund answer: %v: %s", err, r.Raw)
	}
	return out.Order
}

// paidCheckout buys items through the worker's Checkout and waits until the
// order is paid and fulfilled.
// shipping is what the demo catalog's standard rate costs below its free
// threshold: every Checkout order of mugs and stickers here pays it.
const shipping = 500

func paidCheckout(t *testing.T, items string) *e2e.Order {
	t.Helper()
	id := e2e.PaidSession(t, items, "card")
	return e2e.WaitOrder(t, id, "paid and fulfilled", func(o *e2e.Order) bool { return o.State == "paid" && o.Fulfillment.Status == "done" })
}

// waitCanBuy polls until a Checkout Session for one of product can be made
// again (its stock came back); until then every answer must be 409
// out_of_stock.
func waitCanBuy(t *testing.T, product string) string {
	t.Helper()
	body := `{"items":[{"id":"` + product + `","quantity":1}]}`
	var r e2e.PayResult
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r = e2e.PayJSON(t, "/create-checkout-session", body)
		if r.Status == 200 {
			id, _, _ := strings.Cut(r.Str("clientSecret"), "_secret_")
			return id
		}
		if r.Status != 409 || errorCode(r) != "out_of_stock" {
			t.Fatalf("buying %s: %d %s (want 200, or 409 out_of_stock until the stock comes back)", product, r.Status, r.Raw)
		}
	}
	t.Fatalf("the stock of %s never came back within 20 s: last %d %s", product, r.Status, r.Raw)
	return ""
}

func wantOutOfStock(t *testing.T, product, when string) {
	t.Helper()
	r := e2e.PayJSON(t, "/create-checkout-session", `{"items":[{"id":"`+product+`","quantity":1}]}`)
	if r.Status != 409 || errorCode(r) != "out_of_stock" {
		t.Errorf("%s: buying %s: %d %s, want 409 out_of_stock", when, product, r.Status, r.Raw)
	}
}

// ---------------------------------------------------------------------------
// Identity

// TestTrustDeclinedIntentNeverJoinsThePaidCheckout is the attack on order
// identity: an expensive cart declined in the confirm-intent flow, then a
// cheap cart paid through Checkout under the same idempotencyKey. The paid
// order must hold only the cheap lines and be fulfilled with them, once; the
// declined one stays a separate, failed, unfulfilled order.
func TestTrustDeclinedIntentNeverJoinsThePaidCheckout(t *testing.T) {
	s := e2e.StartSink(t)
	key := "trust-" + randHex(8)
	email := "mallory-" + randHex(4) + "@example.com"

	dec := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"tshirt","quantity":10}],"confirmationToken":"`+
		e2e.ConfirmationToken(t, "pm_card_radarBlock")+`","email":"`+email+`","idempotencyKey":"`+key+`","customFields":{"size":"M"}}`)
	if dec.Status != 402 || errorCode(dec) != "card_declined" || dec.Str("error", "decline_code") != "generic_decline" {
		t.Errorf("the shopper's answer to a fraud decline: %d %s, want 402 card_declined / generic_decline", dec.Status, dec.Raw)
	}
	if l := strings.ToLower(dec.Raw); strings.Contains(l, "fraud") || strings.Contains(l, "radar") {
		t.Errorf("the shopper's answer tells them why: %s", dec.Raw)
	}
	piID := declinedIntent(t, dec, email)

	csID, secret := newCheckout(t, `{"items":[{"id":"stickers","quantity":1}],"email":"`+email+`","idempotencyKey":"`+key+`"}`)
	payCheckout(t, secret, email, "4242424242424242")
	paid := e2e.WaitOrder(t, csID, "paid and fulfilled", func(o *e2e.Order) bool { return o.State == "paid" && o.Fulfillment.Status == "done" })
	stickers := e2e.OrderLine{Product: "stickers", Quantity: 1, UnitAmount: 500, AmountTotal: 500}
	if paid.ID != csID || paid.Flow != "checkout" || !strings.HasPrefix(paid.PaymentIntentID, "pi_") || paid.PaymentIntentID == piID ||
		paid.AmountTotal != 500+shipping || paid.AmountReceived != 500+shipping || !sameLines(paid.Lines, stickers) {
		t.Errorf("the paid order: %+v, want %s with only 1 × stickers for 500 and shipping", paid, csID)
	}

	declined := e2e.WaitOrder(t, piID, "failed", func(o *e2e.Order) bool { return o.State == "failed" })
	tshirts := e2e.OrderLine{Product: "tshirt", Quantity: 10, UnitAmount: 2000, AmountTotal: 20000}
	if declined.ID != piID || declined.Flow != "confirm_intent" || declined.SessionID != "" || declined.DeclineCode != "fraudulent" ||
		declined.AmountTotal != 20000 || declined.AmountReceived != 0 || !sameLines(declined.Lines, tshirts) {
		t.Errorf("the declined order: %+v, want %s, failed, decline_code fraudulent, 10 × tshirt", declined, piID)
	}

	// Every reference and Stripe id leads to its own order.
	for key, want := range map[string]string{paid.Reference: csID, paid.PaymentIntentID: csID, declined.Reference: piID} {
		if o := e2e.GetOrder(t, key); o == nil || o.ID != want {
			t.Errorf("GET /admin/orders/%s: %+v, want order %s", key, o, want)
		}
	}
	if paid.Reference == declined.Reference {
		t.Errorf("both orders have the reference %q", paid.Reference)
	}

	deliveredEvents(t, []string{"payment_intent.payment_failed"}, piID)
	deliveredEvents(t, []string{"checkout.session.completed", "payment_intent.succeeded"}, csID, paid.PaymentIntentID)
	if n := s.Count(csID); n != 1 {
		t.Errorf("the paid order was fulfilled %d times, want 1", n)
	}
	if f, ok := s.LastOrder(csID); !ok || f.AmountTotal != 500+shipping || !sameLines(f.Lines, stickers) {
		t.Errorf("the fulfillment call carried %+v, want only 1 × stickers", f)
	}
	if n := s.Count(piID); n != 0 {
		t.Errorf("the declined order was fulfilled %d times", n)
	}
	if o := e2e.GetOrder(t, piID); o.State != "failed" || o.Fulfillment.Status != "none" {
		t.Errorf("the declined order afterwards: %+v", o)
	}
}

// TestTrustIdempotencyKeyRetriesTheSameRequestOnly: the same request under
// the same key is one session; another cart or another flow under that key
// is another order, with its own lines.
func TestTrustIdempotencyKeyRetriesTheSameRequestOnly(t *testing.T) {
	s := e2e.StartSink(t)
	key := "retry-" + randHex(8)
	one := `{"items":[{"id":"mug","quantity":1}],"idempotencyKey":"` + key + `"}`
	a, secretA := newCheckout(t, one)
	if again, _ := newCheckout(t, one); again != a {
		t.Errorf("a retry of the same request made session %s, want %s", again, a)
	}
	b, secretB := newCheckout(t, `{"items":[{"id":"mug","quantity":2}],"idempotencyKey":"`+key+`"}`)
	if b == a {
		t.Fatalf("another cart under the same key got the same session %s", a)
	}
	ctok := e2e.ConfirmationToken(t, "pm_card_visa")
	confirm := `{"items":[{"id":"mug","quantity":1}],"confirmationToken":"` + ctok + `","idempotencyKey":"` + key + `"}`
	pi := e2e.PayJSON(t, "/create-confirm-intent", confirm)
	if pi.Status != 200 || pi.Str("status") != "succeeded" || !strings.HasPrefix(pi.Str("id"), "pi_") {
		t.Fatalf("confirm-intent under the same key: %d %s", pi.Status, pi.Raw)
	}
	if retry := e2e.PayJSON(t, "/create-confirm-intent", confirm); retry.Status != 200 || retry.Str("id") != pi.Str("id") {
		t.Errorf("a retry of the same confirm-intent request: %d %s, want 200 with %s", retry.Status, retry.Raw, pi.Str("id"))
	}
	payCheckout(t, secretA, "jenny@example.com", "4242424242424242")
	payCheckout(t, secretB, "jenny@example.com", "4242424242424242")
	fulfilled := func(o *e2e.Order) bool { return o.Fulfillment.Status == "done" }
	for _, c := range []struct {
		id   string
		flow string
		line e2e.OrderLine
	}{
		{a, "checkout", e2e.OrderLine{Product: "mug", Quantity: 1, UnitAmount: 1200, AmountTotal: 1200}},
		{b, "checkout", e2e.OrderLine{Product: "mug", Quantity: 2, UnitAmount: 1200, AmountTotal: 2400}},
		{pi.Str("id"), "confirm_intent", e2e.OrderLine{Product: "mug", Quantity: 1, UnitAmount: 1200, AmountTotal: 1200}},
	} {
		o := e2e.WaitOrder(t, c.id, "fulfilled", fulfilled)
		if o.ID != c.id || o.Flow != c.flow || o.State != "paid" || o.AmountReceived != c.line.AmountTotal+o.Details.AmountShipping || !sameLines(o.Lines, c.line) {
			t.Errorf("order %s: %+v, want %s, %d × %s", c.id, o, c.flow, c.line.Quantity, c.line.Product)
		}
	}
	deliveredEvents(t, []string{"checkout.session.completed"}, a, b)
	deliveredEvents(t, []string{"payment_intent.succeeded"}, pi.Str("id"))
	for _, id := range []string{a, b, pi.Str("id")} {
		if n := s.Count(id); n != 1 {
			t.Errorf("order %s fulfilled %d times, want 1", id, n)
		}
	}
}

// TestTrustSuspiciousDeclinesLookGenericToTheShopper: fraud and stolen-card
// declines answer the shopper 402 card_declined / generic_decline; the
// operator sees the real decline code on the failed order.
func TestTrustSuspiciousDeclinesLookGenericToTheShopper(t *testing.T) {
	s := e2e.StartSink(t)
	for _, c := range []struct {
		name, declineCode string
		token             func() e2e.PayResult
	}{
		{"fraudulent", "fraudulent", func() e2e.PayResult {
			return e2e.SandboxPost(t, "/v1/test_helpers/confirmation_tokens", e2e.Shipped(url.Values{"payment_method": {"pm_card_radarBlock"}}))
		}},
		// A card number, as Stripe.js sends it with the publishable key.
		{"stolen card", "stolen_card", func() e2e.PayResult {
			form := url.Values{"payment_method_data[type]": {"card"}, "payment_method_data[card][number]": {"4000000000009979"},
				"payment_method_data[card][exp_month]": {"12"}, "payment_method_data[card][exp_year]": {"2034"}, "payment_method_data[card][cvc]": {"123"}}
			return e2e.PayDo(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/v1/confirmation_tokens", map[string]string{
				"Authorization": "Bearer pk_test_sandbox", "Content-Type": "application/x-www-form-urlencoded"}, e2e.Shipped(form).Encode())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token()
			if tok.Status != 200 || !strings.HasPrefix(tok.Str("id"), "ctoken_") {
				t.Fatalf("confirmation token: %d %s", tok.Status, tok.Raw)
			}
			email := "card-" + randHex(4) + "@example.com"
			r := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"mug","quantity":1}],"confirmationToken":"`+tok.Str("id")+`","email":"`+email+`"}`)
			if r.Status != 402 || errorCode(r) != "card_declined" || r.Str("error", "decline_code") != "generic_decline" {
				t.Errorf("shopper's answer: %d %s, want 402 card_declined / generic_decline", r.Status, r.Raw)
			}
			if l := strings.ToLower(r.Raw); strings.Contains(l, "fraud") || strings.Contains(l, "stolen") || strings.Contains(l, "radar") {
				t.Errorf("the shopper's answer tells them why: %s", r.Raw)
			}
			piID := declinedIntent(t, r, email)
			o := e2e.WaitOrder(t, piID, "failed", func(o *e2e.Order) bool { return o.State == "failed" })
			if o.DeclineCode != c.declineCode || o.Fulfillment.Status != "none" {
				t.Errorf("the operator's order: %+v, want decline_code %s, not fulfilled", o, c.declineCode)
			}
			deliveredEvents(t, []string{"payment_intent.payment_failed"}, piID)
			if n := s.Count(piID); n != 0 {
				t.Errorf("a declined order was fulfilled %d times", n)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Whose objects

// TestTrustSessionsCarryTheDeploymentMarkerAndExpiry: what the worker creates
// at Stripe is marked with its deployment (metadata kit_deployment), and a
// Checkout Session expires 30 minutes after it was made.
func TestTrustSessionsCarryTheDeploymentMarkerAndExpiry(t *testing.T) {
	e2e.StartSink(t)
	deployment := e2e.Env(t, "DEPLOYMENT_ID")
	id, secret := newCheckout(t, `{"items":[{"id":"mug","quantity":1}]}`)
	sess := getSandboxSession(t, id)
	if sess.Metadata["kit_deployment"] != deployment {
		t.Errorf("session metadata %v, want kit_deployment %q", sess.Metadata, deployment)
	}
	if life := sess.ExpiresAt - sess.Created; life < 30*60-5 || life > 30*60+120 {
		t.Errorf("session expires %d s after it was created (created %d, expires_at %d), want 30 minutes", life, sess.Created, sess.ExpiresAt)
	}
	payCheckout(t, secret, "jenny@example.com", "4242424242424242")
	o := e2e.WaitOrder(t, id, "paid", func(o *e2e.Order) bool { return o.State == "paid" })
	if pi := sandboxObject(t, "/v1/payment_intents/"+o.PaymentIntentID); pi.Str("metadata", "kit_deployment") != deployment {
		t.Errorf("the session's PaymentIntent: metadata %v, want kit_deployment %q", pi.Body["metadata"], deployment)
	}
	r := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"mug","quantity":1}],"confirmationToken":"`+e2e.ConfirmationToken(t, "pm_card_visa")+`"}`)
	if r.Status != 200 || !strings.HasPrefix(r.Str("id"), "pi_") {
		t.Fatalf("confirm-intent: %d %s", r.Status, r.Raw)
	}
	if pi := sandboxObject(t, "/v1/payment_intents/"+r.Str("id")); pi.Str("metadata", "kit_deployment") != deployment {
		t.Errorf("the confirm-intent PaymentIntent: metadata %v, want kit_deployment %q", pi.Body["metadata"], deployment)
	}
}

// TestTrustForeignSessionsAreNeverOrders: Checkout Sessions made directly at
// Stripe on the same account, selling the same product names (a Payment
// Link, another integration, another deployment of the kit), paid: the
// webhook acknowledges their events, records nothing and fulfills nothing,
// and the return page's /session-status still answers without recording.
func TestTrustForeignSessionsAreNeverOrders(t *testing.T) {
	s := e2e.StartSink(t)
	for _, c := range []struct {
		name     string
		metadata map[string]string
	}{
		{"no kit metadata", nil},
		{"another deployment", map[string]string{"kit_order": "ord_" + randHex(8), "kit_cart": "mug:1", "kit_flow": "checkout", "kit_deployment": "another-shop"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, secret := directSession(t, "Enamel mug", 1200, 1, c.metadata)
			payCheckout(t, secret, "jenny@example.com", "4242424242424242")
			pi := getSandboxSession(t, cs).intentID()
			if !strings.HasPrefix(pi, "pi_") {
				t.Fatalf("the paid session has no PaymentIntent: %+v", getSandboxSession(t, cs))
			}
			deliveredEvents(t, []string{"checkout.session.completed", "payment_intent.succeeded"}, cs, pi)
			check := func(when string) {
				t.Helper()
				for _, key := range []string{cs, pi} {
					if r := e2e.AdminGet(t, "/admin/orders/"+key); r.Status != 404 {
						t.Errorf("%s: GET /admin/orders/%s: %d %s, want 404", when, key, r.Status, r.Body)
					}
				}
				if n := ordersInD1(t, cs, pi); n != "0" {
					t.Errorf("%s: %s order rows in D1 about %s / %s", when, n, cs, pi)
				}
				if n := s.Count(cs) + s.Count(pi); n != 0 {
					t.Errorf("%s: %d fulfillment calls for a foreign session", when, n)
				}
			}
			check("after its webhooks")
			if st := e2e.SessionStatus(t, cs); st.Status != "complete" || st.PaymentStatus != "paid" {
				t.Errorf("GET /session-status?session_id=%s: %+v, want complete / paid", cs, st)
			}
			e2e.WaitWebhooksSettled(t)
			check("after /session-status")
		})
	}
}

// TestTrustForeignPaymentIntentsAreNeverOrders: PaymentIntents made directly
// at Stripe (no kit metadata, or another deployment's), paid: acknowledged,
// never recorded or fulfilled.
func TestTrustForeignPaymentIntentsAreNeverOrders(t *testing.T) {
	s := e2e.StartSink(t)
	for _, c := range []struct {
		name     string
		metadata map[string]string
	}{
		{"no kit metadata", nil},
		{"another deployment", map[string]string{"kit_order": "ord_" + randHex(8), "kit_cart": "mug:1:1200", "kit_flow": "confirm_intent", "kit_deployment": "another-shop"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pi := directIntent(t, 1200, c.metadata)
			deliveredEvents(t, []string{"payment_intent.succeeded"}, pi)
			if r := e2e.AdminGet(t, "/admin/orders/"+pi); r.Status != 404 {
				t.Errorf("GET /admin/orders/%s: %d %s, want 404", pi, r.Status, r.Body)
			}
			if n := ordersInD1(t, pi); n != "0" {
				t.Errorf("%s order rows in D1 about %s", n, pi)
			}
			if n := s.Count(pi); n != 0 {
				t.Errorf("%d fulfillment calls for a foreign PaymentIntent", n)
			}
		})
	}
}

// TestTrustMarkedSessionWithOtherAmountsNeedsReview: a session made outside
// the worker but carrying this deployment's marker and a kit cart (a forged,
// or foreign but marked, object) whose paid amount differs from its lines
// becomes an order that needs review and is never fulfilled.
func TestTrustMarkedSessionWithOtherAmountsNeedsReview(t *testing.T) {
	s := e2e.StartSink(t)
	deployment := e2e.Env(t, "DEPLOYMENT_ID")
	for _, c := range []struct {
		name           string
		cart           string
		unit, quantity int64
	}{
		// kit_cart as the worker writes it: product:quantity:unit_amount.
		{"a line priced below its cart", "mug:1:1200", 100, 1},
		{"a cart larger than what was paid", "mug:3:1200", 1200, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, secret := directSession(t, "Enamel mug", c.unit, c.quantity, map[string]string{
				"kit_order": "ord_" + randHex(8), "kit_cart": c.cart, "kit_flow": "checkout", "kit_deployment": deployment})
			payCheckout(t, secret, "jenny@example.com", "4242424242424242")
			// Stop waiting as soon as it is either in review or (wrongly) fulfilled.
			o := e2e.WaitOrder(t, cs, "needs_review or fulfilled", func(o *e2e.Order) bool { return o.State == "needs_review" || o.Fulfillment.Status != "none" })
			if o.ID != cs || o.State != "needs_review" || o.ReviewReason == "" || o.AmountReceived != c.unit*c.quantity || o.Fulfillment.Status != "none" {
				t.Errorf("order: %+v, want %s, needs_review with a reason, %d received, not fulfilled", o, cs, c.unit*c.quantity)
			}
			if !listed(t, "needs_review", cs) {
				t.Errorf("GET /admin/orders?state=needs_review does not list %s", cs)
			}
			deliveredEvents(t, []string{"checkout.session.completed", "payment_intent.succeeded"}, cs, getSandboxSession(t, cs).intentID())
			if n := s.Count(cs); n != 0 {
				t.Errorf("an order needing review was fulfilled %d times", n)
			}
			if o := e2e.GetOrder(t, cs); o.State != "needs_review" || o.Fulfillment.Status != "none" {
				t.Errorf("afterwards: %+v", o)
			}
		})
	}
	t.Run("a PaymentIntent for less than its cart", func(t *testing.T) {
		pi := directIntent(t, 100, map[string]string{"kit_order": "ord_" + randHex(8), "kit_cart": "mug:1:1200", "kit_flow": "confirm_intent", "kit_deployment": deployment})
		o := e2e.WaitOrder(t, pi, "needs_review or fulfilled", func(o *e2e.Order) bool { return o.State == "needs_review" || o.Fulfillment.Status != "none" })
		if o.ID != pi || o.State != "needs_review" || o.Flow != "confirm_intent" || o.ReviewReason == "" || o.AmountReceived != 100 || o.Fulfillment.Status != "none" {
			t.Errorf("order: %+v, want %s, needs_review with a reason, 100 received, not fulfilled", o, pi)
		}
		deliveredEvents(t, []string{"payment_intent.succeeded"}, pi)
		if n := s.Count(pi); n != 0 {
			t.Errorf("an order needing review was fulfilled %d times", n)
		}
	})
}

// ---------------------------------------------------------------------------
// Stock

// TestTrustStockRace: 50 shoppers at once for a product with 3 left: exactly
// 3 sessions, 47 refusals; expiring one of the sessions gives its unit to
// exactly one more shopper.
func TestTrustStockRace(t *testing.T) {
	e2e.StartSink(t)
	const shoppers = 50
	results := make([]e2e.PayResult, shoppers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i] = e2e.PayJSON(t, "/create-checkout-session", `{"items":[{"id":"last3","quantity":1}]}`)
		}(i)
	}
	close(start)
	wg.Wait()
	var sessions []string
	refused, other := 0, map[string]int{}
	for _, r := range results {
		switch {
		case r.Status == 200:
			id, _, _ := strings.Cut(r.Str("clientSecret"), "_secret_")
			sessions = append(sessions, id)
		case r.Status == 409 && errorCode(r) == "out_of_stock":
			refused++
		default:
			other[fmt.Sprintf("%d %s", r.Status, errorCode(r))]++
		}
	}
	t.Logf("50 shoppers for 3 units: %d sessions, %d out_of_stock, other %v", len(sessions), refused, other)
	if len(sessions) != 3 || refused != shoppers-3 {
		t.Fatalf("%d sessions and %d out_of_stock (other answers %v), want 3 and 47", len(sessions), refused, other)
	}
	wantOutOfStock(t, "last3", "after the race")

	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+sessions[0]+"/expire", "", ""); r.Status != 200 {
		t.Fatalf("expire: %d %s", r.Status, r.Body)
	}
	e2e.WaitOrder(t, sessions[0], "expired", func(o *e2e.Order) bool { return o.State == "expired" })
	next := waitCanBuy(t, "last3")
	if getSandboxSession(t, next).Status != "open" {
		t.Errorf("the next shopper's session %s is not open", next)
	}
	wantOutOfStock(t, "last3", "after the expired unit was sold again")
}

// TestTrustStockComesBack: a held unit comes back when its payment fails,
// when the operator cancels the authorization, and when the order is
// refunded in full (not in part).
func TestTrustStockComesBack(t *testing.T) {
	e2e.StartSink(t)
	t.Run("payment failed", func(t *testing.T) {
		email := "decline-" + randHex(4) + "@example.com"
		r := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"trust-decline1","quantity":1}],"confirmationToken":"`+
			e2e.ConfirmationToken(t, "pm_card_chargeDeclined")+`","email":"`+email+`"}`)
		if r.Status != 402 {
			t.Fatalf("declined confirm: %d %s", r.Status, r.Raw)
		}
		e2e.WaitOrder(t, declinedIntent(t, r, email), "failed", func(o *e2e.Order) bool { return o.State == "failed" })
		waitCanBuy(t, "trust-decline1")
		wantOutOfStock(t, "trust-decline1", "after it was bought again")
	})
	t.Run("operator cancel", func(t *testing.T) {
		r := e2e.PayJSON(t, "/create-confirm-intent", `{"items":[{"id":"trust-rental1","quantity":1}],"confirmationToken":"`+e2e.ConfirmationToken(t, "pm_card_visa")+`"}`)
		if r.Status != 200 || r.Str("status") != "requires_capture" {
			t.Fatalf("authorize: %d %s", r.Status, r.Raw)
		}
		pi := r.Str("id")
		e2e.WaitOrder(t, pi, "authorized", func(o *e2e.Order) bool { return o.State == "authorized" })
		wantOutOfStock(t, "trust-rental1", "while authorized")
		if c := e2e.AdminPost(t, "/admin/payment_intents/"+pi+"/cancel", `{}`); c.Status != 200 {
			t.Fatalf("cancel: %d %s", c.Status, c.Body)
		}
		e2e.WaitOrder(t, pi, "canceled", func(o *e2e.Order) bool { return o.State == "canceled" })
		waitCanBuy(t, "trust-rental1")
	})
	t.Run("full refund", func(t *testing.T) {
		o := paidCheckout(t, `[{"id":"trust-refund1","quantity":1}]`)
		wantOutOfStock(t, "trust-refund1", "once sold")
		if r := adminRefund(t, o.ID, `{"amount":500}`, ""); r.Status != 200 || refundOrder(t, r).State != "partially_refunded" {
			t.Fatalf("partial refund: %d %s", r.Status, r.Raw)
		}
		deliveredEvents(t, []string{"charge.refunded"}, sandboxObject(t, "/v1/payment_intents/"+o.PaymentIntentID).Str("latest_charge"))
		wantOutOfStock(t, "trust-refund1", "after a partial refund")
		if r := adminRefund(t, o.ID, "", ""); r.Status != 200 || refundOrder(t, r).State != "refunded" {
			t.Fatalf("refund the rest: %d %s", r.Status, r.Raw)
		}
		waitCanBuy(t, "trust-refund1")
	})
}

// ---------------------------------------------------------------------------
// Refunds and disputes

// TestTrustRefunds: the operator refunds part, then the rest; bad amounts
// are refused and refund nothing; the same Idempotency-Key refunds once;
// nothing is refundable after a full refund or before a payment.
func TestTrustRefunds(t *testing.T) {
	s := e2e.StartSink(t)
	o := paidCheckout(t, `[{"id":"mug","quantity":2},{"id":"stickers","quantity":1}]`)
	charge := sandboxObject(t, "/v1/payment_intents/"+o.PaymentIntentID).Str("latest_charge")
	if !strings.HasPrefix(charge, "ch_") {
		t.Fatalf("the order's PaymentIntent has no charge")
	}
	chargeRefunded := func() int64 { return sandboxObject(t, "/v1/charges/"+charge).Num("amount_refunded") }

	if r := e2e.PayDo(t, "POST", e2e.Env(t, "BASE_URL")+"/admin/orders/"+o.ID+"/refund", map[string]string{"Content-Type": "application/json"}, `{"amount":100}`); r.Status != 401 {
		t.Errorf("refund without the admin token: %d %s, want 401", r.Status, r.Raw)
	}
	for _, body := range []string{`{"amount":0}`, `{"amount":-100}`, `{"amount":3401}`} {
		if r := adminRefund(t, o.ID, body, ""); r.Status != 400 || errorCode(r) != "invalid_amount" {
			t.Errorf("refund %s of 2900 + 500 shipping: %d %s, want 400 invalid_amount", body, r.Status, r.Raw)
		}
	}
	for _, body := range []string{`{"amount":12.5}`, `{"amount":"100"}`} {
		if r := adminRefund(t, o.ID, body, ""); r.Status != 400 {
			t.Errorf("refund %s: %d %s, want 400", body, r.Status, r.Raw)
		}
	}
	if n := chargeRefunded(); n != 0 {
		t.Fatalf("refused refunds refunded %d at Stripe", n)
	}

	key := "refund-" + randHex(8)
	first := adminRefund(t, o.ID, `{"amount":1000}`, key)
	refundID := first.Str("refund", "id")
	if first.Status != 200 || !strings.HasPrefix(refundID, "re_") || refundAmount(first) != 1000 {
		t.Fatalf("partial refund: %d %s", first.Status, first.Raw)
	}
	if ro := refundOrder(t, first); ro.ID != o.ID || ro.State != "partially_refunded" || ro.AmountRefunded != 1000 {
		t.Errorf("order after the partial refund: %+v", ro)
	}
	again := adminRefund(t, o.ID, `{"amount":1000}`, key)
	if again.Status != 200 || again.Str("refund", "id") != refundID {
		t.Errorf("the same Idempotency-Key again: %d %s, want 200 with %s", again.Status, again.Raw, refundID)
	}
	deliveredEvents(t, []string{"charge.refunded"}, charge)
	if n := chargeRefunded(); n != 1000 {
		t.Errorf("refunded at Stripe: %d, want 1000 (one refund)", n)
	}
	if got := e2e.GetOrder(t, o.ID); got.State != "partially_refunded" || got.AmountRefunded != 1000 {
		t.Errorf("order after the retried partial refund and its events: %+v", got)
	}

	rest := adminRefund(t, o.ID, "", "")
	if rest.Status != 200 || refundAmount(rest) != 1900+shipping {
		t.Fatalf("refund the rest: %d %s", rest.Status, rest.Raw)
	}
	if ro := refundOrder(t, rest); ro.State != "refunded" || ro.AmountRefunded != 2900+shipping {
		t.Errorf("order after the full refund: %+v", ro)
	}
	for _, body := range []string{"", `{"amount":1}`} {
		if r := adminRefund(t, o.ID, body, ""); r.Status != 409 || errorCode(r) != "order_not_refundable" {
			t.Errorf("refund %q of a refunded order: %d %s, want 409 order_not_refundable", body, r.Status, r.Raw)
		}
	}
	deliveredEvents(t, []string{"charge.refunded"}, charge)
	if n := chargeRefunded(); n != 2900+shipping {
		t.Errorf("refunded at Stripe: %d, want 2900 + shipping", n)
	}
	got := e2e.WaitOrder(t, o.ID, "refunded", func(o *e2e.Order) bool { return o.State == "refunded" })
	if got.AmountRefunded != 2900+shipping || got.AmountReceived != 2900+shipping || got.Fulfillment.Attempts != 1 || s.Count(o.ID) != 1 {
		t.Errorf("refunded order: %+v, %d fulfillment calls, want 1", got, s.Count(o.ID))
	}

	// An order that was never paid has nothing to refund.
	_, unpaid := e2e.CreateSession(t, `{"items":[{"id":"mug","quantity":1}]}`)
	if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/sessions/"+unpaid+"/expire", "", ""); r.Status != 200 {
		t.Fatalf("expire: %d %s", r.Status, r.Body)
	}
	e2e.WaitOrder(t, unpaid, "expired", func(o *e2e.Order) bool { return o.State == "expired" })
	if r := adminRefund(t, unpaid, "", ""); r.Status != 409 || errorCode(r) != "order_not_refundable" {
		t.Errorf("refund of an expired order: %d %s, want 409 order_not_refundable", r.Status, r.Raw)
	}
}

// TestTrustDisputes: a dispute shows as disputed; won, the order goes back to
// where it was (here partially refunded); lost, it is dispute_lost. Neither
// fulfills the order again.
func TestTrustDisputes(t *testing.T) {
	s := e2e.StartSink(t)
	for _, c := range []struct {
		outcome, refundFirst, after string
	}{
		{"won", `{"amount":200}`, "partially_refunded"},
		{"lost", "", "dispute_lost"},
	} {
		t.Run(c.outcome, func(t *testing.T) {
			o := paidCheckout(t, `[{"id":"mug","quantity":1}]`)
			before := "paid"
			if c.refundFirst != "" {
				if r := adminRefund(t, o.ID, c.refundFirst, ""); r.Status != 200 {
					t.Fatalf("refund: %d %s", r.Status, r.Raw)
				}
				before = "partially_refunded"
				e2e.WaitOrder(t, o.ID, before, func(o *e2e.Order) bool { return o.State == before })
			}
			r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/payment_intents/"+o.PaymentIntentID+"/dispute", "application/json", `{"reason":"fraudulent"}`)
			var du struct{ ID string }
			e2e.Decode(t, r, &du)
			if r.Status != 200 || !strings.HasPrefix(du.ID, "du_") {
				t.Fatalf("open a dispute: %d %s", r.Status, r.Body)
			}
			e2e.WaitOrder(t, o.ID, "disputed", func(o *e2e.Order) bool { return o.State == "disputed" && o.Dispute == "open" })
			if r := e2e.Call(t, "POST", e2e.Env(t, "SANDBOX_URL")+"/_sandbox/disputes/"+du.ID+"/close", "application/json", `{"outcome":"`+c.outcome+`"}`); r.Status != 200 {
				t.Fatalf("close the dispute: %d %s", r.Status, r.Body)
			}
			got := e2e.WaitOrder(t, o.ID, c.after, func(o *e2e.Order) bool { return o.State == c.after && o.Dispute == c.outcome })
			if got.PaymentState != "paid" || got.AmountReceived != 1200+shipping {
				t.Errorf("after the dispute was %s: %+v", c.outcome, got)
			}
			deliveredEvents(t, []string{"charge.dispute.created", "charge.dispute.closed"}, du.ID)
			if got = e2e.GetOrder(t, o.ID); got.State != c.after || got.Fulfillment.Attempts != 1 || s.Count(o.ID) != 1 {
				t.Errorf("afterwards: %+v, %d fulfillment calls, want state %s and 1 call", got, s.Count(o.ID), c.after)
			}
		})
	}
}
