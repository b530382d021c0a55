"""vLLM's answers to fixed questions, kept by the content of everything that decides them.

The cross-checks ask real vLLM questions whose answer depends only on their
inputs: "what max_model_len does ModelConfig derive for this folder under
vLLM 0.13?", "what does the 0.32 parser make of these arguments?". Asking means
importing vLLM (20-60 s of CPU each, 16 times per run), so the answer is kept
under ~/.cache/embedserve/vllm-answers/<sha256>, where the hash covers:

* the exact vLLM install asked (its version marker written after the install
  probe, setup.sh, versions.sh and the pinned requirements of the base venv);
* the question: the script vLLM runs and every argument it gets;
* the content (never the path) of every file the question reads, e.g. the model
  folders, or the collection code a probe imports.

Change any of those and vLLM is asked again; the collection's own answer is
always computed fresh by the test. Only successful runs are kept.
EMBEDSERVE_VLLM_ANSWERS=refresh asks vLLM again and replaces what is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from tests.vllm.server import REPO, cache_root

HACK = REPO / "hack" / "vllm-cpu"


def _feed(h, part) -> None:
    if isinstance(part, Path):
        if part.is_dir():
            for f in sorted(p for p in part.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                h.update(b"F" + str(f.relative_to(part)).encode() + b"\0")
                h.update(hashlib.sha256(f.read_bytes()).digest())
        else:
            h.update(b"F" + hashlib.sha256(part.read_bytes()).digest())
    else:
        h.update(b"S" + (part if isinstance(part, bytes) else str(part).encode()) + b"\0")


def install_identity(version: str) -> list:
    """What identifies the vLLM install a question is asked of (markers, not the 4 GB themselves)."""
    src = cache_root() / "vllm-src"
    marker = src / f"{version}.ok" if (src / f"{version}.ok").is_file() else src / version / ".ok"
    return ["vllm", version, marker.read_text() if marker.is_file() else "no marker",
            HACK / "setup.sh", HACK / "versions.sh", *sorted(HACK.glob("requirements-vllm-cpu-*.lock.txt"))]


_OWN_IMPORT = re.compile(r"^from ansible_collections\.embedserve\.vllm\.plugins\.module_utils(?:\.(\w+))? import ([\w, ()]+)",
                         re.M)


def module_closure(module: str) -> list:
    """The collection's module_utils files a module imports, directly or not (itself first, then sorted)."""
    root = REPO / "plugins" / "module_utils"
    seen, todo = [], [module]
    while todo:
        name = todo.pop()
        if name in seen or not (root / f"{name}.py").is_file():
            continue
        seen.append(name)
        for submodule, names in _OWN_IMPORT.findall((root / f"{name}.py").read_text()):
            todo += [submodule] if submodule else [n.strip(" ()") for n in names.split(",")]
    return [root / f"{seen[0]}.py"] + sorted(root / f"{n}.py" for n in seen[1:])


def key(parts: Iterable) -> str:
    h = hashlib.sha256()
    for part in parts:
        _feed(h, part)
    return h.hexdigest()


def asked(name: str, parts: Iterable, ask: Callable[[], str]) -> str:
    """vLLM's answer (text) to the question the parts describe; `ask` runs vLLM and raises on failure."""
    store = cache_root() / "vllm-answers" / name
    path = store / f"{key(parts)}.json"
    if path.is_file() and os.environ.get("EMBEDSERVE_VLLM_ANSWERS") != "refresh":
        return json.loads(path.read_text())["answer"]
    answer = ask()
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=store, delete=False, suffix=".tmp") as f:
        json.dump({"answer": answer}, f)
    os.replace(f.name, path)
    return answer
