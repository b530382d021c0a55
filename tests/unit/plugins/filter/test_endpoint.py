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


# --- model_targets / forwarded_targets: the one rule verify and benchmark share ---

from ansible_collections.embedserve.vllm.plugins.filter.endpoint import forwarded_targets, model_targets  # noqa: E402

RAW = {"name": "minilm", "mode": "raw"}
KSERVE = {"name": "msmarco", "mode": "kserve"}


def route(name, service, host="", path="", tls=False, ingress_host=""):
    spec = {"to": {"kind": "Service", "name": service}}
    if host:
        spec["host"] = host
    if path:
        spec["path"] = path
    if tls:
        spec["tls"] = {"termination": "edge"}
    status = {"ingress": [{"host": ingress_host}]} if ingress_host else {}
    return {"metadata": {"name": name}, "spec": spec, "status": status}


def test_an_explicit_url_wins_over_routes():
    targets = model_targets([RAW], "models", [route("minilm", "minilm", host="r.example")],
                            {"minilm": "http://127.0.0.1:9"})
    assert targets["minilm"]["source"] == "verify_endpoints"
    assert targets["minilm"]["url"] == "http://127.0.0.1:9"


def test_routes_to_the_endpoint_service_the_one_named_after_the_model_first():
    routes = [route("other", "msmarco-predictor", host="other.example"),
              route("msmarco", "msmarco-predictor", host="m.example", path="/v1", tls=True),
              route("elsewhere", "unrelated", host="x.example")]
    target = model_targets([KSERVE], "models", routes)["msmarco"]
    assert (target["source"], target["url"], target["path_prefix"]) == ("route msmarco", "https://m.example", "/v1")
    assert (target["service"], target["port"]) == ("msmarco-predictor", 80)


def test_a_route_host_the_router_assigned_counts():
    target = model_targets([RAW], "models", [route("minilm", "minilm", ingress_host="apps.example")])["minilm"]
    assert target["url"] == "http://apps.example"


def test_port_forward_before_service_urls_and_the_kserve_port_override():
    opts = {"port_forward": "true", "service_urls": True, "kserve_service_port": "8080"}
    targets = model_targets([RAW, KSERVE], "models", [], {}, opts)
    assert targets["minilm"]["source"] == "port-forward svc/minilm:8000"
    assert targets["msmarco"]["source"] == "port-forward svc/msmarco-predictor:8080"
    assert targets["minilm"]["url"] == ""
    services = model_targets([RAW], "models", [], {}, {"service_urls": True, "setting": "benchmark"})
    assert services["minilm"]["url"] == "http://minilm.models.svc:8000"


@pytest.mark.parametrize("routes, options, why", [
    ([], {}, "no Route to svc/minilm"),
    ([route("minilm", "minilm")], {}, "Route minilm has no host"),
    ([], {"routes_looked_up": False}, "Routes not looked up (verify_routes: false)"),
    ([], {"routes_api": False}, "the cluster has no Route API"),
])
def test_an_unreachable_model_says_why_and_what_to_set(routes, options, why):
    target = model_targets([RAW], "models", routes, {}, options)["minilm"]
    assert target["source"] == "none" and target["url"] == ""
    assert why in target["reason"]
    assert "verify_port_forward: true or verify_endpoints.minilm" in target["reason"]


def test_benchmark_reasons_name_the_benchmark_settings():
    reason = model_targets([RAW], "models", [], {}, {"setting": "benchmark"})["minilm"]["reason"]
    assert "benchmark_port_forward: true or benchmark_endpoints.minilm" in reason
    assert "benchmark_service_urls" in reason


@pytest.mark.parametrize("models, explicit, options, message", [
    ("minilm", {}, {}, "needs a list of catalogue entries"),
    ([{"mode": "raw"}], {}, {}, "needs a catalogue entry with a name"),
    ([RAW], [], {}, "verify_endpoints must be a mapping"),
    ([RAW], {}, {"port_forwad": True}, r"unknown option\(s\) port_forwad"),
    ([RAW], {}, {"port_forward": "maybe"}, "port_forward must be a boolean"),
    ([RAW], {}, {"kserve_service_port": 70000}, "kserve_service_port must be an integer between 0 and 65535"),
])
def test_bad_input_fails_cleanly(models, explicit, options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        model_targets(models, "models", [], explicit, options)


def test_forwarded_targets_take_the_local_port_or_the_failure():
    targets = model_targets([RAW, KSERVE], "models", [], {}, {"port_forward": True})
    forwards = [{"item": {"name": "minilm"}, "rc": 0, "stdout_lines": ["4242", "39001"]},
                {"item": {"name": "msmarco"}, "rc": 1, "stdout_lines": ["4243"], "stderr": "kubectl exited: no pods\n"}]
    reached = forwarded_targets(targets, forwards)
    assert reached["minilm"]["url"] == "http://127.0.0.1:39001" and reached["minilm"]["reason"] == ""
    assert reached["msmarco"]["url"] == ""
    assert reached["msmarco"]["reason"] == "port-forward to svc/msmarco-predictor:80 failed: kubectl exited: no pods"
    assert targets["minilm"]["url"] == ""  # the input is left alone


def test_benchmark_runs_load_the_reached_url_under_the_served_name():
    from ansible_collections.embedserve.vllm.plugins.filter.endpoint import benchmark_runs
    embed = dict(RAW, served_model_name="mini", facts={"task": "embed"}, api_key={"enabled": True,
                                                                                  "secret_name": "minilm-api-key"})
    score = dict(KSERVE, facts={"task": "score"}, api_key={"enabled": False})
    reached = model_targets([embed, score], "models", [], {"minilm": "http://127.0.0.1:1"}, {})
    runs = benchmark_runs([embed, score], reached, [], {"msmarco": {"url": "http://tei", "flavour": "tei"}},
                          {}, {"minilm-api-key": "k"}, "auto")
    assert [(r["name"], r["kind"], r["file"]) for r in runs] == [("minilm", "embeddings", "minilm-embeddings"),
                                                                 ("msmarco", "rerank", "msmarco-rerank")]
    assert runs[0]["targets"] == [{"name": "minilm", "url": "http://127.0.0.1:1", "flavour": "openai",
                                   "model": "mini", "api_key": "k"}]
    assert runs[1]["reason"].startswith("msmarco: no Route host and port-forward disabled")
    assert runs[1]["targets"][1] == {"url": "http://tei", "flavour": "tei", "name": "msmarco-tei"}
    explicit = benchmark_runs([], {}, [{"name": "a b", "url": "u"}, {"url": "v"}], {}, {}, {}, "rerank")
    assert [(r["name"], r["file"]) for r in explicit] == [("a b-vs-B", "a_b-vs-B-rerank")]
    with pytest.raises(AnsibleFilterError, match="benchmark_kind must be one of"):
        benchmark_runs([], {}, [], {}, {}, {}, "bogus")
