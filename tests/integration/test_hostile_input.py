"""Hostile and careless catalogues applied on top of a healthy deployment write nothing, and secrets never
appear in -v/-vvv, --diff or render output.

Each bad catalogue is run through site.yml against the deployment the module
fixture made; the namespace's objects (kind, name, resourceVersion) must be
exactly as before, the failure must name the entry and the field, and no run
may print a Python traceback.
"""

import base64
import copy
import json
import os
import subprocess

import pytest

from conftest import KUBECONFIG, REPO, VENV_BIN, kubectl, kubectl_json

NS = "it-hostile"
HEALTHY = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2", "api_key": True, "network_policy": True},
]
HF_TOKEN = "hf_itHostileToken0123456789abcdef"
# Everything a run could write in the namespace (Routes and the other CRDs exist on the local cluster).
KINDS = "deployments,services,serviceaccounts,secrets,configmaps,networkpolicies,poddisruptionbudgets," \
        "persistentvolumeclaims,routes.route.openshift.io"


def run(*args, extra_vars=None):
    """ansible-playbook site.yml with the default (human) output, as a user sees it: (rc, stdout + stderr)."""
    cmd = [str(VENV_BIN / "ansible-playbook"), "site.yml", *args]
    if extra_vars is not None:
        cmd += ["-e", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               KUBECONFIG=str(KUBECONFIG))
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def site_vars(models=None, **extra):
    values = {"embedserve_namespace": NS, "embedserve_models": copy.deepcopy(models or HEALTHY),
              "embedserve_hf_token": HF_TOKEN}
    values.update(extra)
    return values


def snapshot():
    """{(kind, name): resourceVersion} of every object a run could write, plus the namespace itself."""
    objects = kubectl_json("-n", NS, "get", KINDS)["items"]
    state = dict(((obj["kind"], obj["metadata"]["name"]), obj["metadata"]["resourceVersion"]) for obj in objects)
    state[("Namespace", NS)] = kubectl_json("get", "namespace", NS)["metadata"]["resourceVersion"]
    return state


def secret_values():
    """Every secret value the healthy run put into the namespace (decoded), and the token it was given."""
    values = {HF_TOKEN}
    for secret in kubectl_json("-n", NS, "get", "secrets")["items"]:
        for encoded in (secret.get("data") or {}).values():
            decoded = base64.b64decode(encoded).decode()
            if len(decoded) >= 16:
                values.add(decoded)
                values.add(encoded)
    return values


@pytest.fixture(scope="module")
def healthy():
    kubectl("delete", "namespace", NS, "--wait=true", "--timeout=90s", check=False)
    rc, output = run(extra_vars=site_vars())
    assert rc == 0, output[-5000:]
    yield
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


def entry(**extra):
    return dict(HEALTHY[0], **extra)


CASES = {
    "nested values": (
        [entry(replicas=3e9, startup_timeout=-5, labels={"app.kubernetes.io/name": "other"},
               tolerations=[{"key": "a", "operator": "Exists", "value": "v"}], node_selector=["gpu"],
               env={"1BAD": "x"}, resources={"request": {"memory": "4Gi"}, "limits": {"memory": "lots"}},
               route={"host": "Bad Host"})],
        {},
        ["embedserve_models[0] (minilm): replicas 3000000000 is out of range",
         "embedserve_models[0] (minilm): startup_timeout -5 is out of range",
         "label key 'app.kubernetes.io/name' is set by the collection",
         "tolerations[0]: operator Exists takes no value",
         "node_selector ['gpu'] is a list, not a mapping",
         "environment variable name '1BAD' is not a valid environment variable name",
         "resources: unknown key 'request': did you mean 'requests'?",
         "resources.limits.memory 'lots' is not a quantity",
         "route.host 'Bad Host' is not a DNS host name"]),
    "network policy injection": (
        HEALTHY,
        {"embedserve_network_policy_namespaces": ["openshift-ingress", "x\n        - ipBlock: {cidr: 0.0.0.0/0}"]},
        ["embedserve_network_policy_namespaces[1]", "contains control characters"]),
    "extra_args bypass": (
        [entry(extra_args=["--max_model_len=100000", "--gpu_memory_utilization", "0.99", "--task embed"])],
        {},
        ["extra_args[0]: extra_args must not set --max-model-len (written '--max_model_len'",
         "extra_args[1]: extra_args must not set --gpu-memory-utilization",
         "extra_args[3]: --task must not be used"]),
    "unpinned images": (
        [entry(image="docker.io/vllm/vllm-openai:nightly"),
         dict(HEALTHY[0], name="other", image="docker.io/vllm/vllm-openai@sha256:")],
        {},
        ["has tag 'nightly', which names no vLLM release",
         "embedserve_models[1] (other): image docker.io/vllm/vllm-openai@sha256: has an incomplete digest"]),
    # issue 14: the catalogue owns the shared settings; a role variable overridden to something else would
    # have the pods mount a claim nobody created
    "role variables disagree with the catalogue": (
        HEALTHY, {"model_prep_cache_pvc_name": "elsewhere", "raw_deployment_service_account_name": "other-sa"},
        ["raw_deployment_service_account_name is 'other-sa' but the catalogue's service_account is 'vllm' "
         "(embedserve_service_account): set embedserve_service_account instead",
         "model_prep_cache_pvc_name is 'elsewhere' but the catalogue's cache_pvc_name is 'vllm-model-cache'"]),
    "unsupported vLLM": (HEALTHY, {"embedserve_vllm_version": "0.9.0",
                                   "embedserve_image": "docker.io/vllm/vllm-openai:v0.9.0"},
                         ["vllm_version 0.9.0 is not supported"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_catalogues_on_a_healthy_deployment_write_nothing(healthy, case):
    models, extra, expected = CASES[case]
    before = snapshot()
    rc, output = run("-vvv", extra_vars=site_vars(models, **extra))
    assert rc != 0
    for text in expected:
        assert text in output, (text, output[-4000:])
    assert "Traceback" not in output
    assert snapshot() == before


def test_a_secret_in_extra_args_is_refused_and_never_printed(healthy):
    before = snapshot()
    rc, output = run("-vvv", "--diff", extra_vars=site_vars([entry(extra_args=["--api-key", "sk-itHostile-4242"],
                                                                   env={"HF_TOKEN": "hf_itHostileEnv9999"})]))
    assert rc != 0
    assert "extra_args[0]: extra_args must not set --api-key" in output and "use api_key: true" in output
    assert "'HF_TOKEN' holds a secret" in output
    assert "sk-itHostile-4242" not in output and "hf_itHostileEnv9999" not in output
    assert snapshot() == before


def test_huge_replica_counts_fail_with_bounded_output(healthy):
    before = snapshot()
    rc, output = run(extra_vars=site_vars([entry(replicas=100000)]))
    assert rc != 0
    assert "replicas 100000: the GPUs in embedserve_gpus can hold at most" in output
    assert len(output) < 20000
    assert snapshot() == before


def test_broken_model_files_name_the_model_and_field(healthy, tmp_path):
    model = tmp_path / "broken"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["BertModel"], "model_type": "bert", '
                                       '"hidden_size": "384", "max_position_embeddings": 1e400}')
    before = snapshot()
    rc, output = run("-vvv", extra_vars=site_vars([dict(HEALTHY[0], name="broken", model=str(model))]))
    assert rc != 0
    assert "broken (%s)" % model in output
    assert "hidden_size must be a positive integer, found str '384'" in output
    assert "Traceback" not in output
    assert snapshot() == before


@pytest.mark.parametrize("flags", [["-v"], ["-vvv"], ["-vvv", "--diff"], ["-vvv", "--diff", "--check"]])
def test_secrets_never_appear_in_the_output(healthy, flags):
    secrets = secret_values()
    assert len(secrets) >= 3  # the API key (plain and base64) and the token
    rc, output = run(*flags, extra_vars=site_vars())
    assert rc == 0, output[-4000:]
    leaked = [value[:6] + "..." for value in secrets if value in output]
    assert not leaked, "secret values printed with %s" % " ".join(flags)


def test_secrets_never_appear_in_render_output(healthy, tmp_path):
    secrets = secret_values()
    rc, output = run("-vvv", "--diff", extra_vars=site_vars(embedserve_render_dir=str(tmp_path)))
    assert rc == 0, output[-4000:]
    assert not [value for value in secrets if value in output]
    rendered = "\n".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file())
    assert "kind: Secret" in rendered and "<redacted" in rendered
    assert not [value for value in secrets if value in rendered]


def test_an_unreachable_cluster_names_the_setting_without_a_traceback(tmp_path):
    closed = tmp_path / "kubeconfig"
    closed.write_text(KUBECONFIG.read_text().replace(
        kubectl_json("config", "view", "--minify")["clusters"][0]["cluster"]["server"], "https://127.0.0.1:9"))
    rc, output = run("-vvv", extra_vars=site_vars(embedserve_namespace="it-hostile-closed",
                                                  embedserve_kubeconfig=str(closed)))
    assert rc != 0
    assert "could not reach the Kubernetes API: check embedserve_kubeconfig" in output
    assert "Traceback" not in output


def test_secrets_never_appear_when_removing(healthy):
    # last in this file: it removes the healthy deployment
    secrets = secret_values()
    rc, output = run("-vvv", "--diff", extra_vars=site_vars(embedserve_state="absent"))
    assert rc == 0, output[-4000:]
    assert not [value[:6] for value in secrets if value in output]
