# The checkout kit's task runner. Every target installs what it needs first
# (scripts/install-tools.sh is idempotent: seconds when nothing is missing;
# SKIP_TOOLS=1 skips it, as scripts/test.sh does after installing once).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := . scripts/env.sh &&
COMPILER ?= tinygo
PORT ?= 8787
FUZZTIME ?= 60s
LOAD_REQUESTS ?= 10000
LOAD_CONCURRENCY ?= 50
TOOLS := $(if $(SKIP_TOOLS),,tools)

# The end-to-end suites (scripts/e2e/<suite>, each a Go package whose
# TestMain starts its own stack), the builds they run against, and the
# node tests (scripts/e2e/*.test.mjs).
E2E_SUITES ?= checkout payments webhooks hardening faults ratelimit devstop
WORKER_DIRS ?= dist/worker-go dist/worker
E2E_TIMEOUT ?= 30m
TEST_FUZZTIME ?= 10s
EMBED_SITE_ORIGIN ?= http://127.0.0.1:18790
E2E_LOG_DIR ?= dist/test-logs
export E2E_LOG_DIR
# On a stack (go run ./scripts/stack), one after the other.
NODE_STACK_TESTS := browser payments embed cart instance
# No stack: the build's loader in Node with stand-ins (reference_parity and
# reference_hook_parity: the bench's JS reference against the build, Stripe
# calls and the webhook's D1 statements compared).
NODE_TESTS := webhook_instance ratelimit_instance reference_parity reference_hook_parity

.PHONY: help tools build dev serve test check unit fuzz-short contract builds e2e browser node secretscan fuzz load bench deploy clean

help:
	@echo "make dev        run the kit at http://127.0.0.1:$(PORT) (offline Stripe sandbox unless .dev.vars sets STRIPE_SECRET_KEY)"
	@echo "make test       run every test below (installs tools, builds both wasm flavours); ends with 'N passed, N failed'"
	@echo "  make check      gofmt, go vet (every package and tag), tsc --noEmit"
	@echo "  make unit       host Go tests (everything but scripts/e2e)"
	@echo "  make fuzz-short every Go fuzz target for TEST_FUZZTIME (default 10s)"
	@echo "  make contract   the worker's Stripe requests validated by stripe-mock"
	@echo "  make builds     dist/site, dist/worker-go (Go) and dist/worker (TinyGo)"
	@echo "  make e2e        the Go end-to-end suites E2E_SUITES for each build in WORKER_DIRS"
	@echo "                  (one: make e2e E2E_SUITES=webhooks WORKER_DIRS=dist/worker,"
	@echo "                  or go test -count=1 ./scripts/e2e/webhooks)"
	@echo "  make browser    the node tests on a stack (browser, payments, embed, cart, instance) for each build"
	@echo "  make node       the node tests without a stack (webhook_instance, ratelimit_instance, reference_parity, reference_hook_parity) for each build"
	@echo "  make secretscan the built site and workers and every test log, for this run's secrets"
	@echo "make fuzz       run every Go fuzz target for FUZZTIME each (default 60s)"
	@echo "make load       $(LOAD_REQUESTS) requests at concurrency $(LOAD_CONCURRENCY) through wrangler dev: errors, req/s, memory"
	@echo "make bench      print sizes and CPU per request for both compilers"
	@echo "make build      build dist/site and dist/worker (COMPILER=tinygo|go)"
	@echo "make serve      make dev without the build first (what is in dist/ now)"
	@echo "make deploy     build and run wrangler deploy"
	@echo "make clean      remove dist/ and .wrangler/"

tools:
	@bash scripts/install-tools.sh

build: $(TOOLS)
	@$(ENV) go run ./build all -compiler $(COMPILER)

# make dev serves the build and reloads on edits (scripts/stack/dev.go). The
# stack command is built first and exec'd, so that it is make's own child:
# make passes it a SIGTERM, and a Ctrl-C reaches it with the terminal's
# process group; it then stops every server it started (`go run` would not
# pass a SIGTERM on).
SERVE = $(ENV) go build -o dist/.bin/stack ./scripts/stack && \
	PORT=$(PORT) COMPILER=$(COMPILER) exec dist/.bin/stack -dev

dev: build
	@$(SERVE)

serve: $(TOOLS)
	@$(SERVE)

test:
	@bash scripts/test.sh

check: $(TOOLS)
	@$(ENV) unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
		if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	@$(ENV) go vet ./... && go vet -tags contract ./worker && GOOS=js GOARCH=wasm go vet ./wasm
	@$(ENV) tsc --noEmit -p site

unit: $(TOOLS)
	@$(ENV) go test -count=1 $$(go list ./... | grep -v '/scripts/e2e/')

fuzz-short: $(TOOLS)
	@FUZZTIME=$(TEST_FUZZTIME) bash scripts/fuzz.sh

contract: $(TOOLS)
	@$(ENV) go test -count=1 -tags contract ./worker

builds: $(TOOLS)
	@$(ENV) go run ./build site && \
		go run ./build worker -compiler go -worker-out dist/worker-go && \
		go run ./build worker -compiler tinygo -worker-out dist/worker

e2e: $(TOOLS)
	@$(ENV) for dir in $(WORKER_DIRS); do for suite in $(E2E_SUITES); do \
		echo "--- $$suite suite: $$dir"; \
		WORKER_DIR=$$dir go test -count=1 -v -timeout $(E2E_TIMEOUT) ./scripts/e2e/$$suite || exit 1; \
	done; done

browser: $(TOOLS)
	@$(ENV) for dir in $(WORKER_DIRS); do \
		WORKER_DIR=$$dir EMBED_SITE_ORIGIN=$(EMBED_SITE_ORIGIN) ALLOWED_ORIGINS=$(EMBED_SITE_ORIGIN) \
		go run ./scripts/stack -name browser -- bash -c 'for t in $(NODE_STACK_TESTS); do node --test scripts/e2e/$$t.test.mjs || exit 1; done' || exit 1; \
	done

node: $(TOOLS)
	@$(ENV) for dir in $(WORKER_DIRS); do for t in $(NODE_TESTS); do \
		WORKER_DIR=$$dir node --test scripts/e2e/$$t.test.mjs || exit 1; \
	done; done

secretscan: $(TOOLS)
	@$(ENV) go run ./scripts/secretscan -env ADMIN_TOKEN,CUSTOMER_TOKEN_SECRET,STRIPE_WEBHOOK_SECRET dist/site dist/worker dist/worker-go "$(E2E_LOG_DIR)"

fuzz: tools
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

load: build
	@$(ENV) PORT=$(PORT) LOAD_REQUESTS=$(LOAD_REQUESTS) LOAD_CONCURRENCY=$(LOAD_CONCURRENCY) \
		go test -count=1 -v -timeout $(E2E_TIMEOUT) -run '^TestLoad$$' ./scripts/e2e/hardening

bench: tools
	@bash scripts/bench.sh

deploy: build
	@$(ENV) wrangler deploy

clean:
	rm -rf dist .wrangler
