"""playbooks/benchmark.yml against real vLLM (CPU) serving all-MiniLM-L6-v2.

One server (started with ``--api-key``) is addressed as two targets, so the comparison machinery runs end
to end on a real server:
- embeddings: ``http://127.0.0.1:<port>`` and ``http://localhost:<port>``, both ``/v1/embeddings`` with the key;
- rerank (vLLM >= 0.11 serves it for embedding models as a bi-encoder): ``/v1/rerank`` with the key and the
  canonical ``/rerank``, which vLLM's API key does not protect, without it.
Runs are short (1 s warm-up + 3 s per target, concurrency 2): on 2 shared cores the figures show the mechanism
works, not vLLM's capacity. Every survey-style value is passed as a string, as AWX would.

Only one real vLLM may run on this machine: the module fixture holds /tmp/embedserve-vllm.lock (fcntl.flock),
re-using the lock of a wrapping ``flock /tmp/embedserve-vllm.lock pytest ...`` instead of deadlocking on it.
"""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.vllm.server import REPO, VllmServer, minilm_dir, venv_python

pytestmark = pytest.mark.vllm

LOCK_PATH = "/tmp/embedserve-vllm.lock"
API_KEY = "bench-key-4d9f2c"
SERVE_ARGS = ["--served-model-name", "minilm", "--runner", "pooling", "--dtype", "float32", "--api-key", API_KEY]
BASE_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
LOAD = {"benchmark_duration": "3", "benchmark_warmup": "1", "benchmark_concurrency": "2",
        "benchmark_words_per_input": "32", "benchmark_inputs_per_request": "4", "benchmark_query_words": "8",
        "benchmark_seed": "7", "benchmark_timeout": "30"}


@contextlib.contextmanager
def vllm_machine_lock():
    """Exclusive use of the machine's one real vLLM slot.

    A flock(1) wrapper passes its locked descriptor down to us: locking that same open file description again
    succeeds at once (and must not be unlocked here). Otherwise wait for the lock on a descriptor of our own.
    """
    real = os.path.realpath(LOCK_PATH)
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.path.realpath("/proc/self/fd/" + name) == real:
                fcntl.flock(int(name), fcntl.LOCK_EX)
                yield "inherited"
                return
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield "own"
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench-vllm")
    argv = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", str(minilm_dir(venv_python())),
            *SERVE_ARGS]
    env = {**BASE_ENV, "HOME": str(tmp), "XDG_CACHE_HOME": str(tmp / "cache")}
    with vllm_machine_lock(), VllmServer(argv, env=env, log_path=tmp / "vllm.log") as srv:
        yield srv


def run_benchmark(extra, *args):
    extra = dict(LOAD, **extra)
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-playbook"), "playbooks/benchmark.yml", "-e", json.dumps(extra),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    return proc


def table_of(stdout):
    """The table lines the playbook printed (settings line, heading, rule, rows)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(("embeddings:", "rerank:")))
    return [line.strip() for line in lines[start:start + 6]]


def check_report(report, kind):
    assert report["kind"] == kind
    assert report["settings"]["concurrency"] == 2 and report["settings"]["duration"] == 3.0
    for target in report["targets"]:
        assert target["skipped"] is None, target
        assert target["requests"] > 0 and target["ok"] == target["requests"], target
        assert target["errors"] == 0 and target["error_kinds"] == {}, target
        assert target["warmup"]["requests"] > 0 and target["warmup"]["errors"] == 0
        latency = target["latency_ms"]
        assert 0 < latency["min"] <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"], latency
        assert 3.0 <= target["elapsed_s"] < 3.0 + 30  # the deadline plus at most one request in flight
        assert target["requests_per_s"] == pytest.approx(target["ok"] / target["elapsed_s"], rel=0.01)
        assert target["inputs_per_s"] == pytest.approx(target["requests_per_s"] * 4, rel=0.01)
        assert target["tokens_source"] == "server" and target["tokens_estimated"] is False
        assert target["input_tokens"] > 0 and target["tokens_per_s"] > 0
    ratios = report["comparison"]["ratios"]
    assert all(ratios[key] is not None and ratios[key] > 0
               for key in ("requests_per_s", "tokens_per_s", "p50", "p95", "p99")), ratios


def test_embeddings_two_targets(server, tmp_path):
    port = server.port
    targets = [{"name": "vllm", "url": server.url, "flavour": "openai", "model": "minilm", "api_key": API_KEY},
               {"name": "vllm-localhost", "url": "http://localhost:%d" % port, "flavour": "openai",
                "model": "minilm", "api_key": API_KEY}]
    proc = run_benchmark({"benchmark_targets": json.dumps(targets), "benchmark_kind": "embeddings",
                          "benchmark_output_dir": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert API_KEY not in proc.stdout + proc.stderr

    report_path = tmp_path / "vllm-vs-vllm-localhost-embeddings.json"
    report = json.loads(report_path.read_text())
    check_report(report, "embeddings")
    assert API_KEY not in report_path.read_text()
    for target in report["targets"]:
        assert target["endpoint"].endswith(":%d/v1/embeddings" % port)
        # the generated words are single WordPiece tokens: the estimate is the exact count for MiniLM
        per_request = target["input_tokens"] / target["ok"]
        assert per_request == pytest.approx(4 * (32 + 2), rel=0.02), per_request

    svg = (tmp_path / "vllm-vs-vllm-localhost-embeddings.svg").read_text()
    root = ET.fromstring(svg.encode())
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "vllm (openai)" in labels and "vllm-localhost (openai)" in labels

    table = table_of(proc.stdout)
    assert table[0].startswith("embeddings: 4 inputs x 32 words per request, concurrency 2, 3s per target")
    assert table[1].split()[:4] == ["TARGET", "FLAVOUR", "REQS", "ERRORS"]
    assert table[3].split()[0] == "vllm" and table[4].split()[0] == "vllm-localhost"
    assert table[5].split()[:2] == ["vllm-localhost/vllm", "ratio"]
    assert report["table"] == table
    print("\n".join(table))


def test_rerank_v1_with_key_against_canonical_path(server, tmp_path):
    targets = [{"name": "v1-rerank", "url": server.url, "model": "minilm", "api_key": API_KEY},
               {"name": "rerank", "url": server.url, "model": "minilm", "path": "/rerank"}]
    proc = run_benchmark({"benchmark_targets": json.dumps(targets), "benchmark_kind": "rerank",
                          "benchmark_output_dir": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "v1-rerank-vs-rerank-rerank.json").read_text())
    check_report(report, "rerank")
    assert [t["endpoint"] for t in report["targets"]] == [server.url + "/v1/rerank", server.url + "/rerank"]
    assert (tmp_path / "v1-rerank-vs-rerank-rerank.svg").stat().st_size > 1000
    print("\n".join(table_of(proc.stdout)))


def test_wrong_key_fails_the_play_after_writing_the_result(server, tmp_path):
    targets = [{"name": "wrong-key", "url": server.url, "model": "minilm", "api_key": "not-the-key"}]
    proc = run_benchmark({"benchmark_targets": targets, "benchmark_output_dir": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "wrong-key: 1 of 1 requests failed" in proc.stdout and "http_401" in proc.stdout
    report = json.loads((tmp_path / "wrong-key-embeddings.json").read_text())
    entry = report["targets"][0]
    assert entry["skipped"].startswith("the first request failed (http_401)")
    assert entry["warmup"] is None and entry["ok"] == 0  # no load after the failed probe


def embeddings_served(srv):
    """Requests the server has answered on /v1/embeddings (its Prometheus HTTP counter)."""
    with urllib.request.urlopen(srv.url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("http_requests_total{") and 'handler="/v1/embeddings"' in line)


def test_check_mode_sends_nothing_and_writes_nothing(server, tmp_path):
    before = embeddings_served(server)
    request = urllib.request.Request(server.url + "/v1/embeddings", method="POST",
                                     data=json.dumps({"model": "minilm", "input": ["one"]}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer " + API_KEY})
    urllib.request.urlopen(request, timeout=60).read()
    counted = embeddings_served(server)
    assert counted == before + 1  # the counter sees every request

    out = tmp_path / "out"
    targets = [{"name": "vllm", "url": server.url, "model": "minilm", "api_key": API_KEY}]
    proc = run_benchmark({"benchmark_targets": targets, "benchmark_output_dir": str(out)}, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "first_body_excerpt" in proc.stdout and server.url + "/v1/embeddings" in proc.stdout
    assert API_KEY not in proc.stdout
    assert embeddings_served(server) == counted
    assert not out.exists()


def test_catalogue_model_compared_with_another_endpoint(server, tmp_path):
    """No targets: the inventory's catalogue is resolved and its model minilm loaded next to a comparison."""
    subprocess.run([sys.executable, str(REPO / "hack" / "models" / "seed-hub-cache.py")], check=True,
                   capture_output=True, cwd=REPO)
    compare = {"minilm": {"name": "minilm-localhost", "url": "http://localhost:%d" % server.port,
                          "model": "minilm", "api_key": API_KEY}}
    proc = run_benchmark({"benchmark_models": "minilm", "benchmark_endpoints": json.dumps({"minilm": server.url}),
                          "benchmark_routes": "false", "benchmark_api_keys": json.dumps({"minilm": API_KEY}),
                          "benchmark_compare": json.dumps(compare), "benchmark_output_dir": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "Resolve the model catalogue" in proc.stdout
    report = json.loads((tmp_path / "minilm-embeddings.json").read_text())
    check_report(report, "embeddings")
    assert [t["name"] for t in report["targets"]] == ["minilm", "minilm-localhost"]
    assert report["targets"][0]["model"] == "minilm"  # the catalogue's served model name
    assert API_KEY not in proc.stdout + (tmp_path / "minilm-embeddings.json").read_text()


CATALOGUE = [
    {"name": "minilm", "mode": "raw", "served_model_name": "minilm", "replicas": 1, "container": {"port": 8000},
     "api_key": {"enabled": True, "secret_name": "minilm-api-key"}, "facts": {"task": "embed"}},
    {"name": "msmarco", "mode": "kserve", "served_model_name": "msmarco", "replicas": 1,
     "api_key": {"enabled": False, "secret_name": "msmarco-api-key"}, "facts": {"task": "score"}},
    {"name": "granite", "mode": "raw", "served_model_name": "granite", "replicas": 1, "container": {"port": 8000},
     "api_key": {"enabled": False, "secret_name": "granite-api-key"}, "facts": {"task": "embed"}},
    {"name": "idle", "mode": "raw", "served_model_name": "idle", "replicas": 0, "container": {"port": 8000},
     "api_key": {"enabled": False, "secret_name": "idle-api-key"}, "facts": {"task": "embed"}},
]
# What the Route lookup returns (injected as the registered k8s_info result: extra vars win).
ROUTES = {"resources": [
    {"metadata": {"name": "minilm"}, "spec": {"host": "minilm.apps.example.com", "tls": {"termination": "edge"},
                                              "to": {"kind": "Service", "name": "minilm"}}},
    {"metadata": {"name": "msmarco"}, "spec": {"host": "msmarco.apps.example.com", "path": "/v1",
                                               "to": {"kind": "Service", "name": "msmarco-predictor"}}},
]}


def test_catalogue_endpoints_from_routes_and_services_in_check_mode(tmp_path):
    """Endpoint resolution for catalogue models (no cluster, no server: check mode shows the plan)."""
    extra = {"benchmark_catalogue": CATALOGUE, "__benchmark_routes_info": ROUTES, "benchmark_routes": "false",
             "benchmark_service_urls": "true", "benchmark_namespace": "emb", "benchmark_read_api_key_secrets": "no",
             "benchmark_api_keys": {"minilm": API_KEY}, "benchmark_output_dir": str(tmp_path / "out")}
    proc = run_benchmark(extra, "--check")
    assert proc.returncode == 0, proc.stdout[-5000:]
    out = proc.stdout
    assert "Resolve the model catalogue" not in out
    assert "endpoint: https://minilm.apps.example.com/v1/embeddings" in out  # raw: Route with TLS
    # kserve: Route to the predictor; a Route path selects paths, it is no prefix; score model -> rerank
    assert "endpoint: http://msmarco.apps.example.com/v1/rerank" in out
    assert "endpoint: http://granite.emb.svc:8000/v1/embeddings" in out  # no Route: in-cluster Service
    assert "idle" not in out.split("Load the endpoints", 1)[1]  # scaled to zero: not loaded
    assert "- Authorization" in out and API_KEY not in out
    assert not (tmp_path / "out").exists()

    extra.update(benchmark_service_urls="false", benchmark_models="granite,minilm")
    proc = run_benchmark(extra, "--check")
    assert proc.returncode == 2
    # the reason verify gives too (module_utils/endpoint_targets.py), naming the model and what to set
    assert "granite: no Route host and port-forward disabled (Routes not looked up (benchmark_routes: false)" \
        in proc.stdout
    assert "set benchmark_port_forward: true or benchmark_endpoints.granite" in proc.stdout
