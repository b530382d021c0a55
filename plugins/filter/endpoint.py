# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""model_endpoint: a catalogue entry's endpoint, for catalogues that were not resolved in this run.

catalogue_resolved entries carry their endpoint already (catalogue.py, endpoint()); a catalogue handed
to verify or benchmark by hand (verify_catalogue, benchmark_catalogue) gets it here, by the same rule.
"""

from ansible.errors import AnsibleFilterError

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


class FilterModule:
    def filters(self):
        return {"model_endpoint": model_endpoint}
