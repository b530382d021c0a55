"""Token auth of kserve-mode models on OpenShift AI: the objects the dashboard makes, shape for shape.

Expected values are transcribed from opendatahub-io/odh-dashboard at b9d09633b0eeab9d043faa2dc133a7d2eeb13e17:
packages/kserve/src/deployUtils.ts (setUpTokenAuth, createSecrets), packages/model-serving/src/concepts/auth.ts
(getTokenNames), frontend/src/api/k8s/{serviceAccounts,roles,roleBindings,secrets}.ts (assembleServiceAccount,
generateRoleInferenceService, generateRoleBindingServiceAccount, assembleSecretSA) and
frontend/src/api/k8sUtils.ts (addOwnerReference).
"""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.filter.kserve import kserve_token_auth
from ansible_collections.embedserve.vllm.plugins.module_utils import applyset as rules
from ansible_collections.embedserve.vllm.plugins.module_utils import token_auth as ta
from ansible_collections.embedserve.vllm.plugins.module_utils.status import status_rows

ISVC = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "minilm", "namespace": "models", "uid": "0a1b-uid"}}


def by_kind(objects):
    return dict((obj["kind"], obj) for obj in objects)


def test_names_are_get_token_names():
    # auth.ts getTokenNames + secrets.ts assembleSecretSA with the wizard's first token, "default-name"
    assert ta.token_names("minilm") == {"service_account": "minilm-sa", "role": "minilm-view-role",
                                        "role_binding": "minilm-view", "secret": "default-name-minilm-sa"}


def test_objects_are_the_dashboards_in_creation_order():
    objects = ta.token_objects("minilm", "models")
    assert [o["kind"] for o in objects] == ["ServiceAccount", "Role", "RoleBinding", "Secret"]
    sa, role, binding, secret = objects
    # serviceAccounts.ts assembleServiceAccount: name and namespace only
    assert sa == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "minilm-sa", "namespace": "models"}}
    # roles.ts generateRoleInferenceService
    assert role == {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {"name": "minilm-view-role", "namespace": "models",
                                 "labels": {"opendatahub.io/dashboard": "true"}},
                    "rules": [{"verbs": ["get"], "apiGroups": ["serving.kserve.io"],
                               "resources": ["inferenceservices"], "resourceNames": ["minilm"]}]}
    # roleBindings.ts generateRoleBindingServiceAccount: the subject has no namespace
    assert binding == {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": "minilm-view", "namespace": "models",
                                    "labels": {"opendatahub.io/dashboard": "true"}},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                   "name": "minilm-view-role"},
                       "subjects": [{"kind": "ServiceAccount", "name": "minilm-sa"}]}
    # secrets.ts assembleSecretSA: no data, Kubernetes fills the token in
    assert secret == {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                      "metadata": {"name": "default-name-minilm-sa", "namespace": "models",
                                   "labels": {"opendatahub.io/dashboard": "true"},
                                   "annotations": {"kubernetes.io/service-account.name": "minilm-sa",
                                                   "openshift.io/display-name": "default-name"}}}


def test_owner_reference_is_add_owner_reference_and_needs_a_uid():
    owned = ta.token_objects("minilm", "models", owner=ISVC)
    # k8sUtils.ts addOwnerReference: blockOwnerDeletion false, no controller (so ApplySet pruning still applies)
    expected = [{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": "minilm",
                 "uid": "0a1b-uid", "blockOwnerDeletion": False}]
    assert all(o["metadata"]["ownerReferences"] == expected for o in owned)
    assert not any(rules.controlled(o) for o in owned)
    unsaved = dict(ISVC, metadata={"name": "minilm"})
    assert all("ownerReferences" not in o["metadata"] for o in ta.token_objects("minilm", "models", owner=unsaved))


def test_owners_come_from_a_single_or_batched_k8s_result():
    runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
               "metadata": {"name": "minilm", "uid": "runtime-uid"}}
    batched = {"changed": True, "result": {"results": [{"result": runtime}, {"result": ISVC}]}}
    single = {"changed": True, "result": ISVC}
    for owners in (batched, single, [runtime, ISVC]):
        objects = ta.models_token_objects(["minilm"], "models", owners=owners)
        assert {o["metadata"]["ownerReferences"][0]["uid"] for o in objects} == {"0a1b-uid"}
    # a model whose InferenceService is not in the result gets no reference
    assert "ownerReferences" not in ta.models_token_objects(["other"], "models", owners=batched)[0]["metadata"]


def test_labels_are_added_without_losing_the_dashboards():
    objects = by_kind(ta.models_token_objects(["minilm"], "models", labels={"app.kubernetes.io/managed-by": "e"}))
    assert objects["ServiceAccount"]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "e",
                                                               "app.kubernetes.io/instance": "minilm"}
    for kind in ("Role", "RoleBinding", "Secret"):
        assert objects[kind]["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
        assert objects[kind]["metadata"]["labels"]["app.kubernetes.io/instance"] == "minilm"


def test_the_token_secret_is_pruned_with_its_model_unlike_a_data_connection():
    secret = by_kind(ta.token_objects("minilm", "models"))["Secret"]
    connection = {"kind": "Secret", "metadata": {"name": "minio", "labels": {"opendatahub.io/dashboard": "true"}}}
    assert not rules.is_protected(secret)
    assert rules.is_protected(connection)


def test_token_command_reads_the_dashboards_secret():
    assert ta.token_command("minilm", "models") == (
        "oc -n models get secret default-name-minilm-sa -o jsonpath='{.data.token}' | base64 -d")


def test_status_rows_say_how_to_get_the_token():
    isvcs = [{"metadata": {"name": name, "labels": {}, "annotations": {
        "security.opendatahub.io/enable-auth": auth}}} for name, auth in (("minilm", "true"), ("msmarco", "false"))]
    rows = dict((row["name"], row) for row in status_rows([], isvcs, [], [], "models"))
    assert rows["minilm"]["token"] == ta.token_command("minilm", "models")
    assert rows["msmarco"]["token"] == ""


def test_filter_checks_its_input():
    assert len(kserve_token_auth(["a", "b"], "models")) == 8
    with pytest.raises(AnsibleFilterError, match="list of model names"):
        kserve_token_auth("minilm", "models")
    with pytest.raises(AnsibleFilterError, match="namespace"):
        kserve_token_auth(["minilm"], "")
