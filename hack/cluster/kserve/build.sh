#!/usr/bin/env bash
# Build KServe's controller manager (github.com/kserve/kserve/cmd/manager, the
# release in go.mod) from the Go module proxy, once.
#
# The binary is cached outside the repository under
#   ${EMBEDSERVE_CACHE:-~/.cache/embedserve}/kserve/<key>/bin/manager
# where <key> hashes this wrapper's go.mod/go.sum, this script and the Go
# version: a KServe bump rebuilds, anything else reuses. Prints the bin
# directory. The first build compiles ~1,000 packages (cloud SDKs included):
# about 15 minutes at low priority on a busy 2-core machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}
key=$( (go version; cat "$here/go.mod" "$here/go.sum" "$0") | sha256sum | cut -c1-16)
bin="$cache_root/kserve/$key/bin"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

# CGO off: a static binary that needs no C toolchain; -mod=mod so the wrapper's
# go.sum is the only input besides the module proxy.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin"
log() { printf '[kserve-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$(date +%s)
version=$(awk '$1 == "require" && $2 == "github.com/kserve/kserve" {print $3} $1 == "github.com/kserve/kserve" {print $2}' "$here/go.mod" | head -1)
log "first build of the KServe ${version} controller manager into $bin (about 15 minutes, once)"
(cd "$here" && nice -n 10 go build -trimpath -ldflags "-s -w" -o "$bin/manager.tmp" github.com/kserve/kserve/cmd/manager) >&2
mv "$bin/manager.tmp" "$bin/manager"
echo "$version" > "$bin/.version"
echo "$(( $(date +%s) - start ))" > "$bin/.build-seconds"
touch "$bin/.complete"
log "KServe controller manager built in $(( $(date +%s) - start ))s"
echo "$bin"
