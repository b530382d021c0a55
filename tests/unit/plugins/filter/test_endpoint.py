"""model_endpoint: the catalogue's endpoint, or the same rule for a catalogue written by hand."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.filter.endpoint import model_endpoint


def test_a_resolved_entry_keeps_its_endpoint():
    given = {"service": "x", "port": 1, "url": "http://x", "served_model_name": "y"}
    assert model_endpoint({"name": "minilm", "mode": "raw", "endpoint": given}, "models") is given


def test_hand_written_entries_get_the_catalogue_rule():
    assert model_endpoint({"name": "minilm", "mode": "raw", "served_model_name": "mini", "container": {"port": "8001"}},
                          "models") == {"service": "minilm", "port": 8001, "url": "http://minilm.models.svc:8001",
                                        "served_model_name": "mini"}
    assert model_endpoint({"name": "msmarco", "mode": "kserve", "served_model_name": "other"}, "models") == {
        "service": "msmarco-predictor", "port": 80, "url": "http://msmarco-predictor.models.svc",
        "served_model_name": "msmarco"}


@pytest.mark.parametrize("entry, message", [
    ("minilm", "needs a catalogue entry"),
    ({"mode": "raw"}, "needs a catalogue entry"),
    ({"name": "m", "mode": "serverless"}, "mode must be raw or kserve"),
    ({"name": "m", "container": {"port": "http"}}, "is not a port number"),
])
def test_bad_entries_fail_cleanly(entry, message):
    with pytest.raises(AnsibleFilterError, match=message):
        model_endpoint(entry, "models")
