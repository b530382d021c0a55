"""The hf_snapshot module: arguments, check mode, results and failures (offline hub cache, real huggingface_hub)."""

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins.modules import hf_snapshot
from support.hub_cache import build_hub_cache

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        hf_snapshot.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def cache(tmp_path, minilm_dir):
    snapshot = build_hub_cache(minilm_dir, str(tmp_path / "hub"), MINILM_ID)
    return str(tmp_path / "hub"), os.path.basename(snapshot)


def test_download_then_rerun_is_unchanged(capsys, tmp_path, cache):
    cache_dir, commit = cache
    args = dict(model=MINILM_ID, revision=commit, dest=str(tmp_path / "minilm"), cache_dir=cache_dir, offline=True,
                token="hf_not_needed")
    code, first = run_module(capsys, **args)
    assert code == 0 and first["changed"] is True
    assert first["commit"] == commit and len(first["files"]) == 11 and first["bytes"] > 90_000_000
    assert "vocab.txt" in first["written"] and "README.md" in first["ignored"]
    assert "hf_not_needed" not in json.dumps(first)
    code, second = run_module(capsys, **args)
    assert code == 0 and second["changed"] is False and second["written"] == []


def test_check_mode_writes_nothing(capsys, tmp_path, cache):
    cache_dir, commit = cache
    code, result = run_module(capsys, model=MINILM_ID, revision=commit, dest=str(tmp_path / "minilm"),
                              cache_dir=cache_dir, offline=True, _ansible_check_mode=True)
    assert code == 0 and result["changed"] is True and len(result["written"]) == 11
    assert not (tmp_path / "minilm").exists()


def test_patterns_are_options(capsys, tmp_path, minilm_dir):
    code, result = run_module(capsys, model=minilm_dir, dest=str(tmp_path / "m"),
                              allow_patterns=["*.json", "vocab.txt"], ignore_patterns=["data_config.json"])
    assert code == 0
    assert "model.safetensors" in result["ignored"] and "data_config.json" in result["ignored"]
    assert "vocab.txt" in result["written"] and "config.json" in result["written"]
    assert result["allow_patterns"] == ["*.json", "vocab.txt"]


@pytest.mark.parametrize("case, message", [
    ("missing_revision", "is not in the Hugging Face cache"),
    ("no_config", "has no config.json"),
])
def test_bad_input_fails_clearly(capsys, tmp_path, cache, case, message):
    cache_dir, _commit = cache
    if case == "missing_revision":
        args = dict(model=MINILM_ID, revision="1" * 40, cache_dir=cache_dir, offline=True)
    else:
        (tmp_path / "folder").mkdir()
        (tmp_path / "folder" / "vocab.txt").write_text("x")
        args = dict(model=str(tmp_path / "folder"))
    code, result = run_module(capsys, dest=str(tmp_path / "dest"), **args)
    assert code == 1 and result["failed"] is True
    assert message in result["msg"]
    assert not (tmp_path / "dest").exists()
