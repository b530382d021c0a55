# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""Read a model's small files from a local directory or the Hugging Face Hub.

Only configuration files and safetensors *headers* are read; weights never are.
Remote access goes exclusively through huggingface_hub so that tokens,
revisions, HF_ENDPOINT mirrors, HF_HUB_OFFLINE and the shared cache behave as
they do for vLLM itself.
"""

import importlib
import json
import os
import struct

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"

# A safetensors header is a few hundred KiB even for 70B-parameter shards;
# anything larger means the file is not safetensors.
_MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024

# safetensors dtype codes of floating-point tensors, as torch dtype names.
# Integer/bool tensors are buffers (position ids), not parameters.
FLOAT_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


class ModelFileError(ValueError):
    """A model file is missing, unreadable or malformed, or the model cannot be found."""


def import_huggingface_hub():
    """(huggingface_hub module, None) or (None, ImportError).

    Imported on first Hub access only: it costs about 150 ms that local
    directories need not pay, and local directories work without it.
    """
    try:
        module = importlib.import_module("huggingface_hub")
        importlib.import_module("huggingface_hub.constants")
        importlib.import_module("huggingface_hub.errors")
    except ImportError as exc:
        return None, exc
    return module, None


def looks_like_local_path(model):
    """Hub repo ids never start with '/', '.' or '~'; existing directories are local too."""
    return model.startswith(("/", ".", "~")) or os.path.isdir(model)


class _ModelFiles:
    """What every model source provides: existence checks, JSON reads and safetensors headers."""

    source = None

    def __init__(self, model, revision, commit, local_path):
        self.model = model
        self.revision = revision
        self.commit = commit
        self.local_path = local_path
        self.files_read = []

    def read_json(self, name, required=False, expect=dict):
        """Parsed JSON of `name` (an object, or a list with expect=list); None when an optional file is absent."""
        if not self.exists(name):
            if required:
                raise ModelFileError("%s not found: %s" % (name, self.describe(name)))
            return None
        path = self._fetch(name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except ValueError as exc:
            raise ModelFileError("malformed JSON in %s: %s" % (self.describe(name), exc)) from exc
        except OSError as exc:
            raise ModelFileError("cannot read %s: %s" % (self.describe(name), exc)) from exc
        if not isinstance(data, expect):
            raise ModelFileError("%s must contain a JSON %s, found %s"
                                 % (self.describe(name), "object" if expect is dict else "list", type(data).__name__))
        self.files_read.append(name)
        return data


class LocalModelFiles(_ModelFiles):
    """Files of a model in a directory: a PVC mount, a download, a hub cache snapshot."""

    def __init__(self, directory, model=None, revision=None, commit=None, source="local"):
        super().__init__(model or directory, revision, commit, os.path.abspath(os.path.expanduser(directory)))
        self.source = source
        if not os.path.isdir(self.local_path):
            raise ModelFileError("model directory %s does not exist" % self.local_path)

    def describe(self, name):
        return os.path.join(self.local_path, name)

    def exists(self, name):
        return os.path.isfile(os.path.join(self.local_path, name))

    def _fetch(self, name):
        return os.path.join(self.local_path, name)

    def safetensors_tensors(self):
        """{tensor name: (dtype code, shape)} over all top-level weight files; {} if none."""
        tensors = {}
        for name in self._safetensors_files():
            tensors.update(read_safetensors_header(os.path.join(self.local_path, name), self.describe(name)))
            self.files_read.append(name + " (header)")
        return tensors

    def _safetensors_files(self):
        index = self.read_json(SAFETENSORS_INDEX_FILE)
        if index is not None:
            weight_map = index.get("weight_map")
            if not isinstance(weight_map, dict):
                raise ModelFileError("%s has no weight_map object" % self.describe(SAFETENSORS_INDEX_FILE))
            return sorted(set(weight_map.values()))
        if self.exists(SAFETENSORS_FILE):
            return [SAFETENSORS_FILE]
        return sorted(entry for entry in os.listdir(self.local_path)
                      if entry.endswith(".safetensors") and self.exists(entry))


def read_safetensors_header(path, label=None):
    """Read only the JSON header of a safetensors file: {name: (dtype code, shape)}."""
    label = label or path
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise ModelFileError("%s is too short to be a safetensors file" % label)
            (header_size,) = struct.unpack("<Q", prefix)
            if header_size > _MAX_SAFETENSORS_HEADER_BYTES:
                raise ModelFileError("%s has an implausible header size (%d bytes): not a safetensors file"
                                     % (label, header_size))
            raw = handle.read(header_size)
    except OSError as exc:
        raise ModelFileError("cannot read %s: %s" % (label, exc)) from exc
    if len(raw) != header_size:
        raise ModelFileError("%s is truncated: its header announces %d bytes but the file holds %d"
                             % (label, header_size, len(raw)))
    try:
        header = json.loads(raw)
    except ValueError as exc:  # includes UnicodeDecodeError
        raise ModelFileError("malformed safetensors header in %s: %s" % (label, exc)) from exc
    if not isinstance(header, dict):
        raise ModelFileError("malformed safetensors header in %s: it must be a JSON object, found %s"
                             % (label, type(header).__name__))
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype") if isinstance(info, dict) else None
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(dtype, str) or not isinstance(shape, list) or not all(
                isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in shape):
            raise ModelFileError("malformed safetensors header in %s: tensor %s needs a string dtype and a shape "
                                 "of non-negative integers, found %s" % (label, _shown(name), _shown(info)))
        tensors[name] = (dtype, list(shape))
    return tensors


def _shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class HubModelFiles(_ModelFiles):
    """Files of a Hub model read online, one by one, into the huggingface_hub cache.

    The listing and commit come from one model_info() call; every file is then
    fetched at that commit, so a push during the run cannot mix revisions.
    """

    source = "hub"

    def __init__(self, hub, repo_id, revision=None, token=None, cache_dir=None):
        super().__init__(repo_id, revision, None, None)
        self._hub = hub
        self._token = token
        self._cache_dir = cache_dir
        info = self._call(hub.HfApi(token=token).model_info, repo_id, revision=revision, token=token)
        self.commit = info.sha
        self._repo_files = {sibling.rfilename for sibling in info.siblings or ()}

    def describe(self, name):
        return "%s@%s:%s" % (self.model, self.commit, name)

    def exists(self, name):
        return name in self._repo_files

    def _fetch(self, name):
        path = self._call(self._hub.hf_hub_download, self.model, name, revision=self.commit,
                          cache_dir=self._cache_dir, token=self._token)
        if name == CONFIG_FILE:
            self.local_path = os.path.dirname(path)
        return path

    def safetensors_tensors(self):
        if SAFETENSORS_FILE not in self._repo_files and SAFETENSORS_INDEX_FILE not in self._repo_files:
            return {}
        api = self._hub.HfApi(token=self._token)
        metadata = self._call(api.get_safetensors_metadata, self.model, revision=self.commit)
        tensors = {}
        for file_name, file_metadata in sorted(metadata.files_metadata.items()):
            self.files_read.append(file_name + " (header)")
            for name, info in file_metadata.tensors.items():
                tensors[name] = (info.dtype, list(info.shape))
        return tensors

    def _call(self, function, *args, **kwargs):
        """Run a huggingface_hub call, turning its errors into one clear ModelFileError."""
        errors = self._hub.errors
        try:
            return function(*args, **kwargs)
        except errors.GatedRepoError as exc:
            reason = "is gated: accept its conditions on the Hub and pass a token that has access"
            raise ModelFileError("model %s %s (%s)" % (self.model, reason, exc)) from exc
        except errors.RepositoryNotFoundError as exc:
            reason = "was not found on the Hub (or is private and the token has no access)"
            raise ModelFileError("model %s %s" % (self.model, reason)) from exc
        except errors.RevisionNotFoundError as exc:
            raise ModelFileError("revision %s of model %s does not exist"
                                 % (kwargs.get("revision"), self.model)) from exc
        except Exception as exc:  # HTTP, connection (httpx) and parsing errors all end the same way
            raise ModelFileError("cannot read model %s from the Hugging Face Hub: %s: %s"
                                 % (self.model, type(exc).__name__, exc)) from exc


def download_hint(repo_id, revision=None, cache_dir=None):
    """The `hf download` command that fills the cache this collection reads (not the default one)."""
    import shlex

    words = ["hf", "download", repo_id]
    if revision:
        words += ["--revision", str(revision)]
    if cache_dir:
        words += ["--cache-dir", str(cache_dir)]
    return " ".join(shlex.quote(word) for word in words)


def cached_hub_snapshot(hub, repo_id, revision=None, token=None, cache_dir=None):
    """The cached snapshot of a Hub model as a local directory: what vLLM reads with HF_HUB_OFFLINE=1."""
    try:
        # allow_patterns limits the completeness check to the one file we must have.
        snapshot = hub.snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, token=token,
                                         local_files_only=True, allow_patterns=[CONFIG_FILE])
    except hub.errors.LocalEntryNotFoundError as exc:
        raise ModelFileError(
            "model %s (revision %s) is not in the Hugging Face cache %s and offline mode is on: "
            "download it first (%s) or set offline to false"
            % (repo_id, revision or "main", cache_dir or hub.constants.HF_HUB_CACHE,
               download_hint(repo_id, revision, cache_dir))
        ) from exc
    return LocalModelFiles(snapshot, model=repo_id, revision=revision, commit=os.path.basename(snapshot),
                           source="hub")


def open_model_files(model, revision=None, token=None, cache_dir=None, offline=False):
    """Model files of a local directory, or of a Hub repo id (online, or from the cache when offline).

    Offline means offline=True or HF_HUB_OFFLINE=1 in the environment.
    """
    if looks_like_local_path(model):
        return LocalModelFiles(model, revision=revision)
    hub, import_error = import_huggingface_hub()
    if import_error is not None:
        raise ModelFileError("reading %s from the Hugging Face Hub needs the huggingface_hub Python library: %s"
                             % (model, import_error))
    if offline or hub.constants.is_offline_mode():
        return cached_hub_snapshot(hub, model, revision, token, cache_dir)
    return HubModelFiles(hub, model, revision, token, cache_dir)


def summarize_safetensors(tensors):
    """(parameter count, dominant dtype name) of floating-point tensors, or (None, None)."""
    counts = {}
    for dtype_code, shape in tensors.values():
        if dtype_code not in FLOAT_DTYPES:
            continue
        size = 1
        for dim in shape:
            size *= dim
        counts[dtype_code] = counts.get(dtype_code, 0) + size
    if not counts:
        return None, None
    dominant = max(counts, key=counts.get)
    return sum(counts.values()), FLOAT_DTYPES[dominant]
