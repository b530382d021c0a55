#!/usr/bin/env bash
# Stop the real node started by hack/node/up.sh: its pods are deleted through
# the API first (so kubelet tears down their containers and CNI addresses
# properly), then kubelet, kube-proxy and containerd are stopped by the pids
# up.sh recorded, kube-proxy's iptables rules and the node's bridges removed.
# The image store in the cache is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
s=$EMBEDSERVE_NODE_STATE
log() { printf '[node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kubectl() { "$EMBEDSERVE_CLUSTER_STATE/bin/kubectl" --kubeconfig "$node_kubeconfig" --request-timeout=10s "$@"; }
alive() { [ -f "$s/$1.pid" ] && kill -0 "$(cat "$s/$1.pid")" 2>/dev/null; }
stop() {  # stop <name>: TERM, then KILL after 15 s, by recorded pid only
  alive "$1" || { rm -f "$s/$1.pid"; return 0; }
  local pid; pid=$(cat "$s/$1.pid"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$s/$1.pid"
}

[ -d "$s" ] || { log "no real node state at $s"; exit 0; }
if alive kubelet && kubectl get --raw /readyz >/dev/null 2>&1; then
  kubectl cordon "$EMBEDSERVE_NODE_NAME" >/dev/null 2>&1 || true
  kubectl delete pods --all-namespaces --field-selector "spec.nodeName=$EMBEDSERVE_NODE_NAME" \
    --wait=true --timeout=90s >/dev/null 2>&1 || log "some pods did not stop within 90s"
fi
stop kubelet
stop kube-proxy
# kube-proxy's iptables chains (up.sh links the binaries it ran at $s/bin).
if [ -x "$s/bin/kube-proxy" ]; then "$s/bin/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
# ... and kubelet's own (KUBE-FIREWALL, the canaries), which that leaves.
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  while "$ipt" -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  while "$ipt" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  for table in filter nat mangle; do
    for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY; do
      "$ipt" -t "$table" -F "$chain" 2>/dev/null && "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
done
if alive containerd; then
  # Containers kubelet had no time to stop: kill their tasks (the shims exit with them).
  for id in $(ctr_node tasks ls -q 2>/dev/null); do
    ctr_node tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  sleep 1
  for id in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $(ctr_node containers ls -q 2>/dev/null); do ctr_node containers delete "$id" >/dev/null 2>&1 || true; done
fi
stop containerd
# Pod sandboxes' mounts left by a hard stop, then the state itself.
{ grep -o " $s/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
ip link del "$EMBEDSERVE_NODE_CNI_BRIDGE" 2>/dev/null || true
ip link del "$EMBEDSERVE_NODE_BRIDGE" 2>/dev/null || true
if kubectl get --raw /readyz >/dev/null 2>&1; then
  kubectl delete node "$EMBEDSERVE_NODE_NAME" --ignore-not-found >/dev/null 2>&1 || true
fi
if grep -q " # embedserve real node$" /etc/hosts; then
  # /etc/hosts may be a bind mount: rewrite it in place rather than replace it
  hosts=$(grep -v " # embedserve real node$" /etc/hosts); printf '%s\n' "$hosts" > /etc/hosts
fi
rm -rf "$s"
rm -f "$EMBEDSERVE_NODE_CACHE/containerd.owner"
log "real node $EMBEDSERVE_NODE_NAME stopped"
