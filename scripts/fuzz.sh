#!/usr/bin/env bash
# fuzz.sh — runs every Go fuzz target (func FuzzXxx in any package) for
# FUZZTIME each, one after another: `make fuzz` (default 60s each) and, briefly,
# `make test` (FUZZTIME=10s). New targets are picked up without editing this
# file. Plain `go test` already runs each target's seeds (f.Add and
# testdata/fuzz/<FuzzXxx>/); a failure found here is written by Go to
# <package>/testdata/fuzz/<FuzzXxx>/<hash>, which then reproduces it with plain
# `go test` — commit it with the fix.
#
#   scripts/fuzz.sh                    # every target, FUZZTIME (default 60s) each
#   FUZZTIME=5m scripts/fuzz.sh ./worker FuzzParseCatalog
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
FUZZTIME=${FUZZTIME:-60s}
pkgs=${1:-./...}
only=${2:-}

n=0
for pkg in $(go list $pkgs); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		[ -z "$only" ] || [ "$target" = "$only" ] || continue
		printf '==> fuzz %s %s for %s\n' "$pkg" "$target" "$FUZZTIME"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | { grep -v '^fuzz: elapsed: .*gathering baseline' || true; } || {
			echo "fuzz: $target in $pkg failed; the input is under $(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target/" >&2
			exit 1
		}
		n=$((n + 1))
	done
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets found in $pkgs" >&2; exit 1; }
echo "fuzz: $n target(s), $FUZZTIME each, no failures"
