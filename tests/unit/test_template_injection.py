"""Templates lay values out as data: no value, however hostile, adds keys or list items to a manifest.

Each template is rendered with benign values and again with hostile ones
(newlines with YAML structure, quotes, flow mappings, comments) put straight
into its variables, bypassing the catalogue validation; the parsed manifests
must have the same shape (kinds, keys, list lengths).
"""

import copy
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.collection_path import make_collection_importable  # noqa: E402

make_collection_importable()

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

HOSTILE = [
    "x\n        - ipBlock: {cidr: 0.0.0.0/0}",
    "x\ninjected: true",
    "x\n  - extra",
    'x" , "y": "z',
    "{a: b}",
    "- item",
    "x # comment",
    "'quoted'",
    "x: y",
]


# Lookups need the full plugin loader of a playbook run; the key generator is
# replaced by a fixed value (the key is not under test here).
LOOKUPS = {"lookup('ansible.builtin.password', '/dev/null', chars=['ascii_letters', 'digits'], length=48)":
           "'generated-key'"}


def render(template, variables):
    source = (REPO / template).read_text()
    for lookup, value in LOOKUPS.items():
        source = source.replace(lookup, value)
    text = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(source))
    return [doc for doc in yaml.safe_load_all(str(text)) if doc]


def shape(value):
    if isinstance(value, dict):
        return dict((key, shape(item)) for key, item in value.items())
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def hostile_variants(variables, paths):
    """(path, hostile value, variables with that one string replaced) for every path and hostile string."""
    for path in paths:
        for text in HOSTILE:
            changed = copy.deepcopy(variables)
            target = changed
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = text
            yield path, text, changed


def assert_same_shape(template, variables, paths, secrets=()):
    expected = shape(render(template, variables))
    for path, text, changed in hostile_variants(variables, paths):
        rendered = render(template, changed)
        assert shape(rendered) == expected, "%s: %r at %s changed the manifest structure" % (template, text, path)
        flat = yaml.safe_dump(rendered)
        assert "injected" not in [k for doc in rendered for k in doc], "%s: %r added a top-level key" % (template, text)
        del flat


NAMESPACE_VARS = {
    "namespace_name": "models", "namespace_pod_security": "restricted", "namespace_openshift_ai": True,
    "namespace_labels": {"team": "search"}, "namespace_display_name": "Models",
    "namespace_annotations": {"note": "n"}, "namespace_service_account_name": "vllm",
    "namespace_cache_pvc_name": "cache", "namespace_cache_pvc_access_modes": ["ReadWriteOnce"],
    "namespace_cache_pvc_size": "50Gi", "namespace_cache_pvc_storage_class": "fast",
    "namespace_hf_token_secret_name": "hf-token", "namespace_hf_token": "hf_abc",
}


def test_namespace_templates():
    paths = [(key,) for key in ("namespace_name", "namespace_pod_security", "namespace_display_name",
                                "namespace_service_account_name", "namespace_cache_pvc_name",
                                "namespace_cache_pvc_size", "namespace_cache_pvc_storage_class")]
    paths += [("namespace_labels", "team"), ("namespace_annotations", "note")]
    assert_same_shape("roles/namespace/templates/namespace.yaml.j2", NAMESPACE_VARS, paths)
    assert_same_shape("roles/namespace/templates/hf-token-secret.yaml.j2", NAMESPACE_VARS,
                      [("namespace_hf_token_secret_name",), ("namespace_name",), ("namespace_hf_token",)])


def test_namespace_label_keys_are_data_too():
    for text in HOSTILE:
        variables = dict(NAMESPACE_VARS, namespace_labels={text: "v"})
        [namespace] = [doc for doc in render("roles/namespace/templates/namespace.yaml.j2", variables)
                       if doc["kind"] == "Namespace"]
        assert text in namespace["metadata"]["labels"]


@pytest.fixture(scope="module")
def raw_entry(minilm_dir):
    from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import resolve_catalogue
    from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

    settings = {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "raw",
                "namespace": "models", "gpus": {}, "model_source": "hub", "cache_pvc_name": "vllm-model-cache",
                "hf_token_secret": "", "platform": "openshift", "network_policy_namespaces": ["openshift-ingress"]}
    result = resolve_catalogue([{"name": "minilm", "model": minilm_dir, "gpu": False, "network_policy": True,
                                 "api_key": True, "labels": {"team": "search"},
                                 "route": {"host": "minilm.apps.example.com", "path": "/v1", "timeout": "5m"}}],
                               settings, lambda model, *args: resolve_model(model, vllm_version="0.32.0"))
    return result["catalogue"][0]


def test_raw_deployment_templates(raw_entry):
    variables = {"__raw_deployment_models": [raw_entry], "raw_deployment_namespace": "models",
                 "raw_deployment_service_account_name": "vllm", "raw_deployment_routes": True}
    paths = [("raw_deployment_namespace",), ("raw_deployment_service_account_name",),
             ("__raw_deployment_models", 0, "model"), ("__raw_deployment_models", 0, "image"),
             ("__raw_deployment_models", 0, "revision"),
             ("__raw_deployment_models", 0, "labels", "team"),
             ("__raw_deployment_models", 0, "network_policy", "allowed_namespaces", 0),
             ("__raw_deployment_models", 0, "route", "host"), ("__raw_deployment_models", 0, "route", "path"),
             ("__raw_deployment_models", 0, "route", "timeout"),
             ("__raw_deployment_models", 0, "container", "args", 0)]
    assert_same_shape("roles/raw_deployment/templates/raw.yaml.j2", variables, paths)
    [policy] = [doc for doc in render("roles/raw_deployment/templates/raw.yaml.j2", variables)
                if doc["kind"] == "NetworkPolicy"]
    # one source, selected by namespace name: never an ipBlock
    assert policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-ingress"}}}]
    secrets = {"__raw_deployment_key_models": [{"name": "minilm", "api_key": {"secret_name": "minilm-api-key"}}],
               "raw_deployment_namespace": "models"}
    assert_same_shape("roles/raw_deployment/templates/api-key-secrets.yaml.j2", secrets,
                      [("raw_deployment_namespace",), ("__raw_deployment_key_models", 0, "name"),
                       ("__raw_deployment_key_models", 0, "api_key", "secret_name")])


def test_selector_labels_always_win_in_the_template(raw_entry):
    entry = dict(raw_entry, labels={"app.kubernetes.io/name": "evil", "app.kubernetes.io/instance": "other",
                                    "app.kubernetes.io/component": "custom"})
    variables = {"__raw_deployment_models": [entry], "raw_deployment_namespace": "models",
                 "raw_deployment_service_account_name": "vllm", "raw_deployment_routes": False}
    deployment = [doc for doc in render("roles/raw_deployment/templates/raw.yaml.j2", variables)
                  if doc["kind"] == "Deployment"][0]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "vllm" and labels["app.kubernetes.io/instance"] == "minilm"
    assert labels["app.kubernetes.io/component"] == "custom"


def test_model_prep_data_connection_template():
    variables = {"model_prep_data_connection_name": "conn", "model_prep_namespace": "models",
                 "model_prep_data_connection_display_name": "d", "model_prep_s3_bucket": "b",
                 "model_prep_s3_prefix": "models", "model_prep_s3_access_key": "AK", "model_prep_s3_secret_key": "SK",
                 "model_prep_s3_endpoint": "http://s3", "model_prep_s3_region": "us-east-1"}
    assert_same_shape("roles/model_prep/templates/data-connection-secret.yaml.j2", variables,
                      [(key,) for key in variables])
