package worker

import (
	"checkoutkit/worker/orders"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

func seedOrders(t *testing.T, st orders.Store, n int) {
	t.Helper()
	states := []orders.State{orders.Paid, orders.AwaitingPayment, orders.Expired}
	for i := 0; i < n; i++ {
		o := &orders.Order{ID: fmt.Sprintf("cs_test_%d", i), Ref: fmt.Sprintf("ord_%016x", i), Flow: FlowCheckout, Payment: states[i%3], SessionID: fmt.Sprintf("cs_test_%d", i),
			Currency: "usd", AmountTotal: int64(100 * (i + 1)), Created: 1000 + int64(i/2), Updated: 1000 + int64(i/2),
			Lines: []orders.Line{{Product: "plain", Description: "Plain", Quantity: int64(i + 1), UnitAmount: 100, AmountTotal: int64(100 * (i + 1))}}}
		if o.Payment == orders.Paid {
			o.AmountReceived = o.AmountTotal
		}
		o.Check()
		o.Derive()
		if ok, err := st.Create(context.Background(), o); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
}

func listOrders(t *testing.T, h http.Handler, query string) orderList {
	t.Helper()
	rec := adminCall(t, h, "GET", "/admin/orders"+query, "")
	if rec.Code != 200 {
		t.Fatalf("GET /admin/orders%s: %d %s", query, rec.Code, rec.Body)
	}
	var l orderList
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAdminOrdersPagesNewestFirst(t *testing.T) {
	e := newHookServer(t)
	seedOrders(t, e.store, 7)
	var ids []string
	cursor := ""
	for page := 0; page < 5; page++ {
		q := "?limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		l := listOrders(t, e.srv, q)
		for _, o := range l.Data {
			ids = append(ids, o.ID)
			if len(o.Lines) != 1 || o.Lines[0].Product != "plain" {
				t.Errorf("order %s lines: %+v", o.ID, o.Lines)
			}
		}
		if !l.HasMore {
			if l.NextCursor != "" {
				t.Error("next_cursor without has_more")
			}
			break
		}
		cursor = l.NextCursor
	}
	want := "cs_test_6 cs_test_5 cs_test_4 cs_test_3 cs_test_2 cs_test_1 cs_test_0"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("pages:\n got %s\nwant %s", got, want)
	}
	l := listOrders(t, e.srv, "?state=paid")
	if len(l.Data) != 3 || l.HasMore {
		t.Fatalf("state=paid: %+v", l)
	}
	for _, o := range l.Data {
		if o.State != orders.Paid {
			t.Errorf("state filter let %s through", o.State)
		}
	}
	if l := listOrders(t, e.srv, ""); len(l.Data) != 7 || l.Object != "list" {
		t.Errorf("default list: %d orders", len(l.Data))
	}
	if l := listOrders(t, newHookServer(t).srv, ""); l.Data == nil || len(l.Data) != 0 {
		t.Errorf("empty list: %+v", l)
	}
}

func TestAdminOrderByAnyID(t *testing.T) {
	e := newHookServer(t)
	seedOrders(t, e.store, 2)
	for _, key := range []string{"ord_0000000000000001", "cs_test_1"} {
		rec := adminCall(t, e.srv, "GET", "/admin/orders/"+key, "")
		var o orders.Order
		if err := json.Unmarshal(rec.Body.Bytes(), &o); rec.Code != 200 || err != nil || o.ID != "cs_test_1" || o.Ref != "ord_0000000000000001" || o.SessionID != "cs_test_1" || len(o.Lines) != 1 {
			t.Errorf("GET /admin/orders/%s: %d %s", key, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "claim") {
			t.Errorf("the claim token is shown: %s", rec.Body)
		}
	}
	checkError(t, adminCall(t, e.srv, "GET", "/admin/orders/ord_00000000000000ff", ""), 404, "order_not_found", "")
	checkError(t, adminCall(t, e.srv, "GET", "/admin/orders/cus_1", ""), 400, "invalid_order_id", "id")
}

func TestAdminOrdersBadRequests(t *testing.T) {
	e := newHookServer(t)
	for _, c := range []struct{ query, code, param string }{
		{"?state=shipped", "invalid_state", "state"},
		{"?limit=0", "invalid_limit", "limit"},
		{"?limit=101", "invalid_limit", "limit"},
		{"?limit=ten", "invalid_limit", "limit"},
		{"?cursor=***", "invalid_cursor", "cursor"},
		{"?cursor=MTAwMDpjdXNfMQ", "invalid_cursor", "cursor"}, // "1000:cus_1"
		{"?cursor=bm90LWEtY3Vyc29y", "invalid_cursor", "cursor"},
		{"?state=paid&state=failed", "invalid_parameter", "state"},
		{"?sort=asc", "unknown_parameter", "sort"},
	} {
		checkError(t, adminCall(t, e.srv, "GET", "/admin/orders"+c.query, ""), 400, c.code, c.param)
	}
	// The token is required; without a store the endpoints say so.
	checkError(t, send(t, e.srv, "GET", "/admin/orders", nil, ""), 401, "missing_token", "")
	checkError(t, send(t, e.srv, "GET", "/admin/orders/ord_0000000000000001", map[string]string{"Authorization": "Bearer wrong"}, ""), 401, "invalid_token", "")
	e.srv = e.srv.withDeps(func(d *Deps) { d.Store = nil })
	checkError(t, adminCall(t, e.srv, "GET", "/admin/orders", ""), 503, "orders_unavailable", "")
	checkError(t, adminCall(t, e.srv, "GET", "/admin/orders/ord_0000000000000001", ""), 503, "orders_unavailable", "")
}

func TestStockHeldByLiveOrders(t *testing.T) {
	// 3 in stock; another shopper's order holds 1.
	e := newHookServer(t)
	ctx := context.Background()
	if r, err := e.store.Reserve(ctx, "ord_other", []orders.StockLine{{Product: "limited", Quantity: 1, Stock: 3}}, time.Now().Add(time.Hour), time.Now()); r != orders.Reserved || err != nil {
		t.Fatal(r, err)
	}
	rec := postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":3}]}`)
	checkError(t, rec, 409, "out_of_stock", "items[0].quantity")
	if !strings.Contains(rec.Body.String(), "only 2 of Limited left") {
		t.Errorf("message: %s", rec.Body)
	}
	if rec := postJSON(t, e.srv, "/create-checkout-session", `{"items":[{"id":"limited","quantity":2}]}`); rec.Code != 200 {
		t.Errorf("2 of 2 left: %d %s", rec.Code, rec.Body)
	}
	if n, _ := e.store.Held(ctx, "limited", time.Now()); n != 3 {
		t.Errorf("held %d after the second session, want 3", n)
	}
	checkError(t, postJSON(t, e.srv, "/create-confirm-intent", `{"items":[{"id":"limited"}],"confirmationToken":"ctoken_1"}`), 409, "out_of_stock", "items[0].quantity")
}

func TestURLFulfiller(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	status := 200
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		st := status
		mu.Unlock()
		w.WriteHeader(st)
	}))
	defer ts.Close()
	u := &URLFulfiller{URL: ts.URL + "/orders", Secret: "whsec_shop", Transport: ts.Client().Transport}
	o := &orders.Order{ID: "ord_0000000000000001", State: orders.Paid, Email: "jenny@example.com", Lines: []orders.Line{{Product: "plain", Quantity: 1}}}
	if err := u.Fulfill(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	r, body := got[0], bodies[0]
	if r.Method != "POST" || r.URL.Path != "/orders" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") != o.ID {
		t.Errorf("request: %s %s %v", r.Method, r.URL, r.Header)
	}
	if err := webhook.ValidatePayloadWithTolerance(body, r.Header.Get("Kit-Signature"), "whsec_shop", time.Minute); err != nil {
		t.Errorf("Kit-Signature does not verify: %v", err)
	}
	var msg struct {
		Type  string
		Order orders.Order
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type != "order.fulfill" || msg.Order.ID != o.ID || msg.Order.Email != o.Email || len(msg.Order.Lines) != 1 {
		t.Errorf("body: %s", body)
	}
	status = 500
	if err := u.Fulfill(context.Background(), o); err == nil {
		t.Error("a 500 answer counted as success")
	}
	// Without a secret: no signature header.
	status = 204
	if err := (&URLFulfiller{URL: ts.URL, Transport: ts.Client().Transport}).Fulfill(context.Background(), o); err != nil || got[2].Header.Get("Kit-Signature") != "" {
		t.Errorf("unsigned: %v %v", err, got[2].Header)
	}
}

func TestDefaultFulfillerCallsTheConfiguredURL(t *testing.T) {
	hits := make(chan string, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.Header.Get("Idempotency-Key")
	}))
	defer ts.Close()
	srv, stub := newStubServer(t, map[string]string{"STRIPE_WEBHOOK_SECRET": testWebhookSecret, "CATALOG_JSON": testCatalog, "FULFILLMENT_WEBHOOK_URL": ts.URL + "/hook"})
	srv = srv.withDeps(func(d *Deps) { d.Store = orders.NewMemStore() })
	meta := withMeta("kit_order", "ord_00000000000000u1", "kit_flow", FlowConfirmIntent)
	body := eventJSON("evt_u", "payment_intent.succeeded", intentObject("pi_u", "succeeded", "automatic", meta))
	rec := send(t, srv, "POST", "/webhook", map[string]string{"Stripe-Signature": sign(body, testWebhookSecret, time.Now())}, body)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	select {
	case id := <-hits:
		if id != "pi_u" {
			t.Errorf("Idempotency-Key %q", id)
		}
	default:
		t.Fatal("FULFILLMENT_WEBHOOK_URL was not called")
	}
	if len(stub.Calls()) != 0 {
		t.Error("unexpected Stripe calls")
	}
}

func TestWebhookSettings(t *testing.T) {
	for env, want := range map[string]string{
		"STRIPE_WEBHOOK_SECRET=sk_test_unit":      "STRIPE_WEBHOOK_SECRET must be a webhook signing secret",
		"FULFILLMENT_WEBHOOK_URL=/hook":           "FULFILLMENT_WEBHOOK_URL",
		"FULFILLMENT_WEBHOOK_URL=ftp://x.example": "FULFILLMENT_WEBHOOK_URL",
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := LoadConfig(func(name string) string {
			switch name {
			case "STRIPE_SECRET_KEY":
				return "sk_test_unit"
			case k:
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "sk_test_unit") {
			t.Errorf("%s: %v", env, err)
		}
	}
}
