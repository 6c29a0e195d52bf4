# env.sh — puts the checkout kit's tools on PATH. Source it (POSIX sh or bash):
#
#   . scripts/env.sh
#
# It prints nothing and changes nothing but environment variables, so it is
# safe in Makefile recipes (/bin/sh) and in scripts running with `set -eu`.
# The tools themselves are installed by scripts/install-tools.sh.
#
# Exports:
#   CHECKOUTKIT_ROOT   repository root (node_modules/.bin is taken from here)
#   TOOLS_DIR          ${CHECKOUTKIT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/checkoutkit}
#   TINYGOROOT         $TOOLS_DIR/tinygo-0.42.0 (TinyGo built from its Go module source)
#   TINYGO             $TOOLS_DIR/bin/tinygo, a wrapper around $TINYGOROOT/bin/tinygo
#   TINYGO_CACHE_HOME  $TOOLS_DIR/tinygo-cache: the XDG_CACHE_HOME the wrapper gives
#                      TinyGo (its cache, seeded with Debian's wasi-libc and
#                      compiler-rt, is $TINYGO_CACHE_HOME/tinygo)
#   GOCACHE            Go's build cache, pinned to where `go env GOCACHE` puts it
#   STRIPE_MOCK_BIN    $TOOLS_DIR/bin/stripe-mock (v0.195.0)
#   CHROMIUM_BIN       /usr/bin/chromium (playwright-core's executablePath)
#   WRANGLER_SEND_METRICS=false, CLOUDFLARE_CF_FETCH_ENABLED=false (offline wrangler)
#   PATH               prepended: $TOOLS_DIR/bin, $CHECKOUTKIT_ROOT/node_modules/.bin
#                      (and /usr/local/go/bin when go is not on PATH)
#
# XDG_CACHE_HOME itself is NOT changed: `tinygo` on PATH is the wrapper, which
# sets XDG_CACHE_HOME for the TinyGo process only. Run `tinygo ...` (or
# "$TINYGO" ...); do not call $TINYGOROOT/bin/tinygo directly unless you set
# XDG_CACHE_HOME="$TINYGO_CACHE_HOME" for that command yourself.

# Repository root: explicit, else bash's BASH_SOURCE, else the current
# directory or its git top level (POSIX sh cannot tell which file is sourced).
if [ -z "${CHECKOUTKIT_ROOT:-}" ]; then
	if [ -n "${BASH_SOURCE:-}" ]; then
		CHECKOUTKIT_ROOT=$(cd "$(dirname "${BASH_SOURCE}")/.." 2>/dev/null && pwd)
	elif [ -f "$PWD/scripts/env.sh" ]; then
		CHECKOUTKIT_ROOT=$PWD
	else
		CHECKOUTKIT_ROOT=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
	fi
fi
export CHECKOUTKIT_ROOT

TOOLS_DIR=${CHECKOUTKIT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/checkoutkit}
TINYGOROOT=$TOOLS_DIR/tinygo-0.42.0
TINYGO=$TOOLS_DIR/bin/tinygo
TINYGO_CACHE_HOME=$TOOLS_DIR/tinygo-cache
STRIPE_MOCK_BIN=$TOOLS_DIR/bin/stripe-mock
CHROMIUM_BIN=/usr/bin/chromium
WRANGLER_SEND_METRICS=false
CLOUDFLARE_CF_FETCH_ENABLED=false
export TOOLS_DIR TINYGOROOT TINYGO TINYGO_CACHE_HOME STRIPE_MOCK_BIN CHROMIUM_BIN
export WRANGLER_SEND_METRICS CLOUDFLARE_CF_FETCH_ENABLED

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=/usr/local/go/bin:$PATH
fi
if [ -z "${GOCACHE:-}" ] && command -v go >/dev/null 2>&1; then
	GOCACHE=$(go env GOCACHE 2>/dev/null) || GOCACHE=
	if [ -n "$GOCACHE" ]; then export GOCACHE; else unset GOCACHE; fi
fi

for _ck_dir in "$CHECKOUTKIT_ROOT/node_modules/.bin" "$TOOLS_DIR/bin"; do
	case ":$PATH:" in
	*":$_ck_dir:"*) ;;
	*) PATH=$_ck_dir:$PATH ;;
	esac
done
unset _ck_dir
export PATH
