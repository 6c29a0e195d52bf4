//go:build js && wasm

// Command wasm is the worker's entry point on Cloudflare Workers: it reads the
// environment, builds the worker.Server with a fetch-based HTTP client and hands
// it to syumai/workers. The JavaScript side (loader.mjs) keeps this instance
// alive for many requests, so main never returns.
package main

import (
	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/fetch"

	"checkoutkit/worker"
)

func main() {
	workers.ServeNonBlock(newHandler(cloudflare.Getenv, worker.StripeHTTPClient(fetch.NewClient().HTTPClient(fetch.RedirectModeFollow).Transport)))
	workers.Ready()
	// Block forever: requests arrive as callbacks from loader.mjs.
	select {}
}
