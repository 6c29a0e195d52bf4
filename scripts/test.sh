#!/usr/bin/env bash
# test.sh — everything `make test` runs, in order, on a fresh machine:
# tools, formatting and vet, host tests, stripe-mock contract tests, both wasm
# builds, then for each build the integration test and the browser test
# against `wrangler dev` + the local Stripe sandbox (started and stopped by
# scripts/stack.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
. scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
[ -z "$unformatted" ] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
go vet ./...
go vet -tags contract ./worker
go vet -tags integration ./scripts/e2e
go vet -tags integration,hardening ./scripts/e2e
go vet -tags integration,webhooks ./scripts/e2e
go vet -tags integration,faults,webhooks ./scripts/e2e
go vet -tags integration,ratelimit ./scripts/e2e
GOOS=js GOARCH=wasm go vet ./wasm

step "TypeScript type check (tsc --noEmit, strict)"
tsc --noEmit -p site

step "host tests (handlers, sandbox, site build, the loader's body reading in Node)"
go test -count=1 ./...

step "fuzzing: every fuzz target for ${TEST_FUZZTIME:-10s} (make fuzz runs longer)"
FUZZTIME=${TEST_FUZZTIME:-10s} bash scripts/fuzz.sh

step "contract tests: every request shape validated by stripe-mock v0.195.0"
go test -count=1 -tags contract ./worker

step "build: site"
go run ./build site
step "build: worker with the standard Go toolchain (GOOS=js GOARCH=wasm)"
go run ./build worker -compiler go -worker-out dist/worker-go
step "build: worker with TinyGo"
go run ./build worker -compiler tinygo -worker-out dist/worker

export PORT=${TEST_PORT:-18787} SANDBOX_PORT=${TEST_SANDBOX_PORT:-18789} INSPECTOR_PORT=${TEST_INSPECTOR_PORT:-19229}
# The embed test serves its "other site" from this origin, which the worker allows.
export EMBED_SITE_ORIGIN=http://127.0.0.1:${TEST_EMBED_SITE_PORT:-18790}
export ALLOWED_ORIGINS=$EMBED_SITE_ORIGIN
logs=${TEST_LOG_DIR:-dist/test-logs}
# This run's secrets, random, so that the secret scan at the end can look for
# their values in everything the run wrote (stack.sh gives the webhook secret
# and the admin token to every stack; the customer-token secret goes to the
# hardening stacks).
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export STRIPE_WEBHOOK_SECRET=whsec_$(random_hex) ADMIN_TOKEN=$(random_hex)
run_customer_token_secret=$(random_hex)
for sub in go tinygo go-webhooks tinygo-webhooks go-hardening tinygo-hardening go-ratelimit tinygo-ratelimit; do rm -rf "${logs:?}/$sub"; done
for compiler in go tinygo; do
	dir=dist/worker
	[ "$compiler" = go ] && dir=dist/worker-go
	step "integration, browser, embed and instance tests: $compiler build in wrangler dev with the Stripe sandbox"
	STRIPE_MODE=sandbox WORKER_SCRIPT=$dir/worker.mjs WORKER_DIR=$dir STACK_LOG_DIR=$logs/$compiler \
		bash scripts/stack.sh bash -c 'go test -count=1 -v -tags integration ./scripts/e2e &&
			node --test scripts/e2e/browser.test.mjs &&
			node --test scripts/e2e/payments.test.mjs &&
			node --test scripts/e2e/embed.test.mjs &&
			node --test scripts/e2e/instance.test.mjs'
	step "webhooks and orders: $compiler build in wrangler dev with local D1 and the sandbox delivering signed events"
	WORKER_SCRIPT=$dir/worker.mjs STACK_LOG_DIR=$logs/$compiler-webhooks bash scripts/webhooks.sh
	WORKER_DIR=$dir node --test scripts/e2e/webhook_instance.test.mjs
	step "bad-input suite and load (${TEST_LOAD_REQUESTS:-2000} requests): $compiler build in wrangler dev with the Stripe sandbox"
	CUSTOMER_TOKEN_SECRET=$run_customer_token_secret \
		WORKER_SCRIPT=$dir/worker.mjs STACK_LOG_DIR=$logs/$compiler-hardening LOAD_REQUESTS=${TEST_LOAD_REQUESTS:-2000} \
		bash scripts/hardening.sh -run '^(TestBadRequests|TestLoad)$'
	step "Stripe-faults suite: $compiler build in wrangler dev with the Stripe sandbox (faults injected)"
	WORKER_SCRIPT=$dir/worker.mjs STACK_LOG_DIR=$logs/$compiler-faults \
		bash scripts/faults.sh
	step "rate limits: $compiler build in wrangler dev with small [[ratelimits]] limits, then without the bindings"
	WORKER_SCRIPT=$dir/worker.mjs STACK_LOG_DIR=$logs/$compiler-ratelimit bash scripts/ratelimit.sh
done
step "secret scan: the built site and workers, and every log of this run"
CUSTOMER_TOKEN_SECRET=$run_customer_token_secret \
	go run ./scripts/secretscan -env ADMIN_TOKEN,CUSTOMER_TOKEN_SECRET,STRIPE_WEBHOOK_SECRET dist/site dist/worker dist/worker-go "$logs"

step "all tests passed"
