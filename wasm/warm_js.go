//go:build js && wasm

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall/js"

	"checkoutkit/worker"
)

// Warming this instance's own caches, in global scope.
//
// The first request a Go instance serves builds what Go caches per process:
// encoding/json's field lists (sorted by reflection), stripe-go's form
// encoders, sync.Once values. Measured in Node, that is most of what a
// create-session costs the first time on an instance whose code V8 has
// already compiled (warmUp's throw-away instance compiles the code, but its
// caches die with it). instance.mjs's startEarly calls bridge.warm(session) on the
// instance it started in global scope, which serves warmRequests through a
// second handler: same code and types, but its Stripe calls get a canned
// answer (warmTransport) and it has no order store, no rate limiters and no
// logging, so nothing leaves the instance and the real handler's state is
// untouched. Nothing here may ask for randomness (global scope refuses it,
// and the instance would die and be replaced at the first request): the
// carts carry an idempotency key, so the order reference is a hash rather
// than crypto/rand (scripts/e2e/instance.test.mjs checks that none is asked for). Maps made here get the runtime's unseeded hash seeds,
// like every map made at start-up (scripts/tinygo-patches/08-lazy-rand-seed.patch
// states the bound); their keys are types and canned data.

func init() {
	if bridge := js.Global().Get("context").Get("binding"); bridge.Truthy() {
		// warm(session): session is instance.mjs's WARM_SESSION.
		bridge.Set("warm", js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) > 0 && args[0].Type() == js.TypeString {
				warm(args[0].String())
			}
			return nil
		}))
	}
}

// warmTransport answers every Stripe call with session (instance.mjs's
// WARM_SESSION, also the canned answer of its throw-away warmUp instance).
type warmTransport struct{ session string }

func (t warmTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_warmup"}},
		Body:          io.NopCloser(strings.NewReader(t.session)),
		ContentLength: int64(len(t.session)),
		Request:       r,
	}, nil
}

func warm(session string) {
	fromEnv := getenv(js.Global().Get("context").Get("env")) // main.go
	env := func(name string) string {
		switch name {
		case "STRIPE_SECRET_KEY":
			return "sk_test_warmup"
		case "STRIPE_API_BASE":
			return "https://warm-up.invalid"
		}
		return fromEnv(name)
	}
	h := newHandler(env, worker.Deps{Transport: warmTransport{session}}, func(string, string) {})
	serve := func(method, path, body string) []byte {
		u, _ := url.Parse("https://warm-up.invalid" + path)
		r := &bridgeRequest{method: method, url: u.String(), header: http.Header{}}
		if method == "POST" {
			// Always JSON: a POST without it is an HTML form.
			r.header.Set("Content-Type", "application/json")
		}
		if body != "" {
			r.body = []byte(body)
		}
		req, err := r.toHTTP()
		if err != nil {
			return nil
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		return rec.body.Bytes()
	}
	var config struct {
		Catalog []struct {
			ID string `json:"id"`
		} `json:"catalog"`
	}
	item := "warmup"
	if json.Unmarshal(serve("GET", "/config", ""), &config) == nil && len(config.Catalog) > 0 {
		item = config.Catalog[0].ID
	}
	cart, _ := json.Marshal(map[string]any{"items": []map[string]any{{"id": item, "quantity": 1}}, "idempotencyKey": "warmup-warmup-warmup"})
	// (Never an empty body: that means the default item, without a key.)
	serve("POST", "/create-checkout-session", `{"items":[]}`)
	serve("POST", "/create-checkout-session", string(cart))
	intent := bytes.Replace(cart, []byte(`"items"`), []byte(`"confirmationToken":"ctoken_warmup","items"`), 1)
	serve("POST", "/create-confirm-intent", string(intent))
	serve("GET", "/session-status?session_id=cs_test_warmup", "")
}
