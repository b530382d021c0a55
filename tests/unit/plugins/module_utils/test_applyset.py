"""The ApplySet rules: ids as kubectl computes them, membership, prune decisions, shared references."""

import base64
import hashlib

from ansible_collections.embedserve.vllm.plugins.module_utils import applyset as rules
from ansible_collections.embedserve.vllm.plugins.module_utils.preflight import (
    required_apis,
    required_namespaces,
    source_problems,
)


def kubectl_id(name, namespace, kind, group):
    # k8s.io/kubectl/pkg/cmd/apply/applyset.go: ApplySet.ID() joins name, namespace, kind and
    # group with "." and encodes the SHA-256 with base64.RawURLEncoding in "applyset-%s-v1".
    raw = hashlib.sha256(".".join([name, namespace, kind, group]).encode()).digest()
    return "applyset-%s-v1" % base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_id_is_kubectls_for_a_configmap_parent():
    info = rules.describe("vllm-embeddings", "embedserve")
    assert info["parent"] == "embedserve-applyset"
    assert info["id"] == kubectl_id("embedserve-applyset", "vllm-embeddings", "ConfigMap", "")
    # a label value: at most 63 characters, alphanumeric at both ends
    assert len(info["id"]) <= 63 and info["id"][0].isalnum() and info["id"][-1].isalnum()
    assert "=" not in info["id"] and "+" not in info["id"] and "/" not in info["id"]


def test_ids_differ_per_namespace_and_catalogue():
    ids = {rules.describe(ns, cat)["id"] for ns in ("a", "b") for cat in ("x", "y")}
    assert len(ids) == 4


def test_reference_annotation_is_a_valid_key_and_field_manager_fits():
    info = rules.describe("ns-" + "a" * 60, "catalogue")
    prefix, name = info["ref_annotation"].split("/")
    assert prefix == "refs.embedserve.io" and len(name) <= 63 and name[0].isalnum() and name[-1].isalnum()
    assert len(info["field_manager"]) <= 128


def test_group_kinds_spelling():
    assert rules.group_kind("v1", "Service") == "Service"
    assert rules.group_kind("apps/v1", "Deployment") == "Deployment.apps"
    assert rules.group_kind("serving.kserve.io/v1beta1", "InferenceService") == "InferenceService.serving.kserve.io"
    assert rules.format_group_kinds(["Service", "Deployment.apps", "Service"]) == "Deployment.apps,Service"
    assert rules.parse_group_kinds(" Service, Deployment.apps ,,") == ["Deployment.apps", "Service"]


def obj(kind, name, namespace="ns", api_version="v1", labels=None, annotations=None):
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                         "annotations": annotations or {}}}


def test_members_are_labelled_but_not_namespaces_storage_config_or_other_namespaces():
    info = rules.describe("ns", "embedserve")
    objects = [obj("Namespace", "ns", namespace=None), obj("Service", "m"), obj("Secret", "storage-config"),
               obj("Template", "t", namespace="redhat-ods-applications")]
    marked = rules.mark_members(objects, info)
    assert rules.PART_OF_LABEL not in marked[0]["metadata"]["labels"]
    assert marked[1]["metadata"]["labels"][rules.PART_OF_LABEL] == info["id"]
    assert rules.PART_OF_LABEL not in marked[2]["metadata"]["labels"]
    assert rules.PART_OF_LABEL not in marked[3]["metadata"]["labels"]
    # the input is not modified
    assert rules.PART_OF_LABEL not in objects[1]["metadata"]["labels"]


def test_prune_keeps_desired_and_protected():
    members = [obj("Deployment", "old", api_version="apps/v1"), obj("Deployment", "kept", api_version="apps/v1"),
               obj("Service", "old"), obj("PersistentVolumeClaim", "vllm-model-cache"),
               obj("Secret", "aws-connection-x", labels={"opendatahub.io/dashboard": "true"}),
               obj("Secret", "old-api-key")]
    desired = [rules.object_ref(obj("Deployment", "kept", api_version="apps/v1"))]
    doomed, kept = rules.prune_candidates(members, desired)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in doomed) == [
        ("Deployment", "old"), ("Secret", "old-api-key"), ("Service", "old")]
    assert sorted(o["metadata"]["name"] for o in kept) == ["aws-connection-x", "vllm-model-cache"]
    doomed, kept = rules.prune_candidates(members, desired, prune_protected=True)
    assert len(doomed) == 5 and kept == []


def test_objects_a_controller_made_are_left_to_it():
    # KServe copies the InferenceService's labels (part-of included) onto the predictor it creates
    predictor = obj("Deployment", "minilm-predictor", api_version="apps/v1")
    predictor["metadata"]["ownerReferences"] = [{"apiVersion": "serving.kserve.io/v1beta1",
                                                 "kind": "InferenceService", "name": "minilm", "controller": True}]
    assert rules.prune_candidates([predictor], []) == ([], [])
    # a plain owner reference (not the controller) does not protect
    predictor["metadata"]["ownerReferences"][0]["controller"] = False
    assert len(rules.prune_candidates([predictor], [])[0]) == 1


def test_same_name_other_kind_or_version_is_compared_by_group_kind():
    members = [obj("Route", "m", api_version="route.openshift.io/v1")]
    desired = [{"apiVersion": "route.openshift.io/v1", "kind": "Route", "name": "m", "namespace": "ns"}]
    assert rules.prune_candidates(members, desired) == ([], [])
    desired = [{"apiVersion": "v1", "kind": "Service", "name": "m", "namespace": "ns"}]
    assert len(rules.prune_candidates(members, desired)[0]) == 1


def test_deletion_order_puts_consumers_first():
    objects = [obj("Secret", "s"), obj("ServingRuntime", "r"), obj("InferenceService", "i"), obj("Route", "r")]
    assert [o["kind"] for o in rules.deletion_order(objects)] == ["Route", "InferenceService", "ServingRuntime",
                                                                  "Secret"]


def test_shared_references():
    a, b = rules.describe("ns-a", "embedserve"), rules.describe("ns-b", "embedserve")
    template = obj("Template", "vllm-embedding-runtime-template", namespace="redhat-ods-applications")
    both = rules.mark_shared(rules.mark_shared([template], a), b)[0]
    assert rules.references(both) == {a["ref_annotation"]: "ns-a/embedserve", b["ref_annotation"]: "ns-b/embedserve"}


def test_pruned_summary_shows_identity_never_data():
    secret = dict(obj("Secret", "k"), data={"VLLM_API_KEY": "c2VjcmV0"})
    assert "data" not in rules.summary_of(secret)


def model(name, mode, **extra):
    entry = {"name": name, "mode": mode, "replicas": 1, "route": {"enabled": True},
             "network_policy": {"enabled": False}}
    entry.update(extra)
    return entry


def kinds(apis):
    return {(a["api_version"], a["kind"]) for a in apis}


def test_required_apis_follow_modes_and_settings():
    catalogue = [model("a", "raw"), model("b", "kserve")]
    apis = required_apis(catalogue, {"raw_routes": True, "kserve_routes": True, "openshift_ai": True,
                                     "model_source": "prepared"})
    assert {("apps/v1", "Deployment"), ("serving.kserve.io/v1beta1", "InferenceService"),
            ("serving.kserve.io/v1alpha1", "ServingRuntime"), ("route.openshift.io/v1", "Route"),
            ("template.openshift.io/v1", "Template"), ("batch/v1", "Job")} <= kinds(apis)
    needed = dict(((a["api_version"], a["kind"]), a["needed_by"]) for a in apis)
    assert "b" in needed[("serving.kserve.io/v1beta1", "InferenceService")]
    assert "embedserve_openshift_ai" in needed[("template.openshift.io/v1", "Template")]
    members = [a["group_kind"] for a in apis if a["member"]]
    assert "Namespace" not in members and "Template.template.openshift.io" not in members
    assert "InferenceService.serving.kserve.io" in members


def test_token_auth_kinds_are_members_for_kserve_on_openshift_ai_only():
    # plugins/module_utils/token_auth.py: the dashboard's Role and RoleBinding per model that asks for a token
    rbac = {("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding")}
    on_ai = required_apis([model("b", "kserve")], {"openshift_ai": True})
    assert rbac <= kinds(on_ai)
    assert {"Role.rbac.authorization.k8s.io", "RoleBinding.rbac.authorization.k8s.io"} <= set(
        a["group_kind"] for a in on_ai if a["member"])
    assert not rbac & kinds(required_apis([model("b", "kserve")], {"openshift_ai": False}))
    assert not rbac & kinds(required_apis([model("a", "raw")], {"openshift_ai": True}))
    assert "Role.rbac.authorization.k8s.io" in rules.KNOWN_GROUP_KINDS


def test_required_apis_on_plain_kubernetes_raw_only():
    apis = required_apis([model("a", "raw")], {"raw_routes": False, "kserve_routes": False})
    assert not any(a["kind"] in ("Route", "InferenceService", "Template", "Job") for a in apis)
    assert required_namespaces([model("a", "raw")], {"openshift_ai": False}) == []
    assert required_namespaces([model("a", "raw")], {"openshift_ai": True, "dashboard_namespace": "x"})[0]["name"] == "x"


# --- issue 11: models whose pods would start on nothing ----------------------------------------------------------
def kserve_model(name, storage_type, path_given=False, uri="pvc://cache/x"):
    return {"name": name, "mode": "kserve", "model": "o/" + name, "facts": {"source": "hub"},
            "kserve": {"storage_type": storage_type, "storage_path_given": path_given, "storage": {"storageUri": uri}}}


def test_an_unprepared_pvc_folder_is_refused_and_named():
    problems = source_problems([kserve_model("a", "pvc")], {"model_source": "hub"})
    assert len(problems) == 1 and problems[0].startswith("a: kserve mode reads pvc://cache/x")
    assert "embedserve_model_source: prepared" in problems[0] and "storage.path" in problems[0]
    # a folder the user put there, or one model_prep fills, is fine
    assert source_problems([kserve_model("a", "pvc", path_given=True)], {"model_source": "hub"}) == []
    assert source_problems([kserve_model("a", "pvc")], {"model_source": "prepared"}) == []


def test_hf_downloads_are_refused_when_a_hub_mirror_is_configured():
    hf = kserve_model("b", "hf", uri="hf://o/b")
    assert source_problems([hf], {"model_source": "hub", "hf_endpoint": ""}) == []
    problems = source_problems([hf], {"model_source": "hub", "hf_endpoint": "https://mirror.example"})
    assert len(problems) == 1 and "embedserve_hf_endpoint" in problems[0] and problems[0].startswith("b: ")


def test_a_controller_folder_is_refused_unless_prepared():
    local = {"name": "c", "mode": "raw", "model": "/srv/models/c", "facts": {"source": "local"}}
    assert "folder on the controller" in source_problems([local], {"model_source": "hub"})[0]
    assert source_problems([local], {"model_source": "prepared"}) == []
