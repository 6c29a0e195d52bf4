// Package checkout is the embedded-Checkout suite: the worker built to wasm,
// in workerd under `wrangler dev`, against the Stripe sandbox (config,
// session lifecycle, catalog pricing, bad input, concurrency, the security
// headers of pages and API answers). Its TestMain starts the stack
// (scripts/e2e/internal/e2e); dist/ must be built.
//
//	go test -count=1 ./scripts/e2e/checkout                              # TinyGo build
//	WORKER_DIR=dist/worker-go go test -count=1 ./scripts/e2e/checkout    # standard Go build
package checkout
