// Package faults is the Stripe-faults suite: failures injected into the
// sandbox under the worker's Stripe calls (see faults_test.go). Its TestMain
// starts the stack with STRIPE_TIMEOUT_MS=2000 and the fulfillment counter,
// and, when the whole suite ran and passed, checks that every kind of fault
// it declares was injected and hit. dist/ must be built.
//
//	go test -count=1 ./scripts/e2e/faults
//	go test -count=1 -run TestFaultsSessionStatus ./scripts/e2e/faults
package faults
