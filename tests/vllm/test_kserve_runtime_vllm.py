"""Real vLLM (CPU) runs the kserve_runtime role's ServingRuntime container the way KServe would start it.

The role renders the seed's objects (render mode, no cluster). KServe's merge is reproduced: the runtime's
``kserve-container`` with the InferenceService's ``model.args`` appended after the runtime's own (KServe
concatenates them), ``{{.Name}}`` replaced by the InferenceService name, the model mounted read-only at
``/mnt/models``, the runtime's emptyDirs writable, an arbitrary UID and a read-only root filesystem
(tests/vllm/server.py's restricted sandbox).

Substitutions, all named and asserted:
- ``--port`` and ``--host``: server.py points them at a free 127.0.0.1 port (network only).
- ``VLLM_CPU_KVCACHE_SPACE=1``: CPU_ONLY_ENV, the CPU backend's KV-cache size; no GPU argument is replaced,
  ``--gpu-memory-utilization`` from the InferenceService is passed to vLLM as rendered.

Each server start takes about 50-90 s on 2 cores.
"""

import copy
import json
import math
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.vllm.server import REPO, VllmServer, minilm_dir, venv_python

pytestmark = pytest.mark.vllm

ARBITRARY_UID = 1000770000
CPU_ONLY_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]
PLAYBOOK = """
- name: Render the kserve-mode seed
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Resolve the catalogue
      ansible.builtin.import_role:
        name: embedserve.vllm.catalogue
    - name: Render the KServe objects
      ansible.builtin.import_role:
        name: embedserve.vllm.kserve_runtime
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """{kind: {name: object}} of the role's render output for the seed in kserve mode."""
    tmp = tmp_path_factory.mktemp("kserve-render")
    (tmp / "render.yml").write_text(PLAYBOOK)
    subprocess.run([sys.executable, str(REPO / "hack" / "models" / "seed-hub-cache.py")], check=True,
                   capture_output=True, cwd=REPO)
    extra = {"embedserve_default_mode": "kserve", "embedserve_models": SEED, "embedserve_namespace": "vllm-cpu",
             "embedserve_render_dir": str(tmp / "out"),
             # an unreachable API: render mode must not need a cluster
             "embedserve_k8s_host": "https://127.0.0.1:9"}
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-playbook"), str(tmp / "render.yml"), "-e", json.dumps(extra)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    objects = {}
    for doc in yaml.safe_load_all((tmp / "out" / "kserve.yaml").read_text()):
        objects.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return objects


def kserve_container(runtime, isvc):
    """The predictor container as KServe builds it from the runtime and the InferenceService."""
    container = copy.deepcopy(runtime["spec"]["containers"][0])
    model = isvc["spec"]["predictor"]["model"]
    container["args"] = container.get("args", []) + model.get("args", [])
    text = json.dumps(container)
    for key in ("Name", "Namespace"):
        text = text.replace("{{.%s}}" % key, isvc["metadata"][key.lower()])
    assert "{{" not in text, "unfilled placeholder in %s" % text
    return json.loads(text)


def start(container, model_dir, runtime, tmp_path):
    volumes = dict((v["name"], v) for v in runtime["spec"]["volumes"])
    writable = [m["mountPath"] for m in container["volumeMounts"]
                if "emptyDir" in volumes[m["name"]] and m["mountPath"] != "/dev/shm"]
    shm = volumes["shm"]["emptyDir"]["sizeLimit"]
    env = dict((e["name"], e["value"]) for e in container["env"])
    env.update(CPU_ONLY_ENV)
    return VllmServer(container["command"] + container["args"], env=env, log_path=tmp_path / "vllm.log",
                      run_as_uid=ARBITRARY_UID, writable=writable, readonly={"/mnt/models": model_dir},
                      shm_size=shm.replace("Gi", "g"), startup_timeout=900)


def flag(args, name):
    for index, arg in enumerate(args):
        if arg == name:
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def test_rendered_runtime_is_what_the_test_runs(rendered):
    runtime = rendered["ServingRuntime"]["minilm"]
    isvc = rendered["InferenceService"]["minilm"]
    # one runtime per InferenceService, named after it
    assert isvc["spec"]["predictor"]["model"]["runtime"] == "minilm"
    container = kserve_container(runtime, isvc)
    assert container["args"][:4] == ["--model=/mnt/models", "--served-model-name=minilm", "--runner=pooling",
                                     "--port=8080"]
    assert flag(container["args"], "--max-model-len") == "256"
    assert flag(container["args"], "--gpu-memory-utilization") is not None
    env = dict((e["name"], e["value"]) for e in container["env"])
    assert env["HF_HUB_OFFLINE"] == "1"
    assert not set(CPU_ONLY_ENV) & set(env), "the CPU substitution must not hide a rendered variable"


def test_embedding_runtime_serves_minilm_from_mnt_models(rendered, tmp_path):
    runtime = rendered["ServingRuntime"]["minilm"]
    isvc = rendered["InferenceService"]["minilm"]
    container = kserve_container(runtime, isvc)
    with start(container, minilm_dir(venv_python()), runtime, tmp_path) as srv:
        status = Path("/proc/%d/status" % srv.proc.pid).read_text()
        assert "Uid:\t%d\t%d" % (ARBITRARY_UID, ARBITRARY_UID) in status
        models = srv.get_json("/v1/models")["data"]
        # {{.Name}} became the InferenceService name, the ISVC's --max-model-len reached vLLM
        assert [m["id"] for m in models] == ["minilm"]
        assert models[0]["max_model_len"] == 256
        body = srv.post_json("/v1/embeddings", {"model": "minilm",
                                                "input": ["KServe runs vLLM.", "Pooling models embed text."]})
        vectors = [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])]
        assert [len(v) for v in vectors] == [384, 384]
        for vector in vectors:
            assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-3)
        assert vectors[0] != vectors[1]
        metrics = urllib.request.urlopen(srv.url + runtime["spec"]["annotations"]["prometheus.io/path"],
                                         timeout=30).read().decode()
        assert 'vllm:num_requests_running{' in metrics and 'model_name="minilm"' in metrics


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory):
    """A BertForSequenceClassification with one label (a cross-encoder's shape), built from MiniLM's encoder.

    Only the architecture matters here (the score head is untrained): it shows which endpoints the runtime's
    arguments give a reranker.
    """
    out = tmp_path_factory.mktemp("cross-encoder")
    code = (
        "import sys, transformers\n"
        "src, out = sys.argv[1], sys.argv[2]\n"
        "config = transformers.AutoConfig.from_pretrained(src, num_labels=1,"
        " architectures=['BertForSequenceClassification'])\n"
        "model = transformers.BertForSequenceClassification.from_pretrained(src, config=config)\n"
        "model.save_pretrained(out)\n"
        "transformers.AutoTokenizer.from_pretrained(src).save_pretrained(out)\n"
    )
    proc = subprocess.run([str(venv_python()), "-c", code, str(minilm_dir(venv_python())), str(out)],
                          capture_output=True, text=True, timeout=600, cwd="/",
                          env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("sentence_bert_config.json", "modules.json"):
        (out / name).unlink(missing_ok=True)
        assert not (out / name).exists()
    shutil.rmtree(out / "1_Pooling", ignore_errors=True)
    # the sandboxed server runs as an arbitrary UID: the folder must be world-readable, like an image's files
    for path in [out] + list(out.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out


def test_reranker_runtime_serves_a_cross_encoder_with_the_same_flags(rendered, cross_encoder_dir, tmp_path):
    embedding = rendered["ServingRuntime"]["minilm"]["spec"]["containers"][0]
    runtime = rendered["ServingRuntime"]["msmarco"]
    # the two runtimes run the same command: one per task is for the dashboard, not for vLLM
    assert runtime["spec"]["containers"][0]["args"] == embedding["args"]
    assert runtime["spec"]["containers"][0]["command"] == embedding["command"]
    isvc = rendered["InferenceService"]["msmarco"]
    container = kserve_container(runtime, isvc)
    with start(container, cross_encoder_dir, runtime, tmp_path) as srv:
        body = srv.post_json("/rerank", {"model": "msmarco", "query": "What runs the model?",
                                         "documents": ["vLLM runs the model.", "Bananas are yellow."]})
        results = body["results"]
        assert sorted(r["index"] for r in results) == [0, 1]
        assert all(isinstance(r["relevance_score"], float) for r in results)
        # the architecture, not a flag, made it a classifier: no embeddings endpoint
        with pytest.raises(urllib.error.HTTPError) as err:
            srv.post_json("/v1/embeddings", {"model": "msmarco", "input": "x"})
        assert err.value.code in (400, 404)
