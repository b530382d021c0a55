#!/usr/bin/env bash
# Build the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, kwokctl) from the Go module proxy.
#
# Binaries are cached outside the repository under
#   ${EMBEDSERVE_CACHE:-~/.cache/embedserve}/cluster/<key>/bin
# where <key> hashes the wrapper go.mod/go.sum files and the Go version, so a
# version bump rebuilds and anything else reuses. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}
key=$( (go version; cat "$here"/k8s/go.mod "$here"/k8s/go.sum "$here"/etcd/go.mod "$here"/etcd/go.sum \
        "$here"/kwok/go.mod "$here"/kwok/go.sum "$0") | sha256sum | cut -c1-16)
bin="$cache_root/cluster/$key/bin"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin"
log() { printf '[cluster-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$(date +%s)
log "first build of the local control plane into $bin"
log "this compiles Kubernetes from source: about 10-13 minutes on 2 cores, once; later runs reuse the cache"

k8s_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/k8s/go.mod")
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
# Stamp the version the way hack/lib/version.sh does: kwokctl parses
# `--version`, and clients report /version.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build_k8s() { local t0; t0=$(date +%s); log "building $1"
  (cd "$here/k8s" && go build -trimpath -ldflags "$ldflags" -o "$bin/$1.tmp" "k8s.io/kubernetes/cmd/$1") >&2
  mv "$bin/$1.tmp" "$bin/$1"; log "built $1 in $(( $(date +%s) - t0 ))s"; }
build_plain() { local t0; t0=$(date +%s); log "building $2"
  (cd "$here/$1" && go build -trimpath -ldflags "-s -w" -o "$bin/$2.tmp" "$3") >&2
  mv "$bin/$2.tmp" "$bin/$2"; log "built $2 in $(( $(date +%s) - t0 ))s"; }

build_plain etcd etcd go.etcd.io/etcd/server/v3
build_plain kwok kwok sigs.k8s.io/kwok/cmd/kwok
build_plain kwok kwokctl sigs.k8s.io/kwok/cmd/kwokctl
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build_k8s "$c"
done

echo "$(( $(date +%s) - start ))" > "$bin/.build-seconds"
touch "$bin/.complete"
log "control plane built in $(( $(date +%s) - start ))s"
echo "$bin"
