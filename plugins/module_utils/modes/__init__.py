# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""One module per deployment mode: the facts of how a model of that mode is served and reached.

``raw`` (Deployment + Service + Route) and ``kserve`` (ServingRuntime + InferenceService) each hold their ports,
paths and the model's endpoint (Service, port, in-cluster URL, the model name its server lists). The catalogue
(``catalogue.py``) puts each model's endpoint into ``catalogue_resolved``; the ServingRuntimes
(``serving_runtime.py``) read the KServe facts from here, so no fact is written twice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
