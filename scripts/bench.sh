#!/usr/bin/env bash
# bench.sh — what `make bench` runs: CPU per request, latency and sizes of the
# worker built with TinyGo and with standard Go, against a JavaScript
# reference worker with stripe-node, all under `wrangler dev` + stripe-mock.
# The work is done by scripts/bench (a Go program); see its doc comment.
#
#   scripts/bench.sh                         # 3 rounds x 300 requests
#   scripts/bench.sh -rounds 1 -n 100 -reuse # quick look, reusing builds
#   scripts/bench.sh -per-request            # also one Go instance per request
#   BENCH_FLAGS="-reuse" make bench
#
# Figures go to stdout, progress to stderr, raw results to dist/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# Build first and exec the binary, so that signals reach the program that
# owns (and stops) the wrangler and stripe-mock process groups.
mkdir -p dist/bench
go build -o dist/bench/bench-bin ./scripts/bench
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
exec dist/bench/bench-bin ${BENCH_FLAGS:-} "$@"
