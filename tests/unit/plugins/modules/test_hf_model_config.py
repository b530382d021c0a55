import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins.modules import hf_model_config
from support.hub_cache import build_hub_cache

FACT_KEYS = ("vllm_max_model_len", "max_model_len", "max_model_len_source", "architectures", "model_type", "task",
             "embedding_dimension", "num_parameters", "dtype", "attention", "hidden_size", "num_hidden_layers",
             "intermediate_size", "num_key_value_heads", "head_dim", "vocab_size")


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        hf_model_config.main()
    result = json.loads(capsys.readouterr().out)
    return exit_info.value.code, result


def test_returns_facts_at_top_level_unchanged(capsys, minilm_dir):
    code, result = run_module(capsys, model=minilm_dir)
    assert code == 0
    assert result["changed"] is False
    assert all(key in result for key in FACT_KEYS)
    assert (result["max_model_len"], result["embedding_dimension"], result["task"]) == (256, 384, "embed")
    assert result["vllm_version"] == "0.32.0"


def test_check_mode_returns_the_same_facts(capsys, minilm_dir):
    _code, normal = run_module(capsys, model=minilm_dir)
    code, checked = run_module(capsys, model=minilm_dir, _ansible_check_mode=True)
    assert code == 0
    for key in FACT_KEYS:
        assert checked[key] == normal[key]


def test_hub_model_from_warm_cache_offline(capsys, minilm_dir, tmp_path):
    build_hub_cache(minilm_dir, str(tmp_path), "sentence-transformers/all-MiniLM-L6-v2")
    code, result = run_module(capsys, model="sentence-transformers/all-MiniLM-L6-v2", cache_dir=str(tmp_path),
                              offline=True, token="hf_not_needed", vllm_version="0.11.0")
    assert code == 0
    assert (result["source"], result["vllm_version"], result["max_model_len"]) == ("hub", "0.11.0", 256)


def test_options_reach_the_derivation(capsys, fixture_models):
    code, result = run_module(capsys, model=str(fixture_models / "Qwen/Qwen3-Reranker-0.6B"), max_model_len=8192,
                              hf_overrides={"max_position_embeddings": 16384})
    assert code == 0
    assert (result["vllm_max_model_len"], result["max_model_len"]) == (16384, 8192)
    assert result["hf_overrides"]["max_position_embeddings"] == 16384
    assert result["hf_overrides"]["architectures"] == ["Qwen3ForSequenceClassification"]


@pytest.mark.parametrize("args, message", [
    ({"vllm_version": "0.9.2"}, "supported: this collection mirrors vLLM 0.10.1 to 0.33.x"),
    ({"max_model_len": 512}, "omit max_model_len or set it <= 256"),
])
def test_bad_input_fails_with_clear_message(capsys, minilm_dir, args, message):
    code, result = run_module(capsys, model=minilm_dir, **args)
    assert code == 1
    assert result["failed"] is True
    assert message in result["msg"].replace("is not supported: ", "supported: ")


def test_unknown_model_offline_fails(capsys, tmp_path):
    code, result = run_module(capsys, model="nobody/no-such-model", cache_dir=str(tmp_path), offline=True)
    assert code == 1
    assert "not in the Hugging Face cache" in result["msg"]


def test_malformed_config_fails_naming_the_file(capsys, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    code, result = run_module(capsys, model=str(tmp_path))
    assert code == 1
    assert "malformed JSON in %s/config.json" % tmp_path in result["msg"]


def test_missing_huggingface_hub_is_reported_for_hub_models(capsys, monkeypatch):
    monkeypatch.setattr(hf_model_config, "import_huggingface_hub", lambda: (None, ImportError("no huggingface_hub")))
    code, result = run_module(capsys, model="BAAI/bge-m3")
    assert code == 1
    assert "huggingface_hub" in result["msg"]


def test_missing_huggingface_hub_does_not_matter_for_directories(capsys, monkeypatch, minilm_dir):
    monkeypatch.setattr(hf_model_config, "import_huggingface_hub", lambda: (None, ImportError("no huggingface_hub")))
    code, _result = run_module(capsys, model=minilm_dir)
    assert code == 0


def test_token_is_not_logged(capsys, minilm_dir, tmp_path):
    build_hub_cache(minilm_dir, str(tmp_path), "sentence-transformers/all-MiniLM-L6-v2")
    _code, result = run_module(capsys, model="sentence-transformers/all-MiniLM-L6-v2", cache_dir=str(tmp_path),
                               offline=True, token="hf_secret_value")
    assert "hf_secret_value" not in json.dumps(result)


def test_return_documents_every_fact(capsys, fixture_models):
    import yaml

    documented = set(yaml.safe_load(hf_model_config.RETURN))
    _code, result = run_module(capsys, model=str(fixture_models / "Qwen/Qwen3-Reranker-0.6B"))
    returned = set(result) - {"changed", "invocation"}
    assert returned == documented


def test_argument_spec_matches_documentation():
    import yaml

    options = yaml.safe_load(hf_model_config.DOCUMENTATION)["options"]
    assert options["vllm_version"]["default"] == hf_model_config.DEFAULT_VLLM_VERSION
    assert options["token"]["type"] == "str"
