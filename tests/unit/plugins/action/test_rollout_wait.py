"""rollout_wait against a scripted cluster: progress lines while pods change
phase, a throttle per model, and a failure message that opens with the diagnosis."""

from ansible_collections.embedserve.vllm.plugins.action.rollout_wait import wait_for_rollout, _selector
from ansible_collections.embedserve.vllm.plugins.module_utils.rollout_progress import (
    ProgressReporter, deployment_ready, deployment_stalled, model_state, pod_phase)


def deployment(name, wanted=1, ready=0, generation=1, observed=1, conditions=None):
    status = {"observedGeneration": observed, "replicas": wanted, "updatedReplicas": wanted,
              "availableReplicas": ready, "readyReplicas": ready, "conditions": conditions or []}
    if ready < wanted:
        status["unavailableReplicas"] = wanted - ready
    return {"metadata": {"name": name, "generation": generation}, "spec": {"replicas": wanted}, "status": status}


def pod(name, model, phase="Pending", ready=False, waiting=None, unschedulable=None):
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if unschedulable:
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": unschedulable})
    containers = [{"name": "vllm", "restartCount": 0, "state": {"waiting": {"reason": waiting}}}] if waiting else []
    return {"metadata": {"name": name, "labels": {"app.kubernetes.io/instance": model}},
            "status": {"phase": phase, "conditions": conditions, "containerStatuses": containers}}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class ScriptedCluster:
    """Each poll returns the next (deployments, pods) step; the last one repeats."""

    def __init__(self, steps, events=(), logs=None):
        self.steps = list(steps)
        self.index = -1
        self._events = list(events)
        self._logs = logs or {}
        self.log_reads = []

    def deployments(self, namespace, names):
        self.index = min(self.index + 1, len(self.steps) - 1)
        return dict((d["metadata"]["name"], d) for d in self.steps[self.index][0])

    def pods(self, namespace, names):
        return self.steps[self.index][1]

    def events(self, namespace):
        return self._events

    def log_lines(self, namespace, pod_name, container, lines):
        self.log_reads.append((pod_name, container, lines))
        return self._logs.get(pod_name, [])


def run(cluster, names, timeout=60, interval=5):
    clock, shown = Clock(), []
    result = wait_for_rollout(cluster, "ns", names, timeout, 2, interval, "vllm", 7,
                              clock=clock, pause=clock.sleep, show=shown.append)
    return result, shown


def test_deployment_ready_follows_kubernetes_core():
    assert deployment_ready(deployment("a", wanted=2, ready=2))
    assert not deployment_ready(deployment("a", wanted=2, ready=1))
    assert not deployment_ready(deployment("a", ready=1, generation=2, observed=1))
    assert not deployment_ready(None)
    assert deployment_ready(deployment("a", wanted=0, ready=0))


def test_pod_phase_names_the_blocking_reason():
    assert pod_phase(pod("p", "m", unschedulable="0/1 nodes")) == "Unschedulable"
    assert pod_phase(pod("p", "m", waiting="ContainerCreating")) == "ContainerCreating"
    assert pod_phase(pod("p", "m", phase="Running")) == "Starting"
    assert pod_phase(pod("p", "m", phase="Running", ready=True)) == "Ready"


def test_progress_lines_follow_phase_changes_and_finish():
    steps = [
        ([deployment("minilm")], [pod("minilm-1", "minilm", unschedulable="no node")]),
        ([deployment("minilm")], [pod("minilm-1", "minilm", waiting="ContainerCreating")]),
        ([deployment("minilm")], [pod("minilm-1", "minilm", waiting="ContainerCreating")]),
        ([deployment("minilm")], [pod("minilm-1", "minilm", waiting="ContainerCreating")]),
        ([deployment("minilm")], [pod("minilm-1", "minilm", phase="Running")]),
        ([deployment("minilm")], [pod("minilm-1", "minilm", phase="Running")]),
        ([deployment("minilm")], [pod("minilm-1", "minilm", phase="Running")]),
        ([deployment("minilm", ready=1)], [pod("minilm-1", "minilm", phase="Running", ready=True)]),
    ]
    result, shown = run(ScriptedCluster(steps), ["minilm"])
    assert not result.get("failed")
    assert result["states"]["minilm"] == "rolled out (1/1 ready); pods: 1 Ready"
    assert shown == [
        "rollout minilm: 0/1 ready; pods: 1 Unschedulable [0s]",
        # the ContainerCreating state at 2 s is held back by the 5 s throttle
        "rollout minilm: 0/1 ready; pods: 1 ContainerCreating [6s]",
        "rollout minilm: 0/1 ready; pods: 1 Starting [12s]",
        "rollout minilm: rolled out (1/1 ready); pods: 1 Ready [14s]",
    ]


def test_one_line_per_model_and_unchanged_models_stay_quiet():
    reporter = ProgressReporter(5)
    assert reporter.lines({"a": "0/1 ready", "b": "0/1 ready"}, 0, 0) == [
        "rollout a: 0/1 ready [0s]", "rollout b: 0/1 ready [0s]"]
    assert reporter.lines({"a": "0/1 ready", "b": "0/1 ready"}, 10, 10) == []
    assert reporter.lines({"a": "0/1 ready; pods: 1 Starting", "b": "0/1 ready"}, 12, 12) == [
        "rollout a: 0/1 ready; pods: 1 Starting [12s]"]


def test_a_timeout_fails_with_the_diagnosis_first():
    stuck = pod("minilm-1", "minilm", unschedulable="0/1 nodes are available")
    events = [{"involvedObject": {"name": "minilm-1"}, "type": "Warning", "reason": "FailedScheduling",
               "message": "0/1 nodes are available", "lastTimestamp": "2026-01-01T00:00:00Z"}]
    cluster = ScriptedCluster([([deployment("minilm"), deployment("granite", ready=1)],
                                [stuck, pod("granite-1", "granite", phase="Running", ready=True)])], events)
    result, shown = run(cluster, ["minilm", "granite"], timeout=10)
    assert result["failed"]
    assert result["msg"][0].startswith("pod minilm-1: phase Pending")
    assert "  event Warning FailedScheduling: 0/1 nodes are available" in result["msg"]
    assert result["msg"][-1] == "the rollout did not complete within 10 s (still waiting for: minilm)"
    assert result["diagnosis"] == result["msg"][:-1]
    assert cluster.log_reads == [("minilm-1", "vllm", 7)]
    assert not any("Failed to gather" in line for line in result["msg"])
    assert "rollout granite: rolled out (1/1 ready); pods: 1 Ready [0s]" in shown


def test_a_progress_deadline_ends_the_wait_early():
    stalled = deployment("minilm", conditions=[{"type": "Progressing", "status": "False",
                                                "reason": "ProgressDeadlineExceeded",
                                                "message": "ReplicaSet has timed out progressing."}])
    assert deployment_stalled(stalled).startswith("ProgressDeadlineExceeded")
    result, _shown = run(ScriptedCluster([([stalled], [pod("minilm-1", "minilm", waiting="CrashLoopBackOff")])]),
                         ["minilm"], timeout=600)
    assert result["failed"] and result["elapsed"] == 0
    assert result["msg"][0].startswith("pod minilm-1: phase Pending, vllm CrashLoopBackOff")
    assert "the rollout stopped: minilm ProgressDeadlineExceeded" in result["msg"][-1]


def test_missing_deployments_are_waited_for_and_named():
    assert model_state("x", None, []) == "Deployment not found yet"
    assert _selector(["b", "a"]) == "app.kubernetes.io/instance in (a,b)"
