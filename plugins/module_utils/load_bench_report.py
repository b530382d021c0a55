# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Load benchmark: statistics, the comparison, the text table and the SVG plot
(see load_bench.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import os
import platform

from xml.sax.saxutils import escape
from ansible_collections.embedserve.vllm.plugins.module_utils.report import text_table
from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench_settings import (
    MAX_ERROR_SAMPLES,
    estimate_tokens,
    normalise_settings,
    normalise_targets,
    request_body,
    request_headers,
    request_inputs,
)


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
