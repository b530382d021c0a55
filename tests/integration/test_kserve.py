"""The kserve_runtime and rhoai_template roles against the local control plane with KServe v0.20.0's own controller
manager and webhooks (hack/cluster/kserve), and the Route and Template CRD schemas.

- the seed catalogue deployed in kserve mode with the Templates published, then a second run changes nothing;
- KServe makes every InferenceService Ready: its predictor Deployment owned by it, the runtime's container merged
  with the model's arguments, the model mounted, every pod admitted under Pod Security restricted;
- deleting one model the way the dashboard does leaves the others Ready (one runtime per InferenceService);
- S3-backed models get a storage-initializer that passes restricted, with the connection's TLS settings;
- every dashboard Template instantiates into a runtime KServe serves a deployment with;
- check mode creates nothing; bad input (including api_key on plain KServe) fails before any write.
"""

import base64
import copy
import json
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import KUBECONFIG, KUBECTL, kubectl, kubectl_json, run_playbook

NS = "it-kserve-site"
DASHBOARD_NS = "redhat-ods-applications"
KSERVE_ONLY = """
- name: Only the kserve_runtime role
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/embedserve.vllm.k8s:
      kubeconfig: "{{ embedserve_kubeconfig | default(omit) }}"
      host: "{{ embedserve_k8s_host | default(omit) }}"
  tasks:
    - name: Resolve the catalogue
      ansible.builtin.import_role:
        name: embedserve.vllm.catalogue
    - name: KServe runtimes and InferenceServices
      ansible.builtin.import_role:
        name: embedserve.vllm.kserve_runtime
"""
# Read from folders on the cache claim (put there by hand: storage.path), so KServe mounts the claim; the Hub
# (hf://, the default for unprepared models) and S3 have their own tests.
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2", "storage": {"type": "pvc", "path": "minilm"}},
    {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual",
     "storage": {"type": "pvc", "path": "granite"}},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2", "storage": {"type": "pvc", "path": "msmarco"}},
]
# startup_timeout: the local inventory shortens it for kwok; 600 s here, asserted on the probes.
# embedserve_kubeconfig: the cluster these tests check (KUBECONFIG), not only the inventory's default one.
KSERVE_SEED = {"embedserve_default_mode": "kserve", "embedserve_models": SEED, "embedserve_openshift_ai": True,
               "embedserve_model_defaults": {"startup_timeout": 600}, "embedserve_kubeconfig": str(KUBECONFIG)}


@pytest.fixture(scope="module")
def playbooks(tmp_path_factory):
    root = tmp_path_factory.mktemp("kserve-playbooks")
    (root / "kserve.yml").write_text(KSERVE_ONLY)
    return root


def _message(run):
    """The failed tasks' messages as one text (a message may be a list of lines)."""
    lines = []
    for msg in run.failure_messages():
        lines += msg if isinstance(msg, list) else [msg]
    return "\n".join(str(line) for line in lines)


def _versions(kind, namespace):
    return dict((o["metadata"]["name"], o["metadata"]["resourceVersion"])
                for o in kubectl_json("-n", namespace, "get", kind)["items"])


def _exists(*args):
    return kubectl(*args, check=False).returncode == 0


def _names(kind, namespace):
    return sorted(o["metadata"]["name"] for o in kubectl_json("-n", namespace, "get", kind)["items"])


@pytest.fixture(scope="module")
def deployed(playbooks):
    kubectl("delete", "namespace", NS, "--wait=true", "--timeout=120s", check=False)
    first = run_playbook("site.yml", extra_vars=dict(KSERVE_SEED, embedserve_namespace=NS))
    assert first.rc == 0, first.failure_messages()
    yield first
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


# --- the seed in kserve mode ------------------------------------------------------------------------------------

def test_seed_deploys_in_kserve_mode_and_a_second_run_changes_nothing(playbooks, deployed):
    # namespace and KServe objects changed; the Templates live in the shared dashboard namespace and may
    # already exist from another run with the same catalogue
    assert deployed.changed >= 2
    # one runtime per InferenceService, named after it, as the dashboard makes them
    assert _names("servingruntime", NS) == ["granite", "minilm", "msmarco"]
    assert _names("inferenceservice", NS) == ["granite", "minilm", "msmarco"]
    # OpenShift AI: odh-model-controller makes the Routes from the visibility label
    assert _names("route", NS) == []
    templates = kubectl_json("-n", DASHBOARD_NS, "get", "template", "-l", "app.kubernetes.io/managed-by=embedserve")
    assert sorted(t["metadata"]["name"] for t in templates["items"]) == [
        "vllm-embedding-runtime-template", "vllm-reranker-runtime-template"]
    second = run_playbook("site.yml", extra_vars=dict(KSERVE_SEED, embedserve_namespace=NS))
    assert second.rc == 0, second.failure_messages()
    assert second.changed == 0, second.changed_tasks()


def test_inferenceservices_carry_what_kserve_and_the_dashboard_read(deployed):
    isvc = kubectl_json("-n", NS, "get", "inferenceservice", "msmarco")
    meta, predictor = isvc["metadata"], isvc["spec"]["predictor"]
    assert meta["labels"]["opendatahub.io/dashboard"] == "true"
    assert meta["labels"]["networking.kserve.io/visibility"] == "exposed"
    # the local inventory targets the KServe 0.20 the cluster runs (Standard); for OpenShift AI's KServe
    # (target 0.15) the role writes RawDeployment, which KServe 0.20's defaulting webhook stores as Standard
    assert meta["annotations"]["serving.kserve.io/deploymentMode"] == (
        "Standard" if _exists("get", "mutatingwebhookconfiguration", "inferenceservice.serving.kserve.io")
        else "RawDeployment")
    assert meta["annotations"]["openshift.io/display-name"] == "msmarco"
    # explicit "false": the dashboard reads a missing annotation as auth enabled (finding 2)
    assert meta["annotations"]["security.opendatahub.io/enable-auth"] == "false"
    model = predictor["model"]
    assert model["runtime"] == "msmarco"
    assert model["modelFormat"] == {"name": "vLLM"}
    assert model["storageUri"] == "pvc://vllm-model-cache/msmarco"
    args = model["args"]
    assert args[args.index("--max-model-len") + 1] == "512"
    assert "--gpu-memory-utilization" in args
    assert not [a for a in args if a.split("=")[0] in ("--model", "--served-model-name", "--port", "--runner")]
    assert model["startupProbe"]["httpGet"] == {"path": "/health", "port": 8080}
    assert model["startupProbe"]["failureThreshold"] * model["startupProbe"]["periodSeconds"] == 600
    assert model["readinessProbe"]["httpGet"]["path"] == "/health"
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert predictor["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A10G-SHARED"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]
    assert predictor["minReplicas"] == predictor["maxReplicas"] == 1


def test_runtimes_point_the_dashboard_at_published_templates(deployed):
    for runtime in kubectl_json("-n", NS, "get", "servingruntime")["items"]:
        annotations = runtime["metadata"]["annotations"]
        template = kubectl_json("-n", DASHBOARD_NS, "get", "template", annotations["opendatahub.io/template-name"])
        carried = template["objects"][0]
        assert annotations["opendatahub.io/template-display-name"] == \
            template["metadata"]["annotations"]["openshift.io/display-name"]
        assert annotations["opendatahub.io/serving-runtime-scope"] == "global"
        assert runtime["spec"]["annotations"]["prometheus.io/port"] == "8080"
        assert runtime["spec"]["annotations"]["opendatahub.io/kserve-runtime"] == "vllm"
        # one source: each runtime is an instance of its task's Template, as the dashboard makes them
        assert carried["spec"] == runtime["spec"]
        assert template["metadata"]["name"] == carried["metadata"]["name"] + "-template"


# --- what KServe's controller did (hack/cluster/kserve) ---------------------------------------------------------

@pytest.fixture(scope="module")
def kserve_controller():
    """KServe's controller manager and webhooks (hack/cluster/kserve/start.sh, EMBEDSERVE_KSERVE_CONTROLLER)."""
    if not _exists("get", "mutatingwebhookconfiguration", "inferenceservice.serving.kserve.io"):
        if os.environ.get("EMBEDSERVE_KSERVE_CONTROLLER") == "0":
            pytest.skip("KServe's controller manager left out on purpose (EMBEDSERVE_KSERVE_CONTROLLER=0)")
        pytest.fail("KServe's controller manager is not running on this cluster: `make cluster` starts it "
                    "(hack/cluster/kserve/start.sh)")


def _condition(obj, kind):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return cond
    return {}


def wait_ready(namespace, names, timeout=240):
    """The InferenceServices once KServe reports each Ready=True; fails naming the ones that are not."""
    deadline = time.time() + timeout
    while True:
        isvcs = dict((i["metadata"]["name"], i) for i in kubectl_json("-n", namespace, "get", "inferenceservice")[
            "items"] if i["metadata"]["name"] in names)
        waiting = dict((n, _condition(isvcs.get(n, {}), "Ready")) for n in names
                       if _condition(isvcs.get(n, {}), "Ready").get("status") != "True")
        if not waiting:
            return isvcs
        if time.time() > deadline:
            raise AssertionError("not Ready after %ds: %s" % (timeout, waiting))
        time.sleep(2)


def expected_container(runtime, isvc):
    """kserve-container as KServe documents the merge: the runtime's container, {{.Name}} replaced by the
    InferenceService's name, the model's args after the runtime's."""
    container = runtime["spec"]["containers"][0]
    name = isvc["metadata"]["name"]
    return {"image": container["image"],
            "args": [a.replace("{{.Name}}", name) for a in container["args"]] + isvc["spec"]["predictor"]["model"][
                "args"]}


def test_the_real_kserve_controller_serves_its_webhooks_on_127_0_0_1(kserve_controller):
    mutating = kubectl_json("get", "mutatingwebhookconfiguration", "inferenceservice.serving.kserve.io")
    hooks = dict((h["name"], h) for h in mutating["webhooks"])
    assert set(hooks) == {"inferenceservice.kserve-webhook-server.defaulter",
                          "inferenceservice.kserve-webhook-server.pod-mutator"}
    for hook in hooks.values():
        assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:")
        assert hook["clientConfig"]["caBundle"] and hook["failurePolicy"] == "Fail"
    # KServe's validator answers: a name its rules refuse, which the CRD schema alone would accept
    bad = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": "1-starts-with-a-digit", "namespace": "default"},
           "spec": {"predictor": {"model": {"modelFormat": {"name": "vLLM"}, "storageUri": "pvc://x/y"}}}}
    refused = kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(bad), check=False)
    assert refused.returncode != 0
    assert 'admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request' in \
        refused.stderr


def test_kserve_makes_every_inferenceservice_ready_from_its_runtime(kserve_controller, deployed):
    isvcs = wait_ready(NS, ["granite", "minilm", "msmarco"])
    namespace = kubectl_json("get", "namespace", NS)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name, isvc in sorted(isvcs.items()):
        deployment = kubectl_json("-n", NS, "get", "deployment", "%s-predictor" % name)
        owner, = deployment["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == \
            ("InferenceService", name, isvc["metadata"]["uid"], True)
        runtime = kubectl_json("-n", NS, "get", "servingruntime", isvc["spec"]["predictor"]["model"]["runtime"])
        container = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                     if c["name"] == "kserve-container"][0]
        assert dict((k, container[k]) for k in ("image", "args")) == expected_container(runtime, isvc)
        assert "--served-model-name=%s" % name in container["args"]
        # admitted under restricted: the pods exist (Pod Security refuses creation otherwise) and run on kwok
        pods = kubectl_json("-n", NS, "get", "pod", "-l", "serving.kserve.io/inferenceservice=%s" % name)["items"]
        assert pods and all(_condition(p, "Ready").get("status") == "True" for p in pods)
        # KServe's pod mutator: pvc://vllm-model-cache/<name> is the claim's <name> directory at /mnt/models,
        # without a storage-initializer
        for pod in pods:
            served = [c for c in pod["spec"]["containers"] if c["name"] == "kserve-container"][0]
            mount = [m for m in served["volumeMounts"] if m["mountPath"] == "/mnt/models"][0]
            volume = [v for v in pod["spec"]["volumes"] if v["name"] == mount["name"]][0]
            assert volume["persistentVolumeClaim"]["claimName"] == "vllm-model-cache"
            assert mount["subPath"] == name
            assert not pod["spec"].get("initContainers")


def test_deleting_one_model_like_the_dashboard_leaves_the_others_ready(
        kserve_controller, playbooks, namespace_factory):
    namespace = namespace_factory("it-kserve-delete-%s" % uuid.uuid4().hex[:6], {
        "pod-security.kubernetes.io/enforce": "restricted"})
    _with_cache(namespace)
    _with_service_account(namespace)
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=namespace,
        embedserve_models=[SEED[0], dict(SEED[0], name="minilm-two")]))
    assert run.rc == 0, run.failure_messages()
    wait_ready(namespace, ["minilm", "minilm-two"])
    # odh-dashboard DeleteInferenceServiceModal: the InferenceService, then the runtime it names
    isvc = kubectl_json("-n", namespace, "get", "inferenceservice", "minilm")
    kubectl("-n", namespace, "delete", "inferenceservice", "minilm", "--wait=true")
    kubectl("-n", namespace, "delete", "servingruntime", isvc["spec"]["predictor"]["model"]["runtime"])
    # make KServe reconcile the survivor now rather than at its next event
    kubectl("-n", namespace, "annotate", "inferenceservice", "minilm-two", "embedserve.io/poke=%s" % time.time())
    time.sleep(3)
    survivor = wait_ready(namespace, ["minilm-two"])["minilm-two"]
    assert _condition(survivor, "PredictorReady")["status"] == "True"
    assert _names("servingruntime", namespace) == ["minilm-two"]


def test_s3_models_get_a_restricted_storage_initializer_with_tls_settings(
        kserve_controller, playbooks, namespace_factory):
    namespace = namespace_factory("it-kserve-s3-%s" % uuid.uuid4().hex[:6], {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"})
    kubectl("-n", namespace, "create", "configmap", "minio-ca", "--from-literal=cabundle.crt=not-a-real-ca")
    _with_service_account(namespace)
    models = [dict(SEED[2], storage={"type": "s3", "connection": "minio", "path": "rerankers/msmarco"})]
    connections = [{"name": "minio", "access_key_id": "it-access", "secret_access_key": "it-secret",
                    "endpoint": "https://minio.example:9000", "bucket": "models", "verify_ssl": True,
                    "ca_bundle_configmap": "minio-ca"}]
    extra = dict(KSERVE_SEED, embedserve_namespace=namespace, embedserve_models=models,
                 embedserve_connections=connections, embedserve_openshift_ai=False, embedserve_platform="kubernetes")
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=extra)
    assert run.rc == 0, run.failure_messages()
    isvc = wait_ready(namespace, ["msmarco"])["msmarco"]
    # upstream 0.20 by default: the renamed mode, and the restricted storage container named
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["spec"]["predictor"]["storageContainerName"] == "embedserve-s3-restricted"
    entry = json.loads(base64.b64decode(kubectl_json("-n", namespace, "get", "secret", "storage-config")["data"][
        "minio"]))
    assert entry["verify_ssl"] == "1" and entry["cabundle_configmap"] == "minio-ca"
    pod, = kubectl_json("-n", namespace, "get", "pod", "-l", "serving.kserve.io/inferenceservice=msmarco")["items"]
    init, = pod["spec"]["initContainers"]
    assert init["name"] == "storage-initializer"
    assert init["args"] == ["s3://models/rerankers/msmarco", "/mnt/models"]
    assert init["securityContext"]["allowPrivilegeEscalation"] is False
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = dict((e["name"], e) for e in init["env"])
    assert env["STORAGE_CONFIG"]["valueFrom"]["secretKeyRef"] == {"name": "storage-config", "key": "minio"}
    assert env["AWS_CA_BUNDLE_CONFIGMAP"]["value"] == "minio-ca"
    ca_volume = [v for v in pod["spec"]["volumes"] if v["name"] == "cabundle-cert"][0]
    assert ca_volume["configMap"]["name"] == "minio-ca"


def test_hub_models_are_downloaded_by_the_restricted_initializer_with_the_token(kserve_controller):
    """Unprepared Hub models (issue 11): hf://<owner>/<model>[:<commit>] instead of a claim folder nothing fills,
    downloaded by the restricted storage-initializer, which KServe gives HF_TOKEN from the Secret the namespace
    role lists on the predictor's service account (pkg/credentials/service_account_credentials.go)."""
    namespace = "it-kserve-hf-%s" % uuid.uuid4().hex[:6]
    models = [{"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"}]
    try:
        run = run_playbook("site.yml", extra_vars=dict(
            KSERVE_SEED, embedserve_namespace=namespace, embedserve_models=models, embedserve_openshift_ai=False,
            embedserve_platform="kubernetes", embedserve_hf_token="hf_it_not_a_real_token"))
        assert run.rc == 0, run.failure_messages()
        assert "hf_it_not_a_real_token" not in json.dumps(run.data) + run.stderr
        isvc = wait_ready(namespace, ["msmarco"])["msmarco"]
        uri = isvc["spec"]["predictor"]["model"]["storageUri"]
        assert re.fullmatch(r"hf://cross-encoder/ms-marco-MiniLM-L12-v2(:[0-9a-f]{40})?", uri), uri
        assert isvc["spec"]["predictor"]["storageContainerName"] == "embedserve-s3-restricted"
        namespace_obj = kubectl_json("get", "namespace", namespace)
        assert namespace_obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        pod, = kubectl_json("-n", namespace, "get", "pod", "-l",
                            "serving.kserve.io/inferenceservice=msmarco")["items"]
        init, = pod["spec"]["initContainers"]
        assert init["name"] == "storage-initializer" and init["args"] == [uri, "/mnt/models"]
        assert init["securityContext"]["allowPrivilegeEscalation"] is False
        env = dict((e["name"], e) for e in init.get("env") or [])
        assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "HF_TOKEN"}
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.mark.parametrize("case", ["unprepared-claim-folder", "hub-mirror"])
def test_models_that_would_start_on_nothing_fail_before_any_write(case):
    namespace = "it-kserve-nothing-%s" % uuid.uuid4().hex[:6]
    extra = dict(KSERVE_SEED, embedserve_namespace=namespace,
                 embedserve_models=[{"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"}])
    if case == "unprepared-claim-folder":
        extra["embedserve_kserve_storage"] = "pvc"
        expected = "msmarco: kserve mode reads pvc://vllm-model-cache/msmarco, a folder only model preparation fills"
    else:
        extra["embedserve_hf_endpoint"] = "https://hub-mirror.example"
        expected = "msmarco: KServe's storage initializer downloads hf:// from huggingface.co"
    run = run_playbook("site.yml", extra_vars=extra)
    assert run.rc != 0 and run.changed == 0, run.changed_tasks()
    assert expected in _message(run)
    assert not _exists("get", "namespace", namespace)


def test_kserve_default_storage_initializer_is_refused_under_restricted(
        kserve_controller, playbooks, namespace_factory):
    """Finding 4 reproduced with the real controller: without the restricted ClusterStorageContainer KServe's
    default (no securityContext) is used, and Pod Security refuses the predictor pod."""
    namespace = namespace_factory("it-kserve-s3d-%s" % uuid.uuid4().hex[:6], {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"})
    _with_service_account(namespace)
    models = [dict(SEED[2], storage={"type": "s3", "connection": "minio", "path": "rerankers/msmarco"})]
    connections = [{"name": "minio", "access_key_id": "a", "secret_access_key": "s",
                    "endpoint": "https://minio.example:9000", "bucket": "models"}]
    # the cluster-scoped container an earlier run made matches every data connection: take it away meanwhile
    saved = kubectl("get", "clusterstoragecontainer", "embedserve-s3-restricted", "-o", "json", check=False)
    kubectl("delete", "clusterstoragecontainer", "embedserve-s3-restricted", "--ignore-not-found")
    try:
        run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
            KSERVE_SEED, embedserve_namespace=namespace, embedserve_models=models, embedserve_connections=connections,
            embedserve_openshift_ai=False, embedserve_platform="kubernetes", kserve_runtime_storage_container=False))
        assert run.rc == 0, run.failure_messages()
        deadline, refused = time.time() + 120, []
        while not refused and time.time() < deadline:
            events = kubectl_json("-n", namespace, "get", "event", "--field-selector", "reason=FailedCreate")["items"]
            refused = [e["message"] for e in events if "storage-initializer" in e["message"]]
            time.sleep(2)
    finally:
        if saved.returncode == 0:
            restored = json.loads(saved.stdout)
            restored["metadata"] = {"name": restored["metadata"]["name"], "labels": restored["metadata"]["labels"]}
            kubectl("create", "-f", "-", stdin=json.dumps(restored))
    assert refused and "violates PodSecurity \"restricted:latest\"" in refused[0]
    assert 'allowPrivilegeEscalation != false (container "storage-initializer"' in refused[0]
    assert kubectl_json("-n", namespace, "get", "pod")["items"] == []


# --- the dashboard's instantiation of each Template -------------------------------------------------------------

def dashboard_instance(template, name, project):
    """The ServingRuntime the OpenShift AI dashboard creates from a Template when a model is deployed with it.

    Returns (object, what the dashboard had to add). The dashboard fills metadata, not placeholders: {{.Name}}
    is left for KServe, and Template parameters are never processed.
    """
    runtime = copy.deepcopy(template["objects"][0])
    display = (runtime["metadata"].get("annotations") or {}).get("openshift.io/display-name") or \
        runtime["metadata"]["name"]
    annotations = dict(runtime["metadata"].get("annotations") or {})
    annotations.update({"openshift.io/display-name": display,
                        "opendatahub.io/template-name": template["metadata"]["name"],
                        "opendatahub.io/template-display-name": display,
                        "opendatahub.io/serving-runtime-scope": "global"})
    labels = dict(runtime["metadata"].get("labels") or {}, **{"opendatahub.io/dashboard": "true"})
    runtime["metadata"] = {"name": name, "namespace": project, "labels": labels, "annotations": annotations}
    runtime["spec"].pop("replicas", None)
    added = []
    for container in runtime["spec"]["containers"]:
        container.pop("resources", None)
        mounts = container.setdefault("volumeMounts", [])
        if not [m for m in mounts if m["mountPath"] == "/dev/shm"]:
            mounts.append({"name": "shm", "mountPath": "/dev/shm"})
            added.append("shm mount")
    volumes = runtime["spec"].setdefault("volumes", [])
    if not [v for v in volumes if v["name"] == "shm"]:
        volumes.append({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}})
        added.append("shm volume")
    return runtime, added


def _dashboard_templates():
    templates = kubectl_json("-n", DASHBOARD_NS, "get", "template", "-l", "opendatahub.io/dashboard=true")["items"]
    return [t for t in templates
            if "single" in json.loads(t["metadata"].get("annotations", {}).get("opendatahub.io/modelServingSupport",
                                                                               "[]"))]


def test_templates_carry_what_the_dashboard_reads(deployed):
    templates = _dashboard_templates()
    assert len(templates) >= 2
    for template in templates:
        meta = template["metadata"]
        assert "opendatahub.io/ootb" not in meta["labels"]
        assert meta["annotations"]["opendatahub.io/apiProtocol"] == "REST"
        assert meta["annotations"]["openshift.io/display-name"]
        model_types = json.loads(meta["annotations"].get("opendatahub.io/model-type", "[]"))
        assert set(model_types) <= {"predictive", "generative"}
        assert len(template["objects"]) == 1 and template["objects"][0]["kind"] == "ServingRuntime"
        runtime = template["objects"][0]
        assert "namespace" not in runtime["metadata"]
        assert runtime["metadata"]["annotations"]["opendatahub.io/recommended-accelerators"] == '["nvidia.com/gpu"]'
        assert runtime["metadata"]["annotations"]["opendatahub.io/runtime-version"] == "v0.32.0"
        assert "${" not in json.dumps(template["objects"]), "the dashboard never processes Template parameters"


def test_each_template_instantiates_like_the_dashboard_and_serves_a_deployment(deployed, namespace_factory):
    project = namespace_factory("it-kserve-dash-%s" % uuid.uuid4().hex[:6], {
        "opendatahub.io/dashboard": "true", "pod-security.kubernetes.io/enforce": "restricted"})
    kubectl("-n", project, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "models"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    for index, template in enumerate(_dashboard_templates()):
        name = "dash-model-%d" % index
        runtime, added = dashboard_instance(template, name, project)
        assert added == [], "the Template lacks what the dashboard would add: %s" % added
        assert "--served-model-name={{.Name}}" in runtime["spec"]["containers"][0]["args"]
        kubectl("apply", "--server-side", "--field-manager=odh-dashboard", "-f", "-", stdin=json.dumps(runtime))
        stored = kubectl_json("-n", project, "get", "servingruntime", name)
        assert stored["spec"] == runtime["spec"], "the API server pruned or changed the runtime"
        fmt = runtime["spec"]["supportedModelFormats"][0]
        isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": name, "namespace": project, "labels": {"opendatahub.io/dashboard": "true"},
                             "annotations": {"openshift.io/display-name": name,
                                             "serving.kserve.io/deploymentMode": "RawDeployment"}},
                "spec": {"predictor": {"minReplicas": 1, "maxReplicas": 1, "model": {
                    "modelFormat": dict((k, v) for k, v in fmt.items() if k in ("name", "version")),
                    "runtime": name, "storageUri": "pvc://models/%s" % name, "args": ["--max-model-len=256"]}}}}
        kubectl("apply", "--server-side", "--field-manager=odh-dashboard", "-f", "-", stdin=json.dumps(isvc))
        if not _exists("get", "mutatingwebhookconfiguration", "inferenceservice.serving.kserve.io"):
            continue  # without KServe's controller only the API server's acceptance is checked
        # KServe binds it to the instance and makes it Ready
        ready = wait_ready(project, [name])[name]
        deployment = kubectl_json("-n", project, "get", "deployment", "%s-predictor" % name)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert dict((k, container[k]) for k in ("image", "args")) == expected_container(runtime, ready)


# --- check mode and bad input ---------------------------------------------------------------------------------

def test_check_mode_creates_nothing(playbooks, deployed):
    namespace = "it-kserve-check"
    kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60s", check=False)
    run = run_playbook("site.yml", "--check", "--diff",
                       extra_vars=dict(KSERVE_SEED, embedserve_namespace=namespace))
    assert run.rc == 0, run.failure_messages()
    assert run.changed >= 1
    assert not _exists("get", "namespace", namespace)
    assert [i for i in kubectl_json("get", "inferenceservice", "-A")["items"]
            if i["metadata"]["namespace"] == namespace] == []


@pytest.fixture
def bare_namespace(namespace_factory):
    """An existing namespace with nothing in it (no model cache claim)."""
    return namespace_factory("it-kserve-bad-%s" % uuid.uuid4().hex[:6])


def _assert_nothing_written(run, namespace):
    assert run.rc != 0
    assert run.changed == 0, run.changed_tasks()
    for kind in ("servingruntime", "inferenceservice", "route", "secret"):
        assert _names(kind, namespace) == [], kind


def _with_cache(namespace):
    kubectl("-n", namespace, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "vllm-model-cache"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))


def _with_service_account(namespace):
    """The predictor pods' service account, which the namespace role makes in a full run."""
    kubectl("-n", namespace, "create", "serviceaccount", "vllm")


def test_missing_kserve_crds_fail_naming_them(playbooks, bare_namespace):
    _with_cache(bare_namespace)
    # A KServe CRD this cluster does not have: the role looks each required CRD up and names the missing ones.
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=bare_namespace,
        kserve_runtime_required_crds=["servingruntimes.serving.kserve.io", "inferenceservices.serving.kserve.io",
                                      "llminferenceservices.serving.kserve.io"]))
    _assert_nothing_written(run, bare_namespace)
    message = _message(run)
    assert "lacks the CustomResourceDefinition(s) llminferenceservices.serving.kserve.io" in message
    assert "servingruntimes.serving.kserve.io" not in message.split("needed for", maxsplit=1)[0]
    assert "minilm, granite, msmarco" in message


def test_model_without_cache_or_connection_fails(playbooks, bare_namespace):
    models = [dict(SEED[0]), dict(SEED[2], storage={"type": "s3", "connection": "minio", "path": "rerankers/x"})]
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=bare_namespace, embedserve_models=models))
    _assert_nothing_written(run, bare_namespace)
    message = _message(run)
    assert "minilm: reads pvc://vllm-model-cache/minilm but the claim vllm-model-cache does not exist" in message
    assert "msmarco: data connection minio is neither in kserve_runtime_connections nor a Secret" in message


def test_hand_set_format_or_runtime_mismatch_fails(playbooks, bare_namespace):
    _with_cache(bare_namespace)
    shadow = "it-kserve-shadow-%s" % uuid.uuid4().hex[:6]
    # Same name at both scopes: KServe takes the namespace's, which does not declare vLLM.
    kubectl("create", "-f", "-", stdin=json.dumps({
        "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime", "metadata": {"name": shadow},
        "spec": {"supportedModelFormats": [{"name": "vLLM"}], "containers": [{"name": "kserve-container",
                                                                              "image": "example.com/x:1"}]}}))
    try:
        kubectl("-n", bare_namespace, "create", "-f", "-", stdin=json.dumps({
            "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "metadata": {"name": shadow},
            "spec": {"supportedModelFormats": [{"name": "huggingface"}],
                     "containers": [{"name": "kserve-container", "image": "example.com/x:1"}]}}))
        run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
            KSERVE_SEED, embedserve_namespace=bare_namespace,
            kserve_runtime_model_overrides={"minilm": {"model_format": "vllm-embedding"},
                                            "granite": {"runtime": shadow, "model_format": "vLLM"},
                                            "msmarco": {"model_format": {"name": "vLLM", "version": "1"}}}))
        assert run.rc != 0
        assert run.changed == 0, run.changed_tasks()
        assert _names("inferenceservice", bare_namespace) == []
        assert _names("servingruntime", bare_namespace) == [shadow]
        message = _message(run)
        assert "minilm: ServingRuntime minilm does not declare model format vllm-embedding" in message
        assert "granite: ServingRuntime %s does not declare model format vLLM (it declares: huggingface" % shadow \
            in message
        assert "msmarco: ServingRuntime msmarco does not declare model format vLLM version 1" in message
    finally:
        kubectl("delete", "clusterservingruntime", shadow, "--wait=false", check=False)


def test_api_key_on_plain_kserve_is_refused_not_served_open(playbooks, bare_namespace):
    """Finding 3: plain KServe ignores security.opendatahub.io/enable-auth, so the key would protect nothing."""
    _with_cache(bare_namespace)
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=bare_namespace, embedserve_openshift_ai=False,
        embedserve_models=[dict(SEED[0], api_key=True), SEED[2]]))
    _assert_nothing_written(run, bare_namespace)
    message = _message(run)
    assert "minilm: api_key/enable_auth asks for token authentication, which only OpenShift AI's " \
           "odh-model-controller enforces" in message
    assert "msmarco" not in message


def test_api_key_on_openshift_ai_asks_for_token_auth(playbooks, namespace_factory, tmp_path):
    namespace = namespace_factory("it-kserve-auth-%s" % uuid.uuid4().hex[:6])
    _with_cache(namespace)
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=namespace, embedserve_models=[dict(SEED[0], api_key=True), SEED[2]],
        kserve_runtime_hardware_profile={"name": "a10g-shared", "namespace": "redhat-ods-applications"}))
    assert run.rc == 0, run.failure_messages()
    annotations = dict((name, kubectl_json("-n", namespace, "get", "inferenceservice", name)["metadata"][
        "annotations"]) for name in ("minilm", "msmarco"))
    assert annotations["minilm"]["security.opendatahub.io/enable-auth"] == "true"
    assert annotations["msmarco"]["security.opendatahub.io/enable-auth"] == "false"
    for values in annotations.values():
        assert values["opendatahub.io/hardware-profile-name"] == "a10g-shared"
        assert values["opendatahub.io/hardware-profile-namespace"] == "redhat-ods-applications"
    _assert_dashboard_token_auth(namespace, tmp_path)
    again = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=namespace, embedserve_models=[dict(SEED[0], api_key=True), SEED[2]],
        kserve_runtime_hardware_profile={"name": "a10g-shared", "namespace": "redhat-ods-applications"}))
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
    # deleting the deployment as the dashboard does takes its token objects (their ownerReference)
    kubectl("-n", namespace, "delete", "inferenceservice", "minilm")
    assert _eventually(lambda: not _exists("-n", namespace, "get", "serviceaccount", "minilm-sa")), \
        "the garbage collector left the token objects of a deleted InferenceService"


def _eventually(check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(1)
    return check()


def _token_kubeconfig(tmp_path, token):
    """A kubeconfig for the local API server that authenticates with the token only (no client certificate)."""
    admin = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    cluster = admin["clusters"][0]["cluster"]
    path = tmp_path / "token-kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "token",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": "token", "user": {"token": token}}],
        "contexts": [{"name": "token", "context": {"cluster": "local", "user": "token"}}]}))
    return path


def _assert_dashboard_token_auth(namespace, tmp_path):
    """The OpenShift AI dashboard's token objects (odh-dashboard packages/kserve/src/deployUtils.ts,
    setUpTokenAuth; plugins/module_utils/token_auth.py) for the model with api_key, none for the other, and a token
    Kubernetes fills in that may get its own InferenceService and nothing else."""
    isvc = kubectl_json("-n", namespace, "get", "inferenceservice", "minilm")
    owner = [{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": "minilm",
              "uid": isvc["metadata"]["uid"], "blockOwnerDeletion": False}]
    for kind, name in (("serviceaccount", "minilm-sa"), ("role", "minilm-view-role"),
                       ("rolebinding", "minilm-view"), ("secret", "default-name-minilm-sa")):
        obj = kubectl_json("-n", namespace, "get", kind, name)
        assert obj["metadata"]["ownerReferences"] == owner, kind
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "minilm"
        assert obj["metadata"]["labels"]["applyset.kubernetes.io/part-of"].startswith("applyset-")
    assert not _exists("-n", namespace, "get", "serviceaccount", "msmarco-sa")
    secret = {}

    def filled():
        secret.update(kubectl_json("-n", namespace, "get", "secret", "default-name-minilm-sa"))
        return bool((secret.get("data") or {}).get("token"))

    assert _eventually(filled), "the service-account token controller did not fill the token in"
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "minilm-sa"
    token = base64.b64decode(secret["data"]["token"]).decode()
    as_token = ["--kubeconfig", str(_token_kubeconfig(tmp_path, token)), "-n", namespace]

    def run(*args):  # not conftest's kubectl, which always passes the admin kubeconfig
        return subprocess.run([str(KUBECTL), *as_token, *args], capture_output=True, text=True, timeout=60,
                              check=False)
    own = run("get", "inferenceservice", "minilm", "-o", "name")
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip() == "inferenceservice.serving.kserve.io/minilm"
    other = run("get", "inferenceservice", "msmarco")
    assert other.returncode != 0 and "forbidden" in other.stderr.lower(), other.stderr
    listing = run("get", "inferenceservices")
    assert listing.returncode != 0 and "forbidden" in listing.stderr.lower(), listing.stderr


def test_templates_refuse_model_types_the_dashboard_drops(playbooks, deployed):
    before = _versions("template", DASHBOARD_NS)
    run = run_playbook("site.yml", extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=NS, rhoai_template_model_types=["embedding", "predictive"]))
    assert run.rc != 0
    assert "rhoai_template_model_types only predictive or generative" in _message(run)
    assert "embedding and reranker included" in _message(run)
    assert _versions("template", DASHBOARD_NS) == before


def test_templates_need_the_dashboard_namespace(playbooks, deployed):
    run = run_playbook("site.yml", extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=NS, embedserve_dashboard_namespace="it-kserve-no-dashboard"))
    assert run.rc != 0
    assert "namespace it-kserve-no-dashboard does not exist" in _message(run)
    assert run.changed == 0, run.changed_tasks()
    assert not _exists("get", "namespace", "it-kserve-no-dashboard")


def test_data_connections_never_reach_the_output_or_rendered_files(playbooks, tmp_path, namespace_factory):
    namespace = namespace_factory("it-kserve-conn-%s" % uuid.uuid4().hex[:6])
    secret = "it-secret-%s" % uuid.uuid4().hex
    models = [dict(SEED[2], storage={"type": "s3", "connection": "minio", "path": "rerankers/msmarco"})]
    connections = [{"name": "minio", "access_key_id": "it-access", "secret_access_key": secret,
                    "endpoint": "https://minio.example:9000", "bucket": "models"}]
    extra = dict(KSERVE_SEED, embedserve_namespace=namespace, embedserve_models=models,
                 embedserve_connections=connections)
    applied = run_playbook(str(playbooks / "kserve.yml"), "-vvv", extra_vars=extra)
    assert applied.rc == 0, applied.failure_messages()
    assert secret not in json.dumps(applied.data) and secret not in applied.stderr
    stored = kubectl_json("-n", namespace, "get", "secret", "minio")
    assert stored["metadata"]["annotations"]["opendatahub.io/connection-type-ref"] == "s3"
    isvc = kubectl_json("-n", namespace, "get", "inferenceservice", "msmarco")
    assert isvc["spec"]["predictor"]["model"]["storage"] == {"key": "minio", "path": "rerankers/msmarco"}
    # OpenShift AI's connections API names the same connection and path
    assert isvc["metadata"]["annotations"]["opendatahub.io/connections"] == "minio"
    assert isvc["metadata"]["annotations"]["opendatahub.io/connection-path"] == "rerankers/msmarco"
    # OpenShift AI builds storage-config from the connection itself
    assert not _exists("-n", namespace, "get", "secret", "storage-config")
    again = run_playbook(str(playbooks / "kserve.yml"), extra_vars=extra)
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
    rendered = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        extra, embedserve_render_dir=str(tmp_path), embedserve_openshift_ai=False,
        embedserve_k8s_host="https://127.0.0.1:9"))
    assert rendered.rc == 0, rendered.failure_messages()
    texts = [p.read_text() for p in sorted(tmp_path.iterdir())]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kserve-secrets.yaml", "kserve.yaml"]
    assert all(secret not in text and "it-access" not in text for text in texts)
    assert "name: storage-config" in texts[0] and "kind: Route" in texts[1]


# --- removal ----------------------------------------------------------------------------------------------------

def test_absent_removes_the_models_and_templates_but_keeps_the_cache(playbooks, deployed):
    run = run_playbook("site.yml",
                       extra_vars=dict(KSERVE_SEED, embedserve_namespace=NS, embedserve_state="absent"))
    assert run.rc == 0, run.failure_messages()
    assert _names("inferenceservice", NS) == []
    assert _names("servingruntime", NS) == []
    assert _exists("-n", NS, "get", "pvc", "vllm-model-cache")
    templates = kubectl_json("-n", DASHBOARD_NS, "get", "template", "-l", "app.kubernetes.io/managed-by=embedserve")
    assert templates["items"] == []
