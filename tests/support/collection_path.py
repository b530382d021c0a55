"""Make the repository importable as ansible_collections.embedserve.vllm outside ansible-test.

A symlink tree <repo>/.cache/collections/ansible_collections/embedserve/vllm
-> <repo> (git-ignored) is added to sys.path. Under ansible-test the
collection is already importable and nothing changes.
"""

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_collection_importable():
    if importlib.util.find_spec("ansible_collections.embedserve") is not None:
        return
    root = REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "embedserve" / "vllm"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        os.symlink(REPO, link)
    sys.path.insert(0, str(root))
    import ansible_collections  # a namespace package: extend the path it was created with

    ansible_collections.__path__.append(str(root / "ansible_collections"))
