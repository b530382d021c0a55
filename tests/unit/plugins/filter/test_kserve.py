"""The kserve filters: thin wrappers that turn module_utils errors into filter errors."""

import copy
import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.filter.kserve import FilterModule
from support.collection_path import REPO

FILTERS = FilterModule().filters()


def entry(name, task, runtime, image="docker.io/vllm/vllm-openai:v0.32.0"):
    return {"name": name, "mode": "kserve", "image": image, "vllm_version": "0.32.0", "facts": {"task": task},
            "gpu": {"enabled": False},
            "kserve": {"runtime": runtime, "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
                       "runtime_args": ["--model", "/mnt/models", "--served-model-name", "{{.Name}}", "--runner",
                                        "pooling", "--port", "8080"],
                       "model_args": ["--max-model-len", "256"], "env": {"HF_HUB_OFFLINE": "1"},
                       "storage": {"storageUri": "pvc://cache/%s" % name}, "port": 8080}}


CATALOGUE = [entry("a", "embed", "vllm-embedding-runtime"), entry("b", "score", "vllm-reranker-runtime"),
             {"name": "c", "mode": "raw"}]


def test_exposes_the_filters_with_documentation():
    assert set(FILTERS) == {"serving_runtime", "kserve_bindings", "kserve_deployment_mode", "kserve_storage_container",
                            "kserve_storage_config_entry", "kserve_token_auth", "runtime_templates"}
    for name in FILTERS:
        doc = yaml.safe_load((REPO / "plugins" / "filter" / ("%s.yml" % name)).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"] and doc["RETURN"]


def test_serving_runtime_accepts_survey_strings_for_template():
    made = FILTERS["serving_runtime"](copy.deepcopy(CATALOGUE), template="true")
    assert [r["metadata"]["name"] for r in made] == ["vllm-embedding-runtime", "vllm-reranker-runtime"]
    assert all("namespace" not in r["metadata"] for r in made)
    json.dumps(made)  # plain data, ready for to_json in a template


def test_serving_runtime_errors_are_filter_errors():
    catalogue = copy.deepcopy(CATALOGUE) + [entry("d", "embed", "vllm-embedding-runtime", image="other:1")]
    with pytest.raises(AnsibleFilterError, match="(?s)serving_runtime: .*a and d share ServingRuntime"):
        FILTERS["serving_runtime"](catalogue, namespace="ns")
    with pytest.raises(AnsibleFilterError, match="template must be a boolean"):
        FILTERS["serving_runtime"](CATALOGUE, namespace="ns", template="maybe")


def test_kserve_bindings_reports_problems_without_raising():
    runtimes = FILTERS["serving_runtime"](CATALOGUE, namespace="ns")
    overrides = {"b": {"model_format": {"name": "vLLM", "version": "2"}}}
    checked = FILTERS["kserve_bindings"](CATALOGUE, runtimes, overrides, [], ["cache"], [])
    assert list(checked["bindings"]) == ["a"]
    assert checked["problems"] == ["b: ServingRuntime vllm-reranker-runtime does not declare model format vLLM "
                                   "version 2 (it declares: vLLM; names and versions are compared exactly)"]


def test_kserve_bindings_rejects_a_non_mapping_override_set():
    checked = FILTERS["kserve_bindings"](CATALOGUE, [], ["not", "a", "mapping"])
    assert checked["problems"] and "must be a mapping" in checked["problems"][0]


def test_version_filters_turn_errors_into_filter_errors():
    assert FILTERS["kserve_deployment_mode"]("0.20") == "Standard"
    assert FILTERS["kserve_deployment_mode"]("0.15", "") == "RawDeployment"
    with pytest.raises(AnsibleFilterError, match="kserve_deployment_mode: KServe 0.15 does not know"):
        FILTERS["kserve_deployment_mode"]("0.15", "Standard")
    made = FILTERS["kserve_storage_container"]("csc", "img:1", "0.19")
    assert made["object"]["metadata"]["name"] == "csc" and made["selectable"] is False
    with pytest.raises(AnsibleFilterError, match="kserve_storage_config_entry"):
        FILTERS["kserve_storage_config_entry"]({"name": "x"})


def test_per_model_filter_arguments_accept_survey_strings():
    made = FILTERS["serving_runtime"](copy.deepcopy(CATALOGUE), namespace="ns", per_model="true")
    assert [r["metadata"]["name"] for r in made] == ["a", "b"]
    checked = FILTERS["kserve_bindings"](copy.deepcopy(CATALOGUE), made, None, None, ["cache"], [], "true", False,
                                         "false")
    assert checked["problems"] == [] and checked["bindings"]["a"]["runtime"] == "a"
