#!/usr/bin/env bash
# stack.sh — runs the worker under `wrangler dev` (and, offline, the local
# Stripe sandbox), waits until both answer, then either runs the command given
# as arguments with BASE_URL / SANDBOX_URL exported, or stays in the foreground
# until Ctrl-C. Everything it starts, it stops on exit.
#
#   scripts/stack.sh                      # make dev: serve until Ctrl-C
#   scripts/stack.sh node --test scripts/e2e/browser.test.mjs  # run a command against the stack
#
# The test suites start their stacks from Go instead (scripts/internal/stack,
# and go run ./scripts/stack -- command for the node tests).
#
# Settings (environment):
#   PORT            worker port (default 8787)
#   SANDBOX_PORT    sandbox port (default 8789)
#   INSPECTOR_PORT  wrangler's inspector port (default 9229)
#   WORKER_SCRIPT   the built worker entry (default dist/worker/worker.mjs)
#   STACK_LOG_DIR   if set, wrangler's and the sandbox's output go to files there
#   STRIPE_MODE     "sandbox" or "stripe"; default: "stripe" when .dev.vars sets
#                   STRIPE_SECRET_KEY, else "sandbox"
#   WRANGLER_VARS   extra "KEY:VALUE" words passed as --var to wrangler dev
#                   (split at whitespace: values cannot contain spaces)
#   STACK_CATALOG_JSON  if set, the worker's CATALOG_JSON instead of the bundled
#                   worker/catalog.json, passed as one --var (spaces are kept)
#   STRIPE_WEBHOOK_SECRET  sandbox mode: the whsec_ secret the sandbox signs webhook
#                   events with and the worker verifies them with (default: a random
#                   one per run); events go to http://127.0.0.1:$PORT/webhook
#   ADMIN_TOKEN     sandbox mode: the operator API's token (default: a random one
#                   per run, printed by make dev, unless .dev.vars sets one)
#   D1_PERSIST_DIR  where the local D1 database (the orders) lives; default: for
#                   make dev wrangler's own .wrangler/state (kept across runs), for a
#                   command a fresh directory, removed afterwards. The schema
#                   (worker/migrations) is applied before the worker starts.
#   EXAMPLES_PORT   make dev serves site/examples (pages with the embed snippet)
#                   from this other origin (default 8790)
#   ALLOWED_ORIGINS the worker's ALLOWED_ORIGINS (default: the examples' origin,
#                   unless .dev.vars sets it)
#   RATE_LIMIT      the limit of every [[ratelimits]] binding (wrangler.toml; the
#                   periods are kept), or "off" for none: wrangler dev then runs a
#                   copy of wrangler.toml changed so. Default: for make dev
#                   wrangler.toml as it is; for a command 1000000, since the test
#                   suites send thousands of requests from one address (127.0.0.1)
#                   and are not about rate limiting (scripts/e2e/ratelimit is)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

PORT=${PORT:-8787}
SANDBOX_PORT=${SANDBOX_PORT:-8789}
INSPECTOR_PORT=${INSPECTOR_PORT:-9229}
EXAMPLES_PORT=${EXAMPLES_PORT:-8790}
WORKER_SCRIPT=${WORKER_SCRIPT:-dist/worker/worker.mjs}
HOST=127.0.0.1

if [ -z "${STRIPE_MODE:-}" ]; then
	STRIPE_MODE=sandbox
	if [ -f .dev.vars ] && grep -qE '^[[:space:]]*STRIPE_SECRET_KEY[[:space:]]*=' .dev.vars; then
		STRIPE_MODE=stripe
	fi
fi

for f in "$WORKER_SCRIPT" dist/site/index.html; do
	[ -f "$f" ] || { echo "stack: $f is missing; run 'make build' first" >&2; exit 1; }
done

pids=()
cleanup() {
	local code=$?
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		# Each server runs in its own process group (setsid): end the group.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	[ -z "${stack_tmp:-}" ] || rm -rf "$stack_tmp"
	[ -z "${d1_tmp:-}" ] || rm -rf "$d1_tmp"
	[ -z "${stack_config:-}" ] || rm -f "$stack_config"
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

out() { # where a server's output goes
	if [ -n "${STACK_LOG_DIR:-}" ]; then
		mkdir -p "$STACK_LOG_DIR"
		echo "$STACK_LOG_DIR/$1.log"
	else
		echo /dev/stderr
	fi
}

wait_http() { # url seconds name
	local url=$1 secs=$2 name=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null || { echo "stack: a server exited while waiting for $name (port in use? see ${STACK_LOG_DIR:-the output above})" >&2; return 1; }
		done
		sleep 0.1
	done
	echo "stack: $name did not answer $url within ${secs}s" >&2
	return 1
}

# Files of this run: the development copy of the site, wrangler's dev registry.
stack_tmp=$(mktemp -d)
# wrangler dev registers every running worker by name in a registry shared by
# all `wrangler dev` processes of the user (~/.config/.wrangler/registry).
# Every stack of this kit registers "checkout-kit", so stacks running side by
# side (make dev and make test, or parallel test runs) overwrite and remove
# each other's entry. The kit binds no other local workers: each stack keeps
# a registry of its own.
export WRANGLER_REGISTRY_PATH="$stack_tmp/registry"
vars=()
assets=()
if [ "$STRIPE_MODE" = sandbox ]; then
	SANDBOX_URL="http://$HOST:$SANDBOX_PORT"
	bin_dir=$(mktemp -d)
	go build -o "$bin_dir/stripe-sandbox" ./scripts/sandbox
	# Webhooks: the sandbox signs its events with a secret made for this run
	# (never stored) and POSTs them to the worker's /webhook.
	if [ -z "${STRIPE_WEBHOOK_SECRET:-}" ]; then
		STRIPE_WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	fi
	SANDBOX_WEBHOOK_URL="http://$HOST:$PORT/webhook"
	export STRIPE_WEBHOOK_SECRET SANDBOX_WEBHOOK_URL
	setsid "$bin_dir/stripe-sandbox" -addr "$HOST:$SANDBOX_PORT" >>"$(out sandbox)" 2>&1 &
	pids+=($!)
	wait_http "$SANDBOX_URL/_sandbox/health" 30 "the Stripe sandbox"
	# Development-only values: a fake key the sandbox accepts, and the
	# sandbox's stand-in for Stripe.js instead of js.stripe.com.
	vars+=(--var "STRIPE_SECRET_KEY:sk_test_sandbox"
		--var "STRIPE_PUBLISHABLE_KEY:pk_test_sandbox"
		--var "STRIPE_API_BASE:$SANDBOX_URL"
		--var "STRIPE_JS_URL:$SANDBOX_URL/stripe.js"
		--var "STRIPE_WEBHOOK_SECRET:$STRIPE_WEBHOOK_SECRET")
	# The operator API (GET /admin/orders, ...), with a token made for this run.
	if [ -z "${ADMIN_TOKEN:-}" ] && ! { [ -f .dev.vars ] && grep -qE '^[[:space:]]*ADMIN_TOKEN[[:space:]]*=' .dev.vars; }; then
		ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	fi
	if [ -n "${ADMIN_TOKEN:-}" ]; then
		vars+=(--var "ADMIN_TOKEN:$ADMIN_TOKEN")
		export ADMIN_TOKEN
	fi
	export SANDBOX_URL
	# The pages' Content-Security-Policy (site/_headers) must also allow the
	# sandbox's origin: serve a copy of the built site whose policy adds it,
	# leaving dist/site (what gets deployed) as built.
	go run ./build dev-site -site-out dist/site -dev-site-out "$stack_tmp/site" -dev-origin "$SANDBOX_URL"
	assets=(--assets "$stack_tmp/site")
fi
# Other sites allowed to use the worker: by default the examples server's origin.
if [ -z "${ALLOWED_ORIGINS+set}" ] && ! { [ -f .dev.vars ] && grep -qE '^[[:space:]]*ALLOWED_ORIGINS[[:space:]]*=' .dev.vars; }; then
	ALLOWED_ORIGINS="http://$HOST:$EXAMPLES_PORT,http://localhost:$EXAMPLES_PORT"
fi
[ -z "${ALLOWED_ORIGINS:-}" ] || vars+=(--var "ALLOWED_ORIGINS:$ALLOWED_ORIGINS")
for v in ${WRANGLER_VARS:-}; do vars+=(--var "$v"); done
# wrangler splits a --var at its first colon only, so JSON passes unchanged.
[ -z "${STACK_CATALOG_JSON:-}" ] || vars+=(--var "CATALOG_JSON:$STACK_CATALOG_JSON")

# Orders live in D1 (binding DB): apply the schema to the local database first.
d1=()
if [ -n "${D1_PERSIST_DIR:-}" ]; then
	d1=(--persist-to "$D1_PERSIST_DIR")
elif [ $# -gt 0 ]; then
	d1_tmp=$(mktemp -d)
	D1_PERSIST_DIR=$d1_tmp
	d1=(--persist-to "$D1_PERSIST_DIR")
fi
export D1_PERSIST_DIR
if ! wrangler d1 migrations apply DB --local "${d1[@]}" </dev/null >>"$(out d1-migrations)" 2>&1; then
	echo "stack: applying the D1 migrations (worker/migrations) failed; see ${STACK_LOG_DIR:-the output above}" >&2
	exit 1
fi

# Rate limits (RATE_LIMIT above). wrangler resolves a config file's paths
# (assets, migrations) from its directory and reads .dev.vars there, so the
# copy sits next to wrangler.toml, named for this run (.gitignore), and goes
# on exit.
config=()
[ -n "${RATE_LIMIT:-}" ] || [ $# -eq 0 ] || RATE_LIMIT=1000000
if [ -n "${RATE_LIMIT:-}" ]; then
	stack_config=.wrangler-stack-$$.toml
	limit_line='^simple[[:space:]]*=[[:space:]]*\{[[:space:]]*limit[[:space:]]*=[[:space:]]*'
	case $RATE_LIMIT in
	off) awk '/^\[\[ratelimits\]\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' wrangler.toml >"$stack_config" ;;
	*[!0-9]*) echo "stack: RATE_LIMIT must be a whole number or off" >&2; exit 1 ;;
	*) sed -E "s/($limit_line)[0-9]+/\1$RATE_LIMIT/" wrangler.toml >"$stack_config"
		if [ "$(grep -c '^\[\[ratelimits\]\]' "$stack_config")" != "$(grep -cE "$limit_line$RATE_LIMIT[^0-9]" "$stack_config")" ]; then
			echo "stack: cannot set RATE_LIMIT: write each [[ratelimits]] binding's limits in wrangler.toml as one line, simple = { limit = N, period = P }" >&2
			exit 1
		fi ;;
	esac
	config=(--config "$stack_config")
fi

BASE_URL="http://$HOST:$PORT"
export BASE_URL
setsid wrangler dev "$WORKER_SCRIPT" "${config[@]}" --local --ip "$HOST" --port "$PORT" \
	--inspector-port "$INSPECTOR_PORT" --show-interactive-dev-session=false \
	"${d1[@]}" "${assets[@]}" "${vars[@]}" </dev/null >>"$(out wrangler)" 2>&1 &
pids+=($!)
WRANGLER_PID=$!
export WRANGLER_PID
wait_http "$BASE_URL/config" 90 "wrangler dev"

if [ $# -gt 0 ]; then
	"$@"
else
	# The embed snippet's examples, as another site (another origin) would serve them.
	setsid node scripts/examples-server.mjs --port "$EXAMPLES_PORT" --worker "$BASE_URL" \
		${SANDBOX_URL:+--sandbox "$SANDBOX_URL"} >>"$(out examples)" 2>&1 &
	pids+=($!)
	wait_http "http://$HOST:$EXAMPLES_PORT/plain.html" 10 "the examples server"
	echo
	echo "  Checkout kit running at $BASE_URL  (Stripe: $STRIPE_MODE${SANDBOX_URL:+, sandbox at $SANDBOX_URL})"
	echo "  Open $BASE_URL/ and buy something; test card 4242 4242 4242 4242. Ctrl-C stops."
	echo "  The embed snippet on another site: http://$HOST:$EXAMPLES_PORT/plain.html and http://$HOST:$EXAMPLES_PORT/hugo-shaped/"
	echo "  A two-page shop with a cart (cart.js) on that site: http://$HOST:$EXAMPLES_PORT/shop/ (promotion code SAVE10 in the sandbox)"
	if [ -n "${ADMIN_TOKEN:-}" ] && [ "$STRIPE_MODE" = sandbox ]; then
		echo "  Orders (the operator API, token made for this run):"
		echo "    curl -H 'Authorization: Bearer $ADMIN_TOKEN' $BASE_URL/admin/orders"
	fi
	echo
	wait "${pids[@]}"
fi
