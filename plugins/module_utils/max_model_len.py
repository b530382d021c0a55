# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""The maximum model length: what vLLM derives, what the model can hold, what we deploy.

derive_vllm_max_model_len() mirrors vLLM's _get_and_verify_max_len() (plus the
pooling-model hooks) for every supported release when --max-model-len is not
passed. position_limit() is the collection's own safety net: vLLM can derive a
length above the learned position table (a RoBERTa config without tokenizer
cap, a sentence-transformers max_seq_length above max_position_embeddings),
which fails with CUDA out-of-bounds errors at the first long request.
"""

import math

CONFIG_FILE = "config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

# vLLM's key scan: the minimum of whichever exist (identical in 0.10.1-0.33).
LENGTH_KEYS = (
    "max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
    "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len",
)

# vLLM's fallback when no key above exists.
DEFAULT_LENGTH = 2048

# Transformers config classes whose position_embedding_type defaults to
# "absolute" when config.json omits it; vLLM reads the attribute, default included.
ABSOLUTE_BY_DEFAULT = frozenset((
    "bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "electra", "ernie",
    "albert", "roberta-prelayernorm", "data2vec-text",
))
# Models with a learned absolute position table but no position_embedding_type
# attribute (vLLM's tokenizer cap does not apply to them; our limit does).
ABSOLUTE_WITHOUT_ATTRIBUTE = frozenset(("distilbert", "mpnet"))

# RoBERTa-style embeddings number positions from pad_token_id + 1, so that many
# table rows can never hold a token.
PADDING_OFFSET_MODEL_TYPES = frozenset((
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "roberta-prelayernorm",
    "data2vec-text", "mpnet",
))

# rope types that never change the derived length.
_ROPE_TYPES_KEEPING_LENGTH = ("su", "longrope", "llama3")
# rope types whose max_position_embeddings is already scaled (from 0.30).
_YARN_ROPE_TYPES = ("yarn", "deepseek_yarn", "deepseek_llama_scaling")

SENTENCE_TRANSFORMERS_CONFIG_FILES = (
    "sentence_bert_config.json", "sentence_roberta_config.json", "sentence_distilbert_config.json",
    "sentence_camembert_config.json", "sentence_albert_config.json", "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
)

NOMIC_ARCHITECTURE = "NomicBertModel"
NOMIC_DEFAULT_TRAINED_POSITIONS = 2048


# What the transformers config class of each supported model_type sets when
# config.json omits a key. vLLM reads the config object, not the raw JSON, so
# a BERT config without max_position_embeddings is 512 long (BertConfig's
# default), not vLLM's 2048 fallback. Values read from transformers 5.19.0 (the
# release in the vLLM 0.32.0 image), src/transformers/models/<type>/
# configuration_<type>.py, class __init__ defaults:
#   bert/configuration_bert.py BertConfig, roberta/configuration_roberta.py
#   RobertaConfig, xlm_roberta/configuration_xlm_roberta.py XLMRobertaConfig,
#   xlm_roberta_xl/configuration_xlm_roberta_xl.py XLMRobertaXLConfig,
#   camembert/configuration_camembert.py CamembertConfig,
#   electra/configuration_electra.py ElectraConfig, ernie/configuration_ernie.py
#   ErnieConfig, albert/configuration_albert.py AlbertConfig,
#   roberta_prelayernorm/configuration_roberta_prelayernorm.py,
#   data2vec/configuration_data2vec_text.py Data2VecTextConfig,
#   distilbert/configuration_distilbert.py DistilBertConfig,
#   mpnet/configuration_mpnet.py MPNetConfig, llama/configuration_llama.py
#   LlamaConfig, mistral/configuration_mistral.py MistralConfig,
#   qwen2/configuration_qwen2.py Qwen2Config, qwen3/configuration_qwen3.py
#   Qwen3Config, gemma/configuration_gemma.py GemmaConfig,
#   gemma2/configuration_gemma2.py Gemma2Config, gemma3/configuration_gemma3.py
#   Gemma3TextConfig, phi3/configuration_phi3.py Phi3Config,
#   modernbert/configuration_modernbert.py ModernBertConfig.
# Only keys the derivation and the sizing read are listed. NomicBert is remote
# code (no transformers class) and keeps the collection's own default.
_BERT_SHAPE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
CONFIG_CLASS_DEFAULTS = {
    "bert": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=0, vocab_size=30522, type_vocab_size=2),
    "roberta": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=1, vocab_size=50265, type_vocab_size=2),
    "xlm-roberta": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=1, vocab_size=30522,
                        type_vocab_size=2),
    "xlm-roberta-xl": {"max_position_embeddings": 514, "pad_token_id": 1, "hidden_size": 2560,
                       "num_hidden_layers": 36, "num_attention_heads": 32, "intermediate_size": 10240,
                       "vocab_size": 250880, "type_vocab_size": 1},
    "camembert": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=1, vocab_size=30522, type_vocab_size=2),
    "electra": {"max_position_embeddings": 512, "pad_token_id": 0, "hidden_size": 256, "num_hidden_layers": 12,
                "num_attention_heads": 4, "intermediate_size": 1024, "vocab_size": 30522, "type_vocab_size": 2},
    "ernie": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=0, vocab_size=30522, type_vocab_size=2),
    "albert": {"max_position_embeddings": 512, "pad_token_id": 0, "hidden_size": 4096, "num_hidden_layers": 12,
               "num_attention_heads": 64, "intermediate_size": 16384, "vocab_size": 30000, "type_vocab_size": 2},
    "roberta-prelayernorm": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=1, vocab_size=50265,
                                 type_vocab_size=2),
    "data2vec-text": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=1, vocab_size=30522,
                          type_vocab_size=2),
    # DistilBertConfig names its shape dim/n_layers/n_heads/hidden_dim (hidden_size etc. are aliases).
    "distilbert": {"max_position_embeddings": 512, "pad_token_id": 0, "vocab_size": 30522, "dim": 768,
                   "n_layers": 6, "n_heads": 12, "hidden_dim": 3072},
    "mpnet": dict(_BERT_SHAPE, max_position_embeddings=512, pad_token_id=1, vocab_size=30527),
    "llama": {"max_position_embeddings": 2048, "hidden_size": 4096, "num_hidden_layers": 32,
              "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000},
    "mistral": {"max_position_embeddings": 131072, "sliding_window": 4096, "hidden_size": 4096,
                "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                "intermediate_size": 14336, "vocab_size": 32000},
    "qwen2": {"max_position_embeddings": 32768, "use_sliding_window": False, "hidden_size": 4096,
              "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 22016, "vocab_size": 151936},
    "qwen3": {"max_position_embeddings": 32768, "use_sliding_window": False, "hidden_size": 4096,
              "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 22016, "vocab_size": 151936,
              "head_dim": 128},
    "gemma": {"max_position_embeddings": 8192, "pad_token_id": 0, "hidden_size": 3072, "num_hidden_layers": 28,
              "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256, "intermediate_size": 24576,
              "vocab_size": 256000},
    "gemma2": {"max_position_embeddings": 8192, "pad_token_id": 0, "sliding_window": 4096, "hidden_size": 2304,
               "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
               "intermediate_size": 9216, "vocab_size": 256000},
    "gemma3_text": {"max_position_embeddings": 131072, "pad_token_id": 0, "sliding_window": 4096,
                    "hidden_size": 2304, "num_hidden_layers": 26, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "intermediate_size": 9216, "vocab_size": 262208},
    "phi3": {"max_position_embeddings": 4096, "pad_token_id": 32000, "hidden_size": 3072, "num_hidden_layers": 32,
             "num_attention_heads": 32, "intermediate_size": 8192, "vocab_size": 32064},
    "modernbert": {"max_position_embeddings": 8192, "pad_token_id": 50283, "hidden_size": 768,
                   "num_hidden_layers": 22, "num_attention_heads": 12, "intermediate_size": 1152,
                   "vocab_size": 50368},
}


def with_class_defaults(config):
    """(config, [defaulted key...]): config.json completed with its transformers config class defaults.

    Applied to the top level and to a nested text_config (vLLM's hf_text_config
    is a config object of its own model_type). Keys already present, even as
    null, are kept: transformers keeps an explicit null too.
    """
    added = []

    def complete(part, prefix):
        defaults = CONFIG_CLASS_DEFAULTS.get(part.get("model_type"))
        if not defaults:
            return part
        part = dict(part)
        for key, value in sorted(defaults.items()):
            if key not in part:
                part[key] = value
                added.append("%s%s" % (prefix, key))
        return part

    completed = complete(config, "")
    if isinstance(completed.get("text_config"), dict):
        completed = dict(completed, text_config=complete(completed["text_config"], "text_config."))
    return completed, added


class MaxModelLenError(ValueError):
    """A requested length the model cannot serve, or a config vLLM would refuse."""


def text_config(config):
    """The part of config.json that describes the language model (vLLM's hf_text_config)."""
    nested = config.get("text_config")
    return nested if isinstance(nested, dict) else config


def position_embedding_type(config):
    """position_embedding_type as vLLM reads it from the top-level config (class default included)."""
    value = config.get("position_embedding_type")
    if value is None and config.get("model_type") in ABSOLUTE_BY_DEFAULT:
        return "absolute"
    return value


def _length_value(data, key, file_name):
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MaxModelLenError("%s: %s must be a number, found %s %s"
                               % (file_name, key, type(value).__name__, _shown(value)))
    if isinstance(value, float) and not math.isfinite(value):
        raise MaxModelLenError("%s: %s is %r, not a finite number (a value such as 1e400 overflows): fix the file "
                               "or override it with hf_overrides" % (file_name, key, value))
    if value <= 0:
        raise MaxModelLenError("%s: %s must be positive, found %r" % (file_name, key, value))
    return value


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _rope_number(rope, key, rope_key):
    value = rope.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise MaxModelLenError("%s: %s.%s must be a positive number, found %s"
                               % (CONFIG_FILE, rope_key, key, _shown(value)))
    return value


def _rope_parameters(text):
    """(config key, rope dict with a normalised rope_type) or (None, None)."""
    for key in ("rope_scaling", "rope_parameters"):
        rope = text.get(key)
        if isinstance(rope, dict) and rope:
            break
    else:
        return None, None
    if all(isinstance(value, dict) for value in rope.values()):
        # transformers v5 per-layer-type parameters: full attention sets the length.
        rope = rope.get("full_attention")
        if not rope:
            return None, None
    rope = dict(rope)
    rope_type = rope.get("rope_type") or rope.get("type") or "default"
    # vLLM patches legacy names before deriving.
    rope["rope_type"] = {"su": "longrope", "mrope": "default"}.get(rope_type, rope_type)
    return key, rope


def sentence_transformers_config(model_files):
    """(file name, dict) of the first non-empty sentence_*_config.json, as vLLM picks it."""
    for name in SENTENCE_TRANSFORMERS_CONFIG_FILES:
        data = model_files.read_json(name)
        if data:
            return name, data
    return None


def derive_vllm_max_model_len(config, tokenizer_config, st_config, version,
                              hf_overrides_given=False, disable_sliding_window=False):
    """What vLLM `version` uses as max_model_len when --max-model-len is not passed.

    config: config.json with hf_overrides already applied; tokenizer_config:
    tokenizer_config.json or None; st_config: sentence_transformers_config()
    result or None. Returns {value, file, key, notes}.
    """
    text = text_config(config)
    notes = []
    derived, source = float("inf"), None
    for key in LENGTH_KEYS:
        value = _length_value(text, key, CONFIG_FILE)
        if value is not None and value < derived:
            derived, source = value, (CONFIG_FILE, key)

    # Cohere-style configs: model_max_length replaces (not caps) the scan.
    if text.get("model_max_length"):
        derived, source = text["model_max_length"], (CONFIG_FILE, "model_max_length")

    sliding_window = None if text.get("use_sliding_window") is False else text.get("sliding_window")
    if disable_sliding_window and isinstance(sliding_window, int) and 0 < sliding_window < derived:
        derived, source = sliding_window, (CONFIG_FILE, "sliding_window")

    # Pooling models with absolute positions are capped by the tokenizer.
    if position_embedding_type(config) == "absolute" and tokenizer_config:
        tokenizer_length = _length_value(tokenizer_config, "model_max_length", TOKENIZER_CONFIG_FILE)
        if tokenizer_length is not None and tokenizer_length < derived:
            derived, source = tokenizer_length, (TOKENIZER_CONFIG_FILE, "model_max_length")

    if derived == float("inf"):
        derived, source = DEFAULT_LENGTH, (None, "vLLM default (no length key in config.json)")
        notes.append("config.json has none of %s; vLLM assumes %d" % (", ".join(LENGTH_KEYS), DEFAULT_LENGTH))

    rope_key, rope = _rope_parameters(text)
    if rope is not None and "gemma3" not in str(text.get("model_type", "")):
        derived, source = _apply_rope_scaling(derived, source, rope_key, rope, version, disable_sliding_window)

    if st_config is not None:
        st_name, st_data = st_config
        st_length = _length_value(st_data, "max_seq_length", st_name)
        if st_length is not None:
            if version.has("st_max_seq_length_alone") or "do_lower_case" in st_data:
                derived, source = st_length, (st_name, "max_seq_length")
            else:
                notes.append("vLLM %s ignores %s (max_seq_length=%s) because it has no do_lower_case key"
                             % (version, st_name, st_length))

    if not math.isfinite(derived):
        raise MaxModelLenError("%s: the derived length (%s: %s) is not a finite number"
                               % (CONFIG_FILE, source[0], source[1]))
    value = int(derived)
    if (rope is not None and rope["rope_type"] == "longrope"
            and version.has("longrope_defaults_to_original_length")):
        original = text.get("original_max_position_embeddings", rope.get("original_max_position_embeddings"))
        if original:
            value, source = int(original), (CONFIG_FILE, "original_max_position_embeddings")

    if _nomic_hook_applies(config, version, hf_overrides_given):
        trained = config.get("max_trained_positions", NOMIC_DEFAULT_TRAINED_POSITIONS)
        if trained < value:
            notes.append("vLLM %s disables Nomic context extension: max_model_len %d -> %d" % (version, value, trained))
            value, source = trained, (CONFIG_FILE, "max_trained_positions")

    return {"value": value, "file": source[0], "key": source[1], "notes": notes}


def _apply_rope_scaling(derived, source, rope_key, rope, version, disable_sliding_window):
    rope_type = rope["rope_type"]
    if rope_type in _ROPE_TYPES_KEEPING_LENGTH:
        return derived, source
    if rope_type in _YARN_ROPE_TYPES and version.has("yarn_length_already_scaled"):
        return derived, source
    if disable_sliding_window:
        raise MaxModelLenError("vLLM refuses to disable the sliding window of a model with %s type %s"
                               % (rope_key, rope_type))
    # A null factor counts as 1.0 ("default" rope has no factor at all).
    factor = _rope_number(rope, "factor", rope_key) or 1.0
    if factor == 1.0:
        return derived, source
    if rope_type == "yarn":
        original = _rope_number(rope, "original_max_position_embeddings", rope_key)
        if original is None:
            raise MaxModelLenError("%s: %s of type yarn lacks original_max_position_embeddings" % (CONFIG_FILE, rope_key))
        return original * factor, (CONFIG_FILE, "%s.original_max_position_embeddings * %s.factor" % (rope_key, rope_key))
    return derived * factor, (source[0] or CONFIG_FILE, "%s * %s.factor" % (source[1], rope_key))


def _nomic_hook_applies(config, version, hf_overrides_given):
    # vLLM 0.10.1-0.21 caps NomicBert at its trained length unless the user
    # configures context extension through --hf-overrides.
    return (NOMIC_ARCHITECTURE in (config.get("architectures") or ())
            and not version.has("nomic_context_hook_removed")
            and not hf_overrides_given)


def position_limit(config):
    """Longest input the learned absolute position table can hold: {value, file, key} or None."""
    model_type = config.get("model_type")
    declared = config.get("position_embedding_type")
    if declared is None:
        absolute = model_type in ABSOLUTE_BY_DEFAULT or model_type in ABSOLUTE_WITHOUT_ATTRIBUTE
    else:
        absolute = declared == "absolute"
    table = _length_value(config, "max_position_embeddings", CONFIG_FILE)
    if not absolute or table is None:
        return None
    if model_type in PADDING_OFFSET_MODEL_TYPES:
        pad_token_id = config.get("pad_token_id", 1)
        return {"value": int(table) - pad_token_id - 1, "file": CONFIG_FILE,
                "key": "max_position_embeddings - (pad_token_id + 1)"}
    return {"value": int(table), "file": CONFIG_FILE, "key": "max_position_embeddings"}


def choose_max_model_len(model, vllm_derived, limit, requested, version):
    """(value, {file, key}) the collection deploys; raises MaxModelLenError on a bad request.

    Without a request: the smaller of vLLM's derived length and the position
    limit. A request may not exceed either, except that vLLM accepts any
    length when it fell back to its default (no length key in config.json).
    """
    bounds = []
    if vllm_derived["file"] is not None or requested is None:
        bounds.append(dict(vllm_derived, what="vLLM %s derives" % version))
    if limit is not None:
        bounds.append(dict(limit, what="its position-embedding table holds"))
    ceiling = min(bounds, key=lambda bound: bound["value"]) if bounds else None
    if requested is None:
        return ceiling["value"], {"file": ceiling["file"], "key": ceiling["key"]}
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise MaxModelLenError("max_model_len must be a positive integer, got %r" % (requested,))
    if ceiling is not None and requested > ceiling["value"]:
        raise MaxModelLenError(
            "max_model_len %d is too long for %s: %s %d (%s: %s); omit max_model_len or set it <= %d"
            % (requested, model, ceiling["what"], ceiling["value"], ceiling["file"], ceiling["key"], ceiling["value"])
        )
    return requested, {"file": None, "key": "max_model_len (requested)"}
