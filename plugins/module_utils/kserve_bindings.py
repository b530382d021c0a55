# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Binding kserve-mode models to ServingRuntimes the way KServe does, before anything is applied.

Binding follows KServe (pkg/apis/serving/v1beta1/predictor_model.go and the predictor reconciler): an explicit
``spec.predictor.model.runtime`` is looked up as a ServingRuntime in the InferenceService's namespace first, then as
a ClusterServingRuntime; a disabled or multi-model runtime is refused; the model format matches when the runtime
declares the label ``name`` or ``name:version`` that the InferenceService asks for, compared exactly. bindings()
also checks each model's storage and auth settings and returns every problem at once, so a model KServe would
refuse fails the run before the first write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.serving_runtime import (
    OVERRIDE_KEYS,
    ServingRuntimeError,
    bool_setting,
    kserve_models,
)


def format_label(model_format):
    """KServe's label for a requested format: mt:<name> or mt:<name>:<version>."""
    label = "mt:%s" % model_format["name"]
    if model_format.get("version") not in (None, ""):
        label += ":%s" % model_format["version"]
    return label


def declared_labels(formats, explicit=True):
    """Labels a runtime offers; without an explicit runtime only autoSelect formats count."""
    labels = set()
    for fmt in formats or []:
        if explicit or fmt.get("autoSelect"):
            labels.add("mt:%s" % fmt.get("name"))
            if fmt.get("version") not in (None, ""):
                labels.add("mt:%s:%s" % (fmt.get("name"), fmt["version"]))
    return labels


def format_problem(model_format, runtime, explicit=True):
    """Why KServe would refuse to serve model_format with runtime (a (Cluster)ServingRuntime object), or None."""
    spec = runtime.get("spec") or {}
    kind, name = runtime.get("kind", "ServingRuntime"), runtime.get("metadata", {}).get("name")
    if spec.get("disabled"):
        return "%s %s is disabled" % (kind, name)
    if spec.get("multiModel"):
        return "%s %s is a multi-model (ModelMesh) runtime" % (kind, name)
    if format_label(model_format) not in declared_labels(spec.get("supportedModelFormats"), explicit):
        declared = ["%s%s" % (f.get("name"), " version %s" % f["version"] if f.get("version") else "")
                    for f in spec.get("supportedModelFormats") or []]
        return ("%s %s does not declare model format %s%s (it declares: %s; names and versions are compared "
                "exactly)" % (kind, name, model_format["name"],
                              " version %s" % model_format["version"] if model_format.get("version") else "",
                              ", ".join(declared) or "nothing"))
    return None


def _requested_format(value, where, problems):
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict) and value.get("name"):
        unknown = sorted(set(value) - {"name", "version"})
        if unknown:
            problems.append("%s: model_format has unknown key(s) %s (known: name, version)"
                            % (where, ", ".join(unknown)))
        fmt = {"name": str(value["name"])}
        if value.get("version") not in (None, ""):
            fmt["version"] = str(value["version"])
        return fmt
    problems.append("%s: model_format must be a format name or {name, version}, got %r" % (where, value))
    return None


def find_runtime(name, own, found):
    """The object KServe would use for an explicit runtime name: namespace ServingRuntime, then cluster scope."""
    for kind in ("ServingRuntime", "ClusterServingRuntime"):
        for runtime in list(own) + list(found or []):
            if runtime.get("kind", "ServingRuntime") == kind and runtime.get("metadata", {}).get("name") == name:
                return runtime
    return None


def _storage_problem(entry, claims, connections):
    storage = (entry.get("kserve") or {}).get("storage") or {}
    name = entry["name"]
    if storage.get("storageUri"):
        uri = storage["storageUri"]
        if not uri.startswith("pvc://"):
            return None
        claim, _sep, path = uri[len("pvc://"):].partition("/")
        if not claim or not path.strip("/"):
            return ("%s: storageUri %s needs both a claim and a path (pvc://<claim>/<model-dir>): set "
                    "embedserve_cache_pvc_name or give the model storage.type s3" % (name, uri))
        if claims is not None and claim not in claims:
            return ("%s: reads %s but the claim %s does not exist in the namespace: run the namespace role first "
                    "(it creates the model cache) or give the model storage.type s3 with a data connection"
                    % (name, uri, claim))
        return None
    key = (storage.get("storage") or {}).get("key")
    if key:
        if key not in connections:
            return ("%s: data connection %s is neither in kserve_runtime_connections nor a Secret in the namespace"
                    % (name, key))
        return None
    return ("%s: has neither cache storage (storageUri pvc://<cache-claim>/<dir>) nor a data connection "
            "(storage.key): set embedserve_cache_pvc_name, or storage.type s3 with storage.connection" % name)


def _auth(entry, override, enable_auth, openshift_ai, where, problems):
    """Whether the model's InferenceService asks for token auth (security.opendatahub.io/enable-auth).

    Only odh-model-controller (OpenShift AI) enforces the annotation; plain KServe ignores it and would publish the
    model without any check, so a model that asks for a key there is refused rather than served open.
    """
    try:
        wanted = bool_setting(override.get("enable_auth", False), "enable_auth") or bool_setting(enable_auth, "enable_auth") or \
            bool((entry.get("api_key") or {}).get("enabled"))
    except ServingRuntimeError as exc:
        problems.append("%s: %s" % (where, exc))
        return False
    if wanted and not openshift_ai:
        problems.append("%s: api_key/enable_auth asks for token authentication, which only OpenShift AI's "
                        "odh-model-controller enforces for InferenceServices; plain KServe would serve the model "
                        "without any check. Use mode raw (vLLM's own VLLM_API_KEY) or deploy on OpenShift AI" % where)
    return wanted


def bindings(catalogue, runtimes, overrides=None, found_runtimes=None, claims=None, connections=None,
             per_model=False, enable_auth=False, openshift_ai=True, hardware_profile=None):
    """How each kserve-mode model binds to its runtime, and every problem KServe (or storage) would hit.

    runtimes: the ServingRuntime objects this run creates (serving_runtimes()). overrides: {model: {runtime,
    model_format, enable_auth, hardware_profile}} set by hand. found_runtimes: (Cluster)ServingRuntime objects
    read from the cluster for runtime names that are not ours (None: the cluster is not read, render mode).
    claims: names of the claims in the namespace (None when unknown, for example in check mode before the
    namespace exists). connections: data connection names that exist or will be created. per_model: a model's
    default runtime is the one named after it. enable_auth / openshift_ai: see _auth. hardware_profile: the
    OpenShift AI hardware profile of models whose override names none (kserve_runtime_hardware_profile).
    Returns {bindings: {model: {runtime, runtime_kind, model_format, enable_auth, hardware_profile}}, problems}.
    """
    overrides = overrides or {}
    problems, result = [], {}
    if not isinstance(overrides, dict):
        return {"bindings": {}, "problems": ["kserve_runtime_model_overrides must be a mapping of model name to "
                                             "{runtime, model_format, enable_auth}"]}
    models = kserve_models(catalogue)
    known = set(entry["name"] for entry in models)
    for name in sorted(set(overrides) - known):
        problems.append("kserve_runtime_model_overrides.%s: no kserve-mode model has this name (kserve-mode "
                        "models: %s)" % (name, ", ".join(sorted(known)) or "none"))
    for entry in models:
        name = entry["name"]
        override = overrides.get(name) or {}
        where = "%s" % name
        if not isinstance(override, dict):
            problems.append("%s: kserve_runtime_model_overrides.%s must be a mapping" % (where, name))
            override = {}
        for key in sorted(set(override) - set(OVERRIDE_KEYS)):
            problems.append("%s: kserve_runtime_model_overrides.%s has unknown key %s (known: %s)"
                            % (where, name, key, ", ".join(OVERRIDE_KEYS)))
        runtime_name = str(override.get("runtime") or (name if per_model else entry["kserve"]["runtime"]))
        runtime = find_runtime(runtime_name, runtimes, found_runtimes)
        if runtime is None and found_runtimes is None:
            # Render mode reads nothing from the cluster: a runtime this run does not create cannot be checked,
            # so the format must be given by hand.
            if not override.get("model_format"):
                problems.append("%s: runtime %s is not created by this run and cannot be read without a cluster: "
                                "set kserve_runtime_model_overrides.%s.model_format" % (where, runtime_name, name))
                continue
            model_format = _requested_format(override["model_format"], where, problems)
            if model_format is not None:
                result[name] = {"runtime": runtime_name, "runtime_kind": "unchecked", "model_format": model_format,
                                "enable_auth": _auth(entry, override, enable_auth, openshift_ai, where, problems),
                                "hardware_profile": _hardware_profile(override, where, problems, hardware_profile)}
            continue
        if runtime is None:
            problems.append("%s: runtime %s is neither a ServingRuntime in the namespace nor a "
                            "ClusterServingRuntime, and this run does not create it" % (where, runtime_name))
            continue
        declared = (runtime.get("spec") or {}).get("supportedModelFormats") or []
        if override.get("model_format"):
            model_format = _requested_format(override["model_format"], where, problems)
            if model_format is None:
                continue
        elif declared:
            model_format = {"name": declared[0]["name"]}
            if declared[0].get("version"):
                model_format["version"] = declared[0]["version"]
        else:
            problems.append("%s: %s %s declares no model format" % (where, runtime.get("kind"), runtime_name))
            continue
        problem = format_problem(model_format, runtime)
        if problem:
            problems.append("%s: %s" % (where, problem))
            continue
        result[name] = {"runtime": runtime_name, "runtime_kind": runtime.get("kind", "ServingRuntime"),
                        "model_format": model_format,
                        "enable_auth": _auth(entry, override, enable_auth, openshift_ai, where, problems),
                        "hardware_profile": _hardware_profile(override, where, problems, hardware_profile)}
    for entry in models:
        problem = _storage_problem(entry, claims, set(connections or []))
        if problem:
            problems.append(problem)
    return {"bindings": result, "problems": problems}


def _hardware_profile(override, where, problems, default=None):
    """{name, namespace} of the OpenShift AI hardware profile a model names, or {}."""
    profile = override.get("hardware_profile") or default or {}
    if isinstance(profile, str):
        profile = {"name": profile}
    if not isinstance(profile, dict) or (profile and not profile.get("name")) or \
            set(profile) - {"name", "namespace"}:
        problems.append("%s: hardware_profile must be a name or {name, namespace}, got %r" % (where, profile))
        return {}
    return dict((k, str(v)) for k, v in profile.items() if v not in (None, ""))
