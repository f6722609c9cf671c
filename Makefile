# Vigil — two commands: `make dev` serves the worker locally, `make test` runs every test.
# Each target installs what is missing first; installed tools are reused (see `tools`).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

WORKER_BUILD_VERSION := 0.8.7
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/"/, "", $$3); print $$3}' Cargo.lock)
CARGO_BIN := $(HOME)/.cargo/bin
NODE_BIN := $(CURDIR)/node_modules/.bin
STATE_DIR := $(CURDIR)/.wrangler/state
PORT ?= 8787
APP_PORT ?= 8788
TAIL_PORT ?= 8789
# One dev registry for `make dev-example`'s two `wrangler dev` processes, so the example
# application's Durable Object binding (`script_name = "vigil"`) reaches this hub.
export WRANGLER_REGISTRY_PATH := $(CURDIR)/.wrangler/registry

# worker-build uses these instead of downloading its own copies (which fails offline).
export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
export WASM_OPT_BIN := $(NODE_BIN)/wasm-opt
export ESBUILD_BIN := $(NODE_BIN)/esbuild
export WRANGLER_SEND_METRICS := false
export PATH := $(CARGO_BIN):$(PATH)

.PHONY: help tools test-tools build build-test-sender build-example migrate migrate-example dev dev-example test lint bench clean check-config

help:
	@echo "make dev    install what is missing, build, migrate local D1, serve on 127.0.0.1:$(PORT)"
	@echo "make dev-example  the hub on 127.0.0.1:$(PORT), the example application on 127.0.0.1:$(APP_PORT), the tailed JS worker on 127.0.0.1:$(TAIL_PORT)"
	@echo "make test   install what is missing, build, run unit and integration tests"
	@echo "make lint   cargo fmt --check and clippy -D warnings for host and wasm32"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make check-config [CONFIG=path]  validate vigil.config.json with the Worker's own parser"

## tools: the Rust target, worker-build, the wasm-bindgen CLI and the npm packages, each
## installed only when missing or at the wrong version.
tools: node_modules/.installed
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)" \
	  || cargo install worker-build --version $(WORKER_BUILD_VERSION)
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" \
	  || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## test-tools: Prometheus (with promtool), Alertmanager, the blackbox exporter and headless
## Chromium (with chromedriver) from Debian's packages, for the integration tests.
test-tools:
	@command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null \
	  && command -v prometheus-blackbox-exporter >/dev/null \
	  && command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	       prometheus prometheus-alertmanager prometheus-blackbox-exporter chromium chromium-driver; }

# The features worker-build enables for wasm-opt (others, e.g. GC, break the module in workerd).
export WASM_FEATURES := --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

# What the Rust workers are built from. Each build is a file target: with nothing changed,
# `make build` (which is also wrangler's build command) does nothing, so `make dev` builds once.
LIBRARY_INPUTS := $(shell find src core/src -name '*.rs') Cargo.toml Cargo.lock core/Cargo.toml \
  build.rs $(wildcard migrations/*.sql)

build: tools build/index_bg.wasm
build-test-sender: tools tests/sender/build/index_bg.wasm
build-example: tools examples/app/build/index_bg.wasm

# worker-build keeps the name section (it passes --debuginfo to wasm-opt); it only serves stack
# traces, so it is stripped here to keep the module small.
build/index_bg.wasm: $(LIBRARY_INPUTS)
	worker-build --release
	$(WASM_OPT_BIN) $(WASM_FEATURES) --strip-debug --strip-producers build/index_bg.wasm -o build/index_bg.wasm

# The integration tests' second worker (tests/sender), which ships counts through the library.
tests/sender/build/index_bg.wasm: $(LIBRARY_INPUTS) $(shell find tests/sender/src -name '*.rs') tests/sender/Cargo.toml
	cd tests/sender && worker-build --release

# The example application that embeds Vigil (examples/app).
examples/app/build/index_bg.wasm: $(LIBRARY_INPUTS) $(shell find examples/app/src -name '*.rs') examples/app/Cargo.toml
	cd examples/app && worker-build --release

migrate: build
	CI=1 $(NODE_BIN)/wrangler d1 migrations apply DB --local --persist-to $(STATE_DIR)

dev: migrate
	@test -f .dev.vars || cp .dev.vars.example .dev.vars
	$(NODE_BIN)/wrangler dev --local --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE_DIR) --test-scheduled

migrate-example: build-example
	cd examples/app && CI=1 $(NODE_BIN)/wrangler d1 migrations apply DB --local --persist-to $(STATE_DIR)/example

# The hub, the example application and the tailed JavaScript worker, each in its own
# `wrangler dev` (wrangler gives a port only to the first worker of one), joined by the dev
# registry above. Local trace events carry no script name, so the hub counts them as "shop".
# Ctrl-C stops all three.
dev-example: migrate migrate-example
	@test -f .dev.vars || cp .dev.vars.example .dev.vars
	@set -m; \
	$(NODE_BIN)/wrangler dev --local --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE_DIR) --test-scheduled \
	  --var TAIL_UNNAMED_SERVICE:shop --var 'ROUTES:{"shop":["/products/:id"]}' & hub=$$!; \
	(cd examples/app && exec $(NODE_BIN)/wrangler dev --local --ip 127.0.0.1 --port $(APP_PORT) --inspector-port 0 --persist-to $(STATE_DIR)/example --test-scheduled) & app=$$!; \
	(cd examples/tail-js && exec $(NODE_BIN)/wrangler dev --local --ip 127.0.0.1 --port $(TAIL_PORT) --inspector-port 0 --persist-to $(STATE_DIR)/tail-js) & shop=$$!; \
	trap 'kill -TERM -- -$$hub -$$app -$$shop 2>/dev/null' INT TERM EXIT; \
	wait $$hub $$app $$shop

# The integration harness builds the worker once (`make build`) before starting instances.
test: tools test-tools
	cargo test --workspace

lint: tools
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --lib --target wasm32-unknown-unknown -- -D warnings

## check-config: every problem the Worker would report in vigil.config.json (or CONFIG=path),
## found by the core's own parser built for this machine; exits non-zero on any.
CONFIG ?= vigil.config.json
check-config:
	cargo run --quiet -p vigil-core --bin check-config -- $(CONFIG)

bench: build build-test-sender build-example
	bench/run.sh

clean:
	rm -rf build tests/sender/build examples/app/build target .wrangler
