"""System ``kemp`` end to end on real EmpatheticDialogues samples: the knowledge source
annotates them from a hand-made graph in ConceptNet's CSV layout and the real NRC VAD
lexicon, the split is encoded once with each sample's graph, collate pads, the model trains
a step and generates; the ablation presets remove exactly their part."""

from __future__ import annotations

import pytest
import torch

from edg.errors import ConfigError

LEXICON = "nrc_vad/NRC-VAD-Lexicon.txt"


def _session(ed_path, lexicon, preset="tiny", overrides=()):
    from edg.pipeline import open_session

    return open_session("kemp", preset=preset, overrides=[
        f"data.path={ed_path}", "data.max_train=48", "data.max_valid=8", "data.max_test=8",
        f'knowledge."kemp.concepts".lexicon_path={lexicon}', 'knowledge."kemp.concepts".handmade_lexicon=false',
        *overrides])


@pytest.fixture()
def lexicon():
    from edg.testing import require_shared

    return require_shared(LEXICON)


@pytest.fixture()
def built(ed_path, lexicon, tmp_path, monkeypatch):
    from edg.pipeline import build_everything

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))

    def _built(preset="tiny", overrides=()):
        torch.manual_seed(0)
        session = _session(ed_path, lexicon, preset, overrides)
        splits, model = build_everything(session, tmp_path / "run", progress=False)
        return session, splits, model

    return _built


def test_samples_get_their_emotional_context_graph(built):
    session, splits, model = built()
    system, tok = session.system, session.system.tokenizer
    train = splits["train"]
    assert {"kemp_concepts", "context_intensity", "concept_ids", "concept_owner", "concept_intensity"} <= set(
        train.column_names)
    with_concepts = 0
    sep = tok.convert_tokens_to_ids("[SEP]")
    for sample in train:
        ids, owners, concepts = sample["input_ids"], sample["concept_owner"], sample["concept_ids"]
        assert concepts[0] == sep and owners[0] == -1 and len(concepts) <= 1 + system.options.total_concepts
        assert len(sample["context_intensity"]) == len(ids)
        entry = sample["kemp_concepts"]
        lookup = dict(zip(entry["words"], entry["concepts"]))
        tokens = tok.convert_ids_to_tokens(ids)
        for concept_id, owner, eta in zip(concepts[1:], owners[1:], sample["concept_intensity"][1:]):
            word, concept = tokens[owner], tok.convert_ids_to_tokens(concept_id)
            # the concept is a ConceptNet neighbour of the word it hangs on, intense enough
            assert concept in lookup[word] and eta >= 0.6
        # at most concepts_per_word (1) concept per token
        assert len(set(owners[1:])) == len(owners) - 1
        with_concepts += len(concepts) > 1
    assert with_concepts >= 5, with_concepts  # the hand-made graph reaches real ED words
    # words outside the lexicon have intensity 0, lexicon words their eta
    sample = train[0]
    tokens = tok.convert_ids_to_tokens(sample["input_ids"])
    eta = dict(zip(sample["kemp_concepts"]["words"], sample["kemp_concepts"]["intensity"]))
    for token, value in zip(tokens[1:], sample["context_intensity"][1:]):
        assert value == pytest.approx(eta.get(token, 0.0))


def test_a_batch_trains_and_generates(built):
    session, splits, model = built()
    system = session.system
    samples = [splits["train"][i] for i in range(6)]
    batch = system.collate(samples)
    k = max(len(s["concept_ids"]) for s in samples)
    assert batch["concept_ids"].shape == (6, k) and batch["concept_owner"].shape == (6, k)
    assert batch["concept_intensity"].dtype == torch.float32 and batch["context_intensity"].shape == batch["input_ids"].shape
    assert int(batch["concept_owner"].min()) >= -2
    losses = system.build_losses()
    assert [name for name, _, _ in losses] == ["nll", "emotion", "kemp.attention"]
    model.train()
    outputs = model(batch)
    s = batch["input_ids"].size(1) + k
    assert outputs.encoder.hidden.shape[:2] == (6, s) and outputs.decoder.extras["attention"].shape[2] == s
    total = sum(weight * term.compute(batch, outputs, model).value for _, weight, term in losses)
    total.backward()
    assert model.graph_attention.query.weight.grad is not None and model.knowledge_state.grad is not None
    assert model.emotion_start.weight.grad is not None
    model.eval()
    candidates = model.generate(batch, session.config.generation)
    assert len(candidates) == 6 and all(len(c[0].token_ids) <= session.config.generation.max_length for c in candidates)
    assert model.predict_emotion(batch).shape == (6, 32)
    # raw samples (chat, generate) are encoded by collate itself, to the same batch
    raw = [{k: v for k, v in s.items() if k in ("context", "roles", "target", "emotion_id", "kemp_concepts")}
           for s in samples]
    again = system.collate(raw)
    assert torch.equal(again["concept_ids"], batch["concept_ids"]) and torch.equal(again["input_ids"], batch["input_ids"])


def test_wo_ece_has_no_graph(built):
    session, splits, model = built("tiny,wo-ece")
    assert model.graph_attention is None and model.knowledge_state is None
    batch = session.system.collate([splits["train"][i] for i in range(4)])
    assert "concept_ids" not in batch
    assert all(len(c) == 0 for entry in splits["train"]["kemp_concepts"] for c in entry["concepts"])
    outputs = model(batch)
    assert outputs.encoder.hidden.shape[1] == batch["input_ids"].size(1)
    assert [s.name for s in session.config.losses] == ["nll", "emotion", "kemp.attention"]


def test_wo_edd_has_a_plain_cross_attention_and_no_attention_loss(built):
    session, splits, model = built("tiny,wo-edd")
    assert all(layer.cross.fuse is None for layer in model.decoder.layers)
    assert [s.name for s in session.config.losses] == ["nll", "emotion"]
    assert model.graph_attention is not None


def test_configuration_errors_are_one_line(ed_path, lexicon):
    with pytest.raises(ConfigError, match=r'conceptnet_path is not set'):
        _session(ed_path, lexicon, preset=None)
    with pytest.raises(ConfigError, match=r"use_conceptnet: true"):
        _session(ed_path, lexicon, overrides=['knowledge."kemp.concepts".use_conceptnet=false'])
    with pytest.raises(ConfigError, match=r"concepts_per_word"):
        _session(ed_path, lexicon, overrides=["model.concepts_per_word=0"])
    # the paper's defaults
    from edg_baselines.kemp_system import KempOptions

    o = KempOptions()
    assert (o.d_model, o.layers, o.heads, o.ffn_dim, o.concepts_per_word, o.total_concepts) == (300, 1, 2, 50, 1, 10)


def test_the_authors_loss_scale_clipping_and_attention_width():
    from edg.config import resolve
    from edg.plugins import load_for_system

    cls = load_for_system("kemp").get("system", "kemp")
    c = resolve([{"system": "kemp"}, cls.default_config()])
    # train_one_batch: LabelSmoothing summed over the target tokens, CrossEntropyLoss(reduction='sum')
    # over the conversations, 0.1 × MSE attention loss; loss.backward(); optimizer.step(), no clipping
    assert [(s.name, s.weight, s.options) for s in c.losses] == [
        ("nll", 1.0, {"label_smoothing": 0.1, "reduction": "sum"}), ("emotion", 1.0, {"reduction": "sum"}),
        ("kemp.attention", 0.1, {})]
    assert c.train.clip_norm is None
    assert cls.Options().attention_dim == 40  # --depth 40


def test_conv_feed_forward_in_the_encoder_and_the_decoder(built):
    from edg.baseline.conv_feed_forward import CausalConvFeedForward, ConvEncoderLayer

    session, splits, model = built(overrides=["model.feed_forward=conv"])
    assert all(isinstance(layer, ConvEncoderLayer) for layer in model.encoder.layers)
    assert all(isinstance(layer.ffn, CausalConvFeedForward) for layer in model.decoder.layers)
    batch = session.system.collate([splits["train"][i] for i in range(4)])
    model.eval()
    assert len(model.generate(batch, session.config.generation)) == 4


def test_encoder_and_decoder_attention_project_to_attention_dim(built):
    from edg.baseline.narrow_attention import NarrowMultiheadAttention

    session, splits, model = built(overrides=["model.attention_dim=8"])
    d = model.embedding.word.embedding_dim
    blocks = [m for m in model.encoder.modules() if isinstance(m, (NarrowMultiheadAttention, torch.nn.MultiheadAttention))]
    assert len(blocks) == 1 and all(isinstance(b, NarrowMultiheadAttention) and b.in_proj_weight.shape == (24, d)
                                    for b in blocks)
    for layer in model.decoder.layers:
        assert layer.self_qkv.weight.shape == (24, d) and layer.self_out.weight.shape == (d, 8)
        cross = layer.cross
        assert all(p.weight.shape == (8, d) for p in (cross.query, cross.key, cross.value))
        assert cross.out.weight.shape == (d, 8) and cross.scale == (8 // 2) ** -0.5
    # the graph attention keeps the authors' full width (W_q/W_k/W_v at emb_dim)
    assert model.graph_attention.query.weight.shape == (d, d)
    batch = session.system.collate([splits["train"][i] for i in range(4)])
    model.eval()
    assert len(model.generate(batch, session.config.generation)) == 4
