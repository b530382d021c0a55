# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Filters that lay out run summaries as text tables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils.report import text_table
from ansible_collections.embedserve.vllm.plugins.module_utils.status import status_rows

DEPLOYMENT_COLUMNS = [("name", "MODEL"), ("model", "SOURCE"), ("mode", "MODE"), ("task", "TASK"),
                      ("max_model_len", "MAX_LEN"), ("gpu_fraction", "GPU_UTIL"), ("placement", "PLACEMENT"),
                      ("url", "URL")]


def summary_table(rows, columns=None):
    """Lines of a text table of rows (dicts); columns: list of [key, heading] (default: deployment summary)."""
    if not isinstance(rows, list):
        raise AnsibleFilterError("summary_table expects a list of rows, got %s" % type(rows).__name__)
    return text_table(rows, [tuple(column) for column in columns] if columns else DEPLOYMENT_COLUMNS)


def deployment_status(deployments, inference_services, routes, pods, namespace):
    """One row per deployed model (raw and kserve) read back from the cluster objects."""
    for name, value in (("deployments", deployments), ("inference_services", inference_services),
                        ("routes", routes), ("pods", pods)):
        if not isinstance(value, list):
            raise AnsibleFilterError("deployment_status: %s must be a list of objects" % name)
    return status_rows(deployments, inference_services, routes, pods, namespace)


class FilterModule(object):
    def filters(self):
        return {"summary_table": summary_table, "deployment_status": deployment_status}
