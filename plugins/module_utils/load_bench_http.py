# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Load benchmark: response checks and the closed-loop HTTP load
(one keep-alive connection per worker thread; see load_bench.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.client
import json
import socket
import ssl
import threading
import time

from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench_report import (
    summarise,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench_settings import (
    BadResponse,
    HttpStatusError,
    normalise_settings,
    normalise_targets,
    request_body,
    request_headers,
    request_inputs,
)


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
