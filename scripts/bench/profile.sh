#!/usr/bin/env bash
# profile.sh: V8 CPU profiles of one worker build under `wrangler dev` +
# stripe-mock, as `make bench` runs it, through wrangler's inspector
# (scripts/bench/profile.mjs): the first request on a fresh isolate, then
# create-session and session-status at steady state.
#
#   scripts/bench/profile.sh dist/bench/tinygo/worker.mjs [out-dir]
#   scripts/bench/profile.sh scripts/bench/reference/worker.mjs
#
# Settings: N (300 requests per steady-state profile), C (1), PORT, INSPECTOR
# (free ports by default). Profiles go to out-dir (default
# dist/bench/profiles/<name>), summaries to stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
entry=$1
name=$(basename "$(dirname "$entry")")
out=${2:-dist/bench/profiles/$name}
N=${N:-300}
C=${C:-1}
mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=${PORT:-$(free_port)}
INSPECTOR=${INSPECTOR:-$(free_port)}
MOCK_PORT=$(free_port)
tmp=$(mktemp -d)
config=.wrangler-profile-$$.toml
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	rm -rf "$tmp" "$config"
}
trap cleanup EXIT
sed -E 's/^(simple[[:space:]]*=[[:space:]]*\{[[:space:]]*limit[[:space:]]*=[[:space:]]*)[0-9]+/\11000000/' wrangler.toml >"$config"
setsid "$STRIPE_MOCK_BIN" -http-port "$MOCK_PORT" >"$tmp/mock.log" 2>&1 &
pids+=($!)
CI=1 wrangler d1 migrations apply DB --local --persist-to "$tmp/d1" --config "$config" >"$tmp/migrate.log" 2>&1
secret=whsec_profile$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
NO_COLOR=1 setsid wrangler dev "$entry" --config "$config" --local --ip 127.0.0.1 --persist-to "$tmp/d1" \
	--port "$PORT" --inspector-port "$INSPECTOR" --show-interactive-dev-session=false --assets dist/bench/site \
	--var STRIPE_SECRET_KEY:sk_test_bench --var STRIPE_PUBLISHABLE_KEY:pk_test_bench \
	--var "STRIPE_API_BASE:http://127.0.0.1:$MOCK_PORT" --var "STRIPE_WEBHOOK_SECRET:$secret" \
	--var DEPLOYMENT_ID:bench </dev/null >"$out/wrangler.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do
	grep -q "Ready on" "$out/wrangler.log" 2>/dev/null && curl -fsS "http://127.0.0.1:$PORT/" -o /dev/null && break
	sleep 0.2
done
prof() { node scripts/bench/profile.mjs -inspector "$INSPECTOR" -base "http://127.0.0.1:$PORT" "$@"; }
create='{"items":[{"id":"tshirt","quantity":1}]}'
echo "== $entry: first request"
prof -path /create-checkout-session -body "$create" -n 1 -interval 50 -out "$out/first.cpuprofile" -top 40
echo "== create-session, steady state"
prof -path /create-checkout-session -body "$create" -n "$N" -c "$C" -warm 20 -out "$out/create.cpuprofile" -top 30
echo "== session-status, steady state"
prof -path "/session-status?session_id=cs_test_a1b2c3" -n "$N" -c "$C" -warm 20 -out "$out/status.cpuprofile" -top 30
