#!/usr/bin/env bash
# Build the real node's Kubernetes binaries (kubelet, kube-proxy) and the pod
# sandbox's pause binary, from the same wrapper module as the control plane
# (hack/cluster/k8s), so node and control plane are one Kubernetes release.
#
# Cached under ${EMBEDSERVE_CACHE:-~/.cache/embedserve}/node/<key>/bin, where
# <key> hashes the wrapper go.mod/go.sum, the pause source, the Go version and
# this script; prints the bin directory. hack/cluster/build.sh is left alone
# (its own hash keys the control-plane cache). The module is built from a
# copy, because kubelet needs go.sum lines the control plane does not and the
# repository's go.sum must not change under the control plane's key.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s="$here/../cluster/k8s"
cache_root=${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}
key=$( (go version; cat "$k8s/go.mod" "$k8s/go.sum" "$here/pause/go.mod" "$here/pause/main.go" "$0") \
       | sha256sum | cut -c1-16)
bin="$cache_root/node/$key/bin"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin"
exec 9>"$bin/.lock"
flock 9   # two callers must not compile Kubernetes twice
if [ -f "$bin/.complete" ]; then echo "$bin"; exit 0; fi

log() { printf '[node-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$(date +%s)
log "first build of the real node's kubelet and kube-proxy into $bin (about 5-8 minutes on 2 cores with the control plane's Go build cache warm; once)"

work="$cache_root/node/$key/module"
mkdir -p "$work"
cp "$k8s/go.mod" "$k8s/go.sum" "$work/"
k8s_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$work/go.mod")
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

for c in kubelet kube-proxy; do
  t0=$(date +%s); log "building $c"
  (cd "$work" && go build -trimpath -ldflags "$ldflags" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c") >&2
  mv "$bin/$c.tmp" "$bin/$c"; log "built $c in $(( $(date +%s) - t0 ))s"
done
(cd "$here/pause" && go build -trimpath -ldflags "-s -w" -o "$bin/pause.tmp" .) >&2
mv "$bin/pause.tmp" "$bin/pause"

echo "$(( $(date +%s) - start ))" > "$bin/.build-seconds"
touch "$bin/.complete"
log "node binaries built in $(( $(date +%s) - start ))s"
echo "$bin"
