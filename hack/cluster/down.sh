#!/usr/bin/env bash
# Stop the local control plane started by up.sh and remove its state. kwokctl
# stops the processes it recorded in its pid files (never by process name).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# EMBEDSERVE_CLUSTER_STATE and _NAME let a second cluster (the benchmark's)
# run beside the default one.
state=${EMBEDSERVE_CLUSTER_STATE:-$repo/.cluster}
name=${EMBEDSERVE_CLUSTER_NAME:-embedserve}
export KWOK_WORKDIR="$state/kwok"
# Its real node first (hack/node), whose pods are deleted through the API.
if [ -d "$state/node" ]; then
  EMBEDSERVE_CLUSTER_STATE="$state" "$repo/hack/node/down.sh" || true
fi
# KServe's controller manager (hack/cluster/kserve/start.sh), by its pid file.
EMBEDSERVE_CLUSTER_STATE="$state" "$repo/hack/cluster/kserve/stop.sh" 2>/dev/null || true
if [ -x "$state/bin/kwokctl" ] && [ -d "$KWOK_WORKDIR/clusters/$name" ]; then
  "$state/bin/kwokctl" delete cluster --name "$name" --kubeconfig "$state/kubeconfig" >/dev/null 2>&1 || true
fi
rm -rf "$KWOK_WORKDIR" "$state/kubeconfig" "$state/kserve"
echo "[cluster] stopped" >&2
