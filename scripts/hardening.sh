#!/usr/bin/env bash
# hardening.sh — runs the hardening suites of scripts/e2e (build tags
# integration+hardening: the bad-input suite and the load test) against a
# stack of their own (scripts/stack.sh: wrangler dev + the Stripe sandbox),
# configured with what they need: an ADMIN_TOKEN and a CUSTOMER_TOKEN_SECRET
# (random per run unless set), and a catalog in two currencies and two capture
# methods (scripts/e2e/testdata/two-currencies.json as CATALOG_JSON).
# Arguments go to `go test` (e.g. -run TestLoad). dist/ must be built.
#
#   scripts/hardening.sh -run TestBadRequests
#   LOAD_REQUESTS=10000 LOAD_CONCURRENCY=50 scripts/hardening.sh -run TestLoad   # make load
#
# Environment: as scripts/stack.sh (PORT, SANDBOX_PORT, INSPECTOR_PORT,
# WORKER_SCRIPT, STACK_LOG_DIR, ...); ADMIN_TOKEN, CUSTOMER_TOKEN_SECRET.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ADMIN_TOKEN=${ADMIN_TOKEN:-$(random_hex)}
CUSTOMER_TOKEN_SECRET=${CUSTOMER_TOKEN_SECRET:-$(random_hex)}
export ADMIN_TOKEN CUSTOMER_TOKEN_SECRET
# --var takes KEY:VALUE as one word: the catalog is written without spaces.
catalog=$(tr -d '\n' <scripts/e2e/testdata/two-currencies.json)
case $catalog in *[[:space:]]*)
	echo "hardening: scripts/e2e/testdata/two-currencies.json must contain no white space" >&2
	exit 1
	;;
esac
# stack.sh passes ADMIN_TOKEN on to the worker.
export WRANGLER_VARS="${WRANGLER_VARS:-} CUSTOMER_TOKEN_SECRET:$CUSTOMER_TOKEN_SECRET CATALOG_JSON:$catalog"
export ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-http://127.0.0.1:${EXAMPLES_PORT:-8790}}
export STRIPE_MODE=sandbox
unset D1_PERSIST_DIR # a fresh local D1 for the run
exec bash scripts/stack.sh go test -count=1 -v -tags integration,hardening "$@" ./scripts/e2e
