"""The catalogue: validation before anything is deployed, and the normalised entries roles read."""

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import (
    CatalogueError,
    check_image,
    resolve_catalogue,
    split_runtime_args,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

A10G = {"count": 1, "memory_mib": 23028, "sharing": "time-slicing",
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A10G-SHARED"}}


@pytest.fixture
def settings():
    return {"vllm_version": "0.32.0", "image": "docker.io/vllm/vllm-openai:v0.32.0", "default_mode": "raw",
            "namespace": "models", "gpus": dict(A10G), "model_source": "hub", "cache_pvc_name": "vllm-model-cache",
            "hf_token_secret": "", "platform": "openshift", "network_policy_namespaces": ["openshift-ingress"]}


@pytest.fixture
def resolver(minilm_dir, fixture_models):
    """Resolve repo ids from local folders: the real MiniLM, config-only copies of the others."""
    folders = {"sentence-transformers/all-MiniLM-L6-v2": minilm_dir}
    for config in fixture_models.glob("*/*/config.json"):
        folders["%s/%s" % (config.parent.parent.name, config.parent.name)] = str(config.parent)
    calls = []

    def resolve(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        calls.append(model)
        return resolve_model(folders.get(model, model), vllm_version="0.32.0", max_model_len=max_model_len,
                             hf_overrides=hf_overrides, disable_sliding_window=disable_sliding_window)

    resolve.calls = calls
    return resolve


SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]


def by_name(result):
    return dict((entry["name"], entry) for entry in result["catalogue"])


def flag_value(args, flag):
    return args[args.index(flag) + 1]


def test_seed_catalogue_resolves_into_raw_entries_on_one_gpu(settings, resolver):
    result = resolve_catalogue([dict(m) for m in SEED], settings, resolver)
    entries = by_name(result)
    assert [row["name"] for row in result["summary"]] == ["minilm", "granite", "msmarco"]
    minilm = entries["minilm"]
    args = minilm["container"]["args"]
    assert flag_value(args, "--max-model-len") == "256"
    assert flag_value(args, "--served-model-name") == "minilm"
    assert flag_value(args, "--runner") == "pooling"
    assert "--task" not in args
    assert float(flag_value(args, "--gpu-memory-utilization")) == minilm["gpu"]["fraction"]
    assert entries["msmarco"]["facts"]["task"] == "score"
    assert {e["gpu"]["gpu_index"] for e in entries.values()} == {0}
    total = sum(e["gpu"]["fraction"] for e in entries.values())
    assert total + 3 * result["plan"]["cuda_context_mib"] / 23028.0 <= 0.95


def test_each_distinct_model_is_read_once(settings, resolver):
    models = [{"name": "a%d" % i, "model": "sentence-transformers/all-MiniLM-L6-v2"} for i in range(5)]
    resolve_catalogue(models, settings, resolver)
    assert resolver.calls == ["sentence-transformers/all-MiniLM-L6-v2"]


def test_raw_pod_is_rootless_and_writes_only_to_mounted_volumes(settings, resolver):
    entry = by_name(resolve_catalogue([dict(SEED[0])], settings, resolver))["minilm"]
    env = dict((item["name"], item.get("value")) for item in entry["container"]["env"])
    assert env["USER"] == "vllm"
    assert env["HF_HOME"] == "/models/huggingface"
    for name in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "VLLM_CACHE_ROOT", "VLLM_CONFIG_ROOT",
                 "TRITON_CACHE_DIR", "NUMBA_CACHE_DIR"):
        assert env[name].startswith("/scratch")
    assert "VLLM_CACHE_DIR" not in env
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    mounts = dict((m["mountPath"], m) for m in entry["pod"]["volume_mounts"])
    assert set(mounts) == {"/scratch", "/tmp", "/dev/shm", "/models"}
    shm = [v for v in entry["pod"]["volumes"] if v["name"] == "shm"][0]
    assert shm["emptyDir"]["medium"] == "Memory"
    security = entry["pod"]["container_security_context"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "runAsUser" not in security and "runAsUser" not in entry["pod"]["security_context"]


def test_kserve_entries_keep_the_models_own_env(settings, resolver):
    entry = by_name(resolve_catalogue([dict(SEED[0], mode="kserve", env={"VLLM_LOGGING_LEVEL": "DEBUG"})],
                                      settings, resolver))["minilm"]
    assert entry["kserve"]["model_env"] == {"VLLM_LOGGING_LEVEL": "DEBUG"}


def test_gpu_models_get_the_planned_resource_toleration_and_node_selector(settings, resolver):
    entry = by_name(resolve_catalogue([dict(SEED[1])], settings, resolver))["granite"]
    assert entry["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert entry["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert entry["scheduling"]["node_selector"] == {"nvidia.com/gpu.product": "NVIDIA-A10G-SHARED"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in entry["scheduling"]["tolerations"]
    # granite has 278M parameters: more host memory than MiniLM's minimum
    assert int(entry["resources"]["requests"]["memory"].rstrip("Gi")) >= 4


def test_hub_models_are_pinned_to_the_analysed_commit(settings, minilm_dir, tmp_path):
    from support.hub_cache import build_hub_cache

    cache = tmp_path / "hub"
    build_hub_cache(minilm_dir, str(cache), "sentence-transformers/all-MiniLM-L6-v2", commit="a" * 40)

    def resolve(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        return resolve_model(model, revision=revision, cache_dir=str(cache), offline=True, vllm_version="0.32.0")

    entry = by_name(resolve_catalogue([dict(SEED[0])], settings, resolve))["minilm"]
    args = entry["container"]["args"]
    assert flag_value(args, "--model") == "sentence-transformers/all-MiniLM-L6-v2"
    assert flag_value(args, "--revision") == "a" * 40
    assert entry["revision"] == "a" * 40


def test_prepared_source_serves_the_cache_folder_offline(settings, resolver):
    settings["model_source"] = "prepared"
    entry = by_name(resolve_catalogue([dict(SEED[0])], settings, resolver))["minilm"]
    assert flag_value(entry["container"]["args"], "--model") == "/models/minilm"
    env = dict((item["name"], item.get("value")) for item in entry["container"]["env"])
    assert env["HF_HUB_OFFLINE"] == "1"
    cache_mount = [m for m in entry["pod"]["volume_mounts"] if m["name"] == "model-cache"][0]
    assert cache_mount["readOnly"] is True


def test_api_key_and_hf_token_come_from_secrets(settings, resolver):
    settings["hf_token_secret"] = "hf-token"
    entry = by_name(resolve_catalogue([dict(SEED[0], api_key=True)], settings, resolver))["minilm"]
    refs = dict((item["name"], item["valueFrom"]["secretKeyRef"]) for item in entry["container"]["env"]
                if "valueFrom" in item)
    assert refs["VLLM_API_KEY"] == {"name": "minilm-api-key", "key": "VLLM_API_KEY"}
    assert refs["HF_TOKEN"]["name"] == "hf-token"


def test_survey_strings_are_cast(settings, resolver):
    entry = dict(SEED[0], replicas="2", api_key="true", max_model_len="128", network_policy="false")
    result = by_name(resolve_catalogue([entry], settings, resolver))["minilm"]
    assert result["replicas"] == 2
    assert result["api_key"]["enabled"] is True
    assert result["network_policy"]["enabled"] is False
    assert result["facts"]["max_model_len"] == 128


def test_every_problem_is_reported_at_once_before_reading_any_model(settings, resolver):
    models = [
        {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
        {"name": "minilm", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
        {"name": "Bad_Name", "model": "x/y"},
        {"name": "9lives", "model": "x/y"},
        {"name": "ok", "model": "x/y", "max_modle_len": 3, "replicas": "two", "mode": "serverless"},
        {"model": "x/y"},
    ]
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue(models, settings, resolver)
    message = str(error.value)
    assert "nothing was deployed" in message
    assert "name 'minilm' is already used by embedserve_models[0]" in message
    assert "name 'Bad_Name'" in message
    assert "name '9lives' must start with a letter" in message
    assert "unknown key 'max_modle_len'" in message
    assert "replicas 'two' is not an integer" in message
    assert "mode 'serverless' must be one of raw, kserve" in message
    assert "embedserve_models[5]: 'name' is required" in message
    assert resolver.calls == []


@pytest.mark.parametrize("image, problem", [
    ("docker.io/vllm/vllm-openai:latest", "moving 'latest' tag"),
    ("docker.io/vllm/vllm-openai", "has no tag"),
    ("docker.io/vllm/vllm-openai:v0.30.0", "is vLLM 0.30.0 but the arguments are built for vLLM 0.32.0"),
    ("registry.local:5000/vllm/vllm-openai", "has no tag"),
    # a product tag names no vLLM release: pin such images by digest
    ("registry.local:5000/vllm/vllm-openai:rhoai-2.25", "names no vLLM release"),
    ("docker.io/vllm/vllm-openai:nightly", "names no vLLM release"),
    ("docker.io/vllm/vllm-openai@sha256:", "incomplete digest"),
    ("docker.io/vllm/vllm-openai@sha256:" + "a" * 63, "incomplete digest"),
])
def test_images_must_be_pinned_to_the_version_the_arguments_target(image, problem):
    assert problem in check_image(image, "0.32.0", "embedserve_models[0]")


@pytest.mark.parametrize("image", [
    "docker.io/vllm/vllm-openai:v0.32.0",
    "docker.io/vllm/vllm-openai:v0.32.1",
    "quay.io/modh/vllm@sha256:" + "0" * 64,
    "registry.local:5000/vllm/vllm-openai:v0.32.0-cu128",
    "docker.io/vllm/vllm-openai:v0.32",
])
def test_pinned_images_pass(image):
    assert check_image(image, "0.32.0", "embedserve_models[0]") is None


def test_a_catalogue_that_does_not_fit_names_the_models_and_shortfall(settings, resolver):
    settings["gpus"] = {"count": 1, "memory_mib": 2048, "sharing": "time-slicing"}
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([dict(m) for m in SEED], settings, resolver)
    message = str(error.value)
    assert "does not fit the GPUs" in message and "short by" in message
    # largest first: granite takes the GPU, the other two are named with their shortfall
    assert "msmarco needs" in message and "minilm needs" in message


def test_gpu_models_without_a_gpu_description_fail_clearly(settings, resolver):
    settings["gpus"] = {}
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([dict(SEED[0])], settings, resolver)
    assert "minilm need a GPU but no GPUs are described" in str(error.value)
    cpu_only = resolve_catalogue([dict(SEED[0], gpu=False)], settings, resolver)
    assert by_name(cpu_only)["minilm"]["gpu"] == {"enabled": False}


def test_unreadable_models_fail_with_the_model_named(settings, resolver, tmp_path):
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([{"name": "ghost", "model": str(tmp_path / "missing")}], settings, resolver)
    assert "ghost (%s)" % (tmp_path / "missing") in str(error.value)


def test_kserve_entries_split_runtime_and_model_arguments(settings, resolver):
    entry = by_name(resolve_catalogue([dict(SEED[2], mode="kserve")], settings, resolver))["msmarco"]
    kserve = entry["kserve"]
    assert kserve["runtime"] == "vllm-reranker-runtime"
    assert kserve["runtime_args"] == ["--model", "/mnt/models", "--served-model-name", "{{.Name}}",
                                      "--runner", "pooling", "--port", "8080"]
    assert flag_value(kserve["model_args"], "--max-model-len") == "512"
    assert "--gpu-memory-utilization" in kserve["model_args"]
    # Hub models that nobody prepared: KServe's storage initializer downloads them (issue 11)
    assert kserve["storage"] == {"storageUri": "hf://cross-encoder/ms-marco-MiniLM-L12-v2"}
    assert kserve["storage_type"] == "hf" and not kserve["storage_path_given"]


def test_kserve_storage_follows_the_model_source(settings, resolver):
    entry = dict(SEED[2], mode="kserve")
    settings["model_source"] = "prepared"  # model_prep fills <claim>/<name>
    prepared = by_name(resolve_catalogue([entry], settings, resolver))["msmarco"]["kserve"]
    assert prepared["storage"] == {"storageUri": "pvc://vllm-model-cache/msmarco"}
    settings.update(model_source="hub", kserve_storage="pvc")  # asked for, with a folder the user put there
    given = by_name(resolve_catalogue([dict(entry, storage={"path": "mine/msmarco"})], settings, resolver))
    assert given["msmarco"]["kserve"]["storage"] == {"storageUri": "pvc://vllm-model-cache/mine/msmarco"}
    assert given["msmarco"]["kserve"]["storage_path_given"]


def test_hf_storage_pins_the_commit_the_facts_came_from(settings, resolver):
    def pinned(*args):
        return dict(resolver(*args), commit="0123abcd" * 5)

    kserve = by_name(resolve_catalogue([dict(SEED[2], mode="kserve")], settings, pinned))["msmarco"]["kserve"]
    assert kserve["storage"] == {"storageUri": "hf://cross-encoder/ms-marco-MiniLM-L12-v2:" + "0123abcd" * 5}


@pytest.mark.parametrize("model", ["bert-base-uncased", "a/b/c", "owner/model:rev"])
def test_hf_storage_needs_an_owner_and_model_id(settings, resolver, model):
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([dict(SEED[2], mode="kserve", model=model)], settings, resolver)
    assert "embedserve_models[0]" in str(error.value)
    assert "hf://<owner>/<model>" in str(error.value)


def test_kserve_s3_storage_needs_a_connection(settings, resolver):
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([dict(SEED[0], mode="kserve", storage={"type": "s3"})], settings, resolver)
    assert "s3 storage needs storage.connection (or embedserve_data_connection)" in str(error.value)
    entry = by_name(resolve_catalogue([dict(SEED[0], mode="kserve", storage={
        "type": "s3", "connection": "aws-connection-models", "path": "models/minilm"})], settings, resolver))
    expected = {"storage": {"key": "aws-connection-models", "path": "models/minilm"}}
    assert entry["minilm"]["kserve"]["storage"] == expected
    # the defaults follow model_prep: the shared data connection and <prefix>/<name>
    settings.update(data_connection="aws-connection-embedserve-models", s3_prefix="prepared")
    entry = by_name(resolve_catalogue([dict(SEED[0], mode="kserve", storage={"type": "s3"})], settings, resolver))
    expected = {"storage": {"key": "aws-connection-embedserve-models", "path": "prepared/minilm"}}
    assert entry["minilm"]["kserve"]["storage"] == expected


def test_a_uid_is_set_only_when_the_platform_needs_one(settings, resolver):
    openshift = by_name(resolve_catalogue([dict(SEED[0])], settings, resolver))["minilm"]["pod"]
    assert "runAsUser" not in openshift["security_context"]
    settings["run_as_user"] = 1001
    plain = by_name(resolve_catalogue([dict(SEED[0])], settings, resolver))["minilm"]["pod"]
    assert plain["security_context"]["runAsUser"] == 1001 and plain["security_context"]["fsGroup"] == 1001
    assert plain["container_security_context"]["runAsUser"] == 1001


def test_split_runtime_args_keeps_flag_values_together():
    runtime, model = split_runtime_args(["--model", "/mnt/models", "--enforce-eager", "--served-model-name", "x",
                                         "--hf-overrides", '{"a": 1}', "--port", "8080"])
    assert runtime == ["--model", "/mnt/models", "--served-model-name", "x", "--port", "8080"]
    assert model == ["--enforce-eager", "--hf-overrides", '{"a": 1}']


def test_kserve_models_are_served_under_their_inferenceservice_name(settings, resolver):
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([dict(SEED[0], mode="kserve", served_model_name="mini")], settings, resolver)
    assert "served_model_name 'mini' cannot be used in kserve mode" in str(error.value)
    entry = by_name(resolve_catalogue([dict(SEED[0], mode="kserve")], settings, resolver))["minilm"]
    assert entry["served_model_name"] == "minilm"


def test_a_hostile_cpu_image_is_refused_before_any_model_is_read(settings, resolver):
    settings["cpu_image"] = "docker.io/vllm/vllm-cpu:v0.32.0\n  injected: true"
    with pytest.raises(CatalogueError) as error:
        resolve_catalogue([{"name": "minilm", "model": "m", "device": "cpu"}], settings, resolver)
    assert "embedserve_cpu_image" in str(error.value)
    assert resolver.calls == []


def test_cpu_and_gpu_models_in_kserve_mode_name_separate_runtimes(settings, resolver):
    """One ServingRuntime has one image: CPU models run embedserve_cpu_image, so they get runtimes of their own."""
    from ansible_collections.embedserve.vllm.plugins.module_utils.serving_runtime import runtime_groups

    settings.update(default_mode="kserve", cpu_image="public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.32.0")
    models = [dict(SEED[0]), dict(SEED[0], name="minilm-cpu", device="cpu"),
              dict(SEED[2]), dict(SEED[2], name="msmarco-cpu", device="cpu")]
    catalogue = resolve_catalogue(models, settings, resolver)["catalogue"]
    assert [e["kserve"]["runtime"] for e in catalogue] == [
        "vllm-embedding-runtime", "vllm-cpu-embedding-runtime", "vllm-reranker-runtime", "vllm-cpu-reranker-runtime"]
    images = dict((g["name"], g["image"]) for g in runtime_groups(catalogue))
    assert images["vllm-cpu-embedding-runtime"] == settings["cpu_image"]
    assert images["vllm-embedding-runtime"] == settings["image"]


def test_the_probes_come_from_one_place_per_mode(settings, resolver):
    """Startup window / period = failure threshold; raw probes the named port, KServe the runtime's 8080."""
    from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import KSERVE_PORT, PROBE_PERIOD_SECONDS

    models = [dict(SEED[0], startup_timeout=601), dict(SEED[0], name="minilm-kserve", mode="kserve")]
    raw, kserve = resolve_catalogue(models, settings, resolver)["catalogue"]
    assert raw["probes"]["startup"]["failureThreshold"] == raw["probes"]["startup_failure_threshold"] == 61
    assert raw["probes"]["startup"]["httpGet"] == {"path": "/health", "port": "http"}
    assert kserve["probes"]["readiness"]["httpGet"] == {"path": "/health", "port": KSERVE_PORT}
    for entry in (raw, kserve):
        assert entry["probes"]["startup"]["periodSeconds"] == PROBE_PERIOD_SECONDS
        assert entry["probes"]["readiness"]["periodSeconds"] == PROBE_PERIOD_SECONDS


def test_each_model_endpoint_is_computed_once_in_the_catalogue(settings, resolver):
    """Service, port, in-cluster URL and listed model name: what summary, verify and benchmark read."""
    models = [dict(SEED[0], served_model_name="mini"), dict(SEED[0], name="minilm-kserve", mode="kserve")]
    result = resolve_catalogue(models, settings, resolver)
    raw, kserve = result["catalogue"]
    assert raw["endpoint"] == {"service": "minilm", "port": 8000, "url": "http://minilm.models.svc:8000",
                               "served_model_name": "mini"}
    # KServe's predictor Service on 80, and {{.Name}}: the InferenceService's name is the listed model
    assert kserve["endpoint"] == {"service": "minilm-kserve-predictor", "port": 80,
                                  "url": "http://minilm-kserve-predictor.models.svc",
                                  "served_model_name": "minilm-kserve"}
    assert result["summary"][1]["url"] == kserve["endpoint"]["url"]


def test_the_catalogue_owns_the_shared_settings(settings, resolver):
    from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import (
        SHARED_SETTINGS,
        shared_setting_problems,
    )
    result = resolve_catalogue([{"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"}],
                               dict(settings, cache_pvc_name="shared-cache", service_account="models-sa"),
                               resolver)
    shared = result["settings"]
    assert shared["namespace"] == "models"
    assert (shared["cache_pvc_name"], shared["service_account"]) == ("shared-cache", "models-sa")
    assert result["catalogue"][0]["pod"]["volumes"][-1]["persistentVolumeClaim"]["claimName"] == "shared-cache"
    agreeing = dict((name, shared[key]) for key, names in SHARED_SETTINGS.items() for name in names
                    if key != "hf_token_secret")
    assert shared_setting_problems(shared, dict(agreeing, model_prep_hf_token_secret_name="hf-token")) == []
    problems = shared_setting_problems(shared, dict(agreeing, namespace_cache_pvc_name="vllm-model-cache",
                                                    kserve_runtime_namespace=None, model_prep_s3_prefix=""))
    assert problems == ["namespace_cache_pvc_name is 'vllm-model-cache' but the catalogue's cache_pvc_name is "
                        "'shared-cache' (embedserve_cache_pvc_name): set embedserve_cache_pvc_name instead, so "
                        "every role and the pods agree"]


def test_a_bad_service_account_is_refused_before_anything(settings, resolver):
    with pytest.raises(CatalogueError, match="embedserve_service_account"):
        resolve_catalogue([{"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"}],
                          dict(settings, service_account="Bad SA"), resolver)


def test_every_list_of_modes_is_the_mode_modules():
    """A new modes/<mode>.py registered in modes.MODULES is a valid mode everywhere: schema, catalogue,
    and the modules' documented choices (checked here, since module docs are static)."""
    import yaml

    from ansible_collections.embedserve.vllm.plugins.module_utils import catalogue, catalogue_schema, modes
    from ansible_collections.embedserve.vllm.plugins.modules import model_catalogue

    assert catalogue.MODES == modes.NAMES == tuple(catalogue_schema.ENTRY_FIELDS["mode"].choices)
    doc = yaml.safe_load(model_catalogue.DOCUMENTATION)
    assert tuple(doc["options"]["default_mode"]["choices"]) == modes.NAMES
    for name, module in modes.MODULES.items():
        assert module.NAME == name
        for attribute in ("PROBE_PORT", "vllm_options", "fields", "endpoint", "summary_url"):
            assert hasattr(module, attribute), (name, attribute)
