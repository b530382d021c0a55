"""load_bench: statistics, token accounting, error kinds, request bodies and the SVG.

The load tests run against ``StandInEndpoint``, a small local HTTP/1.1 server (NOT a model server) that
answers the OpenAI/vLLM, TEI and Caikit embedding and rerank paths with made-up vectors and scores after a
fixed delay, so latencies and failures are deterministic.  Real vLLM is exercised in
tests/vllm/test_benchmark_vllm.py.
"""

import json
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils import load_bench as lb


# ---------------------------------------------------------------------------
# the stand-in endpoint
# ---------------------------------------------------------------------------
class StandInEndpoint(object):
    """A local HTTP/1.1 server speaking the three API flavours' shapes, with scripted behaviour.

    ``delay``: seconds before each answer; ``tokens``: what it reports as input tokens (None: omit);
    ``fail``: callable(number) -> None or one of "500", "401", "bad_json", "wrong_count", "close" for the
    number-th request (1-based, probe included).
    """

    def __init__(self, delay=0.0, tokens=7, fail=None):
        self.delay, self.tokens, self.fail = delay, tokens, fail
        self.requests = []
        self.connections = set()
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint.lock:
                    endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    endpoint.connections.add(self.client_address)
                    number = len(endpoint.requests)
                    endpoint.in_flight += 1
                    endpoint.max_in_flight = max(endpoint.max_in_flight, endpoint.in_flight)
                time.sleep(endpoint.delay)
                with endpoint.lock:
                    endpoint.in_flight -= 1
                failure = endpoint.fail(number) if endpoint.fail else None
                if failure == "close":
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                status, payload, headers = endpoint.answer(self.path, body, failure)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def answer(self, path, body, failure):
        if failure == "500":
            return 500, {"error": "engine overloaded"}, {}
        if failure == "401":
            return 401, {"error": "Unauthorized"}, {}
        if failure == "bad_json":
            return 200, b"<html>proxy page</html>", {}
        if path in ("/v1/embeddings", "/prefix/v1/embeddings"):
            count = len(body["input"])
            usage = {} if self.tokens is None else {"usage": {"prompt_tokens": self.tokens, "total_tokens": self.tokens}}
            return 200, dict(data=[{"index": i, "embedding": [0.1, 0.2]} for i in range(self._n(count, failure))],
                             **usage), {}
        if path in ("/v1/rerank", "/rerank") and "query" in body and "documents" in body:
            count = len(body["documents"])
            usage = {} if self.tokens is None else {"usage": {"total_tokens": self.tokens}}
            return 200, dict(results=[{"index": i, "relevance_score": 0.5} for i in range(self._n(count, failure))],
                             **usage), {}
        if path == "/embed":
            return 200, [[0.1, 0.2]] * self._n(len(body["inputs"]), failure), self._tei_headers()
        if path == "/rerank" and "texts" in body:
            return 200, [{"index": i, "score": 0.5} for i in range(self._n(len(body["texts"]), failure))], \
                self._tei_headers()
        if path == "/api/v1/task/embedding-tasks":
            vectors = [{"data": {"values": [0.1, 0.2]}}] * self._n(len(body["inputs"]), failure)
            return 200, dict(results={"vectors": vectors}, **self._caikit_tokens()), {}
        if path == "/api/v1/task/rerank":
            scores = [{"index": i, "score": 0.5} for i in range(self._n(len(body["inputs"]["documents"]), failure))]
            return 200, dict(result={"query": body["inputs"]["query"], "scores": scores}, **self._caikit_tokens()), {}
        return 404, {"detail": "Not Found"}, {}

    @staticmethod
    def _n(count, failure):
        return count - 1 if failure == "wrong_count" else count

    def _tei_headers(self):
        return {} if self.tokens is None else {"x-compute-tokens": str(self.tokens)}

    def _caikit_tokens(self):
        # Caikit's REST gateway serialises int64 as a JSON string
        return {} if self.tokens is None else {"input_token_count": str(self.tokens)}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def settings(**overrides):
    base = {"concurrency": 2, "duration": 0, "requests": 10, "warmup": 0, "words_per_input": 5,
            "inputs_per_request": 3, "query_words": 4, "timeout": 5}
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def test_percentiles_interpolate_between_closest_ranks_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert lb.percentile(values, 0) == 15
    assert lb.percentile(values, 50) == 35
    assert lb.percentile(values, 100) == 50
    assert lb.percentile(values, 40) == pytest.approx(29.0)  # rank 1.6: 20 + 0.6 * 15
    assert lb.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert lb.percentile(list(reversed(range(1, 101))), 99) == pytest.approx(99.01)  # order does not matter
    assert lb.percentile([7.5], 99) == 7.5
    assert lb.percentile([], 50) is None


def test_summary_counts_latency_of_successes_only_and_keeps_error_kinds():
    s = lb.normalise_settings(settings())
    target = lb.normalise_targets([{"url": "http://h:1"}], s)[0]
    records = [[True, 0.010, None, None, 20, 3], [True, 0.030, None, None, 20, 3], [True, 0.020, None, None, 20, 3],
               [False, 5.0, "timeout", "timed out", None, 0], [False, 0.001, "http_503", "busy", None, 0]]
    entry = lb.summarise_target(target, s, records, elapsed=2.0)
    assert entry["requests"] == 5 and entry["ok"] == 3 and entry["errors"] == 2
    assert entry["error_kinds"] == {"timeout": 1, "http_503": 1}
    assert [e["kind"] for e in entry["error_samples"]] == ["timeout", "http_503"]
    assert entry["latency_ms"]["p50"] == pytest.approx(20.0)
    assert entry["latency_ms"]["max"] == pytest.approx(30.0)  # the 5 s timeout is not a latency
    assert entry["latency_ms"]["mean"] == pytest.approx(20.0)
    assert entry["requests_per_s"] == 1.5 and entry["inputs_per_s"] == 4.5
    assert entry["tokens_source"] == "server" and entry["input_tokens"] == 60 and entry["tokens_per_s"] == 30.0


# ---------------------------------------------------------------------------
# token accounting
# ---------------------------------------------------------------------------
def test_estimate_is_one_token_per_word_plus_special_tokens():
    embed = lb.normalise_settings(settings(words_per_input=10, inputs_per_request=4))
    assert lb.estimate_tokens(embed) == 4 * (10 + 2)
    rerank = lb.normalise_settings(settings(kind="rerank", words_per_input=10, inputs_per_request=4, query_words=6))
    assert lb.estimate_tokens(rerank) == 4 * (6 + 10 + 3)  # (query, document) pairs


def test_tokens_fall_back_to_the_estimate_and_say_so():
    s = lb.normalise_settings(settings(words_per_input=10, inputs_per_request=4))
    target = lb.normalise_targets([{"url": "http://h:1"}], s)[0]
    none = lb.summarise_target(target, s, [[True, 0.01, None, None, None, 4]] * 2, elapsed=1.0)
    assert none["tokens_source"] == "estimate" and none["tokens_estimated"] is True
    assert none["input_tokens"] == 2 * 48 == none["input_tokens_estimate"]
    mixed = lb.summarise_target(target, s, [[True, 0.01, None, None, 40, 4], [True, 0.01, None, None, None, 4]], 1.0)
    assert mixed["tokens_source"] == "mixed" and mixed["input_tokens"] == 40 + 48 and mixed["tokens_estimated"]


@pytest.mark.parametrize("flavour,kind", [("openai", "embeddings"), ("openai", "rerank"), ("tei", "embeddings"),
                                          ("tei", "rerank"), ("caikit", "embeddings"), ("caikit", "rerank")])
def test_server_reported_tokens_are_read_for_every_flavour(flavour, kind):
    with StandInEndpoint(tokens=11) as server:
        report = lb.run_benchmark([{"url": server.url, "flavour": flavour, "model": "m"}],
                                  settings(kind=kind, requests=4))
    entry = report["targets"][0]
    assert entry["ok"] == 4 and entry["errors"] == 0, entry
    assert entry["tokens_source"] == "server" and entry["input_tokens"] == 44


def test_server_without_usage_gives_flagged_estimate():
    with StandInEndpoint(tokens=None) as server:
        report = lb.run_benchmark([{"url": server.url, "model": "m"}], settings(requests=4))
    entry = report["targets"][0]
    assert entry["tokens_source"] == "estimate" and entry["input_tokens"] == 4 * 3 * (5 + 2)
    lines = lb.table_lines(report)
    assert "~" in lines[3] and lines[-1].startswith("~ estimated input tokens")


# ---------------------------------------------------------------------------
# request bodies per flavour
# ---------------------------------------------------------------------------
def test_request_bodies_per_flavour_and_kind():
    embed = lb.normalise_settings(settings(words_per_input=3, inputs_per_request=2))
    rerank = lb.normalise_settings(settings(kind="rerank", words_per_input=3, inputs_per_request=2, query_words=2))
    texts = lb.request_inputs(embed, 0)["texts"]
    pair = lb.request_inputs(rerank, 0)
    assert len(texts) == 2 and all(len(t.split()) == 3 for t in texts)
    assert len(pair["query"].split()) == 2 and len(pair["documents"]) == 2

    def body(flavour, s, model="m"):
        target = lb.normalise_targets([{"url": "http://h:1", "flavour": flavour, "model": model}], s)[0]
        return lb.request_body(target, s, lb.request_inputs(s, 0)), target["request_path"]

    assert body("openai", embed) == ({"model": "m", "input": texts, "encoding_format": "float"}, "/v1/embeddings")
    assert body("openai", embed, model=None)[0] == {"input": texts, "encoding_format": "float"}
    assert body("tei", embed) == ({"inputs": texts}, "/embed")
    assert body("caikit", embed) == ({"model_id": "m", "inputs": texts}, "/api/v1/task/embedding-tasks")
    assert body("openai", rerank) == ({"model": "m", "query": pair["query"], "documents": pair["documents"]},
                                      "/v1/rerank")
    assert body("tei", rerank) == ({"query": pair["query"], "texts": pair["documents"]}, "/rerank")
    assert body("caikit", rerank) == (
        {"model_id": "m", "inputs": {"query": pair["query"], "documents": [{"text": d} for d in pair["documents"]]}},
        "/api/v1/task/rerank")


def test_inputs_are_deterministic_per_seed_and_request_index():
    s = lb.normalise_settings(settings(seed=42))
    assert lb.request_inputs(s, 5) == lb.request_inputs(lb.normalise_settings(settings(seed="42")), 5)
    assert lb.request_inputs(s, 5) != lb.request_inputs(s, 6)
    assert lb.request_inputs(s, 5) != lb.request_inputs(lb.normalise_settings(settings(seed=43)), 5)


def test_both_targets_receive_the_same_bodies_and_headers_carry_the_key():
    with StandInEndpoint() as a, StandInEndpoint() as b:
        lb.run_benchmark([{"name": "vllm", "url": a.url + "/prefix/", "model": "minilm", "api_key": "sekret",
                           "headers": {"X-Tenant": "t1"}},
                          {"name": "other", "url": b.url, "model": "minilm"}], settings(requests=6))
    assert {r["path"] for r in a.requests} == {"/prefix/v1/embeddings"}
    assert all(r["headers"]["Authorization"] == "Bearer sekret" and r["headers"]["X-Tenant"] == "t1"
               for r in a.requests)
    assert all("Authorization" not in r["headers"] for r in b.requests)
    measured = sorted(json.dumps(r["body"]) for r in a.requests[1:])  # the first one is the probe
    assert measured == sorted(json.dumps(r["body"]) for r in b.requests[1:])
    assert len(measured) == 6


def test_survey_strings_are_cast_and_bounds_enforced():
    s = lb.normalise_settings({"concurrency": "3", "duration": "2.5", "warmup": "0", "validate_certs": "false",
                               "requests": "", "seed": 7})
    assert s["concurrency"] == 3 and s["duration"] == 2.5 and s["validate_certs"] is False and s["seed"] == "7"
    with pytest.raises(lb.BenchError, match="concurrency must be an integer between 1 and 256"):
        lb.normalise_settings({"concurrency": 1000})
    with pytest.raises(lb.BenchError, match="unbounded run is refused"):
        lb.normalise_settings({"duration": 0, "requests": 0})
    with pytest.raises(lb.BenchError, match="unknown setting"):
        lb.normalise_settings({"durations": 3})
    s = lb.normalise_settings({})
    with pytest.raises(lb.BenchError, match="one or two targets"):
        lb.normalise_targets([{"url": "http://a"}] * 3, s)
    with pytest.raises(lb.BenchError, match="needs model"):
        lb.normalise_targets([{"url": "http://a", "flavour": "caikit"}], s)
    with pytest.raises(lb.BenchError, match="not in the url"):
        lb.normalise_targets([{"url": "https://user:pw@a"}], s)
    with pytest.raises(lb.BenchError, match="names must differ"):
        lb.normalise_targets([{"url": "http://a", "name": "x"}, {"url": "http://b", "name": "x"}], s)


# ---------------------------------------------------------------------------
# load runs against the stand-in: bounds, keep-alive, latency, errors
# ---------------------------------------------------------------------------
def test_request_bound_keep_alive_and_deterministic_latency():
    with StandInEndpoint(delay=0.02) as server:
        report = lb.run_benchmark([{"url": server.url, "model": "m"}], settings(concurrency=2, requests=20, warmup=0))
    entry = report["targets"][0]
    assert entry["requests"] == 20 and entry["ok"] == 20
    assert len(server.requests) == 21  # the probe + exactly the bound
    # probe on its own connection, then one keep-alive connection per worker
    assert len(server.connections) == 3
    latency = entry["latency_ms"]
    assert 20.0 <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"] < 500
    # two workers in parallel, 20 ms each: never more than 100 requests/s
    assert server.max_in_flight == 2
    assert 0 < entry["requests_per_s"] <= 100
    assert entry["inputs_per_s"] == pytest.approx(entry["requests_per_s"] * 3, rel=0.01)


def test_duration_bound_and_warmup_is_not_counted():
    with StandInEndpoint(delay=0.01) as server:
        start = time.monotonic()
        report = lb.run_benchmark([{"url": server.url}], settings(requests=0, duration=0.5, warmup=0.3))
        took = time.monotonic() - start
    entry = report["targets"][0]
    assert entry["warmup"]["requests"] > 0 and entry["warmup"]["errors"] == 0
    assert entry["requests"] + entry["warmup"]["requests"] + 1 == len(server.requests)
    assert 0.5 <= entry["elapsed_s"] < 1.5  # the deadline plus the requests in flight
    assert took < 3.0


def test_rounds_alternate_targets_and_split_the_requests():
    order = []
    with StandInEndpoint() as a, StandInEndpoint() as b:
        lb.run_benchmark([{"name": "a", "url": a.url}, {"name": "b", "url": b.url}],
                         settings(requests=9, rounds=3, concurrency=1), progress=order.append)
        assert len(a.requests) == len(b.requests) == 1 + 9
    assert order == ["a: round 1/3", "b: round 1/3", "a: round 2/3", "b: round 2/3", "a: round 3/3", "b: round 3/3"]


def test_errors_are_classified_by_kind():
    def fail(number):
        return {3: "500", 5: "bad_json", 7: "wrong_count", 9: "close", 11: "401"}.get(number)

    with StandInEndpoint(fail=fail) as server:
        report = lb.run_benchmark([{"url": server.url, "model": "m"}], settings(concurrency=1, requests=12))
    entry = report["targets"][0]
    assert entry["requests"] == 12 and entry["ok"] == 7
    assert entry["error_kinds"] == {"http_500": 1, "bad_response": 2, "connection_closed": 1, "http_401": 1}
    details = " ".join(sample["detail"] for sample in entry["error_samples"])
    assert "engine overloaded" in details and "not JSON" in details and "2 results for 3 inputs" in details


def test_classify_error_covers_network_failures():
    import socket
    import ssl

    assert lb.classify_error(socket.timeout("timed out"))[0] == "timeout"
    assert lb.classify_error(ConnectionRefusedError(111, "refused"))[0] == "connection_refused"
    assert lb.classify_error(ssl.SSLCertVerificationError("bad cert"))[0] == "tls"
    assert lb.classify_error(socket.gaierror(-2, "Name or service not known"))[0] == "dns"
    assert lb.classify_error(lb.HttpStatusError(404, "nope")) == ("http_404", "nope")
    assert lb.classify_error(RuntimeError("boom"))[0] == "other"


def test_unreachable_target_is_skipped_after_the_probe_and_the_other_still_runs():
    with StandInEndpoint() as server:
        report = lb.run_benchmark([{"name": "down", "url": "http://127.0.0.1:9"}, {"name": "up", "url": server.url}],
                                  settings(requests=4))
    down, up = report["targets"]
    assert down["skipped"].startswith("the first request failed (connection_refused)")
    assert down["requests"] == 1 and down["errors"] == 1 and down["error_kinds"] == {"connection_refused": 1}
    assert up["ok"] == 4
    assert report["comparison"]["ratios"]["requests_per_s"] is None
    lines = lb.table_lines(report)
    assert any(line.startswith("down (skipped)") for line in lines)
    assert lines[-1].startswith("down skipped: the first request failed")


def test_wrong_path_is_reported_as_http_404_at_the_probe():
    with StandInEndpoint() as server:
        report = lb.run_benchmark([{"url": server.url, "path": "/v2/nothing"}], settings(requests=3))
    assert report["targets"][0]["error_kinds"] == {"http_404": 1} and report["targets"][0]["ok"] == 0


# ---------------------------------------------------------------------------
# comparison, table, SVG, plan
# ---------------------------------------------------------------------------
def test_comparison_row_is_b_over_a():
    with StandInEndpoint(delay=0.01) as fast, StandInEndpoint(delay=0.04) as slow:
        report = lb.run_benchmark([{"name": "fast", "url": fast.url}, {"name": "slow", "url": slow.url}],
                                  settings(requests=12, concurrency=1))
    a, b = report["targets"]
    ratios = report["comparison"]["ratios"]
    assert report["comparison"]["baseline"] == "fast" and report["comparison"]["candidate"] == "slow"
    assert ratios["p50"] == pytest.approx(b["latency_ms"]["p50"] / a["latency_ms"]["p50"], rel=0.01)
    assert ratios["p50"] > 1.5 and ratios["requests_per_s"] < 0.7
    lines = lb.table_lines(report)
    assert lines[0].startswith("embeddings: 3 inputs x 5 words per request, concurrency 1")
    assert lines[1].split() == ["TARGET", "FLAVOUR", "REQS", "ERRORS", "REQ/S", "INPUTS/S", "TOK/S", "P50_MS",
                                "P95_MS", "P99_MS", "MAX_MS"]
    ratio_row = lines[5].split()
    assert ratio_row[0] == "slow/fast" and ratio_row[1] == "ratio" and ratio_row[-4] == "%.2fx" % ratios["p50"]


def test_svg_is_well_formed_and_shows_both_targets():
    with StandInEndpoint(delay=0.005) as a, StandInEndpoint(delay=0.01) as b:
        report = lb.run_benchmark([{"name": "vllm <A>", "url": a.url}, {"name": "caikit&B", "url": b.url}],
                                  settings(requests=6))
    svg = lb.svg_plot(report)
    root = ET.fromstring(svg.encode("utf-8"))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg"
    texts = [t.text for t in root.iter(ns + "text")]
    assert "vllm <A> (openai)" in texts and "caikit&B (openai)" in texts
    assert {"Latency (ms)", "Requests/s", "Input tokens/s"} <= set(texts)
    bars = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
    assert len(bars) == 2 * 4 + 2 + 2  # 4 latency figures per target, requests/s and tokens/s each
    assert all(float(r.get("height")) >= 0 for r in bars)


def test_nice_ceiling():
    assert [lb.nice_ceiling(v) for v in (0, 0.7, 1, 3, 19, 23, 260, 999)] == [1, 1, 1, 5, 20, 25, 500, 1000]


def test_plan_sends_nothing_and_hides_the_key():
    with StandInEndpoint() as server:
        result = lb.plan([{"url": server.url, "api_key": "sekret", "model": "m"}], settings(requests=5))
        assert server.requests == []
    assert result["targets"][0]["endpoint"] == server.url + "/v1/embeddings"
    assert result["targets"][0]["headers"] == ["Accept", "Authorization", "Content-Type"]
    assert "sekret" not in json.dumps(result)
    assert result["estimated_input_tokens_per_request"] == 3 * 7


# ---------------------------------------------------------------------------
# the thin module on top
# ---------------------------------------------------------------------------
def run_module(capsys, **args):
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.embedserve.vllm.plugins.modules import endpoint_bench

    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        endpoint_bench.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_module_reports_table_and_svg_and_refuses_unbounded_runs(capsys):
    with StandInEndpoint() as server:
        code, result = run_module(capsys, targets=[{"url": server.url, "api_key": "sekret-value"}], requests=3,
                                  duration=0, warmup=0, concurrency=1)
        assert code == 0 and result["changed"] is False
        assert result["report"]["targets"][0]["ok"] == 3 and result["table"][1].startswith("TARGET")
        assert result["svg"].startswith("<?xml") and "sekret-value" not in json.dumps(result)

        code, result = run_module(capsys, targets=[{"url": server.url}], duration=0, requests=0, _ansible_check_mode=True)
        assert code == 1 and "unbounded run is refused" in result["msg"]

        code, result = run_module(capsys, targets=[{"url": server.url}], requests=3, _ansible_check_mode=True)
        assert code == 0 and "plan" in result and "report" not in result
        assert len(server.requests) == 4  # the first run's probe and 3 requests; check mode sent nothing
