"""The ``ethreed`` system on real ED conversations: both sample shapes collate, the target
never reaches the memory it is generated from, evaluation draws one policy sample per
example, §4.4's defaults (the step-decay schedule), the listener-label sources, and each
Table 3 preset removes exactly its part."""

from __future__ import annotations

import pytest
import torch

BASE = ["data.max_train=24", "data.max_valid=6", "data.max_test=6", "train.threads=1",
        "model.listener_labels=utterance_labels"]


def _build(tmp_path, monkeypatch, *overrides, preset="tiny"):
    from edg.pipeline import build_everything, open_session
    from edg.testing import require_shared

    data = require_shared("empatheticdialogues")
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = open_session("ethreed", overrides=[f"data.path={data}", *BASE, *overrides], preset=preset)
    splits, model = build_everything(session, tmp_path / "run", progress=False)
    return session, splits, model


@pytest.fixture
def built(tmp_path, monkeypatch):
    return _build(tmp_path, monkeypatch)


def test_dialogue_batches_have_every_listener_turn_as_a_target(built):
    session, splits, model = built
    system = session.system
    samples = [splits["train"][i] for i in range(4)]
    batch = system.collate(samples)
    assert batch["labels"].size(0) == sum(len(s["target_turns"]) for s in samples)
    for b, s in enumerate(samples):
        roles = batch["role_ids"][b, : len(s["roles"])].tolist()
        assert roles == [0 if r == "speaker" else 1 for r in s["roles"]]
        speakers = batch["speaker_emotion_labels"][b][batch["role_ids"][b].eq(0) & batch["utterance_mask"][b]]
        assert speakers.eq(s["emotion_id"]).all()
    # each target's source is the speaker's post right before it
    assert batch["target_position"].sub(batch["source_position"]).eq(1).all()
    model.train()
    out = model(batch)
    assert out.decoder.logits.shape[:2] == batch["labels"].shape
    assert out.extras["party_emotion_logits"].shape == (4, batch["role_ids"].size(1), 32)


def test_turn_samples_collate_as_a_conversation_cut_after_the_target(built):
    session, splits, model = built
    sample = splits["test"][3]
    batch = session.system.collate([sample])
    assert batch["utterance_index"].size(1) == len(sample["context"]) + 1
    assert batch["target_position"].tolist() == [len(sample["context"])]
    assert batch["listener_emotion_labels"].eq(-100).all()  # no training signal at test
    assert model.predict_emotion(batch).shape == (1, 32)


def test_the_target_never_reaches_its_memory_and_evaluation_samples_once(built):
    session, splits, model = built
    system = session.system
    sample = _encoded(system, dict(splits["test"][2]))
    other = _encoded(system, {**splits["test"][2], "target": "completely different words here"})
    model.eval()
    with torch.no_grad():
        a = model.encode(system.collate([sample]))
        b = model.encode(system.collate([other]))
        again = model.encode(system.collate([sample]))
    m = int(a.mask.sum())  # the speaker's post (the batch pads it to the longest utterance)
    for key in ("init", "emotion"):
        torch.testing.assert_close(a.extras[key], b.extras[key])
    torch.testing.assert_close(a.extras["source_ids"][:, :m], b.extras["source_ids"][:, :m])
    torch.testing.assert_close(a.hidden[:, :m], b.hidden[:, :m])
    # evaluation: the policy's sample is a function of the example (PPL and generation share it)
    torch.testing.assert_close(a.extras["emotion"], again.extras["emotion"])
    model.train()
    with torch.no_grad():
        c = model.encode(system.collate([sample]))
        d = model.encode(system.collate([sample]))
    assert not torch.allclose(c.extras["emotion"], d.extras["emotion"])  # training samples afresh


def test_paper_defaults_and_step_decay(tmp_path, monkeypatch):
    from edg.pipeline import open_session
    from edg.plugins import PluginManager

    session = open_session("ethreed", overrides=["data.max_train=1"])
    cfg = session.config
    o = session.system.options
    assert (o.hidden, cfg.train.batch_size, cfg.generation.max_length) == (300, 8, 40)
    assert (cfg.train.optimizer, cfg.train.lr, cfg.train.schedule) == ("adam", 5e-4, "step")
    assert cfg.data.shape == "dialogue"
    assert [s.name for s in cfg.losses] == ["ethreed.emotion", "ethreed.gps", "nll", "ethreed.coverage"]
    schedule_cls = PluginManager().load(None).get("schedule", "step")
    from edg.interfaces.component import build

    schedule = build(schedule_cls, cfg.train.schedule_options, name="step", key="train.schedule_options",
                     warmup_steps=cfg.train.warmup_steps, total_steps=1000, steps_per_epoch=10)
    assert [round(schedule.multiplier(s), 6) for s in (0, 29, 30, 59, 60)] == [1.0, 1.0, 0.3, 0.3, 0.09]


def test_turn_shaped_training_is_rejected():
    from edg.errors import ConfigError
    from edg.pipeline import open_session

    with pytest.raises(ConfigError, match="data.shape"):
        open_session("ethreed", overrides=["data.shape=turn"])
    with pytest.raises(ConfigError, match="use_policy"):
        open_session("ethreed", overrides=["model.use_policy=false"])
    with pytest.raises(ConfigError, match="model.labeller.nonsense"):
        open_session("ethreed", overrides=["model.labeller.nonsense=1"])


def _encoded(system, sample):
    """A raw sample with the columns ``encode`` adds."""
    columns = system.encode({k: [v] for k, v in sample.items()})
    return {**sample, **{k: v[0] for k, v in columns.items()}}


def _names(model) -> set[str]:
    return {n for n, _ in model.named_parameters()}


def test_each_ablation_preset_removes_exactly_its_part(tmp_path, monkeypatch):
    from edg.pipeline import open_session

    _session, _splits, full = _build(tmp_path / "full", monkeypatch)
    gru = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    expected_removed = {
        "wo-emp-policy": {f"policy.{m}.{p}" for m in ("state", "mean", "log_variance") for p in ("weight", "bias")},
        "wo-gps": set(),
        "wo-gru-e": {f"tracker.emotion_gru.{w}" for w in gru},
        "wo-gru-p": {f"tracker.party_gru.{w}" for w in gru} | {"tracker.party_attention.weight"},
        "wo-emo-track": set(),
    }
    full_losses = ["ethreed.emotion", "ethreed.gps", "nll", "ethreed.coverage"]
    for preset, removed in expected_removed.items():
        session = open_session("ethreed", overrides=["data.max_train=1"], preset=preset)
        session.system.tokenizer = _session.system.tokenizer
        model = session.system.build_model()
        assert _names(full) - _names(model) == removed, preset
        assert _names(model) <= _names(full), preset
        losses = [s.name for s in session.config.losses]
        assert losses == (full_losses if preset not in ("wo-emp-policy", "wo-gps")
                          else [n for n in full_losses if n != "ethreed.gps"]), preset
        o = session.system.options
        switches = (o.use_policy, o.use_party, o.use_emotion_gru, o.track_parties_separately)
        assert sum(not s for s in switches) == (0 if preset == "wo-gps" else 1), preset
    # w/o emo-track changes the recurrence only (test_dialogue_tracker), w/o GPS the loss only


def test_utterance_labels_give_listener_emotions_only_where_they_are_emotions(built):
    from edg.data import EMOTIONS

    session, splits, _model = built
    train = splits["train"]
    labelled = skipped = 0
    for row in train:
        for role, label, y in zip(row["roles"], row["utterance_labels"], row["listener_emotion_ids"]):
            if role == "speaker":
                assert y == -100
            elif label in EMOTIONS:
                assert EMOTIONS[y] == label
                labelled += 1
            else:
                assert y == -100
                skipped += 1
    assert labelled > 0 and skipped > 0
