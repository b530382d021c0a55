"""Verify a mixed-mode catalogue deployed by site.yml (testinfra, local backend)."""

import json
import os
from pathlib import Path

import yaml

# The scenario's settings are written once, in its host_vars.
HOST_VARS = yaml.safe_load((Path(__file__).resolve().parents[1] / "host_vars" / "localhost.yml").read_text())

NAMESPACE = HOST_VARS["embedserve_namespace"]


def kubectl_json(host, *args):
    cmd = host.run("kubectl --kubeconfig %s %s -o json" % (os.environ["KUBECONFIG"], " ".join(args)))
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def names(host, kind, namespace=NAMESPACE, selector="app.kubernetes.io/managed-by=embedserve"):
    """The objects site.yml wrote; those a controller made from them (KServe's predictor Deployments, which
    carry the InferenceService's labels) are left out."""
    items = kubectl_json(host, "-n", namespace, "get", kind, "-l", selector)["items"]
    return sorted(item["metadata"]["name"] for item in items
                  if not any(ref.get("controller") for ref in item["metadata"].get("ownerReferences") or []))


def test_each_model_is_deployed_in_its_own_mode(host):
    assert names(host, "deployment") == ["msmarco"]
    assert names(host, "inferenceservice") == ["granite", "minilm"]
    # one runtime per InferenceService (an instance of the embedding runtime); none for the raw reranker
    assert names(host, "servingruntime") == ["granite", "minilm"]


def test_the_gpu_plan_spans_both_modes(host):
    deployment = kubectl_json(host, "-n", NAMESPACE, "get", "deployment", "msmarco")
    placement = deployment["metadata"]["annotations"]["embedserve.io/gpu-placement"]
    assert "shared with" in placement and "minilm" in placement and "granite" in placement


def test_the_embedding_template_is_published_for_the_dashboard(host):
    templates = kubectl_json(host, "-n", "redhat-ods-applications", "get", "template", "-l",
                             "app.kubernetes.io/managed-by=embedserve")["items"]
    runtimes = [t["objects"][0]["metadata"]["name"] for t in templates]
    assert "vllm-embedding-runtime" in runtimes
    for template in templates:
        assert template["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
        assert "opendatahub.io/ootb" not in template["metadata"]["labels"]
