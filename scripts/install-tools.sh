#!/usr/bin/env bash
# install-tools.sh — installs the development toolchain of the checkout kit.
#
# Usage: scripts/install-tools.sh [all|apt|tinygo|stripe-mock|node|chromium]...
#
#   apt          Debian packages (LLVM/Clang 19, wasm sysroot, binaryen, chromium, wrk)
#   tinygo       TinyGo 0.42.0 built from its Go module source (see the notes at tinygo_build)
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

# Pinned versions. Bump TINYGO_RECIPE whenever the TinyGo build/patch logic
# below changes: an existing install whose stamp differs is rebuilt.
TINYGO_VERSION=v0.42.0
TINYGO_NET_FROM=v0.30.0          # last TinyGo module versions with an in-tree src/net
# See step 6 below: how many finalizer registrations (one per js.Value the Go
# program holds) trigger an idle-time garbage collection. TinyGo's default, 32,
# costs the worker a full collection every few requests.
TINYGO_FINALIZER_GC_THRESHOLD=256
TINYGO_RECIPE="tinygo ${TINYGO_VERSION}; net from ${TINYGO_NET_FROM}; llvm19; finalizer gc threshold ${TINYGO_FINALIZER_GC_THRESHOLD}; stack reuse; 4 MiB heap growth; checkoutkit recipe 3"
TINYGOROOT_DIR=$TOOLS_DIR/tinygo-${TINYGO_VERSION#v}
TINYGO_CACHE_HOME=$TOOLS_DIR/tinygo-cache   # XDG_CACHE_HOME for tinygo only
STRIPE_MOCK_VERSION=v0.195.0
LLVM_MAJOR=19

APT_TINYGO=(llvm-19-dev libclang-19-dev clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc binaryen)
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
# The module zip lacks the git submodules, so the script:
#   1. drops the ESP32 flasher (tinygo.org/x/espflasher is refused by the proxy),
#   2. uses the small in-tree src/net stub of TinyGo v0.30.0 as src/net,
#   3. lets net/http come from Go's own std (removes "net/http/" from
#      pathsToOverride in loader/goroot.go),
#   4. adds the three symbols that combination still misses (net.TLSConn,
#      net.DialTLS, crypto/tls.RecordHeaderError) as stubs: on Workers all
#      HTTP goes through fetch(), never through sockets,
#   5. seeds TinyGo's library cache with Debian's prebuilt wasi-libc and
#      compiler-rt builtins (the C sources are not in the module zip),
#   6. raises the runtime's finalizerGCThreshold from 32 to
#      $TINYGO_FINALIZER_GC_THRESHOLD. Go's syscall/js registers a finalizer for
#      every js.Value, and TinyGo 0.42 runs a full (conservative) collection at
#      the next idle point after every 32 registrations; a worker request makes
#      ~10, so that was a full GC every few requests. Measured with 64 KB
#      goroutine stacks: 14 ms CPU per create-session at 32 (22 MiB heap),
#      ~4 ms at 256 (44 MiB), 2 ms at 1024 (88 MiB); 0 disables the trigger
#      and the heap settles at 176 MiB, past the 128 MB isolate limit. With
#      the worker's 128 KB stacks (build/worker.go) the heap settles at 88 MiB
#      at both 128 and 256, and 256 costs less CPU. See the README.
#      (The worker now builds with -gc=leaking, see 7-8, where this no longer
#      applies; it is kept for builds with a collecting GC.)
#   7. reuses finished goroutines' stacks. Under asyncify every goroutine gets
#      a fixed heap-allocated stack (-stack-size), and every call from
#      JavaScript into Go (each request, each fetch answer) starts a goroutine.
#      Stock TinyGo allocates a new stack each time and leaves the old one to
#      the GC; the patch keeps finished stacks on a free list
#      (internal/task/task_asyncify.go) and marks every finished goroutine
#      for that cleanup, not only when finalizers are in use
#      (runtime/scheduler_cooperative.go).
#   8. grows wasm linear memory by at most 4 MiB at a time instead of
#      doubling it (runtime/arch_tinygowasm.go growHeap), so the memory size
#      follows what is used; wasm/instance.mjs retires an instance by it.
# A wrapper $TOOLS_DIR/bin/tinygo runs it with XDG_CACHE_HOME=$TINYGO_CACHE_HOME
# so the cache is ours and Go's own build cache stays where it is.

# mod_dir MODULE@VERSION prints the module's directory in the module cache,
# downloading it first if needed.
mod_dir() {
	local out dir
	out=$(cd / && GOFLAGS=-mod=mod go mod download -json "$1") || die "go mod download $1 failed"
	dir=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
	[ -n "$dir" ] && [ -d "$dir" ] || die "could not find the module directory of $1"
	printf '%s\n' "$dir"
}

# patch_tinygo_tree DIR applies steps 1-4 and 6-8 above to a writable copy of the tree.
patch_tinygo_tree() {
	local dir=$1 netsrc=$2 f

	# 1. ESP32 flashing: drop the import and turn flashBinUsingEsp32 into a stub.
	f=$dir/main.go
	grep -q '"tinygo.org/x/espflasher/pkg/espflasher"' "$f" || die "espflasher import not found in $f (TinyGo layout changed?)"
	grep -q '^func flashBinUsingEsp32(' "$f" || die "flashBinUsingEsp32 not found in $f (TinyGo layout changed?)"
	awk '
		/^[[:space:]]*"tinygo\.org\/x\/espflasher\/pkg\/espflasher"[[:space:]]*$/ { next }
		/^func flashBinUsingEsp32\(/ {
			print
			print "\treturn errors.New(\"ESP32 flashing was left out of this TinyGo build (checkoutkit)\")"
			print "}"
			skipping = 1
			next
		}
		skipping { if ($0 == "}") skipping = 0; next }
		{ print }
	' "$f" >"$f.new"
	mv "$f.new" "$f"
	local left
	left=$(grep -rl --include='*.go' '^[[:space:]]*"tinygo\.org/x/espflasher' "$dir" || true)
	[ -z "$left" ] || die "espflasher is still imported by: $left"
	(cd "$dir" && go mod edit -droprequire=tinygo.org/x/espflasher)

	# 2. src/net from the older module (non-test Go files only).
	rm -rf "$dir/src/net"
	mkdir -p "$dir/src/net"
	local n=0
	for f in "$netsrc"/src/net/*.go; do
		case $f in *_test.go) continue ;; esac
		cp "$f" "$dir/src/net/"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || die "no src/net files found in $netsrc"
	chmod -R u+w "$dir/src/net"

	# 3. net/http from Go's std instead of TinyGo's (absent) fork.
	f=$dir/loader/goroot.go
	[ "$(grep -c '^[[:space:]]*"net/http/":[[:space:]]*false,[[:space:]]*$' "$f")" -eq 1 ] ||
		die "expected exactly one \"net/http/\": false entry in $f"
	sed -i '/^[[:space:]]*"net\/http\/":[[:space:]]*false,[[:space:]]*$/d' "$f"

	# 4. Stubs for the symbols the mix still needs.
	grep -rq 'type TLSConn ' "$dir/src/net" || cat >"$dir/src/net/tlsconn_checkoutkit.go" <<'EOF'
// Written by checkoutkit's scripts/install-tools.sh.
//
// TinyGo's crypto/tls refers to net.TLSConn and net.DialTLS, which live in
// TinyGo's networking fork (a git submodule this build cannot fetch). Programs
// built here talk HTTP through the host (fetch on Workers), never through
// sockets, so these only report that TLS dialing is unavailable.

package net

import "time"

// TLSConn stands in for a TLS connection offloaded to a network device.
// Every method fails with ErrNotImplemented.
type TLSConn struct{}

// DialTLS always fails with ErrNotImplemented.
func DialTLS(addr string) (*TLSConn, error) {
	return nil, &OpError{Op: "dial", Net: "tls", Err: ErrNotImplemented}
}

func (c *TLSConn) Read(b []byte) (int, error)         { return 0, ErrNotImplemented }
func (c *TLSConn) Write(b []byte) (int, error)        { return 0, ErrNotImplemented }
func (c *TLSConn) Close() error                       { return ErrNotImplemented }
func (c *TLSConn) LocalAddr() Addr                    { return nil }
func (c *TLSConn) RemoteAddr() Addr                   { return nil }
func (c *TLSConn) SetDeadline(t time.Time) error      { return ErrNotImplemented }
func (c *TLSConn) SetReadDeadline(t time.Time) error  { return ErrNotImplemented }
func (c *TLSConn) SetWriteDeadline(t time.Time) error { return ErrNotImplemented }
func (c *TLSConn) Handshake() error                   { return ErrNotImplemented }
EOF
	grep -rq 'type RecordHeaderError ' "$dir/src/crypto/tls" || cat >"$dir/src/crypto/tls/recordheadererror_checkoutkit.go" <<'EOF'
// Written by checkoutkit's scripts/install-tools.sh.
//
// Go's net/http (used here instead of TinyGo's fork) checks for this error
// type; TinyGo's crypto/tls never produces it.

package tls

import "net"

// RecordHeaderError mirrors the error type of Go's crypto/tls.
type RecordHeaderError struct {
	Msg          string
	RecordHeader [5]byte
	Conn         net.Conn
}

func (e RecordHeaderError) Error() string { return "tls: " + e.Msg }
EOF
	grep -q 'ErrNotImplemented' "$dir/src/net/errors.go" || die "src/net has no ErrNotImplemented (unexpected src/net source)"

	# 6. Finalizer-pressure GC threshold (see the header).
	f=$dir/src/runtime/gc_finalizer.go
	[ "$(grep -c '^const finalizerGCThreshold = 32$' "$f")" -eq 1 ] ||
		die "expected 'const finalizerGCThreshold = 32' in $f (TinyGo layout changed?)"
	sed -i "s/^const finalizerGCThreshold = 32\$/const finalizerGCThreshold = ${TINYGO_FINALIZER_GC_THRESHOLD} \/\/ checkoutkit: was 32/" "$f"

	# 7 and 8: stack reuse and gentle heap growth (see the header).
	(cd "$REPO_ROOT" && go run ./scripts/tinygopatch "$dir/src") || die "patching TinyGo's runtime (steps 7-8) failed"
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
		[ "$(cat "$TINYGOROOT_DIR/.checkoutkit-recipe" 2>/dev/null)" = "$TINYGO_RECIPE" ]
}

tinygo_build() {
	need_go
	local t stage src netsrc
	t=$(now_s)
	say "fetching TinyGo ${TINYGO_VERSION} and ${TINYGO_NET_FROM} module sources (Go module proxy)..."
	src=$(mod_dir "github.com/tinygo-org/tinygo@${TINYGO_VERSION}")
	netsrc=$(mod_dir "github.com/tinygo-org/tinygo@${TINYGO_NET_FROM}")

	stage=$TOOLS_DIR/.tinygo-stage.$$
	rm -rf "$stage"
	mkdir -p "$TOOLS_DIR"
	trap 'rm -rf "$stage"' EXIT
	cp -r "$src" "$stage"          # the module cache is read-only; work on a copy
	chmod -R u+w "$stage"
	patch_tinygo_tree "$stage" "$netsrc"

	say "building TinyGo ${TINYGO_VERSION} against LLVM ${LLVM_MAJOR} (about 1-2 minutes)..."
	# tinygo.org/x/go-llvm and TinyGo's cgo package carry #cgo flags for
	# Debian's /usr/lib/llvm-19 layout under the llvm19 tag.
	(
		cd "$stage"
		CGO_ENABLED=1 GOFLAGS="-buildvcs=false -mod=mod" \
			go build -tags "llvm${LLVM_MAJOR}" -o bin/tinygo .
	) || die "building TinyGo failed"

	printf '%s\n' "$TINYGO_RECIPE" >"$stage/.checkoutkit-recipe"
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
