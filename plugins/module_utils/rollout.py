# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Turn pods, events and logs of a failed rollout into a short diagnosis."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MAX_EVENTS_PER_POD = 5


def _ready(pod):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def unready_pod_names(pods):
    """Names of the pods whose Ready condition is not True."""
    return [pod["metadata"]["name"] for pod in pods or [] if not _ready(pod)]


def _container_states(pod):
    states = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        for state, detail in (status.get("state") or {}).items():
            reason = (detail or {}).get("reason") or state
            message = (detail or {}).get("message")
            detail_text = ": %s" % message if message else ""
            states.append("%s %s%s (restarts %d)"
                          % (status.get("name"), reason, detail_text, status.get("restartCount", 0)))
    return states


def rollout_diagnosis(pods, events, log_results=None):
    """Lines describing every unready pod: phase, container states, recent events, last log lines.

    log_results: the `results` of a looped kubernetes.core.k8s_log task
    (each with `item` = pod name and `log_lines`).
    """
    logs = dict((result.get("item"), [line for line in result.get("log_lines") or [] if line.strip()])
                for result in log_results or [])
    lines = []
    unready = [pod for pod in pods or [] if not _ready(pod)]
    if not unready:
        lines.append("every model pod is Ready; the failure happened before or outside the rollout")
    for pod in unready:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        states = _container_states(pod)
        lines.append("pod %s: phase %s%s" % (name, status.get("phase", "unknown"),
                                             ", " + "; ".join(states) if states else ""))
        for condition in status.get("conditions") or []:
            if condition.get("status") != "True" and condition.get("message"):
                lines.append("  %s: %s" % (condition.get("type"), condition["message"]))
        pod_events = [event for event in events or []
                      if (event.get("involvedObject") or {}).get("name") == name]
        pod_events.sort(key=lambda event: event.get("lastTimestamp") or event.get("eventTime") or "")
        for event in pod_events[-MAX_EVENTS_PER_POD:]:
            lines.append("  event %s %s: %s" % (event.get("type", ""), event.get("reason", ""),
                                                event.get("message", "").strip()))
        if logs.get(name):
            lines.append("  last log lines:")
            lines.extend("    " + line for line in logs[name])
        elif name in logs:
            lines.append("  no log lines (the container has not started)")
    return lines
