"""Each role's README is generated from its meta/argument_specs.yml (hack/role_docs.py);
a spec change without a regenerated README fails here."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("role_docs", REPO / "hack" / "role_docs.py")
role_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(role_docs)

ROLES = sorted(path.parent.name for path in (REPO / "roles").glob("*/tasks"))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_a_current_readme(role):
    role_dir = REPO / "roles" / role
    assert (role_dir / "meta" / "argument_specs.yml").exists(), "%s has no argument specs" % role
    readme = role_dir / "README.md"
    assert readme.exists(), "run hack/role_docs.py"
    assert readme.read_text() == role_docs.render(role_dir), "roles/%s/README.md is out of date: run hack/role_docs.py" % role


def test_the_readme_lists_every_option_with_its_default():
    import yaml

    role_dir = REPO / "roles" / "raw_deployment"
    options = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    text = role_docs.render(role_dir)
    for name in options:
        assert "| `%s` |" % name in text
    assert "| `raw_deployment_failure_log_lines` | int |  | `40` |" in text
    assert "name: embedserve.vllm.raw_deployment" in text


def test_markup_becomes_markdown():
    assert role_docs.markdown("C(raw) or I(kserve), M(embedserve.vllm.model_catalogue), U(https://x)") == \
        "`raw` or *kserve*, `embedserve.vllm.model_catalogue`, <https://x>"


def test_check_mode_reports_a_stale_readme(tmp_path, monkeypatch, capsys):
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: Demo\n    options:\n      demo_x: {type: int, default: 1, description: X.}\n")
    monkeypatch.setattr(role_docs, "REPO", tmp_path)
    assert role_docs.main(["--check"]) == 1
    assert "roles/demo/README.md" in capsys.readouterr().err
    assert role_docs.main([]) == 0
    assert role_docs.main(["--check"]) == 0
    assert "| `demo_x` | int |  | `1` | X. |" in (role / "README.md").read_text()
