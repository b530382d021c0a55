# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Filters that mark rendered objects as members of the catalogue's ApplySet."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils import applyset as rules
from ansible_collections.embedserve.vllm.plugins.module_utils.plain_data import plain as _plain
from ansible_collections.embedserve.vllm.plugins.module_utils.preflight import (
    required_apis as _required_apis,
    required_namespaces as _required_namespaces,
    source_problems as _source_problems,
)


def _objects(objects, name):
    if not isinstance(objects, (list, tuple)):
        raise AnsibleFilterError("%s expects a list of Kubernetes objects, got %s" % (name, type(objects).__name__))
    return [_plain(o) for o in objects]


def applyset_info(namespace, catalogue="embedserve"):
    """The ApplySet of a catalogue in a namespace: id, parent, reference annotation, field manager."""
    return rules.describe(str(namespace), str(catalogue))


def applyset_member(objects, applyset):
    """The objects with the applyset.kubernetes.io/part-of label (namespaced members only)."""
    return rules.mark_members(_objects(objects, "applyset_member"), applyset)


def applyset_shared(objects, applyset):
    """Shared objects with this catalogue's reference annotation."""
    return rules.mark_shared(_objects(objects, "applyset_shared"), applyset)


def object_refs(objects):
    """apiVersion, kind, name and namespace of each object (what the prune step compares)."""
    return [rules.object_ref(o) for o in _objects(objects, "object_refs")]


def group_kinds(objects):
    """The sorted `Kind.group` names of the objects, as contains-group-kinds lists them."""
    return sorted(set(rules.group_kind(o.get("apiVersion", ""), o.get("kind", ""))
                      for o in _objects(objects, "group_kinds")))


def required_apis(catalogue, settings):
    """The APIs a run writes, each with the setting or models that need it."""
    return _required_apis(_plain(catalogue or []), _plain(settings or {}))


def required_namespaces(catalogue, settings):
    """Namespaces other than the catalogue's that a run writes into."""
    return _required_namespaces(_plain(catalogue or []), _plain(settings or {}))


def source_problems(catalogue, settings):
    """Models whose pods would point at nothing (a controller-local folder that is not prepared)."""
    return _source_problems(_plain(catalogue or []), _plain(settings or {}))


class FilterModule(object):
    def filters(self):
        return {
            "applyset_info": applyset_info,
            "applyset_member": applyset_member,
            "applyset_shared": applyset_shared,
            "object_refs": object_refs,
            "group_kinds": group_kinds,
            "required_apis": required_apis,
            "required_namespaces": required_namespaces,
            "source_problems": source_problems,
        }
