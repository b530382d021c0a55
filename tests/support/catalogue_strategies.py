"""Hypothesis strategies for random catalogues: mostly plausible values, with junk, hostile strings and typos mixed in.

Shared by the unit property test (the validator never crashes) and the
integration one (whatever it accepts, the API server accepts).
"""

import os
import tempfile

from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps its files outside the work tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "embedserve-hypothesis"))

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue_schema import ENTRY_FIELDS

HOSTILE_STRINGS = [
    "", " ", "a b", "x\ny", "x\n        - ipBlock: {cidr: 0.0.0.0/0}", "{{ lookup('env', 'HOME') }}", "'; rm -rf /",
    "UPPER", "-lead", "trail-", "a" * 64, "a" * 300, "ünïcödé", "null", "~", "true", "0x10", "1e400", "../..",
    "app.kubernetes.io/name", "embedserve.io/mode", "--max_model_len=99999", "--api-key", "lots", "-1", "3e9",
    "nightly", "latest", "@sha256:", "\t", "\x00", "\u2028",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 64), max_value=2 ** 64),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(HOSTILE_STRINGS))
junk = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(HOSTILE_STRINGS)),
                                                    children, max_size=3)), max_leaves=8)

dns_label = st.from_regex(r"\A[a-z]([-a-z0-9]{0,10}[a-z0-9])?\Z")
label_key = st.one_of(dns_label, st.builds("example.com/{}".format, dns_label))
label_value = st.one_of(st.just(""), dns_label, st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?\Z"))
quantity = st.one_of(
    st.integers(min_value=0, max_value=64),
    st.builds("{}{}".format, st.integers(min_value=0, max_value=4096), st.sampled_from(["", "m", "Mi", "Gi", "k", "G"])))
toleration = st.fixed_dictionaries({}, optional={
    "key": label_key, "operator": st.sampled_from(["Exists", "Equal"]), "value": label_value,
    "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
    "tolerationSeconds": st.integers(min_value=-10, max_value=10 ** 6)})
requirement = st.fixed_dictionaries({"key": label_key, "operator": st.sampled_from(
    ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"])}, optional={"values": st.lists(label_value, max_size=2)})
affinity = st.fixed_dictionaries({}, optional={
    "nodeAffinity": st.fixed_dictionaries({}, optional={
        "requiredDuringSchedulingIgnoredDuringExecution": st.fixed_dictionaries({"nodeSelectorTerms": st.lists(
            st.fixed_dictionaries({}, optional={"matchExpressions": st.lists(requirement, max_size=2)}),
            min_size=0, max_size=2)}),
        "preferredDuringSchedulingIgnoredDuringExecution": st.lists(st.fixed_dictionaries({
            "weight": st.integers(min_value=0, max_value=101),
            "preference": st.fixed_dictionaries({}, optional={"matchExpressions": st.lists(requirement, max_size=2)})}),
            max_size=2)}),
    "podAntiAffinity": st.fixed_dictionaries({}, optional={
        "preferredDuringSchedulingIgnoredDuringExecution": st.lists(st.fixed_dictionaries({
            "weight": st.integers(min_value=1, max_value=100),
            "podAffinityTerm": st.fixed_dictionaries({"topologyKey": label_key}, optional={
                "labelSelector": st.fixed_dictionaries({}, optional={
                    "matchLabels": st.dictionaries(label_key, label_value, max_size=2),
                    "matchExpressions": st.lists(requirement, max_size=1)})})}), max_size=2)})})

PLAUSIBLE = {
    "mode": st.sampled_from(["raw", "raw", "kserve"]),
    "max_model_len": st.integers(min_value=-1, max_value=600),
    "replicas": st.one_of(st.integers(min_value=0, max_value=3), st.sampled_from([2 ** 31 - 1, 2 ** 31, 3e9, "2"])),
    "served_model_name": dns_label,
    "display_name": st.text(max_size=20),
    "dtype": st.sampled_from(["auto", "half", "float16", "bfloat16", "float32", "fp8"]),
    "hf_overrides": st.fixed_dictionaries({}, optional={"max_position_embeddings": st.integers(1, 1024)}),
    "extra_args": st.lists(st.sampled_from(["--enable-prefix-caching", "--disable-log-stats", "--uvicorn-log-level",
                                            "warning", "--max_model_len=99999", "--task embed", "--api-key", "k",
                                            "--no-enforce-eager", "--gpu-mem", "0.9"]), max_size=3),
    "env": st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,8}\Z"), st.one_of(st.text(max_size=10), st.integers()),
                           max_size=3),
    "max_num_batched_tokens": st.integers(min_value=0, max_value=10 ** 5),
    "max_num_seqs": st.integers(min_value=0, max_value=512),
    "enforce_eager": st.booleans(),
    "gpu": st.booleans(),
    "device": st.sampled_from(["gpu", "cpu", "tpu"]),
    "image": st.sampled_from(["docker.io/vllm/vllm-openai:v0.32.0", "vllm/vllm-openai:nightly",
                              "quay.io/x/vllm@sha256:" + "0" * 64, "vllm/vllm-openai@sha256:", "vllm:v0.30.1"]),
    "resources": st.fixed_dictionaries({}, optional={
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory", "ephemeral-storage"]), quantity, max_size=2),
        "limits": st.dictionaries(st.sampled_from(["cpu", "memory", "example.com/dongle"]), quantity, max_size=2)}),
    "node_selector": st.dictionaries(label_key, label_value, max_size=2),
    "tolerations": st.lists(toleration, max_size=2),
    "affinity": affinity,
    "route": st.fixed_dictionaries({}, optional={
        "enabled": st.booleans(), "host": st.builds("{}.apps.example.com".format, dns_label),
        "path": st.sampled_from(["/", "/v1", "/a/b", "v1"]), "timeout": st.sampled_from(["30s", "5m", "1h", "x"])}),
    "network_policy": st.booleans(),
    "api_key": st.booleans(),
    "labels": st.dictionaries(st.one_of(label_key, st.sampled_from(["app.kubernetes.io/name", "embedserve.io/x"])),
                              label_value, max_size=3),
    "startup_timeout": st.integers(min_value=-5, max_value=10 ** 6),
    "storage": st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["pvc", "s3"]), "connection": dns_label, "path": st.sampled_from(["m", "a/b", "../x"])}),
    "disable_sliding_window": st.booleans(),
}
assert set(PLAUSIBLE) | {"name", "model", "revision"} == set(ENTRY_FIELDS), "a new catalogue key needs a strategy"


def entries(model, junk_weight=1):
    """One catalogue entry: name and model, any subset of the other keys, each plausible or junk, maybe a typo."""
    optional = dict((key, st.one_of(*([strategy] * 4 + [junk] * junk_weight))) for key, strategy in PLAUSIBLE.items())
    optional["max_modle_len"] = st.integers()
    optional["resource"] = junk
    return st.fixed_dictionaries({"name": st.one_of(dns_label, dns_label, junk), "model": st.just(model)},
                                 optional=optional)


def catalogues(model, junk_weight=1, max_size=3):
    return st.lists(entries(model, junk_weight), min_size=1, max_size=max_size)


# Values the validator should accept (most of the time: rules across fields,
# such as a request above its limit, still reject some), so the dry-run
# property sees many accepted catalogues with the tricky Kubernetes values.
VALID = dict(PLAUSIBLE, **{
    "mode": st.sampled_from(["raw", "raw", "kserve"]),
    "max_model_len": st.integers(min_value=1, max_value=256),
    "replicas": st.integers(min_value=0, max_value=2),
    "display_name": st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    "dtype": st.sampled_from(["auto", "half", "float16", "bfloat16", "float32"]),
    "extra_args": st.lists(st.sampled_from(["--enable-prefix-caching", "--disable-log-stats", "--uvicorn-log-level",
                                            "warning"]), max_size=3),
    "env": st.dictionaries(st.from_regex(r"\A[A-Z][A-Z0-9_]{0,8}\Z").filter(
        lambda name: name not in ("HF_TOKEN", "VLLM_API_KEY")), st.text(alphabet="abc 123", max_size=10), max_size=3),
    "max_num_batched_tokens": st.integers(min_value=256, max_value=8192),
    "max_num_seqs": st.integers(min_value=1, max_value=256),
    "device": st.sampled_from(["gpu", "cpu"]),
    "image": st.sampled_from(["docker.io/vllm/vllm-openai:v0.32.0", "quay.io/x/vllm@sha256:" + "0" * 64]),
    "route": st.fixed_dictionaries({}, optional={
        "enabled": st.booleans(), "host": st.builds("{}.apps.example.com".format, dns_label),
        "path": st.sampled_from(["/", "/v1", "/a/b"]), "timeout": st.sampled_from(["30s", "5m", "1h"])}),
    "labels": st.dictionaries(label_key, label_value, max_size=3),
    "startup_timeout": st.integers(min_value=10, max_value=3600),
    "storage": st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["pvc", "s3"]), "connection": dns_label, "path": st.sampled_from(["m", "a/b"])}),
    "disable_sliding_window": st.just(False),
})


def valid_catalogues(model, max_size=2):
    """Catalogues of distinct names with values the validator should mostly accept."""
    entry = st.fixed_dictionaries({"name": dns_label, "model": st.just(model)},
                                  optional=dict((key, VALID[key]) for key in VALID if key != "gpu"))
    return st.lists(entry, min_size=1, max_size=max_size, unique_by=lambda item: item["name"])
