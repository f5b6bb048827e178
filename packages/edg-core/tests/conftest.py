"""Shared fixtures of the core tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

from edg.testing import TINY_TRANSFORMER as TINY


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    """Run in a temporary directory with a private edg cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished tiny ``transformer`` run on the embedded sample (shared by tests that
    only read it)."""
    from edg.cli import main

    base = tmp_path_factory.mktemp("trained")
    old = Path.cwd()
    os.environ.setdefault("EDG_CACHE", str(base / "cache"))
    os.chdir(base)
    try:
        assert main(["run", "--plugin", "transformer", *TINY]) == 0
    finally:
        os.chdir(old)
    (run_dir,) = list((base / "runs" / "transformer").iterdir())
    return run_dir


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT with random weights and a 20-word vocabulary, for BERTScore tests."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    d = tmp_path_factory.mktemp("tiny-bert")
    words = "i am sorry to hear that . oh no is great ! you are so happy for".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(words))]
    # a vocabulary mapping: recent transformers ignore vocab_file here and would map every word to [UNK]
    tok = transformers.BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})
    assert tok.unk_token_id not in tok(" ".join(words), add_special_tokens=False)["input_ids"]
    tok.save_pretrained(str(d))
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64,
    )
    transformers.BertModel(cfg).save_pretrained(str(d))
    return d
