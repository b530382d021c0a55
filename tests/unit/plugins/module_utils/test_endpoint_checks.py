"""endpoint_checks and the vllm_endpoint_check module against ScriptedVllmStandIn.

ScriptedVllmStandIn is NOT vLLM: it is a small stdlib HTTP server (a thread on 127.0.0.1) that answers
/health, /v1/models, /v1/embeddings, /v1/score (/score) and /v1/rerank (/rerank) in vLLM's shapes and can be
scripted to misbehave one way at a time (wrong max_model_len, wrong dimension, unnormalised vectors, a wrong
ranking, an API key, slowness, a dropped connection, ...). The same checks run against real vLLM on CPU in
tests/vllm/test_verify_vllm.py.
"""

import json
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins.module_utils import endpoint_checks
from ansible_collections.embedserve.vllm.plugins.module_utils.endpoint_checks import PROBES, check_endpoints
from ansible_collections.embedserve.vllm.plugins.modules import vllm_endpoint_check

RELEVANT = dict((probe["documents"][probe["relevant"]], True) for probe in PROBES.values())


class ScriptedVllmStandIn:
    """A scripted stand-in for a vLLM pooling server (see the module docstring)."""

    def __init__(self, served="minilm", max_model_len=256, dimension=384, norm=1.0, api_key=None, ranking="right",
                 score_value=None, health_delay=0.0, unhealthy_first=0, prefixed_scoring=True, drop_connection=False,
                 status_override=None, not_json=False):
        self.served, self.max_model_len, self.dimension, self.norm = served, max_model_len, dimension, norm
        self.api_key, self.ranking, self.score_value = api_key, ranking, score_value
        self.health_delay, self.unhealthy_left = health_delay, unhealthy_first
        self.prefixed_scoring, self.drop_connection = prefixed_scoring, drop_connection
        self.status_override = status_override or {}
        self.not_json = not_json
        self.requests = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stand_in.handle(self, None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                stand_in.handle(self, json.loads(self.rfile.read(length) or b"null"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- answers ------------------------------------------------------------
    def _send(self, handler, status, body):
        if self.not_json and status == 200 and body is not None:
            payload = b"<html>router page</html>"
        else:
            payload = b"" if body is None else json.dumps(body).encode()  # NaN stays NaN, as Python servers send
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _scores(self, documents):
        if self.score_value is not None:
            return [self.score_value] * len(documents)
        if self.ranking == "right":
            return [0.9 if doc in RELEVANT else 0.1 + 0.01 * i for i, doc in enumerate(documents)]
        return [0.95 if i == 0 else (0.5 if doc in RELEVANT else 0.1) for i, doc in enumerate(documents)]

    def _vector(self, seed):
        raw = [math.sin(seed + i) + 0.5 for i in range(self.dimension)]
        length = math.sqrt(sum(x * x for x in raw))
        return [x / length * self.norm for x in raw]

    def handle(self, handler, body):
        path = handler.path
        self.requests.append((handler.command, path, handler.headers.get("Authorization")))
        if self.drop_connection:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if path in self.status_override:
            return self._send(handler, self.status_override[path],
                              {"object": "error", "message": "scripted failure on %s" % path, "code": 500})
        if self.api_key and path.startswith("/v1"):
            if handler.headers.get("Authorization") != "Bearer %s" % self.api_key:
                return self._send(handler, 401, {"error": "Unauthorized"})
        if path == "/health":
            time.sleep(self.health_delay)
            if self.unhealthy_left > 0:
                self.unhealthy_left -= 1
                return self._send(handler, 503, None)
            return self._send(handler, 200, None)
        if path == "/v1/models":
            return self._send(handler, 200, {"object": "list", "data": [
                {"id": self.served, "object": "model", "owned_by": "vllm", "max_model_len": self.max_model_len}]})
        if body is not None and body.get("model") != self.served:
            return self._send(handler, 404, {"error": {"message": "The model `%s` does not exist." % body.get("model"),
                                                       "type": "NotFoundError", "code": 404}})
        if path == "/v1/embeddings":
            return self._send(handler, 200, {"object": "list", "data": [
                {"index": i, "object": "embedding", "embedding": self._vector(i)} for i in range(len(body["input"]))]})
        scoring = ("/v1/score", "/score", "/v1/rerank", "/rerank") if self.prefixed_scoring else ("/score", "/rerank")
        if path in scoring and path.endswith("score"):
            scores = self._scores(body["text_2"])
            return self._send(handler, 200, {"object": "list", "data": [
                {"index": i, "object": "score", "score": s} for i, s in enumerate(scores)]})
        if path in scoring and path.endswith("rerank"):
            scores = self._scores(body["documents"])
            order = sorted(range(len(scores)), key=lambda i: -scores[i])
            return self._send(handler, 200, {"model": self.served, "results": [
                {"index": i, "document": {"text": body["documents"][i]}, "relevance_score": scores[i]}
                for i in order]})
        return self._send(handler, 404, {"detail": "Not Found"})


def endpoint(url, **extra):
    base = {"name": "minilm", "url": url, "served_model_name": "minilm", "task": "embed", "max_model_len": 256,
            "embedding_dimension": 384, "normalize": True}
    base.update(extra)
    return base


def reranker(url, **extra):
    base = {"name": "msmarco", "url": url, "served_model_name": "minilm", "task": "score", "max_model_len": 256}
    base.update(extra)
    return base


def checks_of(result, index=0):
    return dict((c["name"], c) for c in result["endpoints"][index]["checks"])


def test_embedding_model_passes_every_check():
    with ScriptedVllmStandIn() as srv:
        result = check_endpoints([endpoint(srv.url)])
    checks = checks_of(result)
    assert list(checks) == ["health", "models", "embeddings"]
    assert all(c["status"] == "pass" and c["ok"] for c in checks.values())
    assert all(isinstance(c["latency_ms"], float) and c["latency_ms"] >= 0 for c in checks.values())
    assert "max_model_len 256 = expected 256" in checks["models"]["detail"]
    assert "2 vectors of dimension 384 = expected" in checks["embeddings"]["detail"]
    assert "L2 norm 1.0000" in checks["embeddings"]["detail"]
    assert result["failed_checks"] == []
    assert result["summary"] == {"endpoints": 1, "endpoints_ok": 1, "checks": 3, "passed": 3, "failed": 0,
                                 "skipped": 0}
    assert [r["status"] for r in result["rows"]] == ["PASS"] * 3


def test_reranker_passes_score_and_rerank_in_three_languages():
    with ScriptedVllmStandIn() as srv:
        result = check_endpoints([reranker(srv.url)], languages=["en", "de", "fr"])
        posted = [path for method, path, _auth in srv.requests if method == "POST"]
    checks = checks_of(result)
    assert list(checks) == ["health", "models", "score", "rerank"]
    assert all(c["ok"] for c in checks.values()), checks
    for name in ("score", "rerank"):
        assert [part.split(":")[0] for part in checks[name]["detail"].split("; ")] == ["en", "de", "fr"]
    assert posted == ["/v1/score"] * 3 + ["/v1/rerank"] * 3
    assert checks["score"]["path"] == "/v1/score"


def test_wrong_max_model_len_is_named():
    with ScriptedVllmStandIn(max_model_len=512) as srv:
        result = check_endpoints([endpoint(srv.url)])
    checks = checks_of(result)
    assert checks["models"]["status"] == "fail"
    assert checks["models"]["detail"] == "'minilm' max_model_len 512, expected 256 from the catalogue"
    assert checks["embeddings"]["ok"]  # the other checks still ran
    assert result["failed_checks"] == [{"model": "minilm", "check": "models", "detail": checks["models"]["detail"]}]
    assert result["endpoints"][0]["ok"] is False


def test_served_name_not_listed():
    with ScriptedVllmStandIn(served="other") as srv:
        result = check_endpoints([endpoint(srv.url)])
    checks = checks_of(result)
    assert checks["models"]["detail"] == "served model 'minilm' is not listed (served: other)"
    assert checks["embeddings"]["status"] == "fail"
    assert "The model `minilm` does not exist" in checks["embeddings"]["detail"]


def test_wrong_dimension():
    with ScriptedVllmStandIn(dimension=768) as srv:
        result = check_endpoints([endpoint(srv.url)])
    assert checks_of(result)["embeddings"]["detail"] == "dimension 768, expected 384"


@pytest.mark.parametrize("normalize, ok", [(True, False), (False, True)])
def test_unnormalised_vectors_fail_only_for_normalising_models(normalize, ok):
    with ScriptedVllmStandIn(norm=3.0) as srv:
        result = check_endpoints([endpoint(srv.url, normalize=normalize)])
    check = checks_of(result)["embeddings"]
    assert check["ok"] is ok
    assert "L2 norm 3.0000" in check["detail"]
    if ok:
        assert "not checked: the model does not normalise" in check["detail"]
    else:
        assert "expected 1 (the model normalises" in check["detail"]


def test_reranker_ranking_the_wrong_document_first():
    with ScriptedVllmStandIn(ranking="wrong") as srv:
        result = check_endpoints([reranker(srv.url)])
    checks = checks_of(result)
    for name in ("score", "rerank"):
        assert checks[name]["status"] == "fail"
        assert checks[name]["detail"] == (
            "en: ranked 'The Eiffel Tower in Paris was completed ...' first (0.95), "
            "the relevant 'To reset your account password, open Set...' has 0.5")
    assert [f["check"] for f in result["failed_checks"]] == ["score", "rerank"]


def test_non_finite_scores_fail():
    with ScriptedVllmStandIn(score_value=float("nan")) as srv:
        result = check_endpoints([reranker(srv.url)])
    checks = checks_of(result)
    assert checks["score"]["status"] == "fail" and "expected 4 finite scores" in checks["score"]["detail"]
    assert checks["rerank"]["status"] == "fail" and "NaN" in checks["rerank"]["detail"]


def test_unprefixed_score_and_rerank_are_the_fallback():
    with ScriptedVllmStandIn(prefixed_scoring=False) as srv:
        result = check_endpoints([reranker(srv.url)])
        posted = [path for method, path, _auth in srv.requests if method == "POST"]
    checks = checks_of(result)
    assert checks["score"]["ok"] and checks["score"]["path"] == "/score"
    assert checks["rerank"]["ok"] and checks["rerank"]["path"] == "/rerank"
    assert posted == ["/v1/score", "/score", "/v1/rerank", "/rerank"]


def test_route_path_prefix_skips_what_the_route_does_not_expose():
    with ScriptedVllmStandIn(prefixed_scoring=False) as srv:
        result = check_endpoints([reranker(srv.url, path_prefix="/v1")])
    checks = checks_of(result)
    assert checks["health"]["status"] == "skip"
    assert checks["health"]["detail"] == "not run: the Route only exposes /v1"
    assert checks["models"]["ok"]
    # only /v1/score is tried: the stand-in has none, and /score is not reachable through such a Route
    assert checks["score"]["status"] == "fail" and checks["score"]["detail"].startswith("HTTP 404")
    assert result["summary"]["skipped"] == 1 and result["summary"]["failed"] == 2


def test_api_key_401_without_key_and_200_with_it():
    with ScriptedVllmStandIn(api_key="s3cret") as srv:
        without = check_endpoints([endpoint(srv.url)])
        wrong = check_endpoints([endpoint(srv.url, api_key="nope")])
        with_key = check_endpoints([endpoint(srv.url, api_key="s3cret")])
        sent = [auth for _method, _path, auth in srv.requests]
    checks = checks_of(without)
    assert checks["health"]["ok"]  # vLLM does not protect /health
    assert checks["models"]["detail"] == "HTTP 401 Unauthorized: an API key is required and none was sent"
    assert checks["embeddings"]["status"] == "fail"
    assert checks_of(wrong)["models"]["detail"] == "HTTP 401 Unauthorized: the API key was rejected"
    assert all(c["ok"] for c in checks_of(with_key).values())
    assert "Bearer s3cret" in sent and "Bearer nope" in sent


def test_timeout_is_a_failed_check_and_skips_the_rest():
    with ScriptedVllmStandIn(health_delay=3) as srv:
        started = time.monotonic()
        result = check_endpoints([endpoint(srv.url)], timeout=0.5)
        elapsed = time.monotonic() - started
    checks = checks_of(result)
    assert checks["health"]["status"] == "fail"
    assert checks["health"]["detail"] == "timed out after 0.5s (%s/health)" % srv.url
    assert [checks[n]["status"] for n in ("models", "embeddings")] == ["skip", "skip"]
    assert checks["models"]["detail"] == "not run: %s is unreachable (health failed)" % srv.url
    assert elapsed < 3
    assert result["endpoints"][0]["ok"] is False


def test_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = check_endpoints([endpoint("http://127.0.0.1:%d" % port)])
    checks = checks_of(result)
    assert checks["health"]["detail"] == "connection refused (http://127.0.0.1:%d/health)" % port
    assert checks["models"]["status"] == "skip"


def test_connection_closed_without_an_answer():
    """What kubectl port-forward does when the pod side of the tunnel fails."""
    with ScriptedVllmStandIn(drop_connection=True) as srv:
        result = check_endpoints([endpoint(srv.url)])
    detail = checks_of(result)["health"]["detail"]
    assert detail.startswith("connection closed without an HTTP answer (%s/health)" % srv.url)


def test_unknown_host():
    result = check_endpoints([endpoint("https://minilm.verify.invalid")], timeout=5)
    assert checks_of(result)["health"]["detail"].startswith("cannot resolve the host of https://minilm.verify.invalid")


def test_server_error_message_is_shown():
    with ScriptedVllmStandIn(status_override={"/v1/embeddings": 500}) as srv:
        result = check_endpoints([endpoint(srv.url)])
    assert checks_of(result)["embeddings"]["detail"] == ("HTTP 500 Internal Server Error: scripted failure on "
                                                         "/v1/embeddings")


def test_answer_that_is_not_json():
    with ScriptedVllmStandIn(not_json=True) as srv:
        result = check_endpoints([endpoint(srv.url)])
    assert checks_of(result)["models"]["detail"] == "HTTP 200 from /v1/models is not JSON: <html>router page</html>"


def test_wait_healthy_polls_until_ready():
    with ScriptedVllmStandIn(unhealthy_first=2) as srv:
        once = check_endpoints([endpoint(srv.url)])
        waited = check_endpoints([endpoint(srv.url)], wait_healthy=10)
    assert checks_of(once)["health"]["detail"] == "HTTP 503 Service Unavailable"
    assert checks_of(once)["models"]["ok"]  # an HTTP answer: the server is reachable, the rest still runs
    assert checks_of(waited)["health"]["detail"] == "HTTP 200 after 2 attempts"


def test_no_url_is_a_failure_with_the_reason():
    result = check_endpoints([{"name": "granite", "url": "", "served_model_name": "granite",
                               "unreachable_reason": "no Route host and port-forward disabled"}])
    assert result["endpoints"][0]["checks"] == [{
        "name": "endpoint", "status": "fail", "ok": False, "path": None, "latency_ms": None,
        "detail": "not checked: no Route host and port-forward disabled"}]
    assert result["failed_checks"][0]["model"] == "granite"


def test_explicit_checks_add_score_and_rerank_to_an_embedding_model():
    with ScriptedVllmStandIn() as srv:
        result = check_endpoints([endpoint(srv.url, checks=["models", "score", "rerank"])])
    assert [c["name"] for c in result["endpoints"][0]["checks"]] == ["models", "score", "rerank"]
    assert result["summary"]["passed"] == 3


def test_every_endpoint_is_checked_even_after_a_failure():
    with ScriptedVllmStandIn(max_model_len=128) as bad, ScriptedVllmStandIn() as good:
        result = check_endpoints([endpoint(bad.url), reranker(good.url)])
    assert [e["ok"] for e in result["endpoints"]] == [False, True]
    assert result["summary"]["endpoints_ok"] == 1


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown probe language"):
        check_endpoints([], languages=["xx"])


def test_probe_sets_never_put_the_relevant_document_first():
    for probe in PROBES.values():
        assert probe["relevant"] != 0 and len(probe["documents"]) == 4


# -- the module ---------------------------------------------------------------

def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        vllm_endpoint_check.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_module_fails_after_checking_everything(capsys):
    with ScriptedVllmStandIn(max_model_len=128, api_key="k3y") as srv:
        code, result = run_module(capsys, endpoints=[endpoint(srv.url, api_key="k3y"), reranker(srv.url, api_key="k3y")])
    assert code == 1 and result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("2 of 7 checks failed: minilm models: 'minilm' max_model_len 128, expected 256")
    assert "msmarco models" in result["msg"]
    assert len(result["endpoints"]) == 2 and result["summary"]["passed"] == 5
    assert "k3y" not in json.dumps(result)


def test_module_fail_on_error_false_reports_without_failing(capsys):
    with ScriptedVllmStandIn(dimension=10) as srv:
        code, result = run_module(capsys, endpoints=[endpoint(srv.url)], fail_on_error=False)
    assert code == 0 and not result.get("failed") and result["changed"] is False
    assert result["failed_checks"] == [{"model": "minilm", "check": "embeddings",
                                        "detail": "dimension 10, expected 384"}]


def test_module_check_mode_runs_the_checks(capsys):
    with ScriptedVllmStandIn() as srv:
        code, result = run_module(capsys, endpoints=[endpoint(srv.url)], _ansible_check_mode=True)
        assert any(path == "/v1/embeddings" for _m, path, _a in srv.requests)
    assert code == 0 and result["changed"] is False and result["summary"]["passed"] == 3


def test_module_casts_survey_strings(capsys):
    with ScriptedVllmStandIn() as srv:
        code, result = run_module(capsys, endpoints=[endpoint(srv.url, max_model_len="256", embedding_dimension="384",
                                                              normalize="true")], timeout="5")
    assert code == 0 and result["summary"]["failed"] == 0


def test_module_refuses_unknown_language(capsys):
    code, result = run_module(capsys, endpoints=[], probe_languages=["xx"])
    assert code == 1 and "unknown probe language(s) xx" in result["msg"]


def test_describe_error_of_a_tls_failure():
    import ssl

    error = endpoint_checks.describe_error(
        endpoint_checks.URLError(ssl.SSLCertVerificationError("certificate verify failed")),
        "https://x.example/health", 30, False)
    assert error.unreachable and "set validate_certs to false" in error.detail
