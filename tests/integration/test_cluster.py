"""The local control plane's guarantees that every other test relies on."""

import json
import time

from conftest import kubectl, kubectl_json

GPU_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "gpu-probe"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "gpu-probe"}},
        "template": {
            "metadata": {"labels": {"app": "gpu-probe"}},
            "spec": {
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "c", "image": "registry.example/probe:1",
                                "resources": {"limits": {"nvidia.com/gpu": 1}}}],
            },
        },
    },
}


def test_api_resources_include_kserve_route_and_template():
    names = set(kubectl("api-resources", "-o", "name").stdout.split())
    for resource in ("servingruntimes.serving.kserve.io", "clusterservingruntimes.serving.kserve.io",
                     "inferenceservices.serving.kserve.io", "routes.route.openshift.io",
                     "templates.template.openshift.io"):
        assert resource in names


def test_gpu_node_advertises_time_sliced_a10g():
    node = kubectl_json("get", "node", "gpu-node-a10g")
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "16"
    assert node["metadata"]["labels"]["nvidia.com/gpu.memory"] == "23028"
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"].startswith("NVIDIA-A10G")


def test_deployment_requesting_a_gpu_rolls_out_to_ready(namespace_factory):
    ns = namespace_factory("it-gpu-rollout")
    kubectl("-n", ns, "apply", "-f", "-", stdin=json.dumps(GPU_DEPLOYMENT))
    kubectl("-n", ns, "rollout", "status", "deployment/gpu-probe", "--timeout=60s")
    pods = kubectl_json("-n", ns, "get", "pods", "-l", "app=gpu-probe")["items"]
    assert len(pods) == 1
    assert pods[0]["spec"]["nodeName"] == "gpu-node-a10g"
    assert all(c["status"] == "True" for c in pods[0]["status"]["conditions"] if c["type"] == "Ready")


def test_pod_without_gpu_toleration_stays_off_the_gpu_node(namespace_factory):
    ns = namespace_factory("it-no-toleration")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
           "spec": {"containers": [{"name": "c", "image": "registry.example/probe:1"}]}}
    kubectl("-n", ns, "apply", "-f", "-", stdin=json.dumps(pod))
    deadline = time.time() + 30
    while time.time() < deadline:
        node = kubectl_json("-n", ns, "get", "pod", "plain")["spec"].get("nodeName")
        if node:
            break
        time.sleep(0.5)
    assert node == "cpu-node"


def test_restricted_namespace_rejects_a_privileged_pod(namespace_factory):
    ns = namespace_factory("it-restricted", {"pod-security.kubernetes.io/enforce": "restricted"})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
           "spec": {"containers": [{"name": "c", "image": "registry.example/probe:1",
                                    "securityContext": {"privileged": True}}]}}
    proc = kubectl("-n", ns, "apply", "-f", "-", stdin=json.dumps(pod), check=False)
    assert proc.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in proc.stderr
    assert kubectl("-n", ns, "get", "pod", "root", check=False).returncode != 0
