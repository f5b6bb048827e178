"""Fixtures of the CTSM tests: real data from ../shared/data (or $EDG_SHARED_DATA)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edg.testing import require_shared


@pytest.fixture(scope="session")
def lexicon_path() -> Path:
    return require_shared("nrc_vad/NRC-VAD-Lexicon.txt")


@pytest.fixture(scope="session")
def ed_path() -> Path:
    return require_shared("empatheticdialogues/train.csv").parent


@pytest.fixture(scope="session")
def ed_splits(ed_path, tmp_path_factory):
    """A few real ED samples per split."""
    from edg.data import load_splits

    return load_splits(str(ed_path), max_examples={"train": 48, "valid": 8, "test": 8})


def _make_system(presets=("tiny",), overrides=(), lexicon=None):
    """A ``ctsm`` system resolved like ``edg run --plugin ctsm`` with several presets
    layered (the CLI takes one)."""
    from edg.config import parse_overrides, resolve, validate
    from edg.plugins import load_for_system

    plugins = load_for_system("ctsm")
    cls = plugins.get("system", "ctsm")
    layers = [{"system": "ctsm"}, cls.default_config(), *[cls.presets[p] for p in presets]]
    extra = list(overrides) + ([f"model.vad_lexicon={lexicon}"] if lexicon else [])
    layers.append(parse_overrides(extra))
    config = resolve(layers)
    options = validate(cls.Options, config.model, prefix="model.")
    system = cls(config, options, plugins)
    system.registered_name = "ctsm"
    return system


@pytest.fixture(scope="session")
def make_system():
    """``make_system(presets, overrides, lexicon) -> CtsmSystem`` (no tokenizer yet)."""
    return _make_system


@pytest.fixture(scope="session")
def tokenizer(ed_splits):
    from edg.config import TokenizerConfig
    from edg.tokenization import build_tokenizer

    train = ed_splits["train"]
    texts = [u for ctx, tgt in zip(train["context"], train["target"]) for u in [*ctx, tgt]]
    return build_tokenizer(TokenizerConfig(vocab_size=2000), texts)


@pytest.fixture()
def build(ed_splits, tokenizer, lexicon_path):
    """``build(presets, overrides) -> (system, model)`` on the real samples and lexicon."""

    def _build(presets=("tiny",), overrides=()):
        import torch

        torch.manual_seed(0)
        system = _make_system(presets, overrides, lexicon=str(lexicon_path))
        system.tokenizer = tokenizer
        system.prepare(ed_splits)
        return system, system.build_model()

    return _build
