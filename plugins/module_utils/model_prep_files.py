# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Model preparation: which files a served model needs, and their checksums
(split from model_prep.py; see its docstring)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import hashlib
import json
import os
import re

from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import CONFIG_FILE


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
