"""The real S3 server fixtures of tests/s3/conftest.py, for integration tests.

tests/s3/conftest.py stays the one definition (versitygw built from the Go
module proxy and started on 127.0.0.1, failing rather than skipping); this
module loads it under its own name so a test module here can use the
fixtures with ``from conftest_s3 import s3_server, s3_bucket``.
"""

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "s3" / "conftest.py"
_SPEC = importlib.util.spec_from_file_location("embedserve_s3_fixtures", _PATH)
_FIXTURES = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = _FIXTURES  # dataclasses look their module up there
_SPEC.loader.exec_module(_FIXTURES)

S3Server = _FIXTURES.S3Server
s3_server = _FIXTURES.s3_server  # session scope: one server for the whole run
s3_client = _FIXTURES.s3_client


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh, empty bucket on the real server for one test."""
    name = "it-prep-%s" % uuid.uuid4().hex[:12]
    s3_server.client().create_bucket(Bucket=name)
    return name
