#!/usr/bin/env bash
# faults.sh — runs the Stripe-faults suite (scripts/e2e/faults_test.go, build
# tags integration+faults) against a stack of its own (scripts/stack.sh:
# wrangler dev + the Stripe sandbox), configured with what it needs: an
# ADMIN_TOKEN (the operator's capture is one of the endpoints faulted) and a
# short STRIPE_TIMEOUT_MS, so that a slow Stripe times out in 2 s instead of
# 15. Arguments go to `go test` (e.g. -run TestFaultsSessionStatus). dist/ must
# be built.
#
# Environment: as scripts/stack.sh (PORT, SANDBOX_PORT, INSPECTOR_PORT,
# WORKER_SCRIPT, STACK_LOG_DIR, ...); ADMIN_TOKEN (default: random per run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

if [ -z "${ADMIN_TOKEN:-}" ]; then
	ADMIN_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
fi
export ADMIN_TOKEN # stack.sh passes it to the worker
PORT=${PORT:-8787}
export PORT
export FULFILLMENT_SINK_PORT=${FULFILLMENT_SINK_PORT:-$((PORT + 4))}
export WRANGLER_VARS="${WRANGLER_VARS:-} STRIPE_TIMEOUT_MS:2000 FULFILLMENT_WEBHOOK_URL:http://127.0.0.1:$FULFILLMENT_SINK_PORT/fulfill"
export STRIPE_MODE=sandbox
unset D1_PERSIST_DIR # a fresh database for the run
exec bash scripts/stack.sh go test -count=1 -v -tags integration,faults,webhooks -run '^TestFaults' "$@" ./scripts/e2e
