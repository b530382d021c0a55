#!/usr/bin/env bash
# Run make targets one after another as one named stream of `make test`:
#   hack/stream.sh NAME TARGET...
# Every output line is prefixed with [NAME] (two streams share the terminal),
# each stage reports its wall time, and the stream stops at the first failure.
set -euo pipefail
name="$1"; shift
cd "$(dirname "$0")/.."
summary=()
stream_start=$(date +%s)
for target in "$@"; do
  start=$(date +%s)
  printf '[%s] === %s: started %s\n' "$name" "$target" "$(date +%H:%M:%S)"
  # venv, cluster and models were made once before the streams started: not again, twice at once
  # each stream runs its stages one at a time (-j1, without the parent's jobserver)
  if ! env -u MAKEFLAGS -u MFLAGS make -j1 --no-print-directory -o venv -o cluster -o models "$target" 2>&1 \
      | sed -u "s/^/[$name] /"; then
    printf '[%s] === %s: FAILED after %ss\n' "$name" "$target" "$(( $(date +%s) - start ))"
    exit 1
  fi
  summary+=("$target $(( $(date +%s) - start ))s")
  printf '[%s] === %s: passed in %ss\n' "$name" "$target" "$(( $(date +%s) - start ))"
done
printf '[%s] === all passed in %ss: %s\n' "$name" "$(( $(date +%s) - stream_start ))" "$(IFS=,; echo "${summary[*]}" | sed 's/,/, /g')"
