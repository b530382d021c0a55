"""site.yml and undeploy.yml run the way AWX runs them: through ansible-runner,
with survey answers written to env/extravars as AWX writes them (strings from
text and multiple-choice questions, tagged !unsafe), against the local cluster."""

import base64
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
    """AWX's extravars for a survey: an answer per question, typed like AWX types them.

    answers are keyed by the variable the answer sets (embedserve_namespace); the survey asks for it as
    survey_<variable>. A question left empty is sent as "" (AWX versions differ: "", null or nothing; the
    playbooks treat all three as "keep the inventory's value").
    """
    spec = json.loads((SURVEYS / ("%s.json" % survey)).read_text())["spec"]
    values = {}
    for question in spec:
        target = question["variable"][len("survey_"):]
        value = answers.get(target, question.get("default", ""))
        if question["type"] != "integer" and value is not None:
            # an integer question gives an int, but a launch-time extra var or a text question gives a string
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

    undeploy = survey_answers("undeploy", {"embedserve_namespace": NS, "namespace_cache_pvc_delete": "false"})
    removed = run_like_awx(tmp_path, "playbooks/undeploy.yml", undeploy)
    assert removed.status == "successful", removed.stdout.read()[-3000:]
    assert kubectl("-n", NS, "get", "deployment", "minilm", check=False).returncode != 0
    assert kubectl("-n", NS, "get", "pvc", "vllm-model-cache", check=False).returncode == 0

    status = run_like_awx(tmp_path, "playbooks/status.yml", survey_answers("status", {"embedserve_namespace": NS}))
    assert status.status == "successful"
    messages = [e["event_data"]["res"].get("msg") for e in status.events
                if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == "Show the status"]
    assert messages == ["nothing deployed in %s" % NS]


def test_empty_survey_answers_keep_the_inventory(tmp_path, clean_namespace):
    # only the namespace is answered: mode, version, image, replicas, OpenShift AI and the claim size come from
    # inventories/local (20Gi there, 50Gi the role default), not from survey defaults
    deploy = survey_answers("deploy", {"embedserve_namespace": NS})
    assert deploy["survey_namespace_cache_pvc_size"] == "" and deploy["survey_embedserve_default_mode"] == ""
    deploy["survey_embedserve_replicas"] = None  # AWX sends an unanswered integer as null
    run = run_like_awx(tmp_path, "site.yml", deploy)
    assert run.status == "successful", run.stdout.read()[-3000:]
    assert kubectl_json("-n", NS, "get", "pvc", "vllm-model-cache")["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert kubectl_json("get", "namespace", NS)["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
    assert kubectl_json("-n", NS, "get", "deployment", "minilm")["spec"]["replicas"] == 1


def test_a_bad_survey_answer_fails_before_any_change(tmp_path, clean_namespace):
    answers = survey_answers("deploy", {"embedserve_namespace": NS, "embedserve_image": "docker.io/vllm/vllm-openai:latest"})
    run = run_like_awx(tmp_path, "site.yml", answers)
    assert run.status == "failed"
    failures = [e["event_data"]["res"].get("msg", "") for e in run.events if e.get("event") == "runner_on_failed"]
    assert any("moving 'latest' tag" in str(message) for message in failures)
    assert run.stats["changed"].get("localhost", 0) == 0
    assert kubectl("get", "namespace", NS, check=False).returncode != 0


# --- AWX's OpenShift/Kubernetes bearer-token credential: K8S_AUTH_* only ---

SA_NAMESPACE = "it-awx-credential"
# its own namespace: the survey tests above may run at the same time elsewhere
CRED_NS = "it-awx-cred"


def _local_inventory_without_kubeconfig(path):
    """inventories/local as AWX would source it, minus the kubeconfig: the cluster comes from K8S_AUTH_*."""
    import yaml

    values = {}
    for part in sorted((REPO / "inventories" / "local" / "group_vars" / "all").glob("*.yml")):
        values.update(yaml.safe_load(part.read_text()))
    values.pop("embedserve_kubeconfig")
    values = json.loads(json.dumps(values).replace("{{ inventory_dir }}/../..", str(REPO)))
    host = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    path.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": host}, "vars": values}}))
    return path


@pytest.fixture
def clean_credential_namespace():
    kubectl("delete", "namespace", CRED_NS, "--wait=true", "--timeout=90s", check=False)
    yield
    kubectl("delete", "namespace", CRED_NS, "--wait=true", "--timeout=90s", check=False)


@pytest.fixture
def credential_env(tmp_path):
    """The environment AWX injects for a bearer-token credential with verify_ssl and a CA:
    a service-account token, the API URL and the CA file; no kubeconfig anywhere."""
    kubectl("delete", "namespace", SA_NAMESPACE, "--wait=true", "--timeout=90s", check=False)
    kubectl("create", "namespace", SA_NAMESPACE)
    kubectl("-n", SA_NAMESPACE, "create", "serviceaccount", "awx")
    kubectl("create", "clusterrolebinding", "it-awx-credential", "--clusterrole=cluster-admin",
            "--serviceaccount=%s:awx" % SA_NAMESPACE)
    token = kubectl("-n", SA_NAMESPACE, "create", "token", "awx", "--duration=1h").stdout.strip()
    config = kubectl_json("config", "view", "--raw")
    cluster = config["clusters"][0]["cluster"]
    ca_file = tmp_path / "ca.crt"  # AWX writes the credential's CA into a file of the job's private dir
    if "certificate-authority-data" in cluster:
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        ca_file.write_bytes(Path(cluster["certificate-authority"]).read_bytes())
    env = {"K8S_AUTH_HOST": cluster["server"], "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "True",
           "K8S_AUTH_SSL_CA_CERT": str(ca_file),
           # nothing to fall back on: a kubeconfig read anywhere would fail the run
           "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"), "HOME": str(tmp_path)}
    yield env
    kubectl("delete", "clusterrolebinding", "it-awx-credential", check=False)
    kubectl("delete", "namespace", SA_NAMESPACE, "--wait=false", check=False)


def run_with_credential(tmp_path, playbook, extravars, env):
    private = tmp_path / ("runner-cred-%s" % Path(playbook).stem)
    if private.exists():
        shutil.rmtree(private)
    (private / "env").mkdir(parents=True)
    write_extravars(private / "env" / "extravars", extravars)
    envvars = {"ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"), "ANSIBLE_NOCOLOR": "1",
               "PATH": "%s:%s:%s" % (VENV_BIN, REPO / ".cluster" / "bin", os.environ.get("PATH", ""))}
    envvars.update(env)
    return ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO), playbook=playbook,
                              inventory=str(_local_inventory_without_kubeconfig(tmp_path / "inventory.yml")),
                              envvars=envvars, quiet=True)


def _task_results(run, task):
    return [e["event_data"]["res"] for e in run.events
            if e.get("event") in ("runner_on_ok", "runner_on_failed") and e["event_data"].get("task") == task]


def test_the_credential_environment_alone_deploys_and_verifies(tmp_path, clean_credential_namespace, credential_env):
    deploy = survey_answers("deploy", {"embedserve_namespace": CRED_NS, "embedserve_openshift_ai": "false"})
    first = run_with_credential(tmp_path, "site.yml", deploy, credential_env)
    assert first.status == "successful", first.stdout.read()[-3000:]
    assert kubectl_json("-n", CRED_NS, "get", "deployment", "minilm")["status"]["readyReplicas"] == 1
    # the rollout wait reached the cluster with the same credential and saw the pods
    waited = _task_results(first, "Wait for the Deployments to roll out")
    assert waited and waited[0]["states"]["minilm"].startswith("rolled out")

    # verify: one model at an explicit endpoint (a survey string of JSON), the others through
    # kubectl port-forwards that authenticate with a kubeconfig made from K8S_AUTH_*
    answers = survey_answers("verify", {"embedserve_namespace": CRED_NS, "verify_routes": "false",
                                        "verify_port_forward": "true",
                                        "verify_endpoints": json.dumps({"minilm": "http://127.0.0.1:9"})})
    checked = run_with_credential(tmp_path, "playbooks/verify.yml", dict(answers, verify_fail="false"),
                                  credential_env)
    assert checked.status == "successful", checked.stdout.read()[-3000:]
    report = _task_results(checked, "Keep the report for later tasks")[0]["ansible_facts"]["verify_report"]
    endpoints = dict((e["name"], e) for e in report["endpoints"])
    assert endpoints["minilm"]["url"] == "http://127.0.0.1:9"
    # kwok runs no containers, so a port-forward cannot connect to a pod; what matters is that kubectl
    # got past the API server with the token (no "Unauthorized", no kubeconfig lookup)
    forwarded = [e for name, e in endpoints.items() if name != "minilm"]
    assert forwarded
    for endpoint in forwarded:
        details = " ".join(check.get("detail") or "" for check in endpoint["checks"])
        print(endpoint["name"], endpoint["url"], details)
        # kubectl listened (a local URL), or its own message about the pod: either way it was authorised
        assert endpoint["url"].startswith("http://127.0.0.1:") or "port-forward to svc/%s" % endpoint["name"] in details
        for sign_of_no_login in ("Unauthorized", "Forbidden", "localhost:8080", "certificate", "no configuration"):
            assert sign_of_no_login not in details
    text = checked.stdout.read()
    assert "Unauthorized" not in text and "no-such-kubeconfig" not in text
    assert "localhost:8080" not in text
