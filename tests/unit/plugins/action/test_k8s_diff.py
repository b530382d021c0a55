"""k8s_diff: per-object diffs of a batched apply, without the fields the API server fills in."""

from ansible_collections.embedserve.vllm.plugins.action.k8s_diff import batch_diffs

CREATED_PDB = {
    "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
    "metadata": {"name": "minilm", "namespace": "ns", "uid": "0b5c", "resourceVersion": "812",
                 "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1, "labels": {"a": "b"},
                 "managedFields": [{"manager": "embedserve"}]},
    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "minilm"}}},
    "status": {"currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
}


def test_a_new_object_shows_only_what_was_asked_for():
    result = {"changed": True, "result": {"results": [
        {"changed": True, "method": "create", "result": CREATED_PDB},
        {"changed": False, "method": "apply", "result": {"kind": "Service", "metadata": {"name": "minilm"}}},
    ]}}
    diffs = batch_diffs(result)
    assert len(diffs) == 1
    after = diffs[0]["after"]
    assert diffs[0]["before"] == {} and diffs[0]["after_header"] == "PodDisruptionBudget ns/minilm (create)"
    assert "status" not in after
    assert after["metadata"] == {"name": "minilm", "namespace": "ns", "labels": {"a": "b"}}
    assert after["spec"] == CREATED_PDB["spec"]
    assert CREATED_PDB["metadata"]["uid"] == "0b5c"  # the registered result is not modified


def test_an_update_diff_keeps_the_changed_fields_only():
    before = dict(CREATED_PDB, spec={"maxUnavailable": 1})
    after = dict(CREATED_PDB, spec={"maxUnavailable": 2}, metadata=dict(CREATED_PDB["metadata"], resourceVersion="900"))
    diffs = batch_diffs({"changed": True, "method": "apply", "result": after, "diff": {"before": before, "after": after}})
    assert diffs[0]["before"]["spec"] == {"maxUnavailable": 1} and diffs[0]["after"]["spec"] == {"maxUnavailable": 2}
    assert "resourceVersion" not in diffs[0]["after"]["metadata"] and "status" not in diffs[0]["before"]


def test_a_deleted_object_is_shown_as_removed():
    diffs = batch_diffs({"changed": True, "method": "delete", "result": CREATED_PDB})
    assert diffs[0]["after"] == {} and "uid" not in diffs[0]["before"]["metadata"]
