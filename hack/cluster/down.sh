#!/usr/bin/env bash
# Stop the local control plane started by up.sh and remove its state. kwokctl
# stops the processes it recorded in its pid files (never by process name).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
state="$repo/.cluster"
export KWOK_WORKDIR="$state/kwok"
if [ -x "$state/bin/kwokctl" ] && [ -d "$KWOK_WORKDIR/clusters/embedserve" ]; then
  "$state/bin/kwokctl" delete cluster --name embedserve --kubeconfig "$state/kubeconfig" >/dev/null 2>&1 || true
fi
rm -rf "$KWOK_WORKDIR" "$state/kubeconfig"
echo "[cluster] stopped" >&2
