"""Pods that really run: the real kubelet node beside kwok's simulated ones.

Everything goes through the local API server: the node registers with a
non-loopback InternalIP, kwok leaves it alone, a pod in a namespace enforcing
Pod Security restricted runs as an arbitrary UID with a read-only root on the
CNI bridge, its logs and a port-forward reach it through the API server, and
its Service routes through kube-proxy (the client is a second pod, in a
network namespace the test creates).
"""

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.node.conftest import (
    ARBITRARY_UID,
    CPU_IMAGE,
    KUBECONFIG,
    KUBECTL,
    NODE,
    NODE_IP,
    ON_NODE,
    POD_CIDR_PREFIX,
    TAINT_KEY,
    kubectl,
    kubectl_json,
    wait_for,
)

pytestmark = pytest.mark.node

# Serves GET / with the identity and what the read-only root allowed, on 8080.
SERVER = r"""
import http.server, json, os
try:
    open("/probe", "w").close(); root = "writable"
except OSError as exc:
    root = exc.strerror
body = json.dumps({"uid": os.getuid(), "gid": os.getgid(), "root": root}).encode()
print("identity", body.decode(), flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""
CLIENT = r"""
import sys, time, urllib.request
for _ in range(60):
    try:
        print("service", urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), flush=True); break
    except OSError as exc:
        print("retry", exc, flush=True); time.sleep(1)
time.sleep(3600)
"""


def restricted_pod(name, script, *args, labels=None):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "nodeSelector": ON_NODE["node_selector"], "tolerations": ON_NODE["tolerations"],
            "securityContext": {"runAsNonRoot": True, "runAsUser": ARBITRARY_UID, "runAsGroup": 0,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main", "image": CPU_IMAGE, "imagePullPolicy": "IfNotPresent",
                "command": ["python3", "-c", script, *args], "ports": [{"containerPort": 8080, "name": "http"}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
            }],
        },
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_node_is_ready_tainted_and_reachable_at_a_non_loopback_address(real_node):
    node = kubectl_json("get", "node", NODE)
    conditions = dict((c["type"], c["status"]) for c in node["status"]["conditions"])
    assert conditions["Ready"] == "True"
    addresses = dict((a["type"], a["address"]) for a in node["status"]["addresses"])
    assert addresses["InternalIP"] == NODE_IP
    assert {"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"} in node["spec"]["taints"]
    # kwok manages only its annotated fake nodes: this one is the kubelet's (kwok would stamp its own version)
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    assert "kwok" not in node["status"]["nodeInfo"]["kubeletVersion"]
    # the simulated GPU node is still there for the GPU-plan tests
    assert kubectl_json("get", "node", "gpu-node-a10g")["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"


def test_a_restricted_pod_runs_as_an_arbitrary_uid_and_its_service_routes(real_node, namespace):
    kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        restricted_pod("server", SERVER),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server"},
         "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": "http"}]}},
    ]}))
    kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/server", "--timeout=180s", timeout=200)
    pod = kubectl_json("-n", namespace, "get", "pod", "server")
    assert pod["spec"]["nodeName"] == NODE
    assert pod["status"]["podIP"].startswith(POD_CIDR_PREFIX)
    # logs come from the kubelet through the API server
    logs = wait_for(lambda: kubectl("-n", namespace, "logs", "server").stdout, 30, "the server's log")
    identity = json.loads(logs.split("identity ", 1)[1].splitlines()[0])
    assert identity == {"uid": ARBITRARY_UID, "gid": 0, "root": "Read-only file system"}

    # Service -> kube-proxy -> pod, from a second pod on the bridge
    cluster_ip = kubectl_json("-n", namespace, "get", "service", "server")["spec"]["clusterIP"]
    kubectl("-n", namespace, "apply", "-f", "-",
            stdin=json.dumps(restricted_pod("client", CLIENT, "http://%s/" % cluster_ip)))
    line = wait_for(lambda: [ln for ln in kubectl("-n", namespace, "logs", "client", check=False).stdout.splitlines()
                             if ln.startswith("service ")], 120, "the client pod to reach the Service")
    assert json.loads(line[0].split(" ", 1)[1])["uid"] == ARBITRARY_UID

    # port-forward to the Service through the API server, on 127.0.0.1
    port = free_port()
    forward = subprocess.Popen([str(KUBECTL), "--kubeconfig", str(KUBECONFIG), "-n", namespace, "port-forward",
                                "--address", "127.0.0.1", "service/server", "%d:80" % port],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def fetch():
            try:
                return urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
            except OSError:
                time.sleep(0.5)
                return None
        assert json.loads(wait_for(fetch, 30, "the port-forward"))["uid"] == ARBITRARY_UID
    finally:
        forward.terminate()
        forward.wait(10)
