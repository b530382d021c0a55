"""The transformers config-class defaults the collection mirrors are the ones real vLLM 0.32 derives from.

For every model_type in max_model_len.CONFIG_CLASS_DEFAULTS, a config.json
without max_position_embeddings is turned into the transformers config
object by the vLLM venv's transformers, and vLLM's own derivation
(ModelArchConfigConvertorBase.derive_max_model_len_and_key) is compared with
what the collection derives from the same JSON. vLLM's answer is kept by the
content of the question (tests/vllm/answers.py).
"""

import json
import subprocess

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.max_model_len import CONFIG_CLASS_DEFAULTS
from ansible_collections.embedserve.vllm.plugins.module_utils.model_facts import resolve_model
from tests.vllm import answers
from tests.vllm.server import VLLM_VERSION

pytestmark = pytest.mark.vllm

PROBE = r"""
import json, sys
import vllm.config  # noqa: F401  (imported first: breaks an import cycle of the convertor module)
from transformers import CONFIG_MAPPING
from vllm.transformers_utils.model_arch_config_convertor import ModelArchConfigConvertorBase
out = {}
for model_type in json.loads(sys.argv[1]):
    config = CONFIG_MAPPING[model_type].from_dict({"model_type": model_type})
    value, key = ModelArchConfigConvertorBase(config, config).derive_max_model_len_and_key()
    out[model_type] = [value, key]
print(json.dumps(out))
"""

# Shape keys every model needs for the facts; the length key is left out on purpose.
SHAPE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
         "vocab_size": 1000}


def test_class_defaults_match_real_vllm(vllm_python, tmp_path):
    model_types = sorted(CONFIG_CLASS_DEFAULTS)

    def ask():
        proc = subprocess.run([str(vllm_python), "-c", PROBE, json.dumps(model_types)], capture_output=True,
                              text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    question = [*answers.install_identity(VLLM_VERSION), PROBE, json.dumps(model_types)]
    derived_by_vllm = json.loads(answers.asked("class-defaults", question, ask).strip().splitlines()[-1])
    for model_type in model_types:
        folder = tmp_path / model_type
        folder.mkdir()
        config = dict(SHAPE, model_type=model_type, architectures=["SomeModel"])
        (folder / "config.json").write_text(json.dumps(config))
        facts = resolve_model(str(folder), vllm_version="0.32.0")
        value, key = derived_by_vllm[model_type]
        assert key == "max_position_embeddings", (model_type, key)
        assert facts["vllm_max_model_len"] == value, model_type
