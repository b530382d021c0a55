#!/usr/bin/env python3
"""Ask vLLM's own code which max_model_len it derives for a model folder.

Runs INSIDE a vLLM environment (the cached venv, optionally with another vLLM
version's package dir first on PYTHONPATH, see versions.sh) and prints exactly
one JSON line on stdout:

    {"vllm_version": "0.32.0", "max_model_len": 256, "error": null}

Batch mode (one vLLM import for many cases, used by the cross-check test):
``--cases FILE`` where FILE is a JSON list of objects with the keys ``model``,
``max_model_len``, ``hf_overrides`` (dict) and ``trust_remote_code``; prints
one JSON line per case, in order, each also carrying its ``model`` and
``requested_max_model_len``.

On failure ``max_model_len`` is null and ``error`` holds vLLM's message (e.g. the
"User-specified max_model_len (512) is greater than the derived max_model_len"
validation error). Exit code is 0 in both cases; it is non-zero only if vLLM
itself cannot be imported (then the JSON line still comes, with the error).

Needs no GPU and no weights: only ``vllm.config.ModelConfig(model=DIR,
tokenizer=DIR, runner="pooling", ...)``. The platform is forced to CPU so that
CUDA wheels (vllm 0.10.x / 0.33.x) work here too. Everything vLLM or
transformers print goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="local model folder")
    p.add_argument("--cases", help="JSON file with a list of cases (batch mode)")
    p.add_argument("--max-model-len", type=int, default=None,
                   help="user-requested --max-model-len (default: let vLLM derive)")
    p.add_argument("--hf-overrides", default=None,
                   help="JSON object, as vLLM's --hf-overrides")
    p.add_argument("--trust-remote-code", action="store_true")
    args = p.parse_args()
    if bool(args.model) == bool(args.cases):
        p.error("give exactly one of --model or --cases")
    return args


def _vllm_version() -> str | None:
    try:
        import vllm  # noqa: PLC0415

        return getattr(vllm, "__version__", None)
    except Exception:  # noqa: BLE001
        return None


def _derive(case: dict) -> int:
    import vllm.platforms  # noqa: PLC0415
    from vllm.platforms.cpu import CpuPlatform  # noqa: PLC0415

    # Works for CPU and CUDA wheels alike; no device is touched.
    vllm.platforms._current_platform = CpuPlatform()

    from vllm.config import ModelConfig  # noqa: PLC0415

    model = os.path.abspath(case["model"])
    kwargs = dict(
        model=model,
        tokenizer=model,
        runner="pooling",
        trust_remote_code=bool(case.get("trust_remote_code")),
    )
    if case.get("max_model_len") is not None:
        kwargs["max_model_len"] = int(case["max_model_len"])
    if case.get("hf_overrides"):
        kwargs["hf_overrides"] = case["hf_overrides"]
    cfg = ModelConfig(**kwargs)
    return int(cfg.max_model_len)


def main() -> int:
    args = _parse()
    if args.cases:
        with open(args.cases) as f:
            cases = json.load(f)
        batch = True
    else:
        cases = [{
            "model": args.model,
            "max_model_len": args.max_model_len,
            "hf_overrides": json.loads(args.hf_overrides) if args.hf_overrides else None,
            "trust_remote_code": args.trust_remote_code,
        }]
        batch = False
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")

    # Keep stdout for the single JSON line: point fd 1 (Python and C level) at stderr.
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    version = _vllm_version()
    import_error = None
    if version is None:
        try:
            import vllm  # noqa: F401, PLC0415  (re-raise the import error)
        except BaseException as e:  # noqa: BLE001
            import_error = _error_text(e)
    for case in cases:
        result: dict = {"vllm_version": version, "max_model_len": None, "error": import_error}
        if batch:
            result = {"model": case["model"], "requested_max_model_len": case.get("max_model_len"),
                      **result}
        if import_error is None:
            try:
                result["max_model_len"] = _derive(case)
            except BaseException as e:  # noqa: BLE001  (SystemExit from vLLM too)
                result["error"] = _error_text(e)
        real_stdout.write(json.dumps(result) + "\n")
        real_stdout.flush()
    return 3 if import_error else 0


def _error_text(e: BaseException) -> str:
    msg = str(e).strip() or repr(e)
    return f"{type(e).__name__}: {msg}"[:4000]


if __name__ == "__main__":
    sys.exit(main())
