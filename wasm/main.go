//go:build js && wasm

// Command wasm is the worker's entry point on Cloudflare Workers. It reads the
// environment, builds the worker.Server with a fetch-based HTTP client and
// registers it with instance.mjs (the bridge; its comment is the protocol's
// reference), which keeps this Go instance alive for many requests; main
// never returns.
package main

import (
	"database/sql"
	"net/http"
	"syscall/js"

	"checkoutkit/worker"
	"checkoutkit/worker/orders"

	"github.com/syumai/workers/cloudflare"
)

// d1Binding is the D1 database's binding name (wrangler.toml [[d1_databases]]).
const d1Binding = "DB"

func main() {
	// instance.mjs puts the bridge object at context.binding, next to context.env
	// where syumai/workers' cloudflare.Getenv reads the environment.
	runtime := js.Global().Get("context")
	bridge := runtime.Get("binding")
	client := &http.Client{Transport: newFetchTransport(bridge)}
	// Orders live in D1 when the binding exists; without it the worker
	// records none (POST /webhook and /admin/orders answer 503).
	var store orders.Store
	if env := runtime.Get("env"); env.Truthy() {
		if db := env.Get(d1Binding); db.Truthy() && db.Get("prepare").Type() == js.TypeFunction {
			store = orders.NewSQLStore(sql.OpenDB(&d1Connector{newD1Bridge(bridge, d1Binding)}))
		}
	}
	h := newHandler(cloudflare.Getenv, worker.Deps{HTTPClient: client, Store: store,
		RateLimits: rateLimiters(bridge, runtime.Get("env"))}, // ratelimit_js.go
		func(topic, message string) { bridge.Call("logOnce", topic, message) })
	s := &server{h: h}
	bridge.Set("serve", js.FuncOf(s.serveFunc))
	// allocatorNeverFrees (gc_*.go) tells the loader to retire this instance
	// once its memory passes a budget; scratch is where it writes the
	// messages it sends (message_js.go).
	bridge.Call("ready", allocatorNeverFrees, ptr(scratch), len(scratch))
	select {} // requests arrive as calls to serve
}
