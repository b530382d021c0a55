#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: applyset
short_description: Own, prune and remove what a catalogue deployed (Kubernetes ApplySet)
version_added: 1.1.0
description:
  - Keeps one ApplySet (KEP-3659) per catalogue and namespace. The parent is a ConfigMap
    C(<catalogue>-applyset) with the C(applyset.kubernetes.io/id), C(tooling) and C(contains-group-kinds)
    metadata that C(kubectl) reads; members carry the label C(applyset.kubernetes.io/part-of).
  - I(state=preflight) checks, before anything is written, that the cluster serves every API the run will
    write and that the namespaces it writes into (other than the catalogue's own) exist. It only reads.
  - I(state=preflight) only reads - it fails when an API in I(apis) or a namespace in I(namespaces) is missing,
    and, given I(group_kinds), reports in RV(parent_current) whether the parent already covers them (a re-run
    then skips I(state=present)).
  - I(state=present) creates or updates the parent so its group kinds cover what the run is about to apply.
  - I(state=pruned) deletes members that are no longer desired (mode switches, removed or renamed models),
    releases this catalogue's references on shared objects it no longer uses and deletes a shared object
    when no catalogue references it any more. Run it after the desired objects are applied and rolled out.
  - I(state=removed) deletes the objects given in I(objects), each only when it belongs to this catalogue
    (this ApplySet's label, or for objects written before 1.1.0 the C(app.kubernetes.io/managed-by=embedserve)
    label); objects in another namespace are shared ones whose reference is released. Another owner's object
    of the same name is left alone and reported in RV(skipped).
  - I(state=absent) removes every member and reference without reading the catalogue (no Hugging Face
    access needed).
  - The model cache claim and data-connection Secrets are never pruned or removed unless
    I(prune_protected=true). Objects without this ApplySet's label are never touched.
  - Check mode lists what would be pruned; with C(--diff) every pruned object is shown.
author:
  - embedserve.vllm contributors (@embedserve)
options:
  state:
    description: What to do.
    type: str
    choices: [preflight, present, pruned, removed, absent]
    required: true
  namespace:
    description: The catalogue's namespace (the parent's namespace).
    type: str
    required: true
  catalogue:
    description: The catalogue's name; the parent is C(<catalogue>-applyset).
    type: str
    default: embedserve
  desired:
    description: The objects the catalogue wants (apiVersion, kind, name, namespace), for I(state=pruned).
    type: list
    elements: dict
    default: []
  group_kinds:
    description: The group kinds (C(Kind.group)) this run applies; members of other kinds are listed too.
    type: list
    elements: str
    default: []
  objects:
    description: For I(state=removed) the objects (apiVersion, kind, name, namespace) to delete if they are ours.
    type: list
    elements: dict
    default: []
  shared:
    description:
      - Kinds of shared objects this catalogue may reference, with the names it still uses.
      - Each item has C(api_version), C(kind), C(namespace) and C(names).
    type: list
    elements: dict
    default: []
  apis:
    description:
      - For I(state=preflight) the APIs the run writes, each with C(api_version), C(kind) and C(needed_by)
        (the setting or models that need it).
    type: list
    elements: dict
    default: []
  namespaces:
    description: For I(state=preflight) namespaces that must exist, each with C(name) and C(needed_by).
    type: list
    elements: dict
    default: []
  prune_protected:
    description: Also delete the model cache claim and data-connection Secrets.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Prune what the catalogue no longer wants
  embedserve.vllm.applyset:
    state: pruned
    namespace: vllm-embeddings
    desired: "{{ objects | map('embedserve.vllm.object_ref') | list }}"
    group_kinds: [Deployment.apps, Service]

- name: Remove everything the catalogue owns (keeps the model cache)
  embedserve.vllm.applyset:
    state: absent
    namespace: vllm-embeddings
"""

RETURN = r"""
applyset:
  description: The ApplySet (id, parent, namespace).
  returned: always
  type: dict
pruned:
  description: The objects deleted (or, in check mode, that would be), as kind, name and namespace.
  returned: always
  type: list
  elements: dict
kept:
  description: Members no longer desired but protected (model cache, data connections).
  returned: always
  type: list
  elements: dict
skipped:
  description: For I(state=removed), objects of the given names that belong to someone else and were kept.
  returned: always
  type: list
  elements: dict
released:
  description: Shared objects whose reference from this catalogue was removed (the object stays).
  returned: always
  type: list
  elements: dict
parent_current:
  description: For I(state=preflight) with I(group_kinds), whether the parent exists, is labelled and lists them all.
  returned: when state is preflight
  type: bool
  version_added: 1.1.0
"""

import copy

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.embedserve.vllm.plugins.module_utils import applyset as rules

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    HAS_CORE = True
except ImportError:  # pragma: no cover - kubernetes.core is a declared dependency
    HAS_CORE = False
    AUTH_ARG_SPEC = {}

try:
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

    class DynamicApiError(Exception):
        """Stand-in so the except clauses below stay valid without the kubernetes library."""

    class NotFoundError(DynamicApiError):
        pass

    class ResourceNotFoundError(Exception):
        pass

try:
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:  # pragma: no cover
    Urllib3Error = OSError

PART_OF = rules.PART_OF_LABEL
CONNECTION_HINT = ("could not reach the Kubernetes API: check embedserve_kubeconfig / K8S_AUTH_KUBECONFIG "
                   "(or embedserve_k8s_host / K8S_AUTH_HOST and the token) and that the cluster is up")


class Fail(Exception):
    pass


class ApplySet(object):
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.info = rules.describe(self.params["namespace"], self.params["catalogue"])
        self.check = module.check_mode
        self._resources = {}
        self._namespaces = {}

    # -- discovery ---------------------------------------------------------------------------------
    def resource_for(self, group_kind):
        """The served resource of `Kind.group`, or None when the cluster has no such API."""
        if group_kind not in self._resources:
            kind, _dot, group = group_kind.partition(".")
            found = [r for r in self.client.resources.search(kind=kind, group=group)
                     if "/" not in r.name and getattr(r, "group", "") == group]
            preferred = [r for r in found if getattr(r, "preferred", False)]
            self._resources[group_kind] = (preferred or found or [None])[0]
        return self._resources[group_kind]

    def resource(self, api_version, kind):
        try:
            return self.client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return None

    # -- parent --------------------------------------------------------------------------------------
    def parent_resource(self):
        return self.resource("v1", "ConfigMap")

    def read_parent(self):
        try:
            return self.parent_resource().get(name=self.info["parent"], namespace=self.info["namespace"]).to_dict()
        except NotFoundError:
            return None

    def parent_group_kinds(self, parent):
        annotations = ((parent or {}).get("metadata") or {}).get("annotations") or {}
        return rules.parse_group_kinds(annotations.get(rules.GROUP_KINDS_ANNOTATION))

    def write_parent(self, group_kinds):
        body = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": self.info["parent"], "namespace": self.info["namespace"],
                "labels": {rules.ID_LABEL: self.info["id"], rules.MANAGED_BY[0]: rules.MANAGED_BY[1]},
                "annotations": {rules.TOOLING_ANNOTATION: rules.TOOLING,
                                rules.GROUP_KINDS_ANNOTATION: rules.format_group_kinds(group_kinds)},
            },
        }
        if not self.check:
            self.parent_resource().server_side_apply(body=body, name=self.info["parent"],
                                                     namespace=self.info["namespace"],
                                                     field_manager="embedserve-applyset", force_conflicts=True)
        return body

    # -- members ---------------------------------------------------------------------------------------
    def members(self, group_kinds):
        found = []
        for group_kind in sorted(set(group_kinds)):
            resource = self.resource_for(group_kind)
            if resource is None:
                continue
            listing = resource.get(namespace=self.info["namespace"],
                                   label_selector="%s=%s" % (rules.PART_OF_LABEL, self.info["id"])).to_dict()
            for item in listing.get("items") or []:
                item.setdefault("apiVersion", resource.group_version)
                item.setdefault("kind", resource.kind)
                found.append(item)
        return found

    def delete(self, obj):
        ref = rules.object_ref(obj)
        if self.check:
            return
        resource = self.resource(ref["apiVersion"], ref["kind"])
        try:
            resource.delete(name=ref["name"], namespace=ref["namespace"],
                            body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})
        except NotFoundError:
            pass

    # -- shared objects --------------------------------------------------------------------------------
    def release_shared(self, keep_by_kind):
        """Drop this catalogue's reference where it is no longer used; delete unreferenced objects."""
        released, deleted = [], []
        for spec in self.params["shared"]:
            resource = self.resource(spec["api_version"], spec["kind"])
            if resource is None:
                continue
            try:
                listing = resource.get(namespace=spec["namespace"]).to_dict()
            except NotFoundError:
                continue
            keep = set(keep_by_kind.get((spec["kind"], spec["namespace"]), []))
            for item in listing.get("items") or []:
                item.setdefault("apiVersion", resource.group_version)
                item.setdefault("kind", resource.kind)
                refs = rules.references(item)
                name = item["metadata"]["name"]
                if self.info["ref_annotation"] not in refs or name in keep:
                    continue
                # a reference from a namespace that no longer exists is stale: it holds nothing
                others = [k for k, v in refs.items() if k != self.info["ref_annotation"]
                          and self.namespace_exists(v.partition("/")[0])]
                labels = item["metadata"].get("labels") or {}
                if others or labels.get(rules.MANAGED_BY[0]) != rules.MANAGED_BY[1]:
                    released.append(item)
                    if not self.check:
                        path = "/metadata/annotations/" + self.info["ref_annotation"].replace("~", "~0").replace(
                            "/", "~1")
                        resource.patch(name=name, namespace=spec["namespace"], body=[{"op": "remove", "path": path}],
                                       content_type="application/json-patch+json")
                else:
                    deleted.append(item)
                    self.delete(item)
        return released, deleted

    def namespace_exists(self, name):
        if name not in self._namespaces:
            try:
                self.resource("v1", "Namespace").get(name=name)
                self._namespaces[name] = True
            except NotFoundError:
                self._namespaces[name] = False
        return self._namespaces[name]

    # -- states ------------------------------------------------------------------------------------------
    def preflight(self):
        missing = []
        for api in self.params["apis"]:
            if self.resource(api["api_version"], api["kind"]) is None:
                missing.append("the cluster does not serve %s %s, needed by %s" % (
                    api["api_version"], api["kind"], api.get("needed_by") or "this run"))
        namespace = self.resource("v1", "Namespace")
        for item in self.params["namespaces"]:
            try:
                namespace.get(name=item["name"])
            except NotFoundError:
                missing.append("namespace %s does not exist, needed by %s" % (item["name"], item.get("needed_by")))
        if missing:
            raise Fail("the cluster cannot take this run, nothing was changed:\n- " + "\n- ".join(missing))
        return {"changed": False, "parent_current": self.parent_current()}

    def parent_current(self):
        """Whether the parent exists, is ours and lists every group kind of this run (present() would not write)."""
        if not self.params["group_kinds"]:
            return False
        parent = self.read_parent()
        before = self.parent_group_kinds(parent)
        return (parent is not None and sorted(set(before) | set(self.params["group_kinds"])) == before
                and self._parent_labelled(parent))

    def present(self):
        if self.parent_current():
            return {"changed": False}
        parent = self.read_parent()
        before = self.parent_group_kinds(parent)
        wanted = sorted(set(before) | set(self.params["group_kinds"]))
        self.write_parent(wanted)
        return {"changed": True, "diff": {"before_header": "ConfigMap/%s" % self.info["parent"],
                                          "after_header": "ConfigMap/%s" % self.info["parent"],
                                          "before": {"contains-group-kinds": before},
                                          "after": {"contains-group-kinds": wanted}}}

    def _parent_labelled(self, parent):
        metadata = parent.get("metadata") or {}
        return ((metadata.get("labels") or {}).get(rules.ID_LABEL) == self.info["id"]
                and (metadata.get("annotations") or {}).get(rules.TOOLING_ANNOTATION) == rules.TOOLING)

    def pruned(self, desired, final=False):
        parent = self.read_parent()
        kinds = set(self.parent_group_kinds(parent)) | set(self.params["group_kinds"])
        kinds |= set(rules.group_kind(r["apiVersion"], r["kind"]) for r in desired)
        if final:
            kinds |= set(rules.KNOWN_GROUP_KINDS)
        members = self.members(kinds)
        doomed, kept = rules.prune_candidates(members, desired, self.params["prune_protected"])
        for obj in rules.deletion_order(doomed):
            self.delete(obj)
        keep_shared = {}
        for ref in desired:
            keep_shared.setdefault((ref["kind"], ref.get("namespace")), []).append(ref["name"])
        released, deleted_shared = self.release_shared(keep_shared)
        # what a controller made from a member (KServe's predictor Deployment and Service carry the
        # InferenceService's part-of label) goes with its owner and is never ours to record
        remaining = [o for o in members if o not in doomed and not rules.controlled(o)]
        remaining_kinds = set(rules.group_kind(o["apiVersion"], o["kind"]) for o in remaining)
        if not final:
            remaining_kinds |= set(self.params["group_kinds"])
        changed = bool(doomed or released or deleted_shared)
        if parent is not None:
            if remaining_kinds != set(self.parent_group_kinds(parent)):
                if final and not remaining_kinds:
                    if not self.check:
                        self.delete(dict(parent, apiVersion="v1", kind="ConfigMap"))
                else:
                    self.write_parent(remaining_kinds)
                changed = True
        return self._report(changed, doomed + deleted_shared, kept, released)

    def owned(self, obj):
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if PART_OF in labels:
            return labels[PART_OF] == self.info["id"]
        return labels.get(rules.MANAGED_BY[0]) == rules.MANAGED_BY[1]

    def removed(self):
        doomed, skipped, released, shared = [], [], [], {}
        for ref in self.params["objects"]:
            namespace = ref.get("namespace") or self.info["namespace"]
            if namespace != self.info["namespace"]:
                shared.setdefault((ref["apiVersion"], ref["kind"], namespace), []).append(ref["name"])
                continue
            resource = self.resource(ref["apiVersion"], ref["kind"])
            if resource is None:
                continue
            try:
                obj = resource.get(name=ref["name"], namespace=namespace).to_dict()
            except NotFoundError:
                continue
            obj.setdefault("apiVersion", ref["apiVersion"])
            obj.setdefault("kind", ref["kind"])
            if self.owned(obj) and not rules.is_protected(obj, self.params["prune_protected"]):
                doomed.append(obj)
            else:
                skipped.append(obj)
        for obj in rules.deletion_order(doomed):
            self.delete(obj)
        deleted_shared = []
        if shared:
            self.params["shared"] = [{"api_version": k[0], "kind": k[1], "namespace": k[2]} for k in shared]
            wanted = dict(((k[1], k[2]), []) for k in shared)
            # release only the named ones: keep every other shared object this catalogue references
            for spec in self.params["shared"]:
                resource = self.resource(spec["api_version"], spec["kind"])
                if resource is None:
                    continue
                listing = resource.get(namespace=spec["namespace"]).to_dict()
                names = shared[(spec["api_version"], spec["kind"], spec["namespace"])]
                wanted[(spec["kind"], spec["namespace"])] = [i["metadata"]["name"] for i in listing.get("items") or []
                                                             if i["metadata"]["name"] not in names]
            released, deleted_shared = self.release_shared(wanted)
        result = self._report(bool(doomed or released or deleted_shared), doomed + deleted_shared, [], released)
        result["skipped"] = [{"kind": o["kind"], "name": o["metadata"]["name"], "namespace": o["metadata"].get(
            "namespace")} for o in skipped]
        return result

    def _report(self, changed, doomed, kept, released):
        def short(obj):
            ref = rules.object_ref(obj)
            return {"kind": ref["kind"], "name": ref["name"], "namespace": ref["namespace"]}
        diff = [{"before_header": "%s/%s (%s)" % (o["kind"], o["metadata"]["name"], "pruned"),
                 "after_header": "%s/%s (%s)" % (o["kind"], o["metadata"]["name"], "absent"),
                 "before": rules.summary_of(o), "after": {}} for o in doomed]
        diff += [{"before_header": "%s/%s reference" % (o["kind"], o["metadata"]["name"]),
                  "after_header": "%s/%s reference released" % (o["kind"], o["metadata"]["name"]),
                  "before": {self.info["ref_annotation"]: self.info["ref_value"]}, "after": {}} for o in released]
        result = {"changed": changed, "pruned": [short(o) for o in doomed], "kept": [short(o) for o in kept],
                  "released": [short(o) for o in released]}
        if self.module._diff and diff:
            result["diff"] = diff
        return result


def main():
    argument_spec = copy.deepcopy(AUTH_ARG_SPEC)
    argument_spec.update({
        "state": {"type": "str", "required": True, "choices": ["preflight", "present", "pruned", "removed", "absent"]},
        "namespace": {"type": "str", "required": True},
        "catalogue": {"type": "str", "default": "embedserve"},
        "desired": {"type": "list", "elements": "dict", "default": []},
        "group_kinds": {"type": "list", "elements": "str", "default": []},
        "objects": {"type": "list", "elements": "dict", "default": []},
        "shared": {"type": "list", "elements": "dict", "default": []},
        "apis": {"type": "list", "elements": "dict", "default": []},
        "namespaces": {"type": "list", "elements": "dict", "default": []},
        "prune_protected": {"type": "bool", "default": False},
    })
    if not HAS_CORE:
        from ansible.module_utils.basic import AnsibleModule
        AnsibleModule(argument_spec={}, supports_check_mode=True).fail_json(msg=missing_required_lib("kubernetes.core"))
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        for index, ref in enumerate(params["desired"] + params["objects"]):
            for key in ("apiVersion", "kind", "name"):
                if not isinstance(ref.get(key), str) or not ref.get(key):
                    raise Fail("desired[%d]: %s is required" % (index, key))
        client = get_api_client(module=module)
        applyset = ApplySet(module, client)
        state = params["state"]
        if state == "preflight":
            result = applyset.preflight()
        elif state == "present":
            result = applyset.present()
        elif state == "pruned":
            result = applyset.pruned(params["desired"])
        elif state == "removed":
            result = applyset.removed()
        else:
            result = applyset.pruned([], final=True)
        result["applyset"] = applyset.info
        module.exit_json(**result)
    except Fail as exc:
        module.fail_json(msg=str(exc))
    except DynamicApiError as exc:
        module.fail_json(msg="the Kubernetes API refused a request of the ApplySet step: %s %s" % (
            getattr(exc, "status", ""), getattr(exc, "summary", lambda: str(exc))()))
    except Exception as exc:  # pylint: disable=broad-except
        # connection failures (urllib3, OSError) and kubernetes.core's CoreException for a bad kubeconfig
        # name the setting to check; anything else is one bounded message, never a traceback
        if isinstance(exc, (Urllib3Error, OSError)):
            module.fail_json(msg="%s (%s)" % (CONNECTION_HINT, exc.__class__.__name__))
        module.fail_json(msg="%s: %s" % (CONNECTION_HINT if "config" in str(exc).lower() else
                                         "the ApplySet step failed", str(exc)[:2000]))


if __name__ == "__main__":
    main()
