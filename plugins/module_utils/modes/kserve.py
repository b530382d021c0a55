# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""KServe mode: an InferenceService bound to a ServingRuntime, reconciled by KServe's controller.

KServe mounts or downloads the model at MODEL_PATH, replaces SERVED_NAME in the runtime's arguments with the
InferenceService's name, and makes the <name>-predictor Service, which listens on SERVICE_PORT (80,
pkg/constants CommonDefaultHttpPort) and targets the container's CONTAINER_PORT (8080) for a RawDeployment
(Standard) predictor.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CONTAINER_PORT = 8080
SERVICE_PORT = 80
MODEL_PATH = "/mnt/models"
SERVED_NAME = "{{.Name}}"
# Arguments the ServingRuntime sets for every model it serves; a model's own arguments may not repeat them.
RUNTIME_FLAGS = frozenset(("--model", "--served-model-name", "--runner", "--port"))


def predictor_service(name):
    return "%s-predictor" % name


def endpoint(name, namespace):
    """KServe's <name>-predictor Service; the server lists the model under the InferenceService's name."""
    service = predictor_service(name)
    return {"service": service, "port": SERVICE_PORT, "url": "http://%s.%s.svc" % (service, namespace),
            "served_model_name": name}
