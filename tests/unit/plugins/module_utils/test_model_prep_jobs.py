# -*- coding: utf-8 -*-
"""model_prep_jobs: the Job plans (names, layout, pod) the populate-jobs template lays out."""

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils import model_layout
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_jobs import JobPlanError, populate_jobs


def snap(name="minilm", content_id="c0ffee", run_as_user=None):
    return {"item": {"name": name, "model": "sentence-transformers/all-MiniLM-L6-v2", "image": "img:v1",
                     "run_as_user": run_as_user},
            "commit": "abc123", "content_id": content_id, "files": [{"path": "config.json", "size": 2}]}


def test_the_layout_is_the_collections_one():
    job = populate_jobs([snap()], {"source": "s3", "s3_prefix": "/team//models/", "data_connection_name": "conn"})[0]
    assert job["manifest"]["s3_prefix"] == model_layout.s3_key_root("team/models", "minilm") == "team/models/minilm/"
    assert job["manifest"]["root"] == "/models" and job["manifest"]["folder"] == "minilm"
    assert job["env_from"] == [{"secretRef": {"name": "conn"}}]
    assert {"name": "EMBEDSERVE_S3_VERIFY", "value": "true"} in job["env"]
    # an empty prefix is the bucket's root, for the upload and for KServe's storage path alike
    assert populate_jobs([snap()], {"source": "s3", "s3_prefix": ""})[0]["manifest"]["s3_prefix"] == "minilm/"
    assert model_layout.s3_path("", "minilm") == "minilm"


def test_the_name_changes_with_content_and_pod_settings_only():
    base = populate_jobs([snap()])[0]["job_name"]
    assert base.startswith("minilm-prep-") and len(base) == len("minilm-prep-") + 8
    assert populate_jobs([snap()])[0]["job_name"] == base
    assert populate_jobs([snap(content_id="other")])[0]["job_name"] != base
    assert populate_jobs([snap()], {"timeout": "60"})[0]["job_name"] != base
    assert populate_jobs([snap(run_as_user=1001)])[0]["job_name"] != base


def test_the_pod_is_rootless_and_reads_the_token_from_its_secret():
    job = populate_jobs([snap(run_as_user=1001)], {"hf_endpoint": "http://mirror", "env": {"EXTRA": 1}})[0]
    assert job["pod_security_context"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                           "runAsUser": 1001, "runAsGroup": 0, "fsGroup": 1001}
    assert job["container_security_context"]["readOnlyRootFilesystem"] is True
    names = [e["name"] for e in job["env"]]
    assert names[-3:] == ["HF_ENDPOINT", "HF_TOKEN", "EXTRA"]
    token = [e for e in job["env"] if e["name"] == "HF_TOKEN"][0]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "HF_TOKEN", "optional": True}
    assert job["volumes"][-1] == {"name": "script", "configMap": {"name": job["job_name"]}}


@pytest.mark.parametrize("snapshots, settings, message", [
    ([{"item": {}}], {}, "snapshot 0 is not an hf_snapshot result"),
    (["x"], {}, "snapshot 0 is not an hf_snapshot result"),
    ([snap(name="Bad_Name")], {}, "snapshot 0: model name 'Bad_Name'"),
    ([snap()], {"source": "ftp"}, "model_prep_job_source must be hub or s3"),
    ([snap()], {"timeout": "soon"}, "model_prep_timeout must be an integer"),
    ([snap()], {"s3_validate_certs": "maybe"}, "model_prep_s3_validate_certs must be a boolean"),
    ([snap()], {"env": ["A=1"]}, "model_prep_env must be a mapping"),
    ([snap()], {"tiemout": 1}, r"unknown setting\(s\) tiemout"),
])
def test_bad_input_fails_cleanly(snapshots, settings, message):
    with pytest.raises(JobPlanError, match=message):
        populate_jobs(snapshots, settings)
