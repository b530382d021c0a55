"""Fixtures for the real-node tests: a kubelet node (hack/node/up.sh) in the local cluster whose pods run.

Opt-in: EMBEDSERVE_REAL_NODE=1 (``make node-test`` sets it). The cluster is
the one EMBEDSERVE_CLUSTER_STATE names (default .cluster, as for
hack/cluster/up.sh); the fixtures start the node and import the vLLM CPU image
(both idempotent and cached) but never start or stop the cluster.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.node.conftest`, `tests.support`

from tests.support.collection_path import make_collection_importable  # noqa: E402

make_collection_importable()

STATE = Path(os.environ.get("EMBEDSERVE_CLUSTER_STATE", REPO / ".cluster"))
KUBECONFIG = STATE / "kubeconfig"
KUBECTL = STATE / "bin" / "kubectl"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
NODE = os.environ.get("EMBEDSERVE_NODE_NAME", "real-node")
NODE_IP = os.environ.get("EMBEDSERVE_NODE_IP", "10.250.0.1")
POD_CIDR_PREFIX = "10.244.7."
TAINT_KEY = "embedserve.io/real-node"
CPU_IMAGE = os.environ.get("EMBEDSERVE_CPU_IMAGE", "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.32.0")
ARBITRARY_UID = 1000770000
ON_NODE = {"node_selector": {TAINT_KEY: "true"},
           "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]}

pytestmark = pytest.mark.skipif(os.environ.get("EMBEDSERVE_REAL_NODE") != "1",
                                reason="real-node tests are opt-in: EMBEDSERVE_REAL_NODE=1 (make node-test)")


def pytest_configure(config):
    config.addinivalue_line("markers", "node: needs the real kubelet node (hack/node/up.sh) in the local cluster")


def kubectl(*args, check=True, stdin=None, timeout=120):
    proc = subprocess.run([str(KUBECTL), "--kubeconfig", str(KUBECONFIG), *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), proc.stderr))
    return proc


def kubectl_json(*args):
    return json.loads(kubectl(*args, "-o", "json").stdout)


def wait_for(predicate, timeout, what, interval=1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def node_env():
    return dict(os.environ, EMBEDSERVE_CLUSTER_STATE=str(STATE))


@pytest.fixture(scope="session")
def real_node():
    """The node Ready, with the vLLM CPU image imported (both cached after the first run)."""
    if not KUBECONFIG.exists():
        pytest.fail("no cluster at %s: start it with hack/cluster/up.sh (same EMBEDSERVE_CLUSTER_STATE)" % STATE)
    for script in ("up.sh", "vllm-image.sh"):
        proc = subprocess.run([str(REPO / "hack" / "node" / script)], env=node_env(), capture_output=True,
                              text=True, timeout=3600, check=False)
        assert proc.returncode == 0, "hack/node/%s failed:\n%s" % (script, proc.stderr[-4000:])
    return kubectl_json("get", "node", NODE)


@pytest.fixture
def namespace(request):
    """A fresh namespace enforcing Pod Security restricted, deleted afterwards."""
    name = "node-%s-%d" % (request.node.name.replace("_", "-")[5:30].strip("-"), os.getpid() % 10000)
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)
