"""MiniLM served by real vLLM in a pod on the real node, deployed and verified by the collection's playbooks.

site.yml deploys hack/node/minilm-cpu.yml (raw mode, device: cpu, Pod
Security restricted, arbitrary UID, read-only root) onto the real node, whose
containerd holds the locally built vLLM CPU image under embedserve_cpu_image;
playbooks/verify.yml then checks it through a port-forward to its Service on
127.0.0.1 (384-dimensional normalised embeddings, max_model_len 256). The
pod's time to Ready is compared with vLLM's own "Application startup
complete": the probes' period is the only gap allowed.
"""

import json
import os
import re
import subprocess
from datetime import datetime

import pytest

from tests.node.conftest import ARBITRARY_UID, CPU_IMAGE, KUBECONFIG, NODE, REPO, STATE, VENV_BIN, kubectl, kubectl_json

pytestmark = pytest.mark.node

NAMESPACE = "vllm-real-node"
VARS = REPO / "hack" / "node" / "minilm-cpu.yml"
PROBE_PERIOD = 10
TIMINGS = REPO / ".cache" / "node-timings.json"


def playbook(path, *extra):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", PATH="%s:%s:%s" % (STATE / "bin", VENV_BIN, os.environ["PATH"]),
               EMBEDSERVE_CLUSTER_STATE=str(STATE))
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", path, "-e", "@%s" % VARS,
                           "-e", json.dumps({"embedserve_kubeconfig": str(KUBECONFIG)}), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)


def stamp(text):
    """An RFC 3339 time as the API and `kubectl logs --timestamps` write it (nanoseconds cut to micro)."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    assert match, text
    fraction = (match.group(2) or ".0")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + fraction + zone)


def _remove():
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s", timeout=150, check=False)
    kubectl("delete", "pv", "-l", "app.kubernetes.io/managed-by=embedserve-node", "--timeout=60s", check=False)


@pytest.fixture(scope="module")
def deployed(real_node, request):
    _remove()
    # also when the deployment itself fails: the real node runs one vLLM pod at a time
    request.addfinalizer(_remove)
    volume = subprocess.run([str(REPO / "hack" / "node" / "model-volume.sh"), NAMESPACE, "vllm-model-cache", "20Gi"],
                            env=dict(os.environ, EMBEDSERVE_CLUSTER_STATE=str(STATE)), capture_output=True, text=True,
                            timeout=300, check=False)
    assert volume.returncode == 0, volume.stderr
    site = playbook("site.yml")
    assert site.returncode == 0, site.stdout[-6000:] + site.stderr[-2000:]
    return site


def test_the_pod_runs_real_vllm_on_the_real_node_as_restricted_requires(deployed):
    (pod,) = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/instance=minilm-cpu")["items"] or [None]
    assert pod["spec"]["nodeName"] == NODE
    container = pod["spec"]["containers"][0]
    assert container["image"] == CPU_IMAGE
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == ARBITRARY_UID
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    env = dict((e["name"], e.get("value")) for e in container["env"])
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    labels = kubectl_json("get", "namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_verify_passes_through_the_service(deployed):
    verify = playbook("playbooks/verify.yml", "-e", "verify_port_forward=true")
    assert verify.returncode == 0, verify.stdout[-6000:] + verify.stderr[-2000:]
    assert "384" in verify.stdout and "256" in verify.stdout, verify.stdout[-4000:]


def test_time_to_ready_is_vllm_startup_plus_at_most_the_probe_period(deployed):
    (pod,) = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/instance=minilm-cpu")["items"]
    created = stamp(pod["metadata"]["creationTimestamp"])
    ready = stamp(next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["lastTransitionTime"])
    started = stamp(pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"])
    logs = kubectl("-n", NAMESPACE, "logs", pod["metadata"]["name"], "--timestamps").stdout
    line = next(ln for ln in logs.splitlines() if "Application startup complete" in ln)
    complete = stamp(line.split(" ", 1)[0])
    timings = {
        "pod_created_to_container_started_s": (started - created).total_seconds(),
        "container_started_to_vllm_startup_complete_s": (complete - started).total_seconds(),
        "vllm_startup_complete_to_ready_s": (ready - complete).total_seconds(),
        "pod_created_to_ready_s": (ready - created).total_seconds(),
        "probe_period_s": PROBE_PERIOD,
    }
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(timings, indent=2) + "\n")
    print(json.dumps(timings, indent=2))
    # The startup probe (then the readiness probe) polls every 10 s: Ready
    # follows vLLM's own readiness by at most two periods (plus API latency),
    # never precedes it.
    assert 0 <= timings["vllm_startup_complete_to_ready_s"] <= 2 * PROBE_PERIOD + 5, timings
