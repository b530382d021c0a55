"""The supported vLLM range is written once (vllm_versions.SUPPORTED_MIN/BELOW); every text that
states it (module docs, argument specs, the AWX survey, README, docs) must say the same."""

import json
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.embedserve.vllm.plugins.module_utils import vllm_versions

REPO = Path(__file__).resolve().parents[2]
RANGE = re.compile(r"\b\d+\.\d+\.\d+ to \d+\.\d+\.x\b")
# Where users read the range; each must state it.
STATES_THE_RANGE = [
    "plugins/modules/model_catalogue.py",
    "plugins/modules/hf_model_config.py",
    "roles/catalogue/meta/argument_specs.yml",
    "awx/surveys/deploy.json",
    "README.md",
]


def _texts():
    for pattern in ("plugins/**/*.py", "roles/**/*.yml", "roles/**/*.md", "docs/*.md", "awx/**/*.json",
                    "meta/*.yml", "playbooks/*.yml", "inventories/**/*.yml", "README.md"):
        for path in sorted(REPO.glob(pattern)):
            yield path.relative_to(REPO).as_posix(), path.read_text()


def test_the_range_text_follows_the_bounds():
    low, below = vllm_versions.SUPPORTED_MIN, vllm_versions.SUPPORTED_BELOW
    assert vllm_versions.SUPPORTED_RANGE == "%d.%d.%d to %d.%d.x" % (low + (below[0], below[1] - 1))
    assert vllm_versions.SUPPORTED_RANGE in vllm_versions.SUPPORTED_RANGE_TEXT
    with pytest.raises(vllm_versions.UnsupportedVllmVersion, match=re.escape(vllm_versions.SUPPORTED_RANGE)):
        vllm_versions.parse_vllm_version("%d.%d.0" % below[:2])


def test_every_stated_range_is_the_supported_one():
    stated = {}
    for name, text in _texts():
        for found in RANGE.findall(text):
            stated.setdefault(found, []).append(name)
    wrong = {found: names for found, names in stated.items() if found != vllm_versions.SUPPORTED_RANGE}
    assert not wrong, "ranges other than %s: %s" % (vllm_versions.SUPPORTED_RANGE, wrong)
    missing = [name for name in STATES_THE_RANGE if name not in stated.get(vllm_versions.SUPPORTED_RANGE, [])]
    assert not missing


def test_the_defaults_are_the_default_version():
    default = vllm_versions.DEFAULT_VLLM_VERSION
    vllm_versions.parse_vllm_version(default)
    survey = json.loads((REPO / "awx" / "surveys" / "deploy.json").read_text())["spec"]
    # keyed by the variable the answer ends up in (a question may be asked as survey_<variable>)
    answers = dict((q["variable"].replace("survey_", "", 1), q.get("default")) for q in survey)
    assert "embedserve_vllm_version" in answers and "embedserve_image" in answers
    # an empty default keeps the inventory's value; a filled one must be the default release
    assert answers["embedserve_vllm_version"] in ("", default)
    assert answers["embedserve_image"] == "" or answers["embedserve_image"].endswith(":v" + default)
    spec = yaml.safe_load((REPO / "roles" / "catalogue" / "meta" / "argument_specs.yml").read_text())
    assert spec["argument_specs"]["main"]["options"]["catalogue_vllm_version"]["default"] == default
    assert "default('%s')" % default in (REPO / "roles" / "catalogue" / "defaults" / "main.yml").read_text()
