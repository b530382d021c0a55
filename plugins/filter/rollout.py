# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Filters that explain a failed rollout from pods, events and log lines."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.rollout import rollout_diagnosis, unready_pod_names


class FilterModule(object):
    def filters(self):
        return {"rollout_diagnosis": rollout_diagnosis, "unready_pod_names": unready_pod_names}
