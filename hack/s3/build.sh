#!/usr/bin/env bash
# Build the S3-compatible test server (versitygw, Apache-2.0) from the Go
# module proxy, pinned by hack/s3/go.mod + go.sum (a wrapper module whose
# `tool` line names github.com/versity/versitygw/cmd/versitygw).
#
# The binary is cached outside the repository under
#   ${EMBEDSERVE_CACHE:-~/.cache/embedserve}/s3/<key>/bin/versitygw
# where <key> hashes go.mod, go.sum, this script and `go version`: a version
# bump rebuilds, anything else reuses (then this script is a no-op).
# Progress goes to stderr with timestamps; the last stdout line is the binary.
#
# Build parallelism follows GOFLAGS (e.g. GOFLAGS=-p=1 on a busy machine).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}
export GOTOOLCHAIN=local CGO_ENABLED=0
# -mod=readonly: the committed go.sum must be complete; never rewrite it here.
export GOFLAGS="-mod=readonly ${GOFLAGS:-}"

command -v go >/dev/null || { echo "build.sh: go not found in PATH" >&2; exit 1; }
key=$( (go version; cat "$here/go.mod" "$here/go.sum" "$here/build.sh") | sha256sum | cut -c1-16)
dir="$cache_root/s3/$key"
bin="$dir/bin"
exe="$bin/versitygw"

if [ -f "$bin/.complete" ] && [ -x "$exe" ]; then
  echo "$exe"
  exit 0
fi

mkdir -p "$bin"
# Serialise concurrent first builds (e.g. parallel test sessions).
exec 9>"$dir/.lock"
flock 9
if [ -f "$bin/.complete" ] && [ -x "$exe" ]; then
  echo "$exe"
  exit 0
fi

log() { printf '[s3-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$(date +%s)
module=$(awk '$1 == "tool" {print $2}' "$here/go.mod")
version=$(awk '$1 == "github.com/versity/versitygw" {print $2}' "$here/go.mod")
log "first build of $module@$version into $bin"
log "expect about 2-5 minutes on 2 cores (module download + compile), once per pin"

# Run a command in the background (stdout discarded, stderr kept) and print a
# heartbeat every 20s so a long, silent `go build` does not look hung.
with_heartbeat() {
  local what=$1; shift
  "$@" >/dev/null &
  local pid=$! t0; t0=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && log "$what: still running ($(( $(date +%s) - t0 ))s)"
  done
  wait "$pid"
}

t0=$(date +%s)
log "downloading modules"
(cd "$here" && with_heartbeat "module download" go list -deps "$module")
log "modules ready in $(( $(date +%s) - t0 ))s"

t0=$(date +%s)
log "compiling versitygw"
ldflags="-s -w -X main.Version=$version -X main.Build=embedserve -X main.BuildTime=1970-01-01T00:00:00Z"
(cd "$here" && with_heartbeat "compile" go build -trimpath -ldflags "$ldflags" -o "$exe.tmp" "$module")
mv "$exe.tmp" "$exe"
log "compiled in $(( $(date +%s) - t0 ))s"

echo "$(( $(date +%s) - start ))" > "$bin/.build-seconds"
touch "$bin/.complete"
log "versitygw $version built in $(( $(date +%s) - start ))s"
echo "$exe"
