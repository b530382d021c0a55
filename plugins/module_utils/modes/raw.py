# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Raw mode: a Deployment whose vLLM container and Service listen on one port, the Service named after the model."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PORT = 8000


def endpoint(name, namespace, served_model_name, port=PORT):
    """The Service <name> on the container's port, under the model's served name."""
    return {"service": name, "port": int(port), "url": "http://%s.%s.svc:%d" % (name, namespace, int(port)),
            "served_model_name": served_model_name}
