"""Real vLLM (CPU) runs the container of the rendered MiniLM Deployment the way OpenShift would.

site.yml renders the raw Deployment (render mode, no cluster) with the model
served from the prepared cache folder. The test takes the container's
command, args and env exactly as rendered and starts them with
tests/vllm/server.py's restricted sandbox: an arbitrary UID with no passwd
entry (restricted-v2 assigns one from the namespace range), a read-only root
filesystem, only the pod's emptyDir mounts writable, the cache claim mounted
read-only at /models with the MiniLM folder at /models/minilm, and /dev/shm
sized as the pod's memory-backed emptyDir.

Substitutions, named and asserted: ``--port``/``--host`` go to a free
127.0.0.1 port (network only), and ``VLLM_CPU_KVCACHE_SPACE=1`` sizes the CPU
backend's cache; no rendered argument or variable is replaced.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.vllm.server import REPO, VllmServer, minilm_dir, venv_python

pytestmark = pytest.mark.vllm

ARBITRARY_UID = 1000770000
CPU_ONLY_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw-render")
    subprocess.run([sys.executable, str(REPO / "hack" / "models" / "seed-hub-cache.py")], check=True,
                   capture_output=True, cwd=REPO)
    extra = {"embedserve_models": [{"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"}],
             "embedserve_model_source": "prepared", "embedserve_namespace": "vllm-cpu",
             "embedserve_render_dir": str(out), "embedserve_k8s_host": "https://127.0.0.1:9"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "site.yml", "-e", json.dumps(extra)],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    docs = list(yaml.safe_load_all((out / "raw-deployments.yaml").read_text()))
    return [d for d in docs if d["kind"] == "Deployment"][0]


def pod_parts(deployment):
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    volumes = dict((v["name"], v) for v in spec["volumes"])
    writable = [m["mountPath"] for m in container["volumeMounts"]
                if "emptyDir" in volumes[m["name"]] and m["mountPath"] != "/dev/shm"]
    shm = volumes["shm"]["emptyDir"]["sizeLimit"].replace("Gi", "g")
    return spec, container, writable, shm


def test_the_rendered_pod_is_rootless_and_serves_the_prepared_folder(deployment):
    spec, container, writable, _shm = pod_parts(deployment)
    assert "runAsUser" not in spec["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert sorted(writable) == ["/scratch", "/tmp"]
    args = container["args"]
    assert args[args.index("--model") + 1] == "/models/minilm"
    env = dict((e["name"], e.get("value")) for e in container["env"])
    assert env["HF_HUB_OFFLINE"] == "1" and env["USER"] == "vllm" and env["HOME"] == "/scratch"
    assert not set(CPU_ONLY_ENV) & set(env)


def test_real_vllm_answers_embeddings_as_an_arbitrary_uid_with_only_the_pod_dirs_writable(deployment, tmp_path):
    _spec, container, writable, shm = pod_parts(deployment)
    env = dict((e["name"], e["value"]) for e in container["env"] if "value" in e)
    env.update(CPU_ONLY_ENV)
    server = VllmServer(container["command"] + container["args"], env=env, log_path=tmp_path / "vllm.log",
                        run_as_uid=ARBITRARY_UID, writable=writable, shm_size=shm, startup_timeout=900,
                        readonly={"/models/minilm": minilm_dir(venv_python())})
    with server as srv:
        status = Path("/proc/%d/status" % srv.proc.pid).read_text()
        assert "Uid:\t%d\t%d" % (ARBITRARY_UID, ARBITRARY_UID) in status
        models = srv.get_json("/v1/models")["data"]
        assert [m["id"] for m in models] == ["minilm"]
        assert models[0]["max_model_len"] == int(
            deployment["metadata"]["annotations"]["embedserve.io/max-model-len"])
        body = srv.post_json("/v1/embeddings", {"model": "minilm", "input": ["A rootless pod.", "An embedding."]})
        vectors = [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])]
        assert [len(v) for v in vectors] == [384, 384]
        assert all(math.sqrt(sum(x * x for x in v)) == pytest.approx(1.0, abs=1e-3) for v in vectors)
        # vLLM, torch and Triton wrote their caches under the writable scratch dir, nowhere else
        scratch = srv.writable_host_dir("/scratch")
        assert any(scratch.rglob("*")), "nothing written under $HOME/XDG dirs"
