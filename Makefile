# Everything a new user or CI needs: `make demo` and `make test` install what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM_STAMP := node_modules/.install-stamp

.PHONY: help install build lint typecheck types test demo bench soak fuzz clean system-deps

help:
	@echo "make demo   install, start Redis, the demo app and the realtime server, print the URLs"
	@echo "make test   install, lint, typecheck, build and run every test"
	@echo "make bench  run the benchmarks in bench/ and print one table"
	@echo "make soak   a 10-minute run that prints the servers' memory every minute (bench/soak.js)"
	@echo "make fuzz   run the property-based fuzzing with 10,000 inputs per target"

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

install: $(NPM_STAMP)

system-deps:
	@scripts/system-deps.sh

build: install
	npm run build

lint: install
	npm run lint

typecheck: install
	npm run typecheck

# Type tests (tstyche) of the published declarations in dist/, through package.json exports.
types: build
	npx tstyche

test: install system-deps lint typecheck build types
	npx tap

demo: install build
	@scripts/system-deps.sh redis
	node demo/run.js

bench: install build
	@scripts/system-deps.sh redis wrk valgrind
	node bench/run.js

soak: install build
	@scripts/system-deps.sh redis
	node bench/soak.js

fuzz: install build system-deps
	USERLOG_FUZZ_RUNS=10000 npx tap --disable-coverage test/fuzz/*.test.ts

clean:
	rm -rf dist .tap coverage test-artifacts
