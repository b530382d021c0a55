"""CPU serving (device: cpu): the CPU image, no GPU, memory from the model facts, vLLM's CPU variables."""

import math

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import (
    CPU_PROCESS_GIB,
    GIB,
    CatalogueError,
    resolve_catalogue,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

CPU_IMAGE = "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.32.0"
GPU_IMAGE = "docker.io/vllm/vllm-openai:v0.32.0"
MINILM = {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"}
GRANITE = {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual"}
QWEN = {"name": "qwen", "model": "Qwen/Qwen3-Embedding-0.6B"}


@pytest.fixture
def settings():
    return {"vllm_version": "0.32.0", "image": GPU_IMAGE, "cpu_image": CPU_IMAGE, "default_mode": "raw",
            "namespace": "models", "model_source": "hub", "cache_pvc_name": "vllm-model-cache",
            "hf_token_secret": "", "platform": "kubernetes", "network_policy_namespaces": [],
            "gpus": {"count": 1, "memory_mib": 23028, "sharing": "time-slicing",
                     "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A10G-SHARED"}}}


@pytest.fixture
def resolver(minilm_dir, fixture_models):
    folders = {MINILM["model"]: minilm_dir}
    for config in fixture_models.glob("*/*/config.json"):
        folders["%s/%s" % (config.parent.parent.name, config.parent.name)] = str(config.parent)

    def resolve(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(folders[model], vllm_version="0.32.0", max_model_len=max_model_len,
                             hf_overrides=hf_overrides, disable_sliding_window=disable_sliding_window)
    return resolve


def entries(result):
    return dict((entry["name"], entry) for entry in result["catalogue"])


def env_of(entry):
    return dict((e["name"], e.get("value")) for e in entry["container"]["env"])


def test_a_cpu_model_runs_the_cpu_image_without_a_gpu(settings, resolver):
    result = resolve_catalogue([dict(MINILM, device="cpu"), dict(GRANITE)], settings, resolver)
    minilm, granite = entries(result)["minilm"], entries(result)["granite"]
    assert minilm["device"] == "cpu" and granite["device"] == "gpu"
    assert minilm["image"] == CPU_IMAGE and granite["image"] == GPU_IMAGE
    assert minilm["gpu"] == {"enabled": False}
    # left out of the GPU plan: granite has the GPU to itself
    assert list(result["plan"]["models"]) == ["granite"]
    assert not any("nvidia.com/gpu" in part for part in (minilm["resources"]["requests"], minilm["resources"]["limits"]))
    assert minilm["scheduling"]["tolerations"] == [] and minilm["scheduling"]["node_selector"] == {}
    assert "--gpu-memory-utilization" not in minilm["container"]["args"]
    row = dict((r["name"], r) for r in result["summary"])["minilm"]
    assert row["placement"] == "no GPU"


def test_memory_is_the_weights_plus_the_kv_cache_space_vllm_reserves(settings, resolver):
    minilm = entries(resolve_catalogue([dict(MINILM, device="cpu")], settings, resolver))["minilm"]
    env = env_of(minilm)
    # an encoder keeps no KV cache: the smallest space vLLM accepts (whole GiB)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    weights_gib = minilm["facts"]["num_parameters"] * 4 / float(GIB)  # float32 on CPU
    memory = int(math.ceil(CPU_PROCESS_GIB + 1.5 * weights_gib + 1))
    assert minilm["resources"]["requests"] == {"cpu": "1", "memory": "%dGi" % memory}
    assert minilm["resources"]["limits"] == {"cpu": "2", "memory": "%dGi" % (memory + 2)}
    # one OpenMP thread per CPU of the limit, not vLLM's bind-every-core default
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "nobind" and env["OMP_NUM_THREADS"] == "2"


def test_a_decoder_gets_kv_space_for_its_length(settings, resolver):
    qwen = entries(resolve_catalogue([dict(QWEN, device="cpu", max_model_len=8192)], settings, resolver))["qwen"]
    facts = qwen["facts"]
    assert facts["attention"] == "decoder"
    kv = 2 * facts["num_hidden_layers"] * facts["num_key_value_heads"] * facts["head_dim"] * 4 * 8192
    space = int(math.ceil(2 * kv / float(GIB)))
    assert space > 1 and env_of(qwen)["VLLM_CPU_KVCACHE_SPACE"] == str(space)
    weights_gib = facts["num_parameters"] * 4 / float(GIB)
    assert qwen["resources"]["requests"]["memory"] == "%dGi" % math.ceil(CPU_PROCESS_GIB + 1.5 * weights_gib + space)
    shorter = entries(resolve_catalogue([dict(QWEN, device="cpu", max_model_len=512)], settings, resolver))["qwen"]
    assert int(env_of(shorter)["VLLM_CPU_KVCACHE_SPACE"]) < space


def test_the_entry_still_decides_image_env_and_resources(settings, resolver):
    own = dict(MINILM, device="cpu", image="registry.example/vllm-cpu:v0.32.0", env={"VLLM_CPU_KVCACHE_SPACE": "3"},
               resources={"limits": {"cpu": "3500m"}})
    minilm = entries(resolve_catalogue([own], settings, resolver))["minilm"]
    assert minilm["image"] == "registry.example/vllm-cpu:v0.32.0"
    assert env_of(minilm)["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert env_of(minilm)["OMP_NUM_THREADS"] == "3"


def test_gpu_false_is_the_older_spelling_of_cpu(settings, resolver):
    settings["gpus"] = {}
    minilm = entries(resolve_catalogue([dict(MINILM, gpu=False)], settings, resolver))["minilm"]
    assert minilm["device"] == "cpu" and minilm["image"] == CPU_IMAGE
    assert env_of(minilm)["VLLM_CPU_KVCACHE_SPACE"] == "1"


def test_without_a_cpu_image_cpu_models_keep_the_vllm_image(settings, resolver):
    del settings["cpu_image"]
    minilm = entries(resolve_catalogue([dict(MINILM, device="cpu")], settings, resolver))["minilm"]
    assert minilm["image"] == GPU_IMAGE


def test_an_unpinned_cpu_image_is_refused_before_anything_is_deployed(settings, resolver):
    settings["cpu_image"] = "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:latest"
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([dict(MINILM, device="cpu")], settings, resolver)
    assert "embedserve_cpu_image (used by minilm)" in str(error.value) and "latest" in str(error.value)
    # GPU-only catalogues do not care
    resolve_catalogue([dict(GRANITE)], settings, resolver)


def test_kserve_cpu_models_carry_the_cpu_variables_on_the_runtime(settings, resolver):
    minilm = entries(resolve_catalogue([dict(MINILM, device="cpu", mode="kserve")], settings, resolver))["minilm"]
    assert minilm["kserve"]["env"]["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert minilm["image"] == CPU_IMAGE and minilm["gpu"] == {"enabled": False}
