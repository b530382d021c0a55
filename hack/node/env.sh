# Sourced by the hack/node scripts: where the real node keeps its state.
# The node belongs to the cluster whose state directory it lives in
# (EMBEDSERVE_CLUSTER_STATE, default .cluster, as for hack/cluster/up.sh).
# One real node per machine: its addresses, ports (kubelet 10250) and the
# containerd image store under the cache are machine-wide.
node_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EMBEDSERVE_CLUSTER_STATE=${EMBEDSERVE_CLUSTER_STATE:-$node_repo/.cluster}
EMBEDSERVE_NODE_STATE=${EMBEDSERVE_NODE_STATE:-$EMBEDSERVE_CLUSTER_STATE/node}
EMBEDSERVE_NODE_CACHE=${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}/node
EMBEDSERVE_NODE_NAME=${EMBEDSERVE_NODE_NAME:-real-node}
# kubelet refuses a loopback node IP, and the API server reaches the kubelet
# (logs, exec, port-forward) at the node's InternalIP: a private address on a
# link-local-only bridge (this VM's kernel has no dummy interfaces).
EMBEDSERVE_NODE_IP=${EMBEDSERVE_NODE_IP:-10.250.0.1}
EMBEDSERVE_NODE_BRIDGE=embedserve-nd0  # interface names: at most 15 characters
EMBEDSERVE_NODE_POD_CIDR=${EMBEDSERVE_NODE_POD_CIDR:-10.244.7.0/24}
EMBEDSERVE_NODE_CNI_BRIDGE=embedserve-cni0
# The taint and label CPU models need (toleration, node_selector) to land
# here; everything else stays on kwok's simulated nodes.
EMBEDSERVE_NODE_TAINT_KEY=embedserve.io/real-node
EMBEDSERVE_NODE_LABEL=embedserve.io/real-node=true
node_kubeconfig=$EMBEDSERVE_CLUSTER_STATE/kubeconfig
node_sock=$EMBEDSERVE_NODE_STATE/containerd/containerd.sock
ctr_node() { ctr --address "$node_sock" --namespace k8s.io "$@"; }
