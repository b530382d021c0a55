"""The README's example inventories (OpenShift AI, OpenShift, Kubernetes + KServe) resolve and
render what their comments promise. Render mode touches no cluster; the seed models come from the
offline hub cache (`make models`) instead of the Hub."""

import re

import pytest
import yaml

from conftest import REPO, run_playbook

HUB_CACHE = REPO / ".cache" / "hf-hub"


def render(tmp_path, inventory):
    out = tmp_path / inventory
    run = run_playbook("site.yml", "-i", "inventories/%s" % inventory, extra_vars={
        "embedserve_render_dir": str(out), "embedserve_hf_cache_dir": str(HUB_CACHE), "embedserve_hf_offline": True})
    assert run.rc == 0, run.failure_messages()
    objects = [doc for path in sorted(out.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def kinds(objects):
    return sorted({obj["kind"] for obj in objects})


def revisions(objects):
    return [obj["metadata"].get("annotations", {}).get("embedserve.io/revision") for obj in objects
            if obj["kind"] in ("Deployment", "InferenceService")]


@pytest.mark.parametrize("inventory, present, absent", [
    ("openshift-ai", {"InferenceService", "ServingRuntime", "Template", "Job"}, {"Deployment", "Route"}),
    ("openshift", {"Deployment", "Service", "Route"}, {"InferenceService", "Template"}),
    ("kubernetes-kserve", {"InferenceService", "ServingRuntime", "Job"}, {"Route", "Template", "Deployment"}),
])
def test_example_inventory_renders_its_target(tmp_path, inventory, present, absent):
    objects = render(tmp_path, inventory)
    assert present <= set(kinds(objects)), kinds(objects)
    assert not absent & set(kinds(objects)), kinds(objects)
    # `revision: main` is resolved to the commit that is deployed
    pinned = revisions(objects)
    assert len(pinned) == 3 and all(re.fullmatch(r"[0-9a-f]{40}", rev or "") for rev in pinned), pinned
    namespace = [obj for obj in objects if obj["kind"] == "Namespace"][0]
    dashboard = namespace["metadata"].get("labels", {}).get("opendatahub.io/dashboard")
    assert dashboard == ("true" if inventory == "openshift-ai" else None)
    if inventory == "kubernetes-kserve":
        text = yaml.safe_dump([obj for obj in objects if obj["kind"] == "ServingRuntime"])
        assert "runAsUser: 1001" in text
