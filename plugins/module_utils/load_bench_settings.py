# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Load benchmark: settings, targets and the deterministic request bodies
(split from load_bench.py; see its docstring for the design)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

from urllib.parse import urlsplit

from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import cast


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
        kind = float if isinstance(low, float) else int
        out[key] = cast(out[key], kind, key, error=BenchError, minimum=low, maximum=high)
    out["seed"] = str(out["seed"])
    out["validate_certs"] = _boolean(out["validate_certs"], "validate_certs")
    if out["duration"] <= 0 and out["requests"] <= 0:
        raise BenchError("set duration (seconds) or requests (count), or both: an unbounded run is refused")
    return out


def _boolean(value, name):
    return cast(value, bool, name, error=BenchError)


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
