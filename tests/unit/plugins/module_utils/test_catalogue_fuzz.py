"""Property: no catalogue, however random or hostile, crashes the validator or the resolution.

Each run either returns a catalogue or raises CatalogueError (a ValueError
whose message names entries and fields), with bounded output. The
integration counterpart (tests/integration/test_catalogue_dry_run.py) checks
that what is accepted renders to objects the API server accepts.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import CatalogueError, resolve_catalogue
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

from support.catalogue_strategies import catalogues, junk

MESSAGE_MAX = 20000
# No example database in the work tree; reproducible failures print their input.
FUZZ = {"deadline": None, "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}
SETTINGS = {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "raw",
            "namespace": "models", "gpus": {"count": 1, "memory_mib": 23028, "sharing": "time-slicing"},
            "model_source": "hub", "cache_pvc_name": "vllm-model-cache", "hf_token_secret": "",
            "platform": "openshift", "network_policy_namespaces": ["openshift-ingress"],
            "data_connection": "aws-connection-models", "s3_prefix": "models"}


@pytest.fixture(scope="module")
def resolver(minilm_dir):
    def resolve(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(minilm_dir, vllm_version="0.32.0", max_model_len=max_model_len,
                             hf_overrides=hf_overrides, disable_sliding_window=disable_sliding_window)
    return resolve


def outcome(models, resolver, settings_=None, defaults=None):
    try:
        return resolve_catalogue(models, dict(settings_ or SETTINGS), resolver, defaults=defaults)
    except CatalogueError as exc:
        assert len(str(exc)) < MESSAGE_MAX
        return None


@settings(max_examples=300, **FUZZ)
@given(models=catalogues("sentence-transformers/all-MiniLM-L6-v2"))
def test_random_catalogues_never_crash(resolver, models):
    result = outcome(models, resolver)
    if result is not None:
        for entry in result["catalogue"]:
            assert 0 <= entry["replicas"] < 2 ** 31
            assert not any(key in entry["labels"] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance"))


@settings(max_examples=200, **FUZZ)
@given(models=st.one_of(junk, st.lists(junk, max_size=3)), defaults=st.one_of(st.none(), junk))
def test_pure_junk_never_crashes(resolver, models, defaults):
    outcome(models, resolver, defaults=defaults if isinstance(defaults, dict) else None)


@settings(max_examples=150, **FUZZ)
@given(key=st.sampled_from(["namespace", "network_policy_namespaces", "cache_pvc_name", "data_connection",
                            "s3_prefix", "image", "cpu_image", "run_as_user", "gpus"]), value=junk)
def test_junk_settings_never_crash(resolver, key, value):
    outcome([{"name": "minilm", "model": "m", "gpu": False}], resolver, dict(SETTINGS, **{key: value}))
