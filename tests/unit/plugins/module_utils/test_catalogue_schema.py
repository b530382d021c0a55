"""The nested catalogue schema: every hostile or careless value is refused before anything is read or written,
with the entry, the field path, why and what to do."""

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import (
    CatalogueError,
    resolve_catalogue,
    validate_entries,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue_schema import check_entry, quantity_value


@pytest.fixture
def settings():
    return {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "raw",
            "namespace": "models", "gpus": {"count": 1, "memory_mib": 23028, "sharing": "time-slicing"},
            "network_policy_namespaces": ["openshift-ingress"], "data_connection": "aws-connection-models",
            "cache_pvc_name": "vllm-model-cache"}


def problems_of(entry, settings, defaults=None):
    with pytest.raises(CatalogueError) as error:
        validate_entries([entry], defaults or {}, settings)
    return str(error.value)


def base(**extra):
    return dict({"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"}, **extra)


@pytest.mark.parametrize("extra, expected", [
    # replicas: a Deployment's replicas are an int32; 3e9 wrapped to a negative number at the API
    ({"replicas": 3e9}, "replicas 3000000000 is out of range: it must be between 0 and 2147483647"),
    ({"replicas": -1}, "replicas -1 is out of range"),
    ({"replicas": 1.5}, "replicas 1.5 is not an integer"),
    ({"startup_timeout": -5}, "startup_timeout -5 is out of range"),
    ({"max_model_len": 0}, "max_model_len 0 is out of range"),
    ({"labels": {"app.kubernetes.io/name": "other"}}, "label key 'app.kubernetes.io/name' is set by the collection"),
    ({"labels": {"app.kubernetes.io/instance": "x"}}, "label key 'app.kubernetes.io/instance' is set by"),
    ({"labels": {"app.kubernetes.io/managed-by": "me"}}, "label key 'app.kubernetes.io/managed-by' is set by"),
    ({"labels": {"embedserve.io/mode": "kserve"}}, "label key 'embedserve.io/mode' is set by the collection"),
    ({"labels": {"team": "a b"}}, "labels.team 'a b' is not a valid label value"),
    ({"labels": {"bad key!": "x"}}, "label key 'bad key!' is not a valid key"),
    ({"labels": {"team": True}}, "labels.team True is a boolean, not a string: quote it"),
    ({"tolerations": {"key": "a"}}, "tolerations {'key': 'a'} is a mapping, not a list"),
    ({"tolerations": [{"key": "a", "operator": "Exists", "value": "v"}]},
     "tolerations[0]: operator Exists takes no value"),
    ({"tolerations": [{"operator": "Equal", "value": "v"}]}, "a toleration without a key must use operator Exists"),
    ({"tolerations": [{"key": "a", "effect": "NoSchedul"}]},
     "tolerations[0].effect 'NoSchedul' must be one of NoSchedule, PreferNoSchedule, NoExecute (did you mean "
     "'NoSchedule'?)"),
    ({"tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}]},
     "tolerationSeconds only applies to effect NoExecute"),
    ({"tolerations": [{"key": "a", "opertor": "Exists"}]}, "did you mean 'operator'?"),
    ({"node_selector": ["gpu"]}, "node_selector ['gpu'] is a list, not a mapping"),
    ({"node_selector": {"gpu": "yes please"}}, "node_selector.gpu 'yes please' is not a valid label value"),
    ({"env": {"1BAD": "x"}}, "environment variable name '1BAD' is not a valid environment variable name"),
    ({"env": {"VLLM_API_KEY": "secret"}}, "'VLLM_API_KEY' holds a secret and would be readable in the pod spec: "
                                          "set api_key: true"),
    ({"env": {"HF_TOKEN": "hf_x"}}, "'HF_TOKEN' holds a secret"),
    ({"env": {"A": ["list"]}}, "env.A ['list'] is a list, not a string"),
    ({"resources": {"requests": {"memory": "lots"}}}, "resources.requests.memory 'lots' is not a quantity"),
    ({"resources": {"limits": {"cpu": -1}}}, "resources.limits.cpu -1 must not be negative"),
    ({"resources": {"limits": {"cpu": float("inf")}}}, "resources.limits.cpu inf is not a quantity"),
    ({"resources": {"limits": {"memory": "99999999999Ei"}}}, "larger than Kubernetes can represent"),
    ({"resources": {"limits": {"memory": "1e400"}}}, "resources.limits.memory '1e400' is not a quantity"),
    ({"resources": {"limits": {"gpu": "1"}}}, "resource name 'gpu' is not a resource Kubernetes knows"),
    ({"resources": {"request": {"memory": "4Gi"}}}, "resources: unknown key 'request': did you mean 'requests'?"),
    ({"resources": {"limit": {"memory": "4Gi"}}}, "resources: unknown key 'limit': did you mean 'limits'?"),
    ({"resources": {"requests": {"memory": "8Gi"}, "limits": {"memory": "4Gi"}}},
     "requests.memory (8Gi) is above limits.memory (4Gi)"),
    ({"resources": {"requests": {"example.com/dongle": "1"}}},
     "requests.example.com/dongle (1) needs limits.example.com/dongle with the same value"),
    ({"resources": {"limits": {"nvidia.com/gpu": "500m"}}},
     "limits.nvidia.com/gpu (500m) must be a whole number"),
    ({"route": {"host": "Bad Host"}}, "route.host 'Bad Host' is not a DNS host name"),
    ({"route": {"host": "a" * 64 + ".example.com"}}, "route.host"),
    ({"route": {"path": "v1"}}, "route.path 'v1' must start with '/'"),
    ({"route": {"timeout": "forever"}}, "route.timeout 'forever' is not a router timeout"),
    ({"route": {"hots": "x.example.com"}}, "route: unknown key 'hots': did you mean 'host'?"),
    ({"storage": {"type": "nfs"}}, "storage.type 'nfs' must be one of pvc, s3"),
    ({"storage": {"path": "../../etc"}}, "storage.path '../../etc' must be a relative path"),
    ({"storage": {"connection": "Bad_Secret"}}, "storage.connection 'Bad_Secret'"),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}}, "operator In needs at least one value"),
    ({"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 500, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}},
     "weight 500 is out of range: it must be between 1 and 100"),
    ({"affinity": {"nodeAfinity": {}}}, "affinity: unknown key 'nodeAfinity': did you mean 'nodeAffinity'?"),
    ({"hf_overrides": {"max_position_embeddings": float("inf")}}, "hf_overrides max_position_embeddings: inf is not"),
    ({"hf_overrides": "big"}, "hf_overrides 'big' is a string, not a mapping"),
    ({"device": "tpu"}, "device 'tpu' must be one of gpu, cpu"),
    ({"device": "cpu", "gpu": True}, "gpu: true contradicts device: cpu"),
    ({"gpu": "maybe"}, "gpu 'maybe' is not a boolean"),
    ({"dtype": "fp8"}, "dtype 'fp8' must be one of"),
    ({"display_name": "line\nbreak"}, "display_name 'line\\nbreak' contains control characters"),
    ({"model": "x/y\nkind: Secret"}, "model 'x/y\\nkind: Secret' contains control characters"),
    ({"served_model_name": "two words"}, "served_model_name 'two words' must not contain spaces"),
    ({"image": "vllm/vllm-openai:nightly"}, "has tag 'nightly', which names no vLLM release"),
    ({"image": "vllm/vllm-openai@sha256:"}, "has an incomplete digest"),
    ({"max_modle_len": 5}, "unknown key 'max_modle_len': did you mean 'max_model_len'?"),
])
def test_each_bad_value_is_named_with_entry_and_field(settings, extra, expected):
    message = problems_of(base(**extra), settings)
    assert "embedserve_models[0] (minilm): " in message
    assert expected in message
    assert "nothing was deployed" in message


@pytest.mark.parametrize("extra", [
    {"replicas": "3", "startup_timeout": "600", "api_key": "yes", "gpu": "false"},
    {"device": "cpu"},
    {"device": "gpu", "gpu": True},
    {"gpu": False},
    {"labels": {"team": "search", "example.com/tier": "gold", "empty": ""}},
    {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                     {"operator": "Exists"},
                     {"key": "a", "value": "b", "effect": "NoExecute", "tolerationSeconds": 30}]},
    {"node_selector": {"nvidia.com/gpu.product": "NVIDIA-A10G"}},
    {"env": {"VLLM_LOGGING_LEVEL": "DEBUG", "my.var-1": 3}},
    {"resources": {"requests": {"cpu": "500m", "memory": "4Gi"},
                   "limits": {"cpu": 2, "memory": "6Gi", "nvidia.com/gpu": "1"}}},
    {"route": {"enabled": "true", "host": "minilm.apps.example.com", "path": "/v1", "timeout": "5m"}},
    {"storage": {"type": "s3", "connection": "aws-connection-models", "path": "models/minilm"}},
    {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}},
    {"hf_overrides": {"rope_scaling": {"type": "linear", "factor": 2.0}}},
    {"extra_args": ["--enable-prefix-caching", "--uvicorn-log-level", "warning"]},
    {"image": "quay.io/x/vllm@sha256:" + "a" * 64},
    {"image": "docker.io/vllm/vllm-openai:v0.32.0-cu128"},
])
def test_valid_values_pass_and_survey_strings_are_cast(settings, extra):
    [entry] = validate_entries([base(**extra)], {}, settings)
    if "replicas" in extra:
        assert entry["replicas"] == 3 and entry["startup_timeout"] == 600 and entry["api_key"] is True
        assert entry["gpu"] is False


def test_numeric_quantities_become_strings(settings):
    [entry] = validate_entries([base(resources={"limits": {"cpu": 2, "memory": 0.5}})], {}, settings)
    assert entry["resources"]["limits"] == {"cpu": "2", "memory": "0.5"}
    assert quantity_value("1Ki") == 1024 and quantity_value("500m") * 2 == 1 and quantity_value("2E") == 2 * 10 ** 18
    assert quantity_value("1e3") == 1000 and quantity_value("1Ei") == 2 ** 60


@pytest.mark.parametrize("key, value, expected", [
    # the NetworkPolicy injection: a newline in a namespace name added an ipBlock 0.0.0.0/0 source
    ("network_policy_namespaces", ["ok", "x\n        - ipBlock: {cidr: 0.0.0.0/0}"],
     "embedserve_network_policy_namespaces[1] 'x\\n        - ipBlock: {cidr: 0.0.0.0/0}' contains control characters"),
    ("network_policy_namespaces", ["Not_A_Namespace"], "embedserve_network_policy_namespaces[0] 'Not_A_Namespace'"),
    ("network_policy_namespaces", "openshift-ingress", "embedserve_network_policy_namespaces 'openshift-ingress' is a "
                                                       "string, not a list"),
    ("namespace", "Models", "embedserve_namespace 'Models'"),
    ("cache_pvc_name", "a b", "embedserve_cache_pvc_name 'a b'"),
    ("data_connection", "x\ny", "embedserve_data_connection 'x\\ny' contains control characters"),
    ("gpus", {"count": 1, "memory_mib": 23028, "node_selector": {"a": "b c"}}, "embedserve_gpus.node_selector.a"),
    ("gpus", {"count": 1, "memory_mib": 23028, "tolerations": "all"}, "embedserve_gpus.tolerations 'all' is a string"),
    ("gpus", {"count": 1, "memory_mb": 23028}, "embedserve_gpus: unknown key 'memory_mb': did you mean 'memory_mib'?"),
    ("run_as_user", -1, "embedserve_run_as_user -1 is out of range"),
])
def test_collection_settings_are_checked_too(settings, key, value, expected):
    settings[key] = value
    assert expected in problems_of(base(), settings)


def test_unknown_keys_at_every_level_suggest_the_nearest_valid_key():
    _entry, problems = check_entry(base(resources={"requests": {"cpu": "1"}, "limts": {}},
                                        route={"enabled": True, "hostname": "a.example.com"},
                                        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                                            {"topologyKey": "zone", "labelSelector": {"matchLabel": {}}}]}}),
                                   "embedserve_models[0] (minilm)")
    text = "\n".join(problems)
    assert "resources: unknown key 'limts': did you mean 'limits'?" in text
    assert "route: unknown key 'hostname': did you mean 'host'?" in text
    assert ("affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector: unknown key "
            "'matchLabel': did you mean 'matchLabels'?") in text


def test_extra_args_cannot_bypass_validated_values(settings):
    message = problems_of(base(extra_args=["--max_model_len=100000", "--gpu_memory_utilization", "0.99",
                                           "--task embed", "--api-key", "sk-123"]), settings)
    assert ("extra_args[0]: extra_args must not set --max-model-len (written '--max_model_len', which vLLM reads as "
            "--max-model-len): the collection sets it; use max_model_len instead") in message
    assert "extra_args[1]: extra_args must not set --gpu-memory-utilization" in message
    assert "extra_args[3]: --task must not be used" in message
    assert "extra_args[4]: extra_args must not set --api-key" in message and "use api_key: true" in message
    assert "sk-123" not in message


def test_defaults_are_checked_under_the_entry_that_receives_them(settings):
    message = problems_of(base(), settings, defaults={"replicas": "many"})
    assert "embedserve_models[0] (minilm): replicas 'many' is not an integer" in message


def test_absurd_gpu_replica_counts_fail_fast_with_a_short_message(settings):
    message = problems_of(base(replicas=100000), settings)
    assert "replicas 100000: the GPUs in embedserve_gpus can hold at most" in message
    assert len(message) < 1000


def test_the_problem_list_is_bounded(settings):
    models = [{"name": "m%d" % i, "model": "x/y", "replicas": "x", "startup_timeout": "y", "gpu": False}
              for i in range(200)]
    with pytest.raises(CatalogueError) as error:
        validate_entries(models, {}, settings)
    message = str(error.value)
    assert "400 problem(s)" in message and "... and 350 more problem(s)" in message
    assert len(message) < 20000


def test_non_mapping_entries_and_runaway_catalogues(settings):
    assert "each model must be a mapping" in problems_of("minilm", settings)
    with pytest.raises(CatalogueError, match="at most 256"):
        validate_entries([base(name="m%d" % i) for i in range(300)], {}, settings)
    with pytest.raises(CatalogueError, match="embedserve_model_defaults must be a mapping"):
        validate_entries([base()], ["replicas"], settings)


def test_nothing_is_read_before_the_catalogue_is_valid(settings):
    calls = []

    def resolver(*args):
        calls.append(args)
        raise AssertionError("read a model of an invalid catalogue")

    with pytest.raises(CatalogueError):
        resolve_catalogue([base(labels={"app.kubernetes.io/name": "x"})], settings, resolver)
    assert calls == []


def test_an_unsupported_vllm_version_is_a_value_error_not_a_crash(settings):
    settings["vllm_version"] = "0.9.0"
    with pytest.raises(ValueError, match="not supported"):
        resolve_catalogue([base()], settings, lambda *args: None)


def test_a_request_above_the_sized_limit_is_refused_after_resolution(settings, minilm_dir):
    # found by the dry-run property test: the model's own sizing sets limits.cpu 4
    from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

    def resolver(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(minilm_dir)

    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([base(resources={"requests": {"cpu": "1773k"}})], settings, resolver)
    assert ("embedserve_models[0] (minilm): resources.requests.cpu (1773k) is above the limit cpu of this model (4): "
            "set resources.limits.cpu too") in str(error.value)
    result = resolve_catalogue([base(resources={"requests": {"cpu": "6"}, "limits": {"cpu": "8"}})], settings,
                               resolver)
    assert result["catalogue"][0]["resources"]["requests"]["cpu"] == "6"
