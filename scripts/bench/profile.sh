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
# (free ports by default; scripts/bench/devstack.sh starts the stack). Profiles go to out-dir (default
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
. scripts/bench/devstack.sh
start_devstack "$entry" "$out/wrangler.log"
# The first request below must be the isolate's first: only wait for the
# port, never send one here.
prof() { node scripts/bench/profile.mjs -inspector "$INSPECTOR" -base "$BASE" "$@"; }
create='{"items":[{"id":"tshirt","quantity":1}]}'
echo "== $entry: first request"
prof -path /create-checkout-session -body "$create" -n 1 -interval 50 -out "$out/first.cpuprofile" -top 40
echo "== create-session, steady state"
prof -path /create-checkout-session -body "$create" -n "$N" -c "$C" -warm 20 -out "$out/create.cpuprofile" -top 30
echo "== session-status, steady state"
prof -path "/session-status?session_id=cs_test_a1b2c3" -n "$N" -c "$C" -warm 20 -out "$out/status.cpuprofile" -top 30
