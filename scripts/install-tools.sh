#!/usr/bin/env bash
# install-tools.sh — installs the development toolchain of the checkout kit.
#
# Usage: scripts/install-tools.sh [all|apt|tinygo|stripe-mock|node|chromium]...
#
#   apt          Debian packages (LLVM/Clang 19, wasm sysroot, binaryen, chromium, wrk)
#   tinygo       TinyGo 0.42.0 built from its Go module source, patched by
#                scripts/tinygo-patches (see the notes at tinygo_build)
#   stripe-mock  github.com/stripe/stripe-mock v0.195.0 (OpenAPI 2025-05-28.basil)
#   node         npm ci in the repository root (wrangler, playwright-core, stripe-node,
#                @stripe/stripe-js types for tsc)
#   chromium     Debian's /usr/bin/chromium (driven by playwright-core)
#   all          everything above (the default)
#
# Everything except node_modules/ goes to
#   TOOLS_DIR=${CHECKOUTKIT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/checkoutkit}
# which later runs (and CI runs on the same machine) reuse: every step checks a
# version stamp first, so a second run takes seconds. Source scripts/env.sh to
# get the tools on PATH.
#
# Only the Go module proxy, Debian apt and the npm registry are needed.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR=${CHECKOUTKIT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/checkoutkit}

# Pinned versions. Bump TINYGO_RECIPE_BASE whenever the TinyGo build logic below
# changes what is built; the patches in scripts/tinygo-patches are part of the
# recipe by their hash (tinygo_recipe), so changing, adding or removing one
# rebuilds TinyGo too: an existing install whose stamp differs is rebuilt.
TINYGO_VERSION=v0.42.0
TINYGO_PATCHES=$REPO_ROOT/scripts/tinygo-patches
TINYGO_RECIPE_BASE="tinygo ${TINYGO_VERSION}; llvm19; patched by scripts/tinygo-patches; checkoutkit recipe 4"
TINYGOROOT_DIR=$TOOLS_DIR/tinygo-${TINYGO_VERSION#v}
TINYGO_CACHE_HOME=$TOOLS_DIR/tinygo-cache   # XDG_CACHE_HOME for tinygo only
STRIPE_MOCK_VERSION=v0.195.0
LLVM_MAJOR=19

APT_TINYGO=(patch llvm-19-dev libclang-19-dev clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc binaryen)
APT_ALL=("${APT_TINYGO[@]}" chromium wrk)

export DEBIAN_FRONTEND=noninteractive
export GOTOOLCHAIN=local GOWORK=off GO111MODULE=on

say() { printf '==> %s\n' "$*"; }
die() { printf 'install-tools: error: %s\n' "$*" >&2; exit 1; }

# now_s prints seconds since the epoch with millisecond precision.
now_s() { date +%s.%N | cut -c1-14; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1fs", b - a }'; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo env DEBIAN_FRONTEND=noninteractive "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

need_go() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			PATH=/usr/local/go/bin:$PATH
		else
			die "Go is not installed (expected go on PATH or /usr/local/go/bin/go)"
		fi
	fi
}

need_node() {
	command -v node >/dev/null 2>&1 || die "Node.js (>= 20.3) is not installed"
	command -v npm >/dev/null 2>&1 || die "npm is not installed"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 20 ] || die "Node.js >= 20.3 is required (found $(node --version))"
}

# ---------------------------------------------------------------- apt

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these packages by hand: ${missing[*]}"
	say "installing Debian packages: ${missing[*]} (about 30 s - a few minutes)..."
	local t; t=$(now_s)
	as_root apt-get update -qq
	as_root apt-get install -y -qq "${missing[@]}"
	say "Debian packages installed ($(elapsed "$t"))"
}

step_apt() { ensure_packages "${APT_ALL[@]}"; }

step_chromium() {
	ensure_packages chromium
	[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after installing the chromium package"
}

# ---------------------------------------------------------------- tinygo
#
# No TinyGo release archive can be downloaded here, so TinyGo is built from its
# Go module (github.com/tinygo-org/tinygo@v0.42.0) against Debian's LLVM 19.
# The module zip lacks the git submodules, and the kit wants a few runtime
# changes. Every change to TinyGo's source is a unified diff in
# scripts/tinygo-patches (NN-name.patch, each with a header saying what and
# why), applied to a writable copy of the module by one script,
# scripts/tinygo-patches/apply.sh, which dry-runs each patch first and stops
# naming the one that does not apply, and skips one already applied:
#   01-no-espflasher           drops the ESP32 flasher (tinygo.org/x/espflasher
#                              is refused by the proxy)
#   02-net-from-v0.30.0        TinyGo v0.30.0's small in-tree src/net as src/net
#   03-net-http-from-std       net/http comes from Go's own std, not TinyGo's fork
#   04-tls-stubs               net.TLSConn, net.DialTLS, crypto/tls.RecordHeaderError
#                              as stubs (on Workers all HTTP goes through fetch())
#   05-finalizer-gc-threshold  finalizerGCThreshold 32 -> 256 (measurements in the patch)
#   06-stack-reuse             finished goroutines' stacks are reused
#   07-gentle-heap-growth      linear memory grows by at most 4 MiB at a time
# This script then seeds TinyGo's library cache with Debian's prebuilt
# wasi-libc and compiler-rt builtins (the C sources are not in the module zip).
#
# A wrapper $TOOLS_DIR/bin/tinygo runs it with XDG_CACHE_HOME=$TINYGO_CACHE_HOME
# so the cache is ours and Go's own build cache stays where it is.

# tinygo_recipe prints the install's stamp: the build recipe and a hash of the
# patch files (names and contents), so any change to the patch set rebuilds.
tinygo_recipe() {
	local sum
	sum=$(cd "$TINYGO_PATCHES" && cat -- *.patch apply.sh | sha256sum | cut -c1-16) ||
		die "cannot read the patches in $TINYGO_PATCHES"
	printf '%s; patches %s %s\n' "$TINYGO_RECIPE_BASE" "$(cd "$TINYGO_PATCHES" && printf '%s,' *.patch)" "$sum"
}

# mod_dir MODULE@VERSION prints the module's directory in the module cache,
# downloading it first if needed.
mod_dir() {
	local out dir
	out=$(cd / && GOFLAGS=-mod=mod go mod download -json "$1") || die "go mod download $1 failed"
	dir=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
	[ -n "$dir" ] && [ -d "$dir" ] || die "could not find the module directory of $1"
	printf '%s\n' "$dir"
}

# seed_tinygo_cache puts Debian's prebuilt wasm libraries where TinyGo 0.42
# looks for its cached builds: $XDG_CACHE_HOME/tinygo/<name>-<triple>-<cpu>/lib.a
# (compileopts.Config.LibraryPath; -target wasm is wasm32-unknown-wasi, cpu generic).
seed_tinygo_cache() {
	local cache=$TINYGO_CACHE_HOME/tinygo
	local libc=/usr/lib/wasm32-wasi/libc.a
	local libc_h=/usr/include/wasm32-wasi
	local rt=/usr/lib/llvm-${LLVM_MAJOR}/lib/clang/${LLVM_MAJOR}/lib/wasi/libclang_rt.builtins-wasm32.a
	local d
	[ -f "$libc" ] && [ -d "$libc_h" ] || die "$libc or $libc_h missing (Debian package wasi-libc)"
	[ -f "$rt" ] || die "$rt missing (Debian package libclang-rt-${LLVM_MAJOR}-dev-wasm32)"
	d=$cache/wasi-libc-wasm32-unknown-wasi-generic
	mkdir -p "$d"
	cmp -s "$libc" "$d/lib.a" || cp "$libc" "$d/lib.a"
	if [ ! -f "$d/include/.checkoutkit" ] || ! diff -rq "$libc_h" "$d/include" -x .checkoutkit >/dev/null 2>&1; then
		rm -rf "$d/include"
		cp -r "$libc_h" "$d/include"
		: >"$d/include/.checkoutkit"
	fi
	d=$cache/compiler-rt-wasm32-unknown-wasi-generic
	mkdir -p "$d"
	cmp -s "$rt" "$d/lib.a" || cp "$rt" "$d/lib.a"
}

write_tinygo_wrapper() {
	mkdir -p "$TOOLS_DIR/bin"
	local w=$TOOLS_DIR/bin/tinygo
	cat >"$w.new" <<EOF
#!/bin/sh
# Generated by scripts/install-tools.sh: runs TinyGo ${TINYGO_VERSION} with its own
# cache (XDG_CACHE_HOME only for this process) while Go's build cache, which
# TinyGo's "go list" calls also use, stays where the caller's Go keeps it.
if [ -z "\${GOCACHE:-}" ]; then
	GOCACHE=\$(go env GOCACHE) || exit 1
	export GOCACHE
fi
XDG_CACHE_HOME='${TINYGO_CACHE_HOME}'
TINYGOROOT='${TINYGOROOT_DIR}'
export XDG_CACHE_HOME TINYGOROOT
exec '${TINYGOROOT_DIR}/bin/tinygo' "\$@"
EOF
	chmod +x "$w.new"
	if cmp -s "$w.new" "$w"; then rm -f "$w.new"; else mv "$w.new" "$w"; fi
}

tinygo_ok() {
	[ -x "$TINYGOROOT_DIR/bin/tinygo" ] &&
		[ "$(cat "$TINYGOROOT_DIR/.checkoutkit-recipe" 2>/dev/null)" = "$(tinygo_recipe)" ]
}

tinygo_build() {
	need_go
	local t stage src
	t=$(now_s)
	say "fetching TinyGo ${TINYGO_VERSION}'s module source (Go module proxy)..."
	src=$(mod_dir "github.com/tinygo-org/tinygo@${TINYGO_VERSION}")

	stage=$TOOLS_DIR/.tinygo-stage.$$
	rm -rf "$stage"
	mkdir -p "$TOOLS_DIR"
	trap 'rm -rf "$stage"' EXIT
	cp -r "$src" "$stage"          # the module cache is read-only; work on a copy
	chmod -R u+w "$stage"
	"$TINYGO_PATCHES/apply.sh" "$stage" || die "patching TinyGo's source failed (see scripts/tinygo-patches)"

	say "building TinyGo ${TINYGO_VERSION} against LLVM ${LLVM_MAJOR} (about 1-2 minutes)..."
	# tinygo.org/x/go-llvm and TinyGo's cgo package carry #cgo flags for
	# Debian's /usr/lib/llvm-19 layout under the llvm19 tag.
	(
		cd "$stage"
		CGO_ENABLED=1 GOFLAGS="-buildvcs=false -mod=mod" \
			go build -tags "llvm${LLVM_MAJOR}" -o bin/tinygo .
	) || die "building TinyGo failed"

	tinygo_recipe >"$stage/.checkoutkit-recipe"
	rm -rf "$TINYGOROOT_DIR"
	mv "$stage" "$TINYGOROOT_DIR"
	trap - EXIT
	# A new tree invalidates TinyGo's merged-GOROOT and package caches.
	rm -rf "$TINYGO_CACHE_HOME/tinygo"
	say "TinyGo built ($(elapsed "$t")): $TINYGOROOT_DIR/bin/tinygo"
}

step_tinygo() {
	ensure_packages "${APT_TINYGO[@]}"
	command -v wasm-opt >/dev/null 2>&1 || die "wasm-opt not on PATH (Debian package binaryen)"
	if tinygo_ok; then
		say "TinyGo ${TINYGO_VERSION} already installed at $TINYGOROOT_DIR"
	else
		tinygo_build
	fi
	seed_tinygo_cache
	write_tinygo_wrapper
	"$TOOLS_DIR/bin/tinygo" version >/dev/null || die "the installed TinyGo does not run"
}

# ---------------------------------------------------------------- stripe-mock

step_stripe_mock() {
	need_go
	local bin=$TOOLS_DIR/bin/stripe-mock have=""
	if [ -x "$bin" ]; then
		have=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/stripe/stripe-mock" { print $3 }')
	fi
	if [ "$have" = "$STRIPE_MOCK_VERSION" ]; then
		say "stripe-mock ${STRIPE_MOCK_VERSION} already installed"
		return 0
	fi
	local t; t=$(now_s)
	say "installing stripe-mock ${STRIPE_MOCK_VERSION} (about 30 s)..."
	mkdir -p "$TOOLS_DIR/bin"
	(cd / && GOBIN=$TOOLS_DIR/bin GOFLAGS=-buildvcs=false go install "github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION}") ||
		die "go install stripe-mock failed"
	say "stripe-mock installed ($(elapsed "$t"))"
}

# ---------------------------------------------------------------- node

node_stamp_value() {
	{
		node --version
		cat "$REPO_ROOT/package.json" "$REPO_ROOT/package-lock.json"
	} | sha256sum | cut -d' ' -f1
}

step_node() {
	need_node
	[ -f "$REPO_ROOT/package-lock.json" ] || die "$REPO_ROOT/package-lock.json missing"
	local stamp=$REPO_ROOT/node_modules/.checkoutkit-stamp want
	want=$(node_stamp_value)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		say "node_modules up to date"
		return 0
	fi
	local t; t=$(now_s)
	say "installing npm packages (npm ci, about 10-30 s)..."
	(cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
	printf '%s\n' "$want" >"$stamp"
	say "npm packages installed ($(elapsed "$t"))"
}

# ---------------------------------------------------------------- main

main() {
	local steps=("$@") s t
	[ "${#steps[@]}" -gt 0 ] || steps=(all)
	for s in "${steps[@]}"; do
		case $s in
		all | apt | tinygo | stripe-mock | node | chromium) ;;
		-h | --help | help)
			sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
			return 0
			;;
		*) die "unknown step '$s' (want: all apt tinygo stripe-mock node chromium)" ;;
		esac
	done

	mkdir -p "$TOOLS_DIR"
	# One installer at a time per TOOLS_DIR (CI and a developer may share it).
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$TOOLS_DIR/.install.lock"
		flock 9
	fi

	t=$(now_s)
	for s in "${steps[@]}"; do
		case $s in
		all)
			step_apt
			step_tinygo
			step_stripe_mock
			step_node
			step_chromium
			;;
		apt) step_apt ;;
		tinygo) step_tinygo ;;
		stripe-mock) step_stripe_mock ;;
		node) step_node ;;
		chromium) step_chromium ;;
		esac
	done
	say "tools ready in $TOOLS_DIR ($(elapsed "$t")); use: . scripts/env.sh"
}

main "$@"
