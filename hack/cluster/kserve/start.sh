#!/usr/bin/env bash
# Start (or reuse) KServe's controller manager as a local process against the
# cluster up.sh started, with its mutating and validating webhooks active:
#
#  1. build.sh's cached binary (github.com/kserve/kserve/cmd/manager, the
#     release in go.mod);
#  2. KServe's own objects: the CRDs the manager watches beyond the three
#     up.sh installs, namespace kserve, its ServiceAccount and ClusterRole,
#     inferenceservice-config (Standard/RawDeployment default) and the default
#     ClusterStorageContainer (manifests/kserve.yaml);
#  3. a CA and a serving certificate for 127.0.0.1 generated here (openssl),
#     placed where controller-runtime looks for them ($TMPDIR/k8s-webhook-server/serving-certs);
#  4. the manager, under the ServiceAccount's token (so KServe's RBAC is what
#     it may do), metrics and probes on 127.0.0.1, webhooks on a free port;
#  5. once /readyz answers, KServe's webhook configurations with each service
#     reference replaced by https://127.0.0.1:<port><path> and the CA bundle.
#
# Usage: start.sh <kubeconfig> <control-plane bin dir>; state in
# $EMBEDSERVE_CLUSTER_STATE/kserve (manager.log, manager.pid, ports).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
kubeconfig=$1
cpbin=$2
state=${EMBEDSERVE_CLUSTER_STATE:-$repo/.cluster}
dir="$state/kserve"
log() { printf '[kserve %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kubectl() { "$cpbin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
t0=$(date +%s.%N)
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"; }

alive() {
  [ -f "$dir/manager.pid" ] && [ -f "$dir/ports" ] || return 1
  local pid; pid=$(cat "$dir/manager.pid")
  kill -0 "$pid" 2>/dev/null || return 1
  # shellcheck disable=SC1091
  . "$dir/ports"
  curl -fsS "http://127.0.0.1:$probe_port/readyz" >/dev/null 2>&1
}

# KServe's webhook configurations, registered once the server answers
# (failurePolicy Fail), re-applied when the manager is reused.
register_webhooks() {
  kubectl create --dry-run=client -o json -f "$here/manifests/webhooks.upstream.yaml" \
    | python3 "$here/webhooks.py" "$webhook_port" "$dir/ca.crt" > "$dir/webhooks.json"
  kubectl apply --server-side --force-conflicts --field-manager=embedserve-cluster -f "$dir/webhooks.json" >/dev/null
}

if alive; then
  register_webhooks
  log "reusing the running KServe controller manager (pid $(cat "$dir/manager.pid"))"
  exit 0
fi

kbin=$("$here/build.sh")
mkdir -p "$dir/tmp/k8s-webhook-server/serving-certs"
certs="$dir/tmp/k8s-webhook-server/serving-certs"

# --- KServe's objects -------------------------------------------------------
kubectl apply --server-side --field-manager=embedserve-cluster -f "$here/crds" >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
  crd/inferencegraphs.serving.kserve.io crd/trainedmodels.serving.kserve.io \
  crd/clusterstoragecontainers.serving.kserve.io >/dev/null
kubectl apply --server-side --field-manager=embedserve-cluster -f "$here/manifests/kserve.yaml" >/dev/null

# --- the manager's identity: a token of its ServiceAccount -------------------
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca_data=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
ca_file=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
if [ -n "$ca_data" ]; then
  echo "$ca_data" | base64 -d > "$dir/apiserver-ca.crt"
  cluster_tls="certificate-authority: \"$dir/apiserver-ca.crt\""
elif [ -n "$ca_file" ]; then
  cluster_tls="certificate-authority: \"$ca_file\""
else
  cluster_tls="insecure-skip-tls-verify: true"  # as the admin kubeconfig kwokctl wrote
fi
token=$(kubectl -n kserve create token kserve-controller-manager --duration=8760h)
cat > "$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "$server", $cluster_tls}
users:
- name: kserve-controller-manager
  user: {token: "$token"}
contexts:
- name: kserve
  context: {cluster: local, user: kserve-controller-manager, namespace: kserve}
current-context: kserve
EOF
chmod 600 "$dir/kubeconfig"

# --- webhook serving certificate for 127.0.0.1 --------------------------------
if [ ! -s "$certs/tls.crt" ] || [ ! -s "$dir/ca.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=embedserve-kserve-webhook-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$certs/tls.key" -out "$dir/tls.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$dir/tls.ext"
  openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -extfile "$dir/tls.ext" -out "$certs/tls.crt" 2>/dev/null
  chmod 600 "$dir/ca.key" "$certs/tls.key"
fi

# --- the manager --------------------------------------------------------------
# Three free ports (two clusters may run side by side). The metrics and probe
# servers bind 127.0.0.1; controller-runtime's webhook server has no host
# flag, so it listens on every interface of this machine, TLS-only.
read -r webhook_port metrics_port probe_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
printf 'webhook_port=%s\nmetrics_port=%s\nprobe_port=%s\n' "$webhook_port" "$metrics_port" "$probe_port" > "$dir/ports"
start=$(date +%s.%N)
# setsid: the manager outlives this script and make; down.sh stops it by its pid.
TMPDIR="$dir/tmp" POD_NAMESPACE=kserve KUBECONFIG="$dir/kubeconfig" setsid nice -n 5 "$kbin/manager" \
  --metrics-addr="127.0.0.1:$metrics_port" --health-probe-addr="127.0.0.1:$probe_port" \
  --webhook-port="$webhook_port" --leader-elect=false >"$dir/manager.log" 2>&1 < /dev/null &
echo $! > "$dir/manager.pid"
deadline=$(( $(date +%s) + 180 ))
until curl -fsS "http://127.0.0.1:$probe_port/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$dir/manager.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    log "the KServe controller manager did not become ready; last lines of $dir/manager.log:"
    tail -30 "$dir/manager.log" >&2
    exit 1
  fi
  sleep 0.5
done
ready=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
echo "$ready" > "$dir/start-seconds"

register_webhooks
log "KServe $(cat "$kbin/.version" 2>/dev/null || echo '?') controller manager ready in ${ready}s (pid $(cat "$dir/manager.pid"), webhooks on 127.0.0.1:$webhook_port); setup took $(elapsed)s; log $dir/manager.log"
