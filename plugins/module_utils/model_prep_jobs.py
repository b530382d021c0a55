# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""The Jobs that fill the cache claim with prepared model folders: every name, path and setting, computed here.

One ConfigMap (manifest + script) and one Job per prepared model, from the hf_snapshot results. The manifest
lists every file with its size and checksum as the controller prepared it; the Job fetches exactly those files
and checks them. The Job's name ends with a hash of the content id (model, commit, file list), the source, the
S3 prefix and the settings that shape its pod: a Job's pod template cannot change, so changing one starts a new
Job, which finds the folder in place (its marker) and finishes at once; the same content finds its completed Job.
The populate_jobs.yaml.j2 template only lays the result out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.embedserve.vllm.plugins.module_utils import model_layout, pod_runtime
from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_names import dns1123_subdomain_problem
from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import cast

SOURCES = ("hub", "s3")
SETTINGS = {
    # setting: (kind, default)
    "source": (str, "hub"),
    "job_image": (str, ""),
    "s3_prefix": (str, "models"),
    "resources": (dict, {}),
    "timeout": (int, 3600),
    "backoff_limit": (int, 2),
    "node_selector": (dict, {}),
    "tolerations": (list, []),
    "env": (dict, {}),
    "hf_endpoint": (str, ""),
    "hf_token_secret_name": (str, "hf-token"),
    "cache_pvc_name": (str, "vllm-model-cache"),
    "service_account_name": (str, "vllm"),
    "data_connection_name": (str, ""),
    "s3_validate_certs": (bool, True),
}


class JobPlanError(ValueError):
    """A snapshot or setting cannot make a Job; the message names it."""


def _settings(given):
    unknown = sorted(set(given or {}) - set(SETTINGS))
    if unknown:
        raise JobPlanError("unknown setting(s) %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(SETTINGS))))
    out = dict((key, cast((given or {}).get(key, default), kind, "model_prep_%s" % key, error=JobPlanError))
               for key, (kind, default) in SETTINGS.items())
    if out["source"] not in SOURCES:
        raise JobPlanError("model_prep_job_source must be hub or s3, got %r" % out["source"])
    return out


def job_name(name, content_id, source, s3_prefix, pod_settings):
    """<name>-prep-<8 hex>: the hash covers the content, the source, the S3 prefix and the pod's settings."""
    key = "%s:%s:%s:%s" % (content_id, source, s3_prefix, json.dumps(pod_settings, sort_keys=True))
    return "%s-prep-%s" % (name, hashlib.sha256(key.encode("utf-8")).hexdigest()[:8])


def _env(settings):
    env = [{"name": "HOME", "value": pod_runtime.SCRATCH_DIR},
           {"name": "USER", "value": "embedserve"},
           {"name": "XDG_CACHE_HOME", "value": pod_runtime.SCRATCH_DIR + "/.cache"},
           {"name": "TMPDIR", "value": pod_runtime.TMP_DIR},
           {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
           {"name": "PYTHONUNBUFFERED", "value": "1"},
           # the claim's Hugging Face cache, shared with servers that download themselves
           {"name": "HF_HOME", "value": model_layout.HF_HOME},
           {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
           {"name": "EMBEDSERVE_MODELS_ROOT", "value": model_layout.CLAIM_MOUNT}]
    if settings["source"] == "hub":
        if settings["hf_endpoint"]:
            env.append({"name": "HF_ENDPOINT", "value": settings["hf_endpoint"]})
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": settings["hf_token_secret_name"], "key": "HF_TOKEN", "optional": True}}})
    else:
        env.append({"name": "EMBEDSERVE_S3_VERIFY", "value": "true" if settings["s3_validate_certs"] else "false"})
    return pod_runtime.merge_env(env, settings["env"])


def populate_jobs(snapshots, settings=None):
    """One Job plan per snapshot (hf_snapshot results, each with item.name, item.model, item.image and
    item.run_as_user): job_name, name, image, manifest, labels, annotations, env, env_from, the security
    contexts and the volumes, ready to lay out."""
    settings = _settings(settings)
    jobs = []
    for index, snap in enumerate(snapshots or []):
        item = (snap or {}).get("item") if isinstance(snap, dict) else None
        if not isinstance(item, dict) or not item.get("name") or not snap.get("content_id"):
            raise JobPlanError("snapshot %d is not an hf_snapshot result with item.name and content_id" % index)
        name = str(item["name"])
        problem = dns1123_subdomain_problem(name)
        if problem:
            raise JobPlanError("snapshot %d: model name %r %s" % (index, name, problem))
        run_as_user = item.get("run_as_user")
        image = settings["job_image"] or str(item.get("image") or "")
        s3_prefix = model_layout.s3_key_root(settings["s3_prefix"], name)
        pod_settings = [image, settings["resources"], settings["timeout"], settings["backoff_limit"],
                        settings["node_selector"], settings["tolerations"], settings["env"], settings["hf_endpoint"],
                        settings["hf_token_secret_name"], settings["cache_pvc_name"], settings["service_account_name"],
                        settings["data_connection_name"], settings["s3_validate_certs"], run_as_user]
        name_of_job = job_name(name, snap["content_id"], settings["source"], s3_prefix, pod_settings)
        manifest = {"name": name, "model": item.get("model"), "commit": snap.get("commit"),
                    "content_id": snap["content_id"], "source": settings["source"], "s3_prefix": s3_prefix,
                    "root": model_layout.CLAIM_MOUNT, "folder": model_layout.claim_folder(name),
                    "files": snap.get("files") or []}
        labels = {"app.kubernetes.io/managed-by": "embedserve", "app.kubernetes.io/component": "model-prep",
                  "app.kubernetes.io/instance": name, "embedserve.io/model-prep-for": name}
        annotations = {"embedserve.io/model": str(item.get("model")),
                       "embedserve.io/revision": snap.get("commit") or "local",
                       "embedserve.io/content-id": snap["content_id"], "embedserve.io/source": settings["source"]}
        jobs.append({
            "job_name": name_of_job, "name": name, "image": image, "manifest": manifest,
            "labels": labels, "annotations": annotations,
            "backoff_limit": settings["backoff_limit"], "timeout": settings["timeout"],
            "service_account_name": settings["service_account_name"],
            "node_selector": settings["node_selector"], "tolerations": settings["tolerations"],
            "resources": settings["resources"],
            "env": _env(settings),
            "env_from": ([{"secretRef": {"name": settings["data_connection_name"]}}]
                         if settings["source"] == "s3" else []),
            "pod_security_context": pod_runtime.pod_security_context(run_as_user),
            "container_security_context": pod_runtime.container_security_context(run_as_user),
            "volume_mounts": [{"name": "model-cache", "mountPath": model_layout.CLAIM_MOUNT},
                              {"name": "scratch", "mountPath": pod_runtime.SCRATCH_DIR},
                              {"name": "tmp", "mountPath": pod_runtime.TMP_DIR},
                              {"name": "script", "mountPath": "/opt/embedserve", "readOnly": True}],
            "volumes": [{"name": "model-cache", "persistentVolumeClaim": {"claimName": settings["cache_pvc_name"]}},
                        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                        {"name": "script", "configMap": {"name": name_of_job}}],
        })
    return jobs
