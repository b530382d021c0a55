"""The kserve_runtime and rhoai_template roles against the local control plane (real KServe v0.20.0, Route and
Template CRD schemas; no KServe controller, so the checks here are the ones KServe and the dashboard make).

- the seed catalogue deployed in kserve mode with the Templates published, then a second run changes nothing;
- every InferenceService on the cluster resolves to a runtime by KServe's rules;
- every dashboard Template instantiates into a ServingRuntime the API server accepts;
- check mode creates nothing; bad input fails before any write.
"""

import copy
import json
import uuid

import pytest

from conftest import kubectl, kubectl_json, run_playbook

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
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]
# startup_timeout: the local inventory shortens it for kwok; 600 s here, asserted on the probes.
KSERVE_SEED = {"embedserve_default_mode": "kserve", "embedserve_models": SEED, "embedserve_openshift_ai": True,
               "embedserve_model_defaults": {"startup_timeout": 600}}


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
    assert _names("servingruntime", NS) == ["vllm-embedding-runtime", "vllm-reranker-runtime"]
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
    assert meta["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert meta["annotations"]["openshift.io/display-name"] == "msmarco"
    assert "security.opendatahub.io/enable-auth" not in meta["annotations"]
    model = predictor["model"]
    assert model["runtime"] == "vllm-reranker-runtime"
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
        # one source: the Template carries exactly the runtime the role created
        assert carried["spec"] == runtime["spec"]
        assert carried["metadata"]["name"] == runtime["metadata"]["name"]


# --- KServe's runtime resolution, written independently of the role ------------------------------------------

def _format_labels(formats, explicit):
    labels = set()
    for fmt in formats or []:
        if explicit or fmt.get("autoSelect"):
            labels.add("mt:" + fmt["name"])
            if fmt.get("version"):
                labels.add("mt:%s:%s" % (fmt["name"], fmt["version"]))
    return labels


def _model_label(model):
    fmt = model["modelFormat"]
    return "mt:" + fmt["name"] + (":" + fmt["version"] if fmt.get("version") else "")


def resolve(isvc, runtimes, cluster_runtimes):
    """(runtime object, None) or (None, why) for an InferenceService, following KServe's predictor reconciler."""
    model = isvc["spec"]["predictor"].get("model")
    if model is None:
        return None, "no spec.predictor.model"
    namespace = isvc["metadata"]["namespace"]
    label = _model_label(model)
    name = model.get("runtime")
    if name:
        runtime = runtimes.get((namespace, name)) or cluster_runtimes.get(name)
        if runtime is None:
            return None, "runtime %s is neither a ServingRuntime in %s nor a ClusterServingRuntime" % (name, namespace)
        spec = runtime["spec"]
        if spec.get("disabled"):
            return None, "runtime %s is disabled" % name
        if spec.get("multiModel"):
            return None, "runtime %s is multi-model" % name
        if label not in _format_labels(spec.get("supportedModelFormats"), explicit=True):
            return None, "runtime %s does not declare %s (declares %s)" % (
                name, label, sorted(_format_labels(spec.get("supportedModelFormats"), True)))
        if not spec.get("containers"):
            return None, "runtime %s has no containers" % name
        return runtime, None
    for candidates in ([r for (ns, _n), r in sorted(runtimes.items()) if ns == namespace],
                       [r for _n, r in sorted(cluster_runtimes.items())]):
        for runtime in candidates:
            spec = runtime["spec"]
            if not spec.get("disabled") and not spec.get("multiModel") and \
                    label in _format_labels(spec.get("supportedModelFormats"), explicit=False):
                return runtime, None
    return None, "no runtime auto-selects %s" % label


def _cluster_runtimes():
    runtimes = dict(((r["metadata"]["namespace"], r["metadata"]["name"]), r)
                    for r in kubectl_json("get", "servingruntime", "-A")["items"])
    cluster = dict((r["metadata"]["name"], r) for r in kubectl_json("get", "clusterservingruntime")["items"])
    return runtimes, cluster


def test_resolver_follows_kserve_precedence_and_exact_formats():
    def rt(name, formats, **spec):
        return {"metadata": {"name": name}, "spec": dict(spec, supportedModelFormats=formats,
                                                         containers=[{"name": "kserve-container"}])}

    def isvc(fmt, runtime=None):
        model = {"modelFormat": fmt}
        if runtime:
            model["runtime"] = runtime
        return {"metadata": {"namespace": "p", "name": "m"}, "spec": {"predictor": {"model": model}}}

    namespaced = {("p", "shared"): rt("shared", [{"name": "huggingface"}])}
    cluster = {"shared": rt("shared", [{"name": "vLLM"}]), "auto": rt("auto", [{"name": "vLLM", "autoSelect": True}])}
    assert resolve(isvc({"name": "vLLM"}, "shared"), namespaced, cluster)[1].startswith("runtime shared does not")
    assert resolve(isvc({"name": "vLLM"}, "shared"), {}, cluster)[0] is cluster["shared"]
    assert resolve(isvc({"name": "vllm"}, "shared"), {}, cluster)[1] is not None
    assert resolve(isvc({"name": "vLLM", "version": "1"}, "shared"), {}, cluster)[1] is not None
    assert resolve(isvc({"name": "vLLM"}), {}, cluster)[0] is cluster["auto"]
    assert resolve(isvc({"name": "vLLM"}, "nope"), namespaced, cluster)[1].startswith("runtime nope is neither")
    disabled = {("p", "off"): rt("off", [{"name": "vLLM"}], disabled=True)}
    assert resolve(isvc({"name": "vLLM"}, "off"), disabled, {})[1] == "runtime off is disabled"


def test_every_inferenceservice_resolves_to_its_runtime(deployed):
    runtimes, cluster = _cluster_runtimes()
    isvcs = kubectl_json("get", "inferenceservice", "-A")["items"]
    ours = [i for i in isvcs if i["metadata"]["namespace"] == NS]
    assert len(ours) == 3
    failures = []
    for isvc in isvcs:
        runtime, why = resolve(isvc, runtimes, cluster)
        where = "%s/%s" % (isvc["metadata"]["namespace"], isvc["metadata"]["name"])
        if runtime is None:
            failures.append("%s: %s" % (where, why))
        elif isvc["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "embedserve":
            if not isvc["spec"]["predictor"]["model"].get("runtime"):
                failures.append("%s: embedserve InferenceServices must name their runtime" % where)
            task = isvc["metadata"]["labels"]["app.kubernetes.io/component"]
            if runtime["metadata"]["labels"]["app.kubernetes.io/component"] != "%s-runtime" % task:
                failures.append("%s: a %s model bound to %s" % (where, task, runtime["metadata"]["name"]))
    assert failures == []


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
    project = namespace_factory("it-kserve-dash-%s" % uuid.uuid4().hex[:6], {"opendatahub.io/dashboard": "true"})
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
        runtimes, cluster = _cluster_runtimes()
        bound, why = resolve(kubectl_json("-n", project, "get", "inferenceservice", name), runtimes, cluster)
        assert why is None and bound["metadata"]["name"] == name


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


def test_missing_kserve_crds_fail_naming_them(playbooks, bare_namespace):
    _with_cache(bare_namespace)
    # A KServe CRD this cluster does not have: the role looks each required CRD up and names the missing ones.
    run = run_playbook(str(playbooks / "kserve.yml"), extra_vars=dict(
        KSERVE_SEED, embedserve_namespace=bare_namespace,
        kserve_runtime_required_crds=["servingruntimes.serving.kserve.io", "inferenceservices.serving.kserve.io",
                                      "inferencegraphs.serving.kserve.io"]))
    _assert_nothing_written(run, bare_namespace)
    message = _message(run)
    assert "lacks the CustomResourceDefinition(s) inferencegraphs.serving.kserve.io" in message
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
        assert "minilm: ServingRuntime vllm-embedding-runtime does not declare model format vllm-embedding" in message
        assert "granite: ServingRuntime %s does not declare model format vLLM (it declares: huggingface" % shadow \
            in message
        assert "msmarco: ServingRuntime vllm-reranker-runtime does not declare model format vLLM version 1" in message
    finally:
        kubectl("delete", "clusterservingruntime", shadow, "--wait=false", check=False)


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
    assert "The dashboard namespace it-kserve-no-dashboard does not exist" in _message(run)
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
