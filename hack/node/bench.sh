#!/usr/bin/env bash
# Load the models the real node serves (inventories/local-real-node) with
# playbooks/benchmark.yml: req/s, tok/s and p50/p95/p99 per model.
#
#   hack/node/bench.sh [ansible-playbook args...]     (make demo runs it last)
#
# OpenShift's router is not here: each model's Service is reached through a
# `kubectl port-forward` on 127.0.0.1 (the stand-in for its Route), given to
# the benchmark role as benchmark_endpoints.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
repo=$node_repo
ns=vllm-real-node
work=$(mktemp -d)
pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
forward() {  # forward NAME SERVICE PORT: a port-forward in this shell, its local port in $work/NAME.port
  # the binary itself in the background (not the kubectl function, whose subshell would outlive a kill)
  "$EMBEDSERVE_CLUSTER_STATE/bin/kubectl" --kubeconfig "$node_kubeconfig" -n "$ns" \
    port-forward --address 127.0.0.1 "svc/$2" ":$3" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do
    if [[ "$(cat "$work/$1.log")" =~ Forwarding\ from\ 127\.0\.0\.1:([0-9]+) ]]; then
      echo "${BASH_REMATCH[1]}" > "$work/$1.port"; return 0
    fi
    sleep 0.2
  done
  echo "port-forward to svc/$2 did not start: $(cat "$work/$1.log")" >&2; return 1
}
forward minilm-cpu minilm-cpu 8000
forward minilm-cpu-kserve minilm-cpu-kserve-predictor 80
endpoints=$(printf '{"minilm-cpu": "http://127.0.0.1:%s", "minilm-cpu-kserve": "http://127.0.0.1:%s"}' \
  "$(cat "$work/minilm-cpu.port")" "$(cat "$work/minilm-cpu-kserve.port")")
cd "$repo"
"$repo/.venv/bin/ansible-playbook" -i inventories/local-real-node playbooks/benchmark.yml \
  -e "{\"embedserve_kubeconfig\": \"$node_kubeconfig\", \"benchmark_endpoints\": $endpoints}" \
  -e benchmark_duration=20 -e benchmark_concurrency=2 -e benchmark_output_dir=bench-results/real-node "$@"
