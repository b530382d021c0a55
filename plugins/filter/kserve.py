# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Filters for KServe: the ServingRuntimes of the catalogue and how each InferenceService binds to one.

Thin wrappers over plugins/module_utils/serving_runtime.py, which the kserve_runtime and rhoai_template roles
share so a runtime and its OpenShift AI Template are built from one definition.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils.plain_data import plain as _plain

from ansible_collections.embedserve.vllm.plugins.module_utils import kserve_bindings as kb
from ansible_collections.embedserve.vllm.plugins.module_utils import serving_runtime as sr
from ansible_collections.embedserve.vllm.plugins.module_utils import token_auth as ta


def serving_runtime(catalogue, namespace=None, template=False, model_formats=None, display_names=None,
                    task_args=None, labels=None, per_model=False):
    """ServingRuntime objects for the kserve-mode models of the normalised catalogue."""
    try:
        return sr.serving_runtimes(_plain(catalogue), namespace=namespace or None,
                                   template=sr.bool_setting(template, "template"), formats=_plain(model_formats),
                                   display_names=_plain(display_names), task_args=_plain(task_args),
                                   labels=_plain(labels), per_model=sr.bool_setting(per_model, "per_model"))
    except (sr.ServingRuntimeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("serving_runtime: %s" % (exc,)) from exc


def runtime_templates(runtimes):
    """The Templates that publish runtimes: name, component, display name, description, tags and the runtime."""
    try:
        return sr.runtime_templates(_plain(runtimes))
    except (sr.ServingRuntimeError, KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("runtime_templates: %s" % (exc,)) from exc


def kserve_bindings(catalogue, runtimes, overrides=None, found_runtimes=None, claims=None, connections=None,
                    per_model=False, enable_auth=False, openshift_ai=True, hardware_profile=None):
    """{bindings, problems}: each kserve-mode model's runtime and model format, checked as KServe checks them."""
    try:
        return kb.bindings(_plain(catalogue), _plain(runtimes or []), overrides=_plain(overrides),
                           found_runtimes=_plain(found_runtimes), claims=_plain(claims),
                           connections=_plain(connections), per_model=sr.bool_setting(per_model, "per_model"),
                           enable_auth=_plain(enable_auth), openshift_ai=sr.bool_setting(openshift_ai, "openshift_ai"),
                           hardware_profile=_plain(hardware_profile))
    except (sr.ServingRuntimeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("kserve_bindings: %s" % (exc,)) from exc


def kserve_deployment_mode(kserve_version, requested=None):
    """serving.kserve.io/deploymentMode for the target KServe release (Standard from 0.16, RawDeployment before)."""
    try:
        return sr.deployment_mode(_plain(kserve_version), _plain(requested) or None)
    except sr.ServingRuntimeError as exc:
        raise AnsibleFilterError("kserve_deployment_mode: %s" % (exc,)) from exc


def kserve_storage_container(name, image, kserve_version=None):
    """{object, selectable}: a restricted-compliant ClusterStorageContainer for s3:// and whether
    InferenceServices of that KServe release can name it (spec.predictor.storageContainerName, 0.20+)."""
    try:
        return {"object": sr.storage_container(_plain(name), _plain(image)),
                "selectable": sr.selects_storage_container(_plain(kserve_version))}
    except sr.ServingRuntimeError as exc:
        raise AnsibleFilterError("kserve_storage_container: %s" % (exc,)) from exc


def kserve_storage_config_entry(connection):
    """The JSON storage-config value of one S3 data connection, TLS settings included."""
    try:
        return sr.storage_config_entry(_plain(connection))
    except (sr.ServingRuntimeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("kserve_storage_config_entry: %s" % (exc,)) from exc


def kserve_token_auth(models, namespace, labels=None, owners=None):
    """The OpenShift AI dashboard's token-auth objects (ServiceAccount, Role, RoleBinding, token Secret) per model."""
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise AnsibleFilterError("kserve_token_auth: expects a list of model names, got %r" % (models,))
    try:
        return ta.models_token_objects(_plain(models), _plain(namespace), labels=_plain(labels),
                                       owners=_plain(owners))
    except (ta.TokenAuthError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("kserve_token_auth: %s" % (exc,)) from exc


class FilterModule(object):
    def filters(self):
        return {"serving_runtime": serving_runtime, "runtime_templates": runtime_templates,
                "kserve_bindings": kserve_bindings,
                "kserve_deployment_mode": kserve_deployment_mode, "kserve_storage_container": kserve_storage_container,
                "kserve_storage_config_entry": kserve_storage_config_entry, "kserve_token_auth": kserve_token_auth}
