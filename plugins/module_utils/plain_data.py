# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Plain Python data from what Ansible hands to plugins.

ansible-core 2.19 passes lazy containers and tagged str/int/float subclasses
(trust and origin tags) to filters; YAML dumpers and deep comparisons want
the base types.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def plain(value):
    """A copy of value made of dict, list, str, bool, int, float and None only."""
    if isinstance(value, dict):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    for kind in (bool, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value
