#!/usr/bin/env python3
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Assemble an OCI image layout directory from ready-made layer tarballs.

No registry is reachable from the development machines, so the real node's
images (the pod sandbox's pause image and the vLLM CPU image) are built from
local files: the caller writes each layer as an uncompressed tar (GNU tar with
fixed owners and mtimes, so a layer's digest depends on its content only),
and this script moves them into blobs/, writes the image config, manifest and
index.json, and names the image with the annotations containerd's importer
reads (io.containerd.image.name) and the OCI one (ref.name). The caller then
streams the directory as a tar into `ctr images import`.

    oci_image.py OUTDIR --name REF --layer a.tar [--layer b.tar] [--env K=V]
                 [--entrypoint '["/pause"]'] [--cmd '[...]'] [--workdir /] [--user 65535]
"""

import argparse
import hashlib
import json
import os
import sys

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _write_blob(blobs, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest.split(":", 1)[1]), "wb") as handle:
        handle.write(data)
    return digest, len(data)


def build(outdir, name, layers, env=(), entrypoint=None, cmd=None, workdir=None, user=None):
    """Write the layout; returns the manifest digest. Layer files are moved, not copied."""
    blobs = os.path.join(outdir, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    layer_descs = []
    for layer in layers:
        digest, size = _sha256_file(layer), os.path.getsize(layer)
        os.replace(layer, os.path.join(blobs, digest.split(":", 1)[1]))
        layer_descs.append({"mediaType": MEDIA_LAYER, "digest": digest, "size": size})
    config = {"Env": list(env)}
    if entrypoint is not None:
        config["Entrypoint"] = entrypoint
    if cmd is not None:
        config["Cmd"] = cmd
    if workdir:
        config["WorkingDir"] = workdir
    if user:
        config["User"] = user
    image_config = {
        "architecture": "amd64", "os": "linux", "config": config,
        # fixed date: the digest must depend on the content only
        "created": "1970-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layer_descs]},
    }
    config_digest, config_size = _write_blob(blobs, json.dumps(image_config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
                "layers": layer_descs}
    manifest_digest, manifest_size = _write_blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": manifest_size,
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name}}]}
    with open(os.path.join(outdir, "index.json"), "w") as handle:
        json.dump(index, handle, sort_keys=True)
    with open(os.path.join(outdir, "oci-layout"), "w") as handle:
        json.dump({"imageLayoutVersion": "1.0.0"}, handle)
    return manifest_digest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--name", required=True)
    parser.add_argument("--layer", action="append", required=True)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--entrypoint", type=json.loads)
    parser.add_argument("--cmd", type=json.loads)
    parser.add_argument("--workdir")
    parser.add_argument("--user")
    args = parser.parse_args(argv)
    print(build(args.outdir, args.name, args.layer, args.env, args.entrypoint, args.cmd, args.workdir, args.user))


if __name__ == "__main__":
    sys.exit(main())
