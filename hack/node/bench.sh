#!/usr/bin/env bash
# Load the models the real node serves (inventories/local-real-node) with
# playbooks/benchmark.yml: req/s, tok/s and p50/p95/p99 per model.
#
#   hack/node/bench.sh [ansible-playbook args...]     (make demo runs it last)
#
# OpenShift's router is not here: the inventory sets benchmark_port_forward,
# so the benchmark role reaches each model's Service through a
# `kubectl port-forward` on 127.0.0.1 (the stand-in for its Route), which it
# starts and stops itself, as verify does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
repo=$node_repo
cd "$repo"
PATH="$EMBEDSERVE_CLUSTER_STATE/bin:$PATH" "$repo/.venv/bin/ansible-playbook" -i inventories/local-real-node \
  playbooks/benchmark.yml -e "{\"embedserve_kubeconfig\": \"$node_kubeconfig\"}" \
  -e benchmark_duration=20 -e benchmark_concurrency=2 -e benchmark_output_dir=bench-results/real-node "$@"
