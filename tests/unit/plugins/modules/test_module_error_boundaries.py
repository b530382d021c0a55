"""Module error boundaries: every failure is one bounded message naming the entry or model, never a traceback."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins.module_utils import model_facts
from ansible_collections.embedserve.vllm.plugins.modules import hf_model_config, model_catalogue


def run(capsys, module, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        module.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def catalogue_args(models, **extra):
    return dict({"models": models, "namespace": "models", "platform": "kubernetes"}, **extra)


def test_an_unsupported_vllm_version_is_a_failure_not_a_traceback(capsys, minilm_dir):
    code, result = run(capsys, model_catalogue, **catalogue_args(
        [{"name": "minilm", "model": minilm_dir, "gpu": False}], vllm_version="0.9.0"))
    assert code == 1 and result["failed"] is True
    assert "vllm_version 0.9.0 is not supported" in result["msg"]
    assert "exception" not in result
    code, result = run(capsys, hf_model_config, model=minilm_dir, vllm_version="banana")
    assert code == 1 and "is not a vLLM release number" in result["msg"] and "exception" not in result


def test_a_hostile_catalogue_fails_with_entry_and_field(capsys, minilm_dir):
    code, result = run(capsys, model_catalogue, **catalogue_args(
        [{"name": "minilm", "model": minilm_dir, "gpu": False, "replicas": 3e9,
          "extra_args": ["--api-key", "sk-live-123", "--hf-token=hf_live_456"], "env": {"VLLM_API_KEY": "k-789"}}],
        network_policy_namespaces=["ok", "x\n- ipBlock: {cidr: 0.0.0.0/0}"]))
    assert code == 1 and "exception" not in result
    assert "embedserve_models[0] (minilm): replicas 3000000000 is out of range" in result["msg"]
    assert "embedserve_network_policy_namespaces[1]" in result["msg"]
    # refused, and masked everywhere in the result, the invocation shown at -vvv included
    for secret in ("sk-live-123", "hf_live_456", "k-789"):
        assert secret not in json.dumps(result)


def test_an_unexpected_error_while_reading_a_model_is_reported_per_model(capsys, minilm_dir, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyError("dtype")

    monkeypatch.setattr(model_catalogue, "resolve_model", explode)
    models = [{"name": "minilm", "model": minilm_dir, "gpu": False}]
    code, result = run(capsys, model_catalogue, **catalogue_args(models))
    assert code == 1 and "exception" not in result
    assert "minilm (%s): unexpected KeyError while reading model %s" % (minilm_dir, minilm_dir) in result["msg"]


def test_any_other_error_is_caught_at_the_boundary(capsys, minilm_dir, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom " * 10000)

    monkeypatch.setattr(model_catalogue, "resolve_catalogue", explode)
    code, result = run(capsys, model_catalogue, **catalogue_args([{"name": "minilm", "model": minilm_dir}]))
    assert code == 1 and "exception" not in result
    assert result["msg"].startswith("unexpected RuntimeError while resolving the model catalogue: boom")
    assert len(result["msg"]) < 2100

    monkeypatch.setattr(hf_model_config, "resolve_model", lambda *a, **k: model_facts.__dict__["nothing"])
    code, result = run(capsys, hf_model_config, model=minilm_dir)
    assert code == 1 and "unexpected KeyError while reading model" in result["msg"]


@pytest.mark.parametrize("module_name, function, args, doing", [
    ("hf_snapshot", "prepare_folder", {"model": "/nonexistent/model", "dest": "/tmp/embedserve-boundary"},
     "preparing model /nonexistent/model"),
    ("vllm_endpoint_check", "check_endpoints", {"endpoints": [{"name": "m", "url": "http://127.0.0.1:9"}]},
     "checking the endpoints"),
])
def test_the_other_modules_catch_everything_at_the_boundary(capsys, monkeypatch, module_name, function, args, doing):
    import importlib

    module = importlib.import_module("ansible_collections.embedserve.vllm.plugins.modules." + module_name)

    def explode(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, function, explode)
    code, result = run(capsys, module, **args)
    assert code == 1 and "exception" not in result
    assert result["msg"].startswith("unexpected RuntimeError while %s: boom" % doing)
