import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.filter.vllm import FilterModule
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

FILTERS = FilterModule().filters()
A10G_MIB = 23028


@pytest.fixture
def minilm(minilm_dir):
    return resolve_model(minilm_dir)


def test_exposes_the_three_filters():
    assert set(FILTERS) == {"gpu_memory_fraction", "gpu_plan", "vllm_args"}


def test_fraction_accepts_survey_strings(minilm):
    typed = FILTERS["gpu_memory_fraction"](minilm, A10G_MIB, None, 4096, None, 0.2)
    assert FILTERS["gpu_memory_fraction"](minilm, "23028", None, "4096", None, "0.2") == typed
    assert 0 < typed <= 1


@pytest.mark.parametrize("value, message", [
    ("lots", "gpu_memory_mib must be an integer"),
    (0, "gpu_memory_mib must be a positive integer"),
])
def test_fraction_errors_are_filter_errors(minilm, value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS["gpu_memory_fraction"](minilm, value)


def test_fraction_rejects_non_facts():
    with pytest.raises(AnsibleFilterError, match="result of embedserve.vllm.hf_model_config"):
        FILTERS["gpu_memory_fraction"]({"model": "x"}, A10G_MIB)


def test_plan_casts_gpu_strings(minilm, fixture_models):
    models = [dict(minilm, name="minilm"),
              dict(resolve_model(str(fixture_models / "cross-encoder/ms-marco-MiniLM-L12-v2")), name="msmarco")]
    plan = FILTERS["gpu_plan"](models, {"count": "1", "memory_mib": "23028", "margin": "0.05"})
    assert plan["models"]["msmarco"]["gpu_index"] == 0
    assert plan["memory_mib"] == A10G_MIB


def test_plan_failure_is_a_filter_error(fixture_models):
    e5 = resolve_model(str(fixture_models / "intfloat/e5-mistral-7b-instruct"))
    with pytest.raises(AnsibleFilterError, match="GPU plan does not fit.*e5 needs .* MiB"):
        FILTERS["gpu_plan"]([dict(e5, name="e5")], {"memory_mib": 16384})


def test_plan_input_must_be_a_list(minilm):
    with pytest.raises(AnsibleFilterError, match="list of model facts"):
        FILTERS["gpu_plan"](minilm, {"memory_mib": A10G_MIB})


def test_vllm_args_casts_option_strings(minilm):
    built = FILTERS["vllm_args"](minilm, {"port": "8080", "gpu_memory_utilization": "0.02",
                                          "enforce_eager": "yes", "max_num_seqs": "64"})
    args = built["args"]
    assert args[args.index("--port") + 1] == "8080"
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.02"
    assert args[args.index("--max-num-seqs") + 1] == "64"
    assert "--enforce-eager" in args


def test_vllm_args_false_string_is_false(minilm):
    assert "--enforce-eager" not in FILTERS["vllm_args"](minilm, {"enforce_eager": "false"})["args"]


@pytest.mark.parametrize("options, message", [
    ({"enforce_eager": "maybe"}, "options.enforce_eager must be a boolean"),
    ({"extra_args": ["--task=embed"]}, "--task must not be used"),
    ("port=8080", "options must be a dict"),
])
def test_vllm_args_errors_are_filter_errors(minilm, options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS["vllm_args"](minilm, options)
