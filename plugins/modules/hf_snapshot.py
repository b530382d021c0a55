#!/usr/bin/python
# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: hf_snapshot
short_description: Download a revision-pinned model snapshot into a plain folder
version_added: "1.0.0"
description:
  - Makes O(dest) a plain model folder (C(config.json), tokenizer files, weights, sentence-transformers modules) of a
    Hugging Face model at a pinned revision, as vLLM serves it with C(--model <folder>) and KServe mounts it with
    C(pvc://).
  - Hub models are downloaded with the C(huggingface_hub) library into its cache, so C(HF_ENDPOINT), C(HF_HUB_OFFLINE),
    C(HF_TOKEN) and an existing cache behave as they do for vLLM, then the selected files are copied into O(dest).
    Online, the revision is first resolved to a commit and every file of that commit is listed with its size and
    checksum; offline, the cached snapshot of the revision is used.
  - A local folder can be the source too (O(model) starting with C(/), C(.) or C(~), or an existing directory).
  - Only files whose content differs are written, each through a temporary file and a rename, and checked against
    the source's sha256 afterwards; a re-run with nothing new reports no change.
  - Documentation, git metadata and weights for other runtimes (ONNX, OpenVINO, TensorFlow, Flax, Rust) are skipped
    by default; tokenizer files such as C(vocab.txt), C(merges.txt) and sentencepiece models are kept.
  - The folder must end up with a C(config.json); otherwise the module fails before writing anything.
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - huggingface_hub (for Hub models)
attributes:
  check_mode:
    support: full
    details: Reports the files that would be written, downloaded or removed; nothing is downloaded.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  model:
    description:
      - Hugging Face repository id such as C(sentence-transformers/all-MiniLM-L6-v2), or a local model folder.
    type: str
    required: true
  revision:
    description:
      - Branch, tag or commit of a Hub model. Pin a commit for reproducible folders. Defaults to C(main).
      - Ignored for local folders.
    type: str
  dest:
    description:
      - The plain folder to write, for example C(<staging>/<name>). Created when missing.
    type: path
    required: true
  token:
    description:
      - Hugging Face token for gated or private models. Defaults to the library's own (C(HF_TOKEN) or a stored login).
    type: str
  endpoint:
    description:
      - Hub endpoint (a mirror). Defaults to C(HF_ENDPOINT), else U(https://huggingface.co).
    type: str
  cache_dir:
    description:
      - Hugging Face hub cache. Defaults to the library's (C(HF_HUB_CACHE), C(HF_HOME)/hub).
    type: path
  offline:
    description:
      - Use only the cache, as C(HF_HUB_OFFLINE=1) does (which has the same effect). A revision that is not cached
        is an error.
    type: bool
    default: false
  allow_patterns:
    description:
      - Only files matching one of these patterns are taken (fnmatch, as C(huggingface_hub) matches them; a pattern
        ending in C(/) means the whole directory). Empty takes every file.
    type: list
    elements: str
    default: []
  ignore_patterns:
    description:
      - Files matching one of these patterns are skipped.
    type: list
    elements: str
    default: ["*.md", ".git*", "*/.git*", ".cache/*", "onnx/*", "openvino/*", "coreml/*", "*.onnx", "*.onnx_data",
              "*.h5", "*.msgpack", "*.ot", "*.tflite", "*.mlmodel"]
  prefer_safetensors:
    description:
      - Skip C(pytorch_model*.bin) in directories that also hold C(.safetensors) weights (vLLM loads the safetensors).
    type: bool
    default: true
  delete_extra:
    description:
      - Remove files from O(dest) that are not part of the snapshot (for example from an older revision). O(dest)
        belongs to this model.
    type: bool
    default: true
seealso:
  - module: embedserve.vllm.s3_model_sync
  - name: huggingface_hub download guide
    description: Cache, revisions, HF_ENDPOINT and offline mode.
    link: https://huggingface.co/docs/huggingface_hub/guides/download
notes:
  - Files are copied out of the cache, so the folder needs as much space again as the model.
"""

EXAMPLES = r"""
- name: Prepare all-MiniLM-L6-v2 at a pinned commit
  embedserve.vllm.hf_snapshot:
    model: sentence-transformers/all-MiniLM-L6-v2
    revision: c9745ed1d9f207416be6d2e6f8de32d1f16199bf
    dest: /var/lib/embedserve/models/minilm
  register: minilm

- name: Prepare from an air-gapped controller's pre-filled cache
  embedserve.vllm.hf_snapshot:
    model: BAAI/bge-reranker-v2-m3
    revision: main
    dest: /var/lib/embedserve/models/bge-reranker
    cache_dir: /srv/hf-cache/hub
    offline: true

- name: Through a mirror, with a token, safetensors and tokenizer only
  embedserve.vllm.hf_snapshot:
    model: my-org/private-embedder
    dest: /var/lib/embedserve/models/private
    endpoint: https://hf-mirror.example.com
    token: "{{ vault_hf_token }}"
    allow_patterns: ["*.json", "*.safetensors", "*.txt", "*.model", "1_Pooling/"]
"""

RETURN = r"""
model:
  description: The model as given.
  returned: success
  type: str
  sample: sentence-transformers/all-MiniLM-L6-v2
revision:
  description: The requested revision, or null.
  returned: success
  type: str
commit:
  description: The commit the files come from; null for local folders.
  returned: success
  type: str
  sample: c9745ed1d9f207416be6d2e6f8de32d1f16199bf
source:
  description: C(hub) or C(local).
  returned: success
  type: str
endpoint:
  description: Hub endpoint used online; null offline and for local folders.
  returned: success
  type: str
dest:
  description: Absolute path of the folder.
  returned: success
  type: str
files:
  description:
    - Every file of the folder with its size and sha256. In check mode, files not yet available locally carry the Hub's
      C(sha256) (LFS files) or C(git_sha1) instead.
  returned: success
  type: list
  elements: dict
  sample: [{path: config.json, size: 612, sha256: 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41}]
bytes:
  description: Total size of the files.
  returned: success
  type: int
  sample: 91607178
written:
  description: Files written (in check mode, that would be written) because they were missing or different.
  returned: success
  type: list
  elements: str
unchanged:
  description: Files already in the folder with the right content.
  returned: success
  type: list
  elements: str
removed:
  description: Files removed from the folder because they are not in the snapshot (check mode - would be removed).
  returned: success
  type: list
  elements: str
downloaded:
  description: Files fetched from the Hub into the cache (check mode - that would be); empty offline.
  returned: success
  type: list
  elements: str
bytes_written:
  description: Bytes written into the folder.
  returned: success
  type: int
ignored:
  description: Files of the snapshot left out by the patterns.
  returned: success
  type: list
  elements: str
  sample: [.gitattributes, README.md]
ignore_patterns:
  description: The ignore patterns applied, including the ones added by O(prefer_safetensors).
  returned: success
  type: list
  elements: str
allow_patterns:
  description: The allow patterns applied.
  returned: success
  type: list
  elements: str
content_id:
  description: sha256 over the model, the commit and every file's path and size; it changes when the folder's content
    would.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import unexpected
from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import (
    import_huggingface_hub,
    looks_like_local_path,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep import (
    DEFAULT_IGNORE_PATTERNS,
    ModelPrepError,
    prepare_folder,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "model": {"type": "str", "required": True},
            "revision": {"type": "str"},
            "dest": {"type": "path", "required": True},
            "token": {"type": "str", "no_log": True},
            "endpoint": {"type": "str"},
            "cache_dir": {"type": "path"},
            "offline": {"type": "bool", "default": False},
            "allow_patterns": {"type": "list", "elements": "str", "default": []},
            "ignore_patterns": {"type": "list", "elements": "str", "default": list(DEFAULT_IGNORE_PATTERNS)},
            "prefer_safetensors": {"type": "bool", "default": True},
            "delete_extra": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not looks_like_local_path(params["model"]):
        import_error = import_huggingface_hub()[1]
        if import_error is not None:
            module.fail_json(msg=missing_required_lib("huggingface_hub"), exception=str(import_error))
    try:
        result = prepare_folder(
            params["model"],
            params["dest"],
            revision=params["revision"],
            token=params["token"] or None,
            endpoint=params["endpoint"] or None,
            cache_dir=params["cache_dir"],
            offline=params["offline"],
            allow_patterns=params["allow_patterns"],
            ignore_patterns=params["ignore_patterns"],
            prefer_safetensors=params["prefer_safetensors"],
            delete_extra=params["delete_extra"],
            check_mode=module.check_mode,
        )
    except (ModelPrepError, OSError) as exc:
        module.fail_json(msg=str(exc), model=params["model"], revision=params["revision"], dest=params["dest"])
    except Exception as exc:  # never a traceback, whatever the repository holds
        module.fail_json(msg=unexpected(exc, "preparing model %s" % params["model"]), model=params["model"],
                         revision=params["revision"], dest=params["dest"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
