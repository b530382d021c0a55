"""Fixtures for tests against the local control plane (make cluster).

Nothing here fakes the cluster: a missing or stopped cluster fails the tests.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KUBECONFIG = Path(os.environ.get("KUBECONFIG", REPO / ".cluster" / "kubeconfig"))
KUBECTL = REPO / ".cluster" / "bin" / "kubectl"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def kubectl(*args, check=True, stdin=None):
    """Run the cluster's kubectl; return the CompletedProcess."""
    proc = subprocess.run([str(KUBECTL), "--kubeconfig", str(KUBECONFIG), *args],
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), proc.stderr))
    return proc


def kubectl_json(*args):
    return json.loads(kubectl(*args, "-o", "json").stdout)


class PlaybookRun:
    """Result of one ansible-playbook run with the json callback."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        try:
            self.data = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError as exc:
            raise AssertionError("no JSON from ansible-playbook:\n%s\n%s" % (proc.stdout, proc.stderr)) from exc
        self.stats = self.data["stats"].get("localhost", {})

    @property
    def changed(self):
        return self.stats.get("changed", 0)

    @property
    def failed(self):
        return self.stats.get("failures", 0)

    def tasks(self):
        for play in self.data["plays"]:
            for task in play["tasks"]:
                yield task["task"]["name"], task["hosts"].get("localhost", {})

    def failure_messages(self):
        """Messages of failed tasks, including failed loop items."""
        messages = []
        for _name, res in self.tasks():
            if res.get("failed"):
                messages.append(res.get("msg", ""))
                messages += [item.get("msg", "") for item in res.get("results", []) if item.get("failed")]
        return messages

    def results_of(self, task_name):
        """Results of the tasks named task_name (with or without the 'role : ' prefix)."""
        return [res for name, res in self.tasks() if name == task_name or name.endswith(" " + task_name)]

    def changed_tasks(self):
        return [name for name, res in self.tasks() if res.get("changed")]


def run_playbook(playbook="site.yml", *args, extra_vars=None, env=None):
    cmd = [str(VENV_BIN / "ansible-playbook"), playbook, *args]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    run_env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
                   ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_NOCOLOR="1")
    run_env.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env=run_env, check=False)
    return PlaybookRun(proc)


@pytest.fixture(scope="session", autouse=True)
def cluster_ready():
    assert KUBECONFIG.exists(), "no kubeconfig at %s: run `make cluster` first" % KUBECONFIG
    kubectl("get", "--raw", "/readyz")


@pytest.fixture
def namespace_factory():
    """Create throw-away namespaces and delete them after the test."""
    created = []

    def make(name, labels=None):
        kubectl("create", "namespace", name)
        if labels:
            kubectl("label", "namespace", name, *("%s=%s" % kv for kv in labels.items()))
        created.append(name)
        return name

    yield make
    for name in created:
        kubectl("delete", "namespace", name, "--wait=false", check=False)
