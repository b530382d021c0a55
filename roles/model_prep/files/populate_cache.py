# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""Populate the model cache claim with one plain model folder (runs in the model_prep Job).

usage: populate_cache.py MANIFEST.json

The manifest (written by the model_prep role from what the controller
prepared) names the model, its commit, the source (hub or s3) and every file
with its size and sha256. The files are fetched into a staging folder on the
claim, checked one by one, and only then swapped in as <root>/<name>; the
folder a model server reads is therefore always complete. A marker
<root>/.embedserve/<name>.json records what was prepared, so a Job started
again for the same content finishes at once.

Sources:
  hub  huggingface_hub downloads into HF_HOME (on the claim, shared with
       servers that download themselves); files are hard-linked (or copied)
       from that cache into the folder. HF_ENDPOINT, HF_TOKEN and
       HF_HUB_OFFLINE are honoured by the library.
  s3   boto3 downloads s3://$AWS_S3_BUCKET/<prefix><path> from
       $AWS_S3_ENDPOINT with the data connection's credentials.

Only the standard library plus huggingface_hub or boto3 is needed; the vLLM
image has both. Exit codes: 0 done, 1 failed (message on stderr).
"""

import glob
import hashlib
import json
import os
import shutil
import sys
import time

CHUNK = 1024 * 1024


def log(message):
    sys.stdout.write("[populate-cache %s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stdout.flush()


class PopulateError(Exception):
    pass


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_sha1_of(path):
    digest = hashlib.sha1()  # nosec - git object id
    digest.update(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path, entry):
    """Raise unless the file at path has the manifest entry's size and checksum."""
    if not os.path.isfile(path):
        raise PopulateError("%s is missing after the download" % entry["path"])
    size = os.path.getsize(path)
    if size != entry["size"]:
        raise PopulateError("%s has %d bytes, expected %d" % (entry["path"], size, entry["size"]))
    if entry.get("sha256"):
        actual = sha256_of(path)
        if actual != entry["sha256"]:
            raise PopulateError("%s has sha256 %s, expected %s" % (entry["path"], actual, entry["sha256"]))
    elif entry.get("git_sha1"):
        actual = git_sha1_of(path)
        if actual != entry["git_sha1"]:
            raise PopulateError("%s has git sha1 %s, expected %s" % (entry["path"], actual, entry["git_sha1"]))


def already_prepared(marker, target, manifest):
    """True when the marker records this content and every file is in place with its size."""
    try:
        with open(marker, encoding="utf-8") as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        return False
    if recorded.get("content_id") != manifest["content_id"]:
        return False
    for entry in manifest["files"]:
        path = os.path.join(target, entry["path"])
        if not os.path.isfile(path) or os.path.getsize(path) != entry["size"]:
            return False
    return True


def place(src, dest):
    """Hard-link src to dest (same claim, no extra space), or copy when linking is not possible."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    real = os.path.realpath(src)
    try:
        os.link(real, dest)
    except OSError:
        shutil.copyfile(real, dest)


def fetch_from_hub(manifest, staging):
    try:
        import huggingface_hub
    except ImportError as exc:
        raise PopulateError("the Job image has no huggingface_hub (%s): use an image that has it, such as the "
                            "vLLM image" % exc)
    paths = [entry["path"] for entry in manifest["files"]]
    log("downloading %d files of %s@%s from %s into %s" % (
        len(paths), manifest["model"], manifest["commit"],
        os.environ.get("HF_ENDPOINT", "https://huggingface.co"), os.environ.get("HF_HOME", "~/.cache/huggingface")))
    try:
        snapshot = huggingface_hub.snapshot_download(
            manifest["model"], revision=manifest["commit"],
            allow_patterns=[glob.escape(path) for path in paths],
            token=os.environ.get("HF_TOKEN") or None)
    except Exception as exc:  # the library's errors (HTTP, offline, not found) all end the Job
        raise PopulateError("download of %s@%s failed: %s: %s"
                            % (manifest["model"], manifest["commit"], type(exc).__name__, exc))
    for path in paths:
        place(os.path.join(snapshot, path), os.path.join(staging, path))


BAD_CREDENTIALS = ("403", "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "XAdminUserNotFound",
                   "InvalidToken", "ExpiredToken")


def explain_s3_error(exc):
    """The S3 error with its likely cause; HEAD requests (download_file's first call) carry no error body."""
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    if code in BAD_CREDENTIALS:
        return "the data connection's credentials are not accepted (%s): %s" % (code, exc)
    if code in ("404", "NoSuchKey"):
        return "the object does not exist: upload the model first (model_prep_s3_upload): %s" % exc
    if code == "NoSuchBucket":
        return "the bucket does not exist: %s" % exc
    return "%s: %s" % (type(exc).__name__, exc)


def fetch_from_s3(manifest, staging):
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise PopulateError("the Job image has no boto3 (%s): use an image that has it, such as the vLLM image, "
                            "or populate from the hub" % exc)
    bucket = os.environ.get("AWS_S3_BUCKET")
    if not bucket:
        raise PopulateError("AWS_S3_BUCKET is not set: the data connection Secret is missing or incomplete")
    endpoint = os.environ.get("AWS_S3_ENDPOINT") or None
    verify = os.environ.get("EMBEDSERVE_S3_VERIFY", "true").lower() not in ("0", "false", "no")
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION") or None, verify=verify,
        config=Config(signature_version="s3v4",
                      s3={"addressing_style": "path" if endpoint else "auto"},
                      retries={"max_attempts": 5, "mode": "standard"}))
    prefix = manifest["s3_prefix"]
    log("downloading %d files from s3://%s/%s (%s)" % (len(manifest["files"]), bucket, prefix, endpoint or "AWS"))
    for entry in manifest["files"]:
        dest = os.path.join(staging, entry["path"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            client.download_file(bucket, prefix + entry["path"], dest)
        except Exception as exc:  # botocore and transfer errors alike
            raise PopulateError("download of s3://%s/%s%s failed: %s" % (
                bucket, prefix, entry["path"], explain_s3_error(exc)))


def populate(manifest, root):
    name = manifest["name"]
    # the folder the collection's layout names (module_utils/model_layout.py), <name> for older manifests
    target = os.path.join(root, manifest.get("folder") or name)
    state = os.path.join(root, ".embedserve")
    marker = os.path.join(state, name + ".json")
    if already_prepared(marker, target, manifest):
        log("%s already holds %s@%s (%d files); nothing to do"
            % (target, manifest["model"], manifest["commit"], len(manifest["files"])))
        return {"name": name, "target": target, "changed": False}
    staging = os.path.join(state, "staging", "%s-%s" % (name, manifest["content_id"][:12]))
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    started = time.time()
    if manifest["source"] == "s3":
        fetch_from_s3(manifest, staging)
    else:
        fetch_from_hub(manifest, staging)
    for entry in manifest["files"]:
        check_file(os.path.join(staging, entry["path"]), entry)
    if not os.path.isfile(os.path.join(staging, "config.json")):
        raise PopulateError("the prepared folder has no config.json: it is not a model vLLM can serve")
    old = None
    if os.path.lexists(target):
        old = os.path.join(state, "replaced-%s-%d" % (name, int(time.time())))
        os.rename(target, old)
    os.rename(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    tmp_marker = marker + ".tmp"
    with open(tmp_marker, "w", encoding="utf-8") as handle:
        json.dump({"name": name, "model": manifest["model"], "commit": manifest["commit"],
                   "content_id": manifest["content_id"], "source": manifest["source"], "files": manifest["files"],
                   "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, handle, indent=1)
    os.replace(tmp_marker, marker)
    size = sum(entry["size"] for entry in manifest["files"])
    log("%s now holds %s@%s: %d files, %d bytes, checked, in %.1f s" % (
        target, manifest["model"], manifest["commit"], len(manifest["files"]), size, time.time() - started))
    return {"name": name, "target": target, "changed": True, "bytes": size}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s MANIFEST.json\n" % argv[0])
        return 2
    # Files must be readable by the model servers and replaceable by the next
    # Job, which may run as another UID of the same group (fsGroup / GID 0).
    os.umask(0o002)
    with open(argv[1], encoding="utf-8") as handle:
        manifest = json.load(handle)
    root = os.environ.get("EMBEDSERVE_MODELS_ROOT", manifest.get("root", "/models"))
    try:
        result = populate(manifest, root)
    except (PopulateError, OSError) as exc:
        sys.stderr.write("populate-cache: %s: %s\n" % (manifest.get("name"), exc))
        sys.stdout.write("populate-cache: FAILED: %s\n" % exc)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
