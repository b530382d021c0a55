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

from ansible_collections.embedserve.vllm.plugins.module_utils import serving_runtime as sr


def serving_runtime(catalogue, namespace=None, template=False, model_formats=None, display_names=None,
                    task_args=None, labels=None):
    """ServingRuntime objects for the kserve-mode models of the normalised catalogue."""
    try:
        return sr.serving_runtimes(_plain(catalogue), namespace=namespace or None,
                                   template=sr._bool(template, "template"), formats=_plain(model_formats),
                                   display_names=_plain(display_names), task_args=_plain(task_args),
                                   labels=_plain(labels))
    except (sr.ServingRuntimeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("serving_runtime: %s" % (exc,)) from exc


def kserve_bindings(catalogue, runtimes, overrides=None, found_runtimes=None, claims=None, connections=None):
    """{bindings, problems}: each kserve-mode model's runtime and model format, checked as KServe checks them."""
    try:
        return sr.bindings(_plain(catalogue), _plain(runtimes or []), overrides=_plain(overrides),
                           found_runtimes=_plain(found_runtimes), claims=_plain(claims),
                           connections=_plain(connections))
    except (sr.ServingRuntimeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("kserve_bindings: %s" % (exc,)) from exc


class FilterModule(object):
    def filters(self):
        return {"serving_runtime": serving_runtime, "kserve_bindings": kserve_bindings}
