# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""Filters over hf_model_config facts: GPU memory fraction, GPU plan, vLLM arguments.

Thin wrappers: the logic lives in module_utils. Numbers may arrive as strings
(AWX survey answers, extra vars) and are cast here before validation.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils import gpu_sizing, vllm_cli
from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import cast

_INT_KEYS = ("count", "memory_mib", "mig_memory_mib", "max_num_batched_tokens", "max_model_len",
             "max_num_seqs", "port")
_FLOAT_KEYS = ("margin", "headroom", "gpu_memory_utilization")
_BOOL_KEYS = ("enforce_eager", "offline")


def _cast(value, kind, name):
    """Cast survey-style strings (schema_nodes.cast); leave None and already-typed values to the validators."""
    if not isinstance(value, str):
        return value
    return cast(value, kind, name, error=AnsibleFilterError)


def _cast_mapping(mapping, name):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise AnsibleFilterError("%s must be a dict, got %s" % (name, type(mapping).__name__))
    cast = dict(mapping)
    for keys, kind in ((_INT_KEYS, int), (_FLOAT_KEYS, float), (_BOOL_KEYS, bool)):
        for key in keys:
            if key in cast:
                cast[key] = _cast(cast[key], kind, "%s.%s" % (name, key))
    return cast


def _facts(value, name="_input"):
    if not isinstance(value, dict) or "vllm_max_model_len" not in value:
        raise AnsibleFilterError("%s must be the result of embedserve.vllm.hf_model_config" % name)
    return _cast_mapping(value, name)


def gpu_memory_fraction(facts, gpu_memory_mib, vllm_version=None, max_num_batched_tokens=None,
                        max_model_len=None, headroom=gpu_sizing.DEFAULT_HEADROOM):
    """--gpu-memory-utilization for a model on a GPU with gpu_memory_mib of memory."""
    try:
        return gpu_sizing.gpu_memory_fraction(
            _facts(facts),
            _cast(gpu_memory_mib, int, "gpu_memory_mib"),
            vllm_version,
            _cast(max_num_batched_tokens, int, "max_num_batched_tokens"),
            _cast(max_model_len, int, "max_model_len"),
            _cast(headroom, float, "headroom"),
        )
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def gpu_plan(models, gpus):
    """Place a catalogue of models on GPUs: per-model GPU index, fraction and resource request."""
    if not isinstance(models, list):
        raise AnsibleFilterError("_input must be a list of model facts, each with a name")
    try:
        return gpu_sizing.gpu_plan(
            [_facts(model, "_input[%d]" % index) for index, model in enumerate(models)],
            _cast_mapping(gpus, "gpus"),
        )
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def vllm_args(facts, options=None, vllm_version=None):
    """{command, args, env} of the vLLM server for the model at that vLLM version."""
    try:
        return vllm_cli.build_vllm_command(_facts(facts), _cast_mapping(options, "options"), vllm_version)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {
            "gpu_memory_fraction": gpu_memory_fraction,
            "gpu_plan": gpu_plan,
            "vllm_args": vllm_args,
        }
