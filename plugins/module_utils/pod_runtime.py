# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""How a vLLM container runs rootless: environment, volumes and security context.

OpenShift's restricted-v2 SCC (and Pod Security "restricted") start the
container as a random UID with no passwd entry, with a read-only root
filesystem here. Everything vLLM, Hugging Face, torch and Triton write must
therefore point at mounted writable volumes, and ``USER`` must be set because
torch calls ``getpass.getuser()`` at import, which fails for an unknown UID.
Raw Deployments and KServe ServingRuntimes share this one definition.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

SCRATCH_DIR = "/scratch"
TMP_DIR = "/tmp"
SHM_DIR = "/dev/shm"
# How often the probes poll vLLM's /health; the startup window is counted in these periods.
PROBE_PERIOD_SECONDS = 10
DEFAULT_STARTUP_TIMEOUT = 1800

# vLLM's own variables are VLLM_CACHE_ROOT and VLLM_CONFIG_ROOT; the often
# copied VLLM_CACHE_DIR is read by nothing.
_SCRATCH_ENV = (
    ("HOME", SCRATCH_DIR),
    ("USER", "vllm"),
    ("XDG_CACHE_HOME", SCRATCH_DIR + "/.cache"),
    ("XDG_CONFIG_HOME", SCRATCH_DIR + "/.config"),
    ("VLLM_CACHE_ROOT", SCRATCH_DIR + "/.cache/vllm"),
    ("VLLM_CONFIG_ROOT", SCRATCH_DIR + "/.config/vllm"),
    ("TRITON_CACHE_DIR", SCRATCH_DIR + "/.cache/triton"),
    ("TORCHINDUCTOR_CACHE_DIR", SCRATCH_DIR + "/.cache/torchinductor"),
    ("NUMBA_CACHE_DIR", SCRATCH_DIR + "/.cache/numba"),
    ("OUTLINES_CACHE_DIR", SCRATCH_DIR + "/.cache/outlines"),
    ("FLASHINFER_WORKSPACE_BASE", SCRATCH_DIR),
    ("TMPDIR", TMP_DIR),
    ("VLLM_NO_USAGE_STATS", "1"),
    ("DO_NOT_TRACK", "1"),
)

# Directories the container must be able to write; everything else may be
# read-only. Tests run real vLLM with exactly these writable.
WRITABLE_DIRS = (SCRATCH_DIR, TMP_DIR, SHM_DIR)


def rootless_env(hf_home=None, offline=False):
    """Environment (ordered list of {name, value}) for a rootless vLLM container.

    hf_home: where the Hugging Face cache lives (on the shared cache claim for
    raw Deployments); defaults to scratch space. offline: set HF_HUB_OFFLINE
    so a pre-populated cache is used without contacting the Hub.
    """
    env = [{"name": name, "value": value} for name, value in _SCRATCH_ENV]
    env.append({"name": "HF_HOME", "value": hf_home or SCRATCH_DIR + "/.cache/huggingface"})
    if offline:
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    return env


def merge_env(base, extra):
    """base (list of {name, value}) with extra (dict) added or overriding, order kept."""
    merged = [dict(item) for item in base]
    index = dict((item["name"], i) for i, item in enumerate(merged))
    for name, value in (extra or {}).items():
        item = {"name": str(name), "value": str(value)}
        if item["name"] in index:
            merged[index[item["name"]]] = item
        else:
            index[item["name"]] = len(merged)
            merged.append(item)
    return merged


def scratch_volumes(shm_size="2Gi", scratch_size="10Gi"):
    """emptyDir volumes and their mounts for scratch, /tmp and /dev/shm."""
    volumes = [
        {"name": "scratch", "emptyDir": {"sizeLimit": scratch_size}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        # torch and NCCL use shared memory; the container runtime's default 64 MiB is too small.
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": shm_size}},
    ]
    mounts = [
        {"name": "scratch", "mountPath": SCRATCH_DIR},
        {"name": "tmp", "mountPath": TMP_DIR},
        {"name": "shm", "mountPath": SHM_DIR},
    ]
    return volumes, mounts


def pod_security_context(run_as_user=None):
    """Pod-level context that passes Pod Security restricted.

    OpenShift assigns a UID from the namespace's range, and a fixed one would be
    refused by restricted-v2, so by default none is set. Elsewhere an image
    that runs as root (the upstream vLLM image does) fails runAsNonRoot unless
    a UID is given: run_as_user sets runAsUser, and fsGroup so the cache claim
    is writable for it.
    """
    context = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        context.update(runAsUser=int(run_as_user), runAsGroup=0, fsGroup=int(run_as_user))
    return context


def container_security_context(run_as_user=None):
    """Container-level context; run_as_user as in pod_security_context (KServe runtimes have only this one)."""
    context = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_user is not None:
        context.update(runAsUser=int(run_as_user), runAsGroup=0)
    return context


def probes(startup_timeout, port):
    """The container's probes on vLLM's /health: the startup probe holds the others off for the model's
    startup window (model download and load can take many minutes), polling every PROBE_PERIOD_SECONDS."""
    threshold = int(math.ceil(startup_timeout / float(PROBE_PERIOD_SECONDS)))
    health = {"path": "/health", "port": port}
    return {
        "startup_timeout": startup_timeout,
        "startup_failure_threshold": threshold,
        "startup": {"httpGet": dict(health), "periodSeconds": PROBE_PERIOD_SECONDS, "timeoutSeconds": 5,
                    "failureThreshold": threshold},
        "readiness": {"httpGet": dict(health), "periodSeconds": PROBE_PERIOD_SECONDS, "timeoutSeconds": 5,
                      "failureThreshold": 3},
        # a wedged server is restarted after two minutes without an answer
        "liveness": {"httpGet": dict(health), "periodSeconds": 2 * PROBE_PERIOD_SECONDS, "timeoutSeconds": 10,
                     "failureThreshold": 6},
    }
