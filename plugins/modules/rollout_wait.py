#!/usr/bin/python
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: rollout_wait
short_description: Wait for model Deployments to roll out, with progress lines and a diagnosis on failure
version_added: "1.0.0"
description:
  - Polls the named Deployments and their pods (label C(app.kubernetes.io/instance)) until every one is rolled
    out, like M(kubernetes.core.k8s_info) with C(wait=true) on each Deployment.
  - "While waiting it prints one line per model whenever its pods change phase (for example
    C(rollout minilm: 0/1 ready; pods: 1 ContainerCreating [14s])), at most once per O(progress_interval)
    seconds per model, so a long rollout is not one silent task."
  - On a timeout, or when a Deployment reports C(ProgressDeadlineExceeded), it fails with the diagnosis first
    (each unready pod's phase, container states, recent events and last log lines), then what it was waiting for.
  - This is an action plugin that runs on the controller. The connection options are those of
    M(kubernetes.core.k8s_info); it belongs to the C(group/embedserve.vllm.k8s) module defaults group, and options
    left unset fall back to the C(K8S_AUTH_*) environment variables (as AWX's OpenShift or Kubernetes credential
    sets them), then the in-cluster service account, then C(~/.kube/config).
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing was applied, so the action returns at once without waiting.
  diff_mode:
    support: none
  platform:
    platforms: all
requirements:
  - kubernetes (Python client)
options:
  namespace:
    description: Namespace of the Deployments.
    type: str
    required: true
  names:
    description: Names of the Deployments; each model's pods carry C(app.kubernetes.io/instance=<name>).
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait for all of them together.
    type: int
    default: 600
  sleep:
    description: Seconds between two polls.
    type: float
    default: 2
  progress_interval:
    description: At most one progress line per model in this many seconds (the final line is always shown).
    type: float
    default: 5
  container:
    description: Container whose last log lines the diagnosis shows.
    type: str
    default: vllm
  log_lines:
    description: How many log lines per unready pod the diagnosis shows.
    type: int
    default: 20
  kubeconfig:
    description: Path to a kubeconfig, or its content as a dict (falls back to C(K8S_AUTH_KUBECONFIG)).
    type: raw
  context:
    description: Kubeconfig context (falls back to C(K8S_AUTH_CONTEXT)).
    type: str
  host:
    description: API server URL (falls back to C(K8S_AUTH_HOST)).
    type: str
  api_key:
    description: Bearer token (falls back to C(K8S_AUTH_API_KEY)).
    type: str
  username:
    description: Basic-auth user name (falls back to C(K8S_AUTH_USERNAME)).
    type: str
  password:
    description: Basic-auth password (falls back to C(K8S_AUTH_PASSWORD)).
    type: str
  validate_certs:
    description: Verify the API server's certificate (falls back to C(K8S_AUTH_VERIFY_SSL)).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA bundle of the API server (falls back to C(K8S_AUTH_SSL_CA_CERT)).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description: Client certificate (falls back to C(K8S_AUTH_CERT_FILE)).
    type: path
    aliases: [cert_file]
  client_key:
    description: Client key (falls back to C(K8S_AUTH_KEY_FILE)).
    type: path
    aliases: [key_file]
  proxy:
    description: HTTP proxy for the API server.
    type: str
  no_proxy:
    description: Hosts to reach without the proxy.
    type: str
  impersonate_user:
    description: User to impersonate.
    type: str
  impersonate_groups:
    description: Groups to impersonate.
    type: list
    elements: str
notes:
  - A Deployment counts as rolled out when its observed generation is current and every wanted replica is updated
    and available, the rule of M(kubernetes.core.k8s_info)'s C(wait).
"""

EXAMPLES = r"""
- name: Wait for the Deployments to roll out
  embedserve.vllm.rollout_wait:
    namespace: vllm-embeddings
    names: [minilm, granite]
    timeout: 900
"""

RETURN = r"""
elapsed:
  description: Seconds waited.
  returned: always
  type: int
  sample: 42
states:
  description: The last progress state of each model.
  returned: always
  type: dict
  sample: {"minilm": "rolled out (1/1 ready); pods: 1 Ready"}
diagnosis:
  description: On failure, the lines that explain it (also the start of C(msg)).
  returned: failed
  type: list
  elements: str
  sample: ["pod minilm-5d9f-abcde: phase Pending", "  event Warning FailedScheduling: 0/1 nodes are available"]
"""
