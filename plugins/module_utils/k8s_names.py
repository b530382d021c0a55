# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Kubernetes naming and quantity rules, checked before anything is sent to the API.

The API server would reject the same values, but only after earlier objects of
the run were already written; checking here keeps a bad run from changing
anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# resource.Quantity: a signed decimal number with an optional binary (Ki..Ei),
# decimal (n, u, m, k, M..E) or exponent (e3, E-2) suffix.
_QUANTITY_RE = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)((Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|([eE][+-]?\d+))?$"
)


def dns1123_label_problem(value):
    """Return why ``value`` is not a DNS-1123 label, or None when it is one."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > DNS1123_LABEL_MAX:
        return "must be at most %d characters (has %d)" % (DNS1123_LABEL_MAX, len(value))
    if not _LABEL_RE.match(value):
        return ("must consist of lower case letters, digits and '-', "
                "and start and end with a letter or digit")
    return None


def dns1123_subdomain_problem(value):
    """Return why ``value`` is not a DNS-1123 subdomain, or None when it is one."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return "must be at most %d characters (has %d)" % (DNS1123_SUBDOMAIN_MAX, len(value))
    if not _SUBDOMAIN_RE.match(value):
        return ("must consist of lower case letters, digits, '-' and '.', "
                "and start and end with a letter or digit")
    return None


def quantity_problem(value):
    """Return why ``value`` is not a Kubernetes resource quantity, or None."""
    if isinstance(value, bool):
        return "must be a quantity such as 50Gi or 500m, not a boolean"
    if isinstance(value, (int, float)):
        return None if value >= 0 else "must not be negative"
    if not isinstance(value, str) or not _QUANTITY_RE.match(value.strip()):
        return "must be a quantity such as 50Gi, 512Mi, 2 or 500m"
    if value.strip().startswith("-"):
        return "must not be negative"
    return None
