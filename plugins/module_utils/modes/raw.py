# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Raw mode: a Deployment whose vLLM container and Service listen on one port, the Service named after the model.

The interface every mode module offers (modes/__init__.py lists them; docs/architecture.md has the recipe for
a new one): vllm_options() what the vLLM command needs from the mode, PROBE_PORT, fields() the mode's part of a
resolved catalogue entry (everything its role's templates lay out), endpoint() where the model answers, and
summary_url() what the summary shows.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils import model_layout, pod_runtime

NAME = "raw"
PORT = 8000
# the container port's name; probes address it by name
PROBE_PORT = "http"


def vllm_options(entry, settings):
    """The mode's part of the vLLM command: the served name the user chose, and a prepared folder on the claim."""
    prepared = settings.get("model_source") == "prepared"
    return {"served_model_name": entry.get("served_model_name") or entry["name"], "port": PORT,
            "model_path": model_layout.mounted_folder(entry["name"]) if prepared else None,
            "offline": prepared}


def fields(entry, command, settings, normalised):
    """container and pod of the Deployment, ready to lay out."""
    prepared = settings.get("model_source") == "prepared"
    return {"container": _container(entry, command, settings, normalised), "pod": _pod(settings, prepared)}


def _container(entry, command, settings, normalised):
    prepared = settings.get("model_source") == "prepared"
    env = pod_runtime.rootless_env(hf_home=model_layout.HF_HOME, offline=prepared)
    env = pod_runtime.merge_env(env, command["env"])
    env = pod_runtime.merge_env(env, entry.get("env"))
    if settings.get("hf_token_secret") and not prepared:
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": settings["hf_token_secret"], "key": "HF_TOKEN", "optional": True}}})
    if normalised["api_key"]["enabled"]:
        env.append({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {
            "name": normalised["api_key"]["secret_name"], "key": "VLLM_API_KEY"}}})
    return {"command": command["command"], "args": command["args"], "env": env, "port": PORT}


def _pod(settings, prepared):
    volumes, mounts = pod_runtime.scratch_volumes()
    volumes.append({"name": "model-cache", "persistentVolumeClaim": {
        "claimName": settings["cache_pvc_name"], "readOnly": prepared}})
    mounts.append({"name": "model-cache", "mountPath": model_layout.CLAIM_MOUNT, "readOnly": prepared})
    return {"volumes": volumes, "volume_mounts": mounts,
            "security_context": pod_runtime.pod_security_context(settings.get("run_as_user")),
            "container_security_context": pod_runtime.container_security_context(settings.get("run_as_user"))}


def endpoint(name, namespace, served_model_name, port=PORT):
    """The Service <name> on the container's port, under the model's served name."""
    return {"service": name, "port": int(port), "url": "http://%s.%s.svc:%d" % (name, namespace, int(port)),
            "served_model_name": served_model_name}


def summary_url(entry, settings):
    """The Route's host on OpenShift (route/<name> until the router assigns one), else the in-cluster URL."""
    if entry["route"]["enabled"] and settings.get("platform", "openshift") == "openshift":
        return "https://%s" % entry["route"]["host"] if entry["route"]["host"] else "route/%s" % entry["name"]
    return entry["endpoint"]["url"]
