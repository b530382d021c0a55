# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Where a prepared model lives: one rule for the cache claim, the S3 bucket and the pods that read them.

model_prep writes model <name> as a plain folder at <name>/ on the cache claim and uploads it to
s3://<bucket>/<prefix>/<name>/; raw pods mount the claim at CLAIM_MOUNT and serve CLAIM_MOUNT/<name>,
KServe reads pvc://<claim>/<name> or the data connection's <prefix>/<name>. Every one of them asks here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# where the cache claim is mounted in every pod (vLLM servers and model_prep Jobs)
CLAIM_MOUNT = "/models"
# the Hugging Face cache on the claim, shared by servers that download themselves and by model_prep
HF_HOME = CLAIM_MOUNT + "/huggingface"


def claim_folder(name):
    """The model's folder on the cache claim, relative to its root."""
    return name.strip("/")


def mounted_folder(name):
    """The model's folder as a pod that mounts the claim at CLAIM_MOUNT sees it."""
    return "%s/%s" % (CLAIM_MOUNT, claim_folder(name))


def s3_key_root(prefix, name):
    """'<prefix>/<name>/' without doubled or leading slashes; an empty prefix is the bucket's root."""
    parts = [part for part in (prefix or "").strip("/").split("/") if part] + [name.strip("/")]
    return "/".join(parts) + "/"


def s3_path(prefix, name):
    """The data connection path of the model's folder ('<prefix>/<name>'), as KServe's storage spec takes it."""
    return s3_key_root(prefix, name).rstrip("/")
