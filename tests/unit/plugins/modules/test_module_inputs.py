"""Every module, fed wrong-typed and out-of-range values: one clean failure naming the option, never a traceback,
and nothing done (the values are refused before any file, network or cluster access)."""

import importlib
import json
import pkgutil

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins import modules as modules_package

# k8s_diff and rollout_wait are action plugins (plugins/action): Ansible checks their argument specs, and
# rollout_wait's ranges are tested below on its own.
MODULES = sorted(info.name for info in pkgutil.iter_modules(modules_package.__path__)
                 if hasattr(importlib.import_module("%s.%s" % (modules_package.__name__, info.name)), "main"))
# a value of the wrong type for each documented type (strings are never wrong: numbers convert to them)
WRONG = {"int": {"not": "a number"}, "float": ["1.5"], "bool": "maybe", "list": {"a": 1}, "dict": ["a", "b"]}
# a well-typed value for required options, so only the option under test is wrong
PLAUSIBLE = {"str": "x", "path": "/nonexistent", "int": 1, "float": 1.0, "bool": False, "list": [], "dict": {},
             "raw": "x"}


def documented_options(name):
    module = importlib.import_module("%s.%s" % (modules_package.__name__, name))
    return module, yaml.safe_load(module.DOCUMENTATION).get("options") or {}


def run(capsys, module, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        module.main()
    out = capsys.readouterr().out
    return exit_info.value.code, json.loads(out), out


def cases():
    for name in MODULES:
        options = documented_options(name)[1]
        for option, spec in sorted(options.items()):
            kind = spec.get("type", "str")
            if kind in WRONG:
                yield name, option, kind


@pytest.mark.parametrize("name, option, kind", list(cases()))
def test_a_wrong_type_is_refused_by_name(capsys, name, option, kind):
    module, options = documented_options(name)
    args = dict((key, PLAUSIBLE.get(spec.get("type", "str"), "x")) for key, spec in options.items()
                if spec.get("required"))
    args[option] = WRONG[kind]
    code, result, out = run(capsys, module, args)
    assert code == 1 and result["failed"] is True, result
    assert option in result["msg"], result["msg"]
    assert "Traceback" not in out and "exception" not in result


OUT_OF_RANGE = [
    ("endpoint_bench", {"targets": [{"url": "http://127.0.0.1:9"}], "concurrency": 0},
     "concurrency must be an integer between 1 and"),
    ("endpoint_bench", {"targets": [{"url": "http://127.0.0.1:9"}], "duration": -1, "requests": 0},
     "duration must be a number between"),
    ("endpoint_bench", {"targets": [{"url": "http://127.0.0.1:9"}], "rounds": 10 ** 9},
     "rounds must be an integer between"),
    ("vllm_endpoint_check", {"endpoints": [{"name": "m", "url": "http://127.0.0.1:9"}], "timeout": -5},
     "timeout must be"),
    ("vllm_endpoint_check", {"endpoints": [{"name": "m", "url": "http://127.0.0.1:9"}], "wait_healthy": -1},
     "wait_healthy must be"),
    ("hf_model_config", {"model": "/nonexistent", "max_model_len": 0}, "max_model_len must be"),
    ("hf_model_config", {"model": "/nonexistent", "max_model_len": 2 ** 40}, "max_model_len must be"),
    ("model_catalogue", {"models": [{"name": "m", "model": "/nonexistent"}], "namespace": "models",
                         "run_as_user": -1}, "embedserve_run_as_user -1 is out of range"),
    ("s3_model_sync", {"src": "/nonexistent", "bucket": "b", "multipart_threshold_mib": 0},
     "multipart_threshold_mib must be"),
]


@pytest.mark.parametrize("name, args, message", OUT_OF_RANGE, ids=["%s-%s" % (c[0], sorted(c[1])[-1]) for c in OUT_OF_RANGE])
def test_an_out_of_range_value_is_refused_by_name(capsys, name, args, message):
    module = documented_options(name)[0]
    code, result, out = run(capsys, module, args)
    assert code == 1 and result["failed"] is True, result
    assert message in result["msg"], result["msg"]
    assert "Traceback" not in out and "exception" not in result


@pytest.mark.parametrize("args, message", [
    ({"timeout": -1}, "timeout must be an integer between 0 and"),
    ({"sleep": 0.0}, "sleep must be a number between 0.1 and 600"),
    ({"log_lines": 10 ** 9}, "log_lines must be an integer between 0 and 10000"),
])
def test_rollout_wait_refuses_out_of_range_values_before_reading_the_cluster(args, message):
    from ansible_collections.embedserve.vllm.plugins.action import rollout_wait
    from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import range_problems

    defaults = {"timeout": 600, "sleep": 2.0, "progress_interval": 5.0, "log_lines": 20}
    assert range_problems(defaults, rollout_wait.RANGES) == []
    problems = range_problems(dict(defaults, **args), rollout_wait.RANGES)
    assert len(problems) == 1 and problems[0].startswith(message), problems
