"""Verify the kserve_runtime role's objects on plain KServe on OpenShift (testinfra, local backend)."""

import base64
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


def get(host, kind, name):
    return kubectl_json(host, "-n", NAMESPACE, "get", kind, name)


def test_one_runtime_per_task_with_the_shared_container(host):
    runtimes = kubectl_json(host, "-n", NAMESPACE, "get servingruntime")["items"]
    assert sorted(r["metadata"]["name"] for r in runtimes) == ["vllm-embedding-runtime", "vllm-reranker-runtime"]
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


def test_inferenceservices_bind_to_their_task_runtime(host):
    expected = {"minilm": "vllm-embedding-runtime", "granite": "vllm-embedding-runtime",
                "msmarco": "vllm-reranker-runtime"}
    for name, runtime in expected.items():
        isvc = get(host, "inferenceservice", name)
        model = isvc["spec"]["predictor"]["model"]
        assert model["runtime"] == runtime
        assert model["modelFormat"] == {"name": "vLLM"}
        assert "networking.kserve.io/visibility" not in isvc["metadata"]["labels"]
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"


def test_storage_from_cache_or_data_connection(host):
    assert get(host, "inferenceservice", "minilm")["spec"]["predictor"]["model"]["storageUri"] == \
        "pvc://vllm-model-cache/minilm"
    model = get(host, "inferenceservice", "msmarco")["spec"]["predictor"]["model"]
    assert "storageUri" not in model
    assert model["storage"] == {"key": "minio-models", "path": "rerankers/ms-marco-MiniLM-L12-v2"}


def test_api_key_models_ask_for_platform_auth(host):
    assert get(host, "inferenceservice", "minilm")["metadata"]["annotations"][
        "security.opendatahub.io/enable-auth"] == "true"
    assert "security.opendatahub.io/enable-auth" not in get(host, "inferenceservice", "granite")["metadata"][
        "annotations"]


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
                     "bucket": "models", "region": "us-east-1"}
