"""Verify the seed catalogue deployed as raw Deployments (testinfra, local backend)."""

import json
import os
from pathlib import Path

import pytest
import yaml

# The scenario's settings are written once, in its host_vars.
HOST_VARS = yaml.safe_load((Path(__file__).resolve().parents[1] / "host_vars" / "localhost.yml").read_text())

NAMESPACE = HOST_VARS["embedserve_namespace"]
SEED = {"minilm": 256, "granite": 512, "msmarco": 512}


def kubectl_json(host, *args):
    cmd = host.run("kubectl --kubeconfig %s -n %s %s -o json"
                   % (os.environ["KUBECONFIG"], NAMESPACE, " ".join(args)))
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def flag(args, name):
    return args[args.index(name) + 1]


@pytest.mark.parametrize("name", sorted(SEED))
def test_model_deployment_is_ready(host, name):
    deployment = kubectl_json(host, "get deployment", name)
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] == 1


@pytest.mark.parametrize("name, max_model_len", sorted(SEED.items()))
def test_vllm_arguments_carry_the_derived_length_and_gpu_share(host, name, max_model_len):
    container = kubectl_json(host, "get deployment", name)["spec"]["template"]["spec"]["containers"][0]
    assert flag(container["args"], "--max-model-len") == str(max_model_len)
    assert 0 < float(flag(container["args"], "--gpu-memory-utilization")) < 0.2
    assert flag(container["args"], "--served-model-name") == name
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert not container["image"].endswith(":latest")


def test_namespace_enforces_restricted(host):
    cmd = host.run("kubectl --kubeconfig %s get namespace %s -o json" % (os.environ["KUBECONFIG"], NAMESPACE))
    labels = json.loads(cmd.stdout)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_pod_was_admitted_and_runs_on_the_gpu_node(host):
    pods = kubectl_json(host, "get pods -l app.kubernetes.io/managed-by=embedserve")["items"]
    assert sorted(p["metadata"]["labels"]["app.kubernetes.io/instance"] for p in pods) == sorted(SEED)
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"] == "gpu-node-a10g"
        context = pod["spec"]["containers"][0]["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("name", sorted(SEED))
def test_service_and_edge_route_point_at_the_model(host, name):
    service = kubectl_json(host, "get service", name)
    assert service["spec"]["selector"]["app.kubernetes.io/instance"] == name
    route = kubectl_json(host, "get route", name)
    assert route["spec"]["to"]["name"] == name
    assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
