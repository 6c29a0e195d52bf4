//go:build js && wasm

// Command wasm is the worker's entry point on Cloudflare Workers. It reads the
// environment, builds the worker.Server with a fetch-based HTTP client and
// registers it with loader.mjs, which keeps this Go instance alive for many
// requests; main never returns.
package main

import (
	"net/http"
	"syscall/js"

	"github.com/syumai/workers/cloudflare"
)

func main() {
	// loader.mjs puts the bridge object at context.binding, next to context.env
	// where syumai/workers' cloudflare.Getenv reads the environment.
	bridge := js.Global().Get("context").Get("binding")
	client := &http.Client{Transport: newFetchTransport(bridge)}
	s := &server{h: newHandler(cloudflare.Getenv, client)}
	bridge.Set("serve", js.FuncOf(s.serveFunc))
	bridge.Call("ready")
	select {} // requests arrive as calls to serve
}
