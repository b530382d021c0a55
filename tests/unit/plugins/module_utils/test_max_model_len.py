"""The derivation must give what vLLM gives (R2 §1.5 runs, §1.6 published configs) per version."""

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.max_model_len import MaxModelLenError
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

BERT = {"architectures": ["BertModel"], "model_type": "bert", "max_position_embeddings": 512,
        "position_embedding_type": "absolute", "hidden_size": 384, "num_hidden_layers": 6,
        "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 30522, "type_vocab_size": 2,
        "pad_token_id": 0}
XLMR = {"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "max_position_embeddings": 514,
        "position_embedding_type": "absolute", "hidden_size": 768, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 250002, "type_vocab_size": 1,
        "pad_token_id": 1}
QWEN3 = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "max_position_embeddings": 32768,
         "hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
         "head_dim": 128, "intermediate_size": 3072, "vocab_size": 151669, "rope_theta": 1000000,
         "tie_word_embeddings": True}
MISTRAL = {"architectures": ["MistralModel"], "model_type": "mistral", "max_position_embeddings": 32768,
           "sliding_window": 4096, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
           "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000, "rope_theta": 10000.0}
ALL_VERSIONS = ["0.10.1", "0.11.0", "0.13.0", "0.21.0", "0.22.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0"]


def derived(path, version, **kwargs):
    return resolve_model(path, vllm_version=version, **kwargs)["vllm_max_model_len"]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_minilm_real_folder_derives_256_from_sentence_bert_config(minilm_dir, version):
    facts = resolve_model(minilm_dir, vllm_version=version)
    assert facts["vllm_max_model_len"] == 256
    assert facts["max_model_len"] == 256
    assert facts["max_model_len_source"] == {"file": "sentence_bert_config.json", "key": "max_seq_length"}
    assert facts["position_limit"] == {"value": 512, "file": "config.json", "key": "max_position_embeddings"}


@pytest.mark.parametrize("version, expected", [
    ("0.10.1", 512), ("0.11.0", 512), ("0.31.0", 512), ("0.32.0", 256), ("0.33.0", 256),
])
def test_st_max_seq_length_without_do_lower_case_counts_from_0_32(model_dir, version, expected):
    path = model_dir(BERT, tokenizer={"model_max_length": 512}, st={"max_seq_length": 256})
    facts = resolve_model(path, vllm_version=version)
    assert facts["vllm_max_model_len"] == expected
    if expected == 512:
        assert any("no do_lower_case" in note for note in facts["notes"])


@pytest.mark.parametrize("version", ["0.11.0", "0.33.0"])
def test_st_max_seq_length_above_table_is_derived_by_vllm_but_not_deployed(model_dir, version):
    path = model_dir(BERT, tokenizer={"model_max_length": 512}, st={"max_seq_length": 1024, "do_lower_case": False})
    facts = resolve_model(path, vllm_version=version)
    assert facts["vllm_max_model_len"] == 1024
    assert facts["max_model_len"] == 512
    assert facts["max_model_len_source"] == {"file": "config.json", "key": "max_position_embeddings"}


@pytest.mark.parametrize("version", ["0.11.0", "0.33.0"])
def test_xlmr_tokenizer_caps_absolute_positions(model_dir, version):
    facts = resolve_model(model_dir(XLMR, tokenizer={"model_max_length": 512}), vllm_version=version)
    assert facts["vllm_max_model_len"] == 512
    assert facts["max_model_len_source"] == {"file": "tokenizer_config.json", "key": "model_max_length"}


def test_xlmr_class_default_absolute_still_gets_tokenizer_cap(model_dir):
    config = {key: value for key, value in XLMR.items() if key != "position_embedding_type"}
    assert derived(model_dir(config, tokenizer={"model_max_length": 512}), "0.32.0") == 512


@pytest.mark.parametrize("version", ["0.11.0", "0.33.0"])
def test_xlmr_without_tokenizer_cap_vllm_derives_514_we_deploy_512(fixture_models, version):
    facts = resolve_model(str(fixture_models / "embedserve-test/xlm-roberta-base-no-tokenizer-cap"),
                          vllm_version=version)
    assert facts["vllm_max_model_len"] == 514
    assert facts["max_model_len"] == 512
    assert facts["position_limit"] == {"value": 512, "file": "config.json",
                                       "key": "max_position_embeddings - (pad_token_id + 1)"}


def test_tokenizer_cap_ignored_for_rotary_models(model_dir):
    assert derived(model_dir(QWEN3, tokenizer={"model_max_length": 1024}), "0.32.0") == 32768


@pytest.mark.parametrize("model, expected", [
    ("ibm-granite/granite-embedding-278m-multilingual", 512),
    ("cross-encoder/ms-marco-MiniLM-L12-v2", 512),
    ("BAAI/bge-m3", 8192),
    ("BAAI/bge-reranker-v2-m3", 8192),
    ("BAAI/bge-base-en-v1.5", 512),
    ("Qwen/Qwen3-Embedding-0.6B", 32768),
    ("Qwen/Qwen3-Reranker-0.6B", 40960),
    ("intfloat/e5-mistral-7b-instruct", 4096),
])
@pytest.mark.parametrize("version", ["0.10.1", "0.13.0", "0.33.0"])
def test_published_configs(fixture_models, model, expected, version):
    facts = resolve_model(str(fixture_models / model), vllm_version=version)
    assert facts["vllm_max_model_len"] == expected
    assert facts["max_model_len"] == expected


@pytest.mark.parametrize("version, expected, key", [
    ("0.10.1", 2048, "max_trained_positions"),
    ("0.21.0", 2048, "max_trained_positions"),
    ("0.22.0", 8192, "n_positions"),
    ("0.33.0", 8192, "n_positions"),
])
def test_nomic_hook_until_0_21(fixture_models, version, expected, key):
    facts = resolve_model(str(fixture_models / "nomic-ai/nomic-embed-text-v1.5"), vllm_version=version)
    assert facts["vllm_max_model_len"] == expected
    assert facts["max_model_len_source"] == {"file": "config.json", "key": key}
    assert facts["position_limit"] is None


def test_nomic_hook_skipped_when_hf_overrides_are_given(fixture_models):
    facts = resolve_model(str(fixture_models / "nomic-ai/nomic-embed-text-v1.5"), vllm_version="0.21.0",
                          hf_overrides={"rotary_scaling_factor": 2.0})
    assert facts["vllm_max_model_len"] == 8192


@pytest.mark.parametrize("version, expected", [
    ("0.11.0", 131072), ("0.29.0", 131072), ("0.30.0", 32768), ("0.33.0", 32768),
])
def test_yarn_multiplies_before_0_30_only(fixture_models, version, expected):
    path = str(fixture_models / "embedserve-test/Qwen3-Embedding-0.6B-yarn")
    assert derived(path, version) == expected


@pytest.mark.parametrize("version", ["0.11.0", "0.33.0"])
def test_dynamic_rope_multiplies_in_every_version(model_dir, version):
    config = dict(QWEN3, rope_scaling={"type": "dynamic", "factor": 2.0})
    assert derived(model_dir(config), version) == 65536


def test_rope_parameters_spelling_is_read_too(model_dir):
    config = dict(QWEN3, rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6})
    assert derived(model_dir(config), "0.33.0") == 65536


def test_gemma3_rope_scaling_is_not_applied(model_dir):
    config = dict(QWEN3, model_type="gemma3_text", architectures=["Gemma3TextModel"],
                  max_position_embeddings=131072, rope_scaling={"rope_type": "linear", "factor": 8.0})
    assert derived(model_dir(config), "0.32.0") == 131072


@pytest.mark.parametrize("version, expected", [("0.11.0", 131072), ("0.12.0", 4096), ("0.33.0", 4096)])
def test_longrope_defaults_to_original_length_from_0_12(model_dir, version, expected):
    config = dict(QWEN3, max_position_embeddings=131072, original_max_position_embeddings=4096,
                  rope_scaling={"type": "su", "long_factor": [1.0], "short_factor": [1.0]})
    assert derived(model_dir(config), version) == expected


def test_config_model_max_length_replaces_the_key_minimum(model_dir):
    config = dict(QWEN3, max_position_embeddings=8192, model_max_length=131072)
    facts = resolve_model(model_dir(config), vllm_version="0.32.0")
    assert facts["vllm_max_model_len"] == 131072
    assert facts["vllm_max_model_len_source"] == {"file": "config.json", "key": "model_max_length"}


def test_key_scan_takes_the_minimum(model_dir):
    config = dict(QWEN3, max_position_embeddings=32768, seq_length=8192)
    facts = resolve_model(model_dir(config), vllm_version="0.32.0")
    assert facts["vllm_max_model_len_source"] == {"file": "config.json", "key": "seq_length"}
    assert facts["vllm_max_model_len"] == 8192


@pytest.mark.parametrize("disable, expected", [(False, 32768), (True, 4096)])
def test_sliding_window_only_caps_when_disabled(model_dir, disable, expected):
    facts = resolve_model(model_dir(MISTRAL), vllm_version="0.32.0", disable_sliding_window=disable)
    assert facts["vllm_max_model_len"] == expected
    assert facts["disable_sliding_window"] is disable


def test_disabling_sliding_window_with_rope_scaling_is_refused(model_dir):
    config = dict(MISTRAL, rope_scaling={"type": "linear", "factor": 2.0})
    with pytest.raises(MaxModelLenError, match="sliding window"):
        resolve_model(model_dir(config), vllm_version="0.32.0", disable_sliding_window=True)


def test_no_length_key_falls_back_to_2048_and_accepts_longer_requests(model_dir):
    # A model type without a transformers config class (remote code): no class
    # default exists, so vLLM's own 2048 fallback applies. (This test used a
    # qwen3 config, which is wrong: Qwen3Config supplies 32768, see below.)
    config = {key: value for key, value in QWEN3.items() if key != "max_position_embeddings"}
    config.update(model_type="custom_remote", architectures=["CustomRemoteModel"])
    facts = resolve_model(model_dir(config), vllm_version="0.32.0")
    assert facts["vllm_max_model_len"] == 2048
    assert facts["vllm_max_model_len_source"]["file"] is None
    assert resolve_model(model_dir(config, name="again"), vllm_version="0.32.0", max_model_len=4096)["max_model_len"] == 4096


def test_hf_overrides_are_applied_before_deriving(model_dir):
    path = model_dir(BERT)
    assert derived(path, "0.32.0") == 512
    assert derived(path, "0.32.0", hf_overrides={"max_position_embeddings": 256}) == 256


def test_nested_text_config_is_used(model_dir):
    config = {"architectures": ["SomeVLModel"], "model_type": "some_vl",
              "text_config": dict(QWEN3, max_position_embeddings=16384)}
    assert derived(model_dir(config), "0.32.0") == 16384


def test_requested_length_within_limits_is_used(minilm_dir):
    facts = resolve_model(minilm_dir, max_model_len=128)
    assert facts["max_model_len"] == 128
    assert facts["requested_max_model_len"] == 128
    assert facts["vllm_max_model_len"] == 256


def test_requested_length_above_vllm_value_names_file_key_and_fix(minilm_dir):
    with pytest.raises(MaxModelLenError) as error:
        resolve_model(minilm_dir, max_model_len=512)
    message = str(error.value)
    assert "vLLM 0.32.0 derives 256" in message
    assert "sentence_bert_config.json: max_seq_length" in message
    assert "omit max_model_len or set it <= 256" in message


def test_requested_length_above_position_table_names_it(fixture_models):
    path = str(fixture_models / "embedserve-test/xlm-roberta-base-no-tokenizer-cap")
    with pytest.raises(MaxModelLenError) as error:
        resolve_model(path, max_model_len=514)
    message = str(error.value)
    assert "position-embedding table holds 512" in message
    assert "config.json: max_position_embeddings - (pad_token_id + 1)" in message
    assert "omit max_model_len or set it <= 512" in message


@pytest.mark.parametrize("bad", [0, -5])
def test_requested_length_must_be_positive(minilm_dir, bad):
    with pytest.raises(MaxModelLenError, match="positive integer"):
        resolve_model(minilm_dir, max_model_len=bad)


def test_non_numeric_length_key_names_the_file(model_dir):
    with pytest.raises(MaxModelLenError, match="config.json: max_position_embeddings must be a number"):
        resolve_model(model_dir(dict(BERT, max_position_embeddings="512")))


def test_non_numeric_st_length_names_the_file(model_dir):
    path = model_dir(BERT, st={"max_seq_length": "long", "do_lower_case": False})
    with pytest.raises(MaxModelLenError, match="sentence_bert_config.json: max_seq_length must be a number"):
        resolve_model(path)


def test_empty_st_file_is_skipped_for_the_next_one(model_dir):
    path = model_dir(BERT, st={}, files={"sentence_roberta_config.json": {"max_seq_length": 128,
                                                                          "do_lower_case": True}})
    facts = resolve_model(path, vllm_version="0.31.0")
    assert facts["vllm_max_model_len_source"] == {"file": "sentence_roberta_config.json", "key": "max_seq_length"}
    assert facts["vllm_max_model_len"] == 128


@pytest.mark.parametrize("config, expected", [
    # transformers 5.19.0 BertConfig / Qwen3Config / MistralConfig / XLMRobertaConfig defaults
    (BERT, 512),
    (QWEN3, 32768),
    (MISTRAL, 131072),
    ({"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "hidden_size": 768,
      "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 250002}, 510),
])
def test_missing_length_takes_the_transformers_config_class_default(model_dir, config, expected):
    config = {key: value for key, value in config.items() if key != "max_position_embeddings"}
    facts = resolve_model(model_dir(config), vllm_version="0.32.0")
    # vLLM reads the config object, whose class supplies the default; not its 2048 fallback
    assert facts["max_model_len"] == expected
    assert facts["vllm_max_model_len_source"]["file"] == "config.json"
    assert any("max_position_embeddings" in note and "defaults apply" in note for note in facts["notes"])
    # and a longer request is refused, as vLLM refuses it
    with pytest.raises(MaxModelLenError, match="too long"):
        resolve_model(model_dir(config, name="longer"), vllm_version="0.32.0", max_model_len=expected * 4)
