#!/usr/bin/env bash
# Start (or reuse) the local control plane: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok, all on 127.0.0.1, started
# by kwokctl's binary runtime from the binaries build.sh compiled. Installs the
# KServe, Route and Template CRDs, the dashboard namespace, a default
# StorageClass and two fake nodes (one time-sliced A10G GPU node).
#
# Writes the kubeconfig to .cluster/kubeconfig and links the binaries
# (kubectl among them) at .cluster/bin.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/hack/cluster"
# EMBEDSERVE_CLUSTER_STATE and _NAME let a second cluster (the benchmark's)
# run beside the default one.
state=${EMBEDSERVE_CLUSTER_STATE:-$repo/.cluster}
name=${EMBEDSERVE_CLUSTER_NAME:-embedserve}
export KWOK_WORKDIR="$state/kwok"
kubeconfig="$state/kubeconfig"

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
t0=$(date +%s.%N)
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"; }

bin=$("$here/build.sh")
mkdir -p "$state"
ln -sfn "$bin" "$state/bin"
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
# `kubectl wait` errors out instead of waiting while an object has no status
# yet (fresh CRDs and Nodes), so retry it until the deadline.
wait_for() {  # wait_for <condition> <seconds> <object>...
  local cond=$1 deadline=$(( $(date +%s) + $2 )); shift 2
  until kubectl wait --for="condition=$cond" --timeout=10s "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out waiting for $cond on $*"; kubectl get "$@" >&2 || true; return 1
    fi
    sleep 1
  done
}

# --- KServe (hack/cluster/kserve) -------------------------------------------
# KServe's other CRDs (InferenceGraph, TrainedModel, ClusterStorageContainer:
# the kserve_runtime role creates a ClusterStorageContainer) always; KServe's
# own controller manager with its webhooks (kserve/start.sh; built once,
# about 10-15 minutes, then cached), so what kserve mode writes is reconciled
# and admitted by the real KServe. EMBEDSERVE_KSERVE_CONTROLLER=0 leaves it
# out (CRDs only), e.g. for a throw-away second cluster.
kserve_up() {
  kubectl apply --server-side --field-manager=embedserve-cluster -f "$here/kserve/crds" >/dev/null
  if [ "${EMBEDSERVE_KSERVE_CONTROLLER:-1}" = 1 ]; then
    EMBEDSERVE_CLUSTER_STATE="$state" "$here/kserve/start.sh" "$kubeconfig" "$bin"
  fi
}
# --- end KServe ----------------------------------------------------------------

if [ -f "$kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
  log "reusing the running cluster ($kubeconfig)"
  kserve_up
  exit 0
fi

if [ -d "$KWOK_WORKDIR/clusters/$name" ]; then
  # A cluster from an earlier session whose processes are gone: its etcd data
  # is disposable test state, so start clean rather than half-resume it.
  log "removing a stopped cluster left in $KWOK_WORKDIR"
  "$bin/kwokctl" delete cluster --name "$name" >/dev/null 2>&1 || true
  rm -rf "$KWOK_WORKDIR/clusters/$name"
fi

k8s_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/k8s/go.mod")
kwok_version=$(awk '$1 == "require" && $2 == "sigs.k8s.io/kwok" {print $3}' "$here/kwok/go.mod")
stages="$(cd "$here/kwok" && GOFLAGS=-mod=mod go env GOMODCACHE)/sigs.k8s.io/kwok@$kwok_version/kustomize/stage"
config="$state/kwokctl.yaml"
{
  cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: ${k8s_version#v}
  securePort: true
  kubeAuthorization: true
  kubeAdmission: true
  etcdBinary: $bin/etcd
  kubeApiserverBinary: $bin/kube-apiserver
  kubeControllerManagerBinary: $bin/kube-controller-manager
  kubeSchedulerBinary: $bin/kube-scheduler
  kubectlBinary: $bin/kubectl
  kwokControllerBinary: $bin/kwok
componentsPatches:
  - name: etcd
    extraArgs:
      # Test state only: skip fsync so the control plane stays fast on a busy disk.
      - key: unsafe-no-fsync
        value: "true"
  # kwok's binary runtime manages every node by default; limit it to the
  # annotated fake nodes so a real kubelet (hack/node/up.sh) runs its own
  # node and pods. The later flag wins over kwokctl's --manage-all-nodes=true.
  - name: kwok-controller
    extraArgs:
      - key: manage-all-nodes
        value: "false"
      - key: manage-nodes-with-annotation-selector
        value: kwok.x-k8s.io/node=fake
EOF
  # kwok loads its built-in Stages only when none are given, so pass the node
  # and pod Stages explicitly alongside the volume Stages that bind PVCs.
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
           volume/fast/pv-bind.yaml volume/fast/pv-delete.yaml volume/fast/pvc-provision.yaml \
           volume/fast/pvc-delete.yaml; do
    echo "---"
    cat "$stages/$f"
  done
} > "$config"

log "starting control plane (kube ${k8s_version}, kwok ${kwok_version}) on 127.0.0.1"
"$bin/kwokctl" create cluster --name "$name" --config "$config" --kubeconfig "$kubeconfig" \
  --wait 3m >"$state/kwokctl-create.log" 2>&1 || {
  log "kwokctl failed; its output:"; cat "$state/kwokctl-create.log" >&2; exit 1; }
log "control plane ready after $(elapsed)s"

# The InferenceService CRD is ~2 MB: too big for client-side apply's
# last-applied annotation, so every CRD goes in with server-side apply.
kubectl apply --server-side --field-manager=embedserve-cluster \
  -f "$here/crds/kserve/serving.kserve.io_servingruntimes.yaml" \
  -f "$here/crds/kserve/serving.kserve.io_clusterservingruntimes.yaml" \
  -f "$here/crds/kserve/serving.kserve.io_inferenceservices.yaml" \
  -f "$here/crds/openshift/routes.crd.yaml" \
  -f "$here/crds/openshift/template.openshift.io_templates.yaml" >/dev/null
wait_for Established 60 \
  crd/servingruntimes.serving.kserve.io crd/clusterservingruntimes.serving.kserve.io \
  crd/inferenceservices.serving.kserve.io crd/routes.route.openshift.io \
  crd/templates.template.openshift.io
kubectl apply --server-side --field-manager=embedserve-cluster \
  -f "$here/manifests/base.yaml" -f "$here/manifests/nodes.yaml" >/dev/null
wait_for Ready 60 node/gpu-node-a10g node/cpu-node
log "CRDs, nodes and namespaces installed; cluster ready after $(elapsed)s"
kserve_up  # KServe (hack/cluster/kserve), see above
log "kubeconfig: $kubeconfig"
