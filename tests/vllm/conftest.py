"""Real vLLM (CPU) tests: the cached venv from hack/vllm-cpu/setup.sh is REQUIRED.

These tests fail (never skip) when the venv or a cross-check version is missing:
`make vllm` runs hack/vllm-cpu/setup.sh and hack/vllm-cpu/versions.sh first.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.vllm.server`


def _make_collection_importable():
    """Same symlink tree as tests/unit/conftest.py (<repo>/.cache/collections, git-ignored)."""
    if importlib.util.find_spec("ansible_collections.embedserve") is not None:
        return
    root = REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "embedserve" / "vllm"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        os.symlink(REPO, link)
    sys.path.insert(0, str(root))
    try:
        import ansible_collections  # a namespace package: let it see the new root
    except ImportError:
        return
    if str(root / "ansible_collections") not in list(ansible_collections.__path__):
        ansible_collections.__path__.append(str(root / "ansible_collections"))


_make_collection_importable()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "vllm: runs real vLLM (CPU) from the cached venv of hack/vllm-cpu/setup.sh; "
        "fails if that venv is missing",
    )


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.vllm)


@pytest.fixture(scope="session")
def vllm_python():
    from tests.vllm.server import venv_python

    return venv_python()  # raises -> every dependent test errors out, not skipped


@pytest.fixture(scope="session")
def vllm_minilm_dir(vllm_python):
    from tests.vllm.server import minilm_dir

    return minilm_dir(vllm_python)
