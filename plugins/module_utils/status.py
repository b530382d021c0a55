# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""What is deployed, read back from the cluster: one row per model in every mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.modes import kserve as kserve_mode
from ansible_collections.embedserve.vllm.plugins.module_utils.token_auth import token_command

INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
MODE = "embedserve.io/mode"
AUTH = "security.opendatahub.io/enable-auth"


def _labels(obj):
    return (obj.get("metadata") or {}).get("labels") or {}


def _annotations(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def _route_url(route):
    spec, status = route.get("spec") or {}, route.get("status") or {}
    host = spec.get("host") or next((i.get("host") for i in status.get("ingress") or [] if i.get("host")), None)
    if not host:
        return "route/%s (no host assigned: no router admitted it)" % route["metadata"]["name"]
    return "https://%s%s" % (host, spec.get("path") or "")


def _pods_of(pods, name):
    return [pod for pod in pods if _labels(pod).get(INSTANCE) == name]


def _placement(obj, pods):
    nodes = sorted(set((pod.get("spec") or {}).get("nodeName") or "unscheduled" for pod in pods))
    placement = _annotations(obj).get("embedserve.io/gpu-placement", "unknown")
    return "%s on %s" % (placement, ", ".join(nodes)) if nodes else placement


def _isvc_ready(isvc):
    for condition in (isvc.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return "Ready" if condition.get("status") == "True" else "not ready: %s" % (
                condition.get("reason") or condition.get("message") or condition.get("status"))
    return "no status (KServe controller not reporting)"


def _token(isvc, namespace):
    """How to read the model's token when odh-model-controller asks for one (the dashboard's token Secret)."""
    if _annotations(isvc).get(AUTH) != "true":
        return ""
    return token_command(isvc["metadata"]["name"], namespace)


def status_rows(deployments, inference_services, routes, pods, namespace):
    """Rows of name, mode, task, model, max_model_len, ready, placement, url and token (the command that prints an
    InferenceService's bearer token when it asks for one, else empty), sorted by mode and name."""
    routes_by_name = dict((r["metadata"]["name"], r) for r in routes or [])
    rows = []
    for deployment in deployments or []:
        name = _labels(deployment).get(INSTANCE) or deployment["metadata"]["name"]
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        wanted, ready = spec.get("replicas", 1), status.get("readyReplicas", 0)
        route = routes_by_name.get(name)
        port = ((spec.get("template") or {}).get("spec", {}).get("containers") or [{}])[0].get("ports", [{}])[0]
        service_url = "http://%s.%s.svc:%s" % (name, namespace, port.get("containerPort", 8000))
        rows.append({
            "name": name, "mode": "raw", "task": _labels(deployment).get(COMPONENT, "?"),
            "model": _annotations(deployment).get("embedserve.io/model", "?"),
            "max_model_len": _annotations(deployment).get("embedserve.io/max-model-len", "?"),
            "ready": "%d/%d" % (ready, wanted),
            "placement": _placement(deployment, _pods_of(pods or [], name)),
            "url": _route_url(route) if route else service_url,
            "token": "",
        })
    for isvc in inference_services or []:
        name = isvc["metadata"]["name"]
        route = routes_by_name.get(name)
        predictor_url = kserve_mode.endpoint(name, namespace)["url"]
        url = (isvc.get("status") or {}).get("url") or (_route_url(route) if route else predictor_url)
        rows.append({
            "name": name, "mode": "kserve", "task": _labels(isvc).get(COMPONENT, "?"),
            "model": _annotations(isvc).get("embedserve.io/model", "?"),
            "max_model_len": _annotations(isvc).get("embedserve.io/max-model-len", "?"),
            "ready": _isvc_ready(isvc),
            "placement": _placement(isvc, _pods_of(pods or [], name)),
            "url": url,
            "token": _token(isvc, namespace),
        })
    return sorted(rows, key=lambda row: (row["mode"], row["name"]))
