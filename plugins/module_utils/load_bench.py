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

The code lives in load_bench_settings (settings, targets, request bodies),
load_bench_http (response checks, the load) and load_bench_report (statistics,
table, SVG); this module re-exports their names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench_settings import (
    BadResponse,
    BenchError,
    DEFAULTS,
    DEFAULT_PATHS,
    FLAVOURS,
    HttpStatusError,
    KINDS,
    LIMITS,
    MAX_ERROR_SAMPLES,
    SPECIAL_TOKENS_PAIR,
    SPECIAL_TOKENS_SINGLE,
    TARGET_KEYS,
    WORDS,
    estimate_tokens,
    make_text,
    normalise_settings,
    normalise_targets,
    request_body,
    request_headers,
    request_inputs,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench_http import (
    classify_error,
    parse_response,
    run_benchmark,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench_report import (
    COLOURS,
    COLUMNS,
    compare,
    nice_ceiling,
    percentile,
    plan,
    public_settings,
    summarise,
    summarise_target,
    svg_plot,
    table_lines,
)

__all__ = [
    "BadResponse",
    "BenchError",
    "COLOURS",
    "COLUMNS",
    "DEFAULTS",
    "DEFAULT_PATHS",
    "FLAVOURS",
    "HttpStatusError",
    "KINDS",
    "LIMITS",
    "MAX_ERROR_SAMPLES",
    "SPECIAL_TOKENS_PAIR",
    "SPECIAL_TOKENS_SINGLE",
    "TARGET_KEYS",
    "WORDS",
    "classify_error",
    "compare",
    "estimate_tokens",
    "make_text",
    "nice_ceiling",
    "normalise_settings",
    "normalise_targets",
    "parse_response",
    "percentile",
    "plan",
    "public_settings",
    "request_body",
    "request_headers",
    "request_inputs",
    "run_benchmark",
    "summarise",
    "summarise_target",
    "svg_plot",
    "table_lines",
]
