"""MiniLM served by real vLLM in pods on the real node, deployed and verified by the collection's playbooks.

site.yml deploys the inventory inventories/local-real-node (device: cpu, Pod
Security restricted, arbitrary UID, read-only root) onto the real node, whose
containerd holds the locally built vLLM CPU image under embedserve_cpu_image:
MiniLM once as a raw Deployment and once as an InferenceService that the real
KServe controller turns into its predictor Deployment, reading the plain
folder on the pre-seeded claim at /mnt/models. playbooks/verify.yml then
checks both through port-forwards to their Services on 127.0.0.1
(384-dimensional normalised embeddings, max_model_len 256). Each pod's time
to Ready is compared with vLLM's own "Application startup complete": the
probes' period is the only gap allowed.
"""

import json
import os
import re
import subprocess
from datetime import datetime

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import PROBE_PERIOD_SECONDS
from tests.node.conftest import ARBITRARY_UID, CPU_IMAGE, KUBECONFIG, NODE, REPO, STATE, VENV_BIN, kubectl, kubectl_json

pytestmark = pytest.mark.node

NAMESPACE = "vllm-real-node"
INVENTORY = "inventories/local-real-node"
# pod label selecting each model's serving pod: raw Deployment, KServe predictor
PODS = {"minilm-cpu": "app.kubernetes.io/instance=minilm-cpu",
        "minilm-cpu-kserve": "serving.kserve.io/inferenceservice=minilm-cpu-kserve"}
TIMINGS = REPO / ".cache" / "node-timings.json"


def playbook(path, *extra):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", PATH="%s:%s:%s" % (STATE / "bin", VENV_BIN, os.environ["PATH"]),
               EMBEDSERVE_CLUSTER_STATE=str(STATE))
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", INVENTORY, path,
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


def serving_pod(model):
    pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", PODS[model])["items"]
    assert len(pods) == 1, "%s: %d pods" % (model, len(pods))
    return pods[0]


@pytest.mark.parametrize("model", sorted(PODS))
def test_the_pod_runs_real_vllm_on_the_real_node_as_restricted_requires(deployed, model):
    pod = serving_pod(model)
    assert pod["spec"]["nodeName"] == NODE
    (container,) = [c for c in pod["spec"]["containers"] if c["image"] == CPU_IMAGE]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # the raw Deployment sets the UID on the pod, the KServe runtime on its container
    uid = container["securityContext"].get("runAsUser", pod["spec"].get("securityContext", {}).get("runAsUser"))
    assert uid == ARBITRARY_UID
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    env = dict((e["name"], e.get("value")) for e in container["env"])
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    labels = kubectl_json("get", "namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_kserve_mounts_the_claim_folder_at_mnt_models_without_a_storage_initializer(deployed):
    """KServe 0.20 mounts pvc://<claim>/<path> into the container with subPath (no download init container)."""
    pod = serving_pod("minilm-cpu-kserve")
    assert not pod["spec"].get("initContainers")
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "kserve-container"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/mnt/models"]
    assert mount["subPath"] == "models/sentence-transformers/all-MiniLM-L6-v2"
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"]["claimName"] == "vllm-model-cache"
    isvc = kubectl_json("-n", NAMESPACE, "get", "inferenceservice", "minilm-cpu-kserve")
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in isvc["status"]["conditions"]), isvc["status"]


def test_verify_passes_through_the_services(deployed):
    verify = playbook("playbooks/verify.yml")
    assert verify.returncode == 0, verify.stdout[-6000:] + verify.stderr[-2000:]
    table = verify.stdout
    assert "VERIFY PASSED: 2/2 models ok" in table, table[-4000:]
    for model in PODS:
        rows = "\n".join(ln for ln in table.splitlines() if ln.lstrip(" |").startswith(model + " "))
        assert "384" in rows and "256" in rows, (model, table[-4000:])


def test_benchmark_loads_both_models_through_its_own_port_forwards(deployed, tmp_path):
    """The benchmark role reaches the models as verify does (endpoint_targets.py): no Route here, so the
    inventory's benchmark_port_forward has it start a port-forward per Service, load it, and stop it."""
    bench = playbook("playbooks/benchmark.yml", "-e", json.dumps({
        "benchmark_duration": 3, "benchmark_warmup": 1, "benchmark_concurrency": 2,
        "benchmark_output_dir": str(tmp_path), "benchmark_plot": False}))
    assert bench.returncode == 0, bench.stdout[-6000:] + bench.stderr[-2000:]
    assert "svc/minilm-cpu:8000" in bench.stdout
    assert "svc/minilm-cpu-kserve-predictor:80" in bench.stdout
    for model in PODS:
        report = json.loads((tmp_path / ("%s-embeddings.json" % model)).read_text())
        [target] = report["targets"]
        assert target["requests"] > 0 and target["errors"] == 0, (model, target)
    # the port-forwards are gone with the run
    leftover = subprocess.run(["pgrep", "-f", "port-forward --namespace vllm-real-node"], capture_output=True,
                              text=True, check=False)
    assert leftover.stdout.strip() == "", leftover.stdout


def test_time_to_ready_is_vllm_startup_plus_at_most_the_probe_period(deployed):
    timings = {}
    for model in sorted(PODS):
        pod = serving_pod(model)
        created = stamp(pod["metadata"]["creationTimestamp"])
        ready = stamp(next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["lastTransitionTime"])
        (status,) = [c for c in pod["status"]["containerStatuses"] if c["image"].endswith(CPU_IMAGE.split("/")[-1])]
        started = stamp(status["state"]["running"]["startedAt"])
        logs = kubectl("-n", NAMESPACE, "logs", pod["metadata"]["name"], "-c", status["name"], "--timestamps").stdout
        line = next(ln for ln in logs.splitlines() if "Application startup complete" in ln)
        complete = stamp(line.split(" ", 1)[0])
        timings[model] = {
            "pod_created_to_container_started_s": (started - created).total_seconds(),
            "container_started_to_vllm_startup_complete_s": (complete - started).total_seconds(),
            "vllm_startup_complete_to_ready_s": (ready - complete).total_seconds(),
            "pod_created_to_ready_s": (ready - created).total_seconds(),
            "probe_period_s": PROBE_PERIOD_SECONDS,
        }
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(timings, indent=2) + "\n")
    print(json.dumps(timings, indent=2))
    for model, timing in timings.items():
        # The startup probe (then the readiness probe) polls every period:
        # Ready follows vLLM's own readiness by at most two periods (plus API
        # latency), never precedes it.
        # the Ready condition's lastTransitionTime has whole seconds only (vLLM's log line has microseconds), so
        # a pod Ready within the same second shows up to 1 s "before" vLLM's startup line
        assert -1 <= timing["vllm_startup_complete_to_ready_s"] <= 2 * PROBE_PERIOD_SECONDS + 5, (model, timing)
