#!/usr/bin/python
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: model_catalogue
short_description: Resolve a catalogue of vLLM pooling models into one deployable structure
version_added: "1.0.0"
description:
  - Checks every catalogue entry and the collection settings before anything is deployed against one nested
    schema (unique DNS-1035 names; known keys at every level, with the nearest valid key suggested for a typo;
    Kubernetes rules for labels, selectors, tolerations, affinity, resources, environment variable names, Route
    hosts and the int32 replica range; C(extra_args) read the way vLLM's parser reads them; image pinned by a
    release tag matching O(vllm_version) or a full sha256 digest) and reports all problems at once, each naming
    the entry and the field.
  - Reads each distinct model once, exactly as M(embedserve.vllm.hf_model_config) does, places all GPU models
    with the C(gpu_plan) logic, and builds the vLLM command, environment, resources, probes and scheduling of
    every model for its deployment mode.
  - Returns the normalised catalogue that the collection's roles read, the GPU plan and a summary table.
  - Numbers and booleans given as strings (AWX survey answers) are cast.
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
  models:
    description:
      - The catalogue. Each entry needs C(name) (a DNS-1035 label of at most 47 characters) and C(model) (a
        Hugging Face repository id or a local directory).
      - Optional keys are C(revision), C(mode) (C(raw) or C(kserve)), C(max_model_len), C(replicas),
        C(served_model_name), C(display_name), C(dtype), C(hf_overrides), C(extra_args), C(env),
        C(max_num_batched_tokens), C(max_num_seqs), C(enforce_eager), C(gpu), C(image), C(resources)
        (C(requests)/C(limits)), C(node_selector), C(tolerations), C(affinity), C(route)
        (C(enabled), C(host), C(path), C(timeout)), C(network_policy), C(api_key), C(labels),
        C(startup_timeout) (seconds), C(storage) (C(type) C(pvc) or C(s3), C(connection), C(path)),
        C(disable_sliding_window) and C(device) (C(gpu) or C(cpu); C(gpu=false) is the older spelling of
        C(device=cpu)). Unknown keys are errors.
      - Labels may not set C(app.kubernetes.io/name), C(app.kubernetes.io/instance),
        C(app.kubernetes.io/managed-by) or C(embedserve.io/*) keys; C(env) may not set C(VLLM_API_KEY) or
        C(HF_TOKEN) (use C(api_key) and the Hugging Face token setting); C(extra_args) may not set a flag the
        collection manages, in any spelling, nor C(--api-key).
    type: list
    elements: dict
    required: true
  defaults:
    description: Keys applied to every entry unless the entry sets them.
    type: dict
    default: {}
  vllm_version:
    description: vLLM release the images run, from 0.10.1 to 0.33.x; arguments are built for it.
    type: str
    default: "0.32.0"
  image:
    description: vLLM image for entries without their own C(image), pinned by tag or digest (never C(latest)).
    type: str
    default: docker.io/vllm/vllm-openai:v0.32.0
  cpu_image:
    description:
      - vLLM CPU image of entries with C(device=cpu) (or C(gpu=false)) and no C(image) of their own, pinned like
        O(image). Empty keeps O(image) for them.
    type: str
    default: ""
  default_mode:
    description: Deployment mode of entries without C(mode).
    type: str
    choices: [raw, kserve]
    default: raw
  namespace:
    description: Namespace the models are deployed to (used for in-cluster URLs).
    type: str
    required: true
  gpus:
    description:
      - The GPUs the models share, as the C(embedserve.vllm.gpu_plan) filter takes them (C(count), C(memory_mib),
        C(sharing), C(resource), C(mig_profile), C(mig_memory_mib), C(margin), C(headroom)), plus
        C(node_selector) and C(tolerations) for GPU pods.
      - Required when any model uses a GPU (the default).
    type: dict
    default: {}
  model_source:
    description:
      - C(hub) lets raw-mode pods download from Hugging Face into the cache claim on first start.
      - C(prepared) serves the plain folders that the model preparation role put at C(/models/<name>) on the
        cache claim, offline.
    type: str
    choices: [hub, prepared]
    default: hub
  cache_pvc_name:
    description: Name of the shared model-cache claim.
    type: str
    default: vllm-model-cache
  service_account:
    description: Service account the models' pods run as (the namespace role creates it).
    type: str
    default: vllm
    version_added: 1.1.0
  hf_token_secret:
    description: Secret with a C(HF_TOKEN) key that raw-mode pods read for gated models; empty for none.
    type: str
    default: ""
  platform:
    description: C(openshift) exposes raw-mode models with Routes; C(kubernetes) with in-cluster Services only.
    type: str
    choices: [openshift, kubernetes]
    default: openshift
  network_policy_namespaces:
    description: Namespaces allowed to reach models that enable C(network_policy) (router, monitoring, ...).
    type: list
    elements: str
    default: []
  kserve_storage:
    description:
      - Storage of kserve-mode models without C(storage.type).
      - C(hf) has KServe's storage initializer download C(hf://<owner>/<model>:<commit>) from the Hub; C(pvc) reads the
        folder model_prep put on the cache claim; C(s3) reads the data connection.
      - Empty picks C(pvc) when O(model_source=prepared) and C(hf) otherwise.
    type: str
    choices: ["", pvc, s3, hf]
    default: ""
  data_connection:
    description: Data connection Secret of kserve-mode models with S3 storage and no C(storage.connection).
    type: str
    default: aws-connection-embedserve-models
  s3_prefix:
    description: Bucket prefix of prepared models; S3 storage defaults to C(<s3_prefix>/<name>).
    type: str
    default: models
  run_as_user:
    description:
      - UID the vLLM containers run as. Leave unset on OpenShift, which assigns one from the namespace's range
        (a fixed UID is refused by restricted-v2).
      - On other Kubernetes distributions set it (for example 1001) when the image runs as root, as the upstream
        vLLM image does, or C(runAsNonRoot) stops the pod.
    type: int
  token:
    description: Hugging Face token used to read configuration files of private or gated models.
    type: str
  cache_dir:
    description: Hugging Face hub cache directory for reading configuration files.
    type: path
  hf_endpoint:
    description:
      - Hugging Face Hub endpoint to read configuration files from, for example a mirror such as
        C(https://hf-mirror.example.com) in an air-gapped network. Unset, C(HF_ENDPOINT) of the environment
        applies, else U(https://huggingface.co).
    type: str
  offline:
    description: Read Hub models from the cache only.
    type: bool
    default: false
seealso:
  - module: embedserve.vllm.hf_model_config
"""

EXAMPLES = r"""
- name: Resolve the catalogue once
  embedserve.vllm.model_catalogue:
    namespace: vllm-embeddings
    vllm_version: "0.32.0"
    image: docker.io/vllm/vllm-openai:v0.32.0
    gpus:
      count: 1
      memory_mib: 23028
      sharing: time-slicing
    models:
      - name: minilm
        model: sentence-transformers/all-MiniLM-L6-v2
      - name: msmarco
        model: cross-encoder/ms-marco-MiniLM-L12-v2
        mode: kserve
  register: resolved

- name: Show where each model goes
  ansible.builtin.debug:
    msg: "{{ resolved.summary }}"
"""

RETURN = r"""
catalogue:
  description:
    - One normalised entry per model, in catalogue order. Keys include C(name), C(mode), C(model),
      C(revision), C(served_model_name), C(replicas), C(image), C(vllm_version), C(device) (C(gpu) or C(cpu)),
      C(facts) (the
      M(embedserve.vllm.hf_model_config) result), C(gpu) (plan entry), C(resources), C(scheduling), C(probes),
      C(wait_timeout), C(route), C(network_policy), C(api_key), C(labels), and C(container) and C(pod) for raw
      mode or C(kserve) for kserve mode.
  returned: success
  type: list
  elements: dict
plan:
  description: The GPU plan (per model and per GPU), as the C(embedserve.vllm.gpu_plan) filter returns it.
  returned: success
  type: dict
settings:
  description:
    - The settings every role shares, owned here once - C(namespace), C(cache_pvc_name), C(service_account),
      C(hf_token_secret), C(data_connection), C(s3_prefix), C(platform), C(model_source).
    - The roles default their own variables from these, and the catalogue role fails before any change when an
      overridden role variable disagrees (the pods would mount a claim nobody created).
  returned: success
  type: dict
  version_added: 1.1.0
summary:
  description: One row per model with name, model, mode, task, max_model_len, gpu_fraction, placement and url.
  returned: success
  type: list
  elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import bounded, unexpected
from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import resolve_catalogue
from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_names import SECRET_ENV
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import ModelFactsError, resolve_model
from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import (
    import_huggingface_hub,
    looks_like_local_path,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import secret_values
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import DEFAULT_VLLM_VERSION


def _misplaced_secrets(models, defaults):
    values = set()
    for entry in list(models or []) + [defaults or {}]:
        if not isinstance(entry, dict):
            continue
        values.update(secret_values(entry.get("extra_args")))
        env = entry.get("env")
        if isinstance(env, dict):
            values.update(str(value) for name, value in env.items() if name in SECRET_ENV and value not in (None, ""))
    return values


def main():
    module = AnsibleModule(
        argument_spec={
            "models": {"type": "list", "elements": "dict", "required": True},
            "defaults": {"type": "dict", "default": {}},
            "vllm_version": {"type": "str", "default": DEFAULT_VLLM_VERSION},
            "image": {"type": "str", "default": "docker.io/vllm/vllm-openai:v0.32.0"},
            "cpu_image": {"type": "str", "default": ""},
            "default_mode": {"type": "str", "choices": ["raw", "kserve"], "default": "raw"},
            "namespace": {"type": "str", "required": True},
            "gpus": {"type": "dict", "default": {}},
            "model_source": {"type": "str", "choices": ["hub", "prepared"], "default": "hub"},
            "cache_pvc_name": {"type": "str", "default": "vllm-model-cache"},
            "service_account": {"type": "str", "default": "vllm"},
            "hf_token_secret": {"type": "str", "default": "", "no_log": False},
            "platform": {"type": "str", "choices": ["openshift", "kubernetes"], "default": "openshift"},
            "network_policy_namespaces": {"type": "list", "elements": "str", "default": []},
            "kserve_storage": {"type": "str", "choices": ["", "pvc", "s3", "hf"], "default": ""},
            "data_connection": {"type": "str", "default": "aws-connection-embedserve-models"},
            "s3_prefix": {"type": "str", "default": "models"},
            "run_as_user": {"type": "int"},
            "token": {"type": "str", "no_log": True},
            "cache_dir": {"type": "path"},
            "hf_endpoint": {"type": "str"},
            "offline": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    # A secret given where it does not belong (extra_args --api-key, env
    # VLLM_API_KEY) is refused below; it must not be echoed either, in the
    # message or in the invocation shown at -vvv.
    module.no_log_values.update(_misplaced_secrets(params["models"], params["defaults"]))
    if params["hf_endpoint"]:
        # huggingface_hub reads HF_ENDPOINT when it is first imported, which is below
        os.environ["HF_ENDPOINT"] = params["hf_endpoint"].rstrip("/")
    remote = [m.get("model") for m in params["models"]
              if isinstance(m, dict) and isinstance(m.get("model"), str) and not looks_like_local_path(m["model"])]
    if remote and import_huggingface_hub()[1] is not None:
        module.fail_json(msg=missing_required_lib("huggingface_hub"), exception=str(import_huggingface_hub()[1]))

    def resolver(model, revision, max_model_len, hf_overrides, disable_sliding_window):
        try:
            return resolve_model(model, revision=revision, token=params["token"], cache_dir=params["cache_dir"],
                                 offline=params["offline"], vllm_version=params["vllm_version"],
                                 max_model_len=max_model_len, hf_overrides=hf_overrides,
                                 disable_sliding_window=disable_sliding_window)
        except ValueError:
            raise
        except Exception as exc:  # OSError and anything a model file provokes: reported per model
            raise ModelFactsError(unexpected(exc, "reading model %s" % model)) from exc

    settings = dict((key, params[key]) for key in (
        "vllm_version", "image", "default_mode", "namespace", "gpus", "model_source", "cache_pvc_name",
        "hf_token_secret", "platform", "network_policy_namespaces", "kserve_storage", "data_connection", "s3_prefix",
        "run_as_user", "cpu_image", "service_account"))
    try:
        result = resolve_catalogue(params["models"], settings, resolver, defaults=params["defaults"])
    except ValueError as exc:  # CatalogueError, UnsupportedVllmVersion, ...: messages name entry and field
        module.fail_json(msg=bounded(exc))
    except Exception as exc:  # never a traceback, whatever the input
        module.fail_json(msg=unexpected(exc, "resolving the model catalogue"))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
