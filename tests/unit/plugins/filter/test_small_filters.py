"""Filters and tests that lay out manifests, reports and Kubernetes name checks."""

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.filter.manifests import to_manifest_yaml
from ansible_collections.embedserve.vllm.plugins.filter.report import summary_table
from ansible_collections.embedserve.vllm.plugins.module_utils.rollout import rollout_diagnosis, unready_pod_names
from ansible_collections.embedserve.vllm.plugins.test.k8s_names import dns1123_label, dns1123_subdomain, k8s_quantity

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "key"}, "stringData": {"VLLM_API_KEY": "s3cr3t"}}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "models"}}


def test_manifest_yaml_round_trips_in_order():
    text = to_manifest_yaml([NAMESPACE, SECRET])
    assert text.startswith("---\n")
    assert list(yaml.safe_load_all(text)) == [NAMESPACE, SECRET]


def test_manifest_yaml_redacts_secret_values_only_when_asked():
    assert "s3cr3t" in to_manifest_yaml([SECRET])
    redacted = list(yaml.safe_load_all(to_manifest_yaml([SECRET, NAMESPACE], redact_secrets=True)))
    assert redacted[0]["stringData"] == {"VLLM_API_KEY": "<redacted: rendered without secrets>"}
    assert redacted[1] == NAMESPACE


def test_manifest_yaml_rejects_non_objects():
    with pytest.raises(AnsibleFilterError):
        to_manifest_yaml([{"metadata": {}}])
    with pytest.raises(AnsibleFilterError):
        to_manifest_yaml(NAMESPACE)


def test_summary_table_aligns_columns():
    lines = summary_table([{"name": "minilm", "mode": "raw", "gpu_fraction": 0.02},
                           {"name": "granite-long-name", "mode": "kserve", "gpu_fraction": None}],
                          [["name", "MODEL"], ["mode", "MODE"], ["gpu_fraction", "GPU"]])
    assert lines[0].split() == ["MODEL", "MODE", "GPU"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].index("raw") == lines[3].index("kserve") == lines[0].index("MODE", len("MODEL"))
    assert lines[3].split()[-1] == "-"


def _pod(name, ready, reason=None):
    status = {"phase": "Running" if ready else "Pending",
              "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                              "message": None if ready else "containers with unready status: [vllm]"}]}
    if reason:
        status["containerStatuses"] = [{"name": "vllm", "restartCount": 4,
                                        "state": {"waiting": {"reason": reason, "message": "back-off"}}}]
    return {"metadata": {"name": name}, "status": status}


def test_rollout_diagnosis_names_unready_pods_with_events_and_logs():
    pods = [_pod("ok-1", True), _pod("bad-1", False, "CrashLoopBackOff")]
    events = [{"involvedObject": {"name": "bad-1"}, "type": "Warning", "reason": "BackOff",
               "message": "Back-off restarting failed container", "lastTimestamp": "2026-01-01T00:00:00Z"},
              {"involvedObject": {"name": "ok-1"}, "type": "Normal", "reason": "Started", "message": "ok"}]
    logs = [{"item": "bad-1", "log_lines": ["ValueError: User-specified max_model_len (512) is greater"]}]
    assert unready_pod_names(pods) == ["bad-1"]
    lines = rollout_diagnosis(pods, events, logs)
    text = "\n".join(lines)
    assert "pod bad-1: phase Pending, vllm CrashLoopBackOff: back-off (restarts 4)" in text
    assert "event Warning BackOff: Back-off restarting failed container" in text
    assert "max_model_len (512)" in text
    assert "ok-1" not in text


@pytest.mark.parametrize("value, label, subdomain", [
    ("vllm-embeddings", True, True),
    ("a.b", False, True),
    ("Bad", False, False),
    ("-x", False, False),
    ("x" * 64, False, True),
    ("", False, False),
])
def test_name_tests(value, label, subdomain):
    assert dns1123_label(value) is label
    assert dns1123_subdomain(value) is subdomain


@pytest.mark.parametrize("value, ok", [("50Gi", True), ("500m", True), ("1e3", True), (2, True),
                                       ("fifty", False), ("-1Gi", False), (True, False), ("5 Gi", False)])
def test_quantity_test(value, ok):
    assert k8s_quantity(value) is ok
