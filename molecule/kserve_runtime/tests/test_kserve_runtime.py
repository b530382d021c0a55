"""Verify the kserve_runtime role's objects on plain KServe on OpenShift (testinfra, local backend)."""

import base64
import json
import os
import time
from pathlib import Path

import pytest
import yaml

# The scenario's settings are written once, in its host_vars.
HOST_VARS = yaml.safe_load((Path(__file__).resolve().parents[1] / "host_vars" / "localhost.yml").read_text())

NAMESPACE = HOST_VARS["embedserve_namespace"]


def kubectl_json(host, *args):
    cmd = host.run("kubectl --kubeconfig %s %s -o json" % (os.environ["KUBECONFIG"], " ".join(args)))
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def get(host, kind, name):
    return kubectl_json(host, "-n", NAMESPACE, "get", kind, name)


def test_one_runtime_per_inferenceservice_with_its_task_container(host):
    runtimes = kubectl_json(host, "-n", NAMESPACE, "get servingruntime")["items"]
    assert sorted(r["metadata"]["name"] for r in runtimes) == ["granite", "minilm", "msmarco"]
    for runtime in runtimes:
        container, = runtime["spec"]["containers"]
        assert container["name"] == "kserve-container"
        assert container["image"] == "docker.io/vllm/vllm-openai:v0.32.0"
        assert container["args"] == ["--model=/mnt/models", "--served-model-name={{.Name}}", "--runner=pooling",
                                     "--port=8080"]
        assert container["securityContext"]["runAsNonRoot"] is True
        assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
        assert runtime["spec"]["annotations"]["prometheus.io/port"] == "8080"
        assert runtime["spec"]["annotations"]["prometheus.io/path"] == "/metrics"
        assert runtime["spec"]["supportedModelFormats"] == [{"name": "vLLM", "autoSelect": False}]
        task = "reranker" if runtime["metadata"]["name"] == "msmarco" else "embedding"
        assert runtime["metadata"]["annotations"]["opendatahub.io/template-name"] == \
            "vllm-%s-runtime-template" % task


def test_inferenceservices_bind_to_their_own_runtime(host):
    for name in ("minilm", "granite", "msmarco"):
        isvc = get(host, "inferenceservice", name)
        model = isvc["spec"]["predictor"]["model"]
        assert model["runtime"] == name
        assert model["modelFormat"] == {"name": "vLLM"}
        assert "networking.kserve.io/visibility" not in isvc["metadata"]["labels"]
        # plain KServe 0.20: the mode's current name
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"


def test_storage_from_the_hub_the_cache_or_a_data_connection(host):
    minilm = get(host, "inferenceservice", "minilm")["spec"]["predictor"]
    # the Hub commit the facts were read from, downloaded by the restricted storage-initializer
    assert minilm["model"]["storageUri"].startswith("hf://sentence-transformers/all-MiniLM-L6-v2")
    assert minilm["storageContainerName"] == "embedserve-s3-restricted"
    granite = get(host, "inferenceservice", "granite")["spec"]["predictor"]
    assert granite["model"]["storageUri"] == "pvc://vllm-model-cache/granite"
    assert "storageContainerName" not in granite  # KServe mounts the claim: no initializer
    model = get(host, "inferenceservice", "msmarco")["spec"]["predictor"]["model"]
    assert "storageUri" not in model
    assert model["storage"] == {"key": "minio-models", "path": "rerankers/ms-marco-MiniLM-L12-v2"}


def test_auth_annotation_is_always_explicit(host):
    for name in ("minilm", "granite", "msmarco"):
        assert get(host, "inferenceservice", name)["metadata"]["annotations"][
            "security.opendatahub.io/enable-auth"] == "false"


def test_s3_and_hub_models_name_the_restricted_storage_container(host):
    for name in ("msmarco", "minilm"):  # S3 data connection, hf://
        isvc = get(host, "inferenceservice", name)
        assert isvc["spec"]["predictor"]["storageContainerName"] == "embedserve-s3-restricted"
    # the claim is mounted, no initializer
    assert "storageContainerName" not in get(host, "inferenceservice", "granite")["spec"]["predictor"]
    csc = kubectl_json(host, "get clusterstoragecontainer embedserve-s3-restricted")
    assert csc["spec"]["container"]["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"prefix": "s3://"} in csc["spec"]["supportedUriFormats"]
    assert {"prefix": "hf://"} in csc["spec"]["supportedUriFormats"]


def test_routes_go_to_the_predictor_service_not_metrics(host):
    routes = kubectl_json(host, "-n", NAMESPACE, "get route")["items"]
    assert sorted(r["metadata"]["name"] for r in routes) == ["minilm", "msmarco"]  # granite: route disabled
    for route in routes:
        name = route["metadata"]["name"]
        assert route["spec"]["to"] == {"kind": "Service", "name": "%s-predictor" % name, "weight": 100}
        assert route["spec"]["port"]["targetPort"] == 8080
        assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    msmarco = [r for r in routes if r["metadata"]["name"] == "msmarco"][0]
    assert msmarco["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "120s"


def test_data_connection_in_dashboard_format(host):
    secret = get(host, "secret", "minio-models")
    labels, annotations = secret["metadata"]["labels"], secret["metadata"]["annotations"]
    assert labels["opendatahub.io/dashboard"] == "true" and labels["opendatahub.io/managed"] == "true"
    assert annotations["opendatahub.io/connection-type-ref"] == "s3"
    assert annotations["openshift.io/display-name"] == "MinIO models"
    data = dict((k, base64.b64decode(v).decode()) for k, v in secret["data"].items())
    assert data == {"AWS_ACCESS_KEY_ID": "molecule-access-key", "AWS_SECRET_ACCESS_KEY": "molecule-secret-not-real",
                    "AWS_S3_ENDPOINT": "http://minio.minio.svc:9000", "AWS_S3_BUCKET": "models",
                    "AWS_DEFAULT_REGION": "us-east-1"}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations


def test_storage_config_entry_for_the_storage_initializer(host):
    secret = get(host, "secret", "storage-config")
    entry = json.loads(base64.b64decode(secret["data"]["minio-models"]))
    assert entry == {"type": "s3", "access_key_id": "molecule-access-key",
                     "secret_access_key": "molecule-secret-not-real", "endpoint_url": "http://minio.minio.svc:9000",
                     "bucket": "models", "region": "us-east-1", "verify_ssl": "0"}


def test_kserve_makes_every_inferenceservice_ready_and_admits_its_pods(host):
    """KServe's controller (hack/cluster/kserve) reconciles what the role wrote; the namespace enforces restricted."""
    hooks = host.run("kubectl --kubeconfig %s get mutatingwebhookconfiguration inferenceservice.serving.kserve.io"
                     % os.environ["KUBECONFIG"])
    if hooks.rc != 0:
        if os.environ.get("EMBEDSERVE_KSERVE_CONTROLLER") == "0":
            pytest.skip("KServe's controller manager left out on purpose (EMBEDSERVE_KSERVE_CONTROLLER=0)")
        pytest.fail("KServe's controller manager is not running: `make cluster` starts it")
    deadline, waiting = time.time() + 240, None
    while waiting != [] and time.time() < deadline:
        isvcs = kubectl_json(host, "-n", NAMESPACE, "get inferenceservice")["items"]
        waiting = [i["metadata"]["name"] for i in isvcs
                   if not [c for c in i.get("status", {}).get("conditions", [])
                           if c["type"] == "Ready" and c["status"] == "True"]]
        time.sleep(2)
    assert waiting == [], "not Ready: %s" % waiting
    assert len(isvcs) == 3
    namespace = kubectl_json(host, "get namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pod, = kubectl_json(host, "-n", NAMESPACE, "get pod -l serving.kserve.io/inferenceservice=msmarco")["items"]
    init, = pod["spec"]["initContainers"]
    assert init["name"] == "storage-initializer"
    assert init["securityContext"]["allowPrivilegeEscalation"] is False
    assert init["args"] == ["s3://models/rerankers/ms-marco-MiniLM-L12-v2", "/mnt/models"]
