# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""KServe ServingRuntimes for the catalogue's kserve-mode models.

One definition serves two roles: kserve_runtime creates the ServingRuntimes in the models' namespace, and
rhoai_template publishes the same objects inside OpenShift Templates for the OpenShift AI dashboard (which copies
them into a project when a user deploys a model). The container (command, model-independent arguments, rootless
environment, scratch volumes, security context) comes from the normalised catalogue entries, so a runtime, its
Template and the vLLM command the catalogue built cannot drift apart.

Binding an InferenceService to a runtime, as KServe would, is kserve_bindings.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.embedserve.vllm.plugins.module_utils import pod_runtime
from ansible_collections.embedserve.vllm.plugins.module_utils.modes.kserve import CONTAINER_PORT as KSERVE_PORT
from ansible_collections.embedserve.vllm.plugins.module_utils.modes.kserve import RUNTIME_FLAGS
from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import cast

CONTAINER_NAME = "kserve-container"
METRICS_PATH = "/metrics"
# What the runtimes declare unless configured. autoSelect false: an InferenceService reaches them only by naming
# them, so they never capture other vLLM models that rely on auto-selection of the "vLLM" format.
DEFAULT_MODEL_FORMATS = ({"name": "vLLM", "autoSelect": False},)
DISPLAY_NAMES = {
    "embed": "vLLM embeddings ServingRuntime for KServe (embedserve)",
    "score": "vLLM reranker ServingRuntime for KServe (embedserve)",
    "pooling": "vLLM pooling ServingRuntime for KServe (embedserve)",
}
OVERRIDE_KEYS = ("runtime", "model_format", "enable_auth", "hardware_profile")
SCOPE = "global"
# KServe renamed the RawDeployment mode Standard in v0.16 (pkg/constants/constants.go: Standard, with
# ParseDeploymentMode normalising the legacy RawDeployment); 0.15 and older know only RawDeployment.
DEPLOYMENT_MODES = ("RawDeployment", "Standard")
STANDARD_MODE_SINCE = (0, 16)
# spec.predictor.storageContainerName (select a ClusterStorageContainer by name) appeared in v0.20
# (pkg/apis/serving/v1beta1/predictor.go); older releases take the first one whose URI formats match.
STORAGE_CONTAINER_NAME_SINCE = (0, 20)
STORAGE_INITIALIZER = "storage-initializer"
# An InferenceService reading a data connection (spec.predictor.model.storage {key, path}) reaches the pod mutator
# with the source URI "<scheme-placeholder>://<path>" (pkg/credentials/service_account_credentials.go,
# UriSchemePlaceholder; the real s3://<bucket>/ is filled in later from storage-config), and 0.20 passes
# storageContainerName on only for storageUri (components/predictor.go, addStorageInitializerAnnotations). The
# ClusterStorageContainer is matched against that URI, so it must claim the placeholder scheme too; KServe's default
# container does not, so this one is the only match.
STORAGE_SPEC_URI_PREFIX = "<scheme-placeholder>://"


class ServingRuntimeError(ValueError):
    """The runtimes cannot be built as configured; the message names the models and what to change."""


def kserve_version(value):
    """"0.20", "v0.20.0", 0.2 (YAML float!) -> (0, 20); the KServe release the objects target."""
    if isinstance(value, float):
        raise ServingRuntimeError("kserve_version must be a string such as \"0.20\" (got the number %r: quote it, "
                                  "YAML reads 0.20 as 0.2)" % value)
    text = str(value or "").strip().lstrip("v")
    parts = text.split(".")
    try:
        if len(parts) < 2:
            raise ValueError()
        return int(parts[0]), int(parts[1])
    except ValueError as exc:
        raise ServingRuntimeError("kserve_version must look like 0.20 or v0.20.0, got %r" % (value,)) from exc


def deployment_mode(version, requested=None):
    """serving.kserve.io/deploymentMode for a KServe release: Standard from 0.16, RawDeployment before.

    requested (RawDeployment or Standard) wins when the release accepts it: 0.16+ still reads RawDeployment as
    Standard, while 0.15 and older refuse Standard.
    """
    target = kserve_version(version)
    if requested in (None, ""):
        return "Standard" if target >= STANDARD_MODE_SINCE else "RawDeployment"
    if requested not in DEPLOYMENT_MODES:
        raise ServingRuntimeError("deployment mode must be RawDeployment or Standard, got %r (Serverless/Knative is "
                                  "not supported for pooling models)" % (requested,))
    if requested == "Standard" and target < STANDARD_MODE_SINCE:
        raise ServingRuntimeError("KServe %d.%d does not know deploymentMode Standard (it arrived in 0.16): use "
                                  "RawDeployment or leave the mode empty" % target)
    return requested


def selects_storage_container(version):
    """Whether InferenceServices of this KServe release can name their ClusterStorageContainer."""
    return kserve_version(version) >= STORAGE_CONTAINER_NAME_SINCE


def storage_container(name, image, run_as_user=None):
    """A ClusterStorageContainer for s3://, hf:// and data connections whose storage-initializer passes restricted.

    KServe copies spec.container into the predictor pod as the storage-initializer init container
    (pkg/webhook/admission/pod/storage_initializer_injector.go) and adds nothing to its securityContext, so the
    upstream default (config/storagecontainers/default.yaml, no securityContext) is refused in a restricted
    namespace: allowPrivilegeEscalation, capabilities, runAsNonRoot and seccompProfile must be set here.
    """
    if not name or not image:
        raise ServingRuntimeError("the storage container needs a name and an image")
    security = pod_runtime.container_security_context(run_as_user)
    security.pop("readOnlyRootFilesystem", None)  # the initializer writes its downloads' temporary files
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterStorageContainer",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "embedserve",
                                              "app.kubernetes.io/part-of": "embedserve"}},
        "spec": {
            "container": {
                "name": STORAGE_INITIALIZER,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "resources": {"requests": {"cpu": "100m", "memory": "100Mi"},
                              "limits": {"cpu": "1", "memory": "1Gi"}},
                "securityContext": security,
            },
            "supportedUriFormats": [{"prefix": "s3://"}, {"prefix": "hf://"}, {"prefix": STORAGE_SPEC_URI_PREFIX}],
            "workloadType": "initContainer",
        },
    }


def storage_config_entry(connection):
    """The storage-config value KServe's storage initializer reads for one S3 data connection.

    Keys as kserve_storage.py maps them (python/storage/kserve_storage/kserve_storage.py, _update_with_storage_spec):
    verify_ssl -> S3_VERIFY_SSL ("0" turns verification off), ca_bundle -> AWS_CA_BUNDLE (a file in the
    container); cabundle_configmap is read by the controller (pkg/credentials/service_account_credentials.go),
    which mounts that ConfigMap's cabundle.crt into the initializer.
    """
    entry = {"type": "s3", "access_key_id": str(connection["access_key_id"]),
             "secret_access_key": str(connection["secret_access_key"]),
             "endpoint_url": str(connection["endpoint"]), "bucket": str(connection["bucket"]),
             "region": str(connection.get("region") or "us-east-1"),
             "verify_ssl": "1" if bool_setting(connection.get("verify_ssl", True), "verify_ssl") else "0"}
    if connection.get("ca_bundle_configmap"):
        entry["cabundle_configmap"] = str(connection["ca_bundle_configmap"])
    return json.dumps(entry, sort_keys=True)


def template_name(runtime_name):
    """Name of the OpenShift Template that publishes a runtime (what opendatahub.io/template-name points at)."""
    return "%s-template" % runtime_name


# What the dashboard shows of each Template, by the runtime's component label.
TEMPLATE_DESCRIPTIONS = {
    "embed-runtime": "vLLM serving sentence-embedding models on /v1/embeddings with the pooling runner.",
    "score-runtime": "vLLM serving cross-encoder rerankers on /rerank and /score with the pooling runner.",
    "pooling-runtime": "vLLM serving embedding models and cross-encoder rerankers with the pooling runner.",
}
TEMPLATE_TAGS = {"embed-runtime": "embeddings", "score-runtime": "reranker", "pooling-runtime": "embeddings,reranker"}


def runtime_templates(runtimes):
    """What each OpenShift Template publishing a runtime (serving_runtimes(template=True)) carries besides the
    runtime: its name, component, display name, description and tags."""
    out = []
    for runtime in runtimes or []:
        metadata = runtime.get("metadata") or {}
        component = (metadata.get("labels") or {}).get("app.kubernetes.io/component")
        if component not in TEMPLATE_DESCRIPTIONS:
            raise ServingRuntimeError("runtime %r is not one of the collection's (component label %r)"
                                      % (metadata.get("name"), component))
        out.append({"name": template_name(metadata["name"]), "component": component,
                    "display_name": (metadata.get("annotations") or {}).get("openshift.io/display-name", ""),
                    "description": TEMPLATE_DESCRIPTIONS[component],
                    "tags": "embedserve,vllm,kserve,servingruntime,%s" % TEMPLATE_TAGS[component],
                    "runtime": runtime})
    return out


def joined_args(args):
    """["--model", "/mnt/models", "--enforce-eager"] -> ["--model=/mnt/models", "--enforce-eager"]."""
    joined, index = [], 0
    while index < len(args):
        flag = str(args[index])
        if flag.startswith("--") and "=" not in flag and index + 1 < len(args) and \
                not str(args[index + 1]).startswith("--"):
            joined.append("%s=%s" % (flag, args[index + 1]))
            index += 2
        else:
            joined.append(flag)
            index += 1
    return joined


def _flag(arg):
    return str(arg).split("=", 1)[0]


def kserve_models(catalogue):
    if not isinstance(catalogue, list):
        raise ServingRuntimeError("the catalogue must be the list catalogue_resolved.catalogue, got %s"
                                  % type(catalogue).__name__)
    return [entry for entry in catalogue if isinstance(entry, dict) and entry.get("mode") == "kserve"]


def runtime_groups(catalogue):
    """The runtimes the kserve-mode models use, in catalogue order, each with the container every model agrees on.

    Returns a list of {name, tasks, models, image, vllm_version, command, args, env, run_as_user, accelerators}.
    """
    groups, problems = {}, []
    for entry in kserve_models(catalogue):
        kserve = entry.get("kserve") or {}
        name = kserve.get("runtime")
        if not name:
            problems.append("%s: the catalogue entry has no kserve.runtime" % entry.get("name"))
            continue
        container = {"image": entry["image"], "vllm_version": entry["vllm_version"],
                     "command": list(kserve["command"]), "args": joined_args(kserve["runtime_args"]),
                     "env": dict(kserve.get("env") or {}), "run_as_user": entry.get("run_as_user")}
        group = groups.get(name)
        if group is None:
            group = groups[name] = dict(container, name=name, tasks=[], models=[], accelerators=[])
        else:
            for key, value in container.items():
                if group[key] != value:
                    problems.append(
                        "%s and %s share ServingRuntime %s but need different %s (%s / %s): one runtime has one "
                        "container, so give them the same image and vLLM version or separate runtime names"
                        % (group["models"][0], entry["name"], name, key.replace("_", " "),
                           _show(group[key]), _show(value)))
        task = entry["facts"]["task"]
        if task not in group["tasks"]:
            group["tasks"].append(task)
        group["models"].append(entry["name"])
        gpu = entry.get("gpu") or {}
        if gpu.get("enabled") and gpu.get("resource") and gpu["resource"] not in group["accelerators"]:
            group["accelerators"].append(gpu["resource"])
    if problems:
        raise ServingRuntimeError("the ServingRuntimes cannot be built, nothing was deployed:\n- %s"
                                  % "\n- ".join(problems))
    return list(groups.values())


def _show(value):
    return value if isinstance(value, str) else json.dumps(value)


def _task_key(tasks):
    return tasks[0] if len(tasks) == 1 else "pooling"


def model_formats(formats=None):
    """The supportedModelFormats a runtime declares: formats (list of {name, version?, autoSelect?, priority?})."""
    if not formats:
        return [dict(f) for f in DEFAULT_MODEL_FORMATS]
    if not isinstance(formats, list):
        raise ServingRuntimeError("model_formats must be a list of {name, version, autoSelect, priority}")
    declared = []
    for item in formats:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            raise ServingRuntimeError("every model format needs a name, got %r" % (item,))
        unknown = sorted(set(item) - {"name", "version", "autoSelect", "priority"})
        if unknown:
            raise ServingRuntimeError("model format %s: unknown key(s) %s (known: name, version, autoSelect, "
                                      "priority)" % (item["name"], ", ".join(unknown)))
        fmt = {"name": str(item["name"])}
        if item.get("version") not in (None, ""):
            fmt["version"] = str(item["version"])
        fmt["autoSelect"] = bool_setting(item.get("autoSelect", False), "autoSelect")
        if item.get("priority") not in (None, ""):
            fmt["priority"] = _int(item["priority"], "priority")
        declared.append(fmt)
    return declared


def bool_setting(value, name):
    return cast("false" if value in ("", None) else value, bool, name, error=ServingRuntimeError)


def _int(value, name):
    return cast(value, int, name, error=ServingRuntimeError)


def _task_args(task_args, tasks):
    args = []
    for task in tasks:
        extra = (task_args or {}).get(task) or []
        if not isinstance(extra, list):
            raise ServingRuntimeError("task_args.%s must be a list of vLLM arguments" % task)
        for arg in joined_args([str(a) for a in extra]):
            if _flag(arg) in RUNTIME_FLAGS or _flag(arg) == "--task":
                raise ServingRuntimeError(
                    "task_args.%s: %s is set by the runtime itself (%s are fixed; --task was removed in vLLM 0.13)"
                    % (task, _flag(arg), ", ".join(sorted(RUNTIME_FLAGS))))
            if arg not in args:
                args.append(arg)
    return args


def serving_runtimes(catalogue, namespace=None, template=False, formats=None, display_names=None, task_args=None,
                     labels=None, per_model=False):
    """ServingRuntime objects, one per runtime the catalogue's kserve-mode models use.

    namespace: where they are created (omitted when template is true). template: the object a Template carries;
    the dashboard adds the instance annotations (template-name, template-display-name, serving-runtime-scope) when
    it copies it into a project, so they are left out. formats: supportedModelFormats (default vLLM, no
    auto-selection). display_names / task_args: per task (embed, score) display name and extra runtime arguments.
    per_model: one runtime per InferenceService, named after it, as the OpenShift AI dashboard instantiates its
    Template for each deployment (odh-dashboard packages/kserve/src/deploy.ts); the dashboard deletes the runtime
    an InferenceService names when that deployment is deleted (DeleteInferenceServiceModal.tsx), so a shared
    runtime would take every other model of the task down with it.
    """
    objects = _group_runtimes(catalogue, namespace, template, formats, display_names, task_args, labels)
    if not per_model or template:
        return objects
    by_group = dict((o["metadata"]["name"], o) for o in objects)
    instances = []
    for entry in kserve_models(catalogue):
        instance = json.loads(json.dumps(by_group[entry["kserve"]["runtime"]]))
        instance["metadata"]["name"] = entry["name"]
        instance["metadata"]["labels"]["app.kubernetes.io/instance"] = entry["name"]
        instances.append(instance)
    return instances


def _group_runtimes(catalogue, namespace, template, formats, display_names, task_args, labels):
    declared = model_formats(formats)
    names = dict(DISPLAY_NAMES)
    names.update(dict((str(k), str(v)) for k, v in (display_names or {}).items() if v))
    objects = []
    for group in runtime_groups(catalogue):
        task = _task_key(group["tasks"])
        display = names[task]
        volumes, mounts = pod_runtime.scratch_volumes()
        env = pod_runtime.merge_env(pod_runtime.rootless_env(offline=True), group["env"])
        metadata = {"name": group["name"]}
        if not template:
            if not namespace:
                raise ServingRuntimeError("a ServingRuntime outside a Template needs a namespace")
            metadata["namespace"] = namespace
        metadata.update({
            "labels": {"opendatahub.io/dashboard": "true",
                       "app.kubernetes.io/name": "vllm",
                       "app.kubernetes.io/component": "%s-runtime" % task,
                       "app.kubernetes.io/managed-by": "embedserve",
                       "app.kubernetes.io/part-of": "embedserve"},
            "annotations": {"openshift.io/display-name": display,
                            "opendatahub.io/apiProtocol": "REST",
                            "opendatahub.io/recommended-accelerators": json.dumps(group["accelerators"]),
                            "opendatahub.io/runtime-version": "v%s" % group["vllm_version"]},
        })
        metadata["labels"].update(dict((str(k), str(v)) for k, v in (labels or {}).items()))
        if not template:
            metadata["annotations"].update({
                "opendatahub.io/template-name": template_name(group["name"]),
                "opendatahub.io/template-display-name": display,
                "opendatahub.io/serving-runtime-scope": SCOPE,
            })
        container = {
            "name": CONTAINER_NAME,
            "image": group["image"],
            "command": group["command"],
            "args": group["args"] + _task_args(task_args, group["tasks"]),
            "env": env,
            # http1 is a port name both KServe raw Services and Knative accept.
            "ports": [{"name": "http1", "containerPort": KSERVE_PORT, "protocol": "TCP"}],
            "securityContext": pod_runtime.container_security_context(group.get("run_as_user")),
            "volumeMounts": mounts,
        }
        objects.append({
            "apiVersion": "serving.kserve.io/v1alpha1",
            "kind": "ServingRuntime",
            "metadata": metadata,
            "spec": {
                # odh-model-controller creates the <isvc>-metrics Service and ServiceMonitor only when
                # prometheus.io/port is set; kserve-runtime tells the dashboard which metrics to show.
                "annotations": {"opendatahub.io/kserve-runtime": "vllm",
                                "prometheus.io/port": str(KSERVE_PORT),
                                "prometheus.io/path": METRICS_PATH},
                "multiModel": False,
                "supportedModelFormats": [dict(f) for f in declared],
                "containers": [container],
                "volumes": volumes,
            },
        })
    return objects
