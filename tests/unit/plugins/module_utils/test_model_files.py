import json
import struct

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils import model_files
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import (
    LocalModelFiles,
    ModelFileError,
    open_model_files,
    read_safetensors_header,
    summarize_safetensors,
)
from support.hub_cache import build_hub_cache

import huggingface_hub  # noqa: E402  (a runtime requirement of the collection)

MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"


def write_safetensors(path, tensors):
    """A real safetensors file: u64 header length, JSON header, zero-filled data."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def test_minilm_parameters_come_from_the_safetensors_header(minilm_dir):
    files = LocalModelFiles(minilm_dir)
    count, dtype = summarize_safetensors(files.safetensors_tensors())
    assert count == 22713216  # float tensors only; the int64 position_ids buffer is not a parameter
    assert dtype == "float32"
    assert "model.safetensors (header)" in files.files_read


def test_sharded_checkpoint_is_summed_over_the_index(tmp_path):
    write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {"a": ("BF16", [4, 8])})
    write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"b": ("BF16", [8]), "c": ("F32", [2])})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors",
        "c": "model-00002-of-00002.safetensors"}}))
    count, dtype = summarize_safetensors(LocalModelFiles(str(tmp_path)).safetensors_tensors())
    assert (count, dtype) == (42, "bfloat16")


def test_implausible_safetensors_header_is_rejected(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 40) + b"{}")
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        read_safetensors_header(str(path))


def test_malformed_safetensors_header_names_the_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 5) + b"{oops")
    with pytest.raises(ModelFileError, match="malformed safetensors header in .*model.safetensors"):
        read_safetensors_header(str(path))


def test_missing_config_names_the_path(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(ModelFileError) as error:
        resolve_model(str(tmp_path))
    assert "config.json not found: %s/config.json" % tmp_path in str(error.value)


def test_malformed_config_names_the_path(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert",')
    with pytest.raises(ModelFileError) as error:
        resolve_model(str(tmp_path))
    assert "malformed JSON in %s/config.json" % tmp_path in str(error.value)


def test_config_must_be_an_object(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="must contain a JSON object, found list"):
        resolve_model(str(tmp_path))


def test_missing_local_directory_is_reported(tmp_path):
    with pytest.raises(ModelFileError, match="model directory .*/absent does not exist"):
        resolve_model(str(tmp_path / "absent"))


@pytest.mark.parametrize("model, local", [
    ("/mnt/models", True), ("./model", True), ("~/model", True), ("BAAI/bge-m3", False), ("gpt2", False),
])
def test_local_path_detection(model, local):
    assert model_files.looks_like_local_path(model) is local


def test_warm_hub_cache_is_read_offline(minilm_dir, tmp_path):
    snapshot = build_hub_cache(minilm_dir, str(tmp_path), MINILM_REPO, commit="a" * 40)
    facts = resolve_model(MINILM_REPO, cache_dir=str(tmp_path), offline=True)
    assert facts["source"] == "hub"
    assert facts["model"] == MINILM_REPO
    assert facts["commit"] == "a" * 40
    assert facts["local_path"] == snapshot
    assert facts["max_model_len"] == 256
    assert facts["num_parameters"] == 22713216
    assert facts["num_parameters_source"] == "safetensors"


def test_hub_cache_revision_is_honoured(minilm_dir, fixture_models, tmp_path):
    build_hub_cache(minilm_dir, str(tmp_path), MINILM_REPO, revision="main", commit="a" * 40)
    build_hub_cache(str(fixture_models / "BAAI/bge-base-en-v1.5"), str(tmp_path), MINILM_REPO,
                    revision="v2", commit="b" * 40)
    facts = resolve_model(MINILM_REPO, revision="v2", cache_dir=str(tmp_path), offline=True)
    assert facts["commit"] == "b" * 40
    assert facts["embedding_dimension"] == 768


def test_hf_hub_offline_environment_is_respected(minilm_dir, tmp_path, monkeypatch):
    build_hub_cache(minilm_dir, str(tmp_path), MINILM_REPO)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub, "HfApi", None)  # any network call would fail loudly
    facts = resolve_model(MINILM_REPO, cache_dir=str(tmp_path))
    assert facts["source"] == "hub"


def test_unknown_model_offline_gives_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError) as error:
        resolve_model("nobody/no-such-model", cache_dir=str(tmp_path), offline=True)
    message = str(error.value)
    assert "nobody/no-such-model" in message
    assert "not in the Hugging Face cache %s" % tmp_path in message
    assert "offline mode is on" in message


class FakeSibling:
    def __init__(self, name):
        self.rfilename = name


class FakeInfo:
    sha = "c" * 40

    def __init__(self, names):
        self.siblings = [FakeSibling(name) for name in names]


def test_online_hub_reads_listed_files_at_the_resolved_commit(minilm_dir, tmp_path, monkeypatch):
    """Online mode: one model_info() for listing and commit, then hf_hub_download per listed file."""
    calls = []
    listed = ["config.json", "tokenizer_config.json", "sentence_bert_config.json", "modules.json",
              "1_Pooling/config.json"]

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("HfApi", token))

        def model_info(self, repo_id, revision=None, token=None):
            calls.append(("model_info", repo_id, revision, token))
            return FakeInfo(listed)

    def fake_download(repo_id, filename, revision=None, cache_dir=None, token=None):
        calls.append(("download", filename, revision, cache_dir, token))
        return "%s/%s" % (minilm_dir, filename)

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    facts = resolve_model(MINILM_REPO, revision="main", token="hf_secret", cache_dir=str(tmp_path))
    assert ("model_info", MINILM_REPO, "main", "hf_secret") in calls
    downloads = [call for call in calls if call[0] == "download"]
    assert sorted(call[1] for call in downloads) == sorted(listed)
    assert all(call[2:] == ("c" * 40, str(tmp_path), "hf_secret") for call in downloads)
    assert facts["commit"] == "c" * 40
    assert facts["local_path"] == minilm_dir
    assert facts["num_parameters_source"] == "config_shape_estimate"  # no weights listed: nothing fetched
    assert facts["num_parameters"] == 22713216


def test_online_hub_errors_become_clear_messages(monkeypatch):
    class MissingRepoApi:
        def __init__(self, token=None):
            pass

        def model_info(self, repo_id, revision=None, token=None):
            raise huggingface_hub.errors.RepositoryNotFoundError("404 Client Error", response=_FakeResponse())

    monkeypatch.setattr(huggingface_hub, "HfApi", MissingRepoApi)
    with pytest.raises(ModelFileError, match="model nobody/missing was not found on the Hub"):
        open_model_files("nobody/missing")


class _FakeResponse:
    status_code = 404
    headers = {}
    request = None
    url = "https://huggingface.co/api/models/nobody/missing"

    def json(self):
        return {}


def test_missing_huggingface_hub_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(model_files, "import_huggingface_hub", lambda: (None, ImportError("no huggingface_hub")))
    with pytest.raises(ModelFileError, match="needs the huggingface_hub Python library"):
        open_model_files("BAAI/bge-m3")
