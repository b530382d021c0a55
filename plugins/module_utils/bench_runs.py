# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""The benchmark role's runs: one per explicit target list, or one per catalogue model.

A catalogue model's run loads the URL endpoint_targets found for it (plus benchmark_compare[<name>] when
given), under the model name its server lists (the catalogue endpoint's served_model_name). A model without a
URL carries the reason, and the role stops before any load. Each run's results are written to
<output_dir>/<file>.json and .svg, file being <run>-<kind> made safe for a file name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

KINDS = ("auto", "embeddings", "rerank")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class RunPlanError(ValueError):
    """The runs cannot be planned; the message names the setting."""


def file_name(run, kind):
    return _UNSAFE.sub("_", "%s-%s" % (run, kind))


def plan_runs(models, reached, explicit=None, compare=None, api_keys=None, secret_keys=None, kind="auto"):
    """[{name, file, kind, targets, reason}]. models: catalogue entries; reached: the
    model_targets result (with port-forwards filled in); api_keys: model -> key given; secret_keys: Secret name
    -> key read from the cluster."""
    if kind not in KINDS:
        raise RunPlanError("benchmark_kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    default_kind = "embeddings" if kind == "auto" else kind
    if explicit:
        name = "-vs-".join(str(t.get("name") or "AB"[i]) for i, t in enumerate(explicit))
        return [{"name": name, "file": file_name(name, default_kind), "kind": default_kind,
                 "targets": list(explicit), "reason": ""}]
    compare, api_keys, secret_keys = compare or {}, api_keys or {}, secret_keys or {}
    runs = []
    for model in models or []:
        name = model["name"]
        target = reached[name]
        if name in api_keys:
            key = str(api_keys[name])
        elif (model.get("api_key") or {}).get("enabled"):
            key = secret_keys.get(model["api_key"]["secret_name"], "")
        else:
            key = ""
        run_kind = default_kind if kind != "auto" else ("rerank" if model["facts"]["task"] == "score" else "embeddings")
        main = {"name": name, "url": target["url"], "flavour": "openai",
                "model": target["served_model_name"]}
        if key:
            main["api_key"] = key
        targets = [main]
        if name in compare:
            other = dict(compare[name])
            other["name"] = other.get("name") or "%s-%s" % (name, other.get("flavour") or "openai")
            targets.append(other)
        runs.append({"name": name, "file": file_name(name, run_kind), "kind": run_kind, "targets": targets,
                     "reason": "%s: %s" % (name, target["reason"]) if target["reason"] else ""})
    return runs
