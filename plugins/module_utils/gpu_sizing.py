# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""GPU memory of a vLLM pooling model, its --gpu-memory-utilization, and sharing plans.

vLLM's budget (gpu_memory_utilization x total memory) excludes the CUDA
context. Encoder-only pooling models have no KV cache, so the budget is only
the startup gate ("free memory >= budget"); sizing it to the real footprint
makes that gate protect co-tenants. Decoder pooling models fill the budget
with KV cache, so the budget must hold at least one max-length sequence.

Coefficients are calibrated on tests/data/gpu-footprint-h100.json
(PyTorch on an H100, fp16): for every measured row the estimate plus the CUDA
context is at least the measured process memory (see the unit tests).
"""

import math

from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import parse_vllm_version

MIB = 1024 * 1024

DTYPE_BYTES = {"float16": 2, "half": 2, "bfloat16": 2, "float32": 4, "float": 4}

# Weights: the caching allocator rounds each tensor up (granite's 768-wide
# matrices measured +8%, small models about +35 MiB in total).
WEIGHT_OVERHEAD_RATIO = 0.05
WEIGHT_OVERHEAD_MIB = 40
# First-forward allocations (cuBLAS workspace) seen as a ~30 MiB constant.
ACTIVATION_FIXED_MIB = 40
# Non-torch memory (attention and cuBLAS workspaces) plus the caching
# allocator's reserve, which grows with what is allocated dynamically.
WORKSPACE_MIB = 256
WORKSPACE_RESERVE_RATIO = 0.2
# CUDA context and library handles, outside vLLM's budget (621 MiB measured
# with bare PyTorch; vLLM adds cuBLAS/NCCL handles).
CUDA_CONTEXT_MIB = 768
KV_BLOCK_TOKENS = 16

DEFAULT_HEADROOM = 0.10
DEFAULT_PLAN_MARGIN = 0.05
SHARING_MODES = ("exclusive", "time-slicing", "mig")
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"


class GpuSizingError(ValueError):
    """A model or catalogue does not fit, or the sizing input is invalid."""


def chunked_prefill_supported(facts):
    """vLLM chunks prefill only for causal pooling models that pool the last token."""
    return facts["attention"] == "decoder" and facts.get("pooling_type") == "LAST"


def default_batched_tokens(facts, vllm_version, max_model_len, gpu_memory_mib=None):
    """max_num_batched_tokens vLLM uses (and profiles with) when it is not set.

    The OpenAI server's default grows with the GPU: 2048 below 70 GiB, 8192
    below 160 GiB, 16384 above (A100-80GB keeps 2048; treating it as 8192
    only over-estimates). Unknown GPU size: the 2048 tier.
    """
    version = parse_vllm_version(vllm_version)
    if gpu_memory_mib is None or gpu_memory_mib < 70 * 1024:
        usage_default = 2048
    elif gpu_memory_mib < 160 * 1024:
        usage_default = 8192
    else:
        usage_default = 16384
    if chunked_prefill_supported(facts):
        return usage_default
    # Without chunked prefill a whole sequence must fit in one batch.
    if version.has("batched_tokens_at_least_usage_default"):
        return max(max_model_len, usage_default)
    return max_model_len


def activation_elements_per_token(attention, hidden, inner):
    """Peak activation per batched token, in elements of the serving dtype.

    Measured peaks: 22*H bytes per token in fp16, i.e. I + 7H elements, for
    all four BERT/XLM-R models; 2I + 7.25H for Qwen3 once its KV cache is
    taken out. One more H each keeps the estimate above the measurements.
    """
    if attention == "decoder":
        return 2 * inner + 8 * hidden
    return inner + 8 * hidden


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GpuSizingError("%s must be a positive integer, got %r" % (name, value))
    return value


def estimate_footprint(facts, vllm_version=None, max_num_batched_tokens=None, max_model_len=None,
                       gpu_memory_mib=None, dtype=None):
    """GPU memory in bytes {weights, activations, workspace, kv_cache, cuda_context, total}, plus the
    max_num_batched_tokens the activations were sized for."""
    version = parse_vllm_version(vllm_version or facts["vllm_version"])
    length = _positive_int(max_model_len if max_model_len is not None else facts["max_model_len"], "max_model_len")
    if max_num_batched_tokens is None:
        tokens = default_batched_tokens(facts, version, length, gpu_memory_mib)
    else:
        tokens = _positive_int(max_num_batched_tokens, "max_num_batched_tokens")
    dtype = facts["serve_dtype"] if dtype in (None, "auto") else dtype
    if dtype not in DTYPE_BYTES:
        raise GpuSizingError("unknown dtype %r: expected one of %s" % (dtype, ", ".join(sorted(DTYPE_BYTES))))
    element = DTYPE_BYTES[dtype]
    hidden, inner = facts.get("hidden_size"), facts.get("intermediate_size")
    if not (facts.get("num_parameters") and hidden and inner):
        raise GpuSizingError("facts of %s lack num_parameters/hidden_size/intermediate_size" % facts.get("model"))

    weights = facts["num_parameters"] * element * (1 + WEIGHT_OVERHEAD_RATIO) + WEIGHT_OVERHEAD_MIB * MIB
    if facts["attention"] == "decoder":
        kv_tokens = math.ceil(max(length, tokens) / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS
        kv_cache = (2 * facts["num_hidden_layers"] * facts["num_key_value_heads"] * facts["head_dim"]
                    * element * kv_tokens)
    else:
        kv_cache = 0
    per_token = activation_elements_per_token(facts["attention"], hidden, inner) * element
    activations = tokens * per_token + ACTIVATION_FIXED_MIB * MIB
    workspace = WORKSPACE_MIB * MIB + WORKSPACE_RESERVE_RATIO * (activations + kv_cache)
    parts = {
        "weights": int(math.ceil(weights)),
        "activations": int(math.ceil(activations)),
        "workspace": int(math.ceil(workspace)),
        "kv_cache": int(kv_cache),
        "cuda_context": CUDA_CONTEXT_MIB * MIB,
    }
    parts["total"] = sum(parts.values())
    parts["max_num_batched_tokens"] = tokens
    return parts


def _round_up(value, digits=2):
    scale = 10 ** digits
    return math.ceil(value * scale - 1e-9) / scale


def _required_fraction(facts, gpu_memory_mib, vllm_version, max_num_batched_tokens, max_model_len, headroom, dtype):
    """(fraction rounded up, footprint) before checking that it fits."""
    gpu_memory_mib = _positive_int(gpu_memory_mib, "gpu_memory_mib")
    if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or headroom < 0:
        raise GpuSizingError("headroom must be a non-negative number, got %r" % (headroom,))
    footprint = estimate_footprint(facts, vllm_version, max_num_batched_tokens, max_model_len,
                                   gpu_memory_mib, dtype)
    budget = (footprint["total"] - footprint["cuda_context"]) * (1 + headroom)
    return _round_up(budget / (gpu_memory_mib * MIB)), footprint


def gpu_memory_fraction(facts, gpu_memory_mib, vllm_version=None, max_num_batched_tokens=None,
                        max_model_len=None, headroom=DEFAULT_HEADROOM, dtype=None):
    """--gpu-memory-utilization for the model on a GPU of gpu_memory_mib (as CUDA reports it).

    The footprint without the CUDA context, plus `headroom` (a fraction of
    it), rounded up to 2 decimals. Fails when budget plus context exceed the GPU.
    """
    fraction, footprint = _required_fraction(facts, gpu_memory_mib, vllm_version, max_num_batched_tokens,
                                             max_model_len, headroom, dtype)
    needed_mib = math.ceil(fraction * gpu_memory_mib + CUDA_CONTEXT_MIB)
    if needed_mib > gpu_memory_mib:
        raise GpuSizingError(
            "%s does not fit on a GPU with %d MiB: it needs about %d MiB (fraction %.2f + %d MiB CUDA context) "
            "at max_model_len %d and max_num_batched_tokens %d; use a bigger GPU or lower max_model_len"
            % (facts.get("model"), gpu_memory_mib, needed_mib, fraction, CUDA_CONTEXT_MIB,
               max_model_len or facts["max_model_len"], footprint["max_num_batched_tokens"])
        )
    return fraction


def _validated_gpus(gpus):
    sharing = gpus.get("sharing", "time-slicing")
    if sharing not in SHARING_MODES:
        raise GpuSizingError("gpus.sharing must be one of %s, got %r" % (", ".join(SHARING_MODES), sharing))
    count = _positive_int(gpus.get("count", 1), "gpus.count")
    if sharing == "mig":
        profile = gpus.get("mig_profile")
        if not profile:
            raise GpuSizingError("gpus.mig_profile (for example '1g.10gb') is required with sharing mig")
        memory = _positive_int(gpus.get("mig_memory_mib"), "gpus.mig_memory_mib")
        resource = gpus.get("resource") or "nvidia.com/mig-%s" % profile
    else:
        profile = None
        memory = _positive_int(gpus.get("memory_mib"), "gpus.memory_mib")
        resource = gpus.get("resource") or DEFAULT_GPU_RESOURCE
    margin = gpus.get("margin", DEFAULT_PLAN_MARGIN)
    headroom = gpus.get("headroom", DEFAULT_HEADROOM)
    for name, value in (("gpus.margin", margin), ("gpus.headroom", headroom)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise GpuSizingError("%s must be a number in [0, 1), got %r" % (name, value))
    return {"sharing": sharing, "count": count, "memory_mib": memory, "resource": resource,
            "mig_profile": profile, "margin": margin, "headroom": headroom}


def gpu_plan(models, gpus):
    """Place a catalogue of models (facts dicts with a `name`, optionally max_num_batched_tokens) on GPUs.

    gpus: {count, memory_mib, sharing: exclusive|time-slicing|mig, resource,
    mig_profile, mig_memory_mib, margin, headroom}. Per model the result
    gives gpu_index, fraction (--gpu-memory-utilization), resource,
    resource_count and a placement sentence; per GPU the fractions, CUDA
    contexts and margin sum to at most 1.
    """
    gpus = _validated_gpus(gpus)
    if not models:
        raise GpuSizingError("the model catalogue is empty")
    names = [model.get("name") for model in models]
    if not all(names) or len(set(names)) != len(names):
        raise GpuSizingError("every model needs a unique name, got %r" % (names,))

    memory = gpus["memory_mib"]
    context_share = CUDA_CONTEXT_MIB / memory
    needs = {}
    for model in models:
        fraction, _footprint = _required_fraction(model, memory, None, model.get("max_num_batched_tokens"),
                                                  None, gpus["headroom"], None)
        needs[model["name"]] = {"fraction": fraction, "share": fraction + context_share}

    if gpus["sharing"] == "time-slicing":
        assignment = _pack(needs, gpus, context_share)
    else:
        assignment = _one_model_per_device(needs, gpus, context_share)
    return _describe_plan(names, needs, assignment, gpus, context_share)


def _pack(needs, gpus, context_share):
    """First-fit decreasing: each GPU holds sum(fraction + context) <= 1 - margin."""
    capacity = 1 - gpus["margin"]
    used = [0.0] * gpus["count"]
    assignment, unplaced = {}, []
    for name in sorted(needs, key=lambda item: (-needs[item]["share"], item)):
        share = needs[name]["share"]
        index = next((i for i, load in enumerate(used) if load + share <= capacity + 1e-9), None)
        if index is None:
            unplaced.append(name)
            continue
        used[index] += share
        assignment[name] = index
    if unplaced:
        free_mib = max(capacity - load for load in used) * gpus["memory_mib"]
        _raise_unplaced(unplaced, needs, gpus, free_mib, "the emptiest of %d GPU(s)" % gpus["count"])
    return assignment


def _one_model_per_device(needs, gpus, context_share):
    """Exclusive GPUs or MIG slices: one model each, which gets the whole device budget."""
    device = "MIG %s slice" % gpus["mig_profile"] if gpus["sharing"] == "mig" else "GPU"
    capacity = 1 - gpus["margin"]
    too_big = [name for name in needs if needs[name]["share"] > capacity + 1e-9]
    if too_big:
        _raise_unplaced(too_big, needs, gpus, capacity * gpus["memory_mib"], "one %s" % device)
    names = list(needs)
    if len(names) > gpus["count"]:
        missing = names[gpus["count"]:]
        shortfall = sum(math.ceil(needs[name]["share"] * gpus["memory_mib"]) for name in missing)
        raise GpuSizingError(
            "GPU plan does not fit: %s sharing gives each model its own %s, but there are %d models and %d "
            "device(s); without a device: %s (short by %d MiB)"
            % (gpus["sharing"], device, len(names), gpus["count"], ", ".join(missing), shortfall))
    whole_budget = math.floor((capacity - context_share) * 100 + 1e-9) / 100
    for name in names:
        needs[name]["fraction"] = whole_budget
    return {name: index for index, name in enumerate(names)}


def _raise_unplaced(names, needs, gpus, free_mib, where):
    details = []
    for name in names:
        need_mib = math.ceil(needs[name]["share"] * gpus["memory_mib"])
        details.append("%s needs %d MiB, %s has %d MiB left (short by %d MiB)"
                       % (name, need_mib, where, int(free_mib), need_mib - int(free_mib)))
    raise GpuSizingError(
        "GPU plan does not fit (%s, %d MiB per device, CUDA context %d MiB and margin %.2f included): %s"
        % (gpus["sharing"], gpus["memory_mib"], CUDA_CONTEXT_MIB, gpus["margin"], "; ".join(details)))


def _describe_plan(names, needs, assignment, gpus, context_share):
    devices = [{"index": i, "models": [], "fraction_sum": 0.0, "context_fraction": 0.0}
               for i in range(gpus["count"])]
    for name in names:
        device = devices[assignment[name]]
        device["models"].append(name)
        device["fraction_sum"] = round(device["fraction_sum"] + needs[name]["fraction"], 2)
        device["context_fraction"] = round(device["context_fraction"] + context_share, 4)
    planned = {}
    for name in names:
        index = assignment[name]
        planned[name] = {
            "gpu_index": index,
            "fraction": needs[name]["fraction"],
            "resource": gpus["resource"],
            "resource_count": 1,
            "placement": _placement_text(name, index, devices[index], gpus),
        }
    for device in devices:
        device["free_mib"] = int((1 - device["fraction_sum"] - device["context_fraction"]) * gpus["memory_mib"])
    return {"sharing": gpus["sharing"], "memory_mib": gpus["memory_mib"], "margin": gpus["margin"],
            "cuda_context_mib": CUDA_CONTEXT_MIB, "models": planned, "gpus": devices}


def _placement_text(name, index, device, gpus):
    request = "%s: 1" % gpus["resource"]
    if gpus["sharing"] == "mig":
        return "MIG slice %s #%d to itself (%s)" % (gpus["mig_profile"], index, request)
    if gpus["sharing"] == "exclusive":
        return "GPU %d to itself (%s)" % (index, request)
    others = [other for other in device["models"] if other != name]
    shared = "shared with %s" % ", ".join(others) if others else "alone"
    # The device plugin, not the scheduler, picks the physical GPU behind a
    # time-sliced replica; a multi-GPU plan holds when each GPU is its own node
    # (pin with a node selector) or every GPU keeps the margin.
    return "time-sliced GPU %d, %s (%s)" % (index, shared, request)
