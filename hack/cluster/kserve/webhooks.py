#!/usr/bin/env python3
"""KServe's webhook configurations pointed at a manager running on the host.

Reads kserve's config/webhook/manifests.yaml as JSON (`kubectl create --dry-run=client -o json`, so only the
standard library is needed) on stdin and writes it back with every clientConfig.service replaced by
url https://127.0.0.1:<port><path> and the local CA as caBundle: the same hooks, rules, failure policies and
selectors a cluster registers, served by the process instead of through the kserve-webhook-server-service.
Usage: webhooks.py <port> <ca.crt> < manifests.json > webhooks.json
"""
import base64
import json
import sys


def main(port, ca_file):
    # kubectl prints one JSON document per object, one after the other.
    text, decoder, items, index = sys.stdin.read(), json.JSONDecoder(), [], 0
    while text[index:].strip():
        doc, end = decoder.raw_decode(text, index + len(text[index:]) - len(text[index:].lstrip()))
        items += doc["items"] if doc.get("kind") == "List" else [doc]
        index = end
    ca = base64.b64encode(open(ca_file, "rb").read()).decode()
    for item in items:
        item["metadata"].pop("creationTimestamp", None)
        item["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = "embedserve-cluster"
        for hook in item["webhooks"]:
            service = hook["clientConfig"].pop("service")
            hook["clientConfig"] = {"url": "https://127.0.0.1:%d%s" % (port, service["path"]), "caBundle": ca}
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
