"""The prepared folder is what real vLLM (CPU) serves: model_prep's output, served the way a raw pod
with ``embedserve_model_source=prepared`` serves it.

Chain, with nothing stubbed:
1. an offline Hugging Face cache is built from the real all-MiniLM-L6-v2 folder (the Hub is unreachable);
2. ``model_prep.prepare_folder`` (what the hf_snapshot module runs) writes the plain folder;
3. the model_prep Job's script (roles/model_prep/files/populate_cache.py) fills a stand-in for the cache
   claim from the same hub cache, checking every file against the controller's checksums;
4. the catalogue resolves the model in prepared mode and its raw container (command, args, environment)
   is started in tests/vllm/server.py's restricted sandbox: arbitrary UID, read-only root filesystem, the
   claim read-only at /models, scratch and /tmp writable, HF_HUB_OFFLINE=1 from the catalogue.

Substitutions, all named: ``--host``/``--port`` (server.py picks a free 127.0.0.1 port) and
``VLLM_CPU_KVCACHE_SPACE=1`` (the CPU backend's KV-cache size). Needs the venv of hack/vllm-cpu/setup.sh
(fails, does not skip, without it). One server start takes about 50-90 s on 2 cores.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from tests.vllm.server import REPO, VllmServer, minilm_dir, venv_python

sys.path.insert(0, str(REPO / "tests"))
from support.hub_cache import build_hub_cache  # noqa: E402

from ansible_collections.embedserve.vllm.plugins.module_utils import catalogue, model_prep  # noqa: E402
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model  # noqa: E402

pytestmark = pytest.mark.vllm

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
ARBITRARY_UID = 1000770000
CPU_ONLY_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}
SCRIPT = REPO / "roles" / "model_prep" / "files" / "populate_cache.py"


@pytest.fixture(scope="module")
def claim(tmp_path_factory):
    """A cache-claim root holding minilm/ as the model_prep Job writes it, and the controller's result."""
    tmp = tmp_path_factory.mktemp("prepared")
    hf_home = tmp / "hf"
    snapshot = build_hub_cache(str(minilm_dir(venv_python())), str(hf_home / "hub"), MINILM_ID)
    commit = os.path.basename(snapshot)
    prepared = model_prep.prepare_folder(MINILM_ID, str(tmp / "staging" / "minilm"), revision=commit,
                                         cache_dir=str(hf_home / "hub"), offline=True)
    manifest = {"name": "minilm", "model": MINILM_ID, "commit": commit, "content_id": prepared["content_id"],
                "source": "hub", "s3_prefix": "models/minilm/", "root": "/models", "files": prepared["files"]}
    (tmp / "manifest.json").write_text(json.dumps(manifest))
    root = tmp / "claim"
    job = subprocess.run([sys.executable, str(SCRIPT), str(tmp / "manifest.json")], capture_output=True, text=True,
                         timeout=300, check=False,
                         env={"PATH": os.environ["PATH"], "HOME": str(tmp), "HF_HOME": str(hf_home),
                              "HF_HUB_OFFLINE": "1", "EMBEDSERVE_MODELS_ROOT": str(root)})
    assert job.returncode == 0, job.stdout + job.stderr
    return root, prepared


def test_claim_holds_the_controller_folder(claim):
    root, prepared = claim
    assert model_prep.list_folder(str(root / "minilm")) == [f["path"] for f in prepared["files"]]
    assert "vocab.txt" in model_prep.list_folder(str(root / "minilm"))
    assert not (root / "minilm" / "README.md").exists()


def test_prepared_folder_serves_384_dimensional_embeddings(claim, tmp_path):
    root, _prepared = claim

    def resolver(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(str(root / "minilm"), vllm_version="0.32.0", max_model_len=max_model_len,
                             hf_overrides=hf_overrides, disable_sliding_window=disable_sliding_window)

    settings = {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "raw",
                "namespace": "vllm-cpu", "gpus": {}, "model_source": "prepared", "cache_pvc_name": "vllm-model-cache",
                "hf_token_secret": "", "platform": "kubernetes", "network_policy_namespaces": [],
                "kserve_storage": "pvc"}
    resolved = catalogue.resolve_catalogue([{"name": "minilm", "model": MINILM_ID, "gpu": False}], settings, resolver)
    (entry,) = resolved["catalogue"]
    container, pod = entry["container"], entry["pod"]
    argv = container["command"] + container["args"]
    assert "/models/minilm" in argv, argv
    env = dict((e["name"], e["value"]) for e in container["env"] if "value" in e)
    assert env["HF_HUB_OFFLINE"] == "1"
    env.update(CPU_ONLY_ENV)
    mounts = dict((m["mountPath"], m) for m in pod["volume_mounts"])
    assert mounts["/models"]["readOnly"] is True
    writable = [path for path, mount in mounts.items() if path not in ("/models", "/dev/shm")]

    with VllmServer(argv, env=env, log_path=tmp_path / "vllm.log", run_as_uid=ARBITRARY_UID, writable=writable,
                    readonly={"/models": root}, shm_size="2g", startup_timeout=900) as server:
        models = server.get_json("/v1/models")["data"]
        assert [m["id"] for m in models] == ["minilm"]
        body = server.post_json("/v1/embeddings", {"model": "minilm",
                                                   "input": ["prepared once", "served offline from the claim"]})
        vectors = [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])]
        assert [len(v) for v in vectors] == [384, 384]
        for vector in vectors:
            assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-3)
        assert vectors[0] != vectors[1]
