#!/usr/bin/env bash
# test.sh — what `make test` runs, on a fresh machine: the tools, then each
# suite (a Makefile target, or one Go end-to-end suite for one build) in
# turn. A failed suite does not stop the others (a failed build does: nothing
# after it can run). The last line counts them, alone: "N passed, N failed";
# the exit status is non-zero if any failed.
#
# Settings (environment): TEST_PORT, TEST_SANDBOX_PORT, TEST_INSPECTOR_PORT
# (fixed ports for every stack, one at a time; default: free ones),
# TEST_EMBED_SITE_PORT (the embed test's other site, default 18790),
# TEST_LOG_DIR (default dist/test-logs), TEST_FUZZTIME (default 10s),
# TEST_LOAD_REQUESTS (default 2000).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh || { echo "installing the tools failed"; echo "0 passed, 1 failed"; exit 1; }
. scripts/env.sh

[ -z "${TEST_PORT:-}" ] || export PORT=$TEST_PORT
[ -z "${TEST_SANDBOX_PORT:-}" ] || export SANDBOX_PORT=$TEST_SANDBOX_PORT
[ -z "${TEST_INSPECTOR_PORT:-}" ] || export INSPECTOR_PORT=$TEST_INSPECTOR_PORT
# The embed test serves its "other site" from this origin, which every
# stack's worker allows.
export EMBED_SITE_ORIGIN=http://127.0.0.1:${TEST_EMBED_SITE_PORT:-18790}
export ALLOWED_ORIGINS=$EMBED_SITE_ORIGIN
export E2E_LOG_DIR=${TEST_LOG_DIR:-dist/test-logs}
export LOAD_REQUESTS=${TEST_LOAD_REQUESTS:-2000}
export TEST_FUZZTIME=${TEST_FUZZTIME:-10s}
# This run's secrets, random, given to every stack, so that the secret scan
# at the end can look for their values in everything the run wrote.
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export STRIPE_WEBHOOK_SECRET=whsec_$(random_hex) ADMIN_TOKEN=$(random_hex) CUSTOMER_TOKEN_SECRET=$(random_hex)
rm -rf "${E2E_LOG_DIR:?}"

passed=0 failed=0 failures=()
start=$SECONDS
run() { # name make-arguments...
	local name=$1 t=$SECONDS
	shift
	printf '\n==> %s\n' "$name"
	if make -s --no-print-directory SKIP_TOOLS=1 "$@"; then
		passed=$((passed + 1))
		printf '==> %s: passed (%ds)\n' "$name" $((SECONDS - t))
	else
		failed=$((failed + 1))
		failures+=("$name")
		printf '==> %s: FAILED (%ds)\n' "$name" $((SECONDS - t))
	fi
}
finish() {
	printf '\n==> %d suites in %dm%02ds' $((passed + failed)) $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))
	[ ${#failures[@]} -eq 0 ] || printf '; failed: %s' "${failures[*]}"
	printf '\n%d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ]
	exit
}

run "check: gofmt, go vet, tsc" check
run "unit: host Go tests" unit
run "fuzz: every fuzz target for $TEST_FUZZTIME" fuzz-short
run "contract: every request shape validated by stripe-mock" contract
before=$failed
run "builds: site, Go and TinyGo workers" builds
[ "$failed" -eq "$before" ] || finish # nothing below can run without the builds
for dir in dist/worker-go dist/worker; do
	flavour=tinygo
	[ "$dir" = dist/worker-go ] && flavour=go
	for suite in checkout payments webhooks hardening faults ratelimit; do
		run "e2e $suite: $flavour build" e2e E2E_SUITES=$suite WORKER_DIRS=$dir
	done
	run "browser, payments, embed, cart and instance node tests: $flavour build on a stack" browser WORKER_DIRS=$dir
	run "webhook and rate-limit bridge node tests, bench reference parity: $flavour build" node WORKER_DIRS=$dir
done
# Stopping make dev (make serve) leaves nothing running; once, on the quicker build.
run "e2e devstop: Ctrl-C and SIGTERM stop every server make dev started" e2e E2E_SUITES=devstop WORKER_DIRS=dist/worker-go
run "secret scan: the built site and workers, and every log of this run" secretscan
finish
