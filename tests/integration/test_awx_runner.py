"""site.yml and undeploy.yml run the way AWX runs them: through ansible-runner,
with survey answers written to env/extravars as AWX writes them (strings from
text and multiple-choice questions, tagged !unsafe), against the local cluster."""

import json
import os
import shutil
from pathlib import Path

import ansible_runner
import pytest

from conftest import REPO, VENV_BIN, kubectl, kubectl_json

NS = "it-awx"
SURVEYS = REPO / "awx" / "surveys"


def survey_answers(survey, answers):
    """AWX's extravars for a survey: defaults, overridden by answers, typed like AWX types them."""
    spec = json.loads((SURVEYS / ("%s.json" % survey)).read_text())["spec"]
    values = {}
    for question in spec:
        value = answers.get(question["variable"], question.get("default"))
        if question["type"] == "integer":
            # an integer question gives an int, but a launch-time extra var or
            # a text question gives the same value as a string
            value = answers.get(question["variable"], value)
        elif value is not None:
            value = str(value)
        values[question["variable"]] = value
    return values


def write_extravars(path, values):
    """YAML as AWX writes it: every survey and launch value tagged !unsafe (never templated)."""
    lines = []
    for key, value in values.items():
        if isinstance(value, str):
            lines.append("%s: !unsafe %s" % (key, json.dumps(value)))
        else:
            lines.append("%s: %s" % (key, json.dumps(value)))
    path.write_text("\n".join(lines) + "\n")


def run_like_awx(tmp_path, playbook, extravars):
    private = tmp_path / ("runner-%s" % Path(playbook).stem)
    if private.exists():
        shutil.rmtree(private)
    (private / "env").mkdir(parents=True)
    write_extravars(private / "env" / "extravars", extravars)
    result = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(REPO),
        playbook=playbook,
        inventory=str(REPO / "inventories" / "local"),
        # the execution environment's ansible-playbook is this venv's
        envvars={"ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"), "ANSIBLE_NOCOLOR": "1",
                 "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", ""))},
        quiet=True,
    )
    return result


@pytest.fixture
def clean_namespace():
    kubectl("delete", "namespace", NS, "--wait=true", "--timeout=90s", check=False)
    yield
    kubectl("delete", "namespace", NS, "--wait=true", "--timeout=90s", check=False)


def test_survey_answers_as_strings_deploy_rerun_and_undeploy(tmp_path, clean_namespace):
    deploy = survey_answers("deploy", {"embedserve_namespace": NS, "embedserve_replicas": "2",
                                       "embedserve_openshift_ai": "true", "namespace_cache_pvc_size": "10Gi"})
    assert all(isinstance(v, str) for v in deploy.values())
    first = run_like_awx(tmp_path, "site.yml", deploy)
    assert first.status == "successful", first.stdout.read()[-3000:]
    assert first.stats["changed"]["localhost"] > 0

    for name in ("minilm", "granite", "msmarco"):
        deployment = kubectl_json("-n", NS, "get", "deployment", name)
        assert deployment["spec"]["replicas"] == 2
        assert deployment["status"]["readyReplicas"] == 2
        assert kubectl("-n", NS, "get", "poddisruptionbudget", name, check=False).returncode == 0
    labels = kubectl_json("get", "namespace", NS)["metadata"]["labels"]
    assert labels["opendatahub.io/dashboard"] == "true"
    assert kubectl_json("-n", NS, "get", "pvc", "vllm-model-cache")["spec"]["resources"]["requests"]["storage"] == "10Gi"

    again = run_like_awx(tmp_path, "site.yml", deploy)
    assert again.status == "successful"
    assert again.stats["changed"].get("localhost", 0) == 0

    undeploy = survey_answers("undeploy", {"embedserve_namespace": NS, "embedserve_openshift_ai": "false",
                                           "namespace_cache_pvc_delete": "false"})
    removed = run_like_awx(tmp_path, "playbooks/undeploy.yml", undeploy)
    assert removed.status == "successful", removed.stdout.read()[-3000:]
    assert kubectl("-n", NS, "get", "deployment", "minilm", check=False).returncode != 0
    assert kubectl("-n", NS, "get", "pvc", "vllm-model-cache", check=False).returncode == 0

    status = run_like_awx(tmp_path, "playbooks/status.yml", survey_answers("status", {"embedserve_namespace": NS}))
    assert status.status == "successful"
    messages = [e["event_data"]["res"].get("msg") for e in status.events
                if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == "Show the status"]
    assert messages == ["nothing deployed in %s" % NS]


def test_a_bad_survey_answer_fails_before_any_change(tmp_path, clean_namespace):
    answers = survey_answers("deploy", {"embedserve_namespace": NS, "embedserve_image": "docker.io/vllm/vllm-openai:latest"})
    run = run_like_awx(tmp_path, "site.yml", answers)
    assert run.status == "failed"
    failures = [e["event_data"]["res"].get("msg", "") for e in run.events if e.get("event") == "runner_on_failed"]
    assert any("moving 'latest' tag" in str(message) for message in failures)
    assert run.stats["changed"].get("localhost", 0) == 0
    assert kubectl("get", "namespace", NS, check=False).returncode != 0
