"""extra_args the collection accepts never change a managed setting in real vLLM 0.32's own argument parser.

Every long option vLLM's server parser knows is spelt in the ways its
FlexibleArgumentParser accepts ('_' for '-', '--flag=value', '--flag.key',
every unambiguous abbreviation, --no- negations); each spelling the
collection's check (vllm_cli.extra_args_problems) lets through is appended
to a collection-built command and parsed by vLLM: no managed destination
(--max-model-len, --gpu-memory-utilization, --api-key, ...) may differ from
the command without it. The verdicts are kept by the content of vLLM's install,
the probe and the collection code it imports (tests/vllm/answers.py).
"""

import json
import subprocess

import pytest

from tests.vllm import answers
from tests.vllm.server import REPO, VLLM_VERSION

pytestmark = pytest.mark.vllm

PROBE = r"""
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_cli import MANAGED_FLAGS, extra_args_problems
import vllm.config  # noqa: F401
from vllm.entrypoints.launchers.cli_args import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser

parser = make_arg_parser(FlexibleArgumentParser())
options = sorted({s for a in parser._actions for s in a.option_strings if s.startswith("--")})
managed = sorted({a.dest for a in parser._actions if any(s in MANAGED_FLAGS for s in a.option_strings)})
base = ["--model", "/models/m", "--served-model-name", "m", "--runner", "pooling", "--max-model-len", "256",
        "--gpu-memory-utilization", "0.3", "--dtype", "float16", "--port", "8000"]


def parse(args):
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            namespace = parser.parse_args(args)
        except (SystemExit, Exception):  # refused (a trailing '--x.key' even crashes vLLM's pre-parser)
            return None
    return dict((dest, repr(getattr(namespace, dest, None))) for dest in managed)


def spellings(option):
    name = option[2:]
    yield option
    yield "--" + name.replace("-", "_")
    yield "--" + name.replace("-", "_", 1)
    for end in range(3, len(name)):
        yield "--" + name[:end]
        yield "--" + name[:end].replace("-", "_")
    yield option + ".key"


expected = parse(base)
candidates, accepted, parsed, violations = 0, 0, 0, []
for option in options:
    for spelling in set(spellings(option)):
        for extra in ([spelling], [spelling, "1"], [spelling + "=1"], [spelling + " 1"]):
            candidates += 1
            if extra_args_problems(extra, "0.32.0"):
                continue
            accepted += 1
            result = parse(base + extra)
            if result is None:
                continue
            parsed += 1
            changed = sorted(dest for dest in managed if result[dest] != expected[dest])
            if changed:
                violations.append([extra, changed])
print(json.dumps({"options": len(options), "managed": managed, "candidates": candidates, "accepted": accepted,
                  "parsed": parsed, "violations": violations[:50]}))
"""


def test_accepted_extra_args_never_change_a_managed_setting(vllm_python):
    def ask():
        proc = subprocess.run([str(vllm_python), "-c", PROBE, str(REPO / ".cache" / "collections")],
                              capture_output=True, text=True, timeout=1200, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    # The probe runs the collection's own check inside vLLM's process: that code is part of the question.
    question = [*answers.install_identity(VLLM_VERSION), PROBE, *answers.module_closure("vllm_cli")]
    result = json.loads(answers.asked("extra-args", question, ask).strip().splitlines()[-1])
    print("vLLM options %(options)d, candidates %(candidates)d, accepted %(accepted)d, parsed %(parsed)d" % result)
    assert "max_model_len" in result["managed"] and "api_key" in result["managed"]
    assert result["parsed"] > 1000  # the check is not simply refusing everything
    assert result["violations"] == []
