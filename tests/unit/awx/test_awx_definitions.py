"""The AWX survey specs and the execution environment definition."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SURVEYS = sorted((REPO / "awx" / "surveys").glob("*.json"))
QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
SOURCES = "\n".join(p.read_text() for p in list(REPO.glob("roles/*/defaults/main.yml"))
                    + list(REPO.glob("roles/*/tasks/*.yml")) + list(REPO.glob("playbooks/*.yml")))


def test_every_job_template_has_a_survey():
    config = yaml.safe_load((REPO / "playbooks" / "awx_config.yml").read_text())[0]
    templates = config["vars"]["awx_job_templates"]
    assert sorted(t["name"] for t in templates) == ["deploy", "status", "undeploy", "verify"]
    for template in templates:
        assert (REPO / "awx" / "surveys" / ("%s.json" % template["survey"])).exists()
        assert (REPO / template["playbook"]).exists()


@pytest.mark.parametrize("path", SURVEYS, ids=lambda p: p.stem)
def test_survey_questions_are_valid_and_used(path):
    survey = json.loads(path.read_text())
    assert survey["name"] and survey["description"]
    variables = [q["variable"] for q in survey["spec"]]
    assert len(variables) == len(set(variables))
    for question in survey["spec"]:
        assert question["type"] in QUESTION_TYPES
        assert question["question_name"]
        # an empty answer keeps the inventory's value: no question is required or has a value of its own
        assert question["variable"].startswith("survey_") and question["required"] is False
        assert question.get("default", "") == ""
        if question["type"] == "multiplechoice":
            assert "" in question["choices"]
            assert all(isinstance(choice, str) for choice in question["choices"])
        # every answer must reach a role or playbook, or the question is a lie
        assert question["variable"][len("survey_"):] in SOURCES, question["variable"]


def test_password_answers_are_never_logged():
    specs = [q for p in SURVEYS for q in json.loads(p.read_text())["spec"] if q["type"] == "password"]
    assert specs, "the deploy survey asks for the Hugging Face token"
    for question in specs:
        role_specs = "\n".join(p.read_text() for p in REPO.glob("roles/*/meta/argument_specs.yml"))
        option = question["variable"][len("survey_"):].replace("embedserve_", "namespace_")
        assert option in role_specs
        block = role_specs[role_specs.index(option + ":"):][:400]
        assert "no_log: true" in block


def _builder(*args, cwd):
    builder = Path(sys.executable).parent / "ansible-builder"
    return subprocess.run([str(builder), *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_execution_environment_refuses_a_context_without_the_collection_tarball(tmp_path):
    """`ansible-builder create` (the real one from PyPI) before the tarball was built fails loudly."""
    (tmp_path / "execution-environment.yml").write_text((REPO / "execution-environment.yml").read_text())
    created = _builder("create", "-f", "execution-environment.yml", "--context", "context", cwd=tmp_path)
    assert created.returncode != 0, created.stdout
    output = created.stdout + created.stderr
    assert "build/requirements.yml does not exist" in output
    assert "Complete!" not in output
    assert not (tmp_path / "context" / "Dockerfile").exists()


def test_execution_environment_builds_a_context_with_the_collection(tmp_path):
    script = subprocess.run([str(REPO / "hack" / "ee-context.sh"), str(tmp_path)], capture_output=True, text=True,
                            check=False, env=dict(os.environ, VIRTUAL_ENV=str(Path(sys.executable).parent.parent)))
    assert script.returncode == 0, script.stderr
    tarball = tmp_path / "build" / "embedserve-vllm-1.0.0.tar.gz"
    listing = subprocess.run(["tar", "tzf", str(tarball)], check=True, capture_output=True, text=True).stdout
    assert "roles/raw_deployment/tasks/main.yml" in listing
    for ignored in ("collections/", "tests/", "molecule/", "hack/", "Makefile", "build/"):
        assert not any(name.startswith(ignored) for name in listing.split()), ignored
    context = tmp_path / "build" / "context"
    containerfile = (context / "Dockerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    # galaxy.yml's dependency constraints apply: nothing switches dependency resolution off
    assert "--no-deps" not in containerfile
    assert (context / "_build" / "collection" / "embedserve-vllm-1.0.0.tar.gz").exists()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert requirements[0] == {"name": "/build/collection/embedserve-vllm-1.0.0.tar.gz", "type": "file"}
    assert {"name": "kubernetes.core", "version": "6.2.0"} in requirements
    python = (context / "_build" / "requirements.txt").read_text()
    assert "kubernetes==34.1.0" in python and "ansible==" not in python
    # the interpreter is installed by the build, so the path the build uses exists in the image
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    interpreter = definition["dependencies"]["python_interpreter"]
    assert interpreter["python_path"] == "/usr/bin/%s" % interpreter["package_system"]
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    # verify's port-forward needs kubectl in the image, checked against its published digest
    assert "sha256sum --check" in containerfile and "/usr/local/bin/kubectl" in containerfile


def test_the_execution_environment_docs_name_only_what_exists():
    text = (REPO / "execution-environment.yml").read_text() + (REPO / "docs" / "awx.md").read_text()
    assert "make ee-context" not in text
    assert (REPO / "hack" / "ee-context.sh").exists()
    assert "2.19" in (REPO / "docs" / "awx.md").read_text()


def _awx_config(*extra_vars):
    """Run awx_config.yml against a controller address where nothing listens (127.0.0.1:9)."""
    playbook = Path(sys.executable).parent / "ansible-playbook"
    args = [str(playbook), "playbooks/awx_config.yml", "-e", "awx_k8s_host=https://api.example:6443",
            "-e", "awx_k8s_bearer_token=t0ken", "-e", "awx_controller_host=http://127.0.0.1:9"]
    for value in extra_vars:
        args += ["-e", value]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120, env=env, check=False)
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    failed = [(task["task"]["name"], task["hosts"]["localhost"].get("msg", ""))
              for task in data["plays"][0]["tasks"] if task["hosts"].get("localhost", {}).get("failed")]
    return proc.returncode, failed


def test_a_bearer_token_credential_that_would_not_verify_tls_is_refused():
    """AWX injects K8S_AUTH_VERIFY_SSL=False when verify_ssl has no CA: refuse before any AWX call."""
    rc, failed = _awx_config()
    assert rc != 0
    assert failed[0][0] == "Check the certificate settings"
    assert "awx_k8s_ca_cert is empty" in failed[0][1]


@pytest.mark.parametrize("extra", [["awx_k8s_verify_ssl=false"], ["awx_k8s_ca_cert=-----BEGIN CERTIFICATE-----"]])
def test_a_ca_or_an_explicit_no_verify_passes_the_checks(extra):
    rc, failed = _awx_config(*extra)
    assert rc != 0  # no controller listens: the first AWX call fails, after the checks passed
    assert failed[0][0] == "Register the execution environment"
