# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""What a site.yml run will write, known before its first write.

The ApplySet pre-flight (plugins/modules/applyset.py, state=preflight) checks
that the cluster serves every API listed here, so a cluster without KServe,
Routes or OpenShift AI fails with nothing changed and a message naming the
API and the setting or models that need it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _names(models):
    return ", ".join(m["name"] for m in models)


def required_apis(catalogue, settings):
    """[{api_version, kind, needed_by}] for the catalogue's models and the run's settings.

    settings: raw_routes, kserve_routes (bool), openshift_ai (bool), model_source ('hub'|'prepared').
    """
    apis = [{"api_version": "v1", "kind": kind, "needed_by": "every catalogue"}
            for kind in ("Namespace", "ServiceAccount", "PersistentVolumeClaim", "Secret", "ConfigMap")]
    raw = [m for m in catalogue if m.get("mode") == "raw"]
    kserve = [m for m in catalogue if m.get("mode") == "kserve"]
    if raw:
        needed = "the raw-mode models %s" % _names(raw)
        apis += [{"api_version": "apps/v1", "kind": "Deployment", "needed_by": needed},
                 {"api_version": "v1", "kind": "Service", "needed_by": needed}]
        routed = [m for m in raw if (m.get("route") or {}).get("enabled")]
        if routed and settings.get("raw_routes"):
            apis.append({"api_version": "route.openshift.io/v1", "kind": "Route",
                         "needed_by": "route.enabled of %s on platform openshift (set embedserve_platform: "
                                      "kubernetes, or route.enabled: false)" % _names(routed)})
        policed = [m for m in raw if (m.get("network_policy") or {}).get("enabled")]
        if policed:
            apis.append({"api_version": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "needed_by": "network_policy of %s" % _names(policed)})
        if any(m.get("replicas", 1) > 1 for m in raw):
            apis.append({"api_version": "policy/v1", "kind": "PodDisruptionBudget",
                         "needed_by": "models with more than one replica"})
    if kserve:
        needed = "the kserve-mode models %s (install KServe or OpenShift AI, or use mode: raw)" % _names(kserve)
        apis += [{"api_version": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "needed_by": needed},
                 {"api_version": "serving.kserve.io/v1beta1", "kind": "InferenceService", "needed_by": needed}]
        if settings.get("kserve_routes"):
            apis.append({"api_version": "route.openshift.io/v1", "kind": "Route",
                         "needed_by": "Routes for the kserve-mode models on platform openshift (set "
                                      "embedserve_platform: kubernetes)"})
    if kserve and settings.get("openshift_ai"):
        # The dashboard's token-auth objects (plugins/module_utils/token_auth.py) for models that ask for auth. Listed
        # for every kserve-mode catalogue on OpenShift AI, not only those with auth now: the parent must keep the
        # kinds so a later run, with auth switched off, still finds and prunes them.
        needed = "token authentication of the kserve-mode models %s on OpenShift AI" % _names(kserve)
        apis += [{"api_version": "rbac.authorization.k8s.io/v1", "kind": "Role", "needed_by": needed},
                 {"api_version": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "needed_by": needed}]
    if settings.get("openshift_ai") and catalogue:
        apis.append({"api_version": "template.openshift.io/v1", "kind": "Template",
                     "needed_by": "embedserve_openshift_ai: true (the dashboard's serving-runtime Templates)"})
    if settings.get("model_source") == "prepared":
        apis.append({"api_version": "batch/v1", "kind": "Job",
                     "needed_by": "embedserve_model_source: prepared (the cache-populating Jobs)"})
    unique, seen = [], set()
    for api in apis:
        key = (api["api_version"], api["kind"])
        if key not in seen:
            seen.add(key)
            group = api["api_version"].rpartition("/")[0]
            # contains-group-kinds lists what lives in the catalogue's namespace:
            # not the Namespace itself, not the dashboard's shared Templates.
            api = dict(api, group_kind="%s.%s" % (api["kind"], group) if group else api["kind"],
                       member=api["kind"] not in ("Namespace", "Template"))
            unique.append(api)
    return unique


def required_namespaces(catalogue, settings):
    """Namespaces outside the catalogue's own that the run writes into."""
    if settings.get("openshift_ai") and catalogue and settings.get("dashboard_namespace"):
        return [{"name": settings["dashboard_namespace"],
                 "needed_by": "embedserve_openshift_ai: true (is OpenShift AI installed? Open Data Hub uses "
                              "opendatahub: set embedserve_dashboard_namespace)"}]
    return []


def source_problems(catalogue, settings):
    """Models whose pods would point at nothing: a folder on the controller is not in the pod, a kserve-mode
    pvc:// folder nobody prepared, an hf:// download that would bypass the configured Hub mirror.

    settings: model_source ('hub'|'prepared'), hf_endpoint (a Hub mirror, or empty).
    """
    problems = []
    if settings.get("model_source") == "prepared":
        return problems
    for entry in catalogue:
        kserve = entry.get("kserve") or {}
        if kserve.get("storage_type") == "pvc" and not kserve.get("storage_path_given"):
            problems.append(
                "%s: kserve mode reads %s, a folder only model preparation fills: prepare the models "
                "(embedserve_model_source: prepared), let KServe download it from the Hub (storage.type hf, the "
                "default), or give storage.path of a folder you put on the claim"
                % (entry["name"], (kserve.get("storage") or {}).get("storageUri")))
            continue
        if kserve.get("storage_type") == "hf" and settings.get("hf_endpoint"):
            problems.append(
                "%s: KServe's storage initializer downloads hf:// from huggingface.co and does not use the mirror "
                "in embedserve_hf_endpoint: prepare the models (embedserve_model_source: prepared) to serve them "
                "from the cache claim or S3" % entry["name"])
            continue
        if (entry.get("facts") or {}).get("source") != "local":
            continue
        problems.append(
            "%s: model %s is a folder on the controller, which the %s-mode pod cannot see; prepare it "
            "(embedserve_model_source: prepared copies it to the model cache claim, and to S3 with "
            "model_prep_s3_upload), or give the Hugging Face id"
            % (entry["name"], entry.get("model"), entry.get("mode")))
    return problems
