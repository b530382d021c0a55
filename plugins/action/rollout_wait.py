# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Wait for a set of Deployments to roll out, printing each model's progress
while waiting, and fail with the rollout diagnosis first.

kubernetes.core.k8s_info's wait is one silent task (up to the slowest
model's wait_timeout) whose failure opens with "Failed to gather
information". This runs on the controller so it can print a line through
Display whenever a model's pods change phase.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import range_problems
from ansible_collections.embedserve.vllm.plugins.module_utils.rollout import rollout_diagnosis, unready_pod_names
from ansible_collections.embedserve.vllm.plugins.module_utils.rollout_progress import (
    ProgressReporter,
    deployment_ready,
    deployment_stalled,
    failure_message,
    model_state,
)

display = Display()

# The connection options of kubernetes.core's modules (module_defaults of
# group/embedserve.vllm.k8s fill them; unset ones fall back to K8S_AUTH_*).
AUTH_OPTIONS = dict(
    kubeconfig=dict(type="raw", no_log=True),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"]),
    proxy=dict(type="str"),
    no_proxy=dict(type="str"),
    impersonate_user=dict(type="str"),
    impersonate_groups=dict(type="list", elements="str"),
)

ARGUMENT_SPEC = dict(
    namespace=dict(type="str", required=True),
    names=dict(type="list", elements="str", required=True),
    timeout=dict(type="int", default=600),
    sleep=dict(type="float", default=2),
    progress_interval=dict(type="float", default=5),
    container=dict(type="str", default="vllm"),
    log_lines=dict(type="int", default=20),
    **AUTH_OPTIONS
)
# checked before the cluster is read
RANGES = {"timeout": (0, 7 * 86400), "sleep": (0.1, 600), "progress_interval": (0.1, 3600), "log_lines": (0, 10000)}


class ClusterReader(object):
    """The four reads the wait needs, as plain camelCase dicts."""

    def __init__(self, auth):
        try:
            from kubernetes import client as k8s_client
            from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
        except ImportError as exc:
            raise AnsibleActionFail("rollout_wait needs the kubernetes Python client and kubernetes.core: %s" % exc)
        try:
            api = get_api_client(**auth).client.client
        except Exception as exc:  # a bad kubeconfig or missing credentials: say so, no traceback
            raise AnsibleActionFail("cannot reach the cluster: %s" % to_text(exc))
        self._serialize = api.sanitize_for_serialization
        self._apps = k8s_client.AppsV1Api(api)
        self._core = k8s_client.CoreV1Api(api)

    def deployments(self, namespace, names):
        items = self._apps.list_namespaced_deployment(namespace, label_selector=_selector(names)).items
        return dict((item.metadata.name, self._serialize(item)) for item in items)

    def pods(self, namespace, names):
        return [self._serialize(item) for item in
                self._core.list_namespaced_pod(namespace, label_selector=_selector(names)).items]

    def events(self, namespace):
        return [self._serialize(item) for item in self._core.list_namespaced_event(namespace).items]

    def log_lines(self, namespace, pod, container, lines):
        try:
            text = self._core.read_namespaced_pod_log(pod, namespace, container=container, tail_lines=lines)
        except Exception:  # the container has not started: no log is an answer too
            return []
        return to_text(text).splitlines()


def _selector(names):
    return "app.kubernetes.io/instance in (%s)" % ",".join(sorted(names))


def wait_for_rollout(reader, namespace, names, timeout, sleep, progress_interval, container="vllm", log_lines=20,
                     clock=time.monotonic, pause=time.sleep, show=display.display):
    """Poll until every named Deployment is rolled out; a result dict for Ansible."""
    reporter = ProgressReporter(progress_interval)
    start = clock()
    names = sorted(set(names))
    while True:
        deployments = reader.deployments(namespace, names)
        pods = reader.pods(namespace, names)
        elapsed = clock() - start
        states = dict((name, model_state(name, deployments.get(name), pods)) for name in names)
        for line in reporter.lines(states, clock(), elapsed):
            show(line)
        waiting = [name for name in names if not deployment_ready(deployments.get(name))]
        if not waiting:
            return dict(changed=False, elapsed=int(elapsed), states=states)
        stalled = dict((name, deployment_stalled(deployments.get(name))) for name in waiting)
        stalled = dict((name, why) for name, why in stalled.items() if why)
        if stalled or elapsed >= timeout:
            logs = [{"item": pod, "log_lines": reader.log_lines(namespace, pod, container, log_lines)}
                    for pod in unready_pod_names(pods)]
            diagnosis = rollout_diagnosis(pods, reader.events(namespace), logs)
            return dict(failed=True, changed=False, elapsed=int(elapsed), states=states, diagnosis=diagnosis,
                        msg=failure_message(diagnosis, waiting, timeout, stalled))
        pause(min(sleep, max(timeout - elapsed, 0.1)))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problems = range_problems(args, RANGES)
        if problems:
            result.update(failed=True, changed=False, msg="; ".join(problems))
            return result
        if self._task.check_mode:
            result.update(changed=False, skipped=True, msg="check mode: nothing was applied, nothing to wait for")
            return result
        auth = dict((key, args[key]) for key in AUTH_OPTIONS if args.get(key) is not None)
        reader = ClusterReader(auth)
        result.update(wait_for_rollout(reader, args["namespace"], args["names"], args["timeout"], args["sleep"],
                                       args["progress_interval"], args["container"], args["log_lines"]))
        return result
