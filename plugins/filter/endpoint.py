# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""Endpoints of catalogue models, for verify and benchmark.

model_endpoint: a catalogue entry's endpoint. catalogue_resolved entries carry it already (catalogue.py,
endpoint()); a catalogue handed to verify or benchmark by hand (verify_catalogue, benchmark_catalogue) gets it
here, by the same rule.

model_targets and forwarded_targets: where a client outside the cluster reaches each model (explicit URL,
Route, port-forward, Service URL), by the one rule in module_utils/endpoint_targets.py.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils import bench_runs, endpoint_targets
from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import MODES, RAW_PORT, endpoint


def model_endpoint(entry, namespace):
    if not isinstance(entry, dict) or not entry.get("name"):
        raise AnsibleFilterError("model_endpoint needs a catalogue entry with a name, got %r" % (entry,))
    if isinstance(entry.get("endpoint"), dict):
        return entry["endpoint"]
    mode = entry.get("mode", "raw")
    if mode not in MODES:
        raise AnsibleFilterError("%s: mode must be %s, got %r" % (entry["name"], " or ".join(MODES), mode))
    port = (entry.get("container") or {}).get("port") or RAW_PORT
    try:
        return endpoint(str(entry["name"]), mode, str(namespace), str(entry.get("served_model_name") or entry["name"]),
                        raw_port=int(port))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("%s: container.port %r is not a port number" % (entry["name"], port)) from exc


def model_targets(models, namespace, routes=None, explicit=None, options=None):
    """{name: target} for the models (catalogue entries); see endpoint_targets.resolve_targets."""
    if not isinstance(models, list):
        raise AnsibleFilterError("model_targets needs a list of catalogue entries, got %r" % (models,))
    with_endpoints = [dict(m, endpoint=model_endpoint(m, namespace)) for m in models]
    try:
        return endpoint_targets.resolve_targets(with_endpoints, str(namespace), routes, explicit, options)
    except endpoint_targets.TargetError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def forwarded_targets(targets, forwards):
    """targets with the port-forward ones given their local URL, or the reason the port-forward failed.

    forwards: the results of the port-forward task (verify's port_forward.yml), each with item.name."""
    out = dict(targets or {})
    for forward in forwards or []:
        name = ((forward or {}).get("item") or {}).get("name")
        if name in out:
            url, reason = endpoint_targets.forwarded_url(out[name], forward)
            out[name] = dict(out[name], url=url or "", reason=reason)
    return out


def benchmark_runs(models, reached, explicit=None, compare=None, api_keys=None, secret_keys=None, kind="auto"):
    """The benchmark role's runs (module_utils/bench_runs.py)."""
    if not isinstance(models, list) or not isinstance(reached, dict):
        raise AnsibleFilterError("benchmark_runs needs the catalogue entries and the model_targets result")
    try:
        return bench_runs.plan_runs(models, reached, explicit, compare, api_keys, secret_keys, str(kind))
    except bench_runs.RunPlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("benchmark_runs: a catalogue entry or target lacks %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"model_endpoint": model_endpoint, "model_targets": model_targets,
                "forwarded_targets": forwarded_targets, "benchmark_runs": benchmark_runs}
