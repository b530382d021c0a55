#!/usr/bin/env bash
# Run `ansible-test sanity` offline. ansible-test wants the collection at
# .../ansible_collections/embedserve/vllm with its dependencies beside it, and
# bootstraps pip from a download host that is unreachable here, so:
#  - copy the collection's files (tracked and new, not ignored) into a build tree,
#  - link kubernetes.core and community.okd from the `ansible` package next to it,
#  - provide the get-pip bootstrap from ensurepip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.venv"
# Outside the repository: ansible-test would otherwise see the git-ignored copy
# as part of this git checkout and skip every file.
root="${EMBEDSERVE_CACHE:-$HOME/.cache/embedserve}/sanity/$(echo "$repo" | sha256sum | cut -c1-12)/ansible_collections"
dest="$root/embedserve/vllm"
site=$("$venv/bin/python" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')

rm -rf "$dest"
mkdir -p "$dest" "$root/kubernetes" "$root/community"
ln -sfn "$site/ansible_collections/kubernetes/core" "$root/kubernetes/core"
ln -sfn "$site/ansible_collections/community/okd" "$root/community/okd"
(cd "$repo" && git ls-files -co --exclude-standard -z) \
  | grep -zv -E '^(collections/|hack/|\.ci/)' \
  | (cd "$repo" && xargs -0 cp --parents -t "$dest" 2>/dev/null || true)

shim_dir="$HOME/.ansible/test/cache"
mkdir -p "$shim_dir"
for shim in "$shim_dir"/get_pip_24_2.py; do
  cat > "$shim" <<'PY'
# Offline stand-in for ansible-test's get-pip download: bootstrap pip with
# ensurepip, then install what was asked with the real environment (ensurepip
# points PIP_CONFIG_FILE at /dev/null, which would hide the site's pip.conf).
import ensurepip, os, subprocess, sys
env = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args, env=env)
PY
done

cd "$dest"
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python 3.11 "$@"
