#!/usr/bin/env bash
# Add a real node to the running local cluster (hack/cluster/up.sh): kubelet
# with containerd, runc and the CNI bridge, plus kube-proxy, all on this
# machine. Pods on it really run; it is tainted and labelled
# (embedserve.io/real-node) so only pods that ask for it land there, while
# kwok keeps running its simulated nodes (it manages only nodes annotated
# kwok.x-k8s.io/node=fake).
#
#   hack/node/up.sh      # idempotent; hack/node/down.sh stops it (make node / node-down)
#
# Settings that this VM needs (see docs/real-node.md): containerd's
# restrict_oom_score_adj (the VM refuses a negative oom_score_adj), a local
# pause image (no registry), kubelet with the cgroupfs driver on cgroup v1
# without QoS cgroups or node-allocatable enforcement, and a non-loopback
# node IP on a bridge of its own.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
log() { printf '[node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
t0=$(date +%s)
s=$EMBEDSERVE_NODE_STATE
kubectl() { "$EMBEDSERVE_CLUSTER_STATE/bin/kubectl" --kubeconfig "$node_kubeconfig" "$@"; }
alive() { [ -f "$s/$1.pid" ] && kill -0 "$(cat "$s/$1.pid")" 2>/dev/null; }

kubectl get --raw /readyz >/dev/null 2>&1 || { log "no running cluster at $node_kubeconfig: run hack/cluster/up.sh first"; exit 1; }
# The API server reaches a kubelet at the node's first address type it can
# use, Hostname before InternalIP: make the node name resolve to the node IP.
hosts_line="$EMBEDSERVE_NODE_IP $EMBEDSERVE_NODE_NAME # embedserve real node"
grep -qxF "$hosts_line" /etc/hosts || echo "$hosts_line" >> /etc/hosts
if alive kubelet && alive containerd && alive kube-proxy; then
  log "reusing the running node $EMBEDSERVE_NODE_NAME ($s)"; exit 0
fi

"$here/install.sh"
bin=$("$here/build.sh")
mkdir -p "$s"/{containerd,kubelet,cni/net.d,cni/ipam,pki} "$EMBEDSERVE_NODE_CACHE/containerd"
chmod 0755 "$s"
ln -sfn "$bin" "$s/bin"

# The image store lives in the cache (the vLLM image is imported once); only
# one node may use it at a time.
owner="$EMBEDSERVE_NODE_CACHE/containerd.owner"
if [ -f "$owner" ] && [ "$(cat "$owner")" != "$s" ] && [ -f "$(cat "$owner")/containerd.pid" ] \
   && kill -0 "$(cat "$(cat "$owner")/containerd.pid")" 2>/dev/null; then
  log "another real node is running from $(cat "$owner"): stop it first (hack/node/down.sh with its EMBEDSERVE_CLUSTER_STATE)"
  exit 1
fi
echo "$s" > "$owner"

# Node address: a bridge with no ports, up, holding only the node IP.
if ! ip link show "$EMBEDSERVE_NODE_BRIDGE" >/dev/null 2>&1; then
  ip link add "$EMBEDSERVE_NODE_BRIDGE" type bridge
fi
ip addr replace "$EMBEDSERVE_NODE_IP/32" dev "$EMBEDSERVE_NODE_BRIDGE"
ip link set "$EMBEDSERVE_NODE_BRIDGE" up
echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null || log "could not enable ip_forward (pod egress off the node may not work)"

# Pod network: one bridge, host-local addresses, portmap for hostPorts; the
# CRI adds loopback itself.
cat > "$s/cni/net.d/10-embedserve.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "embedserve-pods", "plugins": [
  {"type": "bridge", "bridge": "$EMBEDSERVE_NODE_CNI_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$EMBEDSERVE_NODE_POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$s/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
CNI

pause_key=$(sha256sum "$bin/pause" | cut -c1-12)
pause_image="embedserve.local/pause:$pause_key"
cat > "$s/containerd/config.toml" <<TOML
version = 2
root = "$EMBEDSERVE_NODE_CACHE/containerd"
state = "$s/containerd/state"
[grpc]
  address = "$node_sock"
[ttrpc]
  address = "$node_sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$s/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # This VM refuses a negative oom_score_adj even to root; without this every
  # sandbox fails in runc ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$s/cni/net.d"
TOML

if ! alive containerd; then
  log "starting containerd ($s/containerd.log)"
  setsid containerd --config "$s/containerd/config.toml" >"$s/containerd.log" 2>&1 < /dev/null &
  echo $! > "$s/containerd.pid"
  for _ in $(seq 100); do [ -S "$node_sock" ] && ctr_node version >/dev/null 2>&1 && break; sleep 0.2; done
  ctr_node version >/dev/null || { log "containerd did not start:"; tail -20 "$s/containerd.log" >&2; exit 1; }
fi

# The sandbox image: the pause binary alone, written as an OCI layout.
if ! ctr_node images ls -q | grep -qx "$pause_image"; then
  work=$(mktemp -d); mkdir -p "$work/layout"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer.tar" -C "$bin" pause
  python3 "$here/oci_image.py" "$work/layout" --name "$pause_image" --layer "$work/layer.tar" \
    --entrypoint '["/pause"]' --user 65535 >/dev/null
  tar -C "$work/layout" -cf - . | ctr_node images import - >/dev/null
  rm -rf "$work"
  log "imported the pause image $pause_image"
fi

cat > "$s/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $EMBEDSERVE_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# Only the local API server talks to this kubelet, on a private address.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$node_sock
# cgroup v1 with the cgroupfs driver, no QoS hierarchy and no allocatable
# enforcement: the VM's cgroup tree is not kubelet's to manage.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
serializeImagePulls: false
maxPods: 30
registerWithTaints:
  - {key: $EMBEDSERVE_NODE_TAINT_KEY, value: "true", effect: NoSchedule}
# The machine is shared: evict only when memory is really short, and never
# for disk (the eviction manager cannot read this VM's block device).
evictionHard: {memory.available: "200Mi"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML

if ! alive kubelet; then
  log "starting kubelet ($s/kubelet.log)"
  setsid "$bin/kubelet" --config "$s/kubelet/config.yaml" --kubeconfig "$node_kubeconfig" \
    --hostname-override "$EMBEDSERVE_NODE_NAME" --node-ip "$EMBEDSERVE_NODE_IP" \
    --node-labels "$EMBEDSERVE_NODE_LABEL" --root-dir "$s/kubelet/root" --cert-dir "$s/pki" \
    >"$s/kubelet.log" 2>&1 < /dev/null &
  echo $! > "$s/kubelet.pid"
fi

cat > "$s/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $node_kubeconfig}
hostnameOverride: $EMBEDSERVE_NODE_NAME
mode: iptables
clusterCIDR: $EMBEDSERVE_NODE_POD_CIDR
bindAddress: $EMBEDSERVE_NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the node's own address, and no conntrack sysctls (a VM
# may not allow them).
nodePortAddresses: ["$EMBEDSERVE_NODE_IP/32"]
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
if ! alive kube-proxy; then
  log "starting kube-proxy ($s/kube-proxy.log)"
  setsid "$bin/kube-proxy" --config "$s/kube-proxy.yaml" >"$s/kube-proxy.log" 2>&1 < /dev/null &
  echo $! > "$s/kube-proxy.pid"
fi

deadline=$(( $(date +%s) + 120 ))
until kubectl wait --for=condition=Ready --timeout=5s "node/$EMBEDSERVE_NODE_NAME" >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ] || ! alive kubelet; then
    log "node $EMBEDSERVE_NODE_NAME not Ready; kubelet log:"; tail -30 "$s/kubelet.log" >&2; exit 1
  fi
  sleep 1
done
log "node $EMBEDSERVE_NODE_NAME Ready at $EMBEDSERVE_NODE_IP after $(( $(date +%s) - t0 ))s (pods $EMBEDSERVE_NODE_POD_CIDR)"
