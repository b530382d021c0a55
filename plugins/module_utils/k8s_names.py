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


# --- values inside objects (labels, env, resources, Routes, images) --------

LABEL_VALUE_MAX = 63
_LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# k8s.io/apimachinery validation.IsEnvVarName
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
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
