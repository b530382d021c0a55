# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Follow the rollout of a set of Deployments: is each one done, and one
progress line per model built from its pods' phases.

Pure functions over plain objects (the API's camelCase dicts), so the
rollout_wait action can be unit-tested without a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def deployment_ready(deployment):
    """True when every wanted replica is updated and available (kubernetes.core's own rule)."""
    if not deployment:
        return False
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    metadata = deployment.get("metadata") or {}
    wanted = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration") == metadata.get("generation")
        and (status.get("replicas") or 0) == wanted
        and (status.get("updatedReplicas") or 0) == wanted
        and (status.get("availableReplicas") or 0) == wanted
        and not status.get("unavailableReplicas")
    )


def deployment_stalled(deployment):
    """The reason the Deployment controller gave up (ProgressDeadlineExceeded), else None."""
    for condition in ((deployment or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            return "%s: %s" % (condition.get("reason"), condition.get("message", ""))
    return None


def pod_phase(pod):
    """One word for where a pod is: Ready, Terminating, a waiting reason
    (ContainerCreating, CrashLoopBackOff, ...), Unschedulable, or its phase."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return "Ready"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return condition.get("reason") or "Unschedulable"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if state.get("waiting"):
            return state["waiting"].get("reason") or "Waiting"
        if state.get("terminated"):
            return state["terminated"].get("reason") or "Terminated"
    phase = status.get("phase") or "Pending"
    return "Starting" if phase == "Running" else phase


def model_state(name, deployment, pods):
    """`ready/wanted` and the pods counted by phase, e.g. '1/2 ready; pods: 1 Ready, 1 ContainerCreating'."""
    wanted = ((deployment or {}).get("spec") or {}).get("replicas", 1) if deployment else None
    ready = ((deployment or {}).get("status") or {}).get("readyReplicas") or 0
    counts = {}
    for pod in pods:
        if ((pod.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/instance") == name:
            phase = pod_phase(pod)
            counts[phase] = counts.get(phase, 0) + 1
    if deployment is None:
        head = "Deployment not found yet"
    elif deployment_ready(deployment):
        head = "rolled out (%d/%d ready)" % (ready, wanted)
    else:
        head = "%d/%d ready" % (ready, wanted)
    if counts:
        head += "; pods: " + ", ".join("%d %s" % (counts[phase], phase) for phase in sorted(counts))
    return head


class ProgressReporter(object):
    """Decide which progress lines to print: a model's line when its state
    changed, at most once per `interval` seconds per model (the final
    'rolled out' line is never held back)."""

    def __init__(self, interval):
        self.interval = interval
        self._shown = {}
        self._shown_at = {}
        self._pending = {}

    def lines(self, states, now, elapsed):
        out = []
        for name in sorted(states):
            state = states[name]
            if state == self._shown.get(name):
                self._pending.pop(name, None)
                continue
            final = state.startswith("rolled out")
            if final or now - self._shown_at.get(name, float("-inf")) >= self.interval:
                out.append("rollout %s: %s [%ds]" % (name, state, int(elapsed)))
                self._shown[name] = state
                self._shown_at[name] = now
                self._pending.pop(name, None)
            else:
                self._pending[name] = state
        return out


def failure_message(diagnosis, waiting, timeout, stalled):
    """The diagnosis first, then what was being waited for and why the wait ended."""
    if stalled:
        reason = "the rollout stopped: " + "; ".join("%s %s" % (name, why) for name, why in sorted(stalled.items()))
    else:
        reason = "the rollout did not complete within %d s" % timeout
    return list(diagnosis) + ["%s (still waiting for: %s)" % (reason, ", ".join(sorted(waiting)))]
