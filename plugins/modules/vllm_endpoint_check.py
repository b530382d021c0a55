#!/usr/bin/python
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: vllm_endpoint_check
short_description: Check deployed vLLM pooling endpoints against what the catalogue derived
version_added: "1.0.0"
description:
  - Checks a list of vLLM OpenAI-compatible endpoints in one call, each one deployed model reached at a base URL
    (an OpenShift Route, a C(kubectl port-forward), a Service address, ...).
  - C(health) - C(GET /health) answers 200 (polled for up to O(wait_healthy) seconds).
  - C(models) - C(GET /v1/models) lists the served model name and reports the C(max_model_len) of the catalogue.
  - C(embeddings) (task C(embed)) - C(POST /v1/embeddings) on the probe texts returns finite vectors of
    C(embedding_dimension) values, of L2 norm 1 (within O(norm_tolerance)) when C(normalize) is true.
  - C(score) and C(rerank) (task C(score)) - C(POST /v1/score) (or C(/score) when the former answers 404) and
    C(POST /v1/rerank) (or C(/rerank)) on a built-in probe set per language in O(probe_languages) (a query,
    one relevant and three irrelevant documents, the relevant one never first); the relevant document must
    rank first and every score must be finite.
  - Every check reports its status (C(pass), C(fail), C(skip)), what was measured against what was expected, and
    its latency. HTTP errors (a 401 names whether a key was sent), timeouts, refused connections, DNS and TLS
    errors are failed checks with a clear detail, never tracebacks. After a check that got no HTTP answer at all,
    the endpoint's remaining checks are skipped as unreachable.
  - All endpoints are checked before the module fails; with O(fail_on_error=false) it never fails because of a
    check, so a caller can show the results first.
  - Only the Python standard library and ansible's C(open_url) machinery (C(Request), one TLS context per endpoint so
    that its set-up is not counted as latency) are used, no C(requests); proxies from the
    environment apply unless O(use_proxy=false).
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads (GET) or sends inference requests that change nothing, so it runs normally in
      check mode and always reports C(changed=false).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  endpoints:
    description: The endpoints to check, one per deployed model.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The model's catalogue name (used in the results).
        type: str
        required: true
      url:
        description:
          - Base URL of the server, for example C(https://minilm-vllm.apps.example.com) or C(http://127.0.0.1:8000).
          - Empty when the model cannot be reached; the model is then reported as one failed C(endpoint) check with
            O(endpoints[].unreachable_reason).
        type: str
        default: ""
      unreachable_reason:
        description: Why there is no URL (shown in the failed C(endpoint) check).
        type: str
        default: ""
      served_model_name:
        description: The name the server must list in C(/v1/models) and accept as C(model). Defaults to O(endpoints[].name).
        type: str
      task:
        description: C(embed) for embedding models, C(score) for cross-encoder rerankers (the catalogue's C(facts.task)).
        type: str
        choices: [embed, score]
        default: embed
      max_model_len:
        description: The C(max_model_len) the server must report. Not compared when omitted.
        type: int
      embedding_dimension:
        description: The length every embedding must have. Not compared when omitted.
        type: int
      normalize:
        description: Whether the model normalises its embeddings (the embeddings must then have L2 norm 1).
        type: bool
        default: false
      api_key:
        description: "Sent as C(Authorization: Bearer <key>) to every path (vLLM only requires it under C(/v1))."
        type: str
      validate_certs:
        description: Verify the server's TLS certificate (turn off for Routes with self-signed certificates).
        type: bool
        default: true
      path_prefix:
        description:
          - The path a Route exposes (the catalogue's C(route.path), for example C(/v1)). Checks whose paths lie
            outside it are skipped, and C(/score) and C(/rerank) are not tried as fallbacks.
        type: str
        default: ""
      checks:
        description:
          - The checks to run, in order. Defaults to C(health), C(models), C(embeddings) for task C(embed) and
            C(health), C(models), C(score), C(rerank) for task C(score).
          - vLLM 0.11 and later also serve C(score) and C(rerank) for embedding models (cosine similarity), so
            those checks may be added to an embedding model.
        type: list
        elements: str
        choices: [health, models, embeddings, score, rerank]
  timeout:
    description: Seconds each HTTP request may take.
    type: float
    default: 30
  wait_healthy:
    description: Seconds to keep polling C(/health) (every 2 seconds) until it answers 200; 0 tries once.
    type: float
    default: 0
  probe_languages:
    description:
      - Languages of the probe sets used by C(embeddings), C(score) and C(rerank) (C(en), C(de), C(fr)).
      - The default is English only, because English-only rerankers (such as the MS MARCO cross-encoders) cannot be
        expected to rank German or French documents; add C(de) and C(fr) for multilingual models.
    type: list
    elements: str
    default: [en]
  norm_tolerance:
    description: Largest allowed difference between an embedding's L2 norm and 1 for normalising models.
    type: float
    default: 0.01
  use_proxy:
    description: Use the C(http_proxy)/C(https_proxy) environment variables (C(no_proxy) is honoured).
    type: bool
    default: true
  fail_on_error:
    description: Fail (after checking every endpoint) when any check failed.
    type: bool
    default: true
seealso:
  - name: vLLM OpenAI-compatible server
    description: The endpoints this module checks.
    link: https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
"""

EXAMPLES = r"""
- name: Check two models
  embedserve.vllm.vllm_endpoint_check:
    endpoints:
      - name: minilm
        url: https://minilm-vllm-embeddings.apps.example.com
        served_model_name: minilm
        task: embed
        max_model_len: 256
        embedding_dimension: 384
        normalize: true
      - name: msmarco
        url: http://127.0.0.1:18000
        task: score
        max_model_len: 512
        api_key: "{{ msmarco_key }}"
  register: checked

- name: Check the catalogue's models without failing, then print a table
  embedserve.vllm.vllm_endpoint_check:
    endpoints: "{{ my_endpoints }}"
    fail_on_error: false
    probe_languages: [en, de, fr]
  register: checked

- name: Show the results
  ansible.builtin.debug:
    msg: "{{ checked.rows | embedserve.vllm.summary_table([['model', 'MODEL'], ['check', 'CHECK'],
      ['status', 'STATUS'], ['detail', 'DETAIL']]) }}"
"""

RETURN = r"""
endpoints:
  description: One result per endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The endpoint's name.
      type: str
    url:
      description: The base URL checked (empty when there was none).
      type: str
    served_model_name:
      description: The served name the checks used.
      type: str
    task:
      description: C(embed) or C(score).
      type: str
    ok:
      description: True when no check failed.
      type: bool
    checks:
      description:
        - The checks in order, each with C(name), C(status) (C(pass), C(fail) or C(skip)), C(ok) (status is
          C(pass)), C(detail) (measured against expected), C(path) and C(latency_ms) (null when not run).
      type: list
      elements: dict
  sample:
    - name: minilm
      url: http://127.0.0.1:8000
      served_model_name: minilm
      task: embed
      ok: true
      checks:
        - {name: health, status: pass, ok: true, detail: HTTP 200, path: /health, latency_ms: 2.1}
        - name: models
          status: pass
          ok: true
          detail: "'minilm' listed, max_model_len 256 = expected 256"
          path: /v1/models
          latency_ms: 3.4
rows:
  description: One row per check (C(model), C(check), C(status) in capitals, C(detail), C(latency_ms), C(url)), ready
    for the C(embedserve.vllm.summary_table) filter.
  returned: always
  type: list
  elements: dict
failed_checks:
  description: The failed checks, each with C(model), C(check) and C(detail).
  returned: always
  type: list
  elements: dict
  sample:
    - {model: minilm, check: models, detail: "'minilm' max_model_len 256, expected 128 from the catalogue"}
summary:
  description: Counts of C(endpoints), C(endpoints_ok), C(checks), C(passed), C(failed) and C(skipped).
  returned: always
  type: dict
  sample: {endpoints: 1, endpoints_ok: 1, checks: 3, passed: 3, failed: 0, skipped: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import range_problems, unexpected
from ansible_collections.embedserve.vllm.plugins.module_utils.endpoint_checks import CHECKS, PROBES, check_endpoints


def main():
    module = AnsibleModule(
        argument_spec={
            "endpoints": {"type": "list", "elements": "dict", "required": True, "options": {
                "name": {"type": "str", "required": True},
                "url": {"type": "str", "default": ""},
                "unreachable_reason": {"type": "str", "default": ""},
                "served_model_name": {"type": "str"},
                "task": {"type": "str", "choices": ["embed", "score"], "default": "embed"},
                "max_model_len": {"type": "int"},
                "embedding_dimension": {"type": "int"},
                "normalize": {"type": "bool", "default": False},
                "api_key": {"type": "str", "no_log": True},
                "validate_certs": {"type": "bool", "default": True},
                "path_prefix": {"type": "str", "default": ""},
                "checks": {"type": "list", "elements": "str", "choices": list(CHECKS)},
            }},
            "timeout": {"type": "float", "default": 30},
            "wait_healthy": {"type": "float", "default": 0},
            "probe_languages": {"type": "list", "elements": "str", "default": ["en"]},
            "norm_tolerance": {"type": "float", "default": 0.01},
            "use_proxy": {"type": "bool", "default": True},
            "fail_on_error": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = range_problems(params, {"timeout": (0.001, 3600), "wait_healthy": (0, 86400),
                                       "norm_tolerance": (0, 1)})
    if problems:
        module.fail_json(msg="; ".join(problems))
    unknown = [lang for lang in params["probe_languages"] if lang not in PROBES]
    if unknown:
        module.fail_json(msg="unknown probe language(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(PROBES))))
    try:
        result = check_endpoints(params["endpoints"], timeout=params["timeout"], wait_healthy=params["wait_healthy"],
                                 languages=params["probe_languages"], tolerance=params["norm_tolerance"],
                                 use_proxy=params["use_proxy"])
    except Exception as exc:  # never a traceback, whatever the endpoints answer
        module.fail_json(msg=unexpected(exc, "checking the endpoints"), changed=False)
    if result["failed_checks"] and params["fail_on_error"]:
        lines = ["%s %s: %s" % (f["model"], f["check"], f["detail"]) for f in result["failed_checks"]]
        module.fail_json(msg="%d of %d checks failed: %s" % (len(lines), result["summary"]["checks"], "; ".join(lines)),
                         changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
