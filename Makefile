# The README's two commands: `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
export NODEWARD_CACHE_DIR ?= $(HOME)/.cache/nodeward
# Every target runs on the pinned Node.js LTS that `deps` installs (e2e/node-version.sh), not the system's.
export PATH := $(shell bash e2e/node-version.sh dir)/bin:$(PATH)

.PHONY: deps testenv build lint test unit demo demo-down bench images release clean

deps:
	@bash e2e/deps.sh

testenv: deps
	@bash e2e/testenv/build.sh >/dev/null
	@bash e2e/testenv/build.sh kube-controller-manager >/dev/null

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

# OCI image archives of the operator and the agent (images/rootfs.sh, images/build.sh): built twice, the bytes compared.
images: deps build
	@bash images/images.sh dist/images

# dist/install.yaml (config/default with the images pinned by digest) and dist/images/*.oci.tar.
release: images
	@kubectl kustomize config/default >dist/images/kustomize.yaml
	@node e2e/dist/tools/release-bundle.js dist/images/kustomize.yaml dist/images/digests dist/install.yaml $(IMAGE_REGISTRY)
	@rm dist/images/kustomize.yaml
	@echo "release: dist/install.yaml, dist/images/{operator,agent}.oci.tar" >&2

clean:
	rm -rf */dist node_modules/.nodeward-lock-sum
