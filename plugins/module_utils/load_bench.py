# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Bounded HTTP load on embedding and rerank endpoints, one or two targets compared.

Design (documented in docs/benchmark.md):

- Targets run one after the other with identical settings and identical request
  bodies (request ``i`` carries the same texts for every target), never at the
  same time: the load generator shares the controller's CPU and often the
  network path with both targets, so running them together would measure the
  contention.  ``rounds`` > 1 splits the run into A, B, A, B, ... segments so
  that slow drift (autoscaling, other tenants) hits both targets alike.
- Each target: one probe request (a failure skips the target: a wrong URL or
  key is reported at once instead of as N identical errors), a warm-up (first
  round only, discarded), then the measured phase.  ``concurrency`` worker
  threads each keep one HTTP/1.1 keep-alive connection (``http.client``) and
  send the next request as soon as the previous answer is read (closed loop).
  The phase ends at ``duration`` seconds or after ``requests`` requests,
  whichever comes first; requests in flight at the deadline are completed and
  counted, and the elapsed time runs until the last one is answered.
- Latency is measured from sending the request to having read the whole body
  (JSON parsing excluded), for successful requests only.  Percentiles use
  linear interpolation between closest ranks (numpy's default).
- Input tokens come from the server when it reports them (OpenAI/vLLM
  ``usage.prompt_tokens``, Caikit ``input_token_count``, TEI's
  ``x-compute-tokens`` header); otherwise from an estimate (one token per
  generated word plus the special tokens), flagged as such.

Only the standard library is used, so the module runs on any controller or
execution environment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.client
import json
import math
import os
import platform
import random
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from ansible_collections.embedserve.vllm.plugins.module_utils.report import text_table

KINDS = ("embeddings", "rerank")
FLAVOURS = ("openai", "tei", "caikit")
DEFAULT_PATHS = {
    ("openai", "embeddings"): "/v1/embeddings",
    ("openai", "rerank"): "/v1/rerank",
    ("tei", "embeddings"): "/embed",
    ("tei", "rerank"): "/rerank",
    ("caikit", "embeddings"): "/api/v1/task/embedding-tasks",
    ("caikit", "rerank"): "/api/v1/task/rerank",
}
# Special tokens a BERT-style tokenizer adds: [CLS] x [SEP] for one text,
# [CLS] q [SEP] d [SEP] for a cross-encoder pair.
SPECIAL_TOKENS_SINGLE = 2
SPECIAL_TOKENS_PAIR = 3

DEFAULTS = {
    "kind": "embeddings",
    "concurrency": 4,
    "duration": 30.0,
    "requests": 0,
    "warmup": 5.0,
    "rounds": 1,
    "words_per_input": 64,
    "inputs_per_request": 8,
    "query_words": 12,
    "seed": 0,
    "timeout": 60.0,
    "validate_certs": True,
    "ca_path": None,
}
# (minimum, maximum): keeps every run bounded in time and memory.
LIMITS = {
    "concurrency": (1, 256),
    "duration": (0.0, 3600.0),
    "requests": (0, 1000000),
    "warmup": (0.0, 600.0),
    "rounds": (1, 20),
    "words_per_input": (1, 4096),
    "inputs_per_request": (1, 2048),
    "query_words": (1, 512),
    "timeout": (0.1, 3600.0),
}
TARGET_KEYS = ("name", "url", "flavour", "model", "api_key", "headers", "path", "validate_certs", "ca_path")
MAX_ERROR_SAMPLES = 3

# Common English words that BERT-style WordPiece vocabularies (and most others)
# hold as single tokens, so the estimate "one token per word" stays close.
WORDS = (
    "the of and to in is was for on that with as by it at from his an were are which this be or has had not "
    "first one their its new after but who they have her she two been other when there all during into school "
    "time may years more most only over city some world would where later up such used many can state about "
    "national out known university united then made team between war also group three him what people well "
    "game north south east west river water film music house family power light early long high small large "
    "part place name book life work line road story day night home year country market system service "
    "data model text word page table server cloud client test value order price money paper field sound color "
    "red blue green black white old young good great best last next same each every own just very much "
    "make take give find keep show move turn run read write learn play open close start stop help call ask "
    "build grow send hold bring begin carry change follow happen leave live meet offer pay plan reach serve"
).split()


class BenchError(ValueError):
    """Invalid settings or targets."""


class HttpStatusError(Exception):
    def __init__(self, status, detail):
        super(HttpStatusError, self).__init__("HTTP %d: %s" % (status, detail))
        self.status = status
        self.detail = detail


class BadResponse(ValueError):
    """The server answered 2xx with a body that is not what the endpoint returns."""


# ---------------------------------------------------------------------------
# settings and targets
# ---------------------------------------------------------------------------
def normalise_settings(settings):
    """Settings with defaults applied, numbers cast (survey strings welcome) and bounds checked."""
    out = dict(DEFAULTS)
    for key, value in (settings or {}).items():
        if key not in DEFAULTS:
            raise BenchError("unknown setting %r (known: %s)" % (key, ", ".join(sorted(DEFAULTS))))
        if value is not None and value != "":  # an unanswered survey question keeps the default
            out[key] = value
    if out["kind"] not in KINDS:
        raise BenchError("kind must be one of %s, got %r" % (", ".join(KINDS), out["kind"]))
    for key, (low, high) in LIMITS.items():
        cast = float if isinstance(low, float) else int
        try:
            out[key] = cast(float(out[key])) if cast is int else cast(out[key])
        except (TypeError, ValueError):
            raise BenchError("%s must be a number, got %r" % (key, out[key]))
        if not low <= out[key] <= high:
            raise BenchError("%s must be between %s and %s, got %s" % (key, low, high, out[key]))
    out["seed"] = str(out["seed"])
    out["validate_certs"] = _boolean(out["validate_certs"], "validate_certs")
    if out["duration"] <= 0 and out["requests"] <= 0:
        raise BenchError("set duration (seconds) or requests (count), or both: an unbounded run is refused")
    return out


def _boolean(value, name):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f"):
        return False
    raise BenchError("%s must be a boolean, got %r" % (name, value))


def normalise_targets(targets, settings):
    """Checked copies of one or two targets with the endpoint path and defaults filled in."""
    if not isinstance(targets, list) or not 1 <= len(targets) <= 2:
        raise BenchError("give one or two targets (a list), got %r" % (type(targets).__name__,))
    out = []
    for position, target in enumerate(targets):
        if not isinstance(target, dict):
            raise BenchError("target %d must be a dict" % (position + 1))
        unknown = sorted(set(target) - set(TARGET_KEYS))
        if unknown:
            raise BenchError("target %d: unknown keys %s (known: %s)"
                             % (position + 1, ", ".join(unknown), ", ".join(TARGET_KEYS)))
        name = str(target.get("name") or "ab"[position].upper())
        flavour = str(target.get("flavour") or "openai")
        if flavour not in FLAVOURS:
            raise BenchError("target %s: flavour must be one of %s, got %r" % (name, ", ".join(FLAVOURS), flavour))
        url = str(target.get("url") or "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BenchError("target %s: url must be http(s)://host[:port][/prefix], got %r" % (name, url))
        if parts.username or parts.password:
            raise BenchError("target %s: put credentials in api_key or headers, not in the url" % name)
        try:
            port = parts.port
        except ValueError:
            raise BenchError("target %s: invalid port in %r" % (name, url))
        model = target.get("model")
        model = str(model) if model not in (None, "") else None
        if flavour == "caikit" and model is None:
            raise BenchError("target %s: a caikit target needs model (the model_id)" % name)
        path = target.get("path") or DEFAULT_PATHS[(flavour, settings["kind"])]
        if not str(path).startswith("/"):
            raise BenchError("target %s: path must start with /, got %r" % (name, path))
        headers = target.get("headers") or {}
        if not isinstance(headers, dict):
            raise BenchError("target %s: headers must be a dict" % name)
        validate = settings["validate_certs"] if target.get("validate_certs") is None else \
            _boolean(target["validate_certs"], "validate_certs")
        out.append({
            "name": name,
            "flavour": flavour,
            "model": model,
            "scheme": parts.scheme,
            "host": parts.hostname,
            "port": port or (443 if parts.scheme == "https" else 80),
            "request_path": parts.path.rstrip("/") + str(path) + ("?" + parts.query if parts.query else ""),
            "url": url.rstrip("/"),
            "endpoint": "%s://%s%s" % (parts.scheme, parts.netloc, parts.path.rstrip("/") + str(path)),
            "api_key": target.get("api_key") or None,
            "headers": dict((str(k), str(v)) for k, v in headers.items()),
            "validate_certs": validate,
            "ca_path": target.get("ca_path") or settings.get("ca_path"),
        })
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise BenchError("target names must differ, got %s twice" % names[0])
    return out


# ---------------------------------------------------------------------------
# deterministic inputs and request bodies
# ---------------------------------------------------------------------------
def make_text(rng, words):
    return " ".join(rng.choice(WORDS) for dummy in range(words))


def request_inputs(settings, index):
    """The texts of request ``index`` (an int, or a label such as "warmup-3"): the same for every target."""
    rng = random.Random("%s/%s" % (settings["seed"], index))
    texts = [make_text(rng, settings["words_per_input"]) for dummy in range(settings["inputs_per_request"])]
    if settings["kind"] == "rerank":
        return {"query": make_text(rng, settings["query_words"]), "documents": texts}
    return {"texts": texts}


def estimate_tokens(settings):
    """Input tokens of one request for a BERT-style tokenizer (one token per generated word)."""
    words, count = settings["words_per_input"], settings["inputs_per_request"]
    if settings["kind"] == "rerank":  # a cross-encoder sees (query, document) pairs
        return count * (settings["query_words"] + words + SPECIAL_TOKENS_PAIR)
    return count * (words + SPECIAL_TOKENS_SINGLE)


def request_body(target, settings, inputs):
    """JSON body of one request in the target's API flavour."""
    flavour, model = target["flavour"], target["model"]
    if settings["kind"] == "embeddings":
        texts = inputs["texts"]
        if flavour == "openai":
            body = {"input": texts, "encoding_format": "float"}
            if model:
                body["model"] = model
            return body
        if flavour == "tei":
            return {"inputs": texts}
        return {"model_id": model, "inputs": texts}
    query, documents = inputs["query"], inputs["documents"]
    if flavour == "openai":
        body = {"query": query, "documents": documents}
        if model:
            body["model"] = model
        return body
    if flavour == "tei":
        return {"query": query, "texts": documents}
    return {"model_id": model, "inputs": {"query": query, "documents": [{"text": d} for d in documents]}}


def request_headers(target):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if target["api_key"]:
        headers["Authorization"] = "Bearer %s" % target["api_key"]
    headers.update(target["headers"])
    return headers


# ---------------------------------------------------------------------------
# responses: validation and token accounting
# ---------------------------------------------------------------------------
def _int_or_none(value):
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def parse_response(target, settings, body, headers):
    """(items returned, input tokens reported by the server or None); BadResponse if the body is wrong."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadResponse("not JSON: %r" % body[:120])
    flavour, kind = target["flavour"], settings["kind"]
    tokens = None
    try:
        if flavour == "openai":
            items = data["data"] if kind == "embeddings" else data["results"]
            usage = data.get("usage") or {}
            tokens = _int_or_none(usage.get("prompt_tokens"))
            if tokens is None:
                tokens = _int_or_none(usage.get("total_tokens"))
        elif flavour == "tei":
            items = data
            tokens = _int_or_none(_header(headers, "x-compute-tokens"))
        else:
            if kind == "embeddings":
                results = data.get("results")
                items = results.get("vectors") if isinstance(results, dict) else results
            else:
                items = (data.get("result") or {}).get("scores")
            tokens = _int_or_none(data.get("input_token_count", data.get("inputTokenCount")))
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadResponse("unexpected %s %s response (%s: %s): %r"
                          % (flavour, kind, type(exc).__name__, exc, body[:120]))
    if not isinstance(items, list):
        raise BadResponse("unexpected %s %s response, no list of results: %r" % (flavour, kind, body[:120]))
    if len(items) != settings["inputs_per_request"]:
        raise BadResponse("%d results for %d inputs" % (len(items), settings["inputs_per_request"]))
    return len(items), tokens


def _header(headers, name):
    for key, value in headers or []:
        if key.lower() == name:
            return value
    return None


def classify_error(exc):
    """(kind, detail) of a failed request; kinds are stable keys for the report."""
    if isinstance(exc, HttpStatusError):
        return "http_%d" % exc.status, exc.detail
    if isinstance(exc, BadResponse):
        return "bad_response", str(exc)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout", str(exc) or "timed out"
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return "tls", str(exc)
    if isinstance(exc, socket.gaierror):
        return "dns", str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused", str(exc)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.IncompleteRead)):
        return "connection_closed", str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        return "connection", str(exc)
    if isinstance(exc, http.client.HTTPException):
        return "protocol", "%s: %s" % (type(exc).__name__, exc)
    return "other", "%s: %s" % (type(exc).__name__, exc)


# ---------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------
def _ssl_context(target):
    if target["scheme"] != "https":
        return None
    context = ssl.create_default_context(cafile=target["ca_path"] or None)
    if not target["validate_certs"]:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Client(object):
    """One keep-alive connection; reopened after any failure."""

    def __init__(self, target, settings):
        self.target, self.settings = target, settings
        self.context = _ssl_context(target)
        self.headers = request_headers(target)
        self.conn = None

    def _open(self):
        target, timeout = self.target, self.settings["timeout"]
        if target["scheme"] == "https":
            return http.client.HTTPSConnection(target["host"], target["port"], timeout=timeout, context=self.context)
        return http.client.HTTPConnection(target["host"], target["port"], timeout=timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, index):
        """One request; a record [ok, seconds, error kind, detail, reported tokens, items]."""
        payload = json.dumps(request_body(self.target, self.settings,
                                          request_inputs(self.settings, index))).encode("utf-8")
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = self._open()
            self.conn.request("POST", self.target["request_path"], body=payload, headers=self.headers)
            response = self.conn.getresponse()
            body = response.read()
            seconds = time.perf_counter() - start
            if response.will_close:
                self.close()
            if not 200 <= response.status < 300:
                raise HttpStatusError(response.status, body[:300].decode("utf-8", "replace"))
            items, tokens = parse_response(self.target, self.settings, body, response.getheaders())
            return [True, seconds, None, None, tokens, items]
        except Exception as exc:  # every failure is a data point, never a crash of the run
            seconds = time.perf_counter() - start
            if not isinstance(exc, (HttpStatusError, BadResponse)):
                self.close()
            kind, detail = classify_error(exc)
            return [False, seconds, kind, detail[:300], None, 0]


class _Counter(object):
    def __init__(self, limit):
        self.limit, self.value, self.lock = limit, 0, threading.Lock()

    def take(self):
        with self.lock:
            if self.limit and self.value >= self.limit:
                return None
            self.value += 1
            return self.value - 1


def _run_pool(target, settings, phases, first_index):
    """Run ``phases`` [(label, seconds, max requests)] with one pool of keep-alive workers.

    Returns, per phase, (records, elapsed seconds).  All workers start a phase
    together (a barrier whose action starts the clock) and the phase's clock
    stops when the last worker is done.
    """
    concurrency = settings["concurrency"]
    clock = {"phase": -1, "start": [], "end": []}
    counters = [_Counter(limit) for _label, _seconds, limit in phases]

    def tick():
        now = time.monotonic()
        if clock["phase"] >= 0:
            clock["end"].append(now)
        clock["phase"] += 1
        clock["start"].append(now)

    longest = sum(seconds for _label, seconds, _limit in phases) + settings["timeout"] + 120
    barrier = threading.Barrier(concurrency, action=tick, timeout=longest)
    records = [[[] for dummy in range(concurrency)] for dummy_phase in phases]

    def work(slot):
        client = _Client(target, settings)
        try:
            for number, (label, seconds, _limit) in enumerate(phases):
                barrier.wait()
                deadline = clock["start"][number] + seconds if seconds > 0 else None
                while deadline is None or time.monotonic() < deadline:
                    taken = counters[number].take()
                    if taken is None:
                        break
                    index = first_index + taken if label == "measure" else "%s-%d" % (label, taken)
                    records[number][slot].append(client.send(index))
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(slot,), name="bench-%s-%d" % (target["name"], slot))
               for slot in range(concurrency)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
    if barrier.broken or len(clock["end"]) != len(phases):
        raise RuntimeError("the load workers of %s did not finish in time" % target["name"])
    return [([record for slot in records[number] for record in slot], clock["end"][number] - clock["start"][number])
            for number in range(len(phases))]


def _split(total, parts):
    """total spread over parts as evenly as possible (0 stays 0 = unbounded)."""
    if not total:
        return [0] * parts
    return [total // parts + (1 if number < total % parts else 0) for number in range(parts)]


def run_benchmark(targets, settings, progress=None):
    """Run the benchmark; returns the report dict (see ``summarise``)."""
    settings = normalise_settings(settings)
    targets = normalise_targets(targets, settings)
    started = datetime.datetime.now(datetime.timezone.utc)
    state = dict((t["name"], {"records": [], "elapsed": 0.0, "warmup": None, "probe": None, "skipped": None})
                 for t in targets)
    rounds = settings["rounds"]
    durations = [settings["duration"] / rounds] * rounds
    limits = _split(settings["requests"], rounds)
    next_index = dict((t["name"], 0) for t in targets)
    for number in range(rounds):
        for target in targets:
            current = state[target["name"]]
            if current["skipped"]:
                continue
            if number == 0:
                current["probe"] = _probe(target, settings)
                if not current["probe"]["ok"]:
                    current["skipped"] = "the first request failed (%s): %s" % (
                        current["probe"]["error"], current["probe"]["detail"])
                    continue
            if settings["requests"] and not limits[number]:
                continue  # more rounds than requests
            phases = []
            if number == 0 and settings["warmup"] > 0:
                phases.append(("warmup", settings["warmup"], 0))
            phases.append(("measure", durations[number], limits[number]))
            if progress:
                progress("%s: round %d/%d" % (target["name"], number + 1, rounds))
            results = _run_pool(target, settings, phases, next_index[target["name"]])
            if number == 0 and settings["warmup"] > 0:
                warm_records, warm_elapsed = results.pop(0)
                current["warmup"] = {"requests": len(warm_records), "seconds": round(warm_elapsed, 3),
                                     "errors": sum(1 for r in warm_records if not r[0])}
            records, elapsed = results[0]
            next_index[target["name"]] += len(records)
            current["records"].extend(records)
            current["elapsed"] += elapsed
    finished = datetime.datetime.now(datetime.timezone.utc)
    return summarise(targets, settings, state, started, finished)


def _probe(target, settings):
    client = _Client(target, settings)
    try:
        ok, seconds, kind, detail, _tokens, _items = client.send("probe")
    finally:
        client.close()
    return {"ok": ok, "latency_ms": round(seconds * 1000.0, 3), "error": kind, "detail": detail}


# ---------------------------------------------------------------------------
# statistics and report
# ---------------------------------------------------------------------------
def percentile(values, q):
    """The q-th percentile (0-100) of values, linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * (float(q) / 100.0)
    low = int(math.floor(rank))
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _round(value, digits=3):
    return None if value is None else round(value, digits)


def _ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return round(float(numerator) / float(denominator), 3)


def summarise_target(target, settings, records, elapsed, probe=None, warmup=None, skipped=None):
    """Report entry of one target from its request records."""
    ok = [r for r in records if r[0]]
    error_kinds, samples = {}, []
    for record in records:
        if not record[0]:
            error_kinds[record[2]] = error_kinds.get(record[2], 0) + 1
            if len(samples) < MAX_ERROR_SAMPLES:
                samples.append({"kind": record[2], "detail": record[3]})
    if probe and not probe["ok"]:
        error_kinds[probe["error"]] = error_kinds.get(probe["error"], 0) + 1
        samples.append({"kind": probe["error"], "detail": probe["detail"]})
    latencies = [r[1] * 1000.0 for r in ok]
    reported = [r[4] for r in ok if r[4] is not None]
    per_request_estimate = estimate_tokens(settings)
    estimated_total = per_request_estimate * len(ok)
    if ok and len(reported) == len(ok):
        source, tokens = "server", sum(reported)
    elif reported:
        source, tokens = "mixed", sum(reported) + per_request_estimate * (len(ok) - len(reported))
    else:
        source, tokens = "estimate", estimated_total
    items = sum(r[5] for r in ok)
    return {
        "name": target["name"],
        "flavour": target["flavour"],
        "model": target["model"],
        "endpoint": target["endpoint"],
        "skipped": skipped,
        "probe": probe,
        "warmup": warmup,
        "requests": len(records) + (1 if probe and not probe["ok"] else 0),
        "ok": len(ok),
        "errors": sum(error_kinds.values()),
        "error_kinds": error_kinds,
        "error_samples": samples,
        "elapsed_s": _round(elapsed),
        "requests_per_s": _round(len(ok) / elapsed if elapsed else None),
        "inputs_per_s": _round(items / elapsed if elapsed else None),
        "input_tokens": tokens,
        "input_tokens_estimate": estimated_total,
        "tokens_source": source,
        "tokens_estimated": source != "server",
        "tokens_per_s": _round(tokens / elapsed if elapsed else None),
        "latency_ms": {
            "min": _round(min(latencies) if latencies else None),
            "mean": _round(sum(latencies) / len(latencies) if latencies else None),
            "p50": _round(percentile(latencies, 50)),
            "p95": _round(percentile(latencies, 95)),
            "p99": _round(percentile(latencies, 99)),
            "max": _round(max(latencies) if latencies else None),
        },
    }


def compare(baseline, candidate):
    """Ratios candidate / baseline (B/A) of throughput and latency; None where undefined."""
    ratios = {
        "requests_per_s": _ratio(candidate["requests_per_s"], baseline["requests_per_s"]),
        "inputs_per_s": _ratio(candidate["inputs_per_s"], baseline["inputs_per_s"]),
        "tokens_per_s": _ratio(candidate["tokens_per_s"], baseline["tokens_per_s"]),
    }
    for key in ("p50", "p95", "p99", "max"):
        ratios[key] = _ratio(candidate["latency_ms"][key], baseline["latency_ms"][key])
    return {"baseline": baseline["name"], "candidate": candidate["name"], "ratios": ratios}


def public_settings(settings):
    out = dict(settings)
    out["order"] = "sequential" if settings["rounds"] == 1 else "alternating rounds"
    out["requests_per_target"] = settings["requests"]
    return out


def summarise(targets, settings, state, started, finished):
    entries = []
    for target in targets:
        current = state[target["name"]]
        entries.append(summarise_target(target, settings, current["records"], current["elapsed"],
                                        probe=current["probe"], warmup=current["warmup"],
                                        skipped=current["skipped"]))
    report = {
        "kind": settings["kind"],
        "settings": public_settings(settings),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "client": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "host": platform.node()},
        "targets": entries,
        "comparison": compare(entries[0], entries[1]) if len(entries) == 2 else None,
    }
    return report


def _excerpt(value, words=6):
    """A request body with every text cut to its first words (for check-mode output)."""
    if isinstance(value, dict):
        return dict((key, _excerpt(item, words)) for key, item in value.items())
    if isinstance(value, list):
        return [_excerpt(item, words) for item in value]
    if isinstance(value, str) and len(value.split()) > words:
        return " ".join(value.split()[:words]) + " ..."
    return value


def plan(targets, settings):
    """What run_benchmark would send, without sending anything (check mode)."""
    settings = normalise_settings(settings)
    targets = normalise_targets(targets, settings)
    first = request_inputs(settings, 0)
    return {
        "kind": settings["kind"],
        "settings": public_settings(settings),
        "targets": [{
            "name": t["name"],
            "flavour": t["flavour"],
            "model": t["model"],
            "method": "POST",
            "endpoint": t["endpoint"],
            "headers": sorted(request_headers(t)),
            "first_body_excerpt": _excerpt(request_body(t, settings, first)),
        } for t in targets],
        "estimated_input_tokens_per_request": estimate_tokens(settings),
        "longest_seconds": (settings["warmup"] + settings["duration"]) * len(targets) if settings["duration"] else None,
    }


def _fmt(value):
    """Numbers for the table: no decimals from 1000, one from 10, two below."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return "%.0f" % value
    if abs(value) >= 10:
        return "%.1f" % value
    return "%.2f" % value


COLUMNS = [("name", "TARGET"), ("flavour", "FLAVOUR"), ("requests", "REQS"), ("errors", "ERRORS"),
           ("rps", "REQ/S"), ("ips", "INPUTS/S"), ("tps", "TOK/S"), ("p50", "P50_MS"), ("p95", "P95_MS"),
           ("p99", "P99_MS"), ("max", "MAX_MS")]


def table_lines(report):
    """The report as text: one settings line, then a table with one row per target and a B/A row."""
    settings = report["settings"]
    unit = "documents" if report["kind"] == "rerank" else "inputs"
    bound = []
    if settings["duration"]:
        bound.append("%gs" % settings["duration"])
    if settings["requests"]:
        bound.append("at most %d requests" % settings["requests"])
    head = ("%s: %d %s x %d words per request%s, concurrency %d, %s per target (+%gs warm-up), %s, seed %s"
            % (report["kind"], settings["inputs_per_request"], unit, settings["words_per_input"],
               ", query %d words" % settings["query_words"] if report["kind"] == "rerank" else "",
               settings["concurrency"], " and ".join(bound), settings["warmup"], settings["order"], settings["seed"]))
    rows = []
    for entry in report["targets"]:
        errors = str(entry["errors"])
        if entry["error_kinds"]:
            errors += " (" + ", ".join("%s:%d" % item for item in sorted(entry["error_kinds"].items())) + ")"
        tokens = _fmt(entry["tokens_per_s"])
        if entry["tokens_estimated"] and entry["tokens_per_s"] is not None:
            tokens = "~" + tokens
        latency = entry["latency_ms"]
        rows.append({"name": entry["name"] + (" (skipped)" if entry["skipped"] else ""), "flavour": entry["flavour"],
                     "requests": entry["requests"], "errors": errors, "rps": _fmt(entry["requests_per_s"]),
                     "ips": _fmt(entry["inputs_per_s"]), "tps": tokens, "p50": _fmt(latency["p50"]),
                     "p95": _fmt(latency["p95"]), "p99": _fmt(latency["p99"]), "max": _fmt(latency["max"])})
    if report.get("comparison"):
        ratios = report["comparison"]["ratios"]

        def times(key):
            return "-" if ratios[key] is None else "%.2fx" % ratios[key]

        rows.append({"name": "%s/%s" % (report["comparison"]["candidate"], report["comparison"]["baseline"]),
                     "flavour": "ratio", "requests": "", "errors": "", "rps": times("requests_per_s"),
                     "ips": times("inputs_per_s"), "tps": times("tokens_per_s"), "p50": times("p50"),
                     "p95": times("p95"), "p99": times("p99"), "max": times("max")})
    lines = [head] + text_table(rows, COLUMNS)
    if any(entry["tokens_estimated"] for entry in report["targets"]):
        lines.append("~ estimated input tokens (the server did not report usage)")
    for entry in report["targets"]:
        if entry["skipped"]:
            lines.append("%s skipped: %s" % (entry["name"], entry["skipped"]))
    return lines


# ---------------------------------------------------------------------------
# SVG plot (no plotting library)
# ---------------------------------------------------------------------------
COLOURS = ("#4e79a7", "#f28e2b")


def nice_ceiling(value):
    """Smallest 1/2/2.5/5 x 10^n at or above value (1 for nothing to show)."""
    if not value or value <= 0:
        return 1.0
    exponent = 10.0 ** math.floor(math.log10(value))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * exponent >= value * (1 - 1e-9):
            return factor * exponent
    return 10.0 * exponent


def _label(value):
    if value is None:
        return "-"
    if value >= 100:
        return "%d" % round(value)
    if value >= 10:
        return "%.1f" % value
    return "%.2f" % value


def _panel(parts, x0, width, title, groups, series, top=60, height=200):
    """Grouped bar chart: groups = [group label], series = [(name, colour, [value per group])]."""
    peak = max([v for _n, _c, values in series for v in values if v is not None] or [0])
    ceiling = nice_ceiling(peak)
    bottom = top + height
    parts.append('<text x="%.1f" y="%d" class="title">%s</text>' % (x0 + width / 2.0, top - 18, escape(title)))
    for step in range(5):
        value = ceiling * step / 4.0
        y = bottom - height * step / 4.0
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>' % (x0, y, x0 + width, y))
        parts.append('<text x="%.1f" y="%.1f" class="tick">%s</text>' % (x0 - 4, y + 4, _label(value)))
    slot = width / float(len(groups))
    bar_width = min(28.0, (slot * 0.8) / max(1, len(series)))
    for g, group in enumerate(groups):
        left = x0 + g * slot + (slot - bar_width * len(series)) / 2.0
        for s, (name, colour, values) in enumerate(series):
            value = values[g]
            if value is None:
                continue
            if isinstance(colour, (list, tuple)):
                colour = colour[g]
            h = height * value / ceiling
            x = left + s * bar_width
            parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>'
                         % (x, bottom - h, bar_width - 2, h, colour, escape(name), escape(group), _label(value)))
            parts.append('<text x="%.1f" y="%.1f" class="value">%s</text>'
                         % (x + (bar_width - 2) / 2.0, bottom - h - 3, _label(value)))
        parts.append('<text x="%.1f" y="%d" class="axis">%s</text>'
                     % (x0 + g * slot + slot / 2.0, bottom + 16, escape(group)))
    parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="axisline"/>' % (x0, bottom, x0 + width, bottom))


def svg_plot(report):
    """An SVG document: latency percentiles, requests/s and input tokens/s per target."""
    entries = report["targets"]
    width, height = 820, 330
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="sans-serif" font-size="11">' % (width, height, width, height),
             '<style>.title{font-size:13px;font-weight:bold;text-anchor:middle}.tick{text-anchor:end;fill:#555}'
             '.axis{text-anchor:middle}.value{text-anchor:middle;font-size:9px;fill:#333}'
             '.grid{stroke:#ddd}.axisline{stroke:#333}</style>',
             '<rect width="100%" height="100%" fill="white"/>']
    settings = report["settings"]
    caption = "%s, concurrency %d, %d x %d words per request, %s" % (
        report["kind"], settings["concurrency"], settings["inputs_per_request"], settings["words_per_input"],
        report["started_at"][:19].replace("T", " ") + " UTC")
    parts.append('<text x="10" y="18" font-size="12">%s</text>' % escape(caption))
    latency_keys = ("p50", "p95", "p99", "max")
    series = [(e["name"], COLOURS[i % len(COLOURS)], [e["latency_ms"][k] for k in latency_keys])
              for i, e in enumerate(entries)]
    _panel(parts, 60, 330, "Latency (ms)", list(latency_keys), series)
    names = [e["name"] for e in entries]
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(entries))]
    _panel(parts, 450, 150, "Requests/s", names, [("requests/s", colours, [e["requests_per_s"] for e in entries])])
    estimated = any(e["tokens_estimated"] for e in entries)
    _panel(parts, 660, 150, "Input tokens/s" + (" (~est.)" if estimated else ""), names,
           [("input tokens/s", colours, [e["tokens_per_s"] for e in entries])])
    x = 60
    for i, entry in enumerate(entries):
        label = "%s (%s)" % (entry["name"], entry["flavour"])
        parts.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>'
                     % (x, height - 30, COLOURS[i % len(COLOURS)]))
        parts.append('<text x="%d" y="%d">%s</text>' % (x + 16, height - 20, escape(label)))
        x += 30 + 7 * len(label)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
