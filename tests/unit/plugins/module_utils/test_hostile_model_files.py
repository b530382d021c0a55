"""Broken or hostile model files fail with a message naming the model, the file and the field, never a crash."""

import json
import struct

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import ModelFileError, read_safetensors_header

BERT = {"architectures": ["BertModel"], "model_type": "bert", "max_position_embeddings": 512, "hidden_size": 384,
        "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 30522}


@pytest.mark.parametrize("change, expected", [
    ({"hidden_size": "384"}, "config.json: hidden_size must be a positive integer, found str '384'"),
    ({"num_hidden_layers": 6.5}, "config.json: num_hidden_layers must be a positive integer, found float 6.5"),
    ({"architectures": "BertModel"}, "config.json: architectures must be a list of class names"),
    ({"model_type": 7}, "config.json: model_type must be a string, found int 7"),
    ({"torch_dtype": ["float16"]}, "config.json: torch_dtype must be a string such as float16"),
    ({"pad_token_id": "0"}, "config.json: pad_token_id must be a non-negative integer"),
    ({"num_labels": "1"}, "config.json: num_labels must be a positive integer"),
    ({"rope_scaling": "linear"}, "config.json: rope_scaling must be a mapping"),
    ({"text_config": {"hidden_size": "big"}}, "config.json: text_config.hidden_size must be a positive integer"),
    # json reads 1e400 as infinity
    ({"max_position_embeddings": 1e400}, "config.json: max_position_embeddings is inf, not a finite number"),
    ({"max_position_embeddings": -5}, "config.json: max_position_embeddings must be positive"),
    ({"max_position_embeddings": "512"}, "config.json: max_position_embeddings must be a number, found str '512'"),
])
def test_wrong_types_in_config_json_name_the_file_and_field(model_dir, change, expected):
    path = model_dir(dict(BERT, **change))
    with pytest.raises(ValueError) as error:
        resolve_model(path)
    assert expected in str(error.value)
    assert path in str(error.value) or "config.json" in str(error.value)


def test_1e400_in_the_raw_json_text(model_dir):
    text = json.dumps(BERT).replace('"max_position_embeddings": 512', '"max_position_embeddings": 1e400')
    with pytest.raises(ValueError, match="max_position_embeddings is inf"):
        resolve_model(model_dir(text))


def test_rope_factor_of_the_wrong_type(model_dir):
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "max_position_embeddings": 32768,
              "rope_scaling": {"rope_type": "linear", "factor": "4"}}
    with pytest.raises(ValueError, match="rope_scaling.factor must be a positive number, found '4'"):
        resolve_model(model_dir(config))


def test_sentence_transformers_files_of_the_wrong_type(model_dir):
    files = {"modules.json": [{"idx": 0, "type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}],
             "1_Pooling/config.json": {"word_embedding_dimension": "384", "pooling_mode_mean_tokens": True}}
    with pytest.raises(ValueError, match="1_Pooling/config.json: word_embedding_dimension must be a positive integer"):
        resolve_model(model_dir(BERT, files=files))
    files = {"modules.json": [{"type": "sentence_transformers.models.Dense", "path": "../../etc"}]}
    with pytest.raises(ValueError, match="must be a folder inside the model"):
        resolve_model(model_dir(BERT, files=files, name="escape"))
    with pytest.raises(ValueError, match="max_seq_length must be a number"):
        resolve_model(model_dir(BERT, st={"max_seq_length": [512]}, name="st"))


def header_file(tmp_path, header, size=None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw) if size is None else size) + raw)
    return str(path)


@pytest.mark.parametrize("header, expected", [
    ({"w": {"shape": [2, 2], "data_offsets": [0, 16]}}, "tensor 'w' needs a string dtype"),
    ({"w": {"dtype": "F32", "shape": "2x2"}}, "tensor 'w' needs a string dtype and a shape"),
    ({"w": {"dtype": "F32", "shape": [-1]}}, "shape of non-negative integers"),
    ({"w": [1, 2]}, "tensor 'w' needs"),
    ([1, 2, 3], "it must be a JSON object, found list"),
    (b"\xff\xfe not json", "malformed safetensors header"),
])
def test_malformed_safetensors_headers(tmp_path, header, expected):
    with pytest.raises(ModelFileError, match="malformed safetensors header") as error:
        read_safetensors_header(header_file(tmp_path, header), "m/model.safetensors")
    assert expected in str(error.value) and "m/model.safetensors" in str(error.value)


def test_truncated_safetensors_header(tmp_path):
    with pytest.raises(ModelFileError, match="is truncated: its header announces 5000 bytes"):
        read_safetensors_header(header_file(tmp_path, {"w": {"dtype": "F32", "shape": [1]}}, size=5000))


def test_a_malformed_header_fails_resolution_naming_the_model(model_dir, tmp_path):
    path = model_dir(BERT)
    raw = json.dumps({"w": {"dtype": "F32"}}).encode()
    with open(path + "/model.safetensors", "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
    with pytest.raises(ModelFileError, match="model.safetensors: tensor 'w' needs"):
        resolve_model(path)
