# The README's two commands: `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
export NODEWARD_CACHE_DIR ?= $(HOME)/.cache/nodeward
# Every target runs on the pinned Node.js LTS that `deps` installs (e2e/node-version.sh), not the system's.
export PATH := $(shell bash e2e/node-version.sh dir)/bin:$(PATH)

.PHONY: deps testenv build lint test unit demo demo-down bench clean

deps:
	@bash e2e/deps.sh

testenv: deps
	@bash e2e/testenv/build.sh >/dev/null

build: deps
	@npm run --silent build

lint: build
	@npx tsc -p tsconfig.test.json
	@npx eslint --max-warnings 0 .

# Everything: unit, fuzz, integration (real kube-apiserver, etcd, Redis, swtpm) and end-to-end.
test: testenv lint
	@npm test --silent

unit: build
	@npm test --silent -- --testPathIgnorePatterns 'int.test' 'e2e/'

demo: testenv build
	@node e2e/dist/demo/main.js

demo-down:
	@node e2e/dist/demo/down.js

bench: testenv build
	@node bench/dist/main.js

clean:
	rm -rf */dist node_modules/.nodeward-lock-sum
