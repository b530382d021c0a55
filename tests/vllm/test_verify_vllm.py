"""The verify role (playbooks/verify.yml) against real vLLM on CPU and the local control plane.

Chain, with nothing stubbed on the vLLM side:
1. ``site.yml`` deploys the catalogue below into a fresh namespace of the local cluster (kwok runs no container):
   ``minilm`` (all-MiniLM-L6-v2, ``api_key: true``, a Route with a host) and ``hidden`` (no Route). The
   raw_deployment role creates minilm's API key Secret.
2. The minilm Deployment's container is read back from the cluster - command, args and environment exactly as
   rendered (``--max-model-len 256``, ``--gpu-memory-utilization`` from the GPU plan, ``VLLM_API_KEY`` from the
   Secret) - and started with real vLLM 0.32 on CPU in tests/vllm/server.py's restricted sandbox (arbitrary UID,
   read-only root filesystem, the pod's writable emptyDirs and cache claim, ``/dev/shm`` of the pod's size).
   Substitutions, all named: ``--host``/``--port`` (a free 127.0.0.1 port), ``HF_HUB_OFFLINE=1`` and a copy of
   the offline hub cache on the claim (Hugging Face is unreachable here; the pod downloads the same revision),
   ``VLLM_CPU_KVCACHE_SPACE=1`` (the CPU backend's KV cache). The secretKeyRef is resolved from the real Secret.
3. ``ansible-playbook playbooks/verify.yml`` runs with ``verify_endpoints: {minilm: <server url>}``; the role
   reads the API key from the Secret itself and must print a PASS table and exit 0. Then the catalogue claims
   ``max_model_len: 128`` (the server runs 256) and the run must fail naming the mismatch; then the catalogue
   says the model has no API key and ``/v1/models`` must fail with 401 named.

Reranker checks: no cross-encoder weights exist offline. vLLM >= 0.11 serves ``/v1/score`` and ``/v1/rerank``
for embedding models too (cosine similarity of the embeddings), so the score/rerank checks run against the real
MiniLM server (``verify_rerank_embedding_models: true``) as a stand-in for a cross-encoder: real MiniLM semantics
must rank the relevant probe document first, in English, German and French.

Routes and port-forwards are exercised against the cluster (no vLLM needed): the Route host becomes the URL; a
port-forward is started, fails at kwok (which runs no container, so nothing answers behind the tunnel) with
kubectl's message shown, and is stopped; a KServe model is forwarded to ``<name>-predictor:80``.

Only one real vLLM may run on this machine: the server fixture takes /tmp/embedserve-vllm.lock (flock), unless
an ancestor process (``flock /tmp/embedserve-vllm.lock pytest ...``) already holds it. One server start takes
about 60-90 s on 2 cores; the whole module about 3 minutes.
"""

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.vllm.server import REPO, VllmServer

pytestmark = pytest.mark.vllm

LOCK = "/tmp/embedserve-vllm.lock"
KUBECONFIG = REPO / ".cluster" / "kubeconfig"
KUBECTL = REPO / ".cluster" / "bin" / "kubectl"
BIN = Path(sys.executable).parent
ARBITRARY_UID = 1000770000
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
ROUTE_HOST = "minilm-verify.apps.example.invalid"
DEPLOYED = [
    {"name": "minilm", "model": MINILM, "api_key": True, "route": {"host": ROUTE_HOST}},
    {"name": "hidden", "model": MINILM, "route": {"enabled": False}},
]
# What the test changes in the rendered container, and why (see the module docstring).
SUBSTITUTED_ENV = {"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}


# -- the one-vLLM-at-a-time lock ---------------------------------------------

def _ancestors():
    pid, seen = os.getpid(), set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            stat = Path("/proc/%d/stat" % pid).read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return seen


def _lock_held_by_ancestor(path):
    inode = os.stat(path).st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].endswith(":%d" % inode):
            holders.add(int(fields[4]))
    return bool(holders & _ancestors())


@contextlib.contextmanager
def vllm_lock():
    """Hold /tmp/embedserve-vllm.lock; a lock an ancestor (flock(1) around pytest) holds already counts."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not _lock_held_by_ancestor(LOCK):
                fcntl.flock(fd, fcntl.LOCK_EX)  # wait for the other vLLM user
        yield
    finally:
        os.close(fd)


# -- cluster and playbook helpers --------------------------------------------

def kubectl(*args, check=True):
    proc = subprocess.run([str(KUBECTL), "--kubeconfig", str(KUBECONFIG), *args], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0 or not check, "kubectl %s: %s" % (" ".join(args), proc.stderr)
    return proc


def playbook(path, extra, timeout=600):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH="%s:%s" % (BIN, os.environ["PATH"]))
    return subprocess.run([str(BIN / "ansible-playbook"), path, "-e", json.dumps(extra)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env, check=False)


class Verify:
    """One playbooks/verify.yml run: return code, output, and the check table parsed from it."""

    def __init__(self, proc):
        self.rc, self.out = proc.returncode, proc.stdout + proc.stderr
        self.checks = {}
        self.endpoints = {}
        for line in proc.stdout.splitlines():
            match = re.match(r"^\s+(\S+)\s+(health|models|embeddings|score|rerank|endpoint)\s+(PASS|FAIL|SKIP)\s+"
                             r"(\S+)\s+(.*)$", line)
            if match:
                self.checks[(match.group(1), match.group(2))] = (match.group(3), match.group(5))
            match = re.match(r"^\s+(\S+)\s+(raw|kserve)\s+(embed|score)\s+(.+?)\s{2,}(\S+)\s+(.+)$", line)
            if match:
                self.endpoints[match.group(1)] = {"via": match.group(4), "url": match.group(5),
                                                  "key": match.group(6).strip()}

    def __repr__(self):
        return self.out[-6000:]


def verify(namespace, models, **extra):
    args = {"embedserve_namespace": namespace, "embedserve_models": models, "verify_kubectl": str(KUBECTL),
            "verify_timeout": 60}
    args.update(extra)
    return Verify(playbook("playbooks/verify.yml", args))


@pytest.fixture(scope="module")
def namespace():
    """A fresh namespace with DEPLOYED applied by site.yml; deleted afterwards."""
    up = subprocess.run([str(REPO / "hack" / "cluster" / "up.sh")], capture_output=True, text=True, timeout=900,
                        check=False)
    assert up.returncode == 0, up.stderr[-3000:]
    seeded = subprocess.run([sys.executable, str(REPO / "hack" / "models" / "seed-hub-cache.py")],
                            capture_output=True, text=True, check=False, cwd=REPO)
    assert seeded.returncode == 0, seeded.stderr
    name = "embedserve-verify-%s" % uuid.uuid4().hex[:6]
    try:
        proc = playbook("site.yml", {"embedserve_namespace": name, "embedserve_models": DEPLOYED})
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def container(namespace):
    """minilm's container as the cluster holds it, its pod volumes and the real API key from its Secret."""
    deployment = json.loads(kubectl("-n", namespace, "get", "deployment", "minilm", "-o", "json").stdout)
    pod = deployment["spec"]["template"]["spec"]
    secret = json.loads(kubectl("-n", namespace, "get", "secret", "minilm-api-key", "-o", "json").stdout)
    import base64

    key = base64.b64decode(secret["data"]["VLLM_API_KEY"]).decode()
    return pod["containers"][0], pod["volumes"], key


@pytest.fixture(scope="module")
def server(container, tmp_path_factory):
    """Real vLLM (CPU) running minilm's rendered container; holds the vLLM lock while it runs."""
    spec, volumes, key = container
    tmp = tmp_path_factory.mktemp("verify-vllm")
    env = {}
    for item in spec["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif item["valueFrom"]["secretKeyRef"]["name"] == "minilm-api-key":
            env[item["name"]] = key
        else:
            assert item["valueFrom"]["secretKeyRef"].get("optional"), item  # only the optional HF token is left
    env.update(SUBSTITUTED_ENV)
    mounts = dict((m["mountPath"], m["name"]) for m in spec["volumeMounts"])
    by_name = dict((v["name"], v) for v in volumes)
    # the cache claim (writable in hub mode), holding the offline hub cache the pod would have downloaded
    claim = tmp / "claim"
    hub = claim / "huggingface" / "hub"
    hub.mkdir(parents=True)
    folder = "models--" + MINILM.replace("/", "--")
    shutil.copytree(REPO / ".cache" / "hf-hub" / folder, hub / folder, symlinks=True)
    for blob in (hub / folder / "blobs").iterdir():  # the weights blob links to the host venv: copy it in
        if blob.is_symlink() and os.path.isabs(os.readlink(blob)):
            target = Path(os.readlink(blob))
            blob.unlink()
            shutil.copyfile(target, blob)
    subprocess.run(["chown", "-R", "%d:0" % ARBITRARY_UID, str(claim)], check=True)
    writable = {path: (claim if name == "model-cache" else None) for path, name in mounts.items()
                if path != "/dev/shm"}
    assert env["HF_HOME"].startswith("/models/") and "/models" in writable
    shm = by_name[mounts["/dev/shm"]]["emptyDir"]["sizeLimit"].replace("Gi", "g")
    with vllm_lock():
        srv = VllmServer(spec["command"] + spec["args"], env=env, log_path=tmp / "vllm.log", run_as_uid=ARBITRARY_UID,
                         writable=writable, shm_size=shm, startup_timeout=900)
        with srv:
            print("vLLM healthy after %.0fs" % srv.startup_seconds)
            yield srv, key


def test_the_server_runs_the_rendered_container(container):
    spec, _volumes, _key = container
    args = spec["args"]
    assert spec["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert args[args.index("--model") + 1] == MINILM
    assert args[args.index("--served-model-name") + 1] == "minilm"
    assert args[args.index("--max-model-len") + 1] == "256"
    assert "--gpu-memory-utilization" in args  # the GPU plan's share, passed to CPU vLLM unchanged
    refs = [e for e in spec["env"] if e["name"] == "VLLM_API_KEY"]
    assert refs == [{"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "minilm-api-key",
                                                                            "key": "VLLM_API_KEY"}}}]


def test_verify_passes_against_real_vllm(namespace, server):
    srv, _key = server
    run = verify(namespace, [DEPLOYED[0]], verify_endpoints={"minilm": srv.url},
                 verify_rerank_embedding_models=True, verify_probe_languages=["en", "de", "fr"])
    print("\n".join(line for line in run.out.splitlines() if line.startswith("        ")))  # the table, with -s
    assert run.rc == 0, run
    assert run.endpoints["minilm"] == {"via": "verify_endpoints", "url": srv.url, "key": "secret minilm-api-key"}
    assert {check: status for (model, check), (status, _detail) in run.checks.items()} == {
        "health": "PASS", "models": "PASS", "embeddings": "PASS", "score": "PASS", "rerank": "PASS"}, run
    assert run.checks[("minilm", "models")][1] == "'minilm' listed, max_model_len 256 = expected 256"
    assert run.checks[("minilm", "embeddings")][1].startswith("6 vectors of dimension 384 = expected, L2 norm")
    for check in ("score", "rerank"):
        assert [part.split(":")[0] for part in run.checks[("minilm", check)][1].split("; ")] == ["en", "de", "fr"]
    assert "VERIFY PASSED: 1/1 models ok, 5 checks passed, 0 failed, 0 skipped" in run.out


def test_a_max_model_len_mismatch_fails_and_is_named(namespace, server):
    srv, _key = server
    claimed = dict(DEPLOYED[0], max_model_len=128)  # the catalogue now derives 128; the server runs 256
    run = verify(namespace, [claimed], verify_endpoints={"minilm": srv.url})
    assert run.rc != 0, run
    assert run.checks[("minilm", "models")] == ("FAIL", "'minilm' max_model_len 256, expected 128 from the catalogue")
    assert run.checks[("minilm", "embeddings")][0] == "PASS"
    assert "1 check(s) failed:" in run.out and "minilm models: 'minilm' max_model_len 256, expected 128" in run.out


@pytest.mark.parametrize("case", ["no key in the catalogue", "wrong key"])
def test_the_api_key_is_required_on_v1(namespace, server, case):
    srv, _key = server
    if case == "no key in the catalogue":
        run = verify(namespace, [dict(DEPLOYED[0], api_key=False)], verify_endpoints={"minilm": srv.url})
        expected = "HTTP 401 Unauthorized: an API key is required and none was sent"
    else:
        run = verify(namespace, [DEPLOYED[0]], verify_endpoints={"minilm": srv.url},
                     verify_api_keys={"minilm": "not-the-key"})
        expected = "HTTP 401 Unauthorized: the API key was rejected"
        assert run.endpoints["minilm"]["key"] == "verify_api_keys"
    assert run.rc != 0, run
    assert run.checks[("minilm", "health")][0] == "PASS"  # vLLM's key protects only /v1
    assert run.checks[("minilm", "models")] == ("FAIL", expected)
    assert run.checks[("minilm", "embeddings")] == ("FAIL", expected)
    assert "not-the-key" not in run.out


def _port_forwards(namespace):
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if "port-forward" in line and namespace in line]


def test_route_host_port_forward_and_no_url(namespace):
    idle = {"name": "idle", "model": MINILM, "replicas": 0}
    forwarded = verify(namespace, DEPLOYED + [idle], verify_port_forward=True, verify_timeout=10)
    assert forwarded.rc != 0, forwarded
    assert forwarded.endpoints["minilm"] == {"via": "route minilm", "url": "https://" + ROUTE_HOST,
                                             "key": "secret minilm-api-key"}
    assert forwarded.checks[("minilm", "health")][1].startswith("cannot resolve the host of https://%s/health" % ROUTE_HOST)
    assert forwarded.checks[("minilm", "models")][0] == "SKIP"
    hidden = forwarded.endpoints["hidden"]
    assert hidden["via"] == "port-forward svc/hidden:8000" and hidden["url"].startswith("http://127.0.0.1:")
    assert forwarded.checks[("hidden", "health")][1].startswith("connection closed without an HTTP answer")
    assert "kubectl port-forward log of hidden:" in forwarded.out and "no forward found for port 8000" in forwarded.out
    assert re.search(r"idle\s+raw\s+embed\s+not checked: replicas is 0", forwarded.out)
    assert "VERIFY FAILED: 0/2 models ok, 0 checks passed, 2 failed, 4 skipped, 1 scaled to zero not checked" \
        in forwarded.out
    assert _port_forwards(namespace) == []  # always stopped

    unreachable = verify(namespace, DEPLOYED, verify_models="hidden")  # survey-style text
    assert unreachable.rc != 0
    assert list(unreachable.checks) == [("hidden", "endpoint")]
    assert unreachable.checks[("hidden", "endpoint")] == (
        "FAIL", "not checked: no Route host and port-forward disabled (no Route to svc/hidden; set "
                "verify_port_forward: true or verify_endpoints.hidden)")


def test_kserve_models_use_the_predictor_service_and_its_route(namespace):
    """An odh-model-controller-style Route (no embedserve labels, host only in status) and a missing predictor."""
    route = {"apiVersion": "route.openshift.io/v1", "kind": "Route",
             "metadata": {"name": "kroute", "namespace": namespace, "labels": {"inferenceservice-name": "kroute"}},
             "spec": {"to": {"kind": "Service", "name": "kroute-predictor"}, "port": {"targetPort": 8080},
                      "tls": {"termination": "edge"}}}
    proc = subprocess.run([str(KUBECTL), "--kubeconfig", str(KUBECONFIG), "apply", "-f", "-"],
                          input=json.dumps(route), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    status = {"status": {"ingress": [{"host": "kroute-%s.apps.example.invalid" % namespace, "routerName": "default"}]}}
    kubectl("-n", namespace, "patch", "route", "kroute", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    models = [{"name": "kroute", "model": MINILM, "mode": "kserve"},
              {"name": "kmini", "model": MINILM, "mode": "kserve", "route": {"enabled": False}}]
    run = verify(namespace, models, verify_port_forward=True, verify_timeout=10)
    assert run.rc != 0, run
    assert run.endpoints["kroute"]["via"] == "route kroute"
    assert run.endpoints["kroute"]["url"] == "https://kroute-%s.apps.example.invalid" % namespace
    assert run.endpoints["kmini"]["via"] == "port-forward svc/kmini-predictor:80"
    detail = run.checks[("kmini", "endpoint")][1]
    assert detail.startswith("not checked: port-forward to svc/kmini-predictor:80 failed: kubectl exited:"), detail
    assert 'services "kmini-predictor" not found' in detail
    assert _port_forwards(namespace) == []
