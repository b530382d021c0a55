# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Schema checker nodes: the building blocks of the catalogue schema, and the one caster.

A node's check(value, path, report) returns the cleaned value (survey strings
cast to numbers and booleans, numeric quantities turned into strings) or
INVALID after recording its problems in the Report. The nodes are a table of
small objects rather than a JSON Schema document: ansible-core does not ship
jsonschema (an execution environment would need an extra dependency), and the
messages must name the entry, the field path, why and what to do, and suggest
the nearest valid key for a typo at any level.

cast() is the one place a single survey-style value ("2", "true", 2.0) is
turned into a Python type; every module and filter casts through it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import math
import re
from decimal import Decimal, InvalidOperation

from ansible.module_utils.parsing.convert_bool import boolean

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

_QUANTITY_RE = re.compile(r"^(?P<number>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|"
                          r"[eE][+-]?\d+)?$")
_QUANTITY_SCALE = {
    None: 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10 ** 3, "M": 10 ** 6,
    "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30,
    "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
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


class Number(Node):
    """A finite number (survey strings too) in [minimum, maximum]."""

    def __init__(self, minimum=None, maximum=None):
        self.minimum, self.maximum = minimum, maximum
        self.what = "a number"

    def check(self, value, path, report):
        number = None
        if not isinstance(value, bool) and isinstance(value, (int, float, str)):
            try:
                number = float(value.strip() if isinstance(value, str) else value)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            report.add(path, "%s is not a number" % shown(value))
            return INVALID
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            report.add(path, "%s is out of range: it must be between %s and %s" % (shown(value), self.minimum,
                                                                                   self.maximum))
            return INVALID
        return number


_CAST_NODES = {bool: Boolean, int: Integer, float: Number, str: String}
_CAST_WHAT = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a mapping",
              list: "a list"}


def cast(value, kind, name="value", error=ValueError, minimum=None, maximum=None):
    """value as kind (bool, int, float or str; dict and list are only checked), survey strings included.

    The one caster of the collection: modules, filters and the catalogue all
    turn "2", "true" and 2.0 into typed values here, with the rules of the
    catalogue schema, and say "NAME must be KIND, got VALUE" the same way.
    Raises error (ValueError or a subclass the caller names).
    """
    what = _CAST_WHAT.get(kind, kind.__name__)
    if kind not in _CAST_NODES:
        if isinstance(value, kind):
            return value
        raise error("%s must be %s, got %s" % (name, what, shown(value)))
    node = _CAST_NODES[kind](minimum, maximum) if kind in (int, float) else _CAST_NODES[kind]()
    result = node.check(value, "", Report(""))
    if result is INVALID:
        bounds = ""
        if minimum is not None or maximum is not None:
            bounds = " between %s and %s" % ("-inf" if minimum is None else minimum,
                                             "inf" if maximum is None else maximum)
        raise error("%s must be %s%s, got %s" % (name, what, bounds, shown(value)))
    return result
