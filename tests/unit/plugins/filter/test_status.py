"""Status rows read back from cluster objects."""

from ansible_collections.embedserve.vllm.plugins.module_utils.status import status_rows


def _meta(name, mode, task="embed", extra_labels=None, annotations=None):
    labels = {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": task, "embedserve.io/mode": mode}
    labels.update(extra_labels or {})
    return {"name": name, "labels": labels,
            "annotations": dict({"embedserve.io/model": "org/%s" % name, "embedserve.io/max-model-len": "256",
                                 "embedserve.io/gpu-placement": "time-sliced GPU 0, alone"}, **(annotations or {}))}


def test_raw_isvc_and_urls():
    deployments = [{"metadata": _meta("minilm", "raw"), "spec": {"replicas": 2, "template": {"spec": {
        "containers": [{"ports": [{"containerPort": 8000}]}]}}}, "status": {"readyReplicas": 1}}]
    isvcs = [{"metadata": _meta("msmarco", "kserve", "score"),
              "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ModelLoadFailed"}]}},
             {"metadata": _meta("granite", "kserve"), "status": {"url": "https://granite.apps.example"}}]
    routes = [{"metadata": {"name": "minilm"}, "spec": {"host": "minilm.apps.example", "path": "/v1"}}]
    pods = [{"metadata": {"labels": {"app.kubernetes.io/instance": "minilm"}}, "spec": {"nodeName": "gpu-1"}}]
    rows = status_rows(deployments, isvcs, routes, pods, "models")
    assert [(r["mode"], r["name"]) for r in rows] == [("kserve", "granite"), ("kserve", "msmarco"), ("raw", "minilm")]
    granite, msmarco, minilm = rows
    assert minilm["ready"] == "1/2"
    assert minilm["url"] == "https://minilm.apps.example/v1"
    assert minilm["placement"] == "time-sliced GPU 0, alone on gpu-1"
    assert msmarco["ready"] == "not ready: ModelLoadFailed"
    assert msmarco["url"] == "http://msmarco-predictor.models.svc"
    assert granite["url"] == "https://granite.apps.example"
    assert granite["ready"].startswith("no status")


def test_route_without_host_says_so():
    deployments = [{"metadata": _meta("a", "raw"), "spec": {"replicas": 1}, "status": {}}]
    rows = status_rows(deployments, [], [{"metadata": {"name": "a"}, "spec": {}}], [], "ns")
    assert rows[0]["url"].startswith("route/a (no host assigned")
    assert rows[0]["ready"] == "0/1"
