"""Air-gapped use of the catalogue: the offline hint fills the cache the collection reads,
and hf_endpoint sends the Hub reads to a mirror."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.embedserve.vllm.plugins.module_utils.model_files import download_hint
from ansible_collections.embedserve.vllm.plugins.modules import model_catalogue

REPO = Path(__file__).resolve().parents[4]
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def test_the_download_hint_names_the_cache_and_revision():
    assert download_hint(MINILM) == "hf download %s" % MINILM
    assert download_hint(MINILM, "abc123", "/srv/hf cache") == \
        "hf download %s --revision abc123 --cache-dir '/srv/hf cache'" % MINILM


def test_offline_without_the_model_says_how_to_fill_embedserve_hf_cache_dir(capsys, tmp_path):
    args = {"models": [{"name": "minilm", "model": MINILM}], "namespace": "ns", "cache_dir": str(tmp_path),
            "offline": True}
    with patch_module_args(args), pytest.raises(SystemExit):
        model_catalogue.main()
    message = json.loads(capsys.readouterr().out)["msg"]
    assert "hf download %s --cache-dir %s" % (MINILM, tmp_path) in message


class _Mirror(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_hf_endpoint_sends_the_hub_reads_to_the_mirror(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mirror = "http://127.0.0.1:%d" % server.server_address[1]
    playbook = tmp_path / "catalogue.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "embedserve.vllm.model_catalogue": {"models": [{"name": "minilm", "model": MINILM}], "namespace": "ns",
                                            "cache_dir": str(tmp_path / "cache"), "hf_endpoint": mirror}}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), HF_ENDPOINT="http://127.0.0.1:9",
               HF_HUB_OFFLINE="0", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
    finally:
        server.shutdown()
    assert proc.returncode != 0  # the mirror has no such model
    assert any(MINILM in path for path in _Mirror.seen), (_Mirror.seen, proc.stdout[-2000:])
    assert "was not found on the Hub" in proc.stdout or "cannot read model" in proc.stdout
