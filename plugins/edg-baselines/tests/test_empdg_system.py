"""EmpDG as a system on real ED samples: the user feedback and emotion-word inputs, the
network with and without its ablated parts, configuration errors, and one end-to-end
``edg run`` with a hand-made EmoLex file."""

from __future__ import annotations

import json

import pytest
import torch

from edg.errors import ConfigError
from edg_baselines.emotion_lexicon import EMOLEX_CATEGORIES

#: hand-made entries in EmoLex's word-level layout (not the real lexicon)
HANDMADE = {"happy": {"joy", "positive"}, "sad": {"sadness", "negative"}, "love": {"joy", "positive"},
            "friend": {"joy", "trust"}, "scared": {"fear", "negative"}, "good": {"joy", "positive"},
            "sorry": {"sadness", "negative"}, "great": {"joy"}, "bad": {"anger", "negative"}, "house": set()}


@pytest.fixture()
def lexicon_path(tmp_path):
    path = tmp_path / "NRC-Emotion-Lexicon-Wordlevel-v0.92.txt"
    with path.open("w") as f:
        for word, on in HANDMADE.items():
            for category in EMOLEX_CATEGORIES:
                f.write(f"{word}\t{category}\t{int(category in on)}\n")
    return path


def test_feedback_is_the_utterance_after_the_target(build, lexicon_path):
    system, _model, splits = build("empdg", overrides=[f"model.lexicon_path={lexicon_path}"])
    train = splits["train"]
    by_turn = {(c, t): ctx for c, t, ctx in zip(train["conv_id"], train["turn"], train["context"])}
    with_feedback = 0
    for conv, turn, feedback in zip(train["conv_id"], train["turn"], train["feedback"]):
        later = by_turn.get((conv, turn + 2))
        assert feedback == (later[turn] if later is not None else "")
        with_feedback += bool(feedback)
    assert 0 < with_feedback < len(train)


def _batch(system, split, n=6):
    encoded = system.encode({k: split[k][:n] for k in system.encode_columns})
    samples = [{**split[i], **{k: v[i] for k, v in encoded.items()}} for i in range(n)]
    return system.collate(samples), samples


def test_emotion_words_and_feedback_are_encoded_once_and_padded(build, lexicon_path):
    system, _model, splits = build("empdg", overrides=[f"model.lexicon_path={lexicon_path}"])
    tok = system.tokenizer
    batch, samples = _batch(system, splits["train"])
    for row, sample in zip(batch["emotion_ids"], samples):
        words = tok.convert_ids_to_tokens([i for i in row.tolist() if i != tok.pad_token_id])
        assert words[0] == "[CLS]"
        context_words = tok.convert_ids_to_tokens(sample["input_ids"])
        assert words[1:] == [w for w in context_words if w in HANDMADE and w != "house"]
    assert any(len(s["emotion_ids"]) > 1 for s in samples)
    for row, sample in zip(batch["feedback_ids"], samples):
        ids = [i for i in row.tolist() if i != tok.pad_token_id]
        assert (ids[-1] == tok.convert_tokens_to_ids("[EOS]")) if sample["feedback"] else ids == []
    torch.testing.assert_close(batch["feedback_mask"], batch["feedback_ids"].ne(tok.pad_token_id))
    # raw samples (generation from histories) are encoded by collate itself, to the same batch
    raw = [{k: splits["train"][i][k] for k in ("context", "roles", "target", "feedback", "emotion_id")}
           for i in range(6)]
    again = system.collate(raw)
    for key in ("input_ids", "emotion_ids", "feedback_ids", "labels"):
        torch.testing.assert_close(again[key], batch[key])


def test_network_parts_and_ablations(build, lexicon_path):
    from edg_baselines.empdg_adversarial_loss import ADVERSARIAL
    from edg_baselines.empdg_decoder import EMOTION_SIGNAL

    lex = f"model.lexicon_path={lexicon_path}"
    system, model, splits = build("empdg", overrides=[lex])
    batch, _ = _batch(system, splits["train"])
    out = model(batch)
    assert out.emotion.logits.shape == (6, 32)
    assert out.encoder.hidden.size(1) == batch["input_ids"].size(1) + batch["emotion_ids"].size(1)
    assert out.encoder.extras[EMOTION_SIGNAL].shape == (6, system.options.d_model)
    assert set(out.extras[ADVERSARIAL].discriminators) == {"semantic", "emotional"}
    assert model.emotion_flags.sum() > 0
    model.eval()
    torch.testing.assert_close(model.predict_emotion(batch), model(batch).emotion.logits)
    assert len(model.generate(batch, system.config.generation)) == 6

    # w/o G: no emotion-word encoder, no emotion signal, only the semantic discriminator -- no lexicon needed
    system_g, model_g, splits_g = build("empdg", presets=("tiny", "wo-g"))
    batch_g, _ = _batch(system_g, splits_g["train"])
    out_g = model_g(batch_g)
    assert model_g.emotion_encoder is None and model_g.emotion_signal is None and "emotion_ids" not in batch_g
    assert out_g.encoder.hidden.size(1) == batch_g["input_ids"].size(1) and EMOTION_SIGNAL not in out_g.encoder.extras
    assert set(out_g.extras[ADVERSARIAL].discriminators) == {"semantic"}
    from edg.interfaces.loss import TrainingContext

    (term,) = [t for name, _w, t in system_g.build_losses() if name == "empdg.adversarial"]
    term.setup(TrainingContext(step=20))  # tiny: the first joint step, critic and generator both
    value = term.compute(batch_g, out_g, model_g)
    assert {"semantic_wasserstein", "semantic_generator"} <= set(value.logs)
    assert not any(key.startswith("emotional") for key in value.logs)
    # w/o D: the generator alone, trained by nll + emotion
    system_d, model_d, _ = build("empdg", presets=("tiny", "wo-d"), overrides=[lex])
    assert len(model_d.discriminators) == 0 and [s.name for s in system_d.config.losses] == ["nll", "emotion"]
    generator_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("discriminators"))
    assert generator_params == sum(p.numel() for p in model_d.parameters())


def test_the_authors_loss_scale_clipping_and_attention_width(make_system, lexicon_path):
    system = make_system("empdg", presets=(), overrides=[f"model.lexicon_path={lexicon_path}"])
    o, c = system.options, system.config
    assert o.attention_dim == 40  # --depth 40
    # Empdg_G.train_one_batch: LabelSmoothing and CrossEntropyLoss(reduction='sum'), batch sums
    assert [(s.name, s.options) for s in c.losses][:2] == [
        ("nll", {"label_smoothing": 0.1, "reduction": "sum"}), ("emotion", {"reduction": "sum"})]
    assert c.train.clip_norm is None


def test_every_attention_projects_to_attention_dim(build, lexicon_path):
    from edg.baseline.narrow_attention import NarrowMultiheadAttention

    _, model, _ = build("empdg", overrides=[f"model.lexicon_path={lexicon_path}", "model.attention_dim=8"])
    d = model.embedding.word.embedding_dim
    blocks = [m for m in model.modules() if isinstance(m, (NarrowMultiheadAttention, torch.nn.MultiheadAttention))]
    # the semantic and emotion-word encoders (one layer each), the decoder's self and cross attention
    assert len(blocks) == 1 + 1 + 2
    assert all(isinstance(b, NarrowMultiheadAttention) and b.in_proj_weight.shape == (24, d) for b in blocks)
    _, wide, _ = build("empdg", overrides=[f"model.lexicon_path={lexicon_path}", "model.attention_dim=null"])
    assert not any(isinstance(m, NarrowMultiheadAttention) for m in wide.modules())


def test_conv_feed_forward_in_both_encoders_and_the_decoder(build, lexicon_path):
    from edg.baseline.conv_feed_forward import CausalConvFeedForward, ConvEncoderLayer, is_conv

    lexicon = f"model.lexicon_path={lexicon_path}"
    system, model, splits = build("empdg", overrides=[lexicon, "model.feed_forward=conv"])
    encoder_layers = [m for m in model.modules() if isinstance(m, torch.nn.TransformerEncoderLayer)]
    assert len(encoder_layers) == 2 and all(isinstance(m, ConvEncoderLayer) for m in encoder_layers)
    assert all(isinstance(layer.ffn, CausalConvFeedForward) for layer in model.decoder.layers)
    _, linear, _ = build("empdg", overrides=[lexicon])
    assert not any(is_conv(m) or isinstance(m, CausalConvFeedForward) for m in linear.modules())
    model.eval()
    batch = system.collate([splits["test"][i] for i in range(3)])
    assert len(model.generate(batch, system.config.generation)) == 3


def test_configuration_errors_are_one_line(make_system, lexicon_path):
    with pytest.raises(ConfigError, match="model.lexicon_path is not set.*saifmohammad.com"):
        make_system("empdg")
    make_system("empdg", ("tiny", "wo-g"))  # no emotion words: no lexicon
    with pytest.raises(ConfigError, match="needs model.semantic_discriminator"):
        make_system("empdg", ("tiny", "wo-g"), ["model.semantic_discriminator=false"])
    with pytest.raises(ConfigError, match="add it to losses"):
        make_system("empdg", ("tiny",), [f"model.lexicon_path={lexicon_path}",
                                         "losses=[{name: nll}, {name: emotion}]"])
    with pytest.raises(ConfigError, match="emotional_discriminator needs model.emotion_words"):
        make_system("empdg", ("tiny",), [f"model.lexicon_path={lexicon_path}", "model.emotion_words=false"])


def test_end_to_end_run_with_a_handmade_lexicon(ed_path, lexicon_path, tmp_path, monkeypatch):
    from edg.cli import main
    from edg.pipeline import load_trained, respond

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    rc = main(["run", "--plugin", "empdg", "--preset", "tiny", "--data", str(ed_path),
               f"model.lexicon_path={lexicon_path}", "data.max_train=48", "data.max_valid=8", "data.max_test=8",
               "train.max_steps=24", "train.eval_every=12", "train.log_every=1", "train.threads=1",
               f"output_dir={tmp_path / 'runs'}"])
    assert rc == 0
    (run_dir,) = list((tmp_path / "runs" / "empdg").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"acc", "ppl", "dist-1", "dist-2"} <= set(summary["test"])
    records = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all("pred_emotion" in r for r in records)
    # the tiny schedule: generator steps 0-9, critic 10-19, joint from 20 (critic every 2nd step)
    train = {r["step"]: r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
             if r["split"] == "train"}
    assert "semantic_wasserstein" not in train[10] and "semantic_wasserstein" in train[11]
    assert "emotional_gp" in train[15] and "semantic_generator" not in train[15]
    assert "semantic_generator" in train[21] and "semantic_wasserstein" in train[21]
    assert "semantic_generator" in train[22] and "semantic_wasserstein" not in train[22]
    session, model = load_trained(run_dir)
    (reply,) = respond(session, model, [["I finally got the job I wanted! I am so happy."]])
    assert isinstance(reply, str)
