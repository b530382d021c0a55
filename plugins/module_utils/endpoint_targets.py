# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Where a client outside the cluster reaches each model: the one rule verify and benchmark share.

For each model, in this order: an explicit URL (verify_endpoints / benchmark_endpoints), the host of a Route to
the model's Service (its catalogue endpoint: raw <name>, KServe <name>-predictor, whether this collection or
odh-model-controller made the Route; a Route named after the model wins), a port-forward to that Service, its
in-cluster Service URL (for a client inside the cluster), or nothing, with the reason and what to set.

A Route's path (route.path: /v1) only selects which request paths the router passes on; it is not a prefix to
add. It is returned as path_prefix, so a check outside it is skipped rather than failed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import cast


class TargetError(ValueError):
    """The models or options cannot be resolved; the message names the model or option."""


OPTIONS = {
    # option: (kind, default)
    "routes_looked_up": (bool, True),
    "routes_api": (bool, True),
    "port_forward": (bool, False),
    "service_urls": (bool, False),
    "kserve_service_port": (int, 0),
    "setting": (str, "verify"),
}


def _admitted(routes, service):
    """(routes to service, those with a host as {route, host, path, scheme})."""
    to_service = [r for r in routes or [] if ((r.get("spec") or {}).get("to") or {}).get("name") == service]
    admitted = []
    for route in to_service:
        spec = route.get("spec") or {}
        ingress = ((route.get("status") or {}).get("ingress") or [{}])[0] or {}
        host = spec.get("host") or ingress.get("host") or ""
        if host:
            admitted.append({"route": (route.get("metadata") or {}).get("name"), "host": host,
                             "path": spec.get("path") or "", "scheme": "https" if spec.get("tls") else "http"})
    return to_service, admitted


def resolve_targets(models, namespace, routes=None, explicit=None, options=None):
    """{model name: {name, mode, service, port, source, url, path_prefix, reason, served_model_name}} for entries that
    carry their endpoint (catalogue_resolved, or the model_endpoint filter for hand-written ones)."""
    given = dict(options or {})
    unknown = sorted(set(given) - set(OPTIONS))
    if unknown:
        raise TargetError("unknown option(s) %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(OPTIONS))))
    opts = dict((key, cast(given.get(key, default), kind, key, error=TargetError, minimum=0 if kind is int else None,
                           maximum=65535 if kind is int else None))
                for key, (kind, default) in OPTIONS.items())
    explicit = {} if explicit is None else explicit
    if not isinstance(explicit, dict):
        raise TargetError("%s_endpoints must be a mapping of model name to URL" % opts["setting"])
    targets = {}
    for model in models or []:
        name, endpoint = model["name"], model["endpoint"]
        service = endpoint["service"]
        port = endpoint["port"]
        if model.get("mode") == "kserve" and opts["kserve_service_port"] > 0:
            port = opts["kserve_service_port"]
        to_service, admitted = _admitted(routes, service)
        target = {"name": name, "mode": model.get("mode"), "service": service, "port": port, "url": "",
                  "path_prefix": "", "reason": "", "served_model_name": endpoint["served_model_name"]}
        if name in explicit:
            target.update(source="%s_endpoints" % opts["setting"], url=str(explicit[name]))
        elif admitted:
            route = ([r for r in admitted if r["route"] == name] + admitted)[0]
            target.update(source="route %s" % route["route"], url="%s://%s" % (route["scheme"], route["host"]),
                          path_prefix=route["path"])
        elif opts["port_forward"]:
            target.update(source="port-forward svc/%s:%s" % (service, port))
        elif opts["service_urls"]:
            target.update(source="service", url="http://%s.%s.svc:%s" % (service, namespace, port))
        else:
            target.update(source="none", reason=_why_none(name, service, to_service, opts))
        targets[name] = target
    return targets


def _why_none(name, service, to_service, opts):
    if to_service:
        why = "Route %s has no host" % ", ".join(r["metadata"]["name"] for r in to_service)
    elif not opts["routes_looked_up"]:
        why = "Routes not looked up (%s_routes: false)" % opts["setting"]
    elif not opts["routes_api"]:
        why = "the cluster has no Route API (route.openshift.io/v1)"
    else:
        why = "no Route to svc/%s" % service
    return ("no Route host and port-forward disabled (%s; set %s_port_forward: true or %s_endpoints.%s%s)"
            % (why, opts["setting"], opts["setting"], name,
               ", or benchmark_service_urls: true inside the cluster" if opts["setting"] == "benchmark" else ""))


def forwarded_url(target, forward):
    """A port-forward target's URL from its task result (first line the PID, second the local port), or
    (None, reason)."""
    lines = forward.get("stdout_lines") or []
    if forward.get("rc") == 0 and len(lines) > 1:
        return "http://127.0.0.1:%s" % lines[1], ""
    message = (forward.get("stderr") or forward.get("msg") or "no output").strip()
    return None, "port-forward to svc/%s:%s failed: %s" % (target["service"], target["port"], message)
