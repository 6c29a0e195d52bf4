// Package payments is the payments suite: the confirm-intent flow, the
// PaymentIntent lifecycle driven by the operator API, approval refusals that
// create nothing, and the Checkout options, through wrangler dev and the
// Stripe sandbox. Its TestMain starts the stack; dist/ must be built.
//
//	go test -count=1 ./scripts/e2e/payments
package payments
