import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import (
    QWEN3_RERANKER_OVERRIDES,
    ModelFactsError,
    apply_overrides,
    resolve_model,
    serve_dtype,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import UnsupportedVllmVersion

REQUIRED_KEYS = {
    "model", "revision", "source", "local_path", "vllm_version", "vllm_max_model_len", "max_model_len",
    "max_model_len_source", "position_limit", "requested_max_model_len", "architectures", "model_type", "task",
    "runner", "convert", "embedding_dimension", "normalize", "pooling_type", "num_labels", "num_parameters",
    "num_parameters_source", "dtype", "serve_dtype", "attention", "hidden_size", "num_hidden_layers",
    "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
    "position_embedding_type", "trust_remote_code", "hf_overrides", "files_read",
}


def fixture(fixture_models, name, **kwargs):
    return resolve_model(str(fixture_models / name), **kwargs)


def test_minilm_facts(minilm_dir):
    facts = resolve_model(minilm_dir)
    assert REQUIRED_KEYS <= set(facts)
    assert facts["source"] == "local"
    assert facts["vllm_version"] == "0.32.0"
    assert facts["architectures"] == ["BertModel"]
    assert (facts["task"], facts["runner"], facts["convert"]) == ("embed", "pooling", None)
    assert facts["embedding_dimension"] == 384
    assert facts["normalize"] is True
    assert facts["pooling_type"] == "MEAN"
    assert facts["num_labels"] is None
    assert (facts["dtype"], facts["serve_dtype"]) == ("float32", "float16")
    assert facts["attention"] == "encoder_only"
    assert (facts["hidden_size"], facts["num_hidden_layers"], facts["intermediate_size"]) == (384, 6, 1536)
    assert (facts["num_attention_heads"], facts["num_key_value_heads"], facts["head_dim"]) == (12, 12, 32)
    assert facts["vocab_size"] == 30522
    assert facts["position_embedding_type"] == "absolute"
    assert facts["trust_remote_code"] is False
    assert facts["hf_overrides"] == {}
    assert facts["files_read"] == ["config.json", "tokenizer_config.json", "sentence_bert_config.json",
                                   "modules.json", "1_Pooling/config.json", "model.safetensors (header)"]


@pytest.mark.parametrize("name, parameters", [
    # Published counts: bert-base-sized 109,482,240; granite 278,043,648; Qwen3-0.6B 595,776,512;
    # e5-mistral (MistralModel, no LM head) 7,110,660,096; ms-marco-MiniLM-L12 33,360,385.
    ("BAAI/bge-base-en-v1.5", 109482240),
    ("ibm-granite/granite-embedding-278m-multilingual", 278043648),
    ("Qwen/Qwen3-Embedding-0.6B", 595776512),
    ("intfloat/e5-mistral-7b-instruct", 7110660096),
    ("cross-encoder/ms-marco-MiniLM-L12-v2", 33360385),
])
def test_parameter_estimate_from_shape(fixture_models, name, parameters):
    facts = fixture(fixture_models, name)
    assert facts["num_parameters"] == parameters
    assert facts["num_parameters_source"] == "config_shape_estimate"


def test_minilm_shape_estimate_matches_its_safetensors(minilm_dir, tmp_path):
    for name in ("config.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes(open("%s/%s" % (minilm_dir, name), "rb").read())
    assert resolve_model(str(tmp_path))["num_parameters"] == resolve_model(minilm_dir)["num_parameters"]


def test_cross_encoder_is_a_score_model(fixture_models):
    facts = fixture(fixture_models, "cross-encoder/ms-marco-MiniLM-L12-v2")
    assert (facts["task"], facts["convert"], facts["num_labels"]) == ("score", None, 1)
    assert facts["embedding_dimension"] is None
    assert facts["pooling_type"] == "CLS"


def test_xlmr_reranker_is_a_score_model(fixture_models):
    facts = fixture(fixture_models, "BAAI/bge-reranker-v2-m3")
    assert (facts["task"], facts["num_labels"], facts["attention"]) == ("score", 1, "encoder_only")


def test_classifier_with_several_labels_is_rejected(model_dir):
    config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
              "max_position_embeddings": 512, "hidden_size": 384, "num_hidden_layers": 2,
              "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 30522,
              "id2label": {"0": "negative", "1": "neutral", "2": "positive"}}
    with pytest.raises(ModelFactsError, match="3 labels; vLLM's score and rerank APIs need exactly one"):
        resolve_model(model_dir(config))


def test_classifier_without_labels_has_transformers_default_of_two(model_dir):
    config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
              "max_position_embeddings": 512, "hidden_size": 384, "num_hidden_layers": 2,
              "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 30522}
    with pytest.raises(ModelFactsError, match="2 labels"):
        resolve_model(model_dir(config))


def test_qwen3_embedding_is_a_converted_decoder(fixture_models):
    facts = fixture(fixture_models, "Qwen/Qwen3-Embedding-0.6B")
    assert (facts["task"], facts["convert"], facts["attention"]) == ("embed", "embed", "decoder")
    assert facts["pooling_type"] == "LAST"
    assert (facts["num_key_value_heads"], facts["head_dim"]) == (8, 128)
    assert (facts["dtype"], facts["serve_dtype"]) == ("bfloat16", "bfloat16")
    assert facts["position_embedding_type"] == "rotary"


def test_qwen3_reranker_gets_the_sequence_classification_overrides(fixture_models):
    facts = fixture(fixture_models, "Qwen/Qwen3-Reranker-0.6B")
    assert facts["hf_overrides"] == QWEN3_RERANKER_OVERRIDES
    assert facts["architectures"] == ["Qwen3ForSequenceClassification"]
    assert (facts["task"], facts["num_labels"], facts["convert"]) == ("score", 1, None)
    assert facts["attention"] == "decoder"


def test_user_overrides_are_merged_and_returned(fixture_models):
    facts = fixture(fixture_models, "Qwen/Qwen3-Reranker-0.6B", hf_overrides={"max_position_embeddings": 8192})
    assert facts["hf_overrides"] == dict(QWEN3_RERANKER_OVERRIDES, max_position_embeddings=8192)
    assert facts["vllm_max_model_len"] == 8192


def test_user_architecture_override_replaces_the_reranker_detection(fixture_models):
    facts = fixture(fixture_models, "Qwen/Qwen3-Reranker-0.6B", hf_overrides={"architectures": ["Qwen3ForCausalLM"]})
    assert facts["hf_overrides"] == {"architectures": ["Qwen3ForCausalLM"]}
    assert facts["task"] == "embed"


def test_nomic_needs_remote_code_and_pools_mean(fixture_models):
    facts = fixture(fixture_models, "nomic-ai/nomic-embed-text-v1.5")
    assert facts["trust_remote_code"] is True
    assert (facts["pooling_type"], facts["normalize"]) == ("MEAN", False)
    assert (facts["hidden_size"], facts["num_hidden_layers"], facts["num_attention_heads"]) == (768, 12, 12)
    assert facts["attention"] == "encoder_only"
    assert facts["num_parameters"] == 136731648


def test_dense_layer_sets_the_embedding_dimension(minilm_dir, model_dir):
    config = open("%s/config.json" % minilm_dir).read()
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    path = model_dir(config, files={
        "modules.json": modules,
        "1_Pooling/config.json": {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True},
        "2_Dense/config.json": {"in_features": 384, "out_features": 128, "bias": True},
    })
    facts = resolve_model(path)
    assert facts["embedding_dimension"] == 128
    assert facts["normalize"] is False
    assert "2_Dense/config.json" in facts["files_read"]


def test_dense_layer_without_config_names_the_file(minilm_dir, model_dir):
    modules = [{"idx": 0, "name": "0", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    path = model_dir(open("%s/config.json" % minilm_dir).read(), files={"modules.json": modules})
    with pytest.raises(ValueError, match="2_Dense/config.json not found: .*2_Dense/config.json"):
        resolve_model(path)


def test_unsupported_vllm_version_is_rejected_before_reading(tmp_path):
    with pytest.raises(UnsupportedVllmVersion, match="0.10.1 to 0.33.x"):
        resolve_model(str(tmp_path / "nothing"), vllm_version="0.9.2")


def test_overrides_merge_nested_dicts():
    config = {"a": 1, "rope_scaling": {"type": "yarn", "factor": 2.0}}
    merged = apply_overrides(config, {"rope_scaling": {"factor": 4.0}, "b": [1]})
    assert merged == {"a": 1, "rope_scaling": {"type": "yarn", "factor": 4.0}, "b": [1]}
    assert config["rope_scaling"]["factor"] == 2.0


@pytest.mark.parametrize("config_dtype, expected", [
    (None, "float16"), ("float32", "float16"), ("float16", "float16"), ("bfloat16", "bfloat16"),
])
def test_serve_dtype_for_pooling_models(config_dtype, expected):
    assert serve_dtype(config_dtype) == expected


def test_bert_family_configs_without_position_embedding_type_get_it_stated(fixture_models):
    """transformers 5 lost the class default; vLLM's XLM-R hook then fails without the attribute."""
    from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

    facts = resolve_model(str(fixture_models / "embedserve-test" / "xlm-roberta-base-no-tokenizer-cap"))
    assert facts["hf_overrides"] == {"position_embedding_type": "absolute"}
    assert facts["vllm_max_model_len"] == 514
