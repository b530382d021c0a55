# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""The inventory's model catalogue, resolved once into the structure every role reads.

Each catalogue entry is checked (names, types, unknown keys, image pins),
its Hugging Face files are read once per distinct model, the GPU plan places
all GPU models together, and the exact vLLM command is built for the pod.
Roles only lay the result out in manifests, so a fact lives in one place.
Survey answers arrive as strings (AWX), so numbers and booleans are cast here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.embedserve.vllm.plugins.module_utils import catalogue_schema, gpu_sizing, modes, pod_runtime, vllm_cli
from ansible_collections.embedserve.vllm.plugins.module_utils.cpu_serving import (
    CPU_PROCESS_GIB,
    GIB,
    cpu_env,
    cpu_resources,
    device_of,
    sized_resources,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_names import dns1123_label_problem
from ansible_collections.embedserve.vllm.plugins.module_utils.modes import kserve as kserve_mode
from ansible_collections.embedserve.vllm.plugins.module_utils.modes import raw as raw_mode
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import (
    DEFAULT_VLLM_VERSION,
    parse_vllm_version,
)

MODES = modes.NAMES
MODEL_SOURCES = ("hub", "prepared")
# Each mode's serving facts live in modes/<mode>.py; these names stay for
# the modules and tests that read them here.
RAW_PORT = raw_mode.PORT
KSERVE_PORT = kserve_mode.CONTAINER_PORT
# KServe derives "<name>-predictor" objects; keep them within 63 characters.
NAME_MAX = 47
DEFAULT_STARTUP_TIMEOUT = pod_runtime.DEFAULT_STARTUP_TIMEOUT
PROBE_PERIOD_SECONDS = pod_runtime.PROBE_PERIOD_SECONDS
probes = pod_runtime.probes
split_runtime_args = kserve_mode.split_runtime_args
# read by tests and the CPU documentation
__all__ = ("CPU_PROCESS_GIB", "GIB", "CatalogueError", "check_image", "endpoint", "probes", "resolve_catalogue",
           "split_runtime_args", "validate_entries")

# Every key a catalogue entry (and its route and storage) may carry; the
# nested schema with each value's rule lives in catalogue_schema.
MODEL_KEYS = tuple(sorted(catalogue_schema.ENTRY_FIELDS))
ROUTE_KEYS = tuple(sorted(catalogue_schema.ROUTE.fields))
STORAGE_KEYS = tuple(sorted(catalogue_schema.STORAGE.fields))
STORAGE_TYPES = catalogue_schema.STORAGE_TYPES
REQUIRED_KEYS = ("name", "model")
# Far above any real catalogue; bounds the work (and the output) of a runaway input.
MODELS_MAX = 256
# At most this many problems are listed; the rest are counted, so output stays bounded.
PROBLEMS_SHOWN = 50
GPU_REPLICAS_EXPLAINED = 64
# A Hub repository id as hf:// takes it: exactly <owner>/<model> (huggingface_hub's repo-id characters).
HF_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_DIGEST_RE = re.compile(r"@sha256:(?P<hex>[^/:@]*)$")
# A release-like tag: v0.32.0, 0.32, v0.10.1.1, v0.32.0-cu128, 0.32.0rc1.
_VERSION_TAG_RE = re.compile(r"^v?(?P<release>(?P<major>\d+)\.(?P<minor>\d+)(\.\d+)*)([-._]?[A-Za-z0-9][A-Za-z0-9._-]*)?$")


class CatalogueError(ValueError):
    """The catalogue cannot be deployed as written; the message says which entry and how to fix it."""


def _typed(entry, where, problems):
    """entry checked against the nested schema, survey strings cast; problems collects what is wrong."""
    typed, entry_problems = catalogue_schema.check_entry(entry, where)
    problems.extend(entry_problems)
    return typed or {}


def _where(index, entry):
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        return "embedserve_models[%d]" % index
    return "embedserve_models[%d] (%s)" % (index, catalogue_schema.shown(name)[1:-1])


def check_image(image, vllm_version, where):
    """Return a problem when the image is not pinned to vllm_version (version-like tag) or to a full digest."""
    if not image:
        return "%s: no image: set embedserve_image to a vLLM image pinned by tag or digest" % where
    if not isinstance(image, str) or catalogue_schema.image_problem(image):
        return "%s: image %s is not an image reference (registry/repository:tag or @sha256:<64 hex digits>)" % (
            where, catalogue_schema.shown(image))
    digest = _DIGEST_RE.search(image)
    if digest:
        if re.match(r"^[0-9a-f]{64}$", digest.group("hex")):
            return None
        return ("%s: image %s has an incomplete digest: a sha256 digest is 64 lower-case hex digits (see `skopeo "
                "inspect` or the registry)" % (where, image))
    if "@" in image:
        return "%s: image %s: only sha256 digests are accepted (@sha256:<64 hex digits>)" % (where, image)
    name, _sep, tag = image.rpartition(":")
    if not name or "/" in tag:
        return "%s: image %s has no tag: pin it (for example vllm/vllm-openai:v%s) or use a digest" % (
            where, image, vllm_version)
    if tag == "latest":
        return ("%s: image %s uses the moving 'latest' tag; the vLLM arguments are built for %s, so pin the "
                "image to that release (for example :v%s) or to a digest" % (where, image, vllm_version, vllm_version))
    tagged = _VERSION_TAG_RE.match(tag)
    if not tagged:
        return ("%s: image %s has tag '%s', which names no vLLM release (it can move, and the vLLM arguments are "
                "built for %s): use a release tag such as :v%s or pin the image by @sha256 digest"
                % (where, image, tag, vllm_version, vllm_version))
    wanted = parse_vllm_version(vllm_version).release[:2]
    if (int(tagged.group("major")), int(tagged.group("minor"))) != wanted:
        return ("%s: image %s is vLLM %s but the arguments are built for vLLM %s: set embedserve_vllm_version "
                "to %s or use the matching image" % (where, image, tagged.group("release"), vllm_version,
                                                     tagged.group("release")))
    return None


def _gpu_replica_capacity(gpus):
    """Most model replicas the described GPUs could ever hold (each takes at least a CUDA context), or None."""
    try:
        count = int(gpus.get("count", 1))
        if gpus.get("sharing") == "exclusive":
            return count
        memory = int(gpus.get("mig_memory_mib") or gpus.get("memory_mib") or 0)
        per_gpu = max(1, memory // gpu_sizing.CUDA_CONTEXT_MIB) * (7 if gpus.get("sharing") == "mig" else 1)
        return count * per_gpu
    except (TypeError, ValueError, AttributeError):
        return None


def _bounded(problems):
    if len(problems) <= PROBLEMS_SHOWN:
        return problems
    return problems[:PROBLEMS_SHOWN] + ["... and %d more problem(s)" % (len(problems) - PROBLEMS_SHOWN)]


def validate_entries(models, defaults, settings):
    """Typed, defaulted entries; raises CatalogueError listing every problem at once.

    settings are checked too (and cleaned in place): they become object names,
    namespaces in the NetworkPolicy, selectors and tolerations.
    """
    problems = []
    if not isinstance(models, list) or not models:
        raise CatalogueError("embedserve_models must be a non-empty list of models (name, model, mode, ...)")
    if len(models) > MODELS_MAX:
        raise CatalogueError("embedserve_models has %d entries; at most %d are supported in one catalogue"
                             % (len(models), MODELS_MAX))
    cleaned_settings, setting_problems = catalogue_schema.check_settings(settings)
    problems.extend(setting_problems)
    settings.update(cleaned_settings)
    if defaults is not None and not isinstance(defaults, dict):
        problems.append("embedserve_model_defaults must be a mapping of catalogue keys, found %s"
                        % catalogue_schema.shown(defaults))
        defaults = {}
    entries, seen, where_of = [], {}, {}
    for index, raw in enumerate(models):
        where = _where(index, raw)
        if not isinstance(raw, dict):
            problems.append("%s: each model must be a mapping with at least name and model" % where)
            continue
        merged = dict(defaults or {})
        merged.update(raw)
        entry = _typed(merged, where, problems)
        name = entry.get("name")
        if name:
            problem = dns1123_label_problem(name)
            if problem is None and not name[0].isalpha():
                problem = "must start with a letter (it names a Service)"
            if problem is None and len(name) > NAME_MAX:
                problem = "must be at most %d characters so derived names fit in 63" % NAME_MAX
            if problem:
                problems.append("%s: name %s %s" % (where, catalogue_schema.shown(name), problem))
            if name in seen:
                problems.append("%s: name '%s' is already used by embedserve_models[%d]; names must be unique"
                                % (where, name, seen[name]))
            seen.setdefault(name, index)
        entry.setdefault("mode", settings["default_mode"])
        if entry["mode"] == "kserve" and entry.get("served_model_name") not in (None, name):
            problems.append("%s: served_model_name '%s' cannot be used in kserve mode: the runtime serves every "
                            "model under its InferenceService name ({{.Name}}), here '%s'"
                            % (where, entry["served_model_name"], name))
        entry.setdefault("replicas", 1)
        entry["route"] = entry.get("route") or {}
        entry["storage"] = entry.get("storage") or {}
        storage_type = kserve_mode.storage_type(entry, settings)
        if storage_type == "s3" and entry["mode"] == "kserve" and not (
                entry["storage"].get("connection") or settings.get("data_connection")):
            problems.append("%s: s3 storage needs storage.connection (or embedserve_data_connection), the data "
                            "connection Secret" % where)
        if storage_type == "hf" and entry["mode"] == "kserve" and not HF_REPO_ID.match(str(entry.get("model"))):
            problems.append("%s: model %s: KServe reads Hugging Face models as hf://<owner>/<model>, so give the "
                            "full repository id (e.g. sentence-transformers/all-MiniLM-L6-v2), or prepare the "
                            "model (embedserve_model_source: prepared) and read it from the cache claim"
                            % (where, catalogue_schema.shown(entry.get("model"))))
        image = entry.get("image") or settings["image"]
        problem = check_image(image, settings["vllm_version"], where)
        if problem:
            problems.append(problem)
        entry["image"] = image
        where_of[id(entry)] = where
        entries.append(entry)
    capacity = _gpu_replica_capacity(settings.get("gpus") or {}) if settings.get("gpus") else None
    gpu_entries = [e for e in entries if e.get("gpu", True) and e.get("device") != "cpu" and e["replicas"] > 0]
    # The planner explains a catalogue that does not fit model by model; an
    # absurd replica count is stopped here so planning stays quick and its
    # message short.
    if capacity is not None and sum(e["replicas"] for e in gpu_entries) > max(capacity, GPU_REPLICAS_EXPLAINED):
        largest = max(gpu_entries, key=lambda e: e["replicas"])
        problems.append("%s: replicas %d: the GPUs in embedserve_gpus can hold at most %d model replicas in all "
                        "(each needs at least a %d MiB CUDA context), and the GPU models ask for %d: lower "
                        "replicas, add GPUs or serve the model on CPU (device: cpu)"
                        % (where_of[id(largest)], largest["replicas"], capacity, gpu_sizing.CUDA_CONTEXT_MIB,
                           sum(e["replicas"] for e in gpu_entries)))
    if problems:
        raise CatalogueError("the model catalogue has %d problem(s), nothing was deployed:\n- %s"
                             % (len(problems), "\n- ".join(_bounded(problems))))
    return entries


def resolve_catalogue(models, settings, resolver, defaults=None):
    """The normalised catalogue: {catalogue: [entry...], plan: {...}, summary: [row...]}.

    settings: vllm_version, image, default_mode, namespace, gpus (gpu_plan
    input plus node_selector/tolerations), model_source (hub|prepared),
    cache_pvc_name, hf_token_secret (name or ''), platform, run_as_user (None on OpenShift),
    kserve_storage, data_connection and s3_prefix (KServe S3 storage).
    resolver(model, revision, max_model_len, hf_overrides, disable_sliding_window) -> facts.
    """
    settings = dict(settings)
    settings.setdefault("vllm_version", DEFAULT_VLLM_VERSION)
    settings["vllm_version"] = parse_vllm_version(settings["vllm_version"]).text
    entries = validate_entries(models, defaults, settings)

    facts_by_key, problems = {}, []
    for entry in entries:
        key = (entry["model"], entry.get("revision"), entry.get("max_model_len"),
               repr(sorted((entry.get("hf_overrides") or {}).items())), entry.get("disable_sliding_window", False))
        if key not in facts_by_key:
            try:
                facts_by_key[key] = resolver(entry["model"], entry.get("revision"), entry.get("max_model_len"),
                                             entry.get("hf_overrides"), entry.get("disable_sliding_window", False))
            except ValueError as exc:
                facts_by_key[key] = exc
        result = facts_by_key[key]
        if isinstance(result, Exception):
            problems.append("%s (%s): %s" % (entry["name"], entry["model"], result))
        else:
            entry["facts"] = result
    if problems:
        raise CatalogueError("could not resolve %d model(s), nothing was deployed:\n- %s"
                             % (len(problems), "\n- ".join(problems)))

    plan = _plan(entries, settings)
    catalogue = []
    for entry in entries:
        try:
            catalogue.append(_normalised(entry, plan, settings))
        except (vllm_cli.VllmCliError, gpu_sizing.GpuSizingError) as exc:
            problems.append("%s: %s" % (entry["name"], exc))
    if problems:
        raise CatalogueError("the vLLM arguments could not be built, nothing was deployed:\n- %s"
                             % "\n- ".join(problems))
    # The entry's own resources are merged with the sizing of the model: the
    # result must still be what the API server accepts.
    where = dict((raw.get("name"), _where(index, raw)) for index, raw in enumerate(models) if isinstance(raw, dict))
    for entry in catalogue:
        problems.extend(catalogue_schema.normalised_problems(entry, where.get(entry["name"], entry["name"])))
    if problems:
        raise CatalogueError("the catalogue's resources do not fit the model sizing, nothing was deployed:\n- %s"
                             % "\n- ".join(_bounded(problems)))
    return {"catalogue": catalogue, "plan": plan, "summary": [_summary_row(e, settings) for e in catalogue],
            "settings": shared_settings(settings)}


# The settings several roles need, owned by the catalogue once: each role's variable defaults from
# catalogue_resolved.settings, and shared_setting_problems() refuses a role variable overridden to something
# else (the pods would mount a claim, or run as a service account, that nobody created).
SHARED_SETTINGS = {
    "namespace": ("namespace_name", "raw_deployment_namespace", "kserve_runtime_namespace", "model_prep_namespace",
                  "ownership_namespace"),
    "cache_pvc_name": ("namespace_cache_pvc_name", "model_prep_cache_pvc_name"),
    "service_account": ("namespace_service_account_name", "raw_deployment_service_account_name",
                        "kserve_runtime_service_account_name", "model_prep_service_account_name"),
    "hf_token_secret": ("namespace_hf_token_secret_name", "model_prep_hf_token_secret_name"),
    "data_connection": ("model_prep_data_connection_name",),
    "s3_prefix": ("model_prep_s3_prefix",),
}
SHARED_DEFAULTS = {"service_account": "vllm", "cache_pvc_name": "vllm-model-cache", "s3_prefix": "models",
                   "data_connection": "aws-connection-embedserve-models", "hf_token_secret": "", "platform": "openshift",
                   "model_source": "hub"}


def shared_settings(settings):
    """The settings every role reads from catalogue_resolved.settings."""
    shared = dict((key, settings.get(key) if settings.get(key) is not None else default)
                  for key, default in SHARED_DEFAULTS.items())
    shared["namespace"] = settings["namespace"]
    return shared


def shared_setting_problems(shared, role_values):
    """Role variables (name -> value; None or '' for a role not in the play) that disagree with the catalogue's
    shared settings, as messages."""
    problems = []
    for key, names in SHARED_SETTINGS.items():
        expected = shared.get(key)
        if key == "hf_token_secret" and not expected:
            continue  # no token: no Secret is created or read
        for name in names:
            value = role_values.get(name)
            if value not in (None, "") and str(value) != str(expected):
                problems.append("%s is %r but the catalogue's %s is %r (embedserve_%s): set embedserve_%s instead, "
                                "so every role and the pods agree" % (name, value, key, expected, _SETTING_VAR[key],
                                                                      _SETTING_VAR[key]))
    return problems


_SETTING_VAR = {"namespace": "namespace", "cache_pvc_name": "cache_pvc_name", "service_account": "service_account",
                "hf_token_secret": "hf_token_secret_name", "data_connection": "data_connection",
                "s3_prefix": "s3_prefix"}


def _plan(entries, settings):
    cpu_entries = [e for e in entries if device_of(e) == "cpu"]
    if cpu_entries and settings.get("cpu_image"):
        # CPU models run the CPU image: refuse an unpinned one before anything is deployed.
        problem = check_image(settings.get("cpu_image"), settings["vllm_version"], "embedserve_cpu_image (used by %s)"
                              % ", ".join(e["name"] for e in cpu_entries))
        if problem:
            raise CatalogueError("the model catalogue has 1 problem(s), nothing was deployed:\n- %s" % problem)
    gpu_entries = [e for e in entries if device_of(e) == "gpu" and e["replicas"] > 0]
    if not gpu_entries:
        return {"models": {}, "gpus": []}
    if not settings.get("gpus"):
        raise CatalogueError(
            "%s need a GPU but no GPUs are described: set embedserve_gpus (count, memory_mib, sharing) or give "
            "those models gpu: false" % ", ".join(e["name"] for e in gpu_entries))
    gpus = dict(settings["gpus"])
    for extra in ("node_selector", "tolerations"):
        gpus.pop(extra, None)
    models = []
    for entry in gpu_entries:
        facts = dict(entry["facts"], name=entry["name"])
        if entry.get("max_num_batched_tokens"):
            facts["max_num_batched_tokens"] = entry["max_num_batched_tokens"]
        # every replica of a model takes its own share of a GPU
        for replica in range(entry["replicas"]):
            models.append(dict(facts, name=_replica_name(entry["name"], replica)))
    try:
        return gpu_sizing.gpu_plan(models, gpus)
    except gpu_sizing.GpuSizingError as exc:
        raise CatalogueError("the catalogue does not fit the GPUs, nothing was deployed: %s" % exc) from exc


def _replica_name(name, replica):
    return name if replica == 0 else "%s#%d" % (name, replica + 1)


def _normalised(entry, plan, settings):
    facts = entry["facts"]
    name, mode = entry["name"], entry["mode"]
    gpu_share = plan["models"].get(name)
    gpu = {"enabled": gpu_share is not None}
    if gpu_share:
        gpu.update(gpu_share)
    options = {
        "dtype": entry.get("dtype"),
        "max_num_batched_tokens": entry.get("max_num_batched_tokens"),
        "max_num_seqs": entry.get("max_num_seqs"),
        "enforce_eager": entry.get("enforce_eager", False),
        "extra_args": entry.get("extra_args") or [],
        "gpu_memory_utilization": gpu.get("fraction"),
    }
    device = device_of(entry)
    if device == "cpu":
        # vLLM's CPU backend variables go with the command (raw container and KServe runtime alike).
        options["env"] = cpu_env(entry, facts)
    mode_module = modes.MODULES[mode]
    options.update(mode_module.vllm_options(entry, settings))
    options = dict((k, v) for k, v in options.items() if v is not None)
    command = vllm_cli.build_vllm_command(facts, options, settings["vllm_version"])

    resources = _resources(entry, facts, gpu)
    startup_timeout = entry.get("startup_timeout") or DEFAULT_STARTUP_TIMEOUT
    normalised = {
        "name": name,
        "mode": mode,
        "model": entry["model"],
        "revision": facts.get("commit") or entry.get("revision") or "main",
        "served_model_name": entry.get("served_model_name") or name,
        "display_name": entry.get("display_name") or name,
        "replicas": entry["replicas"],
        "image": _image(entry, device, settings),
        "vllm_version": settings["vllm_version"],
        "facts": facts,
        "device": device,
        "gpu": gpu,
        "resources": resources,
        "scheduling": _scheduling(entry, gpu, settings),
        "probes": probes(startup_timeout, mode_module.PROBE_PORT),
        # the probe window, plus as much again (at most 2 minutes) for scheduling and image pull
        "wait_timeout": startup_timeout + min(startup_timeout, 120),
        "endpoint": endpoint(name, mode, settings["namespace"], entry.get("served_model_name") or name),
        "route": {"enabled": entry["route"].get("enabled", True), "host": entry["route"].get("host", ""),
                  "path": entry["route"].get("path", ""), "timeout": entry["route"].get("timeout", "")},
        "network_policy": {"enabled": entry.get("network_policy", False),
                           "allowed_namespaces": list(settings.get("network_policy_namespaces") or [])},
        "api_key": {"enabled": entry.get("api_key", False), "secret_name": "%s-api-key" % name},
        "labels": dict((str(k), str(v)) for k, v in (entry.get("labels") or {}).items()),
        "run_as_user": settings.get("run_as_user"),
    }
    normalised.update(mode_module.fields(entry, command, settings, normalised))
    return normalised


def _resources(entry, facts, gpu):
    """CPU and memory sized from the model; the GPU request from the plan."""
    if device_of(entry) == "cpu":
        return cpu_resources(entry, facts)
    weights_gib = facts["num_parameters"] * 4 / float(GIB)
    # The server process (Python, torch, CUDA libraries) takes about 3 GiB
    # before the model; loading reads the checkpoint through host memory.
    resources = sized_resources(entry, facts, int(math.ceil(3 + 1.5 * weights_gib)), cpu_limit_factor=4)
    requests, limits = resources["requests"], resources["limits"]
    if gpu["enabled"]:
        requests[gpu["resource"]] = str(gpu["resource_count"])
        limits[gpu["resource"]] = str(gpu["resource_count"])
    return {"requests": requests, "limits": limits}


def _scheduling(entry, gpu, settings):
    node_selector, tolerations = {}, []
    if gpu["enabled"]:
        node_selector.update(settings["gpus"].get("node_selector") or {})
        tolerations.extend(settings["gpus"].get("tolerations", None) or [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    node_selector.update(entry.get("node_selector") or {})
    tolerations.extend(entry.get("tolerations") or [])
    return {"node_selector": node_selector, "tolerations": tolerations, "affinity": entry.get("affinity") or {}}


def _image(entry, device, settings):
    """A CPU model without an image of its own runs embedserve_cpu_image."""
    if device == "cpu" and entry["image"] == settings["image"] and settings.get("cpu_image"):
        return settings["cpu_image"]
    return entry["image"]


def endpoint(name, mode, namespace, served_model_name, raw_port=RAW_PORT):
    """Where a model answers inside the cluster, computed once for summary, status, verify and benchmark, by
    its mode's module: Service, port, in-cluster URL, the model name its server lists."""
    return modes.MODULES[mode].endpoint(name, namespace, served_model_name, raw_port)


def _summary_row(entry, settings):
    gpu = entry["gpu"]
    url = modes.MODULES[entry["mode"]].summary_url(entry, settings)
    return {
        "name": entry["name"],
        "model": entry["model"],
        "mode": entry["mode"],
        "task": entry["facts"]["task"],
        "max_model_len": entry["facts"]["max_model_len"],
        "gpu_fraction": gpu.get("fraction"),
        "placement": gpu.get("placement", "no GPU"),
        "url": url,
    }
