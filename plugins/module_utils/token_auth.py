# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""The objects the OpenShift AI dashboard makes for a KServe deployment's token authentication.

An InferenceService with ``security.opendatahub.io/enable-auth: "true"`` is only reachable with a bearer token that
may ``get`` it; odh-model-controller enforces the check but makes no token. The dashboard makes one per deployment,
and this module makes the same objects, so the dashboard lists, shows and deletes the tokens of a model this
collection deployed. Read from opendatahub-io/odh-dashboard at b9d09633b0eeab9d043faa2dc133a7d2eeb13e17:

- packages/kserve/src/deployUtils.ts ``setUpTokenAuth`` / ``createSecrets``: a ServiceAccount, a Role, a RoleBinding
  and one Secret per token, each given an ownerReference to the InferenceService (``addOwnerReference``,
  frontend/src/api/k8sUtils.ts: uid, name, apiVersion, kind, blockOwnerDeletion false, no controller);
- packages/model-serving/src/concepts/auth.ts ``getTokenNames``: ``<model>-sa``, ``<model>-view-role``,
  ``<model>-view``; the dashboard finds a model's tokens by the label ``opendatahub.io/dashboard=true`` and the
  annotation ``kubernetes.io/service-account.name``;
- frontend/src/api/k8s/serviceAccounts.ts ``assembleServiceAccount``: no labels;
- frontend/src/api/k8s/roles.ts ``generateRoleInferenceService``: ``get`` on that one InferenceService;
- frontend/src/api/k8s/roleBindings.ts ``generateRoleBindingServiceAccount``: the subject has no namespace (the
  RoleBinding's own applies);
- frontend/src/api/k8s/secrets.ts ``assembleSecretSA``: ``<token-k8s-name>-<model>-sa``, type
  ``kubernetes.io/service-account-token``, the display name in ``openshift.io/display-name``;
- packages/model-serving/src/components/deploymentWizard/fields/TokenAuthenticationField.tsx: the wizard's first
  token is called ``default-name``.

Kubernetes' service-account token controller fills the Secret's ``data.token``; nothing here ever holds a token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_results import result_items

DASHBOARD_LABEL = "opendatahub.io/dashboard"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
DISPLAY_NAME_ANNOTATION = "openshift.io/display-name"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
# The name the dashboard's wizard gives a deployment's first token; already a valid k8s name, so
# translateDisplayNameForK8s leaves it as it is.
DEFAULT_TOKEN_NAME = "default-name"
ISVC_API_VERSION = "serving.kserve.io/v1beta1"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"


class TokenAuthError(ValueError):
    """The token objects cannot be built from what was given."""


def token_names(model, token=DEFAULT_TOKEN_NAME):
    """{service_account, role, role_binding, secret}: the dashboard's names for one deployment's token auth."""
    if not model:
        raise TokenAuthError("a model name is required")
    service_account = "%s-sa" % model
    return {"service_account": service_account, "role": "%s-view-role" % model,
            "role_binding": "%s-view" % model, "secret": "%s-%s" % (token, service_account)}


def token_command(model, namespace):
    """The command that prints a model's token (the Secret's data.token, base64 as every Secret value)."""
    return "oc -n %s get secret %s -o jsonpath='{.data.token}' | base64 -d" % (
        namespace, token_names(model)["secret"])


def _metadata(name, namespace, labels, dashboard, annotations=None):
    merged = dict(labels or {})
    if dashboard:
        merged[DASHBOARD_LABEL] = "true"
    metadata = {"name": name, "namespace": namespace}
    if merged:
        metadata["labels"] = merged
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def owner_reference(isvc):
    """addOwnerReference's entry for an InferenceService read back from the API, or None before it has a uid."""
    metadata = (isvc or {}).get("metadata") or {}
    if not metadata.get("uid") or not metadata.get("name"):
        return None
    return {"apiVersion": isvc.get("apiVersion") or ISVC_API_VERSION, "kind": isvc.get("kind") or "InferenceService",
            "name": metadata["name"], "uid": metadata["uid"], "blockOwnerDeletion": False}


def token_objects(model, namespace, labels=None, owner=None):
    """ServiceAccount, Role, RoleBinding and token Secret for one model, in the order they must be created.

    labels: added to every object (the collection's own; the dashboard's label is set where the dashboard sets
    it). owner: the InferenceService as the API returned it; without a uid no ownerReference is set.
    """
    if not namespace:
        raise TokenAuthError("a namespace is required")
    names = token_names(model)
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": _metadata(names["service_account"], namespace, labels, dashboard=False)},
        {"apiVersion": RBAC_API_VERSION, "kind": "Role",
         "metadata": _metadata(names["role"], namespace, labels, dashboard=True),
         "rules": [{"verbs": ["get"], "apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
                    "resourceNames": [model]}]},
        {"apiVersion": RBAC_API_VERSION, "kind": "RoleBinding",
         "metadata": _metadata(names["role_binding"], namespace, labels, dashboard=True),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names["role"]},
         "subjects": [{"kind": "ServiceAccount", "name": names["service_account"]}]},
        {"apiVersion": "v1", "kind": "Secret", "type": TOKEN_SECRET_TYPE,
         "metadata": _metadata(names["secret"], namespace, labels, dashboard=True, annotations={
             SA_NAME_ANNOTATION: names["service_account"], DISPLAY_NAME_ANNOTATION: DEFAULT_TOKEN_NAME})},
    ]
    reference = owner_reference(owner)
    if reference is not None:
        for obj in objects:
            obj["metadata"]["ownerReferences"] = [dict(reference)]
    return objects


def applied_objects(result):
    """The objects of a registered kubernetes.core.k8s result, single or batched; a list is returned as is."""
    if isinstance(result, list):
        return [obj for obj in result if isinstance(obj, dict)]
    return [item["result"] for item in result_items(result) if isinstance(item.get("result"), dict)]


def models_token_objects(models, namespace, labels=None, owners=None):
    """token_objects() of every named model; owners: InferenceServices (or the k8s result that applied them)."""
    by_name = dict((obj["metadata"].get("name"), obj) for obj in applied_objects(owners)
                   if obj.get("kind") == "InferenceService" and isinstance(obj.get("metadata"), dict))
    objects = []
    for model in models or []:
        model_labels = dict(labels or {}, **{"app.kubernetes.io/instance": model})
        objects += token_objects(model, namespace, model_labels, by_name.get(model))
    return objects
