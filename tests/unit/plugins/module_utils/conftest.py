"""Helpers to write synthetic model directories for module_utils tests."""

import json

import pytest


@pytest.fixture
def model_dir(tmp_path):
    """Write a model directory: model_dir(config, tokenizer=None, st=None, name='model', **extra_files)."""

    def write(config, tokenizer=None, st=None, name="model", files=None):
        directory = tmp_path / name
        directory.mkdir(parents=True)
        all_files = {"config.json": config, "tokenizer_config.json": tokenizer, "sentence_bert_config.json": st}
        all_files.update(files or {})
        for relative, content in all_files.items():
            if content is None:
                continue
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(directory)

    return write
