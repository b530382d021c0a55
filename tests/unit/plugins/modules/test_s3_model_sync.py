"""The s3_model_sync module without a server: argument checks and failures that need no S3.

Uploads against a real S3 server are tested in tests/integration/test_model_prep.py.
"""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins.modules import s3_model_sync


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        s3_model_sync.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "minilm"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return str(path)


def test_unreachable_endpoint_fails_and_reports_nothing_uploaded(capsys, folder):
    code, result = run_module(capsys, src=folder, bucket="models", prefix="p", endpoint_url="http://127.0.0.1:9",
                              access_key="a", secret_key="super-secret-value", region="us-east-1")
    assert code == 1
    assert result["msg"].startswith("cannot reach the S3 endpoint http://127.0.0.1:9")
    assert result["complete"] is False and result["uploaded"] == [] and result["pending"] == ["config.json"]
    assert result["url"] == "s3://models/p/minilm/"
    assert "super-secret-value" not in json.dumps(result)


def test_folder_without_config_fails_before_any_request(capsys, tmp_path):
    (tmp_path / "vocab.txt").write_text("x")
    code, result = run_module(capsys, src=str(tmp_path), bucket="models", endpoint_url="http://127.0.0.1:9")
    assert code == 1 and "has no config.json" in result["msg"] and result["complete"] is False


def test_part_size_below_the_s3_minimum_is_refused(capsys, folder):
    code, result = run_module(capsys, src=folder, bucket="models", multipart_chunksize_mib=4)
    assert code == 1 and "multipart_chunksize_mib must be an integer between 5 and 5120, got 4" in result["msg"]


def test_name_defaults_to_the_folder_name(capsys, folder):
    code, result = run_module(capsys, src=folder + "/", bucket="b", prefix="/x/", endpoint_url="http://127.0.0.1:9",
                              access_key="akid", secret_key="not-the-bucket-name")
    assert code == 1 and result["url"] == "s3://b/x/minilm/"
