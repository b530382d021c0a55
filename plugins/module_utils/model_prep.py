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

The code lives in model_prep_files (file selection, checksums), model_prep_hub
(the source and the plain folder) and model_prep_s3 (the S3 copy); this module
re-exports their names for the modules and tests that import them from here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_files import (
    DEFAULT_IGNORE_PATTERNS,
    ModelPrepError,
    cached_file_sha256,
    content_id,
    file_digests,
    filter_paths,
    git_blob_sha1,
    list_folder,
    require_config,
    safetensors_preference_ignores,
    select_files,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_hub import (
    Source,
    download_snapshot,
    is_offline,
    open_source,
    plan_folder,
    prepare_folder,
    write_folder,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_s3 import (
    BAD_CREDENTIAL_CODES,
    MIB,
    MISSING_BUCKET_CODES,
    S3SyncError,
    SHA256_METADATA_KEY,
    _upload_order,
    explain_s3_error,
    import_boto3,
    list_objects,
    local_files,
    make_s3_client,
    object_matches,
    plan_sync,
    sync_folder,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_layout import s3_key_root

__all__ = [
    "_upload_order",
    "BAD_CREDENTIAL_CODES",
    "DEFAULT_IGNORE_PATTERNS",
    "MIB",
    "MISSING_BUCKET_CODES",
    "ModelPrepError",
    "S3SyncError",
    "SHA256_METADATA_KEY",
    "Source",
    "cached_file_sha256",
    "content_id",
    "download_snapshot",
    "explain_s3_error",
    "file_digests",
    "filter_paths",
    "git_blob_sha1",
    "import_boto3",
    "is_offline",
    "list_folder",
    "list_objects",
    "local_files",
    "make_s3_client",
    "object_matches",
    "open_source",
    "plan_folder",
    "plan_sync",
    "prepare_folder",
    "require_config",
    "s3_key_root",
    "safetensors_preference_ignores",
    "select_files",
    "sync_folder",
    "write_folder",
]
