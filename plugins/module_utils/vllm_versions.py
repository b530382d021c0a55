# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""vLLM version parsing, the supported range and every version-gated behaviour.

All "since which release does vLLM do X" knowledge of the collection lives in
BEHAVIOUR_SINCE so the derivation, sizing and CLI code ask one place.
"""

import re

DEFAULT_VLLM_VERSION = "0.32.0"

# Inclusive lower bound, exclusive upper bound: the one place the supported
# range is written. Module docs, role argument specs, the AWX survey and the
# README say it as SUPPORTED_RANGE (tests/unit/test_supported_versions.py
# checks every one of them against these two tuples).
SUPPORTED_MIN = (0, 10, 1)
SUPPORTED_BELOW = (0, 34, 0)


def _release_text(release):
    return ".".join(str(part) for part in release)


# "0.10.1 to 0.33.x": the last supported minor, any patch.
SUPPORTED_RANGE = "%s to %d.%d.x" % (_release_text(SUPPORTED_MIN), SUPPORTED_BELOW[0], SUPPORTED_BELOW[1] - 1)
SUPPORTED_RANGE_TEXT = "%s (%s <= version < %d.%d)" % (
    SUPPORTED_RANGE, _release_text(SUPPORTED_MIN), SUPPORTED_BELOW[0], SUPPORTED_BELOW[1])

# Release in which each behaviour the collection depends on first appears.
# Behaviours older than SUPPORTED_MIN (tokenizer cap for absolute-position
# pooling models, config.json model_max_length override, --runner/--convert)
# hold for every supported version and need no entry. CLI removals the
# collection never triggers (--task in 0.13, --convert reward in 0.16) need
# none either.
BEHAVIOUR_SINCE = {
    # --pooler-config replaces --override-pooler-config (old name removed 0.12).
    "pooler_config_flag": (0, 11, 0),
    # With chunked prefill off, max_num_batched_tokens defaults to
    # max(max_model_len, usage default) instead of max_model_len.
    "batched_tokens_at_least_usage_default": (0, 12, 0),
    # Without --max-model-len, longrope models default to
    # original_max_position_embeddings.
    "longrope_defaults_to_original_length": (0, 12, 0),
    # The NomicBert hook that caps max_model_len at max_trained_positions is removed.
    "nomic_context_hook_removed": (0, 22, 0),
    # YaRN-style rope types no longer multiply the derived length.
    "yarn_length_already_scaled": (0, 30, 0),
    # sentence_*_config.json max_seq_length counts without do_lower_case.
    "st_max_seq_length_alone": (0, 32, 0),
}


class UnsupportedVllmVersion(ValueError):
    """The requested vLLM version is malformed or outside the supported range."""


class VllmVersion:
    """A parsed vLLM release; compares by (major, minor, patch)."""

    __slots__ = ("release", "text")

    def __init__(self, major, minor, patch, text):
        self.release = (major, minor, patch)
        self.text = text

    def has(self, behaviour):
        """True when this version shows the named behaviour of BEHAVIOUR_SINCE."""
        return self.release >= BEHAVIOUR_SINCE[behaviour]

    def __eq__(self, other):
        return isinstance(other, VllmVersion) and self.release == other.release

    def __hash__(self):
        return hash(self.release)

    def __repr__(self):
        return "VllmVersion(%r)" % self.text

    def __str__(self):
        return self.text


# Accepts "0.32.0", "v0.32.0", "0.32", "0.11.2.post2", "0.32.0rc1",
# "0.32.0+cpu" (local label of CPU builds).
_VERSION_RE = re.compile(
    r"^v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?"
    r"(?:\.?(?:post|rc)\d+)?(?:\+[0-9A-Za-z.]+)?$"
)


def parse_vllm_version(value):
    """Parse and range-check a vLLM version; return a VllmVersion.

    Accepts an existing VllmVersion unchanged. Raises UnsupportedVllmVersion
    naming the supported range.
    """
    if isinstance(value, VllmVersion):
        return value
    text = str(value).strip() if value is not None else ""
    match = _VERSION_RE.match(text)
    if not match:
        raise UnsupportedVllmVersion(
            "vllm_version %r is not a vLLM release number such as %r; "
            "supported: %s" % (value, DEFAULT_VLLM_VERSION, SUPPORTED_RANGE_TEXT)
        )
    version = VllmVersion(
        int(match.group("major")),
        int(match.group("minor")),
        int(match.group("patch") or 0),
        text.lstrip("v"),
    )
    if not SUPPORTED_MIN <= version.release < SUPPORTED_BELOW:
        raise UnsupportedVllmVersion(
            "vllm_version %s is not supported: this collection mirrors vLLM %s"
            % (text, SUPPORTED_RANGE_TEXT)
        )
    return version
