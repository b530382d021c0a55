#!/usr/bin/env bash
# Install the real node's runtime from Debian packages (once): runc,
# containerd (1.6 on Debian 12) and the CNI plugins (bridge, host-local,
# portmap, loopback in /usr/lib/cni). The packages' own containerd service
# is not used: hack/node/up.sh starts containerd with a private config.
set -euo pipefail
if command -v runc >/dev/null && command -v containerd >/dev/null && [ -x /usr/lib/cni/bridge ]; then
  exit 0
fi
echo "[node] installing runc, containerd and containernetworking-plugins from Debian" >&2
apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  runc containerd containernetworking-plugins iptables >&2
