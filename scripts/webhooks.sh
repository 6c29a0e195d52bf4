#!/usr/bin/env bash
# webhooks.sh — runs the webhook and order tests of scripts/e2e (build tags
# integration+webhooks) against a stack of their own (scripts/stack.sh:
# wrangler dev with a fresh local D1 database + the Stripe sandbox, which signs
# and delivers its events to /webhook), configured with what they need: an
# ADMIN_TOKEN for /admin/orders, and FULFILLMENT_WEBHOOK_URL pointing at the
# counter the tests serve on FULFILLMENT_SINK_PORT, which makes every
# fulfillment action visible, a DEPLOYMENT_ID (the kit_deployment marker the
# worker puts on what it creates; exported for the tests), and a catalog of
# the bundled products plus the stocked ones of
# scripts/e2e/testdata/trust-products.json (the TestTrust... tests). Arguments
# go to `go test`. dist/ must be built.
#
#   scripts/webhooks.sh
#   scripts/webhooks.sh -run TestHooksConcurrentDeliveries
#
# Environment: as scripts/stack.sh (PORT, SANDBOX_PORT, INSPECTOR_PORT,
# WORKER_SCRIPT, STACK_LOG_DIR, ...); FULFILLMENT_SINK_PORT (default PORT+4).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

PORT=${PORT:-8787}
export PORT
export FULFILLMENT_SINK_PORT=${FULFILLMENT_SINK_PORT:-$((PORT + 4))}
if [ -z "${ADMIN_TOKEN:-}" ]; then
	ADMIN_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
fi
export ADMIN_TOKEN
export DEPLOYMENT_ID=${DEPLOYMENT_ID:-e2e-webhooks}
export WRANGLER_VARS="${WRANGLER_VARS:-} FULFILLMENT_WEBHOOK_URL:http://127.0.0.1:$FULFILLMENT_SINK_PORT/fulfill DEPLOYMENT_ID:$DEPLOYMENT_ID"
# The bundled catalog (the webhook tests buy its products) plus the test products.
STACK_CATALOG_JSON=$(node -e '
const fs = require("fs");
const c = JSON.parse(fs.readFileSync("worker/catalog.json", "utf8"));
c.products.push(...JSON.parse(fs.readFileSync("scripts/e2e/testdata/trust-products.json", "utf8")));
process.stdout.write(JSON.stringify(c));')
export STACK_CATALOG_JSON
export STRIPE_MODE=sandbox
unset D1_PERSIST_DIR # a fresh database for the run
# Only this suite's tests (TestHooks..., TestTrust...), unless arguments choose.
[ $# -gt 0 ] || set -- -run '^(TestHooks|TestTrust)'
exec bash scripts/stack.sh go test -count=1 -v -tags integration,webhooks "$@" ./scripts/e2e
