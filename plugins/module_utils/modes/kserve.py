# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""KServe mode: an InferenceService bound to a ServingRuntime, reconciled by KServe's controller.

KServe mounts or downloads the model at MODEL_PATH, replaces SERVED_NAME in the runtime's arguments with the
InferenceService's name, and makes the <name>-predictor Service, which listens on SERVICE_PORT (80,
pkg/constants CommonDefaultHttpPort) and targets the container's CONTAINER_PORT (8080) for a RawDeployment
(Standard) predictor.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils import model_layout
from ansible_collections.embedserve.vllm.plugins.module_utils.cpu_serving import device_of

NAME = "kserve"
CONTAINER_PORT = 8080
PROBE_PORT = CONTAINER_PORT
SERVICE_PORT = 80
MODEL_PATH = "/mnt/models"
SERVED_NAME = "{{.Name}}"
# Arguments the ServingRuntime sets for every model it serves; a model's own arguments may not repeat them.
RUNTIME_FLAGS = frozenset(("--model", "--served-model-name", "--runner", "--port"))


def vllm_options(entry, settings):
    """KServe mounts the model at MODEL_PATH and names it after the InferenceService (SERVED_NAME)."""
    return {"served_model_name": SERVED_NAME, "port": CONTAINER_PORT, "model_path": MODEL_PATH, "offline": True}


def fields(entry, command, settings, normalised):
    """kserve: the runtime to bind, the split arguments, the storage to mount, ready to lay out."""
    return {"kserve": _kserve(entry, command, settings)}


def split_runtime_args(args):
    """(runtime args, per-model args): KServe concatenates ServingRuntime args and InferenceService args."""
    runtime, model, index = [], [], 0
    while index < len(args):
        flag = args[index]
        takes_value = index + 1 < len(args) and not args[index + 1].startswith("--")
        group = args[index:index + 2] if takes_value else [flag]
        (runtime if flag in RUNTIME_FLAGS else model).extend(group)
        index += len(group)
    return runtime, model


def storage_type(entry, settings):
    """Where a kserve-mode model is read from: the entry's storage.type, embedserve_kserve_storage, else
    the cache claim when models are prepared there and the Hub itself (hf://) when they are not."""
    return ((entry.get("storage") or {}).get("type") or settings.get("kserve_storage") or
            ("pvc" if settings.get("model_source") == "prepared" else "hf"))


def hf_storage_uri(model, revision):
    """hf://<owner>/<model>[:<revision>] as KServe's storage initializer parses it
    (python/storage/kserve_storage/kserve_storage.py, _download_hf: two path parts, revision after ':')."""
    return "hf://%s" % model + (":%s" % revision if revision and revision != "main" else "")


def runtime_name(task, device):
    """The ServingRuntime a kserve-mode model names: one per task, and CPU models apart from GPU ones
    (one runtime has one container image, and CPU models run embedserve_cpu_image)."""
    return "vllm-%s%s-runtime" % ("cpu-" if device == "cpu" else "", "embedding" if task == "embed" else "reranker")


def _kserve(entry, command, settings):
    runtime_args, model_args = split_runtime_args(command["args"])
    storage = entry["storage"]
    kind = storage_type(entry, settings)
    if kind == "hf":
        # the commit the facts were read from, so the pod serves the files max_model_len was derived from
        storage_spec = {"storageUri": hf_storage_uri(entry["model"], entry["facts"].get("commit") or
                                                     entry.get("revision"))}
    elif kind == "pvc":
        # model_prep puts the plain folder of model <name> at <name>/ on the claim
        path = storage.get("path") or model_layout.claim_folder(entry["name"])
        storage_spec = {"storageUri": "pvc://%s/%s" % (settings["cache_pvc_name"], path.strip("/"))}
    else:
        # ... and uploads it to s3://<bucket>/<prefix>/<name>/
        path = storage.get("path") or model_layout.s3_path(settings.get("s3_prefix", "models"), entry["name"])
        storage_spec = {"storage": {"key": storage.get("connection") or settings["data_connection"],
                                    "path": path.strip("/")}}
    task = entry["facts"]["task"]
    return {
        "runtime": runtime_name(task, device_of(entry)),
        "command": command["command"],
        "runtime_args": runtime_args,
        "model_args": model_args,
        "env": command["env"],
        # the model's own env goes on the InferenceService, not the shared runtime
        "model_env": dict((str(k), str(v)) for k, v in (entry.get("env") or {}).items()),
        "storage": storage_spec,
        "storage_type": kind,
        # a folder the user put on the claim or in the bucket (not one model_prep fills)
        "storage_path_given": bool(storage.get("path")),
        "port": CONTAINER_PORT,
    }


def predictor_service(name):
    return "%s-predictor" % name


def endpoint(name, namespace, served_model_name=None, port=None):
    """KServe's <name>-predictor Service; the server lists the model under the InferenceService's name."""
    service = predictor_service(name)
    return {"service": service, "port": SERVICE_PORT, "url": "http://%s.%s.svc" % (service, namespace),
            "served_model_name": name}


def summary_url(entry, settings):
    return entry["endpoint"]["url"]
