package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// sink counts the fulfillment POSTs per order (Idempotency-Key), keeps the
// last order each carried, and can hold each for a while, which keeps a
// fulfillment claim busy during a race.
type Sink struct {
	mu    sync.Mutex
	hits  map[string]int
	last  map[string]Order
	delay time.Duration
}

var (
	theSink = &Sink{hits: map[string]int{}, last: map[string]Order{}}
	sinkURL string
	sinkMu  sync.Mutex
)

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Type  string
		Order Order
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || msg.Type != "order.fulfill" || msg.Order.ID == "" || msg.Order.ID != r.Header.Get("Idempotency-Key") {
		http.Error(w, "bad fulfillment call", 400)
		return
	}
	s.mu.Lock()
	s.hits[msg.Order.ID]++
	s.last[msg.Order.ID] = msg.Order
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sink) Count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[id]
}

// lastOrder is the order the last fulfillment call for id carried.
func (s *Sink) LastOrder(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.last[id]
	return o, ok
}

func (s *Sink) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// ServeSink serves the counter on a free port of 127.0.0.1 (once per test
// binary) and returns the URL the worker's FULFILLMENT_WEBHOOK_URL must be:
// a suite's TestMain calls it before starting the stack.
func ServeSink() (string, error) {
	sinkMu.Lock()
	defer sinkMu.Unlock()
	if sinkURL == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("the fulfillment counter cannot listen: %v", err)
		}
		go http.Serve(l, theSink)
		sinkURL = "http://" + l.Addr().String() + "/fulfill"
	}
	return sinkURL, nil
}

// StartSink returns the counter ServeSink serves.
func StartSink(t *testing.T) *Sink {
	t.Helper()
	sinkMu.Lock()
	defer sinkMu.Unlock()
	if sinkURL == "" {
		t.Fatal("the fulfillment counter is not served: the suite's TestMain must call e2e.ServeSink and give the worker its URL")
	}
	return theSink
}

func HookAdminToken(t *testing.T) string {
	t.Helper()
	tok := os.Getenv("ADMIN_TOKEN")
	if len(tok) < 32 {
		t.Fatal("ADMIN_TOKEN is not set: run the suite with go test, whose TestMain starts the stack and sets it")
	}
	return tok
}

// order is an order as GET /admin/orders/{key} shows it (and as the
// fulfillment call carries it). Its id is its paying Stripe object's: the
// Checkout Session (cs_...) or, in the confirm-intent flow, the
// PaymentIntent (pi_...); reference is the kit's ord_... .
type Order struct {
	ID               string      `json:"id"`
	Reference        string      `json:"reference"`
	Flow             string      `json:"flow"`
	State            string      `json:"state"`
	PaymentState     string      `json:"payment_state"`
	ReviewReason     string      `json:"review_reason"`
	SessionID        string      `json:"checkout_session"`
	PaymentIntentID  string      `json:"payment_intent"`
	Email            string      `json:"email"`
	Currency         string      `json:"currency"`
	AmountTotal      int64       `json:"amount_total"`
	AmountReceived   int64       `json:"amount_received"`
	AmountCapturable int64       `json:"amount_capturable"`
	AmountRefunded   int64       `json:"amount_refunded"`
	Dispute          string      `json:"dispute"`
	DeclineCode      string      `json:"decline_code"`
	Livemode         bool        `json:"livemode"`
	Lines            []OrderLine `json:"lines"`
	Details          struct {
		Shipping *struct {
			Name    string            `json:"name"`
			Address map[string]string `json:"address"`
			Rate    string            `json:"rate"`
			Amount  int64             `json:"amount"`
		} `json:"shipping"`
		Phone        string `json:"phone"`
		CustomFields []struct {
			Key, Value string
		} `json:"custom_fields"`
		AmountShipping int64  `json:"amount_shipping"`
		AmountTax      int64  `json:"amount_tax"`
		RecoveryURL    string `json:"recovery_url"`
	} `json:"details"`
	Fulfillment struct {
		Status      string `json:"status"`
		Attempts    int64  `json:"attempts"`
		FulfilledAt int64  `json:"fulfilled_at"`
	} `json:"fulfillment"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
}

type OrderLine struct {
	Product     string `json:"product"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
	AmountTotal int64  `json:"amount_total"`
}

func AdminGet(t *testing.T, path string) Response {
	t.Helper()
	req, _ := http.NewRequest("GET", Env(t, "BASE_URL")+path, nil)
	req.Header.Set("Authorization", "Bearer "+HookAdminToken(t))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return Response{res.StatusCode, b.Bytes(), res.Header}
}

func AdminPost(t *testing.T, path, body string) Response {
	t.Helper()
	req, _ := http.NewRequest("POST", Env(t, "BASE_URL")+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+HookAdminToken(t))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return Response{res.StatusCode, b.Bytes(), res.Header}
}

// getOrder returns the order recorded for key, nil if none.
func GetOrder(t *testing.T, key string) *Order {
	t.Helper()
	r := AdminGet(t, "/admin/orders/"+key)
	if r.Status == 404 {
		return nil
	}
	if r.Status != 200 {
		t.Fatalf("GET /admin/orders/%s: %d %s", key, r.Status, r.Body)
	}
	var o Order
	Decode(t, r, &o)
	return &o
}

// waitOrder polls until the order of key satisfies ok (15 s at most).
func WaitOrder(t *testing.T, key string, what string, ok func(*Order) bool) *Order {
	t.Helper()
	var o *Order
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if o = GetOrder(t, key); o != nil && ok(o) {
			return o
		}
	}
	t.Fatalf("order of %s never became %s: %+v", key, what, o)
	return nil
}

// d1 runs a read-only query on the stack's local D1 database and returns
// its rows.
func D1(t *testing.T, sql string) []map[string]any {
	t.Helper()
	dir := Env(t, "D1_PERSIST_DIR")
	out, err := exec.Command("wrangler", "d1", "execute", "DB", "--local", "--persist-to", dir, "--json", "--command", sql).Output()
	if err != nil {
		t.Fatalf("wrangler d1 execute %q: %v\n%s", sql, err, out)
	}
	var res []struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("wrangler d1 execute output: %v\n%s", err, out)
	}
	return res[0].Results
}

// dbSnapshot summarizes every table, so that a changed row shows.
func DBSnapshot(t *testing.T) string {
	rows := D1(t, `SELECT (SELECT COUNT(*) FROM orders) AS orders, (SELECT COALESCE(SUM(updated_at), 0) FROM orders) AS updated,
		(SELECT COALESCE(SUM(version), 0) FROM orders) AS versions, (SELECT COUNT(*) FROM webhook_events) AS events,
		(SELECT COALESCE(SUM(fulfillment_attempts), 0) FROM orders) AS attempts,
		(SELECT COUNT(*) FROM stock_holds) AS holds, (SELECT COALESCE(SUM(version), 0) FROM stock_holds) AS hold_versions`)
	return fmt.Sprint(rows)
}

func SignEvent(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func PostWebhook(t *testing.T, body []byte, sig string) Response {
	t.Helper()
	req, _ := http.NewRequest("POST", Env(t, "BASE_URL")+"/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return Response{res.StatusCode, b.Bytes(), res.Header}
}

// event is a Stripe event around obj, as the sandbox and Stripe send them.
func Event(id, typ string, obj any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2025-08-27.basil", "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "request": map[string]any{"id": nil, "idempotency_key": nil}, "type": typ,
		"data": map[string]any{"object": obj}})
	return b
}

// paidSession creates a session for items through the worker and pays it in
// the sandbox; method is "card" or "delayed".
func PaidSession(t *testing.T, items, method string) string {
	t.Helper()
	secret, id := CreateSession(t, `{"items":`+items+`}`)
	pay := PayBody(secret, "4242424242424242")
	if method == "delayed" {
		pay = PayBody(secret, "")
	}
	if r := Call(t, "POST", Env(t, "SANDBOX_URL")+"/_sandbox/checkout/pay", "application/json", pay); r.Status != 200 {
		t.Fatalf("pay: %d %s", r.Status, r.Body)
	}
	return id
}

type SandboxEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	State      string `json:"state"`
	LastStatus *int   `json:"last_status"`
	Attempts   []struct {
		StatusCode int `json:"status_code"`
	} `json:"attempts"`
}

func SandboxEvents(t *testing.T, objectID string) []SandboxEvent {
	t.Helper()
	var out struct{ Events []SandboxEvent }
	Decode(t, Call(t, "GET", Env(t, "SANDBOX_URL")+"/_sandbox/events?object_id="+objectID, "", ""), &out)
	return out.Events
}

// testGoods is what a shopper types in Checkout for the goods the demo
// catalog asks for: a US shipping address and a T-shirt size. The sandbox
// ignores what a session does not ask for.
const testGoods = `"shipping":{"name":"Jenny Rosen","line1":"354 Oyster Point Blvd","city":"South San Francisco","state":"CA",` +
	`"postal_code":"94080","country":"US"},"custom_fields":{"size":"M"}`

// PayBody is the stand-in's form for the session with client secret
// secret, paid with card ("" pays with a delayed method).
func PayBody(secret, card string) string { return PayBodyAs(secret, "jenny@example.com", card) }

// PayBodyAs is PayBody with the shopper's email.
func PayBodyAs(secret, email, card string) string {
	if card == "" {
		return fmt.Sprintf(`{"client_secret":%q,"email":%q,"method":"delayed",%s}`, secret, email, testGoods)
	}
	return fmt.Sprintf(`{"client_secret":%q,"email":%q,"card_number":%q,"exp":"12/34","cvc":"123",%s}`, secret, email, card, testGoods)
}
