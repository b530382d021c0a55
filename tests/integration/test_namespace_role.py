"""site.yml's namespace step against the cluster: idempotence, check mode,
render mode, bad input and removal."""

import yaml

from conftest import kubectl, kubectl_json, run_playbook

NS = "it-site-namespace"


def _exists(*args):
    return kubectl(*args, check=False).returncode == 0


def _cleanup():
    kubectl("delete", "namespace", NS, "--wait=true", "--timeout=60s", check=False)


def test_converge_twice_then_second_run_changes_nothing():
    _cleanup()
    try:
        first = run_playbook(extra_vars={"embedserve_namespace": NS})
        assert first.rc == 0, first.failure_messages()
        assert first.changed >= 1
        second = run_playbook(extra_vars={"embedserve_namespace": NS})
        assert second.rc == 0
        assert second.changed == 0, second.changed_tasks()
        pvc = kubectl_json("-n", NS, "get", "pvc", "vllm-model-cache")
        assert pvc["status"]["phase"] == "Bound"
    finally:
        _cleanup()


def test_check_mode_creates_nothing_and_reports_the_change():
    _cleanup()
    run = run_playbook("site.yml", "--check", "--diff", extra_vars={"embedserve_namespace": NS})
    assert run.rc == 0, run.failure_messages()
    assert run.changed >= 1
    assert not _exists("get", "namespace", NS)


def test_render_mode_writes_the_applied_objects_and_touches_no_cluster(tmp_path):
    _cleanup()
    run = run_playbook(extra_vars={"embedserve_namespace": NS, "embedserve_render_dir": str(tmp_path),
                                   "embedserve_hf_token": "hf_render_secret",
                                   # an unreachable API proves nothing is contacted
                                   "embedserve_k8s_host": "https://127.0.0.1:9"})
    assert run.rc == 0, run.failure_messages()
    docs = list(yaml.safe_load_all((tmp_path / "namespace.yaml").read_text()))
    assert [d["kind"] for d in docs] == ["Namespace", "ServiceAccount", "PersistentVolumeClaim"]
    assert docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    secret_text = (tmp_path / "namespace-secrets.yaml").read_text()
    assert "hf_render_secret" not in secret_text and "aGZfcmVuZGVy" not in secret_text
    assert not _exists("get", "namespace", NS)


def test_bad_names_and_sizes_fail_before_any_api_call():
    _cleanup()
    # a shared setting overridden on the role alone is refused by the catalogue role first (it disagrees with
    # the catalogue's), before the namespace role's own name check would see it
    cases = {
        "namespace_name": ("Bad_Namespace", "namespace_name is 'Bad_Namespace' but the catalogue's namespace"),
        "namespace_cache_pvc_size": ("fifty gigs", "namespace_cache_pvc_size 'fifty gigs'"),
        "namespace_cache_pvc_name": ("cache/../x", "namespace_cache_pvc_name is 'cache/../x' but the catalogue's"),
    }
    for var, (value, expected) in cases.items():
        extra = {"embedserve_namespace": NS, var: value}
        run = run_playbook(extra_vars=extra)
        assert run.rc != 0, var
        assert any(expected in str(msg) for msg in run.failure_messages()), run.failure_messages()
        assert run.changed == 0
    assert not _exists("get", "namespace", NS)


def test_absent_keeps_the_cache_unless_asked():
    _cleanup()
    try:
        assert run_playbook(extra_vars={"embedserve_namespace": NS}).rc == 0
        kept = run_playbook(extra_vars={"embedserve_namespace": NS, "embedserve_state": "absent"})
        assert kept.rc == 0, kept.failure_messages()
        assert _exists("-n", NS, "get", "pvc", "vllm-model-cache")
        assert not _exists("-n", NS, "get", "serviceaccount", "vllm")
        gone = run_playbook(extra_vars={"embedserve_namespace": NS, "embedserve_state": "absent",
                                        "namespace_cache_pvc_delete": True})
        assert gone.rc == 0, gone.failure_messages()
        assert not _exists("get", "namespace", NS)
    finally:
        _cleanup()
