import json

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import QWEN3_RERANKER_OVERRIDES, resolve_model
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import VllmCliError, build_vllm_command

MODULE_COMMAND = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
SUPPORTED = ["0.10.1", "0.11.0", "0.12.0", "0.13.0", "0.16.0", "0.21.0", "0.30.0", "0.32.0", "0.33.0"]


def flag_value(args, flag):
    return args[args.index(flag) + 1]


@pytest.fixture
def minilm(minilm_dir):
    return resolve_model(minilm_dir)


def test_default_module_entrypoint_uses_model_flag(minilm, minilm_dir):
    built = build_vllm_command(minilm)
    assert built["command"] == MODULE_COMMAND
    assert built["args"] == [
        "--model", minilm_dir, "--served-model-name", "model", "--runner", "pooling",
        "--max-model-len", "256", "--port", "8000",
    ]
    assert built["env"] == {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}


def test_vllm_serve_takes_the_model_positionally(minilm):
    built = build_vllm_command(minilm, {"entrypoint": "serve", "model_path": "/mnt/models",
                                        "served_model_name": "{{.Name}}", "port": 8080})
    assert built["command"] == ["vllm", "serve"]
    assert built["args"][0] == "/mnt/models"
    assert "--model" not in built["args"]
    assert flag_value(built["args"], "--served-model-name") == "{{.Name}}"
    assert flag_value(built["args"], "--port") == "8080"


def test_hub_model_defaults_to_repo_id_and_online(minilm_dir, tmp_path):
    from support.hub_cache import build_hub_cache
    build_hub_cache(minilm_dir, str(tmp_path), "sentence-transformers/all-MiniLM-L6-v2")
    facts = resolve_model("sentence-transformers/all-MiniLM-L6-v2", cache_dir=str(tmp_path), offline=True)
    built = build_vllm_command(facts)
    assert flag_value(built["args"], "--model") == "sentence-transformers/all-MiniLM-L6-v2"
    assert flag_value(built["args"], "--served-model-name") == "sentence-transformers/all-MiniLM-L6-v2"
    assert "HF_HUB_OFFLINE" not in built["env"]
    assert build_vllm_command(facts, {"offline": True})["env"]["HF_HUB_OFFLINE"] == "1"


@pytest.mark.parametrize("version", SUPPORTED)
def test_never_task_never_reward_always_runner_pooling(fixture_models, version):
    for name in ("Qwen/Qwen3-Embedding-0.6B", "Qwen/Qwen3-Reranker-0.6B", "cross-encoder/ms-marco-MiniLM-L12-v2"):
        args = build_vllm_command(resolve_model(str(fixture_models / name), vllm_version=version))["args"]
        assert "--task" not in args
        assert "reward" not in args
        assert flag_value(args, "--runner") == "pooling"


def test_generative_embedding_model_is_converted(fixture_models):
    args = build_vllm_command(resolve_model(str(fixture_models / "Qwen/Qwen3-Embedding-0.6B")))["args"]
    assert flag_value(args, "--convert") == "embed"


@pytest.mark.parametrize("name", ["cross-encoder/ms-marco-MiniLM-L12-v2", "intfloat/e5-mistral-7b-instruct"])
def test_native_pooling_architectures_are_not_converted(fixture_models, name):
    assert "--convert" not in build_vllm_command(resolve_model(str(fixture_models / name)))["args"]


def test_qwen3_reranker_gets_hf_overrides_json(fixture_models):
    facts = resolve_model(str(fixture_models / "Qwen/Qwen3-Reranker-0.6B"), max_model_len=8192)
    args = build_vllm_command(facts, {"chat_template": "/etc/vllm/qwen3_reranker.jinja"})["args"]
    assert json.loads(flag_value(args, "--hf-overrides")) == QWEN3_RERANKER_OVERRIDES
    assert flag_value(args, "--max-model-len") == "8192"
    assert flag_value(args, "--chat-template") == "/etc/vllm/qwen3_reranker.jinja"
    assert "--trust-remote-code" not in args


def test_remote_code_only_when_the_config_needs_it(fixture_models, minilm):
    assert "--trust-remote-code" in build_vllm_command(
        resolve_model(str(fixture_models / "nomic-ai/nomic-embed-text-v1.5")))["args"]
    assert "--trust-remote-code" not in build_vllm_command(minilm)["args"]


@pytest.mark.parametrize("version, flag", [
    ("0.10.1", "--override-pooler-config"), ("0.10.2", "--override-pooler-config"),
    ("0.11.0", "--pooler-config"), ("0.33.0", "--pooler-config"),
])
def test_pooler_config_flag_name_by_version(minilm_dir, version, flag):
    facts = resolve_model(minilm_dir, vllm_version=version)
    args = build_vllm_command(facts, {"pooler_config": {"pooling_type": "MEAN", "normalize": True}})["args"]
    assert json.loads(flag_value(args, flag)) == {"pooling_type": "MEAN", "normalize": True}


def test_memory_and_batch_options(minilm):
    args = build_vllm_command(minilm, {"gpu_memory_utilization": 0.03, "max_num_batched_tokens": 4096,
                                       "max_num_seqs": 128, "enforce_eager": True, "dtype": "float32"})["args"]
    assert flag_value(args, "--gpu-memory-utilization") == "0.03"
    assert flag_value(args, "--max-num-batched-tokens") == "4096"
    assert flag_value(args, "--max-num-seqs") == "128"
    assert flag_value(args, "--dtype") == "float32"
    assert "--enforce-eager" in args


def test_sliding_window_flag_follows_the_facts(fixture_models):
    facts = resolve_model(str(fixture_models / "intfloat/e5-mistral-7b-instruct"), disable_sliding_window=True)
    assert "--disable-sliding-window" in build_vllm_command(facts)["args"]


def test_batched_tokens_below_length_rejected_without_chunked_prefill(minilm):
    with pytest.raises(VllmCliError, match=r"max_num_batched_tokens \(128\) must be >= max_model_len \(256\)"):
        build_vllm_command(minilm, {"max_num_batched_tokens": 128})


def test_batched_tokens_below_length_allowed_with_chunked_prefill(fixture_models):
    facts = resolve_model(str(fixture_models / "Qwen/Qwen3-Embedding-0.6B"))
    args = build_vllm_command(facts, {"max_num_batched_tokens": 8192})["args"]
    assert flag_value(args, "--max-num-batched-tokens") == "8192"


def test_batched_tokens_below_max_num_seqs_rejected(minilm):
    with pytest.raises(VllmCliError, match=r"\(512\) must be >= max_num_seqs \(1024\)"):
        build_vllm_command(minilm, {"max_num_batched_tokens": 512, "max_num_seqs": 1024})


@pytest.mark.parametrize("options, message", [
    ({"gpu_memory_utilization": 1.5}, r"gpu_memory_utilization must be a number in \(0, 1\]"),
    ({"gpu_memory_utilization": 0}, "gpu_memory_utilization"),
    ({"dtype": "fp8"}, "dtype must be one of"),
    ({"port": 70000}, "port must be an integer"),
    ({"entrypoint": "docker"}, "entrypoint must be one of"),
    ({"max_num_seqs": "many"}, "max_num_seqs must be a positive integer"),
    ({"gpu_util": 0.5}, "unknown vLLM option"),
    ({"extra_args": ["--task", "embed"]}, "--task must not be used"),
    ({"extra_args": ["--max-model-len=512"]}, "extra_args must not set --max-model-len"),
    ({"extra_args": ["--convert", "reward"]}, "extra_args must not set --convert"),
    ({"extra_args": "--enable-prefix-caching"}, "extra_args must be a list of strings"),
    ({"pooler_config": "MEAN"}, "pooler_config must be a dict"),
])
def test_invalid_options(minilm, options, message):
    with pytest.raises(VllmCliError, match=message):
        build_vllm_command(minilm, options)


def test_extra_args_and_env_pass_through(minilm):
    built = build_vllm_command(minilm, {"extra_args": ["--disable-log-stats", "--uvicorn-log-level", "warning"],
                                        "env": {"VLLM_CPU_KVCACHE_SPACE": 1}})
    assert built["args"][-3:] == ["--disable-log-stats", "--uvicorn-log-level", "warning"]
    assert built["env"]["VLLM_CPU_KVCACHE_SPACE"] == "1"


def test_facts_must_match_the_requested_version(minilm):
    with pytest.raises(VllmCliError, match="resolved for vLLM 0.32.0, not 0.31.0"):
        build_vllm_command(minilm, vllm_version="0.31.0")
    assert build_vllm_command(minilm, vllm_version="v0.32.0")["command"] == MODULE_COMMAND


def test_length_above_vllm_value_is_refused(minilm):
    tampered = dict(minilm, max_model_len=512)
    with pytest.raises(VllmCliError, match="exceeds what vLLM 0.32.0 derives"):
        build_vllm_command(tampered)


def test_nomic_length_flag_is_left_out_where_it_would_change_vllms_derivation(fixture_models):
    from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
    from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import build_vllm_command

    nomic = str(fixture_models / "nomic-ai" / "nomic-embed-text-v1.5")
    old = resolve_model(nomic, vllm_version="0.21.0")
    assert "--max-model-len" not in build_vllm_command(old, {}, "0.21.0")["args"]
    new = resolve_model(nomic, vllm_version="0.22.0")
    assert "--max-model-len" in build_vllm_command(new, {}, "0.22.0")["args"]


def test_hub_models_are_served_at_the_resolved_commit(minilm_dir, tmp_path):
    from support.hub_cache import build_hub_cache
    from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
    from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import build_vllm_command

    build_hub_cache(minilm_dir, str(tmp_path), "sentence-transformers/all-MiniLM-L6-v2", commit="c" * 40)
    facts = resolve_model("sentence-transformers/all-MiniLM-L6-v2", cache_dir=str(tmp_path), offline=True)
    args = build_vllm_command(facts, {})["args"]
    assert args[args.index("--revision") + 1] == "c" * 40
    local = build_vllm_command(resolve_model(minilm_dir), {})["args"]
    assert "--revision" not in local
