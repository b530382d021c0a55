"""site.yml with raw Deployments against the local cluster: bad input, render,
check and diff modes, rollout failures and removal."""

import copy

import pytest
import yaml

from conftest import kubectl, kubectl_json, run_playbook

NS = "it-raw"
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]


def _vars(models=None, **extra):
    values = {"embedserve_namespace": NS, "embedserve_models": copy.deepcopy(models or SEED)}
    values.update(extra)
    return values


def _exists(*args):
    return kubectl(*args, check=False).returncode == 0


def _delete_namespace():
    kubectl("delete", "namespace", NS, "--wait=true", "--timeout=90s", check=False)


@pytest.fixture
def clean_namespace():
    _delete_namespace()
    yield
    _delete_namespace()


@pytest.mark.parametrize("models, expected", [
    ([SEED[0], dict(SEED[1], name="minilm")], "name 'minilm' is already used by embedserve_models[0]"),
    ([dict(SEED[0], name="MiniLM_L6")], "name 'MiniLM_L6' must consist of lower case letters"),
    ([dict(SEED[0], image="docker.io/vllm/vllm-openai:latest")], "moving 'latest' tag"),
])
def test_bad_catalogues_fail_before_any_api_write(clean_namespace, models, expected):
    run = run_playbook(extra_vars=_vars(models))
    assert run.rc != 0
    assert any(expected in message for message in run.failure_messages()), run.failure_messages()
    assert run.changed == 0
    assert not _exists("get", "namespace", NS)


def test_a_catalogue_that_does_not_fit_the_gpus_fails_before_any_api_write(clean_namespace):
    run = run_playbook(extra_vars=_vars(embedserve_gpus={"count": 1, "memory_mib": 2048, "sharing": "time-slicing"}))
    assert run.rc != 0
    message = "\n".join(run.failure_messages())
    assert "does not fit the GPUs" in message and "short by" in message
    assert not _exists("get", "namespace", NS)


def test_render_mode_writes_what_apply_sends(clean_namespace, tmp_path):
    models = [dict(SEED[0], api_key=True, network_policy=True, replicas=2)]
    render = run_playbook(extra_vars=_vars(models, embedserve_render_dir=str(tmp_path),
                                           embedserve_k8s_host="https://127.0.0.1:9"))
    assert render.rc == 0, render.failure_messages()
    assert not _exists("get", "namespace", NS)
    rendered = list(yaml.safe_load_all((tmp_path / "raw-deployments.yaml").read_text()))
    assert sorted(obj["kind"] for obj in rendered) == ["Deployment", "NetworkPolicy", "PodDisruptionBudget",
                                                       "Route", "Service"]
    secrets = (tmp_path / "raw-deployments-secrets.yaml").read_text()
    assert "<redacted" in secrets

    applied = run_playbook(extra_vars=_vars(models))
    assert applied.rc == 0, applied.failure_messages()
    for obj in rendered:
        live = kubectl_json("-n", NS, "get", obj["kind"].lower(), obj["metadata"]["name"])
        for key, value in obj["metadata"].get("labels", {}).items():
            assert live["metadata"]["labels"][key] == value
        if obj["kind"] == "Deployment":
            rendered_container = obj["spec"]["template"]["spec"]["containers"][0]
            live_container = live["spec"]["template"]["spec"]["containers"][0]
            for field in ("command", "args", "image", "env"):
                assert live_container[field] == rendered_container[field], field


def test_check_mode_and_diff_report_changes_without_making_them(clean_namespace):
    created = run_playbook(extra_vars=_vars([SEED[0]]))
    assert created.rc == 0, created.failure_messages()
    check = run_playbook("site.yml", "--check", "--diff", extra_vars=_vars([dict(SEED[0], replicas=2)]))
    assert check.rc == 0, check.failure_messages()
    applied = check.results_of("Apply the Deployments, Services and Routes")
    assert applied and applied[0]["changed"]
    shown = check.results_of("embedserve.vllm.raw_deployment : Show the changes object by object")
    assert shown and shown[0]["objects_changed"] >= 1
    deployment_diffs = [d for d in shown[0]["diff"] if d["after_header"].startswith("Deployment %s/minilm" % NS)]
    assert deployment_diffs[0]["before"]["spec"]["replicas"] == 1
    assert deployment_diffs[0]["after"]["spec"]["replicas"] == 2
    # a new object's diff holds what the catalogue asked for, not the server's fields
    pdb = [d for d in shown[0]["diff"] if d["after_header"].startswith("PodDisruptionBudget %s/minilm" % NS)][0]
    assert pdb["before"] == {} and pdb["after"]["spec"]["maxUnavailable"] == 1
    assert "status" not in pdb["after"]
    assert not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(pdb["after"]["metadata"])
    assert kubectl_json("-n", NS, "get", "deployment", "minilm")["spec"]["replicas"] == 1
    assert not _exists("-n", NS, "get", "poddisruptionbudget", "minilm")


def test_api_keys_are_generated_once_and_wired_to_the_pod(clean_namespace):
    models = [dict(SEED[0], api_key=True)]
    assert run_playbook(extra_vars=_vars(models)).rc == 0
    first = kubectl_json("-n", NS, "get", "secret", "minilm-api-key")["data"]["VLLM_API_KEY"]
    again = run_playbook(extra_vars=_vars(models))
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
    assert kubectl_json("-n", NS, "get", "secret", "minilm-api-key")["data"]["VLLM_API_KEY"] == first
    env = kubectl_json("-n", NS, "get", "deployment", "minilm")["spec"]["template"]["spec"]["containers"][0]["env"]
    ref = [item for item in env if item["name"] == "VLLM_API_KEY"][0]
    assert ref["valueFrom"]["secretKeyRef"]["name"] == "minilm-api-key"


def test_a_stuck_rollout_fails_with_the_pod_state_and_events(clean_namespace):
    models = [dict(SEED[0], startup_timeout=10, node_selector={"embedserve.io/no-such-node": "true"})]
    run = run_playbook(extra_vars=_vars(models))
    assert run.rc != 0
    message = "\n".join(str(m) for m in run.failure_messages())
    assert "pod minilm-" in message and "phase Pending" in message
    assert "FailedScheduling" in message
    # the failure opens with the diagnosis, not kubernetes.core's wait message
    first = run.failure_messages()[0]
    assert isinstance(first, list) and first[0].startswith("pod minilm-"), first
    assert "Failed to gather information" not in message
    assert "did not complete within" in first[-1]
    # while waiting, the pods' phase was reported
    waited = run.results_of("Wait for the Deployments to roll out")[0]
    assert waited["states"]["minilm"].startswith("0/1 ready; pods: 1 Unschedulable")


def test_absent_removes_the_models_but_keeps_namespace_and_cache(clean_namespace):
    models = [dict(SEED[0], api_key=True)]
    assert run_playbook(extra_vars=_vars(models)).rc == 0
    removed = run_playbook(extra_vars=_vars(models, embedserve_state="absent"))
    assert removed.rc == 0, removed.failure_messages()
    for kind in ("deployment", "service", "route", "secret"):
        name = "minilm-api-key" if kind == "secret" else "minilm"
        assert not _exists("-n", NS, "get", kind, name), kind
    assert _exists("-n", NS, "get", "pvc", "vllm-model-cache")
    assert _exists("get", "namespace", NS)
