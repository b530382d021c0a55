# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Post-deploy checks of vLLM pooling endpoints, with the standard library only.

One endpoint is one deployed model reached at a base URL (a Route, a
port-forward, ...). Its checks compare what the server reports with what the
catalogue derived:

- ``health``: ``GET /health`` answers 200 (optionally polled for a while);
- ``models``: ``GET /v1/models`` lists the served name with the catalogue's ``max_model_len``;
- ``embeddings`` (embedding models): ``POST /v1/embeddings`` returns finite vectors of
  ``embedding_dimension`` values, of L2 norm 1 when the model normalises;
- ``score`` and ``rerank`` (rerankers): ``POST /v1/score`` (else ``/score``) and
  ``POST /v1/rerank`` (else ``/rerank``) on a built-in probe set per language: the
  relevant document must rank first and every score must be finite.

Every failure - an HTTP error, a timeout, a refused connection, a TLS or DNS
problem, an answer of the wrong shape - becomes a failed check with a detail
saying what was measured and what was expected; nothing raises.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import socket
import ssl
import time
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import Request, SSLValidationError, make_context

TASKS = ("embed", "score")
CHECKS = ("health", "models", "embeddings", "score", "rerank")
DEFAULT_CHECKS = {"embed": ("health", "models", "embeddings"), "score": ("health", "models", "score", "rerank")}
PASS, FAIL, SKIP = "pass", "fail", "skip"

# A query, the one relevant document and three irrelevant ones per language.
# The relevant document is deliberately not first, so a server that returns
# the input order cannot pass.
PROBES = {
    "en": {
        "query": "How do I reset my account password?",
        "documents": [
            "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
            "Bananas are a good source of potassium and vitamin B6.",
            "To reset your account password, open Settings, choose Security and click Reset password; "
            "we email you a link to choose a new password.",
            "The stock market closed higher on Friday after a week of losses.",
        ],
        "relevant": 2,
    },
    "de": {
        "query": "Wie setze ich das Passwort meines Kontos zurück?",
        "documents": [
            "Der Rhein ist einer der längsten Flüsse Europas.",
            "Um das Passwort Ihres Kontos zurückzusetzen, öffnen Sie die Einstellungen, wählen Sie Sicherheit "
            "und klicken Sie auf Passwort zurücksetzen.",
            "Brot wird aus Mehl, Wasser, Salz und Hefe gebacken.",
            "Die Fußballmannschaft gewann das Spiel mit zwei zu eins.",
        ],
        "relevant": 1,
    },
    "fr": {
        "query": "Comment réinitialiser le mot de passe de mon compte ?",
        "documents": [
            "La tour Eiffel a été achevée en 1889 pour l'Exposition universelle.",
            "Le fromage de chèvre se marie bien avec le miel.",
            "Il a plu toute la journée sur la côte bretonne.",
            "Pour réinitialiser le mot de passe de votre compte, ouvrez les Paramètres, choisissez Sécurité et "
            "cliquez sur Réinitialiser le mot de passe.",
        ],
        "relevant": 3,
    },
}
DEFAULT_LANGUAGES = ("en",)


class CheckError(Exception):
    """A check could not get a usable answer; ``unreachable`` means no HTTP answer at all."""

    def __init__(self, detail, unreachable=False, status=None):
        super(CheckError, self).__init__(detail)
        self.detail = detail
        self.unreachable = unreachable
        self.status = status


def _snippet(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _error_message(body):
    """The message of a vLLM/FastAPI error body, else the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return _snippet(body)
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _snippet(error["message"])
        for key in ("message", "detail", "error"):
            if data.get(key):
                return _snippet(data[key] if isinstance(data[key], str) else json.dumps(data[key]))
    return _snippet(body)


def describe_error(exc, url, timeout, api_key_sent):
    """A CheckError with a one-line, human detail for anything open_url can raise."""
    if isinstance(exc, HTTPError):
        try:
            body = exc.read()
            body = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        except Exception:  # pylint: disable=broad-except
            body = ""
        detail = "HTTP %s %s" % (exc.code, exc.reason or "")
        if exc.code == 401:
            detail += ": %s" % ("the API key was rejected" if api_key_sent else "an API key is required and none was sent")
        elif body:
            detail += ": %s" % _error_message(body)
        return CheckError(detail.strip(), status=exc.code)
    reason = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return CheckError("timed out after %gs (%s)" % (timeout, url), unreachable=True)
    if isinstance(reason, ConnectionRefusedError):
        return CheckError("connection refused (%s)" % url, unreachable=True)
    if isinstance(reason, socket.gaierror):
        return CheckError("cannot resolve the host of %s (%s)" % (url, reason), unreachable=True)
    if isinstance(reason, (ssl.SSLError, SSLValidationError, ssl.CertificateError)):
        return CheckError("TLS error for %s: %s (set validate_certs to false for self-signed certificates)"
                          % (url, _snippet(reason)), unreachable=True)
    if isinstance(reason, (ConnectionResetError, HTTPException)):
        return CheckError("connection closed without an HTTP answer (%s): %s"
                          % (url, _snippet(reason) or type(reason).__name__), unreachable=True)
    return CheckError("cannot reach %s: %s" % (url, _snippet(reason) or type(reason).__name__), unreachable=True)


class Client:
    """JSON over HTTP(S) to one base URL, through ansible's Request (what open_url uses).

    The TLS context is made once per client: open_url would build one (and
    load the CA bundle, ~25 ms) for every request, which would show up as
    latency of the server.
    """

    def __init__(self, base_url, api_key=None, timeout=30.0, validate_certs=True, use_proxy=True):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.timeout = float(timeout)
        self.validate_certs = validate_certs
        self.use_proxy = use_proxy
        self._request = None

    def _opener(self):
        if self._request is None:
            self._request = Request(use_proxy=self.use_proxy, timeout=self.timeout, validate_certs=self.validate_certs,
                                    follow_redirects="safe", use_netrc=False,
                                    context=make_context(validate_certs=self.validate_certs))
        return self._request

    def call(self, method, path, body=None):
        """(status, parsed JSON or None, milliseconds); raises CheckError."""
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = "Bearer %s" % self.api_key
        try:
            opener = self._opener()
            started = time.monotonic()
            response = opener.open(method, url, data=data, headers=headers)
            raw = response.read()
            status = response.getcode()
        except (HTTPError, URLError, SSLValidationError, UrlsConnectionError, HTTPException, OSError,
                ssl.CertificateError, ValueError) as exc:
            raise describe_error(exc, url, self.timeout, self.api_key is not None)
        elapsed = (time.monotonic() - started) * 1000.0
        if not raw:
            return status, None, elapsed
        try:
            return status, json.loads(raw), elapsed
        except ValueError:
            raise CheckError("HTTP %s from %s is not JSON: %s" % (status, path, _snippet(raw.decode("utf-8", "replace"))))


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _result(name, status, detail, latency_ms=None, path=None):
    return {"name": name, "status": status, "ok": status == PASS, "detail": detail, "path": path,
            "latency_ms": None if latency_ms is None else round(latency_ms, 1)}


def check_health(client, wait_seconds=0.0, poll=2.0):
    """GET /health until it answers 200 or wait_seconds have passed."""
    deadline = time.monotonic() + max(float(wait_seconds or 0), 0.0)
    attempts = 0
    while True:
        attempts += 1
        try:
            status, _data, latency = client.call("GET", "/health")
            tries = " after %d attempts" % attempts if attempts > 1 else ""
            return _result("health", PASS, "HTTP %s%s" % (status, tries), latency, "/health")
        except CheckError as exc:
            if time.monotonic() + poll > deadline:
                if attempts > 1:
                    exc.detail += " (still failing after %d attempts in %gs)" % (attempts, float(wait_seconds))
                raise
        time.sleep(poll)


def check_models(client, served_model_name, max_model_len):
    _status, data, latency = client.call("GET", "/v1/models")
    models = data.get("data") if isinstance(data, dict) else None
    if not isinstance(models, list):
        return _result("models", FAIL, "no model list in the answer: %s" % _snippet(json.dumps(data)), latency,
                       "/v1/models")
    ids = [m.get("id") for m in models if isinstance(m, dict)]
    entry = next((m for m in models if isinstance(m, dict) and m.get("id") == served_model_name), None)
    if entry is None:
        return _result("models", FAIL, "served model '%s' is not listed (served: %s)"
                       % (served_model_name, ", ".join(str(i) for i in ids) or "none"), latency, "/v1/models")
    measured = entry.get("max_model_len")
    if max_model_len is None:
        return _result("models", PASS, "'%s' listed, max_model_len %s (no expectation)" % (served_model_name, measured),
                       latency, "/v1/models")
    if measured is None:
        return _result("models", FAIL, "'%s' listed but max_model_len is not reported (expected %s)"
                       % (served_model_name, max_model_len), latency, "/v1/models")
    if measured != max_model_len:
        return _result("models", FAIL, "'%s' max_model_len %s, expected %s from the catalogue"
                       % (served_model_name, measured, max_model_len), latency, "/v1/models")
    return _result("models", PASS, "'%s' listed, max_model_len %s = expected %s"
                   % (served_model_name, measured, max_model_len), latency, "/v1/models")


def check_embeddings(client, served_model_name, dimension, normalize, languages, tolerance):
    texts = []
    for language in languages:
        probe = PROBES[language]
        texts += [probe["query"], probe["documents"][probe["relevant"]]]
    _status, data, latency = client.call("POST", "/v1/embeddings",
                                         {"model": served_model_name, "input": texts, "encoding_format": "float"})
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != len(texts):
        return _result("embeddings", FAIL, "expected %d embeddings, got: %s"
                       % (len(texts), _snippet(json.dumps(data))), latency, "/v1/embeddings")
    vectors = [item.get("embedding") if isinstance(item, dict) else None
               for item in sorted(items, key=lambda i: i.get("index", 0) if isinstance(i, dict) else 0)]
    for vector in vectors:
        if not isinstance(vector, list) or not vector or not all(_finite(x) for x in vector):
            return _result("embeddings", FAIL, "an embedding is not a list of finite numbers: %s"
                           % _snippet(json.dumps(vector)), latency, "/v1/embeddings")
    lengths = sorted(set(len(v) for v in vectors))
    norms = [math.sqrt(sum(x * x for x in v)) for v in vectors]
    norm_text = "L2 norm %.4f" % norms[0] if max(norms) - min(norms) < 5e-5 else \
        "L2 norms %.4f-%.4f" % (min(norms), max(norms))
    problems = []
    if dimension is not None and lengths != [dimension]:
        problems.append("dimension %s, expected %s" % ("/".join(str(n) for n in lengths), dimension))
    if normalize and any(abs(n - 1.0) > tolerance for n in norms):
        problems.append("%s, expected 1 (the model normalises; tolerance %g)" % (norm_text, tolerance))
    if problems:
        return _result("embeddings", FAIL, "; ".join(problems), latency, "/v1/embeddings")
    return _result("embeddings", PASS, "%d vectors of dimension %s%s, %s%s" % (
        len(vectors), "/".join(str(n) for n in lengths), "" if dimension is None else " = expected",
        norm_text, " (normalised, as expected)" if normalize else " (not checked: the model does not normalise)"),
        latency, "/v1/embeddings")


def _post_first(client, paths, body):
    """POST to the first of paths that exists (404 -> next); (path, data, ms)."""
    last = None
    for index, path in enumerate(paths):
        try:
            _status, data, latency = client.call("POST", path, body)
            return path, data, latency
        except CheckError as exc:
            if exc.status == 404 and index + 1 < len(paths):
                last = exc
                continue
            if exc.status == 404 and last is not None:
                exc.detail = "%s on %s" % (exc.detail, " and ".join(paths))
            raise
    raise last  # pragma: no cover - the loop always returns or raises


def _ranking(language, scores, relevant, documents):
    """(ok, text) of one language's scores (list aligned with documents)."""
    if len(scores) != len(documents) or not all(_finite(s) for s in scores):
        return False, "%s: expected %d finite scores, got %s" % (language, len(documents), _snippet(json.dumps(scores)))
    best = max(range(len(scores)), key=lambda i: scores[i])
    others = [s for i, s in enumerate(scores) if i != relevant]
    if best != relevant or scores[relevant] <= max(others):
        return False, "%s: ranked '%s' first (%.4g), the relevant '%s' has %.4g" % (
            language, _snippet(documents[best], 40), scores[best], _snippet(documents[relevant], 40),
            scores[relevant])
    return True, "%s: relevant first (%.4g > %.4g)" % (language, scores[relevant], max(others))


def check_score(client, served_model_name, languages, paths):
    texts, ok, latency, used = [], True, 0.0, None
    for language in languages:
        probe = PROBES[language]
        used, data, ms = _post_first(client, paths, {"model": served_model_name, "text_1": probe["query"],
                                                     "text_2": probe["documents"]})
        latency += ms
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return _result("score", FAIL, "%s: no score list in the answer: %s"
                           % (language, _snippet(json.dumps(data))), latency, used)
        items = sorted((i for i in items if isinstance(i, dict)), key=lambda i: i.get("index", 0))
        good, text = _ranking(language, [i.get("score") for i in items], probe["relevant"], probe["documents"])
        ok, texts = ok and good, texts + [text]
    return _result("score", PASS if ok else FAIL, "; ".join(texts), latency, used)


def check_rerank(client, served_model_name, languages, paths):
    texts, ok, latency, used = [], True, 0.0, None
    for language in languages:
        probe = PROBES[language]
        used, data, ms = _post_first(client, paths, {"model": served_model_name, "query": probe["query"],
                                                     "documents": probe["documents"]})
        latency += ms
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or not results:
            return _result("rerank", FAIL, "%s: no results in the answer: %s"
                           % (language, _snippet(json.dumps(data))), latency, used)
        scores = [None] * len(probe["documents"])
        for item in results:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and 0 <= index < len(scores):
                scores[index] = item.get("relevance_score")
        top = results[0].get("index") if isinstance(results[0], dict) else None
        good, text = _ranking(language, scores, probe["relevant"], probe["documents"])
        if good and top != probe["relevant"]:
            good, text = False, "%s: the first result is document %s, not the relevant %d" % (
                language, top, probe["relevant"])
        ok, texts = ok and good, texts + [text]
    return _result("rerank", PASS if ok else FAIL, "; ".join(texts), latency, used)


def _paths(candidates, prefix):
    """The candidate paths a Route with path prefix exposes (all when no prefix)."""
    if not prefix or prefix == "/":
        return list(candidates)
    prefix = "/" + prefix.strip("/")
    return [p for p in candidates if p == prefix or p.startswith(prefix + "/")]


def check_endpoint(endpoint, timeout=30.0, wait_healthy=0.0, languages=DEFAULT_LANGUAGES, tolerance=0.01,
                   use_proxy=True):
    """Run every check of one endpoint; returns {name, url, ..., ok, checks: [...]}."""
    name = endpoint["name"]
    task = endpoint.get("task") or "embed"
    checks = list(endpoint.get("checks") or DEFAULT_CHECKS.get(task, DEFAULT_CHECKS["embed"]))
    url = (endpoint.get("url") or "").strip()
    report = {"name": name, "url": url, "served_model_name": endpoint.get("served_model_name") or name,
              "task": task, "checks": []}
    if not url:
        reason = endpoint.get("unreachable_reason") or "no URL"
        report["checks"].append(_result("endpoint", FAIL, "not checked: %s" % reason))
        report["ok"] = False
        return report
    client = Client(url, api_key=endpoint.get("api_key"), timeout=timeout,
                    validate_certs=endpoint.get("validate_certs", True), use_proxy=use_proxy)
    prefix = endpoint.get("path_prefix") or ""
    served = report["served_model_name"]
    unreachable = None
    for check in checks:
        candidates = {"health": ["/health"], "models": ["/v1/models"], "embeddings": ["/v1/embeddings"],
                      "score": ["/v1/score", "/score"], "rerank": ["/v1/rerank", "/rerank"]}[check]
        paths = _paths(candidates, prefix)
        if not paths:
            report["checks"].append(_result(check, SKIP, "not run: the Route only exposes %s" % prefix,
                                            path=candidates[0]))
            continue
        if unreachable is not None:
            report["checks"].append(_result(check, SKIP, "not run: %s is unreachable (%s)" % (url, unreachable),
                                            path=paths[0]))
            continue
        started = time.monotonic()
        try:
            if check == "health":
                result = check_health(client, wait_healthy)
            elif check == "models":
                result = check_models(client, served, endpoint.get("max_model_len"))
            elif check == "embeddings":
                result = check_embeddings(client, served, endpoint.get("embedding_dimension"),
                                          bool(endpoint.get("normalize")), languages, tolerance)
            elif check == "score":
                result = check_score(client, served, languages, paths)
            else:
                result = check_rerank(client, served, languages, paths)
        except CheckError as exc:
            result = _result(check, FAIL, exc.detail, (time.monotonic() - started) * 1000.0, paths[0])
            if exc.unreachable:
                unreachable = "%s failed" % check
        report["checks"].append(result)
    report["ok"] = not any(c["status"] == FAIL for c in report["checks"])
    return report


def check_endpoints(endpoints, timeout=30.0, wait_healthy=0.0, languages=DEFAULT_LANGUAGES, tolerance=0.01,
                    use_proxy=True):
    """Check every endpoint; {endpoints, rows, failed_checks, summary}. Never raises for a bad endpoint."""
    unknown = [lang for lang in languages if lang not in PROBES]
    if unknown:
        raise ValueError("unknown probe language(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(PROBES))))
    reports = [check_endpoint(e, timeout, wait_healthy, languages, tolerance, use_proxy) for e in endpoints]
    rows, failed = [], []
    for report in reports:
        for check in report["checks"]:
            rows.append({"model": report["name"], "check": check["name"], "status": check["status"].upper(),
                         "detail": check["detail"], "latency_ms": check["latency_ms"], "url": report["url"]})
            if check["status"] == FAIL:
                failed.append({"model": report["name"], "check": check["name"], "detail": check["detail"]})
    counts = dict((status, sum(1 for r in rows if r["status"] == status.upper())) for status in (PASS, FAIL, SKIP))
    return {"endpoints": reports, "rows": rows, "failed_checks": failed,
            "summary": {"endpoints": len(reports), "endpoints_ok": sum(1 for r in reports if r["ok"]),
                        "checks": len(rows), "passed": counts[PASS], "failed": counts[FAIL], "skipped": counts[SKIP]}}
