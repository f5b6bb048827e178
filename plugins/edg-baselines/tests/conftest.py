"""Fixtures of the baseline tests: real ED samples from ../shared/data (or $EDG_SHARED_DATA)
and systems resolved as ``edg run --plugin NAME`` resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from edg.testing import require_shared


@pytest.fixture(scope="session")
def ed_path() -> Path:
    return require_shared("empatheticdialogues/train.csv").parent


@pytest.fixture(scope="session")
def ed_splits(ed_path):
    """A few real ED samples per split."""
    from edg.data import load_splits

    return load_splits(str(ed_path), max_examples={"train": 48, "valid": 8, "test": 8})


def _make_system(name: str, presets=("tiny",), overrides=()):
    """A system resolved like ``edg run --plugin NAME`` with several presets layered."""
    from edg.config import parse_overrides, resolve, validate
    from edg.plugins import load_for_system

    plugins = load_for_system(name)
    cls = plugins.get("system", name)
    layers = [{"system": name}, cls.default_config(), *[cls.presets[p] for p in presets],
              parse_overrides(list(overrides))]
    config = resolve(layers)
    options = validate(cls.Options, config.model, prefix="model.")
    system = cls(config, options, plugins)
    system.registered_name = name
    return system


@pytest.fixture(scope="session")
def make_system():
    """``make_system(name, presets, overrides) -> System`` (no tokenizer yet)."""
    return _make_system


@pytest.fixture(scope="session")
def tokenizer(ed_splits):
    from edg.config import TokenizerConfig
    from edg.tokenization import build_tokenizer

    train = ed_splits["train"]
    texts = [u for ctx, tgt in zip(train["context"], train["target"]) for u in [*ctx, tgt]]
    return build_tokenizer(TokenizerConfig(vocab_size=2000), texts)


@pytest.fixture()
def build(ed_splits, tokenizer):
    """``build(name, presets, overrides) -> (system, model, splits)`` on the real samples."""

    def _build(name, presets=("tiny",), overrides=()):
        import torch

        torch.manual_seed(0)
        system = _make_system(name, presets, overrides)
        system.tokenizer = tokenizer
        splits = system.prepare(dict(ed_splits))
        return system, system.build_model(), splits

    return _build


@pytest.fixture()
def assert_conv_feed_forward(build):
    """``assert_conv_feed_forward(name, encoders, decoders)``: with ``model.feed_forward=conv``
    system ``name`` has ``encoders`` encoder layers, each a ``ConvEncoderLayer``, and
    ``decoders`` decoder layers, each with the convolutions; by default none has them."""

    def _check(name, *, encoders, decoders):
        import torch

        from edg.baseline.conv_feed_forward import ConvEncoderLayer, is_conv

        _, model, _ = build(name, overrides=["model.feed_forward=conv"])
        encoder_layers = [m for m in model.modules() if isinstance(m, torch.nn.TransformerEncoderLayer)]
        decoder_layers = [m for m in model.modules() if isinstance(m, torch.nn.TransformerDecoderLayer)]
        assert len(encoder_layers) == encoders and all(isinstance(m, ConvEncoderLayer) for m in encoder_layers)
        assert len(decoder_layers) == decoders and all(is_conv(m) for m in decoder_layers)
        _, linear, _ = build(name)
        assert not any(is_conv(m) for m in linear.modules())

    return _check
