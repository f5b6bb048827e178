"""The ``moel`` system: defaults, encoding, the emotion tracker's top-k listener weights and
oracle schedule, ablation switches, speaker persona from the samples' ``target_speaker`` (loaded
from a hand-made file in the official layout), and one end-to-end ``edg run`` on real ED samples."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from edg_baselines.moel_model import oracle_probability, top_k_distribution


def test_registered_names_and_the_authors_defaults(make_system):
    from edg.plugins import load_for_system

    plugins = load_for_system("moel")
    assert {"moel", "mime"} <= set(plugins.registered_by("baselines")["system"])
    assert "mime.kl" in plugins.registered_by("baselines")["loss_term"]
    assert "moel.listeners" in plugins.registered_by("baselines")["decoder"]
    system = make_system("moel", presets=())
    o, c = system.options, system.config
    assert (o.d_model, o.layers, o.heads, o.ffn_dim, o.top_k, o.oracle_schedule) == (300, 1, 2, 50, 5, 10000)
    assert o.shared_listener and not o.tie_output and not o.persona and o.dropout == 0.0
    assert o.attention_dim == 40  # --depth 40
    assert o.feed_forward == "linear"  # the converged runs' (the authors' "cc" is model.feed_forward=conv)
    assert [(s.name, s.weight, s.options) for s in c.losses] == [
        ("nll", 1.0, {"label_smoothing": 0.1, "reduction": "sum"}), ("emotion", 1.0, {})]
    assert (c.train.batch_size, c.train.schedule, c.train.warmup_steps, c.train.clip_norm) == (16, "noam", 8000, None)
    assert c.train.lr == pytest.approx((300 * 8000) ** -0.5, rel=1e-4)
    assert (c.generation.strategy, c.generation.max_length) == ("greedy", 50)
    assert system.predicts_emotion
    assert {"tiny", "wo-shared-listener", "wo-oracle", "all-listeners", "persona"} <= set(system.presets)


def test_bad_options_are_one_line_errors_naming_the_key(make_system):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="model.no_such_key"):
        make_system("moel", overrides=["model.no_such_key=1"])
    with pytest.raises(ConfigError, match="model.top_k"):
        make_system("moel", overrides=["model.top_k=33"])


def test_top_k_distribution_keeps_the_k_largest_and_renormalises():
    logits = torch.tensor([[1.0, 3.0, 2.0, -1.0], [0.0, 0.0, 5.0, 1.0]])
    w = top_k_distribution(logits, 2)
    assert (w[0] > 0).tolist() == [False, True, True, False]
    assert (w[1] > 0).tolist() == [False, False, True, True]
    torch.testing.assert_close(w[0, [1, 2]], torch.softmax(torch.tensor([3.0, 2.0]), 0))
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    torch.testing.assert_close(top_k_distribution(logits, 0), torch.softmax(logits, -1))
    torch.testing.assert_close(top_k_distribution(logits, 4), torch.softmax(logits, -1))


def test_oracle_probability_follows_the_authors_schedule():
    assert oracle_probability(0, 10000) == pytest.approx(1.0)
    assert oracle_probability(10000, 10000) == pytest.approx(1e-4 + (1 - 1e-4) * 0.36787944, rel=1e-6)
    assert oracle_probability(10**7, 10000) == pytest.approx(1e-4)
    assert oracle_probability(0, 0) == 0.0


def test_encode_puts_cls_first_and_collate_only_pads(build, ed_splits):
    system, _model, splits = build("moel")
    tok = system.tokenizer
    rows = [splits["train"][i] for i in range(4)]
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    encoded = system.encode(columns)
    cls = tok.convert_tokens_to_ids("[CLS]")
    assert all(ids[0] == cls for ids in encoded["input_ids"])
    assert all(len(i) == len(r) for i, r in zip(encoded["input_ids"], encoded["role_ids"]))
    assert max(len(i) for i in encoded["input_ids"]) <= system.config.tokenizer.max_context_tokens
    pre = system.collate([{**r, **{k: v[n] for k, v in encoded.items()}} for n, r in enumerate(rows)])
    raw = system.collate(rows)  # raw samples are encoded on the fly (edg.pipeline.respond)
    for key in ("input_ids", "role_ids", "decoder_input_ids", "labels", "emotion_id"):
        assert torch.equal(pre[key], raw[key]), key


def test_emotion_tracker_reads_the_cls_state_and_weights_the_top_k_listeners(build):
    system, model, splits = build("moel")
    batch = system.collate([splits["train"][i] for i in range(6)])
    model.eval()
    with torch.no_grad():
        memory = model.encode(batch)
        logits = model.predict_emotion(batch)
        cls_logits = model.emotion.classifier(memory.hidden[:, 0])
    torch.testing.assert_close(logits, cls_logits)
    weights = memory.extras["listener_weights"]
    assert weights.shape == (6, 32) and bool((weights.gt(0).sum(-1) == 5).all())
    torch.testing.assert_close(weights, top_k_distribution(logits, 5))


def test_the_oracle_routes_training_batches_to_the_gold_listener_only_in_training(build):
    system, model, splits = build("moel", overrides=["model.oracle_schedule=1e9"])
    batch = system.collate([splits["train"][i] for i in range(6)])
    model.train()
    memory = model.encode(batch)
    gold = torch.nn.functional.one_hot(batch["emotion_id"], 32).float()
    torch.testing.assert_close(memory.extras["listener_weights"], gold)
    assert int(model.batches_seen) == 1
    model.eval()
    with torch.no_grad():
        weights = model.encode(batch).extras["listener_weights"]
    assert int(model.batches_seen) == 1 and bool((weights.gt(0).sum(-1) == 5).all())
    # schedule 0 (preset wo-oracle): the predicted top-k weights in training too
    system, model, _ = build("moel", presets=("tiny", "wo-oracle"))
    model.train()
    assert bool((model.encode(batch).extras["listener_weights"].gt(0).sum(-1) == 5).all())


def _names(model):
    return {n for n, _ in model.named_parameters()}


def test_each_switch_removes_exactly_its_part(build):
    _, full, _ = build("moel")
    _, wo_shared, _ = build("moel", presets=("tiny", "wo-shared-listener"))
    assert _names(full) - _names(wo_shared) == {n for n in _names(full) if n.startswith("decoder.shared.")}
    assert _names(wo_shared) <= _names(full)
    _, tied, _ = build("moel", overrides=["model.tie_output=true"])
    assert _names(full) - _names(tied) == {"decoder.output.weight", "decoder.output.bias"}
    assert len(full.decoder.listeners) == 32 and len(full.decoder.meta) == 1
    _, all_listeners, _ = build("moel", presets=("tiny", "all-listeners"))
    assert all_listeners.top_k == 0 and _names(all_listeners) == _names(full)


def test_every_attention_projects_to_attention_dim(build):
    from edg.baseline.narrow_attention import NarrowMultiheadAttention

    _, model, _ = build("moel", overrides=["model.attention_dim=8"])
    d = model.embedding.word.embedding_dim
    blocks = [m for m in model.modules() if isinstance(m, (NarrowMultiheadAttention, torch.nn.MultiheadAttention))]
    # the encoder layer's self-attention and two per decoder layer (32 listeners, shared, meta)
    assert len(blocks) == 1 + 2 * 34
    assert all(isinstance(b, NarrowMultiheadAttention) and b.in_proj_weight.shape == (24, d) for b in blocks)
    _, wide, _ = build("moel", overrides=["model.attention_dim=null"])
    assert not any(isinstance(m, NarrowMultiheadAttention) for m in wide.modules())


def test_conv_feed_forward_in_the_encoder_and_every_decoder_layer(build):
    from edg.baseline.conv_feed_forward import ConvEncoderLayer, is_conv

    _, linear, _ = build("moel")
    _, conv, _ = build("moel", overrides=["model.feed_forward=conv"])
    assert isinstance(conv.encoder.layers[0], ConvEncoderLayer)
    layers = [*conv.encoder.layers, *conv.decoder.listeners, conv.decoder.shared, *conv.decoder.meta]
    assert len(layers) == 1 + 34 and all(is_conv(layer) for layer in layers)
    assert not any(is_conv(m) for m in linear.modules())
    # each layer's feed-forward weights triple (kernel 3); nothing else changes
    d, f = linear.embedding.word.embedding_dim, conv.encoder.layers[0].linear1.conv.out_channels
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(conv) - count(linear) == 35 * 2 * (2 * d * f)


OFFICIAL_HEADER = "conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags"


def _official_csv(path, split, n_convs, workers):
    """A hand-made file in the official release's layout: two crowd workers per conversation,
    each with their own speaker_idx (not the role)."""
    lines = [OFFICIAL_HEADER]
    for c in range(n_convs):
        a, b = workers[c % len(workers)], workers[(c + 1) % len(workers)]
        for i, text in enumerate(["I passed my exam_comma_ finally!", "That is great news", "Thanks a lot",
                                  "You must be proud"], start=1):
            lines.append(f"hit:{split}{c}_conv:{c},{i},proud,I passed my exam,{a if i % 2 else b},{text},,")
    path.write_text("\n".join(lines) + "\n")


def test_persona_reads_speaker_ids_from_the_samples(make_system, tmp_path, monkeypatch):
    from edg.config import TokenizerConfig
    from edg.data import load_splits
    from edg.tokenization import build_tokenizer

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "ed"
    data.mkdir()
    _official_csv(data / "train.csv", "train", 6, ["101", "202", "303"])
    _official_csv(data / "valid.csv", "valid", 2, ["202", "999"])
    _official_csv(data / "test.csv", "test", 2, ["101", "303"])
    loaded = load_splits(str(data))
    # no data.path: the ids come from the samples' target_speaker, not from re-reading the CSVs
    system = make_system("moel", presets=("tiny", "persona"))
    texts = [u for ctx, tgt in zip(loaded["train"]["context"], loaded["train"]["target"]) for u in [*ctx, tgt]]
    system.tokenizer = build_tokenizer(TokenizerConfig(vocab_size=200), texts)
    splits = system.prepare(dict(loaded))
    assert system.speakers == {"101": 1, "202": 2, "303": 3}
    assert all(splits[s] is loaded[s] for s in loaded)  # nothing added: the core's column is used
    train = splits["train"]
    # conversation 0: speaker 101 opens, 202 answers both listener turns
    first = [s for s, conv in zip(train["target_speaker"], train["conv_id"]) if conv.endswith("conv:0")]
    assert first == ["202", "202"]
    # what the samples say wins: relabelled samples give a relabelled vocabulary
    relabelled = dict(loaded, train=loaded["train"].map(lambda r: {"target_speaker": "w" + r["target_speaker"]}))
    other = make_system("moel", presets=("tiny", "persona"))
    other.prepare(relabelled)
    assert other.speakers == {"w101": 1, "w202": 2, "w303": 3}
    encoded = system.encode({k: splits["valid"][k] for k in splits["valid"].column_names})
    assert sorted(set(encoded["responder_id"])) == [0, 2]  # 999 was never seen in training
    torch.manual_seed(0)
    model = system.build_model().eval()
    assert model.persona.num_embeddings == 4
    batch = system.collate([splits["train"][i] for i in range(4)])
    assert batch["responder_id"].tolist() == [2, 2, 3, 3]
    with torch.no_grad():
        a = model(batch).decoder.logits
        other = dict(batch, responder_id=torch.tensor([1, 1, 1, 1]))
        b = model(other).decoder.logits
    assert not torch.allclose(a, b)
    # a new dialogue without speaker ids decodes with the unseen-speaker row
    assert system.collate([{"context": ["hi"], "roles": ["speaker"], "target": "", "emotion_id": -1}])["responder_id"].tolist() == [0]


def test_persona_warns_on_a_role_based_copy(make_system, tmp_path, monkeypatch):
    from edg.data import load_splits

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "ed"
    data.mkdir()
    for split in ("train", "valid", "test"):
        _official_csv(data / f"{split}.csv", split, 2, ["1", "2"])  # roles, as ../shared/data
    system = make_system("moel", presets=("tiny", "persona"), overrides=[f"data.path={data}"])
    with pytest.warns(UserWarning, match="role"):
        system.prepare(dict(load_splits(str(data))))
    assert system.speakers == {"1": 1, "2": 2}


def test_persona_on_data_without_speakers_is_a_config_error(make_system, ed_splits, tmp_path, monkeypatch):
    from edg.data import load_splits, write_jsonl
    from edg.data.empathetic_dialogues import SPEAKER_COLUMNS
    from edg.errors import ConfigError

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    # a JSONL copy exported without the speaker columns
    plain = {split: ds.remove_columns(list(SPEAKER_COLUMNS)) for split, ds in ed_splits.items()}
    splits = load_splits(str(write_jsonl(plain, tmp_path / "jsonl")), source="jsonl")
    assert "target_speaker" not in splits["train"].column_names
    system = make_system("moel", presets=("tiny", "persona"))
    lacks = r"model\.persona needs each sample's target_speaker .* train split lacks"
    with pytest.raises(ConfigError, match=lacks) as info:
        system.prepare(dict(splits))
    assert "\n" not in str(info.value)
    # persona off: the same data is fine
    plain_system = make_system("moel", presets=("tiny",))
    assert plain_system.prepare(dict(splits))["train"] is splits["train"]


def test_end_to_end_run(ed_path, tmp_path, monkeypatch):
    from edg.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    rc = main(["run", "--plugin", "moel", "--preset", "tiny", "--data", str(ed_path),
               "data.max_train=48", "data.max_valid=8", "data.max_test=8", "train.max_steps=4",
               "train.eval_every=4", "train.threads=1", f"output_dir={tmp_path / 'runs'}"])
    assert rc == 0
    (run_dir,) = list((tmp_path / "runs" / "moel").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"acc", "ppl", "dist-1", "dist-2"} <= set(summary["test"])
    records = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all("pred_emotion" in r for r in records)
    from edg.pipeline import load_trained, respond

    session, model = load_trained(run_dir)
    (reply,) = respond(session, model, [["I finally got the job I wanted!"]])
    assert isinstance(reply, str)
