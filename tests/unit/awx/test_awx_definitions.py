"""The AWX survey specs and the execution environment definition."""

import json
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
        if question["type"] == "multiplechoice":
            assert question["default"] in question["choices"]
            assert all(isinstance(choice, str) for choice in question["choices"])
        if question["type"] == "integer":
            assert question["min"] <= question["default"] <= question["max"]
        # every answer must reach a role or playbook, or the question is a lie
        assert question["variable"] in SOURCES, question["variable"]


def test_password_answers_are_never_logged():
    specs = [q for p in SURVEYS for q in json.loads(p.read_text())["spec"] if q["type"] == "password"]
    assert specs, "the deploy survey asks for the Hugging Face token"
    for question in specs:
        role_specs = "\n".join(p.read_text() for p in REPO.glob("roles/*/meta/argument_specs.yml"))
        option = question["variable"].replace("embedserve_", "namespace_")
        assert option in role_specs
        block = role_specs[role_specs.index(option + ":"):][:400]
        assert "no_log: true" in block


def test_execution_environment_builds_a_context_with_the_collection(tmp_path):
    build = tmp_path / "build"
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--output-path", str(build), str(REPO)],
                   check=True, capture_output=True)
    tarball = build / "embedserve-vllm-1.0.0.tar.gz"
    assert tarball.exists()
    listing = subprocess.run(["tar", "tzf", str(tarball)], check=True, capture_output=True, text=True).stdout
    assert "roles/raw_deployment/tasks/main.yml" in listing
    assert "collections/" not in listing  # the self-link is never packed
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    definition["additional_build_files"][0]["src"] = str(tarball)
    ee_file = tmp_path / "execution-environment.yml"
    ee_file.write_text(yaml.safe_dump(definition))
    builder = Path(sys.executable).parent / "ansible-builder"
    subprocess.run([str(builder), "create", "-f", str(ee_file), "--context", str(tmp_path / "context")],
                   check=True, capture_output=True)
    containerfile = (tmp_path / "context" / "Dockerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    requirements = (tmp_path / "context" / "_build" / "requirements.yml").read_text()
    assert "embedserve-vllm-1.0.0.tar.gz" in requirements
    python = (tmp_path / "context" / "_build" / "requirements.txt").read_text()
    assert "ansible==12.3.0" in python and "kubernetes==34.1.0" in python
