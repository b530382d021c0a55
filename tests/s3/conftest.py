"""Fixtures for tests against a real local S3 server (versitygw, see hack/s3/).

``s3_server`` (session scope) builds the server with hack/s3/build.sh (cached
under ${EMBEDSERVE_CACHE:-~/.cache/embedserve}/s3/), starts it on 127.0.0.1
with hack/s3/start.sh, creates a bucket and yields an ``S3Server`` with the
endpoint and credentials; the server is stopped by recorded PID at the end.
If the server cannot be built or started the fixture FAILS (never skips).

Environment knobs: S3_ACCESS_KEY / S3_SECRET_KEY / S3_REGION / S3_PORT are
passed through to start.sh; S3_BUILD_TIMEOUT (seconds, default 1800).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HACK = REPO / "hack" / "s3"
TEST_BUCKET = "embedserve-test"


@dataclasses.dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    bucket: str
    pid: int
    data_dir: Path
    log: Path
    env_file: Path

    def client(self, **overrides):
        """A boto3 S3 client for this server (path-style, SigV4)."""
        return make_client(self, **overrides)

    def env(self) -> dict[str, str]:
        """Environment variables an AWS SDK / CLI would use for this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


def make_client(server: S3Server, **overrides):
    import boto3
    from botocore.config import Config

    kwargs = dict(
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        # 127.0.0.1 has no DNS for <bucket>.127.0.0.1: path-style is required.
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )
    kwargs.update(overrides)
    return boto3.client("s3", **kwargs)


def _run(cmd: list[str], what: str, timeout: float, env=None) -> str:
    """Run a hack script; return its last stdout line or FAIL the session."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr or ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        pytest.fail(
            f"{what} timed out after {timeout}s\nstderr:\n{stderr[-4000:]}",
            pytrace=False,
        )
    except OSError as exc:
        pytest.fail(f"{what}: could not run {cmd}: {exc}", pytrace=False)
    # Progress lines (timestamps, timings) show with -s and in failure reports.
    sys.stderr.write(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        pytest.fail(
            f"{what} failed (exit {proc.returncode})\n"
            f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    return lines[-1]


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
    return env


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    binary = _run(
        ["bash", str(HACK / "build.sh")],
        "building the S3 server (hack/s3/build.sh)",
        timeout=float(os.environ.get("S3_BUILD_TIMEOUT", "1800")),
    )
    state = tmp_path_factory.mktemp("s3server")
    try:
        env_file = Path(
            _run(
                ["bash", str(HACK / "start.sh"), str(state)],
                "starting the S3 server (hack/s3/start.sh)",
                timeout=120,
                env=dict(os.environ, S3_BINARY=binary),
            )
        )
        env = _read_env(env_file)
        server = S3Server(
            endpoint_url=env["S3_ENDPOINT_URL"],
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env["AWS_SECRET_ACCESS_KEY"],
            region=env["AWS_DEFAULT_REGION"],
            bucket=TEST_BUCKET,
            pid=int(env["S3_PID"]),
            data_dir=Path(env["S3_DATA_DIR"]),
            log=Path(env["S3_LOG"]),
            env_file=env_file,
        )
        try:
            server.client().create_bucket(Bucket=TEST_BUCKET)
        except Exception as exc:  # noqa: BLE001 - any failure here is fatal
            log_tail = server.log.read_text()[-4000:] if server.log.exists() else ""
            pytest.fail(
                f"S3 server at {server.endpoint_url} is up but create_bucket "
                f"failed: {exc!r}\nserver log:\n{log_tail}",
                pytrace=False,
            )
        yield server
    finally:
        subprocess.run(["bash", str(HACK / "stop.sh"), str(state)], cwd=REPO, check=False)


@pytest.fixture()
def s3_client(s3_server):
    return s3_server.client()
