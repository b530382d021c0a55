"""Build a Hugging Face hub cache entry from a plain model folder.

The layout is the one huggingface_hub writes and reads:

    <cache_dir>/models--<org>--<name>/
        blobs/<sha256>                       file contents
        snapshots/<commit>/<path> -> ../../blobs/<sha256>
        refs/<revision>                      contains <commit>

Resolving the model with offline=True (local_files_only) and
cache_dir=<cache_dir> then behaves like a warm cache, with no network.
Large files (weights) become symlinks to the source instead of copies.
"""

import hashlib
import os
import shutil

_COPY_LIMIT_BYTES = 1024 * 1024


def repo_folder_name(repo_id):
    return "models--" + repo_id.replace("/", "--")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_hub_cache(source_dir, cache_dir, repo_id, revision="main", commit=None):
    """Populate cache_dir with source_dir as repo_id@revision; return the snapshot directory."""
    files = sorted(
        os.path.relpath(os.path.join(root, name), source_dir)
        for root, _dirs, names in os.walk(source_dir)
        for name in names
    )
    if commit is None:
        commit = hashlib.sha1(("%s\n%s" % (repo_id, "\n".join(files))).encode()).hexdigest()
    repo_dir = os.path.join(cache_dir, repo_folder_name(repo_id))
    snapshot_dir = os.path.join(repo_dir, "snapshots", commit)
    os.makedirs(os.path.join(repo_dir, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo_dir, "refs"), exist_ok=True)
    for relative in files:
        source = os.path.join(source_dir, relative)
        blob = os.path.join(repo_dir, "blobs", _sha256(source))
        if not os.path.exists(blob):
            if os.path.getsize(source) > _COPY_LIMIT_BYTES:
                os.symlink(os.path.abspath(source), blob)
            else:
                shutil.copyfile(source, blob)
        link = os.path.join(snapshot_dir, relative)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    with open(os.path.join(repo_dir, "refs", revision), "w", encoding="utf-8") as handle:
        handle.write(commit)
    return snapshot_dir
