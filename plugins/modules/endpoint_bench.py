#!/usr/bin/python
# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: endpoint_bench
short_description: Load one or two embedding or rerank endpoints and compare throughput and latency
version_added: "1.0.0"
description:
  - Sends a bounded, closed-loop HTTP load to one or two endpoints with identical settings and identical
    request bodies, and reports per endpoint the requests, errors by kind, requests/s, inputs/s, input
    tokens/s and the p50/p95/p99/max latency, plus the ratio of the second endpoint to the first.
  - Speaks the OpenAI-compatible API of vLLM (C(/v1/embeddings), C(/v1/rerank) or C(/rerank)), Hugging Face
    Text Embeddings Inference (C(/embed), C(/rerank)) and the Caikit NLP REST API
    (C(/api/v1/task/embedding-tasks), C(/api/v1/task/rerank)), so a vLLM deployment can be measured against
    the server it replaces.
  - Targets run one after the other, never at the same time; O(rounds) alternates them in several segments.
    Each target gets one probe request first (a failure skips it with the error), then O(warmup) seconds that
    are not counted, then the measured phase of O(duration) seconds and/or O(requests) requests.
  - Each of the O(concurrency) workers keeps one keep-alive connection and sends its next request as soon as
    the previous answer has been read. Latency runs from sending to having read the whole answer.
  - Input tokens are the server's own count when it reports one (C(usage.prompt_tokens), Caikit
    C(input_token_count), TEI's C(x-compute-tokens) header), otherwise an estimate that is flagged.
  - The endpoints are not changed; the module always reports C(changed=false). In check mode nothing is sent
    and RV(plan) says what would be.
  - Connections go directly to the endpoints; proxy environment variables are not used.
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  targets:
    description:
      - One or two endpoints. With two, the second is compared with the first (ratios B/A).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Label in the report. Defaults to C(A) and C(B). Names must differ.
        type: str
      url:
        description:
          - Base URL of the server, such as C(https://minilm-vllm.apps.example.com) or C(http://127.0.0.1:8000).
            A path prefix is kept (C(https://host/prefix) + endpoint path).
        type: str
        required: true
      flavour:
        description:
          - API of the server. C(openai) for vLLM and other OpenAI-compatible servers, C(tei) for Text
            Embeddings Inference, C(caikit) for the Caikit NLP REST API (Caikit standalone runtime, TGIS/Caikit
            on OpenShift AI).
        type: str
        choices: [openai, tei, caikit]
        default: openai
      model:
        description:
          - Model to ask for, C(model) in OpenAI bodies (vLLM's served model name; omitted when empty, vLLM
            then uses its only model) or C(model_id) in Caikit bodies (required there). Not used by TEI.
        type: str
      api_key:
        description: Sent as the header C(Authorization) with the value C(Bearer <api_key>).
        type: str
      headers:
        description: Extra request headers; they override the defaults, including C(Authorization).
        type: dict
      path:
        description:
          - Endpoint path instead of the flavour's default for O(kind), for example C(/rerank) for vLLM's
            canonical rerank path (the default C(/v1/rerank) is the one vLLM's API key protects).
        type: str
      validate_certs:
        description: Verify the server's TLS certificate. Defaults to O(validate_certs).
        type: bool
      ca_path:
        description: CA bundle for this target. Defaults to O(ca_path).
        type: path
  kind:
    description: C(embeddings) sends texts to embed; C(rerank) sends a query and documents to rank.
    type: str
    choices: [embeddings, rerank]
    default: embeddings
  concurrency:
    description: Workers, each with one request in flight (1 to 256).
    type: int
    default: 4
  duration:
    description: Seconds of measured load per target (up to 3600); 0 to bound the run by O(requests) only.
    type: float
    default: 30
  requests:
    description: At most this many measured requests per target; 0 for no count limit.
    type: int
    default: 0
  warmup:
    description: Seconds of load per target before measuring, not counted (0 to skip).
    type: float
    default: 5
  rounds:
    description:
      - Split the measured phase into this many segments that alternate between the targets (A, B, A, B, ...),
        so that drift on the servers hits both alike. The warm-up runs in the first round only.
    type: int
    default: 1
  words_per_input:
    description: Words of generated text per input (per document for O(kind=rerank)).
    type: int
    default: 64
  inputs_per_request:
    description: Texts per embeddings request, or documents per rerank request.
    type: int
    default: 8
  query_words:
    description: Words of the rerank query.
    type: int
    default: 12
  seed:
    description: Seed of the text generator; the same seed gives the same requests.
    type: str
    default: "0"
  timeout:
    description: Seconds to wait for one answer.
    type: float
    default: 60
  validate_certs:
    description: Verify the servers' TLS certificates.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify the servers' certificates with.
    type: path
  plot:
    description: Also return an SVG plot in RV(svg).
    type: bool
    default: true
seealso:
  - name: vLLM pooling endpoints
    description: The OpenAI-compatible embeddings and rerank APIs of vLLM.
    link: https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
  - name: Text Embeddings Inference API
    description: The TEI endpoints C(/embed) and C(/rerank).
    link: https://huggingface.github.io/text-embeddings-inference/
notes:
  - The load generator shares the CPU of the host it runs on (usually the controller); figures from a small
    host say more about that host than about the servers. Run it close to the servers (for example on a
    bastion or in an execution environment inside the cluster network) for capacity numbers.
  - The generated texts are common English words, about one token per word for BERT-style tokenizers.
"""

EXAMPLES = r"""
- name: Compare the vLLM deployment with the Caikit endpoint it replaces
  embedserve.vllm.endpoint_bench:
    targets:
      - name: vllm
        url: https://minilm-vllm-embeddings.apps.example.com
        model: minilm
        api_key: "{{ minilm_api_key }}"
      - name: caikit
        url: https://all-minilm-caikit.apps.example.com
        flavour: caikit
        model: all-minilm-l6-v2
    concurrency: 8
    duration: 60
  register: bench
  delegate_to: localhost

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ bench.table }}"

- name: Rerank load on a cross-encoder against TEI, 500 requests each
  embedserve.vllm.endpoint_bench:
    kind: rerank
    targets:
      - name: vllm
        url: http://msmarco.vllm-embeddings.svc:8000
        model: msmarco
      - name: tei
        url: http://tei-reranker.search.svc:8080
        flavour: tei
    duration: 0
    requests: 500
    inputs_per_request: 20
    words_per_input: 100
"""

RETURN = r"""
report:
  description: The measurements. Absent in check mode.
  returned: success and not check mode
  type: dict
  contains:
    kind:
      description: O(kind).
      type: str
      sample: embeddings
    settings:
      description: The settings used, after defaults, with C(order) (C(sequential) or C(alternating rounds)).
      type: dict
    started_at:
      description: Start time, ISO 8601 UTC.
      type: str
    finished_at:
      description: End time, ISO 8601 UTC.
      type: str
    client:
      description: Host running the load (C(cpu_count), C(python), C(host)).
      type: dict
    targets:
      description:
        - Per target, in order - C(name), C(flavour), C(model), C(endpoint), C(skipped) (why, or null),
          C(probe), C(warmup) (C(requests), C(seconds), C(errors)), C(requests), C(ok), C(errors),
          C(error_kinds) (C(http_<status>), C(timeout), C(connection_refused), C(connection_closed),
          C(connection), C(dns), C(tls), C(bad_response), C(protocol), C(other)), C(error_samples),
          C(elapsed_s), C(requests_per_s), C(inputs_per_s), C(input_tokens), C(input_tokens_estimate),
          C(tokens_source) (C(server), C(estimate) or C(mixed)), C(tokens_estimated), C(tokens_per_s) and
          C(latency_ms) (C(min), C(mean), C(p50), C(p95), C(p99), C(max)) of successful requests.
      type: list
      elements: dict
    comparison:
      description: With two targets, C(baseline), C(candidate) and C(ratios) (candidate / baseline) of
        C(requests_per_s), C(inputs_per_s), C(tokens_per_s), C(p50), C(p95), C(p99), C(max); null otherwise.
      type: dict
table:
  description: The results as text lines, a settings line then one row per target and a ratio row.
  returned: success and not check mode
  type: list
  elements: str
  sample:
    - "embeddings: 8 inputs x 64 words per request, concurrency 4, 30s per target (+5s warm-up), sequential, seed 0"
    - "TARGET  FLAVOUR  REQS  ERRORS  REQ/S  INPUTS/S  TOK/S  P50_MS  P95_MS  P99_MS  MAX_MS"
svg:
  description: An SVG document with the latency percentiles, requests/s and tokens/s per target.
  returned: success, O(plot=true) and not check mode
  type: str
plan:
  description: In check mode, what would be sent - the settings, each target's endpoint, header names and first
    request body, the estimated input tokens per request and the longest time the run can take.
  returned: check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import unexpected
from ansible_collections.embedserve.vllm.plugins.module_utils.load_bench import (
    BenchError,
    plan,
    run_benchmark,
    svg_plot,
    table_lines,
)

SETTINGS = ("kind", "concurrency", "duration", "requests", "warmup", "rounds", "words_per_input",
            "inputs_per_request", "query_words", "seed", "timeout", "validate_certs", "ca_path")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str"),
                url=dict(type="str", required=True),
                flavour=dict(type="str", choices=["openai", "tei", "caikit"], default="openai"),
                model=dict(type="str"),
                api_key=dict(type="str", no_log=True),
                headers=dict(type="dict", no_log=True),
                path=dict(type="str"),
                validate_certs=dict(type="bool"),
                ca_path=dict(type="path"),
            )),
            kind=dict(type="str", choices=["embeddings", "rerank"], default="embeddings"),
            concurrency=dict(type="int", default=4),
            duration=dict(type="float", default=30),
            requests=dict(type="int", default=0),
            warmup=dict(type="float", default=5),
            rounds=dict(type="int", default=1),
            words_per_input=dict(type="int", default=64),
            inputs_per_request=dict(type="int", default=8),
            query_words=dict(type="int", default=12),
            seed=dict(type="str", default="0"),
            timeout=dict(type="float", default=60),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            plot=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    settings = dict((key, module.params[key]) for key in SETTINGS)
    targets = [dict((key, value) for key, value in target.items() if value is not None)
               for target in module.params["targets"]]
    try:
        if module.check_mode:
            module.exit_json(changed=False, plan=plan(targets, settings))
        report = run_benchmark(targets, settings)
    except BenchError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # never a traceback, whatever the endpoints answer
        module.fail_json(msg=unexpected(exc, "running the benchmark"))
    result = dict(changed=False, report=report, table=table_lines(report))
    if module.params["plot"]:
        result["svg"] = svg_plot(report)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
