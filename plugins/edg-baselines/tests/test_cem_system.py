"""The ``cem`` system on real ED samples: defaults, knowledge batches, the paper's ablations
(each removes exactly its part), emotion read from the affective branch only, COMET
knowledge from edg-comet's ``comet.file`` source, and one end-to-end ``edg run``."""

from __future__ import annotations

import json

import pytest
import torch

KNOWLEDGE = {"xIntent": ["to be happy", "none"], "xNeed": ["to work hard"], "xWant": ["to go home"],
             "xEffect": ["gets tired"], "xReact": ["happy", "good"]}


def _with_knowledge(samples, knowledge=KNOWLEDGE, field="comet_social"):
    return [dict(s, **{field: knowledge}) for s in samples]


def test_registered_names_and_defaults(make_system):
    from edg.plugins import load_for_system

    plugins = load_for_system("cem")
    registered = plugins.registered_by("baselines")
    assert "cem" in registered["system"] and "cem.refinement" in registered["emotion_module"]
    assert "cem.diversity" in registered["loss_term"]
    system = make_system("cem", presets=())
    c, o = system.config, system.options
    # the authors' config.py defaults
    assert (o.d_model, o.layers, o.heads, o.ffn_dim, o.dropout) == (300, 1, 2, 50, 0.0)
    assert [(s.name, s.weight) for s in c.losses] == [("nll", 1.0), ("emotion", 1.0), ("cem.diversity", 1.5)]
    assert c.losses[0].options == {}  # CEM's ctx_loss is the plain NLL (criterion_ppl, no smoothing, a mean)
    assert o.attention_dim == 40  # --depth 40
    assert c.train.clip_norm is None  # train_one_batch never clips
    assert (c.train.batch_size, c.train.optimizer, c.train.schedule, c.train.warmup_steps) == (16, "adam", "noam", 8000)
    assert c.train.lr == pytest.approx((300 * 8000) ** -0.5, rel=1e-4) and tuple(c.train.betas) == (0.9, 0.98)
    assert c.train.eps == 1e-9
    assert (c.generation.strategy, c.generation.max_length) == ("greedy", 50)
    assert system.knowledge_sources() == {"comet.social": {}} and system.knowledge_field == "comet_social"
    assert system.relations == ["xIntent", "xNeed", "xWant", "xEffect", "xReact"]
    assert o.embeddings_path is None and system.predicts_emotion
    assert set(system.presets) == {"tiny", "wo-aff", "wo-cog", "wo-div"}


def test_bad_configs_are_config_errors(make_system):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="model.no_such_key"):
        make_system("cem", overrides=["model.no_such_key=1"])
    with pytest.raises(ConfigError, match="cannot both be false"):
        make_system("cem", presets=("tiny", "wo-aff", "wo-cog"))
    with pytest.raises(ConfigError, match="refinement_options.affective"):
        make_system("cem", overrides=["model.refinement_options.affective=false"])


def test_the_authors_xavier_initialisation(build):
    """``main.py``'s ``make_model``: every weight matrix but the embeddings re-drawn with
    xavier_uniform_ (bounded by sqrt(6 / (fan_in + fan_out))); the embeddings keep theirs."""
    _, plain, _ = build("cem", overrides=["model.xavier_init=false"])
    _, model, _ = build("cem")
    plain_params = dict(plain.named_parameters())
    for name, p in model.named_parameters():
        if name.startswith("embedding."):
            assert torch.equal(p, plain_params[name]), name
        elif p.dim() > 1:
            fan_out, fan_in = p.shape[0], p[0].numel()
            assert p.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5 + 1e-6, name
            assert not torch.equal(p, plain_params[name]), name
    assert model.decoder.embedding.word.weight is model.embedding.word.weight  # tied, not re-drawn


def test_every_attention_projects_to_attention_dim(build):
    from edg.baseline.narrow_attention import NarrowMultiheadAttention

    _, model, _ = build("cem", overrides=["model.attention_dim=8"])
    d = model.embedding.word.embedding_dim
    blocks = [m for m in model.modules() if isinstance(m, (NarrowMultiheadAttention, torch.nn.MultiheadAttention))]
    # context, affective and cognitive encoders, the two refine encoders (one layer each), and the
    # decoder's self and cross attention
    assert len(blocks) == 5 + 2
    assert all(isinstance(b, NarrowMultiheadAttention) and b.in_proj_weight.shape == (24, d) for b in blocks)
    _, wide, _ = build("cem", overrides=["model.attention_dim=null"])
    assert not any(isinstance(m, NarrowMultiheadAttention) for m in wide.modules())


def test_conv_feed_forward_in_every_encoder_and_the_decoder(assert_conv_feed_forward):
    # the five encoders of the previous test, and the decoder
    assert_conv_feed_forward("cem", encoders=5, decoders=1)


def test_knowledge_batch_follows_cem(ed_splits, tokenizer, make_system):
    system = make_system("cem", overrides=["model.knowledge_source=comet.social"])
    system.tokenizer = tokenizer
    samples = [dict(ed_splits["train"][0], comet_social=KNOWLEDGE),
               dict(ed_splits["train"][1], comet_social={r: [] for r in system.relations})]
    batch = system.collate(samples)  # raw samples: encoded here
    ids, mask = batch["knowledge_ids"], batch["knowledge_mask"]
    assert ids.shape[:2] == (2, 5)
    tokens = lambda row, rel: tokenizer.convert_ids_to_tokens(ids[row, rel][mask[row, rel]].tolist())  # noqa: E731
    assert tokens(0, 0) == ["[CLS]", "be", "happy"]
    assert tokens(0, 4) == ["happy", "good"]
    assert tokens(1, 4) == ["[CLS]"]
    assert (batch["input_ids"][:, 0] == tokenizer.convert_tokens_to_ids("[CLS]")).all()
    # without a knowledge source every relation is [CLS] alone
    offline = make_system("cem")
    offline.tokenizer = tokenizer
    batch = offline.collate([ed_splits["train"][0]])
    assert batch["knowledge_mask"].sum(-1).tolist() == [[1, 1, 1, 1, 1]]


def _param_names(model):
    return {name for name, _ in model.named_parameters()}


ABLATIONS = {
    # preset -> (relations read, prefixes of the parameters it removes, loss terms)
    "wo-aff": (["xIntent", "xNeed", "xWant", "xEffect"], ("affective_encoder.", "refinement.affective_refine."),
               ["nll", "emotion", "cem.diversity"]),
    "wo-cog": (["xReact"], ("cognitive_encoder.", "refinement.cognitive_refine.", "refinement.mlp."),
               ["nll", "emotion", "cem.diversity"]),
    "wo-div": (["xIntent", "xNeed", "xWant", "xEffect", "xReact"], (), ["nll", "emotion"]),
}


def _forward_and_losses(system, model, samples):
    from edg.interfaces.loss import TrainingContext
    from edg.training.loop import total_loss

    batch = system.collate(samples)
    model.train()
    out = model(batch)
    losses = system.build_losses()
    for _, _, term in losses:
        term.setup(TrainingContext(tokenizer=system.tokenizer, statistics=system.statistics))
    loss, logs = total_loss(losses, batch, out, model)
    loss.backward()
    assert torch.isfinite(loss)
    return batch, out, logs


def test_full_model_has_every_part(build, ed_splits):
    system, model, _ = build("cem", overrides=["model.knowledge_source=comet.social"])
    for part in ("context_encoder.", "affective_encoder.", "cognitive_encoder.", "refinement.affective_refine.",
                 "refinement.cognitive_refine.", "refinement.mlp.", "refinement.classifier.", "decoder."):
        assert any(n.startswith(part) for n in _param_names(model)), part
    assert type(model.refinement).__name__ == "CemRefinement" and model.refinement.registered_name == "cem.refinement"
    batch, out, logs = _forward_and_losses(system, model, _with_knowledge(ed_splits["train"].select(range(4))))
    assert out.emotion.logits.shape == (4, 32)
    assert {"nll", "emotion", "cem.diversity"} <= set(logs)
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("preset", sorted(ABLATIONS))
def test_each_ablation_removes_exactly_its_part(preset, build, ed_splits):
    relations, removed_prefixes, losses = ABLATIONS[preset]
    overrides = ["model.knowledge_source=comet.social"]
    full_system, full, _ = build("cem", overrides=overrides)
    system, model, _ = build("cem", ("tiny", preset), overrides)
    full_names, names = _param_names(full), _param_names(model)
    removed = full_names - names
    assert not names - full_names
    assert removed == {n for n in full_names if n.startswith(removed_prefixes)}
    for prefix in removed_prefixes:
        assert any(n.startswith(prefix) for n in full_names), prefix
    # only the MLP's input width changes (w/o Aff: 4d -> 2d -> d instead of 5d -> 3d -> d)
    shapes = dict(full.named_parameters())
    changed = {n for n, p in model.named_parameters() if p.shape != shapes[n].shape}
    assert changed == ({"refinement.mlp.lin_1.weight", "refinement.mlp.lin_2.weight"} if preset == "wo-aff" else set())
    assert system.relations == relations and [s.name for s in system.config.losses] == losses
    batch, out, _ = _forward_and_losses(system, model, _with_knowledge(ed_splits["train"].select(range(3))))
    assert batch["knowledge_ids"].shape[1] == len(relations)
    assert out.emotion.logits.shape == (3, 32)


@pytest.mark.parametrize("preset", [None, "wo-aff"])
def test_emotion_is_read_from_the_affective_branch_only(preset, build, ed_splits):
    """CEM classifies emotion on the affective-refined context: changing the cognitive
    inferences changes what the decoder reads but not the emotion logits; xReact changes both.
    w/o Aff reads H_CTX, so no inference changes the logits."""
    presets = ("tiny",) if preset is None else ("tiny", preset)
    system, model, _ = build("cem", presets, ["model.knowledge_source=comet.social"])
    model.eval()
    samples = ed_splits["train"].select(range(3))
    other_cognitive = dict(KNOWLEDGE, xIntent=["to sleep"], xNeed=["to eat"], xWant=["to cry"], xEffect=["laughs"])
    other_affective = dict(KNOWLEDGE, xReact=["sad", "angry"])
    with torch.no_grad():
        runs = {name: model(system.collate(_with_knowledge(samples, k)))
                for name, k in [("base", KNOWLEDGE), ("cognitive", other_cognitive), ("affective", other_affective)]}
    base = runs["base"]
    torch.testing.assert_close(runs["cognitive"].emotion.logits, base.emotion.logits)
    assert not torch.allclose(runs["cognitive"].encoder.hidden, base.encoder.hidden)
    if preset is None:
        assert not torch.allclose(runs["affective"].emotion.logits, base.emotion.logits)
        assert not torch.allclose(runs["affective"].encoder.hidden, base.encoder.hidden)
    else:
        torch.testing.assert_close(runs["affective"].emotion.logits, base.emotion.logits)
        torch.testing.assert_close(runs["affective"].encoder.hidden, base.encoder.hidden)  # xReact is not read


def test_comet_file_knowledge_reaches_the_model(ed_splits, tokenizer, make_system, tmp_path, monkeypatch):
    """Knowledge from edg-comet's ``comet.file`` source (by registered name) is annotated on
    the last utterance of real ED samples and changes the refined context."""
    from edg.pipeline import Session, annotate_knowledge

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    splits = {k: v.select(range(4)) for k, v in ed_splits.items()}
    path = tmp_path / "knowledge.jsonl"
    path.write_text("".join(json.dumps({"head": ctx[-1], "relation": rel, "tails": tails}) + "\n"
                            for ctx in splits["train"]["context"] for rel, tails in KNOWLEDGE.items()))
    system = make_system("cem", overrides=["model.knowledge_source=comet.file"])
    system.config.knowledge = {"comet.file": {"path": str(path), "on_missing": "empty"}}
    annotated = annotate_knowledge(Session(system.config, system.plugins, system), splits, progress=False)
    assert annotated["train"][0]["comet_file"]["xReact"] == ["happy", "good"]
    system.tokenizer = tokenizer
    system.prepare(annotated)
    torch.manual_seed(0)
    model = system.build_model().eval()
    batch = system.collate([annotated["train"][i] for i in range(4)])
    assert tokenizer.convert_ids_to_tokens(batch["knowledge_ids"][0, 4][batch["knowledge_mask"][0, 4]].tolist()) \
        == ["happy", "good"]
    none = system.collate([dict(annotated["train"][i], comet_file={}) for i in range(4)])
    with torch.no_grad():
        assert not torch.allclose(model.encode(batch).hidden, model.encode(none).hidden)


def test_end_to_end_run_with_comet_file_knowledge(ed_path, tmp_path, monkeypatch):
    """``edg run --plugin cem`` on real ED samples with COMET knowledge from a file (the
    inferences are hand-written for the samples' last utterances: COMET itself is not
    reachable offline; every head must be in the file, ``on_missing: error``), then the
    trained run answers a new dialogue."""
    from edg.cli import main
    from edg.data import load_splits

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    sizes = {"train": 48, "valid": 8, "test": 8}
    splits = load_splits(str(ed_path), max_examples=sizes)
    heads = {ctx[-1] for split in splits.values() for ctx in split["context"]}
    path = tmp_path / "knowledge.jsonl"
    path.write_text("".join(json.dumps({"head": head, "relation": rel, "tails": tails}) + "\n"
                            for head in sorted(heads) for rel, tails in KNOWLEDGE.items()))
    args = ["run", "--plugin", "cem", "--preset", "tiny", "--data", str(ed_path),
            *[f"data.max_{k}={v}" for k, v in sizes.items()], "train.max_steps=4", "train.eval_every=4",
            "train.threads=1", "model.knowledge_source=comet.file", f'knowledge."comet.file".path={path}',
            f"output_dir={tmp_path / 'runs'}"]
    assert main(args) == 0
    (run_dir,) = list((tmp_path / "runs" / "cem").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"acc", "ppl", "dist-1", "dist-2"} <= set(summary["test"])
    records = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all("pred_emotion" in r for r in records)
    train_logs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("cem.diversity" in r for r in train_logs)
    from edg.pipeline import load_trained, respond

    # the new dialogue's knowledge comes from the same file (its last utterance is in it)
    session, model = load_trained(run_dir)
    (reply,) = respond(session, model, [["Hello there.", "Hi!", sorted(heads)[0]]])
    assert isinstance(reply, str)
