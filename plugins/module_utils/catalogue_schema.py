# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""The schema of a catalogue entry and of the collection settings, nested all the way down.

Every value the roles put into a Kubernetes object is checked here against the
rule the API server applies (names, label keys and values, quantities, DNS
hosts, environment variable names, int32/int64 ranges), before the first API
call, so a bad catalogue changes nothing. The checker nodes live in
schema_nodes, the Kubernetes value rules in k8s_names; this module is the
table that puts them together, and the rules that span several fields.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils import modes, vllm_cli
from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_names import (
    LABEL_VALUE_MAX,
    dns1123_label_problem,
    dns1123_subdomain_problem,
    env_name_problem,
    image_problem,
    label_key_problem,
    label_value_problem,
    no_whitespace_problem,
    qualified_name_problem,
    resource_name_problem,
    route_host_problem,
    route_path_problem,
    route_timeout_problem,
    storage_path_problem,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import (
    INT32_MAX,
    INT64_MAX,
    INVALID,
    LIST_MAX,
    Boolean,
    Choice,
    Integer,
    JsonValue,
    ListOf,
    MapOf,
    Mapping,
    Node,
    Quantity,
    Report,
    String,
    _integer,
    _kind,
    quantity_value,
    shown,
    unknown_key_message,
)


class ExtraArgs(Node):
    """vLLM arguments checked the way vLLM's parser reads them (vllm_cli.extra_args_problems)."""

    what = "a list of strings"

    def check(self, value, path, report):
        if isinstance(value, (list, tuple)) and len(value) > LIST_MAX:
            report.add(path, "has %d items; at most %d are allowed" % (len(value), LIST_MAX))
            return INVALID
        problems = vllm_cli.extra_args_problems(value, field=path)
        for problem in problems:
            report.add("", problem)
        return INVALID if problems else [str(arg) for arg in value]


class _JsonObject(JsonValue):
    what = "a mapping"

    def check(self, value, path, report):
        if not isinstance(value, dict):
            report.add(path, "%s is a %s, not a mapping such as {max_position_embeddings: 512}"
                       % (shown(value), _kind(value)))
            return INVALID
        return JsonValue.check(self, value, path, report)


class _Fraction(Node):
    what = "a number in [0, 1)"

    def check(self, value, path, report):
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not 0 <= number < 1:
            report.add(path, "%s must be a number in [0, 1)" % shown(value))
            return INVALID
        return number


OVERCOMMITTABLE = ("cpu", "memory", "ephemeral-storage")


def _resources_rule(resources):
    """A request may not exceed its limit; extended resources and hugepages need a limit equal to the request."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for kind, values in (("requests", requests), ("limits", limits)):
        for name in sorted(values):
            if "/" in name and quantity_value(values[name]) != quantity_value(values[name]).to_integral_value():
                return ("%s.%s (%s) must be a whole number: extended resources such as GPUs are counted, not "
                        "divided" % (kind, name, values[name]))
    for name in sorted(requests):
        if name not in OVERCOMMITTABLE and (name not in limits
                                            or quantity_value(requests[name]) != quantity_value(limits[name])):
            return ("requests.%s (%s) needs limits.%s with the same value: Kubernetes does not overcommit %s "
                    "(or set only limits.%s)" % (name, requests[name], name, name, name))
        if name in limits and quantity_value(requests[name]) > quantity_value(limits[name]):
            return ("requests.%s (%s) is above limits.%s (%s): a request must not exceed its limit"
                    % (name, requests[name], name, limits[name]))
    return None


def normalised_problems(entry, where):
    """Problems of a resolved entry whose own values were merged with what the collection derived.

    resources: the entry's requests and limits override the sizing of the
    model key by key, so a request of the entry can exceed a limit that the
    collection sized (or the other way round).
    """
    problems = []
    resources = entry.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for name in sorted(set(requests) & set(limits)):
        if quantity_value(requests[name]) > quantity_value(limits[name]):
            problems.append("%s: resources.requests.%s (%s) is above the limit %s of this model (%s): set "
                            "resources.limits.%s too, at least as large"
                            % (where, name, requests[name], name, limits[name], name))
    return problems


def _toleration_rule(toleration):
    operator = toleration.get("operator", "Equal")
    if not toleration.get("key") and operator != "Exists":
        return "a toleration without a key must use operator Exists"
    if operator == "Exists" and toleration.get("value"):
        return "operator Exists takes no value: remove value or use operator Equal"
    if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
        return "tolerationSeconds only applies to effect NoExecute"
    return None


def _requirement_rule(requirement):
    operator, values = requirement.get("operator"), requirement.get("values") or []
    if operator in ("In", "NotIn") and not values:
        return "operator %s needs at least one value" % operator
    if operator in ("Exists", "DoesNotExist") and values:
        return "operator %s takes no values" % operator
    if operator in ("Gt", "Lt") and (len(values) != 1 or _integer(values[0]) is None):
        return "operator %s needs exactly one integer value" % operator
    return None


LABEL_KEY = String(max_length=317, problem=qualified_name_problem, empty=False)
LABEL_VALUE = String(max_length=LABEL_VALUE_MAX, problem=label_value_problem)
LABEL_MAP = MapOf(qualified_name_problem, LABEL_VALUE, key_what="label key")
LABEL_SELECTOR = Mapping({
    "matchLabels": LABEL_MAP,
    "matchExpressions": ListOf(Mapping({
        "key": LABEL_KEY,
        "operator": Choice(("In", "NotIn", "Exists", "DoesNotExist")),
        "values": ListOf(LABEL_VALUE),
    }, required=("key", "operator"), rules=(_requirement_rule,))),
})
NODE_SELECTOR_TERM = Mapping({
    key: ListOf(Mapping({
        "key": LABEL_KEY,
        "operator": Choice(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")),
        "values": ListOf(LABEL_VALUE),
    }, required=("key", "operator"), rules=(_requirement_rule,)))
    for key in ("matchExpressions", "matchFields")
})
WEIGHT = Integer(1, 100)
POD_AFFINITY_TERM = Mapping({
    "labelSelector": LABEL_SELECTOR,
    "namespaceSelector": LABEL_SELECTOR,
    "namespaces": ListOf(String(problem=dns1123_label_problem, empty=False)),
    "topologyKey": LABEL_KEY,
    "matchLabelKeys": ListOf(LABEL_KEY),
    "mismatchLabelKeys": ListOf(LABEL_KEY),
}, required=("topologyKey",))
POD_AFFINITY = Mapping({
    "requiredDuringSchedulingIgnoredDuringExecution": ListOf(POD_AFFINITY_TERM),
    "preferredDuringSchedulingIgnoredDuringExecution": ListOf(Mapping(
        {"weight": WEIGHT, "podAffinityTerm": POD_AFFINITY_TERM}, required=("weight", "podAffinityTerm"))),
})
AFFINITY = Mapping({
    "nodeAffinity": Mapping({
        "requiredDuringSchedulingIgnoredDuringExecution": Mapping(
            {"nodeSelectorTerms": ListOf(NODE_SELECTOR_TERM, min_items=1)}, required=("nodeSelectorTerms",)),
        "preferredDuringSchedulingIgnoredDuringExecution": ListOf(Mapping(
            {"weight": WEIGHT, "preference": NODE_SELECTOR_TERM}, required=("weight", "preference"))),
    }),
    "podAffinity": POD_AFFINITY,
    "podAntiAffinity": POD_AFFINITY,
})
TOLERATION = Mapping({
    "key": LABEL_KEY,
    "operator": Choice(("Exists", "Equal")),
    "value": LABEL_VALUE,
    "effect": Choice(("NoSchedule", "PreferNoSchedule", "NoExecute")),
    "tolerationSeconds": Integer(-INT64_MAX - 1, INT64_MAX),
}, rules=(_toleration_rule,))
TOLERATIONS = ListOf(TOLERATION)
RESOURCE_LIST = MapOf(resource_name_problem, Quantity(), key_what="resource name")
RESOURCES = Mapping({"requests": RESOURCE_LIST, "limits": RESOURCE_LIST}, rules=(_resources_rule,))
ENV = MapOf(env_name_problem, String(max_length=32768), key_what="environment variable name")
OBJECT_NAME = String(max_length=253, problem=dns1123_subdomain_problem, empty=False)

ROUTE = Mapping({
    "enabled": Boolean(),
    "host": String(max_length=253, problem=route_host_problem),
    "path": String(max_length=1024, problem=route_path_problem),
    "timeout": String(max_length=16, problem=route_timeout_problem),
})
STORAGE_TYPES = ("pvc", "s3", "hf")
STORAGE = Mapping({
    "type": Choice(STORAGE_TYPES),
    "connection": OBJECT_NAME,
    "path": String(max_length=1024, problem=storage_path_problem),
})
DEVICES = ("gpu", "cpu")

# Every key a catalogue entry may carry. Unknown keys are errors: a misspelt
# `max_modle_len` must not be silently ignored.
ENTRY_FIELDS = {
    "name": String(max_length=253, empty=False),
    # a Hub repository id or a directory on the controller (which may contain spaces)
    "model": String(max_length=4096, empty=False),
    "revision": String(max_length=255, problem=no_whitespace_problem),
    "mode": Choice(modes.NAMES),
    "max_model_len": Integer(1, INT32_MAX),
    # Deployment.spec.replicas is an int32.
    "replicas": Integer(0, INT32_MAX, hint="Deployment replicas are a 32-bit integer"),
    "served_model_name": String(max_length=253, problem=no_whitespace_problem),
    "display_name": String(max_length=253),
    "dtype": Choice(vllm_cli.DTYPE_CHOICES),
    "hf_overrides": _JsonObject(),
    "extra_args": ExtraArgs(),
    "env": ENV,
    "max_num_batched_tokens": Integer(1, INT32_MAX),
    "max_num_seqs": Integer(1, INT32_MAX),
    "enforce_eager": Boolean(),
    "gpu": Boolean(),
    "device": Choice(DEVICES),
    "image": String(max_length=1024, problem=image_problem),
    "resources": RESOURCES,
    "node_selector": LABEL_MAP,
    "tolerations": TOLERATIONS,
    "affinity": AFFINITY,
    "route": ROUTE,
    "network_policy": Boolean(),
    "api_key": Boolean(),
    "labels": MapOf(label_key_problem, LABEL_VALUE, key_what="label key"),
    # seconds; the startup probe's failureThreshold (an int32) is this / 10 s, and a week is more than any load
    "startup_timeout": Integer(10, 7 * 24 * 3600, hint="seconds"),
    "storage": STORAGE,
    "disable_sliding_window": Boolean(),
}


def _entry_rule(entry):
    if entry.get("gpu") is True and entry.get("device") == "cpu":
        return "gpu: true contradicts device: cpu: keep device and remove gpu (gpu: false is the old spelling of cpu)"
    if entry.get("gpu") is False and entry.get("device") == "gpu":
        return "gpu: false contradicts device: gpu: keep device and remove gpu"
    return None


ENTRY = Mapping(ENTRY_FIELDS, required=("name", "model"), rules=(_entry_rule,))

# The collection settings the catalogue module receives (role inputs).
GPUS = Mapping({
    "count": Integer(1, 4096),
    "memory_mib": Integer(1, 2 ** 24),
    "sharing": Choice(("exclusive", "time-slicing", "mig")),
    "resource": String(max_length=317, problem=resource_name_problem),
    "mig_profile": String(max_length=63, problem=no_whitespace_problem),
    "mig_memory_mib": Integer(1, 2 ** 24),
    "margin": _Fraction(),
    "headroom": _Fraction(),
    "node_selector": LABEL_MAP,
    "tolerations": TOLERATIONS,
})


SETTINGS = {
    "embedserve_namespace": ("namespace", String(max_length=63, problem=dns1123_label_problem, empty=False)),
    "embedserve_network_policy_namespaces": (
        "network_policy_namespaces", ListOf(String(max_length=63, problem=dns1123_label_problem, empty=False))),
    "embedserve_cache_pvc_name": ("cache_pvc_name", OBJECT_NAME),
    "embedserve_service_account": ("service_account", OBJECT_NAME),
    "embedserve_hf_token_secret_name": ("hf_token_secret", String(max_length=253, problem=dns1123_subdomain_problem)),
    "embedserve_data_connection": ("data_connection", OBJECT_NAME),
    "embedserve_s3_prefix": ("s3_prefix", String(max_length=1024, problem=storage_path_problem)),
    "embedserve_image": ("image", String(max_length=1024, problem=image_problem)),
    "embedserve_cpu_image": ("cpu_image", String(max_length=1024, problem=image_problem)),
    "embedserve_run_as_user": ("run_as_user", Integer(0, INT64_MAX)),
    "embedserve_gpus": ("gpus", GPUS),
}


def check_entry(entry, where):
    """(cleaned entry or None, [problem...]) for one catalogue entry."""
    report = Report(where)
    if not isinstance(entry, dict):
        report.add("", "each model must be a mapping with at least name and model, found a %s" % _kind(entry))
        return None, report.problems
    cleaned = _partial(ENTRY, entry, report)
    return cleaned, report.problems


def _partial(node, value, report):
    """Mapping check that keeps the valid keys even when others are wrong (so later checks can still run)."""
    cleaned = {}
    for key, item in value.items():
        if not isinstance(key, str) or key not in node.fields:
            report.add("", unknown_key_message(key, node.fields))
            continue
        if item is None:
            continue
        result = node.fields[key].check(item, key, report)
        if result is not INVALID:
            cleaned[key] = result
    for key in node.required:
        if value.get(key) is None:
            report.add("", "'%s' is required" % key)
    if len(cleaned) == len(value):
        for rule in node.rules:
            message = rule(cleaned)
            if message:
                report.add("", message)
    return cleaned


def check_settings(settings):
    """(cleaned settings, [problem...]) for the collection-wide settings the catalogue module received."""
    cleaned, problems = dict(settings), []
    for variable, (key, node) in SETTINGS.items():
        value = settings.get(key)
        if value is None or (value == "" and key in ("hf_token_secret", "cpu_image")):
            continue
        report = Report("")
        result = node.check(value, variable, report)
        problems.extend(report.problems)
        if result is not INVALID:
            cleaned[key] = result
    return cleaned, problems
