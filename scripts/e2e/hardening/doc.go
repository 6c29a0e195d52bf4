// Package hardening is the bad-input suite (TestBadRequests) and the load
// test (TestLoad: LOAD_REQUESTS requests, default 2,000, at LOAD_CONCURRENCY,
// default 50), through wrangler dev and the Stripe sandbox. Its TestMain
// starts the stack; dist/ must be built.
//
//	go test -count=1 -run TestBadRequests ./scripts/e2e/hardening
//	LOAD_REQUESTS=10000 go test -count=1 -run '^TestLoad$' ./scripts/e2e/hardening   # make load
package hardening
