"""Verify the namespace role's objects on the cluster (testinfra, local backend)."""

import base64
import json
import os
from pathlib import Path

import pytest
import yaml

# The scenario's settings are written once, in its host_vars.
HOST_VARS = yaml.safe_load((Path(__file__).resolve().parents[1] / "host_vars" / "localhost.yml").read_text())

NAMESPACE = HOST_VARS["namespace_name"]


def kubectl_json(host, *args):
    cmd = host.run("kubectl --kubeconfig %s %s -o json" % (os.environ["KUBECONFIG"], " ".join(args)))
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def test_namespace_enforces_restricted_and_is_an_openshift_ai_project(host):
    labels = kubectl_json(host, "get namespace", NAMESPACE)["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels["pod-security.kubernetes.io/%s" % mode] == "restricted"
    assert labels["opendatahub.io/dashboard"] == "true"
    assert labels["app.kubernetes.io/managed-by"] == "embedserve"


def test_cache_claim_is_bound_with_requested_size(host):
    pvc = kubectl_json(host, "-n", NAMESPACE, "get pvc vllm-model-cache")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["status"]["phase"] == "Bound"


def test_service_account_has_no_api_token(host):
    sa = kubectl_json(host, "-n", NAMESPACE, "get serviceaccount vllm")
    assert sa["automountServiceAccountToken"] is False


def test_token_secret_holds_the_token(host):
    secret = kubectl_json(host, "-n", NAMESPACE, "get secret hf-token")
    assert base64.b64decode(secret["data"]["HF_TOKEN"]).decode() == "hf_molecule_not_a_real_token"
    # server-side apply keeps no last-applied copy of the token in annotations
    assert "kubectl.kubernetes.io/last-applied-configuration" not in secret["metadata"].get("annotations", {})


@pytest.mark.parametrize("bad_pod", [
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"root-pod"},'
    '"spec":{"containers":[{"name":"c","image":"x:1"}]}}',
])
def test_namespace_rejects_pods_that_break_restricted(host, bad_pod):
    cmd = host.run("echo '%s' | kubectl --kubeconfig %s -n %s create --dry-run=server -f -"
                   % (bad_pod, os.environ["KUBECONFIG"], NAMESPACE))
    assert cmd.rc != 0
    assert 'violates PodSecurity "restricted:latest"' in cmd.stderr
