# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Jinja tests for Kubernetes names and quantities (docs in the sibling .yml files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_names import (
    dns1123_label_problem,
    dns1123_subdomain_problem,
    quantity_problem,
)


def dns1123_label(value):
    return dns1123_label_problem(value) is None


def dns1123_subdomain(value):
    return dns1123_subdomain_problem(value) is None


def k8s_quantity(value):
    return quantity_problem(value) is None


class TestModule(object):
    def tests(self):
        return {
            "dns1123_label": dns1123_label,
            "dns1123_subdomain": dns1123_subdomain,
            "k8s_quantity": k8s_quantity,
        }
