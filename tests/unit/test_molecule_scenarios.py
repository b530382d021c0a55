"""Molecule scenarios: each one's namespaces are written once (its host_vars), and a
missing KUBECONFIG stops a scenario with a message that says what to do."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(path.parent for path in REPO.glob("molecule/*/molecule.yml"))
NAMESPACE_VARS = ("embedserve_namespace", "embedserve_dashboard_namespace", "namespace_name")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_namespaces_are_written_once(scenario):
    host_vars = yaml.safe_load((scenario / "host_vars" / "localhost.yml").read_text())
    names = [host_vars[var] for var in NAMESPACE_VARS if var in host_vars]
    assert names, "the scenario's namespace belongs in its host_vars"
    for path in scenario.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".yml") and path.parent.name != "host_vars":
            text = path.read_text()
            for name in names:
                assert name not in text, "%s repeats %s" % (path.relative_to(REPO), name)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_converge_and_cleanup_check_the_cluster_first(scenario):
    for playbook in ("converge.yml", "cleanup.yml"):
        plays = yaml.safe_load((scenario / playbook).read_text())
        assert plays[0]["ansible.builtin.import_playbook"] == "../shared/check_cluster.yml"


@pytest.mark.parametrize("kubeconfig, expected", [
    ("", "KUBECONFIG is not set"),
    ("/nonexistent/kubeconfig", "KUBECONFIG names /nonexistent/kubeconfig, which does not exist"),
])
def test_a_missing_kubeconfig_is_explained(kubeconfig, expected):
    playbook = Path(sys.executable).parent / "ansible-playbook"
    env = dict(os.environ, KUBECONFIG=kubeconfig, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run([str(playbook), "-i", "localhost,", "-c", "local",
                           "-e", "embedserve_kubeconfig=%s" % kubeconfig, "molecule/shared/check_cluster.yml"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode != 0
    result = json.loads(proc.stdout[proc.stdout.index("{"):])["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["msg"].startswith(expected)
    assert "make molecule" in result["msg"]
