import json
import math
from pathlib import Path

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.gpu_sizing import (
    CUDA_CONTEXT_MIB,
    MIB,
    GpuSizingError,
    default_batched_tokens,
    estimate_footprint,
    gpu_memory_fraction,
    gpu_plan,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

A10G_MIB = 23028
# The H100 measurements the sizing is calibrated on, carried in the repository
# (tests/data/SOURCES.md says where they come from).
MEASUREMENTS = Path(__file__).resolve().parents[3] / "data" / "gpu-footprint-h100.json"
MEASURED_MODEL_DIRS = {
    "ms-marco-MiniLM-L12-v2": "cross-encoder/ms-marco-MiniLM-L12-v2",
    "granite-embedding-278m-multilingual": "ibm-granite/granite-embedding-278m-multilingual",
    "bge-m3": "BAAI/bge-m3",
    "Qwen3-Embedding-0.6B": "Qwen/Qwen3-Embedding-0.6B",
}


def measured_rows():
    # Without the calibration data the "never below the measurements"
    # guarantee is unverified, so a missing file fails.
    with open(MEASUREMENTS) as handle:
        return json.load(handle)["rows"]


@pytest.fixture
def facts_of(minilm_dir, fixture_models):
    def load(name, **kwargs):
        if name == "all-MiniLM-L6-v2":
            return resolve_model(minilm_dir, **kwargs)
        return resolve_model(str(fixture_models / MEASURED_MODEL_DIRS[name]), **kwargs)
    return load


def test_estimate_is_never_below_the_h100_measurements(facts_of):
    """Every row: estimate + CUDA context >= process memory; weights and activations >= measured.

    The PyTorch measurement of the decoder (Qwen3) ran with the KV cache on, so its activation peak
    includes the KV of the tokens processed; vLLM keeps those in its KV cache instead. For decoders the
    comparison is therefore activations + KV cache, and activations alone against the peak minus that KV.
    """
    rows = measured_rows()
    assert len(rows) == 20
    for row in rows:
        facts = facts_of(row["model"], max_model_len=row["seq_len"])
        estimate = estimate_footprint(facts, max_num_batched_tokens=row["tokens"], dtype="float16")
        label = "%s at %d tokens" % (row["model"], row["tokens"])
        assert estimate["total"] >= row["process_used_mib"] * MIB, label
        assert estimate["weights"] >= row["weights_mib"] * MIB, label
        if facts["attention"] == "decoder":
            kv_of_tokens = (2 * facts["num_hidden_layers"] * facts["num_key_value_heads"] * facts["head_dim"]
                            * 2 * row["tokens"])
            assert estimate["activations"] + estimate["kv_cache"] >= row["activation_mib"] * MIB, label
            assert estimate["activations"] >= row["activation_mib"] * MIB - kv_of_tokens, label
        else:
            assert estimate["kv_cache"] == 0
            assert estimate["activations"] >= row["activation_mib"] * MIB, label


def test_footprint_parts_add_up(minilm_dir):
    estimate = estimate_footprint(resolve_model(minilm_dir))
    parts = ("weights", "activations", "workspace", "kv_cache", "cuda_context")
    assert estimate["total"] == sum(estimate[part] for part in parts)
    assert estimate["cuda_context"] == CUDA_CONTEXT_MIB * MIB


@pytest.mark.parametrize("version, gpu_mib, expected", [
    ("0.10.1", A10G_MIB, 256),      # chunked prefill off: a batch is one max-length sequence
    ("0.11.0", A10G_MIB, 256),
    ("0.12.0", A10G_MIB, 2048),     # from 0.12: at least the server default
    ("0.32.0", A10G_MIB, 2048),
    ("0.32.0", 81559, 8192),        # H100 80GB tier
    ("0.32.0", 183359, 16384),      # >= 160 GiB tier
])
def test_default_batched_tokens_encoder(minilm_dir, version, gpu_mib, expected):
    facts = resolve_model(minilm_dir, vllm_version=version)
    assert default_batched_tokens(facts, version, facts["max_model_len"], gpu_mib) == expected


def test_default_batched_tokens_long_encoder_is_its_length(fixture_models):
    facts = resolve_model(str(fixture_models / "BAAI/bge-m3"))
    assert default_batched_tokens(facts, "0.32.0", 8192, A10G_MIB) == 8192


def test_default_batched_tokens_last_token_decoder_chunks(fixture_models):
    facts = resolve_model(str(fixture_models / "Qwen/Qwen3-Embedding-0.6B"), vllm_version="0.11.0")
    assert default_batched_tokens(facts, "0.11.0", 32768, A10G_MIB) == 2048


def test_decoder_kv_cache_holds_one_max_length_sequence(fixture_models):
    facts = resolve_model(str(fixture_models / "Qwen/Qwen3-Embedding-0.6B"), max_model_len=8192)
    estimate = estimate_footprint(facts, gpu_memory_mib=A10G_MIB)
    assert estimate["kv_cache"] == 2 * 28 * 8 * 128 * 2 * 8192  # 112 KiB per token in bf16


def test_minilm_fraction_on_a10g_covers_the_footprint_with_headroom(minilm_dir):
    facts = resolve_model(minilm_dir)
    fraction = gpu_memory_fraction(facts, A10G_MIB)
    estimate = estimate_footprint(facts, gpu_memory_mib=A10G_MIB)
    budget = (estimate["total"] - estimate["cuda_context"]) * 1.1
    assert fraction == 0.02
    assert fraction * A10G_MIB * MIB >= budget
    assert (fraction - 0.01) * A10G_MIB * MIB < budget  # rounded up by less than 0.01


def test_fraction_grows_with_headroom_and_length(fixture_models):
    path = str(fixture_models / "Qwen/Qwen3-Embedding-0.6B")
    short = resolve_model(path, max_model_len=8192)
    full = resolve_model(path)
    assert gpu_memory_fraction(short, A10G_MIB) < gpu_memory_fraction(full, A10G_MIB)
    assert gpu_memory_fraction(short, A10G_MIB, headroom=0.5) > gpu_memory_fraction(short, A10G_MIB)


def test_model_too_big_for_the_gpu_is_reported(fixture_models):
    facts = resolve_model(str(fixture_models / "intfloat/e5-mistral-7b-instruct"))
    with pytest.raises(GpuSizingError) as error:
        gpu_memory_fraction(facts, 15360)
    assert "does not fit on a GPU with 15360 MiB" in str(error.value)
    assert "e5-mistral-7b-instruct" in str(error.value)


@pytest.mark.parametrize("bad", [0, -1, "23028", None, True])
def test_gpu_memory_must_be_a_positive_integer(minilm_dir, bad):
    with pytest.raises(GpuSizingError, match="gpu_memory_mib must be a positive integer"):
        gpu_memory_fraction(resolve_model(minilm_dir), bad)


@pytest.fixture
def seed_catalogue(minilm_dir, fixture_models):
    return [
        dict(resolve_model(minilm_dir), name="all-minilm-l6-v2"),
        dict(resolve_model(str(fixture_models / "ibm-granite/granite-embedding-278m-multilingual")),
             name="granite-embedding-278m"),
        dict(resolve_model(str(fixture_models / "cross-encoder/ms-marco-MiniLM-L12-v2")), name="ms-marco-reranker"),
    ]


def test_seed_catalogue_fits_on_one_time_sliced_a10g(seed_catalogue):
    plan = gpu_plan(seed_catalogue, {"count": 1, "memory_mib": A10G_MIB, "sharing": "time-slicing"})
    assert {name: entry["gpu_index"] for name, entry in plan["models"].items()} == {
        "all-minilm-l6-v2": 0, "granite-embedding-278m": 0, "ms-marco-reranker": 0}
    assert {name: entry["fraction"] for name, entry in plan["models"].items()} == {
        "all-minilm-l6-v2": 0.02, "granite-embedding-278m": 0.05, "ms-marco-reranker": 0.03}
    gpu = plan["gpus"][0]
    assert gpu["fraction_sum"] + gpu["context_fraction"] + plan["margin"] <= 1
    assert gpu["fraction_sum"] + 3 * CUDA_CONTEXT_MIB / A10G_MIB + plan["margin"] <= 1
    entry = plan["models"]["all-minilm-l6-v2"]
    assert (entry["resource"], entry["resource_count"]) == ("nvidia.com/gpu", 1)
    assert "shared with granite-embedding-278m, ms-marco-reranker" in entry["placement"]


def test_infeasible_time_slicing_names_models_and_shortfall(fixture_models, seed_catalogue):
    catalogue = [
        dict(resolve_model(str(fixture_models / "intfloat/e5-mistral-7b-instruct")), name="e5-mistral"),
        dict(resolve_model(str(fixture_models / "Qwen/Qwen3-Embedding-0.6B")), name="qwen3-embedding"),
        seed_catalogue[0],
    ]
    with pytest.raises(GpuSizingError) as error:
        gpu_plan(catalogue, {"count": 1, "memory_mib": A10G_MIB})
    message = str(error.value)
    assert message.startswith("GPU plan does not fit")
    # Largest first: e5-mistral (0.74 + 768 MiB context) fits, Qwen3 at 32768 tokens (0.29 x 23028 + 768
    # = 7447 MiB) does not, MiniLM (0.02 + context) does. Left: (0.95 - 0.76 - 2 x 768/23028) x 23028 = 2839.
    assert "qwen3-embedding needs 7447 MiB, the emptiest of 1 GPU(s) has 2839 MiB left (short by 4608 MiB)" in message
    assert "e5-mistral needs" not in message
    assert "all-minilm-l6-v2" not in message


def test_time_slicing_spreads_over_gpus_when_needed(fixture_models):
    models = [dict(resolve_model(str(fixture_models / "intfloat/e5-mistral-7b-instruct")), name="e5-%d" % i)
              for i in range(2)]
    plan = gpu_plan(models, {"count": 2, "memory_mib": A10G_MIB})
    assert sorted(entry["gpu_index"] for entry in plan["models"].values()) == [0, 1]


def test_exclusive_gives_each_model_a_whole_gpu(seed_catalogue):
    plan = gpu_plan(seed_catalogue, {"count": 3, "memory_mib": A10G_MIB, "sharing": "exclusive"})
    assert [entry["gpu_index"] for entry in plan["models"].values()] == [0, 1, 2]
    budget = math.floor((1 - 0.05 - CUDA_CONTEXT_MIB / A10G_MIB) * 100) / 100
    assert all(entry["fraction"] == budget for entry in plan["models"].values())


def test_exclusive_with_too_few_gpus_names_the_models_left_over(seed_catalogue):
    with pytest.raises(GpuSizingError) as error:
        gpu_plan(seed_catalogue, {"count": 2, "memory_mib": A10G_MIB, "sharing": "exclusive"})
    assert "without a device: ms-marco-reranker (short by" in str(error.value)


def test_mig_slices(seed_catalogue, fixture_models):
    gpus = {"count": 3, "sharing": "mig", "mig_profile": "1g.10gb", "mig_memory_mib": 9856}
    plan = gpu_plan(seed_catalogue, gpus)
    entry = plan["models"]["granite-embedding-278m"]
    assert entry["resource"] == "nvidia.com/mig-1g.10gb"
    assert entry["placement"].startswith("MIG slice 1g.10gb #1")
    e5 = [dict(resolve_model(str(fixture_models / "intfloat/e5-mistral-7b-instruct")), name="e5-mistral")]
    with pytest.raises(GpuSizingError, match="e5-mistral"):
        gpu_plan(e5, gpus)


@pytest.mark.parametrize("gpus, message", [
    ({"memory_mib": A10G_MIB, "sharing": "shared"}, "gpus.sharing must be one of"),
    ({"memory_mib": 0}, "gpus.memory_mib must be a positive integer"),
    ({"sharing": "mig", "mig_memory_mib": 9856}, "gpus.mig_profile"),
    ({"memory_mib": A10G_MIB, "margin": 1.5}, r"gpus.margin must be a number in \[0, 1\)"),
])
def test_invalid_gpus(seed_catalogue, gpus, message):
    with pytest.raises(GpuSizingError, match=message):
        gpu_plan(seed_catalogue, gpus)


def test_model_names_must_be_unique(seed_catalogue):
    with pytest.raises(GpuSizingError, match="unique name"):
        gpu_plan(seed_catalogue + [seed_catalogue[0]], {"memory_mib": A10G_MIB})


def test_plan_honours_a_per_model_batch_size(seed_catalogue):
    default = gpu_plan(seed_catalogue, {"memory_mib": A10G_MIB})
    bigger = [dict(seed_catalogue[0], max_num_batched_tokens=32768)] + seed_catalogue[1:]
    planned = gpu_plan(bigger, {"memory_mib": A10G_MIB})
    assert planned["models"]["all-minilm-l6-v2"]["fraction"] > default["models"]["all-minilm-l6-v2"]["fraction"]
    assert planned["models"]["ms-marco-reranker"] == default["models"]["ms-marco-reranker"]
