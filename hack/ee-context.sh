#!/usr/bin/env bash
# Write the execution environment's build context: the collection tarball and
# the Galaxy requirements that install it (build/), then `ansible-builder
# create` (build/context/). Build the image afterwards where a container engine runs:
#   ansible-builder build -t <registry>/embedserve-vllm-ee:<version> --context build/context
# Usage: hack/ee-context.sh [DIR]   (DIR: where build/ goes; default the repository;
# another DIR gets a copy of execution-environment.yml, as the tests use it)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin="${VIRTUAL_ENV:-$repo/.venv}/bin"
root=$(mkdir -p "${1:-$repo}" && cd "${1:-$repo}" && pwd)
version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$repo/galaxy.yml")
tarball="embedserve-vllm-$version.tar.gz"
[[ "$root" == "$repo" ]] || cp "$repo/execution-environment.yml" "$root/"
rm -rf "$root/build"
"$bin/ansible-galaxy" collection build --output-path "$root/build" "$repo" >/dev/null
[[ -f "$root/build/$tarball" ]] || { echo "ansible-galaxy did not write build/$tarball" >&2; exit 1; }
# The tarball lands in /build/collection/ inside the image's galaxy stage
# (additional_build_files dest: collection); kubernetes.core is pinned to the
# version the tests run, within galaxy.yml's range.
cat > "$root/build/requirements.yml" <<YAML
---
collections:
  - name: /build/collection/$tarball
    type: file
  - name: kubernetes.core
    version: "6.2.0"
YAML
"$bin/ansible-builder" create -f "$root/execution-environment.yml" --context "$root/build/context"
