# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Model preparation: the source (a local folder or a pinned Hub snapshot) and
the plain folder written from it (see model_prep.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import import_huggingface_hub, looks_like_local_path
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_files import (
    DEFAULT_IGNORE_PATTERNS,
    ModelPrepError,
    _PARTIAL_SUFFIX,
    cached_file_sha256,
    content_id,
    file_digests,
    git_blob_sha1,
    list_folder,
    require_config,
    select_files,
)


# ---------------------------------------------------------------------------
# Sources: a local folder or a Hub snapshot
# ---------------------------------------------------------------------------

class Source(object):
    """Where the files come from and what is known about them before copying.

    remote: {path: {"size", "sha256" or None, "blob_id" or None}} from the Hub
    listing (online), or None when the files are local (a folder or a cached
    snapshot) and can be hashed directly.
    """

    def __init__(self, model, kind, revision=None, commit=None, directory=None, listing=None, remote=None,
                 endpoint=None):
        self.model = model
        self.kind = kind
        self.revision = revision
        self.commit = commit
        self.directory = directory
        self.listing = listing if listing is not None else list_folder(directory)
        self.remote = remote
        self.endpoint = endpoint
        self.endpoint_option = endpoint


def _hub_error(hub, exc, model, revision, offline, cache_dir):
    """One clear ModelPrepError for any huggingface_hub failure."""
    errors = hub.errors
    if isinstance(exc, errors.GatedRepoError):
        return "model %s is gated: accept its conditions on the Hub and pass a token that has access" % model
    if isinstance(exc, errors.RepositoryNotFoundError):
        return "model %s was not found on the Hub (or is private and the token has no access)" % model
    if isinstance(exc, errors.RevisionNotFoundError):
        return "revision %s of model %s does not exist on the Hub" % (revision, model)
    incomplete = getattr(errors, "IncompleteSnapshotError", None)
    if incomplete is not None and isinstance(exc, incomplete):
        return "the cached snapshot of %s@%s is incomplete and offline mode is on: %s" % (model, revision, exc)
    if isinstance(exc, errors.LocalEntryNotFoundError):
        if offline:
            return ("revision %s of model %s is not in the Hugging Face cache %s and offline mode is on "
                    "(offline or HF_HUB_OFFLINE=1): download it there first or turn offline mode off"
                    % (revision or "main", model, cache_dir or hub.constants.HF_HUB_CACHE))
        return "cannot reach the Hugging Face Hub for %s and it is not cached: %s" % (model, exc)
    return "cannot download %s from the Hugging Face Hub: %s: %s" % (model, type(exc).__name__, exc)


def _hub_call(hub, context, function, *args, **kwargs):
    """function(*args, **kwargs); context (model, revision, offline, cache_dir) words the error."""
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # every failure of the library becomes one message
        raise ModelPrepError(_hub_error(hub, exc, *context)) from exc


def is_offline(hub, offline):
    return bool(offline) or bool(hub.constants.is_offline_mode())


def open_source(model, revision=None, token=None, endpoint=None, cache_dir=None, offline=False, hub=None):
    """The Source of a model: a local folder, a cached snapshot (offline) or a Hub listing (online).

    Nothing is downloaded here; online, one model_info() call pins the
    revision to a commit and lists every file with its size and checksum.
    """
    if looks_like_local_path(model):
        directory = os.path.abspath(os.path.expanduser(model))
        if not os.path.isdir(directory):
            raise ModelPrepError("model folder %s does not exist" % directory)
        return Source(model, "local", revision=revision, directory=directory)
    if hub is None:
        hub, import_error = import_huggingface_hub()
        if import_error is not None:
            raise ModelPrepError("downloading %s needs the huggingface_hub Python library: %s" % (model, import_error))
    if is_offline(hub, offline):
        snapshot = _hub_call(hub, (model, revision, True, cache_dir), hub.snapshot_download, model,
                             revision=revision, cache_dir=cache_dir, token=token, local_files_only=True)
        return Source(model, "hub", revision=revision, commit=os.path.basename(os.path.normpath(snapshot)),
                      directory=snapshot, endpoint=None)
    api = hub.HfApi(endpoint=endpoint, token=token)
    info = _hub_call(hub, (model, revision, False, cache_dir), api.model_info, model,
                     revision=revision, files_metadata=True, token=token)
    remote = {}
    for sibling in info.siblings or ():
        lfs = getattr(sibling, "lfs", None)
        remote[sibling.rfilename] = {
            "size": sibling.size,
            "sha256": (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) if lfs else None,
            "blob_id": getattr(sibling, "blob_id", None),
        }
    source = Source(model, "hub", revision=revision, commit=info.sha, listing=sorted(remote), remote=remote,
                    endpoint=endpoint or hub.constants.ENDPOINT)
    source.endpoint_option = endpoint  # None lets the library apply HF_ENDPOINT itself
    return source


def download_snapshot(source, selected, ignore_patterns, allow_patterns, token=None, cache_dir=None, hub=None):
    """Fetch an online source's selected files at its commit into the hub cache; set source.directory."""
    if source.directory is not None:
        return source.directory
    if hub is None:
        hub = import_huggingface_hub()[0]
    # The commit (not the branch) pins the files; the patterns are the ones
    # the selection was made with, so huggingface_hub fetches the same files.
    source.directory = _hub_call(
        hub, (source.model, source.commit, False, cache_dir), hub.snapshot_download, source.model,
        revision=source.commit, cache_dir=cache_dir, token=token, endpoint=source.endpoint_option,
        allow_patterns=list(allow_patterns) if allow_patterns else None, ignore_patterns=list(ignore_patterns))
    missing = [p for p in selected if not os.path.isfile(os.path.join(source.directory, p))]
    if missing:
        raise ModelPrepError("the download of %s@%s is missing %s" % (source.model, source.commit, ", ".join(missing)))
    return source.directory


# ---------------------------------------------------------------------------
# The plain folder
# ---------------------------------------------------------------------------

def _matches(dest_path, size, sha256=None, blob_id=None):
    """Does the file at dest_path have this size and checksum? (False when it does not exist)."""
    if not os.path.isfile(dest_path) or os.path.islink(dest_path) or os.path.getsize(dest_path) != size:
        return False
    if sha256:
        return file_digests(dest_path)["sha256"] == sha256
    if blob_id:
        return git_blob_sha1(dest_path) == blob_id
    return False


def _expected(source, path):
    """(size, sha256, blob_id) a selected file must have."""
    if source.directory is not None and os.path.isfile(os.path.join(source.directory, path)):
        full = os.path.join(source.directory, path)
        sha256 = cached_file_sha256(full) if source.kind == "hub" else file_digests(full)["sha256"]
        return os.path.getsize(full), sha256, None
    meta = source.remote[path]
    return meta["size"], meta["sha256"], meta["blob_id"]


def _extra_files(dest, selected):
    if not os.path.isdir(dest):
        return []
    chosen = set(selected)
    return [p for p in list_folder(dest) if p not in chosen]


def plan_folder(source, selected, dest):
    """What writing the folder would do, without writing: {write, unchanged, remove, files}."""
    plan = {"write": [], "unchanged": [], "remove": _extra_files(dest, selected), "files": []}
    for path in selected:
        size, sha256, blob_id = _expected(source, path)
        entry = {"path": path, "size": size}
        if sha256:
            entry["sha256"] = sha256
        elif blob_id:
            entry["git_sha1"] = blob_id
        plan["files"].append(entry)
        target = os.path.join(dest, path)
        (plan["unchanged"] if _matches(target, size, sha256, blob_id) else plan["write"]).append(path)
    return plan


def _copy_atomically(src, target):
    """Copy src to target through a temporary file in the same directory, then rename."""
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=_PARTIAL_SUFFIX,
                                       dir=directory)
    os.close(handle)
    try:
        shutil.copyfile(src, partial)
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def _remove_empty_dirs(dest):
    for root, dirs, names in os.walk(dest, topdown=False):
        if root != dest and not dirs and not names:
            os.rmdir(root)


def write_folder(source, selected, dest, delete_extra=True):
    """Copy the selected files into dest; only files whose content differs are written.

    Returns {files, written, unchanged, removed, bytes, bytes_written}; each
    file entry has path, size and sha256 (of what is in dest afterwards).
    """
    dest = os.path.abspath(dest)
    os.makedirs(dest, exist_ok=True)
    report = {"files": [], "written": [], "unchanged": [], "removed": [], "bytes": 0, "bytes_written": 0}
    for path in selected:
        src = os.path.join(source.directory, path)
        target = os.path.join(dest, path)
        size = os.path.getsize(src)
        sha256 = cached_file_sha256(src) if source.kind == "hub" else file_digests(src)["sha256"]
        if _matches(target, size, sha256):
            report["unchanged"].append(path)
        else:
            _copy_atomically(src, target)
            written = file_digests(target)["sha256"]
            if written != sha256:
                raise ModelPrepError("%s was corrupted while copying to %s (sha256 %s, expected %s)"
                                     % (path, target, written, sha256))
            report["written"].append(path)
            report["bytes_written"] += size
        report["files"].append({"path": path, "size": size, "sha256": sha256})
        report["bytes"] += size
    if delete_extra:
        for path in _extra_files(dest, selected):
            os.unlink(os.path.join(dest, path))
            report["removed"].append(path)
        _remove_empty_dirs(dest)
    return report


def prepare_folder(model, dest, revision=None, token=None, endpoint=None, cache_dir=None, offline=False,
                   allow_patterns=None, ignore_patterns=DEFAULT_IGNORE_PATTERNS, prefer_safetensors=True,
                   delete_extra=True, check_mode=False, hub=None):
    """Make dest a plain folder of model@revision; the result dict of the hf_snapshot module."""
    if looks_like_local_path(model):
        source = open_source(model, revision)
    else:
        if hub is None:
            hub, import_error = import_huggingface_hub()
            if import_error is not None:
                raise ModelPrepError("downloading %s needs the huggingface_hub Python library: %s"
                                     % (model, import_error))
        source = open_source(model, revision, token, endpoint, cache_dir, offline, hub=hub)
    selected, ignored, effective_ignore = select_files(source.listing, allow_patterns, ignore_patterns,
                                                       prefer_safetensors)
    require_config(selected, "%s%s" % (model, "@" + source.commit if source.commit else ""))
    dest = os.path.abspath(os.path.expanduser(dest))
    if source.directory is not None and os.path.realpath(dest) == os.path.realpath(source.directory):
        raise ModelPrepError("dest %s is the source folder itself: choose another folder" % dest)
    result = {"model": model, "revision": revision, "commit": source.commit, "source": source.kind,
              "endpoint": source.endpoint, "dest": dest, "ignored": ignored, "ignore_patterns": effective_ignore,
              "allow_patterns": list(allow_patterns or [])}
    if check_mode or source.directory is None:
        plan = plan_folder(source, selected, dest)
        would_download = []
        if source.directory is None:
            would_download = [p for p in selected
                              if not hub.try_to_load_from_cache(model, p, cache_dir=cache_dir, revision=source.commit)]
        if check_mode:
            removed = plan["remove"] if delete_extra else []
            result.update(files=plan["files"], written=plan["write"], unchanged=plan["unchanged"], removed=removed,
                          downloaded=would_download, bytes=sum(f["size"] or 0 for f in plan["files"]),
                          bytes_written=sum(f["size"] or 0 for f in plan["files"] if f["path"] in plan["write"]),
                          changed=bool(plan["write"] or removed))
            result["content_id"] = content_id(model, source.commit, plan["files"])
            return result
        download_snapshot(source, selected, effective_ignore, allow_patterns, token, cache_dir, hub)
        result["downloaded"] = would_download
    else:
        result["downloaded"] = []
    report = write_folder(source, selected, dest, delete_extra)
    result.update(report)
    result["changed"] = bool(report["written"] or report["removed"])
    result["content_id"] = content_id(model, source.commit, report["files"])
    return result
