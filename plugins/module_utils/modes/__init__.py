# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""One module per deployment mode: how a model of that mode is served and reached.

``raw`` (Deployment + Service + Route) and ``kserve`` (ServingRuntime + InferenceService) each give the
catalogue (``catalogue.py``) the same five things: ``vllm_options()`` (what the vLLM command needs from the
mode), ``PROBE_PORT``, ``fields()`` (the mode's part of a resolved entry: every name, path and value its
role's templates lay out), ``endpoint()`` (Service, port, in-cluster URL, the model name its server lists) and
``summary_url()``. The catalogue dispatches on ``MODULES``; summary, status, verify and benchmark read the
endpoint it stored, and the ServingRuntimes (``serving_runtime.py``) read the KServe facts from here, so no
fact is written twice. docs/architecture.md has the recipe for adding a mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.modes import kserve, raw

# mode name -> its module, in the order modes are documented
MODULES = {raw.NAME: raw, kserve.NAME: kserve}
NAMES = tuple(MODULES)
