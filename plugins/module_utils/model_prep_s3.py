# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Model preparation: the plain folder's copy in S3, synced with boto3
(objects whose size and checksum match are skipped; see model_prep.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import os
import re

from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import CONFIG_FILE
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_files import (
    ModelPrepError,
    _PARTIAL_SUFFIX,
    file_digests,
    filter_paths,
    list_folder,
    require_config,
)


# ---------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------

# S3 error codes meaning "these credentials are not accepted". versitygw (the
# test server) answers an unknown access key with XAdminUserNotFound (404).
BAD_CREDENTIAL_CODES = frozenset((
    "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "XAdminUserNotFound",
    "InvalidToken", "ExpiredToken", "InvalidSecurity", "AuthorizationHeaderMalformed", "403",
))
MISSING_BUCKET_CODES = frozenset(("NoSuchBucket",))
SHA256_METADATA_KEY = "sha256"
MIB = 1024 * 1024


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
