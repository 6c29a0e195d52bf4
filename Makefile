# The checkout kit's task runner. Every target installs what it needs first
# (scripts/install-tools.sh is idempotent: seconds when nothing is missing).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := . scripts/env.sh &&
COMPILER ?= tinygo
PORT ?= 8787
FUZZTIME ?= 60s
LOAD_REQUESTS ?= 10000
LOAD_CONCURRENCY ?= 50

.PHONY: help tools build dev test fuzz load bench deploy clean

help:
	@echo "make dev      run the kit at http://127.0.0.1:$(PORT) (offline Stripe sandbox unless .dev.vars sets STRIPE_SECRET_KEY)"
	@echo "make test     run every test (installs tools, builds both wasm flavours)"
	@echo "make fuzz     run every Go fuzz target for FUZZTIME each (default 60s)"
	@echo "make load     $(LOAD_REQUESTS) requests at concurrency $(LOAD_CONCURRENCY) through wrangler dev: errors, req/s, memory"
	@echo "make bench    print sizes and CPU per request for both compilers"
	@echo "make build    build dist/site and dist/worker (COMPILER=tinygo|go)"
	@echo "make deploy   build and run wrangler deploy"
	@echo "make clean    remove dist/ and .wrangler/"

tools:
	@bash scripts/install-tools.sh

build: tools
	@$(ENV) go run ./build all -compiler $(COMPILER)

dev: build
	@PORT=$(PORT) bash scripts/stack.sh

test:
	@bash scripts/test.sh

fuzz: tools
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

load: build
	@PORT=$(PORT) LOAD_REQUESTS=$(LOAD_REQUESTS) LOAD_CONCURRENCY=$(LOAD_CONCURRENCY) bash scripts/hardening.sh -run '^TestLoad$$'

bench: tools
	@bash scripts/bench.sh

deploy: build
	@$(ENV) wrangler deploy

clean:
	rm -rf dist .wrangler
