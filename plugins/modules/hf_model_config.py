#!/usr/bin/python
# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: hf_model_config
short_description: Read a pooling model's files and derive how vLLM will serve it
version_added: "1.0.0"
description:
  - Reads the configuration files of an embedding or reranker model from a local directory (for example a
    mounted PVC) or from the Hugging Face Hub, without downloading weights.
  - Files read are C(config.json) (and its nested text config), C(tokenizer_config.json), the
    sentence-transformers files (C(sentence_*_config.json), C(modules.json), C(1_Pooling/config.json), Dense
    layer configs) and the JSON headers of the safetensors weight files.
  - Derives exactly the max_model_len that the given vLLM version derives when C(--max-model-len) is not passed,
    and the length the collection deploys, which never exceeds the learned position-embedding table.
  - Detects the task (embeddings or scoring), the architecture, the parameter count, the dtype and the shape
    facts the GPU memory estimate needs.
  - Hub access goes through the C(huggingface_hub) library, so C(HF_ENDPOINT), C(HF_HUB_OFFLINE), C(HF_TOKEN)
    and its cache behave as usual.
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - huggingface_hub (only for models read from the Hugging Face Hub)
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  model:
    description:
      - Hugging Face repository id such as C(sentence-transformers/all-MiniLM-L6-v2), or the path of a local
        model directory such as C(/mnt/models).
      - Values starting with C(/), C(.) or C(~), and existing directories, are local directories.
    type: str
    required: true
  revision:
    description:
      - Branch, tag or commit of a Hub model. Defaults to the repository's main branch.
    type: str
  token:
    description:
      - Hugging Face access token for private or gated models. Defaults to the library's own (C(HF_TOKEN) or a
        stored login).
    type: str
  cache_dir:
    description:
      - Hugging Face hub cache directory. Defaults to the library's (C(HF_HUB_CACHE), C(HF_HOME)/hub).
    type: path
  offline:
    description:
      - Read a Hub model from the cache only, as vLLM does with C(HF_HUB_OFFLINE=1). Setting C(HF_HUB_OFFLINE=1)
        in the environment has the same effect.
    type: bool
    default: false
  vllm_version:
    description:
      - vLLM release whose behaviour is mirrored, from 0.10.1 to 0.33.x.
    type: str
    default: "0.32.0"
  max_model_len:
    description:
      - Maximum model length to deploy. Omit it to deploy what vLLM derives, capped at the position-embedding table.
      - The module fails when the value is above what vLLM derives or above the position-embedding table.
    type: int
  hf_overrides:
    description:
      - Overrides applied to C(config.json) before anything is derived, as vLLM's C(--hf-overrides) does. They are
        returned in RV(hf_overrides) together with the overrides the model needs anyway.
    type: dict
  disable_sliding_window:
    description:
      - Derive the length for a server started with C(--disable-sliding-window), which caps it at the model's
        sliding window.
    type: bool
    default: false
seealso:
  - name: vLLM engine arguments
    description: The flags the derived facts feed.
    link: https://docs.vllm.ai/en/latest/configuration/engine_args.html
notes:
  - Models without safetensors weights get a parameter count estimated from the configuration shape
    (RV(num_parameters_source) says which).
"""

EXAMPLES = r"""
- name: Read a Hub model as vLLM 0.32.0 will see it
  embedserve.vllm.hf_model_config:
    model: sentence-transformers/all-MiniLM-L6-v2
    revision: main
    vllm_version: "0.32.0"
  register: minilm

- name: Show what will be deployed
  ansible.builtin.debug:
    msg: "{{ minilm.model }} serves {{ minilm.embedding_dimension }}-d vectors, max_model_len {{ minilm.max_model_len }}"

- name: Read a model from a mounted volume, offline, asking for a shorter length
  embedserve.vllm.hf_model_config:
    model: /mnt/models/bge-m3
    max_model_len: 4096

- name: Read a Hub model from a pre-filled cache without network access
  embedserve.vllm.hf_model_config:
    model: BAAI/bge-reranker-v2-m3
    cache_dir: /var/cache/huggingface/hub
    offline: true
"""

RETURN = r"""
model:
  description: The model as given (repository id or directory).
  returned: success
  type: str
  sample: sentence-transformers/all-MiniLM-L6-v2
revision:
  description: The requested revision, or null.
  returned: success
  type: str
commit:
  description: Commit of the Hub snapshot that was read; null for local directories.
  returned: success
  type: str
  sample: c9745ed1d9f207416be6d2e6f8de32d1f16199bf
source:
  description: Where the files came from.
  returned: success
  type: str
  choices: [local, hub]
local_path:
  description: Directory holding the files read (the snapshot directory for Hub models).
  returned: success
  type: str
vllm_version:
  description: The vLLM version mirrored.
  returned: success
  type: str
  sample: "0.32.0"
vllm_max_model_len:
  description: What vLLM derives at O(vllm_version) when C(--max-model-len) is not passed.
  returned: success
  type: int
  sample: 256
vllm_max_model_len_source:
  description: File and key the vLLM value comes from (file is null for vLLM's 2048 default).
  returned: success
  type: dict
  sample: {file: sentence_bert_config.json, key: max_seq_length}
max_model_len:
  description: The length the collection deploys; never above the position-embedding table or the vLLM value.
  returned: success
  type: int
  sample: 256
max_model_len_source:
  description: File and key of RV(max_model_len); file is null when the requested value is used.
  returned: success
  type: dict
  sample: {file: sentence_bert_config.json, key: max_seq_length}
position_limit:
  description:
    - Longest input the learned absolute position table holds, with the file and key it comes from; null for
      rotary position embeddings.
  returned: success
  type: dict
  sample: {value: 512, file: config.json, key: "max_position_embeddings - (pad_token_id + 1)"}
requested_max_model_len:
  description: The O(max_model_len) option, or null.
  returned: success
  type: int
architectures:
  description: Architectures from C(config.json), after overrides.
  returned: success
  type: list
  elements: str
  sample: [BertModel]
model_type:
  description: C(model_type) from C(config.json).
  returned: success
  type: str
  sample: bert
task:
  description: C(embed) for embedding models, C(score) for cross-encoders and rerankers.
  returned: success
  type: str
  choices: [embed, score]
runner:
  description: vLLM runner, always C(pooling).
  returned: success
  type: str
  sample: pooling
convert:
  description: vLLM C(--convert) value when needed (generative architectures served as embedding models), else null.
  returned: success
  type: str
  sample: embed
embedding_dimension:
  description: Length of the returned vectors; null for score models.
  returned: success
  type: int
  sample: 384
normalize:
  description: Whether the sentence-transformers pipeline normalises the vectors.
  returned: success
  type: bool
pooling_type:
  description: Pooling (from C(1_Pooling/config.json), else vLLM's default for the architecture).
  returned: success
  type: str
  sample: MEAN
num_labels:
  description: Number of classifier outputs of score models (always 1); null for embedding models.
  returned: success
  type: int
num_parameters:
  description: Parameter count.
  returned: success
  type: int
  sample: 22713216
num_parameters_source:
  description: C(safetensors) when counted from the weight headers, C(config_shape_estimate) otherwise.
  returned: success
  type: str
  choices: [safetensors, config_shape_estimate]
dtype:
  description: dtype of the checkpoint weights.
  returned: success
  type: str
  sample: float32
serve_dtype:
  description: dtype vLLM serves the model in with C(--dtype auto) (float32 checkpoints run in float16).
  returned: success
  type: str
  sample: float16
attention:
  description: C(encoder_only) (no KV cache) or C(decoder) (KV cache).
  returned: success
  type: str
  choices: [encoder_only, decoder]
position_embedding_type:
  description: C(absolute), C(rotary) or the config's own value.
  returned: success
  type: str
  sample: absolute
trust_remote_code:
  description: Whether the config relies on custom code (C(auto_map)), so vLLM needs C(--trust-remote-code).
  returned: success
  type: bool
hf_overrides:
  description: Overrides vLLM must receive through C(--hf-overrides) (needed ones, such as Qwen3-Reranker's, plus O(hf_overrides)).
  returned: success
  type: dict
  sample: {architectures: [Qwen3ForSequenceClassification], classifier_from_token: ["no", "yes"], is_original_qwen3_reranker: true}
disable_sliding_window:
  description: The O(disable_sliding_window) option.
  returned: success
  type: bool
files_read:
  description: Files read, relative to the model directory.
  returned: success
  type: list
  elements: str
  sample: [config.json, tokenizer_config.json, sentence_bert_config.json, modules.json, 1_Pooling/config.json]
notes:
  description: Observations worth knowing, such as a vLLM value capped at the position table.
  returned: success
  type: list
  elements: str
hidden_size:
  description: Hidden size.
  returned: success
  type: int
  sample: 384
num_hidden_layers:
  description: Number of layers.
  returned: success
  type: int
  sample: 6
num_attention_heads:
  description: Number of attention heads.
  returned: success
  type: int
  sample: 12
intermediate_size:
  description: Feed-forward size.
  returned: success
  type: int
  sample: 1536
num_key_value_heads:
  description: Number of key/value heads (equal to the attention heads without grouped-query attention).
  returned: success
  type: int
  sample: 12
head_dim:
  description: Size of one attention head.
  returned: success
  type: int
  sample: 32
vocab_size:
  description: Vocabulary size.
  returned: success
  type: int
  sample: 30522
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import bounded, range_problems, unexpected
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import (
    import_huggingface_hub,
    looks_like_local_path,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import DEFAULT_VLLM_VERSION


def main():
    module = AnsibleModule(
        argument_spec={
            "model": {"type": "str", "required": True},
            "revision": {"type": "str"},
            "token": {"type": "str", "no_log": True},
            "cache_dir": {"type": "path"},
            "offline": {"type": "bool", "default": False},
            "vllm_version": {"type": "str", "default": DEFAULT_VLLM_VERSION},
            "max_model_len": {"type": "int"},
            "hf_overrides": {"type": "dict"},
            "disable_sliding_window": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = range_problems(params, {"max_model_len": (1, 2 ** 31 - 1)})
    if problems:
        module.fail_json(msg="; ".join(problems))
    if not looks_like_local_path(params["model"]):
        import_error = import_huggingface_hub()[1]
        if import_error is not None:
            module.fail_json(msg=missing_required_lib("huggingface_hub"), exception=str(import_error))
    try:
        facts = resolve_model(
            params["model"],
            revision=params["revision"],
            token=params["token"],
            cache_dir=params["cache_dir"],
            offline=params["offline"],
            vllm_version=params["vllm_version"],
            max_model_len=params["max_model_len"],
            hf_overrides=params["hf_overrides"],
            disable_sliding_window=params["disable_sliding_window"],
        )
    except ValueError as exc:  # UnsupportedVllmVersion, ModelFileError, ...: the message names model and field
        module.fail_json(msg=bounded(exc))
    except Exception as exc:  # never a traceback, whatever the model files hold
        module.fail_json(msg=unexpected(exc, "reading model %s" % params["model"]))
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
