# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Filters that turn rendered Kubernetes objects into files for GitOps."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils.plain_data import plain as _plain

SECRET_PLACEHOLDER = "<redacted: rendered without secrets>"


class _ManifestDumper(yaml.SafeDumper):
    """SafeDumper that keeps key order and writes multi-line strings as blocks."""


def _represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ManifestDumper.add_representer(str, _represent_str)


def to_manifest_yaml(objects, redact_secrets=False):
    """Dump Kubernetes objects as one multi-document YAML stream."""
    if not isinstance(objects, (list, tuple)):
        raise AnsibleFilterError("to_manifest_yaml expects a list of Kubernetes objects, got %s"
                                 % type(objects).__name__)
    docs = []
    for obj in objects:
        if not isinstance(obj, dict) or "kind" not in obj:
            raise AnsibleFilterError("to_manifest_yaml: every item must be a Kubernetes object "
                                     "with a kind, got %r" % (obj,))
        obj = _plain(obj)
        if redact_secrets and obj.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if field in obj:
                    obj[field] = dict((k, SECRET_PLACEHOLDER) for k in obj[field])
        docs.append(obj)
    return yaml.dump_all(docs, Dumper=_ManifestDumper, default_flow_style=False,
                         sort_keys=False, explicit_start=True, width=1000)


class FilterModule(object):
    def filters(self):
        return {"to_manifest_yaml": to_manifest_yaml}
