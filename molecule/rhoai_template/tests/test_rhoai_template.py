"""Verify the rhoai_template role's Templates as the OpenShift AI dashboard reads them (testinfra, local backend)."""

import copy
import json
import os
from pathlib import Path

import yaml

# The scenario's settings are written once, in its host_vars.
HOST_VARS = yaml.safe_load((Path(__file__).resolve().parents[1] / "host_vars" / "localhost.yml").read_text())

DASHBOARD = HOST_VARS["embedserve_dashboard_namespace"]
PROJECT = HOST_VARS["embedserve_namespace"]


def kubectl(host, args, stdin=None):
    command = "kubectl --kubeconfig %s %s" % (os.environ["KUBECONFIG"], args)
    if stdin is not None:
        command = "echo %s | base64 -d | %s" % (__import__("base64").b64encode(stdin.encode()).decode(), command)
    return host.run(command)


def templates(host):
    cmd = kubectl(host, "-n %s get template -l opendatahub.io/dashboard=true -o json" % DASHBOARD)
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)["items"]


def test_one_template_per_runtime_listed_by_the_dashboard(host):
    found = templates(host)
    assert sorted(t["metadata"]["name"] for t in found) == ["vllm-embedding-runtime-template",
                                                            "vllm-reranker-runtime-template"]
    for template in found:
        annotations = template["metadata"]["annotations"]
        assert json.loads(annotations["opendatahub.io/modelServingSupport"]) == ["single"]
        assert annotations["opendatahub.io/apiProtocol"] == "REST"
        assert json.loads(annotations["opendatahub.io/model-type"]) == ["predictive"]
        assert "opendatahub.io/ootb" not in template["metadata"]["labels"]
        runtime, = template["objects"]
        assert runtime["kind"] == "ServingRuntime"
        assert runtime["metadata"]["annotations"]["opendatahub.io/runtime-version"] == "v0.32.0"
        assert runtime["metadata"]["annotations"]["openshift.io/display-name"] == annotations["openshift.io/display-name"]
        assert "opendatahub.io/template-name" not in runtime["metadata"]["annotations"]


def test_templates_instantiate_as_the_dashboard_does(host):
    for template in templates(host):
        runtime = copy.deepcopy(template["objects"][0])
        display = runtime["metadata"]["annotations"]["openshift.io/display-name"]
        runtime["metadata"]["annotations"].update({
            "opendatahub.io/template-name": template["metadata"]["name"],
            "opendatahub.io/template-display-name": display,
            "opendatahub.io/serving-runtime-scope": "global"})
        runtime["metadata"]["labels"]["opendatahub.io/dashboard"] = "true"
        runtime["metadata"].update(name="molecule-%s" % template["metadata"]["name"][:30], namespace=PROJECT)
        cmd = kubectl(host, "apply --server-side --dry-run=server -o json -f -", stdin=json.dumps(runtime))
        assert cmd.rc == 0, cmd.stderr
        assert json.loads(cmd.stdout)["spec"] == runtime["spec"]
