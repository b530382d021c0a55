# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Reading a registered kubernetes.core.k8s result, whether it applied one object or a batch."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def result_items(result):
    """The per-object entries of a k8s result: result.results for a batch, the result itself for one object."""
    if not isinstance(result, dict):
        return []
    inner = result.get("result") or {}
    items = inner.get("results") if isinstance(inner, dict) and "results" in inner else [result]
    return [item for item in items or [] if isinstance(item, dict)]
