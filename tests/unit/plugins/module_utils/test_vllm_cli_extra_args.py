"""extra_args read the way vLLM's FlexibleArgumentParser reads them: no spelling gets past a managed flag."""

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import (
    MANAGED_FLAGS,
    VllmCliError,
    build_vllm_command,
    extra_args_problems,
)


@pytest.mark.parametrize("extra_args, flag", [
    # vLLM turns '_' into '-' in the name and lets the later duplicate win
    (["--max_model_len=100000"], "--max-model-len"),
    (["--max_model_len", "100000"], "--max-model-len"),
    (["--gpu_memory_utilization=0.99"], "--gpu-memory-utilization"),
    (["--gpu-memory_utilization", "0.99"], "--gpu-memory-utilization"),
    # '--flag.key value' is part of the JSON option --flag
    (["--hf_overrides.max_position_embeddings", "100000"], "--hf-overrides"),
    (["--hf-overrides.rope_scaling.factor=4"], "--hf-overrides"),
    # argparse accepts unambiguous abbreviations
    (["--max-model", "100000"], "--max-model-len"),
    (["--gpu-mem=0.99"], "--gpu-memory-utilization"),
    # vLLM 0.32's alias of --gpu-memory-utilization, and an abbreviation of it
    (["--device-memory-utilization", "0.99"], "--device-memory-utilization"),
    (["--device_memory_util=0.99"], "--device-memory-utilization"),
    # BooleanOptionalAction adds --no-<flag>
    (["--no-enforce-eager"], "--enforce-eager"),
    (["--no_trust_remote_code"], "--trust-remote-code"),
    # several flags in one item
    (["--disable-log-stats --max-model-len 100000"], "--max-model-len"),
    (["--served-model-name=other"], "--served-model-name"),
    (["--port", "9000"], "--port"),
    (["--config", "/tmp/all-flags.yaml"], "--config"),
])
def test_every_spelling_of_a_managed_flag_is_refused(extra_args, flag):
    problems = extra_args_problems(extra_args, "0.32.0")
    assert len(problems) == 1
    assert "extra_args[0]: extra_args must not set %s" % flag in problems[0]
    assert "use %s instead" % MANAGED_FLAGS[flag] in problems[0]


@pytest.mark.parametrize("extra_args", [["--task", "embed"], ["--task=embed"], ["--task embed"], ["--tas", "embed"]])
def test_task_is_refused_in_every_form(extra_args):
    [problem] = extra_args_problems(extra_args, "0.32.0")
    assert "--task must not be used with vLLM 0.32.0" in problem


@pytest.mark.parametrize("extra_args, setting", [
    (["--api-key", "sk-live-123"], "api_key: true"),
    (["--api_key=sk-live-123"], "api_key: true"),
    (["--hf-token", "hf_abc"], "embedserve_hf_token"),
])
def test_secrets_are_refused_naming_the_setting_and_never_echoed(extra_args, setting):
    [problem] = extra_args_problems(extra_args, "0.32.0")
    assert setting in problem and "readable by anyone who can read the Deployment" in problem
    assert "sk-live-123" not in problem and "hf_abc" not in problem


def test_items_that_are_several_words_must_be_split():
    [problem] = extra_args_problems(["--uvicorn-log-level warning"])
    assert "holds several words in one item" in problem and "its own list item" in problem


def test_control_characters_and_non_strings_are_refused():
    problems = extra_args_problems(["--x\nkind: Secret", {"a": 1}, None])
    assert "extra_args[0] '--x\\nkind: Secret' contains control characters" in problems[0]
    assert "extra_args[1] must be a string, found dict" in problems[1]
    assert "extra_args[2] must be a string, found NoneType" in problems[2]
    assert extra_args_problems("--enable-prefix-caching") == [
        "extra_args must be a list of strings, such as ['--enable-prefix-caching']"]


@pytest.mark.parametrize("extra_args", [
    ["--enable-prefix-caching"],
    ["--uvicorn-log-level", "warning"],
    ["--override-generation-config", '{"temperature": 0.5, "top_p": 1}'],
    ["--disable-log-requests", "--max-log-len=100"],
    ["-O3"],
    # a value that merely looks like a managed flag's name after '=' is a value
    ["--middleware=--port"],
])
def test_unmanaged_flags_and_values_pass(extra_args):
    assert extra_args_problems(extra_args, "0.32.0") == []


def test_the_command_builder_refuses_them_too(minilm_dir):
    with pytest.raises(VllmCliError, match="extra_args must not set --max-model-len"):
        build_vllm_command(resolve_model(minilm_dir), {"extra_args": ["--max_model_len=100000"]})
