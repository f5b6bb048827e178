"""MIME on hand-made and real inputs: polarity groups, the stochastic mixture (sampling only in
training), mimicry routing, gate, shapes, ablation switches, cached-vs-uncached decoding and one
end-to-end ``edg run``."""

from __future__ import annotations

import json

import pytest
import torch

from edg.data import EMOTIONS
from edg_baselines.emotion_mixture import (
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    StochasticEmotionMixture,
    gaussian_kl,
    group_indices,
    is_positive,
)
from edg_baselines.mimicry_gate import MimicryGate


def test_groups_split_the_32_emotions_by_polarity():
    assert len(POSITIVE_EMOTIONS) == 13 and len(NEGATIVE_EMOTIONS) == 19
    assert set(POSITIVE_EMOTIONS) | set(NEGATIVE_EMOTIONS) == set(EMOTIONS)
    assert "anticipating" in NEGATIVE_EMOTIONS and "surprised" in POSITIVE_EMOTIONS
    # the authors' index lists (MoEL's emo_map order)
    assert sorted(group_indices(POSITIVE_EMOTIONS)) == sorted([11, 16, 6, 8, 3, 1, 28, 13, 31, 17, 24, 0, 27])
    ids = torch.tensor([EMOTIONS.index("joyful"), EMOTIONS.index("sad"), EMOTIONS.index("caring")])
    assert is_positive(ids).tolist() == [True, False, True]


def _mixture(stochastic=True):
    torch.manual_seed(0)
    groups = [group_indices(POSITIVE_EMOTIONS), group_indices(NEGATIVE_EMOTIONS)]
    return StochasticEmotionMixture(8, 4, groups, stochastic=stochastic)


def test_mixture_vectors_are_the_weighted_group_embeddings_and_sampling_is_training_only():
    mix = _mixture()
    table = torch.randn(32, 8)
    context = torch.randn(3, 8)
    mix.eval()
    a, b = mix(context, table), mix(context, table)
    for sa, sb, members in zip(a, b, mix.groups):
        torch.testing.assert_close(sa.vector, sb.vector)  # deterministic at inference
        assert sa.weights.shape == (3, len(members)) and sa.vector.shape == (3, 8)
        torch.testing.assert_close(sa.vector, sa.weights @ table[members])
        # z is the prior mean
        h = torch.relu(mix.prior_hidden(context))
        mu = mix.prior[mix.groups.index(members)].mu(h)
        torch.testing.assert_close(sa.weights, torch.softmax(mix.to_weights[mix.groups.index(members)](mu), -1))
    mix.train()
    c, d = mix(context, table), mix(context, table)
    assert not torch.allclose(c[0].vector, d[0].vector)  # sampled in training
    assert not torch.allclose(c[0].vector, a[0].vector)
    # without stochasticity: the prior mean in training too
    det = _mixture(stochastic=False).train()
    torch.testing.assert_close(det(context, table)[1].vector, det(context, table)[1].vector)
    assert det.kl(context, [context, context], det(context, table)) is None


def test_gaussian_kl_matches_the_closed_form_and_is_zero_for_equal_gaussians():
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.3]])
    torch.testing.assert_close(gaussian_kl(mu, logvar, mu, logvar), torch.zeros(1))
    expected = 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar, torch.zeros(1, 2), torch.zeros(1, 2)), expected)


def test_gate_mixes_mimic_and_non_mimic_contexts():
    torch.manual_seed(0)
    gate = MimicryGate(6)
    m, mt = torch.randn(2, 5, 6), torch.randn(2, 5, 6)
    both = torch.cat([m, mt], -1)
    torch.testing.assert_close(gate(m, mt), gate.out(torch.sigmoid(gate.gate(both)) * both))
    assert gate(m, mt).shape == (2, 5, 6)


def test_the_authors_loss_clipping_and_attention_width(make_system):
    system = make_system("mime", presets=())
    o, c = system.options, system.config
    assert o.attention_dim == 40  # --depth 40
    # LabelSmoothing sums over the batch's target tokens; emotion CE and KL are batch means
    assert [(s.name, s.weight, s.options) for s in c.losses] == [
        ("nll", 1.0, {"label_smoothing": 0.1, "reduction": "sum"}), ("emotion", 1.0, {}), ("mime.kl", 1.0, {"reduction": "sum"})]
    assert c.train.clip_norm is None  # train_one_batch never clips


def test_every_attention_projects_to_attention_dim(build):
    from edg.baseline.narrow_attention import NarrowMultiheadAttention

    _, model, _ = build("mime", overrides=["model.attention_dim=8"])
    d = model.embedding.word.embedding_dim
    blocks = [m for m in model.modules() if isinstance(m, (NarrowMultiheadAttention, torch.nn.MultiheadAttention))]
    # context encoder, the two emotion-aware encoders (one layer each), decoder self + cross
    assert len(blocks) == 1 + 2 + 2
    assert all(isinstance(b, NarrowMultiheadAttention) and b.in_proj_weight.shape == (24, d) for b in blocks)
    _, wide, _ = build("mime", overrides=["model.attention_dim=null"])
    assert not any(isinstance(m, NarrowMultiheadAttention) for m in wide.modules())


def test_conv_feed_forward_in_every_encoder_and_the_decoder(assert_conv_feed_forward):
    # the context encoder and the two emotion-aware encoders, and the decoder
    assert_conv_feed_forward("mime", encoders=3, decoders=1)


def test_mimicry_routes_the_users_polarity_group_to_the_mimicking_encoder(build):
    system, model, splits = build("mime")
    batch = system.collate([splits["train"][i] for i in range(8)])
    model.train()
    out = model(batch)
    e = out.emotion.extras
    positive = is_positive(batch["emotion_id"])[:, None]
    assert e["mimic_emotion"].shape == (8, 32) and e["positive_mixture"].shape == (8, 13)
    assert e["negative_mixture"].shape == (8, 19)
    assert out.encoder.hidden.shape == (*batch["input_ids"].shape, 32)
    # mimic = the positive vector for positive users, the negative one otherwise (gold in training)
    table = model.emotion_embedding.weight
    pos_vec = e["positive_mixture"] @ table[group_indices(POSITIVE_EMOTIONS)]
    neg_vec = e["negative_mixture"] @ table[group_indices(NEGATIVE_EMOTIONS)]
    torch.testing.assert_close(e["mimic_emotion"], torch.where(positive, pos_vec, neg_vec))
    torch.testing.assert_close(e["non_mimic_emotion"], torch.where(positive, neg_vec, pos_vec))
    assert "mime_kl" in out.extras and float(out.extras["mime_kl"].detach()) >= 0
    # at inference the polarity comes from the predicted emotion, and decoding inputs are deterministic
    model.eval()
    with torch.no_grad():
        a, b = model(batch), model(batch)
        predicted = is_positive(model.predict_emotion(batch).argmax(-1))[:, None]
    torch.testing.assert_close(a.encoder.hidden, b.encoder.hidden)
    pos_vec = a.emotion.extras["positive_mixture"] @ table[group_indices(POSITIVE_EMOTIONS)]
    neg_vec = a.emotion.extras["negative_mixture"] @ table[group_indices(NEGATIVE_EMOTIONS)]
    torch.testing.assert_close(a.emotion.extras["mimic_emotion"], torch.where(predicted, pos_vec, neg_vec))


def test_emotion_logits_score_the_cls_state_against_the_emotion_embeddings(build):
    system, model, splits = build("mime")
    batch = system.collate([splits["train"][i] for i in range(4)])
    model.eval()
    with torch.no_grad():
        out = model(batch)
        expected = model.emotion_query(out.emotion.representation) @ model.emotion_embedding.weight.t()
    torch.testing.assert_close(out.emotion.logits, expected)
    torch.testing.assert_close(model.predict_emotion(batch), expected)


def _names(model):
    return {n for n, _ in model.named_parameters()}


def test_each_ablation_removes_exactly_its_part(build):
    _, full, _ = build("mime")
    _, wo_stochastic, _ = build("mime", presets=("tiny", "wo-stochastic"))
    assert _names(full) - _names(wo_stochastic) == {
        n for n in _names(full) if n.startswith(("mixture.posterior_hidden.", "mixture.posterior."))}
    assert [s.name for s in wo_stochastic_losses()] == ["nll", "emotion"]
    _, wo_mimicry, _ = build("mime", presets=("tiny", "wo-mimicry"))
    assert _names(wo_mimicry) == _names(full) and not wo_mimicry.mimicry
    _, wo_grouping, _ = build("mime", presets=("tiny", "wo-grouping"))
    removed = _names(full) - _names(wo_grouping)
    assert removed and all(n.startswith(("non_mimic_encoder.", "gate.", "mixture.prior.1.", "mixture.to_weights.1.",
                                         "mixture.posterior_hidden.1.", "mixture.posterior.1."))
                           for n in removed)
    assert wo_grouping.mixture.to_weights[0].out_features == 32


def wo_stochastic_losses():
    from edg.config import resolve
    from edg.plugins import load_for_system

    cls = load_for_system("mime").get("system", "mime")
    return resolve([{"system": "mime"}, cls.default_config(), cls.presets["wo-stochastic"]]).losses


def test_kl_loss_without_stochasticity_is_a_config_error(make_system):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="model.stochastic"):
        make_system("mime", overrides=["model.stochastic=false"])


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_cached_and_uncached_decoding_give_identical_tokens(build, strategy):
    from edg.config import GenerationConfig
    from edg.interfaces.decoder import Decoder

    system, model, splits = build("mime")
    batch = system.collate([splits["test"][i] for i in range(4)])
    model.eval()
    with torch.no_grad():
        model.decoder.embedding.word.weight.mul_(3)  # sharper distributions: longer outputs
        memory = model.encode(batch)
        config = GenerationConfig(strategy=strategy, beam_size=3, max_length=10)
        cached = model.decoder.generate(memory, config)
        dec = model.decoder
        saved = (dec.start, dec.step, dec.reorder, dec.last_hidden)
        dec.start, dec.step, dec.reorder, dec.last_hidden = (
            m.__get__(dec) for m in (Decoder.start, Decoder.step, Decoder.reorder, Decoder.last_hidden))
        try:
            uncached = dec.generate(memory, config)
        finally:
            dec.start, dec.step, dec.reorder, dec.last_hidden = saved
    assert [[c.token_ids for c in cs] for cs in cached] == [[c.token_ids for c in cs] for cs in uncached]
    assert any(len(c.token_ids) > 1 for cs in cached for c in cs)


def test_end_to_end_run(ed_path, tmp_path, monkeypatch):
    from edg.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    rc = main(["run", "--plugin", "mime", "--preset", "tiny", "--data", str(ed_path),
               "data.max_train=48", "data.max_valid=8", "data.max_test=8", "train.max_steps=4",
               "train.eval_every=4", "train.threads=1", f"output_dir={tmp_path / 'runs'}"])
    assert rc == 0
    (run_dir,) = list((tmp_path / "runs" / "mime").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"acc", "ppl", "dist-1", "dist-2"} <= set(summary["test"])
    records = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all("pred_emotion" in r for r in records)
    logs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("mime.kl" in r for r in logs)
    from edg.pipeline import load_trained, respond

    session, model = load_trained(run_dir)
    (reply,) = respond(session, model, [["I finally got the job I wanted!"]])
    assert isinstance(reply, str)


def test_emotion_context_encoder_conditions_every_position_on_the_emotion():
    from edg_baselines.emotion_context_encoder import EmotionContextEncoder

    torch.manual_seed(0)
    enc = EmotionContextEncoder(8, 8, layers=1, heads=2, ffn_dim=16, dropout=0.0).eval()
    hidden = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    e1, e2 = torch.randn(2, 8), torch.randn(2, 8)
    with torch.no_grad():
        a, b = enc(hidden, mask, e1), enc(hidden, mask, e2)
        # padding does not leak into real positions
        noisy = hidden.clone()
        noisy[1, 3:] = 100.0
        c = enc(noisy, mask, e1)
    assert a.shape == (2, 5, 8)
    assert not torch.allclose(a[:, :3], b[:, :3])
    torch.testing.assert_close(a[1, :3], c[1, :3])
    # the projection sees [H; e]: the first D input columns read the context, the rest the emotion
    assert enc.project.in_features == 16


def test_the_kl_term_is_the_batch_mean_or_the_authors_batch_sum():
    from edg.interfaces.types import ModelOutput
    from edg_baselines.kl_loss import KL_KEY, KlLoss, KlOptions

    kl = torch.tensor(2.5, requires_grad=True)
    outputs = ModelOutput(None, extras={KL_KEY: kl})
    batch = {"labels": torch.zeros(16, 7, dtype=torch.long)}
    mean = KlLoss(KlOptions()).compute(batch, outputs, None)
    total = KlLoss(KlOptions(reduction="sum")).compute(batch, outputs, None)
    assert float(mean.value) == 2.5 and float(total.value) == 40.0
    assert mean.logs["kl"] == total.logs["kl"] == 2.5  # the log stays per conversation
