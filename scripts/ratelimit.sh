#!/usr/bin/env bash
# ratelimit.sh — runs the rate-limit suite of scripts/e2e (build tags
# integration+ratelimit) on two stacks of its own (scripts/stack.sh: wrangler
# dev + the Stripe sandbox): one whose [[ratelimits]] bindings allow
# RATE_LIMIT requests per period (default 5; the periods are wrangler.toml's),
# then one without the bindings (RATE_LIMIT=off). Before them, the bridge's
# own tests in Node (scripts/e2e/ratelimit_instance.test.mjs). Arguments go
# to `go test`. dist/ must be built.
#
#   scripts/ratelimit.sh
#   WORKER_SCRIPT=dist/worker-go/worker.mjs STACK_LOG_DIR=dist/test-logs/go-ratelimit scripts/ratelimit.sh
#
# Environment: as scripts/stack.sh (PORT, SANDBOX_PORT, INSPECTOR_PORT,
# WORKER_SCRIPT, STACK_LOG_DIR, ...). With STACK_LOG_DIR, each stack logs to
# a directory of its own under it (limited/, off/), and the suite checks that
# the worker without bindings says so once.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

limit=${RATE_LIMIT:-5}
[ "$limit" != off ] || { echo "ratelimit: RATE_LIMIT must be a number (the suite also runs a stack without bindings itself)" >&2; exit 1; }
export STRIPE_MODE=sandbox
export ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-http://127.0.0.1:${EXAMPLES_PORT:-8790}}
unset D1_PERSIST_DIR # a fresh local D1 for each stack
# First the bridge alone, in Node, with stand-ins for the bindings and Stripe.
WORKER_DIR=$(dirname "${WORKER_SCRIPT:-dist/worker/worker.mjs}") node --test scripts/e2e/ratelimit_instance.test.mjs
logs=${STACK_LOG_DIR:-}
for mode in "$limit" off; do
	name=limited
	[ "$mode" = off ] && name=off
	if [ -n "$logs" ]; then
		rm -rf "${logs:?}/$name"
		export STACK_LOG_DIR=$logs/$name
	fi
	RATE_LIMIT=$mode bash scripts/stack.sh go test -count=1 -v -tags integration,ratelimit -run '^TestRateLimit' "$@" ./scripts/e2e
done
