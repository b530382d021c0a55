# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""The schema of a catalogue entry and of the collection settings, nested all the way down.

Every value the roles put into a Kubernetes object is checked here against the
rule the API server applies (names, label keys and values, quantities, DNS
hosts, environment variable names, int32/int64 ranges), before the first API
call, so a bad catalogue changes nothing. The schema is a table of small
checker objects rather than a JSON Schema document: ansible-core does not ship
jsonschema (so an execution environment would need an extra dependency), and
the messages must name the catalogue entry, the field path, why and what to
do, and suggest the nearest valid key for a typo at any level.

A checker returns the cleaned value (survey strings cast to numbers and
booleans, numeric quantities turned into strings) or INVALID after recording
its problems.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import math
import re
from decimal import Decimal, InvalidOperation

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.embedserve.vllm.plugins.module_utils import vllm_cli
from ansible_collections.embedserve.vllm.plugins.module_utils.k8s_names import (
    dns1123_label_problem,
    dns1123_subdomain_problem,
)

INVALID = object()

INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1
# One value's text in a message; bounded so no input can flood the output.
SHOWN_MAX = 80
# Sizes well above any real catalogue, so a runaway input fails fast.
LIST_MAX = 256
MAP_MAX = 256
STRING_MAX = 4096
NESTING_MAX = 16

LABEL_VALUE_MAX = 63
_LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# k8s.io/apimachinery validation.IsEnvVarName
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY_RE = re.compile(r"^(?P<number>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|"
                          r"[eE][+-]?\d+)?$")
_QUANTITY_SCALE = {
    None: 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10 ** 3, "M": 10 ** 6,
    "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30,
    "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
}
# HAProxy time values, as the OpenShift router reads haproxy.router.openshift.io/timeout.
_HAPROXY_TIME_RE = re.compile(r"^\d{1,9}(us|ms|s|m|h|d)?$")
_ROUTE_PATH_RE = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$")
_IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$")
_STORAGE_PATH_RE = re.compile(r"^[A-Za-z0-9._\-/]+$")

# Labels that select a model's pods or mark the collection's ownership: an
# entry's labels must not change them, or the Service and the Deployment lose
# their pods, or the collection its objects.
PROTECTED_LABELS = frozenset(("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"))
PROTECTED_LABEL_PREFIX = "embedserve.io/"
# Environment variables the collection fills from Secrets; a plain value would
# put the secret into the pod spec.
SECRET_ENV = {
    "VLLM_API_KEY": "api_key: true (the key is generated into a Secret)",
    "HF_TOKEN": "embedserve_hf_token (stored in a Secret)",
    "HUGGING_FACE_HUB_TOKEN": "embedserve_hf_token (stored in a Secret)",
}


def shown(value):
    """A value for a message, at most SHOWN_MAX characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX - 3] + "..."


def path_join(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else key


def _has_control(text):
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


class Report:
    """Collects problems as 'WHERE: FIELD message' lines (WHERE names the catalogue entry or setting)."""

    def __init__(self, where):
        self.where = where
        self.problems = []

    def add(self, path, message, colon=False):
        """message about the field at path; colon=True for messages that do not start with the field's value."""
        prefix = "%s: " % self.where if self.where else ""
        if not path:
            self.problems.append("%s%s" % (prefix, message))
        else:
            self.problems.append("%s%s%s %s" % (prefix, path, ":" if colon else "", message))


class Node:
    """A schema node: check(value, path, report) returns the cleaned value or INVALID."""

    what = "a value"

    def check(self, value, path, report):
        raise NotImplementedError


class Boolean(Node):
    what = "a boolean (true or false)"

    def check(self, value, path, report):
        if isinstance(value, bool):
            return value
        if isinstance(value, (str, int)) and not isinstance(value, float):
            try:
                return boolean(value, strict=True)
            except TypeError:
                pass
        report.add(path, "%s is not %s" % (shown(value), self.what))
        return INVALID


class Integer(Node):
    def __init__(self, minimum=None, maximum=None, hint=""):
        self.minimum, self.maximum, self.hint = minimum, maximum, hint
        self.what = "an integer"

    def check(self, value, path, report):
        number = _integer(value)
        if number is None:
            report.add(path, "%s is not an integer%s" % (shown(value), self.hint and ": " + self.hint))
            return INVALID
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            report.add(path, "%s is out of range: it must be between %s and %s%s"
                       % (number, self.minimum, self.maximum, self.hint and " (" + self.hint + ")"))
            return INVALID
        return number


def _integer(value):
    """value as an int (survey strings and integral floats too), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and re.match(r"^\s*[+-]?\d{1,20}\s*$", value):
        return int(value.strip())
    return None


class String(Node):
    """A string without control characters; numbers are accepted as their text (survey answers)."""

    def __init__(self, max_length=STRING_MAX, problem=None, hint="", empty=True):
        self.max_length, self.problem, self.hint, self.empty = max_length, problem, hint, empty
        self.what = "a string"

    def check(self, value, path, report):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            hint = ": quote it" if isinstance(value, bool) else ""
            report.add(path, "%s is a %s, not a string%s" % (shown(value), _kind(value), hint))
            return INVALID
        if isinstance(value, float) and not math.isfinite(value):
            report.add(path, "%s is not a string" % shown(value))
            return INVALID
        text = value if isinstance(value, str) else str(value)
        if not text and not self.empty:
            report.add(path, "must not be empty%s" % (self.hint and ": " + self.hint))
            return INVALID
        if len(text) > self.max_length:
            report.add(path, "is %d characters long; at most %d are allowed" % (len(text), self.max_length))
            return INVALID
        if _has_control(text):
            report.add(path, "%s contains control characters (newline, tab, ...): remove them" % shown(text))
            return INVALID
        if text and self.problem is not None:
            problem = self.problem(text)
            if problem:
                report.add(path, "%s %s%s" % (shown(text), problem, self.hint and ": " + self.hint))
                return INVALID
        return text


class Choice(Node):
    def __init__(self, choices):
        self.choices = tuple(choices)
        self.what = "one of " + ", ".join(self.choices)

    def check(self, value, path, report):
        if not isinstance(value, str) or value not in self.choices:
            close = difflib.get_close_matches(str(value), self.choices, n=1) if isinstance(value, str) else []
            hint = " (did you mean '%s'?)" % close[0] if close else ""
            report.add(path, "%s must be one of %s%s" % (shown(value), ", ".join(self.choices), hint))
            return INVALID
        return value


class Quantity(Node):
    """A Kubernetes resource.Quantity such as 4Gi, 500m or 2; numbers become their text."""

    what = "a quantity"

    def check(self, value, path, report):
        problem = quantity_problem(value)
        if problem:
            report.add(path, "%s %s" % (shown(value), problem))
            return INVALID
        if isinstance(value, float):
            return ("%f" % value).rstrip("0").rstrip(".") or "0"
        return str(value).strip()


def quantity_value(value):
    """The Decimal a quantity stands for, or None when it is not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY_RE.match(value.strip())
    if not match:
        return None
    suffix = match.group("suffix")
    try:
        number = Decimal(match.group("number"))
        if suffix not in _QUANTITY_SCALE:  # an exponent: e3, E-2
            exponent = int(suffix[1:])
            if abs(exponent) > 30:
                return None
            return number.scaleb(exponent)
        return number * _QUANTITY_SCALE[suffix]
    except (InvalidOperation, ValueError):
        return None


def quantity_problem(value):
    amount = quantity_value(value)
    if amount is None:
        return "is not a quantity: use a number with an optional unit, such as 4Gi, 512Mi, 2 or 500m"
    if amount < 0:
        return "must not be negative"
    if amount > INT64_MAX:
        return "is larger than Kubernetes can represent (2^63-1)"
    return None


class Mapping(Node):
    """A mapping with known keys; unknown keys are reported with the nearest valid one."""

    what = "a mapping"

    def __init__(self, fields, required=(), rules=()):
        self.fields, self.required, self.rules = fields, tuple(required), tuple(rules)

    def check(self, value, path, report):
        if not isinstance(value, dict):
            known = ", ".join(sorted(self.fields))
            report.add(path, "%s is a %s, not a mapping of %s" % (shown(value), _kind(value), known))
            return INVALID
        cleaned, ok = {}, True
        for key, item in value.items():
            if not isinstance(key, str) or key not in self.fields:
                report.add(path, unknown_key_message(key, self.fields), colon=True)
                ok = False
                continue
            if item is None:
                continue
            result = self.fields[key].check(item, path_join(path, key), report)
            if result is INVALID:
                ok = False
            else:
                cleaned[key] = result
        for key in self.required:
            if key not in cleaned and value.get(key) is None:
                report.add(path_join(path, key), "is required")
                ok = False
        if ok:
            for rule in self.rules:
                message = rule(cleaned)
                if message:
                    report.add(path, message, colon=True)
                    ok = False
        return cleaned if ok else INVALID


def unknown_key_message(key, known):
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6) if isinstance(key, str) else []
    hint = "did you mean '%s'? " % close[0] if close else ""
    return "unknown key %s: %svalid keys are %s" % (shown(key), hint, ", ".join(sorted(known)))


class MapOf(Node):
    """A mapping of free-form keys (labels, env, node selectors) checked by key and value rules."""

    what = "a mapping"

    def __init__(self, key_problem, value, max_items=MAP_MAX, key_what="key"):
        self.key_problem, self.value, self.max_items, self.key_what = key_problem, value, max_items, key_what

    def check(self, value, path, report):
        if not isinstance(value, dict):
            report.add(path, "%s is a %s, not a mapping" % (shown(value), _kind(value)))
            return INVALID
        if len(value) > self.max_items:
            report.add(path, "has %d entries; at most %d are allowed" % (len(value), self.max_items))
            return INVALID
        cleaned, ok = {}, True
        for key, item in value.items():
            if not isinstance(key, str):
                report.add(path, "%s %s is not a string: quote it" % (self.key_what, shown(key)), colon=True)
                ok = False
                continue
            problem = self.key_problem(key)
            if problem:
                report.add(path, "%s %s %s" % (self.key_what, shown(key), problem), colon=True)
                ok = False
                continue
            result = self.value.check(item, path_join(path, key), report) if item is not None else INVALID
            if item is None:
                report.add(path_join(path, key), "has no value: give it one or remove the key")
            if result is INVALID:
                ok = False
            else:
                cleaned[key] = result
        return cleaned if ok else INVALID


class ListOf(Node):
    what = "a list"

    def __init__(self, item, max_items=LIST_MAX, min_items=0):
        self.item, self.max_items, self.min_items = item, max_items, min_items

    def check(self, value, path, report):
        if not isinstance(value, (list, tuple)):
            report.add(path, "%s is a %s, not a list" % (shown(value), _kind(value)))
            return INVALID
        if len(value) > self.max_items:
            report.add(path, "has %d items; at most %d are allowed" % (len(value), self.max_items))
            return INVALID
        if len(value) < self.min_items:
            report.add(path, "needs at least %d item(s)" % self.min_items)
            return INVALID
        cleaned, ok = [], True
        for index, item in enumerate(value):
            result = self.item.check(item, path_join(path, index), report)
            if result is INVALID:
                ok = False
            else:
                cleaned.append(result)
        return cleaned if ok else INVALID


class JsonValue(Node):
    """Plain JSON data (vLLM --hf-overrides): string keys, finite numbers, bounded nesting."""

    what = "JSON data"

    def check(self, value, path, report):
        problem = _json_problem(value, 0)
        if problem:
            report.add(path, problem)
            return INVALID
        return value


def _json_problem(value, depth):
    if depth > NESTING_MAX:
        return "is nested more than %d levels deep" % NESTING_MAX
    if value is None or isinstance(value, (bool, str, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "%s is not a finite number" % shown(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return "key %s is not a string" % shown(key)
            problem = _json_problem(item, depth + 1)
            if problem:
                return "%s: %s" % (key, problem)
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = _json_problem(item, depth + 1)
            if problem:
                return "[%d]: %s" % (index, problem)
        return None
    return "%s is a %s, which JSON cannot hold" % (shown(value), _kind(value))


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


def _kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    if value is None:
        return "null"
    return {int: "integer", float: "number", str: "string"}.get(type(value), type(value).__name__)


# --- Kubernetes rules ---------------------------------------------------------


def qualified_name_problem(value):
    """Why value is not a label/annotation key ([prefix/]name), or None (validation.IsQualifiedName)."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "has an empty prefix before '/'"
        problem = dns1123_subdomain_problem(prefix)
        if problem:
            return "has a prefix that %s" % problem
    if not name or len(name) > 63 or not _LABEL_NAME_RE.match(name):
        return ("is not a valid key: the name part must be 1-63 letters, digits, '-', '_' or '.', starting and "
                "ending with a letter or digit, with an optional DNS subdomain prefix and '/'")
    return None


def label_value_problem(value):
    if len(value) > LABEL_VALUE_MAX or not _LABEL_VALUE_RE.match(value):
        return ("is not a valid label value: use at most 63 letters, digits, '-', '_' or '.', starting and ending "
                "with a letter or digit")
    return None


def label_key_problem(key):
    problem = qualified_name_problem(key)
    if problem:
        return problem
    if key in PROTECTED_LABELS or key.startswith(PROTECTED_LABEL_PREFIX):
        return ("is set by the collection (it selects the model's pods or marks the collection's objects) and "
                "cannot be overridden: use another key")
    return None


def env_name_problem(name):
    if not _ENV_NAME_RE.match(name):
        return ("is not a valid environment variable name: use letters, digits, '_', '-' or '.', not starting "
                "with a digit")
    if name in SECRET_ENV:
        return ("holds a secret and would be readable in the pod spec: set %s instead" % SECRET_ENV[name])
    return None


def resource_name_problem(name):
    if name in ("cpu", "memory", "ephemeral-storage") or name.startswith("hugepages-"):
        return None
    if "/" not in name:
        return ("is not a resource Kubernetes knows: use cpu, memory, ephemeral-storage, hugepages-<size> or a "
                "domain-qualified extended resource such as nvidia.com/gpu")
    return qualified_name_problem(name)


def route_host_problem(host):
    problem = dns1123_subdomain_problem(host)
    if problem:
        return "is not a DNS host name: it %s" % problem
    if any(len(part) > 63 for part in host.split(".")):
        return "has a DNS label longer than 63 characters"
    return None


def route_path_problem(path):
    if not _ROUTE_PATH_RE.match(path):
        return "must start with '/' and hold only URL path characters (no spaces)"
    return None


def route_timeout_problem(value):
    if not _HAPROXY_TIME_RE.match(value):
        return "is not a router timeout: use a number with a unit, such as 30s, 5m or 1h"
    return None


def storage_path_problem(value):
    if not _STORAGE_PATH_RE.match(value) or ".." in value.split("/"):
        return "must be a relative path of letters, digits, '.', '_', '-' and '/', without '..'"
    return None


def image_problem(value):
    if not _IMAGE_RE.match(value):
        return "is not an image reference (registry/repository:tag or @sha256:digest)"
    return None


def no_whitespace_problem(value):
    return "must not contain spaces" if any(char.isspace() for char in value) else None


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
    "mode": Choice(("raw", "kserve")),
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
    "product": String(max_length=253),
})


SETTINGS = {
    "embedserve_namespace": ("namespace", String(max_length=63, problem=dns1123_label_problem, empty=False)),
    "embedserve_network_policy_namespaces": (
        "network_policy_namespaces", ListOf(String(max_length=63, problem=dns1123_label_problem, empty=False))),
    "embedserve_cache_pvc_name": ("cache_pvc_name", OBJECT_NAME),
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
