# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Show the per-object diffs of a batched kubernetes.core.k8s call as one diff list.

kubernetes.core.k8s returns the diffs of a multi-object call inside
result.results, where `--diff` output never shows them. The roles apply all
their objects in one call for speed, so this action lifts the diffs to the
top level, headed by kind, namespace and name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_results import result_items


# Fields the API server fills in: they are not what the task changes, and on
# a new object they would bury the few lines the catalogue decided.
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink")


def without_server_fields(obj):
    """A copy of an object without status and the server-set metadata."""
    if not isinstance(obj, dict) or not obj:
        return obj or {}
    clean = dict((key, value) for key, value in obj.items() if key != "status")
    if isinstance(clean.get("metadata"), dict):
        clean["metadata"] = dict((key, value) for key, value in clean["metadata"].items()
                                 if key not in SERVER_METADATA)
    return clean


def _object_header(item):
    obj = item.get("result") or (item.get("diff") or {}).get("after") or (item.get("diff") or {}).get("before") or {}
    metadata = obj.get("metadata") or {}
    where = "%s/%s" % (metadata["namespace"], metadata.get("name")) if metadata.get("namespace") else metadata.get("name")
    return "%s %s (%s)" % (obj.get("kind", "object"), where, item.get("method", "apply"))


def batch_diffs(result):
    """Diffs of every object in a kubernetes.core.k8s result (single or batched) that changed."""
    diffs = []
    for item in result_items(result):
        if not item.get("changed"):
            continue
        diff = item.get("diff") or {}
        header = _object_header(item)
        if item.get("method") == "create" and not diff:
            diff = {"before": {}, "after": item.get("result") or {}}
        if item.get("method") == "delete" and not diff:
            diff = {"before": item.get("result") or {}, "after": {}}
        diffs.append({"before": without_server_fields(diff.get("before")),
                      "after": without_server_fields(diff.get("after")),
                      "before_header": header, "after_header": header})
    return diffs


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        applied = self._task.args.get("result")
        if not isinstance(applied, dict):
            raise AnsibleActionFail("result must be the registered result of a kubernetes.core.k8s task")
        diffs = batch_diffs(applied)
        # Ansible only displays the diffs of a changed result, so this task
        # reports changed exactly when the apply task changed something.
        result.update(changed=bool(diffs), objects_changed=len(diffs))
        if self._play_context.diff and diffs:
            result["diff"] = diffs
        return result
