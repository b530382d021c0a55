"""The hf_model_config module and the vllm_args filter, end to end, against real vLLM on CPU.

An ansible-playbook run reads the real all-MiniLM-L6-v2 folder with
embedserve.vllm.hf_model_config and builds the server command with the
embedserve.vllm.vllm_args filter (dtype float32, the CPU backend's dtype; a
GPU deployment would keep auto). vLLM is started with exactly that command,
arguments and environment; only --host/--port go to a free loopback port and
VLLM_CPU_KVCACHE_SPACE sizes the CPU backend's cache.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vllm.server import REPO, VllmServer, minilm_dir, venv_python

pytestmark = pytest.mark.vllm

PLAYBOOK = """
- name: Build the MiniLM server command with the collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the model as vLLM 0.32.0 sees it
      embedserve.vllm.hf_model_config:
        model: "{{ model_dir }}"
        vllm_version: "0.32.0"
      register: facts

    - name: Write the facts and the vllm_args result
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0644"
        content: "{{ {'facts': facts, 'server': facts | embedserve.vllm.vllm_args({'dtype': 'float32',
                     'served_model_name': 'minilm'})} | to_json }}"
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vllm-args")
    (tmp / "build.yml").write_text(PLAYBOOK)
    out = tmp / "server.json"
    extra = {"model_dir": str(minilm_dir(venv_python())), "out": str(out)}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(tmp / "build.yml"),
                           "-e", json.dumps(extra)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_module_facts_for_minilm(built):
    facts = built["facts"]
    assert facts["vllm_max_model_len"] == facts["max_model_len"] == 256
    assert facts["max_model_len_source"]["file"] == "sentence_bert_config.json"
    assert facts["embedding_dimension"] == 384 and facts["task"] == "embed" and facts["normalize"] is True


def test_real_vllm_serves_minilm_with_the_arguments_vllm_args_builds(built, tmp_path):
    server = built["server"]
    assert "--task" not in server["args"] and server["args"][server["args"].index("--runner") + 1] == "pooling"
    env = dict(server["env"], VLLM_CPU_KVCACHE_SPACE="1", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "c"))
    with VllmServer(server["command"] + server["args"], env=env, log_path=tmp_path / "vllm.log") as srv:
        models = srv.get_json("/v1/models")["data"]
        assert [m["id"] for m in models] == ["minilm"]
        assert models[0]["max_model_len"] == built["facts"]["max_model_len"]
        body = srv.post_json("/v1/embeddings", {"model": "minilm", "input": ["vllm_args built this server"]})
        assert len(body["data"][0]["embedding"]) == built["facts"]["embedding_dimension"] == 384
