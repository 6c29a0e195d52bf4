// Package webhooks is the webhooks-and-orders suite: signed events from the
// sandbox, orders in the local D1 database read through the operator API and
// `wrangler d1 execute`, fulfillment, stock, refunds and disputes, and what
// makes an order trustworthy (TestTrust...). Its TestMain starts the stack;
// dist/ must be built.
//
//	go test -count=1 ./scripts/e2e/webhooks
//	go test -count=1 -run TestHooksConcurrentDeliveries ./scripts/e2e/webhooks
package webhooks
