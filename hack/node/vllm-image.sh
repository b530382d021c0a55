#!/usr/bin/env bash
# Build the vLLM CPU image from the cached vLLM CPU environment and import it
# into the real node's containerd under the name the catalogue's CPU models
# use (embedserve_cpu_image), so the pod starts with imagePullPolicy
# IfNotPresent and no registry. Built once: the image carries a content key
# (the environment's lock hash, the Debian package versions of the system
# layer, this script and oci_image.py) as a containerd label, and a node that
# already holds that key imports nothing.
#
#   hack/node/vllm-image.sh            # needs the node's containerd (hack/node/up.sh)
#
# Layers (uncompressed: nothing leaves this machine):
#   1. system: the Debian packages the interpreter and the venv's native
#      libraries link against (found with ldd), plus g++ and dash, which
#      torch's inductor uses to compile CPU kernels, util-linux (vLLM's CPU
#      worker runs lscpu), and /etc/passwd, group and the loader cache;
#   2. the Python interpreter the venv was created from, at its own path
#      (the venv and libpython refer to it by absolute path), without its
#      test suite and site-packages;
#   3. the venv itself at /opt/vllm/venv (vLLM, torch, the MiniLM package).
# Every file is world-readable: restricted pods run as an arbitrary UID.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/env.sh"
name=${EMBEDSERVE_CPU_IMAGE:-public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.32.0}
log() { printf '[node-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

venv_python=$("$repo/hack/vllm-cpu/setup.sh")
venv=$(dirname "$(dirname "$venv_python")")
marker="$(dirname "$venv")/.setup-ok"
base=$(sed -n 's/^home = //p' "$venv/pyvenv.cfg")         # .../bin of the interpreter
pyroot=$(dirname "$base")
pyver=$("$venv_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Shared libraries the interpreter and the venv load, mapped to Debian packages.
libs=$(find "$venv" "$pyroot/lib" "$pyroot/bin" -type f \( -name '*.so' -o -name '*.so.*' -o -name "python$pyver" \) \
         -not -path "$pyroot/lib/python$pyver/site-packages/*" -not -path "$pyroot/lib/python$pyver/test/*" \
         -not -name '_tkinter*' -print0 | xargs -0 -n 64 ldd 2>/dev/null | awk '/=> \//{print $3}' | sort -u \
       | grep -v -e "^$venv/" -e "^$pyroot/" || true)
owner() { local p; for p in "$1" "/usr$1" "$(readlink -f "$1")"; do dpkg -S "$p" 2>/dev/null | cut -d: -f1 | head -1 && return; done; }
# lscpu: vLLM's CPU worker reads the topology with it; openssl: inductor hashes its
# precompiled header with `openssl sha512`; ldconfig: library lookups.
seeds="g++ dash coreutils util-linux libc-bin openssl"
for lib in $libs; do seeds="$seeds $(owner "$lib")"; done
closure=$(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts --no-breaks \
             --no-replaces --no-enhances $seeds 2>/dev/null | grep -v '^[ <]' | sort -u)
# Only what is installed (the closure names virtual and alternative packages too).
packages=$( (dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' $closure 2>/dev/null || true) \
            | awk '$1 == "ii" {print $2}' | sort -u)
versions=$(dpkg-query -W -f '${Package} ${Version}\n' $packages | sort)
key=$( (echo "$name"; echo "$versions"; cat "$marker"; echo "$pyroot $pyver"; cat "$0" "$here/oci_image.py") \
       | sha256sum | cut -c1-16)

if ctr_node images ls "labels.\"embedserve.io/content-key\"==$key" -q | grep -qx "$name"; then
  log "$name is already in the node's containerd (content key $key)"
  exit 0
fi

start=$(date +%s)
work="$EMBEDSERVE_NODE_CACHE/image-build"
rm -rf "$work"; mkdir -p "$work/layout" "$work/etc/ld.so.conf.d"
tarflags=(--owner=0 --group=0 --numeric-owner --mtime=@0 --mode=go+rX,go-w)

log "layer 1/3: $(echo "$packages" | wc -w) Debian packages"
# Paths through /bin, /lib, /lib64, /sbin (symlinks into /usr on Debian 12)
# are stored at their /usr location; the symlinks themselves are added once.
dpkg -L $packages 2>/dev/null | while read -r p; do
  [ -e "$p" ] || [ -L "$p" ] || continue
  d=$(readlink -f "$(dirname "$p")"); b=$(basename "$p")
  [ "$d" = / ] && [ "$b" = . ] && continue
  echo "${d#/}/$b" | sed 's,^/*,,; s,/\.$,,'
done | sort -u > "$work/system.list"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$work/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$work/etc/group"
cp /etc/ld.so.cache "$work/etc/"
for l in bin lib lib64 sbin; do ln -sfn "usr/$l" "$work/$l"; done
tar "${tarflags[@]}" --no-recursion -cf "$work/system.tar" -C / -T "$work/system.list" \
  -C "$work" bin lib lib64 sbin etc etc/passwd etc/group etc/ld.so.cache

log "layer 2/3: Python $pyver from $pyroot"
tar "${tarflags[@]}" --sort=name -cf "$work/python.tar" -C / \
  --exclude="${pyroot#/}/lib/python$pyver/test" --exclude="${pyroot#/}/lib/python$pyver/site-packages" \
  --exclude='__pycache__' "${pyroot#/}/bin/python$pyver" "${pyroot#/}/bin/python3" "${pyroot#/}/lib" "${pyroot#/}/include"
# The directories above it (/root is 0700 on the host) must be traversable.
python_dirs=$(p=$pyroot/bin; echo "${p#/}"; while [ "$p" != / ]; do p=$(dirname "$p"); [ "$p" = / ] || echo "${p#/}"; done | sort)

log "layer 3/3: the venv ($(du -sh "$venv" | cut -f1)) at /opt/vllm/venv"
tar "${tarflags[@]}" --sort=name -cf "$work/venv.tar" -C "$(dirname "$venv")" \
  --transform "s,^$(basename "$venv"),opt/vllm/venv," "$(basename "$venv")"
mkdir -p "$work/dirs"; (cd "$work/dirs" && for d in $python_dirs; do mkdir -p "$d"; done)
mkdir -p "$work/dirs/tmp" "$work/dirs/var/tmp"; chmod 1777 "$work/dirs/tmp" "$work/dirs/var/tmp"
tar "${tarflags[@]}" --no-recursion -cf "$work/dirs.tar" -C "$work/dirs" $python_dirs
# /tmp and /var/tmp as in any base image (pods mount an emptyDir over /tmp)
tar --owner=0 --group=0 --numeric-owner --mtime=@0 --no-recursion -rf "$work/dirs.tar" -C "$work/dirs" tmp var var/tmp

log "assembling the OCI layout"
python3 "$here/oci_image.py" "$work/layout" --name "$name" \
  --layer "$work/system.tar" --layer "$work/dirs.tar" --layer "$work/python.tar" --layer "$work/venv.tar" \
  --env PATH=/opt/vllm/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env VIRTUAL_ENV=/opt/vllm/venv --env LANG=C.UTF-8 \
  --entrypoint '["python3", "-m", "vllm.entrypoints.openai.api_server"]' --workdir / >/dev/null
# The previous build's content stays referenced by the CRI's image-id name
# (sha256:<config digest>) until that name is removed.
old_id=$(ctr_node images ls "name==$name" 2>/dev/null | awk 'NR > 1 {print $3}')
log "importing into the node's containerd"
tar -C "$work/layout" -cf - . | ctr_node images import --snapshotter overlayfs - >&2
ctr_node images label "$name" "embedserve.io/content-key=$key" >/dev/null
new_id=$(ctr_node images ls "name==$name" | awk 'NR > 1 {print $3}')
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  old_config=$(ctr_node content get "$old_id" 2>/dev/null \
               | python3 -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])' || true)
  if [ -n "$old_config" ]; then ctr_node images rm "$old_config" >/dev/null 2>&1 || true; fi
fi
rm -rf "$work"
echo "$(( $(date +%s) - start ))" > "$EMBEDSERVE_NODE_CACHE/vllm-image-seconds"
log "$name imported in $(( $(date +%s) - start ))s (content key $key)"
