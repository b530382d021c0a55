# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Prepare a model once: a plain folder from a pinned Hub snapshot, and its copy in S3.

A *plain folder* holds a model's files as the repository lays them out
(``config.json``, tokenizer files, weights, sentence-transformers modules)
without the Hugging Face cache layout, so vLLM can serve ``--model <folder>``
offline, KServe can mount it with ``pvc://<claim>/<name>`` and OpenShift AI
can read it from an S3 data connection.

Downloads go through ``huggingface_hub`` into its cache (so ``HF_ENDPOINT``,
``HF_HUB_OFFLINE``, tokens and an existing cache behave as everywhere else),
then the selected files are copied into the folder. Uploads go through boto3
and skip objects whose size and checksum already match. Nothing here imports
Ansible: the modules are thin wrappers and the tests call these functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile

from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import (
    CONFIG_FILE,
    import_huggingface_hub,
    looks_like_local_path,
)

# Files a served model never needs: documentation, git metadata, the
# metadata huggingface_hub writes into a local_dir download, and weights for
# other runtimes (ONNX, OpenVINO, TensorFlow, Flax, Rust, Core ML, TFLite).
# Tokenizer files (vocab.txt, merges.txt, *.model, tokenizer.json) are kept:
# a "*.txt" ignore would drop the vocabulary of BERT-style tokenizers.
DEFAULT_IGNORE_PATTERNS = (
    "*.md",
    ".git*",
    "*/.git*",
    ".cache/*",
    "onnx/*",
    "openvino/*",
    "coreml/*",
    "*.onnx",
    "*.onnx_data",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.tflite",
    "*.mlmodel",
)

_CHUNK = 1024 * 1024
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_PARTIAL_SUFFIX = ".embedserve-partial"

# S3 error codes meaning "these credentials are not accepted". versitygw (the
# test server) answers an unknown access key with XAdminUserNotFound (404).
BAD_CREDENTIAL_CODES = frozenset((
    "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "XAdminUserNotFound",
    "InvalidToken", "ExpiredToken", "InvalidSecurity", "AuthorizationHeaderMalformed", "403",
))
MISSING_BUCKET_CODES = frozenset(("NoSuchBucket",))
SHA256_METADATA_KEY = "sha256"
MIB = 1024 * 1024


class ModelPrepError(ValueError):
    """The model cannot be prepared; the message says why and what to do."""


# ---------------------------------------------------------------------------
# File selection
# ---------------------------------------------------------------------------

def _normalise_pattern(pattern):
    pattern = str(pattern).replace("\\", "/")
    return pattern + "*" if pattern.endswith("/") else pattern


def filter_paths(paths, allow_patterns=None, ignore_patterns=None):
    """Paths kept by allow/ignore patterns, with huggingface_hub's semantics.

    A pattern ending in '/' means everything below that directory; matching
    is fnmatch (case-sensitive, '*' crosses '/'). No allow patterns means
    everything is allowed.
    """
    allow = [_normalise_pattern(p) for p in allow_patterns] if allow_patterns else None
    ignore = [_normalise_pattern(p) for p in ignore_patterns or ()]
    kept = []
    for path in paths:
        normalised = path.replace("\\", "/")
        if allow is not None and not any(fnmatch.fnmatchcase(normalised, p) for p in allow):
            continue
        if any(fnmatch.fnmatchcase(normalised, p) for p in ignore):
            continue
        kept.append(path)
    return kept


def safetensors_preference_ignores(paths):
    """Ignore patterns for PyTorch pickles in directories that also hold safetensors weights.

    vLLM loads safetensors when both formats are present, so the pickles
    (often as large as the model) would only be copied and uploaded for nothing.
    """
    directories = sorted(set(os.path.dirname(p) for p in paths if p.endswith(".safetensors")))
    patterns = []
    for directory in directories:
        prefix = glob.escape(directory) + "/" if directory else ""
        patterns += [prefix + "pytorch_model*.bin", prefix + "pytorch_model.bin.index.json"]
    return patterns


def select_files(paths, allow_patterns=None, ignore_patterns=DEFAULT_IGNORE_PATTERNS, prefer_safetensors=True):
    """(selected, ignored, effective ignore patterns) for a repository listing."""
    ignore = list(ignore_patterns or ())
    if prefer_safetensors:
        ignore += safetensors_preference_ignores(paths)
    selected = sorted(filter_paths(paths, allow_patterns, ignore))
    chosen = set(selected)
    ignored = sorted(p for p in paths if p not in chosen)
    return selected, ignored, ignore


def require_config(selected, where):
    if CONFIG_FILE not in selected:
        raise ModelPrepError(
            "%s has no %s (after the allow/ignore patterns), so it is not a model folder vLLM can serve: "
            "check the model id or folder, and the patterns" % (where, CONFIG_FILE))


# ---------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------

def file_digests(path, algorithms=("sha256",)):
    """{algorithm: hex digest} of a file, read once."""
    digests = dict((name, hashlib.new(name)) for name in algorithms)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            for digest in digests.values():
                digest.update(chunk)
    return dict((name, digest.hexdigest()) for name, digest in digests.items())


def git_blob_sha1(path):
    """Git object id of a file: what the Hub reports as blob_id for files not stored in LFS."""
    digest = hashlib.sha1()  # nosec - git's object id, not a security check
    digest.update(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_file_sha256(path):
    """sha256 of a file in a hub cache snapshot; LFS blobs are named by it, so it is free for weights."""
    blob = os.path.basename(os.path.realpath(path))
    if _SHA256_HEX.match(blob):
        return blob
    return file_digests(path)["sha256"]


def content_id(model, commit, files):
    """Stable id of a prepared folder: model, commit and every file's path and size.

    Job names carry it, so a new revision or a different file selection gives
    a new Job while a re-run with the same content finds the completed one.
    """
    canonical = json.dumps({"model": model, "commit": commit,
                            "files": [[f["path"], f["size"]] for f in sorted(files, key=lambda f: f["path"])]},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def list_folder(folder):
    """Relative paths of the regular files under folder (symlinks followed), sorted."""
    paths = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in names:
            full = os.path.join(root, name)
            if os.path.isfile(full):
                paths.append(os.path.relpath(full, folder).replace(os.sep, "/"))
    return sorted(paths)


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


# ---------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------

class S3SyncError(ModelPrepError):
    """An S3 operation failed; .done lists what was completed before the failure."""

    def __init__(self, message, done=None, pending=None):
        super(S3SyncError, self).__init__(message)
        self.done = list(done or [])
        self.pending = list(pending or [])


def import_boto3():
    """(boto3 module, None) or (None, ImportError)."""
    try:
        module = importlib.import_module("boto3")
        importlib.import_module("botocore.config")
        importlib.import_module("botocore.exceptions")
        importlib.import_module("boto3.s3.transfer")
    except ImportError as exc:
        return None, exc
    return module, None


def s3_key_root(prefix, name):
    """'<prefix>/<name>/' without doubled or leading slashes."""
    parts = [part for part in (prefix or "").strip("/").split("/") if part] + [name.strip("/")]
    return "/".join(parts) + "/"


def make_s3_client(boto3, endpoint_url=None, access_key=None, secret_key=None, session_token=None, region=None,
                   addressing_style=None, validate_certs=True, ca_bundle=None, connect_timeout=10, read_timeout=120,
                   max_attempts=3):
    config_module = importlib.import_module("botocore.config")
    style = addressing_style or ("path" if endpoint_url else "auto")
    config = config_module.Config(
        signature_version="s3v4", s3={"addressing_style": style},
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout, read_timeout=read_timeout)
    verify = (ca_bundle or True) if validate_certs else False
    session = boto3.session.Session(aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                                    aws_session_token=session_token or None, region_name=region or None)
    return session.client("s3", endpoint_url=endpoint_url or None, verify=verify, config=config)


def _client_error_code(exc):
    """(code, HTTP status, message) of a ClientError, or of the ClientError an upload failure wraps."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return (str(error.get("Code", "")), response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                error.get("Message", ""))
    # boto3's S3UploadFailedError keeps only the text: "... An error occurred (Code) when calling ..."
    match = re.search(r"An error occurred \(([^)]+)\)", str(exc))
    if match:
        return match.group(1), None, str(exc)
    return None, None, str(exc)


def explain_s3_error(exc, bucket, endpoint):
    """A message that says what is wrong (credentials, bucket, endpoint) for any boto3/botocore error."""
    exceptions = importlib.import_module("botocore.exceptions")
    where = endpoint or "the default AWS endpoint"
    code, status, message = _client_error_code(exc)
    if code is not None:
        detail = "%s%s" % (code, ": %s" % message if message else "")
        if code in BAD_CREDENTIAL_CODES:
            return ("bad credentials for %s (%s): check the access key, the secret key and that they may use "
                    "bucket %s" % (where, detail, bucket))
        if code in MISSING_BUCKET_CODES or (code == "404" and status == 404):
            return "bucket %s does not exist on %s (%s): create it or fix the bucket name" % (bucket, where, detail)
        if code == "InvalidBucketName":
            return "%s is not a valid bucket name (%s)" % (bucket, detail)
        return "S3 request to %s failed: %s (HTTP %s)" % (where, detail, status)
    if isinstance(exc, (exceptions.NoCredentialsError, exceptions.PartialCredentialsError)):
        return "no S3 credentials: set the access key and secret key (%s)" % exc
    if isinstance(exc, (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError,
                        exceptions.ConnectionClosedError, exceptions.ReadTimeoutError)):
        return "cannot reach the S3 endpoint %s: %s" % (where, exc)
    if isinstance(exc, exceptions.SSLError):
        return ("TLS error talking to %s (give the CA bundle, or validate_certs=false for a self-signed test "
                "endpoint): %s" % (where, exc))
    return "S3 error with %s: %s: %s" % (where, type(exc).__name__, exc)


def _s3_errors():
    exceptions = importlib.import_module("botocore.exceptions")
    transfer = importlib.import_module("boto3.exceptions")
    return (exceptions.ClientError, exceptions.BotoCoreError, transfer.S3UploadFailedError)


def local_files(folder):
    """[{path, size, md5, sha256}] of a prepared folder; it must hold config.json."""
    folder = os.path.abspath(os.path.expanduser(folder))
    if not os.path.isdir(folder):
        raise ModelPrepError("model folder %s does not exist: prepare it first (embedserve.vllm.hf_snapshot)" % folder)
    paths = [p for p in list_folder(folder) if not p.endswith(_PARTIAL_SUFFIX)]
    paths = filter_paths(paths, ignore_patterns=[".git*", "*/.git*", ".cache/*"])
    require_config(paths, "folder %s" % folder)
    files = []
    for path in paths:
        full = os.path.join(folder, path)
        entry = {"path": path, "size": os.path.getsize(full)}
        entry.update(file_digests(full, ("md5", "sha256")))
        files.append(entry)
    return files


def list_objects(client, bucket, root):
    """{relative path: {key, size, etag}} of the objects under root."""
    objects = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=root):
        for item in page.get("Contents", ()):
            key = item["Key"]
            if key.endswith("/"):
                continue
            objects[key[len(root):]] = {"key": key, "size": item["Size"], "etag": item.get("ETag", "").strip('"')}
    return objects


def object_matches(local, remote, head=None):
    """Does the object hold the local file? Size, then MD5 (single-part ETag) or the stored sha256.

    head(key) returns the object's metadata dict; it is only called when the
    ETag cannot decide (multipart uploads, or SSE where the ETag is no MD5).
    """
    if remote is None or remote["size"] != local["size"]:
        return False
    etag = remote.get("etag") or ""
    if local.get("md5") and "-" not in etag and etag == local["md5"]:
        return True
    if head is None or not local.get("sha256"):
        return False
    metadata = head(remote["key"])
    return (metadata or {}).get(SHA256_METADATA_KEY) == local["sha256"]


def plan_sync(files, objects, head=None):
    """(to upload, unchanged, extra object paths) for local files against the listed objects."""
    upload, skipped = [], []
    for entry in files:
        (skipped if object_matches(entry, objects.get(entry["path"]), head) else upload).append(entry)
    wanted = set(entry["path"] for entry in files)
    extra = sorted(path for path in objects if path not in wanted)
    return upload, skipped, extra


def _upload_order(entries):
    """config.json last: a reader that sees the new config sees every other new file already."""
    return sorted(entries, key=lambda e: (e["path"] == CONFIG_FILE, e["path"]))


def _verify_upload(client, bucket, key, entry, multipart):
    head = client.head_object(Bucket=bucket, Key=key)
    etag = head.get("ETag", "").strip('"')
    if head.get("ContentLength") != entry["size"]:
        raise ModelPrepError("s3://%s/%s has %s bytes after the upload, expected %d"
                             % (bucket, key, head.get("ContentLength"), entry["size"]))
    if not multipart and "-" not in etag and etag != entry["md5"]:
        raise ModelPrepError("s3://%s/%s has ETag %s after the upload, expected MD5 %s"
                             % (bucket, key, etag, entry["md5"]))
    if (head.get("Metadata") or {}).get(SHA256_METADATA_KEY) != entry["sha256"]:
        raise ModelPrepError("s3://%s/%s lost its sha256 metadata during the upload" % (bucket, key))


def sync_folder(client, folder, bucket, root, delete_extra=False, check_mode=False, multipart_threshold=64 * MIB,
                multipart_chunksize=16 * MIB, endpoint=None, expected_files=None):
    """Upload the files of folder under s3://bucket/root that differ; the s3_model_sync result.

    Raises S3SyncError with .done (files verified in S3) and .pending when a
    request fails: a partial upload is never reported as complete.
    expected_files ([{path, size, sha256}], as hf_snapshot plans them) stand
    in for a folder that check mode has not written yet.
    """
    if check_mode and expected_files is not None and not os.path.isdir(folder):
        files = [dict(entry) for entry in expected_files]
        require_config([entry["path"] for entry in files], "the planned folder %s" % folder)
    else:
        files = local_files(folder)
    errors = _s3_errors()
    url = "s3://%s/%s" % (bucket, root)

    def head_metadata(key):
        return client.head_object(Bucket=bucket, Key=key).get("Metadata") or {}

    try:
        objects = list_objects(client, bucket, root)
        upload, skipped, extra = plan_sync(files, objects, head_metadata)
    except errors as exc:
        raise S3SyncError(explain_s3_error(exc, bucket, endpoint), pending=[e["path"] for e in files]) from exc
    result = {
        "url": url, "bucket": bucket, "prefix": root, "folder": os.path.abspath(folder),
        "files": [dict(entry, key=root + entry["path"]) for entry in files],
        "bytes": sum(entry["size"] for entry in files),
        "uploaded": [entry["path"] for entry in _upload_order(upload)],
        "unchanged": [entry["path"] for entry in skipped],
        "extra": extra,
        "deleted": [],
        "bytes_uploaded": sum(entry["size"] for entry in upload),
        "complete": True,
    }
    if check_mode:
        result["deleted"] = [objects[path]["key"] for path in extra] if delete_extra else []
        result["changed"] = bool(upload or result["deleted"])
        return result

    transfer = importlib.import_module("boto3.s3.transfer")
    config = transfer.TransferConfig(multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunksize,
                                     max_concurrency=4)
    done = []
    for entry in _upload_order(upload):
        key = root + entry["path"]
        multipart = entry["size"] >= multipart_threshold
        metadata = {SHA256_METADATA_KEY: entry["sha256"]}
        try:
            if multipart:
                client.upload_file(os.path.join(folder, entry["path"]), bucket, key,
                                   ExtraArgs={"Metadata": metadata}, Config=config)
            else:
                with open(os.path.join(folder, entry["path"]), "rb") as body:
                    client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
            _verify_upload(client, bucket, key, entry, multipart)
        except errors as exc:
            pending = [e["path"] for e in _upload_order(upload) if e["path"] not in done]
            raise S3SyncError("upload to %s stopped after %d of %d files: %s" % (
                url, len(done), len(upload), explain_s3_error(exc, bucket, endpoint)), done, pending) from exc
        except ModelPrepError as exc:
            pending = [e["path"] for e in _upload_order(upload) if e["path"] not in done]
            raise S3SyncError("upload to %s stopped after %d of %d files: %s" % (
                url, len(done), len(upload), exc), done, pending) from exc
        done.append(entry["path"])
    if delete_extra and extra:
        keys = [objects[path]["key"] for path in extra]
        try:
            for start in range(0, len(keys), 1000):
                answer = client.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True})
                if answer.get("Errors"):
                    raise S3SyncError("could not delete %s from %s: %s" % (
                        ", ".join(e.get("Key", "?") for e in answer["Errors"]), url, answer["Errors"][0].get("Code")),
                        done)
        except errors as exc:
            raise S3SyncError("uploaded every file to %s but deleting stale objects failed: %s" % (
                url, explain_s3_error(exc, bucket, endpoint)), done) from exc
        result["deleted"] = keys
    result["changed"] = bool(done or result["deleted"])
    return result
