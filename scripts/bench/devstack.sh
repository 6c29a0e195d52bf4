# devstack.sh: sourced by profile.sh and perf.sh. start_devstack ENTRY LOG
# starts stripe-mock and `wrangler dev ENTRY` as `make bench` runs a variant
# (fresh local D1 with the migrations, the bench's vars, rate limits raised),
# each in its own process group, and waits until the worker answers. It sets
# PORT, INSPECTOR, BASE (http://127.0.0.1:PORT) and USER_WORKERD (the pid of
# the workerd that runs the worker: the one given an inspector address), and
# an EXIT trap that ends both groups and removes the temporary files.
# Settings: PORT, INSPECTOR (free ports by default).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DEVSTACK_PIDS=()
DEVSTACK_TMP=$(mktemp -d)
DEVSTACK_CONFIG=.wrangler-devstack-$$.toml
devstack_cleanup() {
	for p in "${DEVSTACK_PIDS[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	rm -rf "$DEVSTACK_TMP" "$DEVSTACK_CONFIG"
}
trap devstack_cleanup EXIT
start_devstack() {
	local entry=$1 log=$2
	PORT=${PORT:-$(free_port)}
	INSPECTOR=${INSPECTOR:-$(free_port)}
	local mock_port
	mock_port=$(free_port)
	sed -E 's/^(simple[[:space:]]*=[[:space:]]*\{[[:space:]]*limit[[:space:]]*=[[:space:]]*)[0-9]+/\11000000/' wrangler.toml >"$DEVSTACK_CONFIG"
	setsid "$STRIPE_MOCK_BIN" -http-port "$mock_port" >"$DEVSTACK_TMP/mock.log" 2>&1 &
	DEVSTACK_PIDS+=($!)
	CI=1 wrangler d1 migrations apply DB --local --persist-to "$DEVSTACK_TMP/d1" --config "$DEVSTACK_CONFIG" >"$DEVSTACK_TMP/migrate.log" 2>&1
	local secret
	secret=whsec_devstack$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	NO_COLOR=1 setsid wrangler dev "$entry" --config "$DEVSTACK_CONFIG" --local --ip 127.0.0.1 --persist-to "$DEVSTACK_TMP/d1" \
		--port "$PORT" --inspector-port "$INSPECTOR" --show-interactive-dev-session=false --assets dist/bench/site \
		--var STRIPE_SECRET_KEY:sk_test_bench --var STRIPE_PUBLISHABLE_KEY:pk_test_bench \
		--var "STRIPE_API_BASE:http://127.0.0.1:$mock_port" --var "STRIPE_WEBHOOK_SECRET:$secret" \
		--var DEPLOYMENT_ID:bench </dev/null >"$log" 2>&1 &
	local wrangler=$!
	DEVSTACK_PIDS+=("$wrangler")
	for _ in $(seq 1 600); do
		grep -q "Ready on" "$log" 2>/dev/null && break
		sleep 0.2
	done
	BASE=http://127.0.0.1:$PORT
	USER_WORKERD=
	for p in $(pgrep -g "$wrangler" workerd); do
		if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- --inspector-addr; then USER_WORKERD=$p; fi
	done
	if [ -z "$USER_WORKERD" ]; then
		echo "devstack: no user workerd below wrangler (pid $wrangler); see $log" >&2
		return 1
	fi
}
