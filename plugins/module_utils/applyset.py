# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Ownership of what a catalogue deployed, in the Kubernetes ApplySet convention.

Every object a catalogue creates in its namespace is a member of one ApplySet
(KEP-3659, the labels and annotations `kubectl apply --prune --applyset` reads
and writes), so kubectl users see the same membership the collection uses:

- the parent is a ConfigMap ``<catalogue>-applyset`` in the namespace with the
  label ``applyset.kubernetes.io/id`` and the annotations
  ``applyset.kubernetes.io/tooling`` and ``applyset.kubernetes.io/contains-group-kinds``;
- each member carries the label ``applyset.kubernetes.io/part-of: <id>``.

The id is the one kubectl computes (k8s.io/kubectl/pkg/cmd/apply/applyset.go,
``ComputeApplySetID``): ``applyset-`` + unpadded base64url of the SHA-256 of
``<name>.<namespace>.<kind>.<group>`` + ``-v1``.

Objects shared between catalogues (the dashboard's Templates, in another
namespace) are not members: each catalogue that uses one writes a reference
annotation ``refs.embedserve.io/<id>`` on it, and the object is deleted only
when the last reference goes.

This file holds the pure rules; plugins/modules/applyset.py talks to the API.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib

ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
TOOLING = "embedserve.vllm/v1"
PARENT_SUFFIX = "-applyset"
REF_PREFIX = "refs.embedserve.io/"
MANAGED_BY = ("app.kubernetes.io/managed-by", "embedserve")

# KServe's per-namespace storage-config Secret is shared with other tools
# (odh-model-controller, the user): never a member; the kserve_runtime role
# releases its own entries by field manager instead.
NOT_MEMBERS = (("Secret", "storage-config"),)

# Every namespaced kind the collection writes: undeploy also looks for these
# when the parent's contains-group-kinds was lost.
KNOWN_GROUP_KINDS = ("ConfigMap", "PersistentVolumeClaim", "Secret", "Service", "ServiceAccount", "Deployment.apps",
                     "Job.batch", "NetworkPolicy.networking.k8s.io", "PodDisruptionBudget.policy",
                     "Route.route.openshift.io", "InferenceService.serving.kserve.io",
                     "ServingRuntime.serving.kserve.io", "Role.rbac.authorization.k8s.io",
                     "RoleBinding.rbac.authorization.k8s.io")

# Members never pruned or removed unless asked: the model cache (hours of
# downloads) and data connections (credentials the user typed once).
PROTECTED = ("PersistentVolumeClaim", "Secret:data-connection")


def applyset_id(name, namespace, kind="ConfigMap", group=""):
    """The ApplySet id kubectl computes for a parent object (ComputeApplySetID)."""
    digest = hashlib.sha256(("%s.%s.%s.%s" % (name, namespace, kind, group)).encode("utf-8")).digest()
    return "applyset-%s-v1" % base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def parent_name(catalogue):
    return "%s%s" % (catalogue, PARENT_SUFFIX)


def describe(namespace, catalogue):
    """Everything a role needs to mark its objects and the tasks need to prune them."""
    parent = parent_name(catalogue)
    set_id = applyset_id(parent, namespace)
    return {
        "id": set_id,
        "namespace": namespace,
        "catalogue": catalogue,
        "parent": parent,
        "ref_annotation": REF_PREFIX + set_id,
        "ref_value": "%s/%s" % (namespace, catalogue),
        # Shared objects are applied with this manager so one catalogue's apply
        # never drops another catalogue's reference annotation.
        "field_manager": "embedserve-%s" % set_id[len("applyset-"):-len("-v1")][:40],
    }


def group_of(api_version):
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def group_kind(api_version, kind):
    """`Kind.group` as contains-group-kinds spells it (`Service` for the core group)."""
    group = group_of(api_version)
    return "%s.%s" % (kind, group) if group else kind


def parse_group_kinds(text):
    return sorted(set(part.strip() for part in (text or "").split(",") if part.strip()))


def format_group_kinds(group_kinds):
    return ",".join(sorted(set(group_kinds)))


def mark_members(objects, applyset):
    """objects with the part-of label added (cluster-scoped objects are not members)."""
    marked = []
    for obj in objects or []:
        if not isinstance(obj, dict) or not applyset or not applyset.get("id"):
            marked.append(obj)
            continue
        metadata = obj.get("metadata") or {}
        if (obj.get("kind") == "Namespace" or (obj.get("kind"), metadata.get("name")) in NOT_MEMBERS
                or metadata.get("namespace") not in (None, applyset["namespace"])):
            marked.append(obj)
            continue
        labels = dict(metadata.get("labels") or {})
        labels[PART_OF_LABEL] = applyset["id"]
        marked.append(dict(obj, metadata=dict(metadata, labels=labels)))
    return marked


def mark_shared(objects, applyset):
    """Shared objects with this catalogue's reference annotation added."""
    marked = []
    for obj in objects or []:
        metadata = obj.get("metadata") or {}
        annotations = dict(metadata.get("annotations") or {})
        annotations[applyset["ref_annotation"]] = applyset["ref_value"]
        marked.append(dict(obj, metadata=dict(metadata, annotations=annotations)))
    return marked


def object_ref(obj):
    metadata = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": metadata.get("name"),
            "namespace": metadata.get("namespace")}


def ref_key(ref):
    return (group_kind(ref["apiVersion"], ref["kind"]), ref.get("namespace") or "", ref["name"])


def is_protected(obj, prune_protected=False):
    """The model cache and data connections survive pruning and undeploy unless asked."""
    if prune_protected:
        return False
    kind = obj.get("kind")
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if kind == "PersistentVolumeClaim":
        return True
    # The dashboard labels a model's token Secret (kserve token auth) like a data connection; a token is no
    # credential the user typed, Kubernetes makes it again, and it must go with its model.
    if obj.get("type") == "kubernetes.io/service-account-token":
        return False
    return kind == "Secret" and labels.get("opendatahub.io/dashboard") == "true"


def controlled(obj):
    """True for an object a controller made from another (KServe's predictor Deployment from an
    InferenceService): KServe copies the InferenceService's labels, part-of included, onto what it
    creates, but such an object is its controller's to delete, and goes with its owner."""
    return any(ref.get("controller") for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def prune_candidates(members, desired_refs, prune_protected=False):
    """(to delete, kept protected): members that are not desired."""
    wanted = set(ref_key(ref) for ref in desired_refs)
    doomed, kept = [], []
    for obj in members:
        if ref_key(object_ref(obj)) in wanted or controlled(obj):
            continue
        (kept if is_protected(obj, prune_protected) else doomed).append(obj)
    return doomed, kept


def references(obj):
    """The catalogues that reference a shared object: {annotation: namespace/catalogue}."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return dict((k, v) for k, v in annotations.items() if k.startswith(REF_PREFIX))


def deletion_order(objects):
    """Consumers before what they consume: Routes and ISVCs before runtimes and Secrets."""
    rank = {"Route": 0, "InferenceService": 1, "PodDisruptionBudget": 2, "NetworkPolicy": 2, "Deployment": 3,
            "Job": 3, "Service": 4, "ServingRuntime": 5, "RoleBinding": 5, "Role": 6, "Secret": 6, "ServiceAccount": 7,
            "PersistentVolumeClaim": 8}
    return sorted(objects, key=lambda o: (rank.get(o.get("kind"), 5), o.get("kind"),
                                          (o.get("metadata") or {}).get("name")))


def summary_of(obj):
    """What --diff shows of a pruned object: identity and ownership, never data."""
    metadata = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace"),
                         "labels": metadata.get("labels") or {}}}
