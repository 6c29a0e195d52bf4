//go:build js && wasm

// Command wasm is the worker's entry point on Cloudflare Workers. It reads the
// environment, builds the worker.Server with a fetch-based HTTP client and
// registers it with instance.mjs (the bridge; its comment is the protocol's
// reference), which keeps this Go instance alive for many requests; main
// never returns.
package main

import (
	"database/sql"
	"syscall/js"

	"checkoutkit/worker"
	"checkoutkit/worker/orders"
)

// d1Binding is the D1 database's binding name (wrangler.toml [[d1_databases]]).
const d1Binding = "DB"

func main() {
	// instance.mjs puts the bridge object at context.binding, next to
	// context.env, the Worker's environment.
	runtime := js.Global().Get("context")
	bridge := runtime.Get("binding")
	fetch := newFetchTransport(bridge)
	// Orders live in D1 when the binding exists; without it the worker
	// records none (POST /webhook and /admin/orders answer 503).
	var store orders.Store
	if env := runtime.Get("env"); env.Truthy() {
		if db := env.Get(d1Binding); db.Truthy() && db.Get("prepare").Type() == js.TypeFunction {
			store = orders.NewSQLStore(sql.OpenDB(&d1Connector{newD1Bridge(bridge, d1Binding)}))
		}
	}
	h := newHandler(getenv(runtime.Get("env")), worker.Deps{Transport: fetch, Store: store,
		RateLimits: rateLimiters(bridge, runtime.Get("env"))}, // ratelimit_js.go
		func(topic, message string) { bridge.Call("logOnce", topic, message) })
	s := &server{h: h, reply: bridge.Get("reply")}
	bridge.Set("serve", js.FuncOf(s.serveFunc))
	// allocatorNeverFrees (gc_*.go) tells the loader to retire this instance
	// once its memory passes a budget; scratch is where it writes the
	// messages it sends (message_js.go).
	bridge.Call("ready", allocatorNeverFrees, ptr(scratch), len(scratch))
	select {} // requests arrive as calls to serve
}

// getenv reads the Worker's environment variables and secrets: a string as
// it is, a number or boolean (a wrangler.toml var written without quotes)
// as JavaScript prints it, anything else (a binding, a table) as "". It
// replaces syumai/workers' cloudflare.Getenv, the same lookup, whose package
// also links its KV, R2 and fetch wrappers into the worker (and which gave
// "<number: 5>" for a number).
func getenv(env js.Value) func(string) string {
	return func(name string) string {
		if !env.Truthy() {
			return ""
		}
		switch v := env.Get(name); v.Type() {
		case js.TypeString:
			return v.String()
		case js.TypeNumber, js.TypeBoolean:
			return js.Global().Call("String", v).String()
		}
		return ""
	}
}
