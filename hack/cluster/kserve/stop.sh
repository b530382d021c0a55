#!/usr/bin/env bash
# Stop the KServe controller manager start.sh started, by its recorded pid.
# With `--keep-cluster-usable` (used when the cluster keeps running) its
# webhook configurations are removed too, so failurePolicy: Fail does not
# block InferenceServices and their pods while nothing serves the hooks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
state=${EMBEDSERVE_CLUSTER_STATE:-$repo/.cluster}
dir="$state/kserve"
if [ "${1:-}" = --keep-cluster-usable ] && [ -f "$dir/webhooks.json" ] && [ -x "$state/bin/kubectl" ]; then
  "$state/bin/kubectl" --kubeconfig "$state/kubeconfig" delete --ignore-not-found -f "$dir/webhooks.json" \
    >/dev/null 2>&1 || true
fi
if [ -f "$dir/manager.pid" ]; then
  pid=$(cat "$dir/manager.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/manager.pid"
fi
echo "[kserve] controller manager stopped" >&2
