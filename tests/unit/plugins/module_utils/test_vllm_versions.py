import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import (
    DEFAULT_VLLM_VERSION,
    UnsupportedVllmVersion,
    parse_vllm_version,
)


@pytest.mark.parametrize("text, release", [
    ("0.32.0", (0, 32, 0)),
    ("v0.32.0", (0, 32, 0)),
    ("0.11.2.post2", (0, 11, 2)),
    ("0.33.1rc1", (0, 33, 1)),
    ("0.32.0+cpu", (0, 32, 0)),
    ("0.13", (0, 13, 0)),
    ("0.10.1", (0, 10, 1)),
])
def test_accepts_release_spellings(text, release):
    assert parse_vllm_version(text).release == release


def test_default_is_supported():
    assert parse_vllm_version(DEFAULT_VLLM_VERSION).text == "0.32.0"


def test_keeps_text_without_v_prefix():
    assert str(parse_vllm_version("v0.30.1")) == "0.30.1"


@pytest.mark.parametrize("text", ["0.10.0", "0.9.2", "0.34.0", "1.0.0"])
def test_rejects_versions_outside_range_naming_the_range(text):
    with pytest.raises(UnsupportedVllmVersion) as error:
        parse_vllm_version(text)
    assert "0.10.1 to 0.33.x" in str(error.value)
    assert text in str(error.value)


@pytest.mark.parametrize("text", ["latest", "", None, "0.x.1", "0.32.0-beta"])
def test_rejects_non_versions(text):
    with pytest.raises(UnsupportedVllmVersion, match="not a vLLM release number"):
        parse_vllm_version(text)


@pytest.mark.parametrize("behaviour, before, since", [
    ("pooler_config_flag", "0.10.2", "0.11.0"),
    ("batched_tokens_at_least_usage_default", "0.11.2", "0.12.0"),
    ("longrope_defaults_to_original_length", "0.11.0", "0.12.0"),
    ("nomic_context_hook_removed", "0.21.1", "0.22.0"),
    ("yarn_length_already_scaled", "0.29.0", "0.30.0"),
    ("st_max_seq_length_alone", "0.31.0", "0.32.0"),
])
def test_behaviour_gates(behaviour, before, since):
    assert not parse_vllm_version(before).has(behaviour)
    assert parse_vllm_version(since).has(behaviour)
