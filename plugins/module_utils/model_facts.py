# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""resolve_model(): one flat dict of facts about a pooling model, read from its files.

Every role reads this structure, so its key names are a public interface
(documented in the hf_model_config module's RETURN block).
"""

import copy
import math
import os

from ansible_collections.embedserve.vllm.plugins.module_utils.max_model_len import (
    ABSOLUTE_BY_DEFAULT,
    CONFIG_FILE,
    LENGTH_KEYS,
    TOKENIZER_CONFIG_FILE,
    choose_max_model_len,
    derive_vllm_max_model_len,
    position_embedding_type,
    position_limit,
    sentence_transformers_config,
    text_config,
    with_class_defaults,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import (
    open_model_files,
    summarize_safetensors,
)
from ansible_collections.embedserve.vllm.plugins.module_utils.vllm_versions import (
    DEFAULT_VLLM_VERSION,
    parse_vllm_version,
)

MODULES_FILE = "modules.json"

# What vLLM needs to serve an original Qwen3-Reranker checkpoint (a causal LM
# scoring the "yes"/"no" tokens) through its sequence-classification model.
QWEN3_RERANKER_OVERRIDES = {
    "architectures": ["Qwen3ForSequenceClassification"],
    "classifier_from_token": ["no", "yes"],
    "is_original_qwen3_reranker": True,
}

# Architecture suffixes vLLM treats as generative; served for embeddings they
# go through --convert embed.
GENERATIVE_SUFFIXES = ("ForCausalLM", "ForConditionalGeneration", "LMHeadModel", "ChatModel")
DECODER_MODEL_TYPES = frozenset(("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3"))

# 1_Pooling/config.json flags -> vLLM pooling type names.
POOLING_MODES = (
    ("pooling_mode_cls_token", "CLS"),
    ("pooling_mode_mean_tokens", "MEAN"),
    ("pooling_mode_lasttoken", "LAST"),
    ("pooling_mode_max_tokens", "MAX"),
    ("pooling_mode_weightedmean_tokens", "WEIGHTED_MEAN"),
    ("pooling_mode_mean_sqrt_len_tokens", "MEAN_SQRT_LEN"),
)

# Same attributes under older (GPT-2 style) or other names.
SHAPE_ALIASES = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "num_heads"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim"),
}
GATED_ACTIVATIONS = ("swiglu", "geglu")


class ModelFactsError(ValueError):
    """The model cannot be served as a pooling model the way it is configured."""


def _positive_int(value):
    return not isinstance(value, bool) and isinstance(value, int) and value > 0


def _non_negative_int(value):
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0


def _string_list(value):
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _finite_positive(value):
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value) and value > 0)


# The config.json keys the facts read, with the type each must have; a wrong
# type would otherwise surface as a Python error naming neither model nor key.
_POSITIVE_INT = (_positive_int, "a positive integer")
CONFIG_FIELD_TYPES = {
    "architectures": (_string_list, "a list of class names (strings)"),
    "model_type": (lambda v: isinstance(v, str), "a string"),
    "torch_dtype": (lambda v: isinstance(v, str), "a string such as float16"),
    "dtype": (lambda v: isinstance(v, str), "a string such as float16"),
    "position_embedding_type": (lambda v: isinstance(v, str), "a string such as absolute"),
    "activation_function": (lambda v: isinstance(v, str), "a string"),
    "hidden_act": (lambda v: isinstance(v, str), "a string"),
    "num_labels": _POSITIVE_INT,
    "id2label": (lambda v: isinstance(v, dict), "a mapping"),
    "auto_map": (lambda v: isinstance(v, dict), "a mapping"),
    "text_config": (lambda v: isinstance(v, dict), "a mapping"),
    "rope_scaling": (lambda v: isinstance(v, dict), "a mapping"),
    "rope_parameters": (lambda v: isinstance(v, dict), "a mapping"),
    "pad_token_id": (_non_negative_int, "a non-negative integer"),
    "type_vocab_size": (_non_negative_int, "a non-negative integer"),
    "max_trained_positions": _POSITIVE_INT,
    "original_max_position_embeddings": (_finite_positive, "a positive number"),
    "sliding_window": (_non_negative_int, "a non-negative integer"),
    "is_causal": (lambda v: isinstance(v, bool), "a boolean"),
    "use_sliding_window": (lambda v: isinstance(v, bool), "a boolean"),
    "tie_word_embeddings": (lambda v: isinstance(v, bool), "a boolean"),
    "attention_bias": (lambda v: isinstance(v, bool), "a boolean"),
    "qkv_proj_bias": (lambda v: isinstance(v, bool), "a boolean"),
    "mlp_fc1_bias": (lambda v: isinstance(v, bool), "a boolean"),
    "head_dim": _POSITIVE_INT,
    "num_key_value_heads": _POSITIVE_INT,
    "vocab_size": _POSITIVE_INT,
}
for _key in (key for keys in SHAPE_ALIASES.values() for key in keys):
    CONFIG_FIELD_TYPES[_key] = _POSITIVE_INT
# The length keys are checked where they are read (max_model_len._length_value).
for _key in LENGTH_KEYS:
    CONFIG_FIELD_TYPES.pop(_key, None)


def config_problems(config, label):
    """Messages for config.json values (top level and text_config) of the wrong type; null counts as absent."""
    problems = []
    parts = [("", config)]
    if isinstance(config.get("text_config"), dict):
        parts.append(("text_config.", config["text_config"]))
    for prefix, part in parts:
        for key, (valid, what) in sorted(CONFIG_FIELD_TYPES.items()):
            value = part.get(key)
            if value is not None and not valid(value):
                problems.append("%s: %s%s must be %s, found %s %s" % (
                    label, prefix, key, what, type(value).__name__, _shown(value)))
    return problems


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve_model(model, revision=None, token=None, cache_dir=None, offline=False,
                  vllm_version=DEFAULT_VLLM_VERSION, max_model_len=None, hf_overrides=None,
                  disable_sliding_window=False):
    """Read a model (local directory or Hub repo id) and return its facts dict."""
    version = parse_vllm_version(vllm_version)
    model_files = open_model_files(model, revision=revision, token=token, cache_dir=cache_dir, offline=offline)
    return facts_from_files(model_files, version, max_model_len, hf_overrides or {}, disable_sliding_window)


def facts_from_files(model_files, version, requested_max_model_len=None, user_overrides=None,
                     disable_sliding_window=False):
    """Facts from opened model files (model_files.open_model_files) for a parsed vLLM version.

    Raises a ValueError subclass naming the model and the file and key for
    anything malformed: a bad model file must never surface as a Python error.
    """
    try:
        return _facts_from_files(model_files, version, requested_max_model_len, user_overrides,
                                 disable_sliding_window)
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, OverflowError, ZeroDivisionError,
            RecursionError) as exc:
        raise ModelFactsError("%s: a model file has a value the collection cannot use (%s: %s); check config.json "
                              "and the sentence-transformers files" % (model_files.model, type(exc).__name__,
                                                                       _shown(str(exc))[1:-1])) from exc


def _facts_from_files(model_files, version, requested_max_model_len, user_overrides, disable_sliding_window):
    raw_config = model_files.read_json(CONFIG_FILE, required=True)
    if not isinstance(user_overrides or {}, dict):
        raise ModelFactsError("%s: hf_overrides must be a mapping" % model_files.model)
    needed_overrides = _needed_overrides(model_files.model, raw_config, user_overrides or {})
    hf_overrides = apply_overrides(needed_overrides, user_overrides or {})
    config = apply_overrides(raw_config, hf_overrides)
    problems = config_problems(config, model_files.describe(CONFIG_FILE))
    if problems:
        raise ModelFactsError("; ".join(problems[:10]) + (" (and %d more)" % (len(problems) - 10)
                                                          if len(problems) > 10 else ""))
    config, defaulted = with_class_defaults(config)
    text = text_config(config)

    architecture = (config.get("architectures") or [""])[0]
    attention = _attention_kind(config, text, architecture)
    task = "score" if architecture.endswith("ForSequenceClassification") else "embed"
    num_labels = _num_labels(model_files.model, config, task)

    tokenizer_config = model_files.read_json(TOKENIZER_CONFIG_FILE)
    st_config = sentence_transformers_config(model_files)
    derived = derive_vllm_max_model_len(config, tokenizer_config, st_config, version,
                                        hf_overrides_given=bool(hf_overrides),
                                        disable_sliding_window=disable_sliding_window)
    limit = position_limit(config)
    chosen, chosen_source = choose_max_model_len(model_files.model, derived, limit, requested_max_model_len, version)

    pipeline = _sentence_transformers_pipeline(model_files)
    shape = shape_facts(text)
    num_parameters, checkpoint_dtype = summarize_safetensors(model_files.safetensors_tensors())
    parameters_source = "safetensors"
    if num_parameters is None:
        num_parameters = estimate_parameters(config, shape, attention, architecture, num_labels)
        parameters_source = "config_shape_estimate"
    config_dtype = config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype")

    notes = list(derived["notes"])
    if defaulted:
        notes.append("config.json omits %s: transformers' %s config class defaults apply, as they do in vLLM"
                     % (", ".join(defaulted), config.get("model_type")))
    if limit is not None and derived["value"] > limit["value"]:
        notes.append("vLLM %s would derive %d, above the position table (%d); deploying at most %d"
                     % (version, derived["value"], limit["value"], limit["value"]))
    if parameters_source != "safetensors":
        notes.append("no safetensors weights found: num_parameters estimated from the config shape")

    facts = {
        "model": model_files.model,
        "revision": model_files.revision,
        "commit": model_files.commit,
        "source": model_files.source,
        "local_path": model_files.local_path,
        "vllm_version": version.text,
        "vllm_max_model_len": derived["value"],
        "vllm_max_model_len_source": {"file": derived["file"], "key": derived["key"]},
        "max_model_len": chosen,
        "max_model_len_source": chosen_source,
        "position_limit": limit,
        "requested_max_model_len": requested_max_model_len,
        "architectures": list(config.get("architectures") or []),
        "model_type": config.get("model_type"),
        "task": task,
        "runner": "pooling",
        "convert": "embed" if task == "embed" and architecture.endswith(GENERATIVE_SUFFIXES) else None,
        "embedding_dimension": _embedding_dimension(pipeline, shape) if task == "embed" else None,
        "normalize": pipeline["normalize"],
        "pooling_type": pipeline["pooling_type"] or ("LAST" if attention == "decoder" else "CLS"),
        "num_labels": num_labels,
        "num_parameters": num_parameters,
        "num_parameters_source": parameters_source,
        "dtype": checkpoint_dtype or config_dtype or "float32",
        "serve_dtype": serve_dtype(config_dtype),
        "attention": attention,
        "position_embedding_type": _position_type(config, text),
        "trust_remote_code": bool(config.get("auto_map")),
        "hf_overrides": hf_overrides,
        "disable_sliding_window": bool(disable_sliding_window),
        "files_read": list(model_files.files_read),
        "notes": notes,
    }
    facts.update(shape)
    return facts


def apply_overrides(config, overrides):
    """Copy of config with overrides merged in, nested dicts merged key by key (as vLLM does)."""
    merged = copy.deepcopy(config)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = apply_overrides(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _needed_overrides(model, config, user_overrides):
    architecture = (config.get("architectures") or [""])[0]
    name = os.path.basename(os.path.normpath(model)).lower()
    if architecture == "Qwen3ForCausalLM" and "reranker" in name and "architectures" not in user_overrides:
        return copy.deepcopy(QWEN3_RERANKER_OVERRIDES)
    # transformers 5 (the vLLM images from about 0.21 on) dropped the class
    # default of position_embedding_type, and vLLM's BERT/RoBERTa config hook
    # then fails on a config.json without it; state the value transformers 4
    # defaulted to, which changes nothing where the default still exists.
    if config.get("model_type") in ABSOLUTE_BY_DEFAULT and "position_embedding_type" not in config \
            and "position_embedding_type" not in user_overrides:
        return {"position_embedding_type": "absolute"}
    return {}


def _attention_kind(config, text, architecture):
    if config.get("is_causal") is False or text.get("is_causal") is False:
        return "encoder_only"
    if (architecture.endswith(GENERATIVE_SUFFIXES) or "num_key_value_heads" in text
            or text.get("model_type") in DECODER_MODEL_TYPES):
        return "decoder"
    return "encoder_only"


def _num_labels(model, config, task):
    if task != "score":
        return None
    if config.get("classifier_from_token"):
        # The yes/no token pair is turned into one relevance score.
        return 1
    labels = config.get("num_labels") or len(config.get("id2label") or {}) or 2  # transformers' default
    if labels != 1:
        raise ModelFactsError(
            "%s is a sequence classifier with %d labels; vLLM's score and rerank APIs need exactly one "
            "(a cross-encoder relevance score)" % (model, labels)
        )
    return labels


def _position_type(config, text):
    declared = position_embedding_type(config)
    if declared is not None:
        return declared
    if any(key in text for key in ("rope_theta", "rope_scaling", "rope_parameters", "rotary_emb_base")):
        return "rotary"
    return None


def serve_dtype(config_dtype):
    """The dtype vLLM picks with --dtype auto for a pooling model: float32 checkpoints run in float16."""
    if config_dtype in (None, "float32", "float"):
        return "float16"
    return config_dtype


def shape_facts(text):
    shape = {}
    for name, keys in SHAPE_ALIASES.items():
        shape[name] = next((text[key] for key in keys if text.get(key) is not None), None)
    if shape["intermediate_size"] is None and shape["hidden_size"]:
        shape["intermediate_size"] = 4 * shape["hidden_size"]
    heads = shape["num_attention_heads"]
    shape["num_key_value_heads"] = text.get("num_key_value_heads") or heads
    shape["head_dim"] = text.get("head_dim") or (shape["hidden_size"] // heads if heads and shape["hidden_size"] else None)
    shape["vocab_size"] = text.get("vocab_size")
    return shape


def _sentence_transformers_pipeline(model_files):
    """Pooling type, output dimension and normalisation from modules.json and its module configs."""
    pipeline = {"pooling_type": None, "pooling_dimension": None, "dense_out_features": None, "normalize": False}
    modules = model_files.read_json(MODULES_FILE, expect=list) or []
    for module in modules:
        if not isinstance(module, dict):
            raise ModelFactsError("%s: every entry must be an object" % model_files.describe(MODULES_FILE))
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = module.get("path") or ""
        if not isinstance(path, str) or path.startswith(("/", "~")) or ".." in path.replace("\\", "/").split("/"):
            raise ModelFactsError("%s: path %s must be a folder inside the model"
                                  % (model_files.describe(MODULES_FILE), _shown(path)))
        if kind == "Normalize":
            pipeline["normalize"] = True
        elif kind == "Pooling":
            pooling = model_files.read_json("%s/config.json" % (path or "1_Pooling")) or {}
            pipeline["pooling_type"] = next((name for flag, name in POOLING_MODES if pooling.get(flag)), None)
            pipeline["pooling_dimension"] = _module_int(model_files, "%s/config.json" % (path or "1_Pooling"),
                                                        pooling, "word_embedding_dimension")
        elif kind == "Dense":
            dense = model_files.read_json("%s/config.json" % path, required=True)
            pipeline["dense_out_features"] = _module_int(model_files, "%s/config.json" % path, dense, "out_features")
    return pipeline


def _module_int(model_files, name, data, key):
    value = data.get(key)
    if value is not None and not _positive_int(value):
        raise ModelFactsError("%s: %s must be a positive integer, found %s %s"
                              % (model_files.describe(name), key, type(value).__name__, _shown(value)))
    return value


def _embedding_dimension(pipeline, shape):
    return pipeline["dense_out_features"] or pipeline["pooling_dimension"] or shape["hidden_size"]


def estimate_parameters(config, shape, attention, architecture, num_labels):
    """Parameter count from the config shape, for repositories without safetensors."""
    hidden, layers = shape["hidden_size"], shape["num_hidden_layers"]
    inner, vocab = shape["intermediate_size"], shape["vocab_size"] or 0
    heads, kv_heads, head_dim = shape["num_attention_heads"], shape["num_key_value_heads"], shape["head_dim"]
    if not (hidden and layers and heads):
        raise ModelFactsError("config.json lacks hidden_size/num_hidden_layers/num_attention_heads: "
                              "cannot estimate the parameter count without safetensors")
    if attention == "decoder":
        attention_params = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
        if config.get("attention_bias"):
            attention_params += heads * head_dim + 2 * kv_heads * head_dim
        qk_norm = 2 * head_dim if config.get("model_type") == "qwen3" else 0
        per_layer = attention_params + 3 * hidden * inner + 2 * hidden + qk_norm
        total = vocab * hidden + layers * per_layer + hidden
        if architecture.endswith("ForCausalLM") and not config.get("tie_word_embeddings", True):
            total += vocab * hidden
        return total
    activation = config.get("activation_function") or config.get("hidden_act") or ""
    mlp_matrices = 3 if activation in GATED_ACTIVATIONS else 2
    attention_bias = config.get("qkv_proj_bias", True)
    mlp_bias = config.get("mlp_fc1_bias", True)
    embeddings = vocab * hidden + config.get("type_vocab_size", 0) * hidden + 2 * hidden
    if position_limit(config) is not None:
        embeddings += config["max_position_embeddings"] * hidden
    per_layer = (4 * hidden * hidden + (4 * hidden if attention_bias else 0)
                 + mlp_matrices * hidden * inner + ((inner + hidden) if mlp_bias else 0)
                 + 4 * hidden)
    total = embeddings + layers * per_layer
    if architecture.endswith("ForSequenceClassification"):
        # pooler/dense (hidden x hidden) + one output row per label
        total += hidden * hidden + hidden + hidden * num_labels + num_labels
    elif architecture.endswith("Model") and config.get("model_type") != "nomic_bert":
        total += hidden * hidden + hidden  # BERT-style pooler
    return total
