#!/usr/bin/env bash
# perf.sh: where the user workerd's CPU goes, sampled by Linux perf under
# `wrangler dev` + stripe-mock as `make bench` runs a variant. Unlike the
# inspector's profiler (profile.sh), perf does not change how V8 compiles
# WebAssembly, and it sees V8's own work: compiling, tiering up, collecting.
#
#   scripts/bench/perf.sh first  dist/bench/tinygo/worker.mjs   # the isolate's first create-session
#   scripts/bench/perf.sh steady dist/bench/tinygo/worker.mjs   # WARM then N requests (ENDPOINT)
#   scripts/bench/perf.sh flush  dist/bench/tinygo/worker.mjs   # when V8 discards compiled wasm
#   (and scripts/bench/reference/worker.mjs for the JavaScript reference)
#
# first/steady print CPU by what it was doing (scripts/bench/perfsum.mjs), on
# the worker's thread and on the others. flush puts uprobes on V8's
# WasmEngine::FlushLiftoffCode and wasm::CompileLazy in the workerd binary
# and prints, for the user workerd, the sequence of flushes and lazy
# compilations from its start to after the first request. What it showed in
# session 7 (wasm/README.md, "The first request recompiles"): workerd calls
# MemoryPressureNotification(kModerate) for every isolate it creates, which
# makes V8 discard all Liftoff code in the process; wrangler dev creates its
# own workers' isolates after the user worker's, so what the global scope's
# warm-up compiled is gone, and the first request compiles it again.
#
# Needs perf (Debian: linux-perf) and root (uprobes; perf_event_paranoid).
# Settings: ENDPOINT (create or status), WARM (300), N (300), HZ (10000), and
# those of devstack.sh. Output in out-dir (default dist/bench/perf/<name>).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
mode=${1:?mode: first, steady or flush}
entry=${2:?entry: a worker.mjs}
name=$(basename "$(dirname "$entry")")
out=${3:-dist/bench/perf/$name}
WARM=${WARM:-300}
N=${N:-300}
HZ=${HZ:-10000}
ENDPOINT=${ENDPOINT:-create}
command -v perf >/dev/null || { echo "perf.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$out"
create='{"items":[{"id":"tshirt","quantity":1}]}'
case $ENDPOINT in
create) path=/create-checkout-session body=$create ;;
status) path="/session-status?session_id=cs_test_a1b2c3" body= ;;
*) echo "perf.sh: ENDPOINT must be create or status" >&2; exit 2 ;;
esac
# send N PATH [BODY]: N requests, one at a time, over one connection.
send() {
	node -e '
const [base, n, path, body] = process.argv.slice(1);
for (let i = 0; i < Number(n); i++) {
  const r = await fetch(base + path, body ? { method: "POST", headers: { "content-type": "application/json" }, body } : {});
  await r.arrayBuffer();
  if (r.status >= 400) { console.error(path, "answered", r.status); process.exit(1); }
}' "$BASE" "$@"
}
. scripts/bench/devstack.sh
perf_pid=
stop_perf() { if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; perf_pid=; fi; }

case $mode in
first | steady)
	start_devstack "$entry" "$out/wrangler.log"
	n=1
	if [ "$mode" = steady ]; then
		send "$WARM" "$path" "$body"
		n=$N
	else
		path=/create-checkout-session body=$create
	fi
	perf record -F "$HZ" -g -p "$USER_WORKERD" -o "$out/$mode.data" 2>"$out/perf.log" &
	perf_pid=$!
	sleep 1 # perf attaches
	send "$n" "$path" "$body"
	sleep 0.3
	stop_perf
	echo "== $entry: $mode ($n × $path), user workerd $USER_WORKERD"
	perf script -i "$out/$mode.data" -F comm,tid,ip,sym,dso 2>/dev/null |
		node scripts/bench/perfsum.mjs -hz "$HZ" -pid "$USER_WORKERD" -requests "$n"
	;;
flush)
	bin=$(readlink -f node_modules/@cloudflare/workerd-linux-64/bin/workerd)
	# A uprobe takes a file offset; nm gives virtual addresses. The
	# executable segment's (vaddr - offset) converts one to the other.
	read -r vaddr offset < <(readelf -lW "$bin" | awk '$1 == "LOAD" && / R E / { print $3, $2; exit }')
	delta=$((vaddr - offset))
	probe() { # probe MANGLED-NAME: adds a uprobe, prints its event name
		local addr
		addr=$(nm "$bin" | awk -v s="$1" '$3 == s { print "0x" $1; exit }')
		[ -n "$addr" ] || { echo "perf.sh: $1 not in $bin" >&2; exit 1; }
		perf probe -q -x "$bin" -a "$(printf '0x%x' $((addr - delta)))" >/dev/null
		printf 'probe_workerd:abs_%x' $((addr - delta))
	}
	flushEv=$(probe _ZN2v88internal4wasm10WasmEngine16FlushLiftoffCodeEv)
	lazyEv=$(probe _ZN2v88internal4wasm11CompileLazyEPNS0_7IsolateEPNS1_12NativeModuleEi)
	remove_probes() { perf probe -q -d "$flushEv" -d "$lazyEv" 2>/dev/null || true; }
	trap 'stop_perf; remove_probes; devstack_cleanup' EXIT
	perf record -a -e "$flushEv" -e "$lazyEv" -o "$out/flush.data" 2>"$out/perf.log" &
	perf_pid=$!
	sleep 1
	start_devstack "$entry" "$out/wrangler.log"
	sleep 1
	send 1 /create-checkout-session "$create"
	sleep 0.3
	stop_perf
	echo "== $entry: V8's Liftoff flushes and lazy compilations in the user workerd ($USER_WORKERD), in order"
	perf script -i "$out/flush.data" -F tid,time,event 2>/dev/null | awk -v pid="$USER_WORKERD" -v f="${flushEv#probe_workerd:}" '
		$1 != pid { next }
		{ ev = ($3 ~ f) ? "flush of all Liftoff code" : "lazy compilation" }
		ev == last { n++; next }
		{ if (last != "") printf "  %5d × %s\n", n, last; last = ev; n = 1 }
		END { if (last != "") printf "  %5d × %s\n", n, last }'
	echo "(the last lazy compilations are the first request's: functions the warm-up had compiled, compiled again)"
	;;
*)
	echo "perf.sh: mode must be first, steady or flush" >&2
	exit 2
	;;
esac
