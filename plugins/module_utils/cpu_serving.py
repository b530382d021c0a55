# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""CPU serving (device: cpu): sizing and vLLM CPU-backend variables, the same in every deployment mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

GIB = 1024 ** 3
# vLLM's CPU backend keeps the weights and its
# KV cache in host memory and, unless VLLM_CPU_KVCACHE_SPACE is set, reserves
# --gpu-memory-utilization (0.9) of the whole machine's memory, which a
# container's memory limit does not bound: the variable is always set, and
# the memory request covers the weights plus that space.
CPU_PROCESS_GIB = 3  # API server and engine core processes, each with torch loaded
CPU_KVCACHE_MIN_GIB = 1  # vLLM reads the variable as whole GiB
CPU_DTYPE_BYTES = {"half": 2, "float16": 2, "bfloat16": 2}  # anything else runs as float32 on CPU


def device_of(entry):
    """'cpu' or 'gpu': device wins; gpu: false is the older spelling of device: cpu."""
    if entry.get("device"):
        return entry["device"]
    return "cpu" if entry.get("gpu") is False else "gpu"


def cpu_kvcache_gib(entry, facts):
    """VLLM_CPU_KVCACHE_SPACE: KV blocks for the batched tokens of decoder models, the minimum for encoders."""
    if facts.get("attention") != "decoder" or not (facts.get("num_key_value_heads") and facts.get("head_dim")):
        # encoder-only models keep no KV cache; vLLM still wants the variable
        return CPU_KVCACHE_MIN_GIB
    tokens = max(facts["max_model_len"], entry.get("max_num_batched_tokens") or 0)
    element = CPU_DTYPE_BYTES.get(entry.get("dtype"), 4)
    kv_bytes = 2 * facts["num_hidden_layers"] * facts["num_key_value_heads"] * facts["head_dim"] * element * tokens
    # twice one full-length sequence, so a second request is not queued behind the first
    return max(CPU_KVCACHE_MIN_GIB, int(math.ceil(2 * kv_bytes / float(GIB))))


def cpu_resources(entry, facts):
    weights_gib = facts["num_parameters"] * CPU_DTYPE_BYTES.get(entry.get("dtype"), 4) / float(GIB)
    memory_gib = int(math.ceil(CPU_PROCESS_GIB + 1.5 * weights_gib + cpu_kvcache_gib(entry, facts)))
    # the CPU is the accelerator here: its limit is the thread count vLLM gets
    return sized_resources(entry, facts, memory_gib, cpu_limit_factor=2)


def sized_resources(entry, facts, memory_gib, cpu_limit_factor):
    """requests/limits from the model's size (1 CPU below 1e9 parameters, else 2; the CPU limit cpu_limit_factor
    times that; 2 GiB of memory above the request), then the entry's own resources on top (GPU and CPU models)."""
    cpu = 1 if facts["num_parameters"] < 1e9 else 2
    requests = {"cpu": str(cpu), "memory": "%dGi" % memory_gib}
    limits = {"cpu": str(cpu * cpu_limit_factor), "memory": "%dGi" % (memory_gib + 2)}
    override = entry.get("resources") or {}
    requests.update(override.get("requests") or {})
    limits.update(override.get("limits") or {})
    return {"requests": requests, "limits": limits}


def cpu_count(quantity):
    """Whole CPUs in a Kubernetes CPU quantity ("2", "1500m", 2.5), at least 1."""
    text = str(quantity).strip()
    try:
        value = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return 1
    return max(1, int(value))


def cpu_env(entry, facts):
    """vLLM CPU backend variables for a device: cpu model (the entry's own env still overrides them)."""
    limits = cpu_resources(entry, facts)["limits"]
    threads = cpu_count(limits.get("cpu", 1))
    return {
        "VLLM_CPU_KVCACHE_SPACE": str(cpu_kvcache_gib(entry, facts)),
        # vLLM's automatic binding pins one OpenMP thread per core of the
        # whole machine, which a CPU limit then throttles; one thread per
        # CPU of the limit instead.
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "OMP_NUM_THREADS": str(threads),
    }
