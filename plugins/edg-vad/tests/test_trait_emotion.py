"""CTSM's trait-emotion module: V_t = VAD ⊕ IDF ⊕ W_C·H_C, its encoder, shapes and errors."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from edg.data.statistics import idf
from edg.errors import ConfigError, ResourceError
from edg.interfaces.component import build
from edg.interfaces.types import EmotionOutput
from edg.plugins import PluginManager
from edg_vad.features import tokenize
from edg_vad.trait_emotion import TraitEmotion

VOCAB = ["[PAD]", "[CLS]", "i", "am", "so", "happy", "sad", "today", "dog"]
DOCS = ["i am so happy today", "i am sad", "my dog is happy"]


def make(lexicon_path, **options):
    return build(
        TraitEmotion,
        {"lexicon_path": str(lexicon_path), **options},
        name="vad.trait",
        key="model.emotion",
        d_model=16,
        num_emotions=32,
        vocab=VOCAB,
        idf=idf(DOCS, tokenize),
    )


def batch():
    ids = torch.tensor([[1, 2, 3, 4, 5, 7], [1, 2, 3, 6, 0, 0]])
    mask = ids != 0
    torch.manual_seed(0)
    hidden = torch.randn(2, 6, 16)
    return hidden, mask, ids


def test_feature_concatenation_values(lexicon_path):
    module = make(lexicon_path).eval()
    hidden, mask, ids = batch()
    v_t = module.trait_features(hidden, ids)
    assert v_t.shape == (2, 6, 3 + 1 + 10)
    torch.testing.assert_close(v_t[0, 4, :3], torch.tensor([1.0, 0.735, 0.772]))  # happy
    torch.testing.assert_close(v_t[1, 3, :3], torch.tensor([0.225, 0.333, 0.149]))  # sad
    torch.testing.assert_close(v_t[0, 1, :3], torch.tensor([0.0, 0.5, 0.0]))  # 'i': neutral
    assert v_t[0, 4, 3].item() == pytest.approx(idf(DOCS, tokenize)["happy"] / math.log(3))  # IDF / max
    torch.testing.assert_close(v_t[..., 4:], hidden @ module.compress.weight.T)  # W_C H_C


def test_buffers_are_aligned_with_the_vocabulary(lexicon_path):
    module = make(lexicon_path, idf_scaling="none")
    assert module.vad_table.shape == (len(VOCAB), 3) and module.idf_table.shape == (len(VOCAB),)
    table = idf(DOCS, tokenize)
    for i, token in enumerate(VOCAB):
        assert module.idf_table[i].item() == pytest.approx(table[token])  # unseen -> log N
    assert "vad_table" in module.state_dict()


def test_idf_is_scaled_to_the_vad_range_by_default(lexicon_path):
    table = idf(DOCS, tokenize)
    module = make(lexicon_path)
    # divided by the largest value, log N (3 documents; [PAD] was never seen): [0, 1] like VAD
    assert module.idf_table.max().item() == pytest.approx(1.0)
    assert module.idf_table[VOCAB.index("happy")].item() == pytest.approx(table["happy"] / math.log(3))
    hidden, mask, ids = batch()
    assert module.trait_features(hidden, ids)[..., 3].max() <= 1.0


def test_handmade_lexicon_option(lexicon_path):
    """``handmade_lexicon: true`` reads the lexicon edg-vad ships (offline tiny runs)."""
    module = build(TraitEmotion, {"handmade_lexicon": True}, name="vad.trait", key="model.emotion",
                   d_model=16, vocab=VOCAB, idf=idf(DOCS, tokenize))
    from edg_vad.lexicon import handmade_lexicon_path, load_lexicon

    handmade = load_lexicon(handmade_lexicon_path())
    torch.testing.assert_close(module.vad_table[VOCAB.index("sad")], torch.tensor(handmade["sad"]))
    assert module.in_lexicon_table[VOCAB.index("happy")] and not module.in_lexicon_table[VOCAB.index("today")]
    with pytest.raises(ConfigError, match="either lexicon_path or handmade_lexicon"):
        make(lexicon_path, handmade_lexicon=True)


def test_forward_shapes_and_padding(lexicon_path):
    module = make(lexicon_path).eval()
    hidden, mask, ids = batch()
    out = module(hidden, mask, input_ids=ids)
    assert isinstance(out, EmotionOutput)
    assert out.logits.shape == (2, 32)
    assert out.representation.shape == (2, 14)
    assert out.extras["hidden"].shape == (2, 6, 14)
    assert torch.all(out.extras["hidden"][1, 4:] == 0)  # padding positions
    torch.testing.assert_close(out.extras["vad"], out.extras["features"][..., :3])
    # [CLS] i am so happy today / [CLS] i am sad: only 'happy', 'today', 'sad' are in the lexicon
    expected = torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 0, 0]], dtype=torch.bool)
    assert torch.equal(out.extras["in_lexicon"], expected)
    # padding does not change the result of the real tokens
    alone = module(hidden[1:, :4], mask[1:, :4], input_ids=ids[1:, :4])
    torch.testing.assert_close(alone.logits, out.logits[1:], atol=1e-5, rtol=1e-5)
    # a row without tokens stays finite
    empty = module(hidden[:1], torch.zeros(1, 6, dtype=torch.bool), input_ids=ids[:1])
    assert torch.isfinite(empty.logits).all()


def test_gradients_reach_the_context_encoding(lexicon_path):
    module = make(lexicon_path, d_model=32, heads=4, layers=2)
    hidden, mask, ids = batch()
    hidden.requires_grad_(True)
    out = module(hidden, mask, input_ids=ids)
    assert out.representation.shape == (2, 32)
    out.logits.sum().backward()
    assert hidden.grad is not None and hidden.grad.abs().sum() > 0


def test_errors(lexicon_path, tmp_path):
    hidden, mask, ids = batch()
    with pytest.raises(ConfigError, match="needs the batch feature 'input_ids'"):
        make(lexicon_path)(hidden, mask)
    with pytest.raises(ConfigError, match="width 14 is not divisible by heads=4"):
        make(lexicon_path, heads=4)
    with pytest.raises(ConfigError, match="unknown config key 'model.emotion.lexicon'"):
        make(lexicon_path, lexicon="x")
    with pytest.raises(ResourceError, match="saifmohammad.com.*lexicon_path"):
        make(tmp_path / "missing.txt")
    with pytest.raises(ResourceError, match="no NRC VAD lexicon configured"):
        build(TraitEmotion, {}, name="vad.trait", key="m", d_model=16, vocab=VOCAB, idf={})


def test_plugin_registers_vad_trait_lazily():
    manager = PluginManager().load(["vad"])
    assert manager.registered_by("vad") == {"emotion_module": ["vad.trait"]}
    assert manager.get("emotion_module", "vad.trait") is TraitEmotion
    code = "import edg_vad.plugin, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
