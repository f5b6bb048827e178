"""The ``ctsm`` system on real ED samples and the real NRC VAD lexicon: config, knowledge
batches, ablation presets, and one end-to-end ``edg run``."""

from __future__ import annotations

import json

import pytest
import torch

EQ25 = ["ctsm.emotion", "ctsm.guidance", "nll", "ctsm.cross_contrastive", "cem.diversity"]


def test_registered_names_and_defaults(make_system):
    from edg.plugins import load_for_system

    plugins = load_for_system("ctsm")
    assert plugins.registered_by("ctsm") == {
        "decoder": ["ctsm.pointer_generator"],
        "emotion_module": ["ctsm.state"],
        "loss_term": ["ctsm.cross_contrastive", "ctsm.emotion", "ctsm.guidance"],
        "system": ["ctsm"],
    }
    system = make_system(presets=())
    c = system.config
    assert [(s.name, s.weight) for s in c.losses] == list(zip(EQ25, [1.0, 1.0, 1.0, 1.0, 1.5]))
    assert c.losses[3].options == {"temperature": 0.07}
    assert (c.train.batch_size, c.train.optimizer, c.train.schedule) == (16, "adam", "noam")
    assert c.train.lr == pytest.approx((300 * 8000) ** -0.5, rel=1e-4)  # CEM's NoamOpt peak
    assert system.options.d_model == 300 and system.options.d_cs == 10
    assert system.options.embeddings_path is None  # GloVe only when a path is configured
    assert system.knowledge_sources() == {"comet.social": {}} and system.knowledge_field == "comet_social"
    assert system.predicts_emotion
    assert set(system.presets) == {"tiny", "wo-tee", "wo-see", "wo-egm", "wo-ccl", "wo-egm-ccl"}


def test_cem_parts_come_from_edg_baselines_by_registered_name(build):
    """CTSM is built on CEM: its knowledge refinement (one per context) and L_div are CEM's
    registered components from edg-baselines, not copies (the refinement without CEM's own
    emotion classifier: CTSM's guidance heads predict emotion)."""
    from edg.errors import ConfigError

    system, model = build()
    plugins = system.plugins
    assert {"cem.refinement"} <= set(plugins.registered_by("baselines")["emotion_module"])
    refinement = plugins.get("emotion_module", "cem.refinement")
    for name in ("teacher", "student"):
        fusion = model.context_encoder.fusions[name]
        assert type(fusion) is refinement and fusion.registered_name == "cem.refinement"
        assert fusion.classifier is None and fusion.options.cognitive_relations == 4 and fusion.options.affective
    (diversity,) = [term for name, _, term in system.build_losses() if name == "cem.diversity"]
    assert type(diversity) is plugins.get("loss_term", "cem.diversity")
    with pytest.raises(ConfigError, match="refinement_options.affective"):
        build(overrides=["model.refinement_options={affective: false}"])


def test_unknown_model_key_is_rejected(make_system):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="model.no_such_key"):
        make_system(overrides=["model.no_such_key=1"])


def test_ablation_loss_without_its_part_is_a_config_error(make_system):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="use_guidance"):
        make_system(overrides=["model.use_guidance=false"])


def test_missing_lexicon_is_a_resource_error(ed_splits, tokenizer, make_system):
    from edg.errors import ResourceError

    system = make_system(overrides=["model.vad_lexicon=null"])
    system.tokenizer = tokenizer
    system.prepare(ed_splits)
    with pytest.raises(ResourceError, match="NRC"):
        system.build_model()


def test_tiny_preset_runs_offline_with_the_lexicon_edg_vad_ships(ed_splits, tokenizer, make_system):
    """No lexicon configured: the tiny preset uses edg-vad's hand-made lexicon (package data)."""
    system = make_system(("tiny",))
    assert system.options.vad_lexicon == "handmade"
    system.tokenizer = tokenizer
    system.prepare(ed_splits)
    model = system.build_model()
    assert model.trait.options.handmade_lexicon and model.trait.options.lexicon_path is None
    assert (model.intensity != 0).any() and model.trait.in_lexicon_table.any()


def test_production_modules_do_not_import_edg_testing():
    import subprocess
    import sys

    modules = ["edg_ctsm.system", "edg_ctsm.model", "edg_ctsm.trait", "edg_ctsm.state_emotion",
               "edg_vad.trait_emotion", "edg_vad.lexicon"]
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "from edg_ctsm.system import CtsmSystem\nCtsmSystem.presets['tiny']\n"
            "print('edg.testing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_prepare_uses_the_training_split_only(ed_splits, tokenizer, make_system):
    system = make_system()
    system.tokenizer = tokenizer
    system.prepare(ed_splits)
    idf_a, freq_a = dict(system.idf), list(system.train_frequencies)
    other = dict(ed_splits)
    other["valid"], other["test"] = ed_splits["train"], ed_splits["train"]
    system.prepare(other)
    assert dict(system.idf) == idf_a and system.train_frequencies == freq_a
    assert system.idf.num_documents == len(set(ed_splits["train"]["conv_id"]))
    assert sum(freq_a) > 0


def test_knowledge_sequences_follow_cem(ed_splits, tokenizer, make_system):
    system = make_system(overrides=["model.knowledge_source=comet.social"])
    system.tokenizer = tokenizer
    sample = dict(ed_splits["train"][0])
    sample["comet_social"] = {"xIntent": ["to be happy", "none"], "xNeed": [], "xWant": ["to go home"],
                              "xEffect": ["smiles"], "xReact": ["happy", "good"]}
    batch = system.collate([sample, dict(sample, comet_social={r: [] for r in system.relations})])
    ids, mask = batch["knowledge_ids"], batch["knowledge_mask"]
    assert ids.shape[:2] == (2, 5)
    tokens = lambda row, rel: tokenizer.convert_ids_to_tokens(ids[row, rel][mask[row, rel]].tolist())  # noqa: E731
    assert tokens(0, 0) == ["[CLS]", "be", "happy"]  # xIntent: "to" and "none" dropped, [CLS] first
    assert tokens(0, 1) == ["[CLS]"]  # no tails
    assert tokens(0, 4) == ["happy", "good"]  # xReact: words only
    assert tokens(1, 4) == ["[CLS]"]  # ... or [CLS] alone when empty
    # the context sequence starts with [CLS] (§3.3)
    assert (batch["input_ids"][:, 0] == tokenizer.convert_tokens_to_ids("[CLS]")).all()


def _param_names(model):
    return {name for name, _ in model.named_parameters()}


ABLATIONS = {
    # preset -> (prefixes of the parameters it removes, losses removed); no preset adds any
    "wo-tee": (("trait.",), ()),
    "wo-see": (("state.", "extra_emotion_words"), ()),
    "wo-egm": (("guidance.teacher.", "context_encoder.fusions.teacher."), ("ctsm.guidance",)),
    "wo-ccl": (("response_encoder.", "ccl_heads."), ("ctsm.cross_contrastive",)),
    "wo-egm-ccl": (("guidance.teacher.", "context_encoder.fusions.teacher.", "response_encoder.", "ccl_heads."),
                   ("ctsm.guidance", "ctsm.cross_contrastive")),
}


@pytest.fixture(scope="module")
def full_model_names(ed_splits, tokenizer, lexicon_path, make_system):
    torch.manual_seed(0)
    system = make_system(("tiny",), lexicon=str(lexicon_path))
    system.tokenizer = tokenizer
    system.prepare(ed_splits)
    model = system.build_model()
    return _param_names(model), {n: p.shape for n, p in model.named_parameters()}


def _forward_and_losses(system, model, samples):
    from edg.training.loop import total_loss

    batch = system.collate(samples)
    model.train()
    out = model(batch)
    loss, logs = total_loss(system.build_losses(), batch, out, model)
    loss.backward()
    assert torch.isfinite(loss)
    return out, logs


def test_full_model_has_every_part(build, ed_splits):
    system, model = build()
    assert model.trait is not None and model.state is not None and model.guidance is not None
    assert set(model.context_encoder.fusions) == {"teacher", "student"}
    assert model.response_encoder is not None and set(model.ccl_heads) == {"context", "response", "emotion",
                                                                         "generated"}
    d = system.options.d_model
    # teacher on H_C^tchr ⊕ V_t ⊕ V_s (d + 14 + 43), student on H_C^stu ⊕ H_t ⊕ H_s (same widths here)
    assert model.guidance.teacher.w3_c.in_features == d + 14 + 43
    assert model.guidance.student.w3_c.in_features == d + 14 + 43
    assert (model.intensity != 0).any()  # KEMP intensities from the real lexicon
    out, logs = _forward_and_losses(system, model, [ed_splits["train"][i] for i in range(4)])
    assert set(out.extras) == {"guidance", "ccl"}
    assert {"ctsm.emotion", "ctsm.guidance", "nll", "ctsm.cross_contrastive", "cem.diversity"} <= set(logs)
    assert out.emotion.logits.shape == (4, 32)
    # predictions come from the student
    model.eval()
    batch = system.collate([ed_splits["train"][i] for i in range(4)])
    with torch.no_grad():
        assert torch.equal(model.predict_emotion(batch), model(batch).extras["guidance"]["student_logits"])


@pytest.mark.parametrize("preset", sorted(ABLATIONS))
def test_each_ablation_removes_exactly_its_part(preset, build, ed_splits, full_model_names):
    removed_prefixes, removed_losses = ABLATIONS[preset]
    full_names, full_shapes = full_model_names
    system, model = build(("tiny", preset))
    names = _param_names(model)
    removed, added = full_names - names, names - full_names
    assert removed and not added
    assert {n for n in full_names if n.startswith(removed_prefixes)} == removed
    for prefix in removed_prefixes:  # every listed part existed in the full model
        assert any(n.startswith(prefix) for n in full_names), prefix
    assert [s.name for s in system.config.losses] == [n for n in EQ25 if n not in removed_losses]
    # everything else keeps its shape, except the heads whose inputs lost the removed features
    changed = {n for n in names & full_names if tuple(full_shapes[n]) != tuple(dict(model.named_parameters())[n].shape)}
    assert all(n.startswith(("guidance.", "ccl_heads.")) for n in changed)
    out, _ = _forward_and_losses(system, model, [ed_splits["train"][i] for i in range(3)])
    assert ("guidance" in out.extras) == ("egm" not in preset)
    assert ("ccl" in out.extras) == ("ccl" not in preset)
    # every variant pools with the KEMP intensities, read from the lexicon (also without TEE)
    assert (model.intensity != 0).any()


def _student_input(model, batch):
    """``V_stu = H_C^stu ⊕ H_t ⊕ H_s`` (eq. 16) from the model's parts."""
    st = model._encode_all(batch)
    parts = [st["student"]]
    if "trait" in st:
        parts.append(st["trait"].extras["hidden"])
    if "state" in st:
        parts.append(st["state"].extras["hidden"])
    return torch.cat(parts, -1)


@pytest.mark.parametrize("preset", ["wo-egm", "wo-egm-ccl"])
def test_without_egm_the_student_head_stays_and_learns_from_the_gold_label(preset, build, ed_splits):
    """w/o EGM removes the teacher only: the student keeps its intensity pooling (eq. 17)
    and eq. 12–14 head, and ``ctsm.emotion`` is its cross-entropy against the gold label."""
    from edg_ctsm.emotion_guidance import GuidanceHead, intensity_pool
    from edg_ctsm.emotion_loss import EmotionLoss

    system, model = build(("tiny", preset))
    assert model.guidance.teacher is None and isinstance(model.guidance.student, GuidanceHead)
    assert set(model.context_encoder.fusions) == {"student"}
    assert not hasattr(model, "classifier") or model.classifier is None
    d = system.options.d_model
    assert model.guidance.student.w3_c.in_features == d + 14 + 43  # H_C^stu ⊕ H_t ⊕ H_s
    batch = system.collate([ed_splits["train"][i] for i in range(4)])
    model.eval()
    with torch.no_grad():
        logits = model.predict_emotion(batch)
        v_stu = _student_input(model, batch)
        pooled = intensity_pool(v_stu, model.intensity[batch["input_ids"]], batch["attention_mask"])
        torch.testing.assert_close(logits, model.guidance.student(pooled))
        out = model(batch)
    loss = EmotionLoss(None).compute(batch, out, model)
    torch.testing.assert_close(loss.value, torch.nn.functional.cross_entropy(logits, batch["emotion_id"]))
    assert "teacher_acc" not in loss.logs


def test_without_tee_or_see_the_teacher_and_student_lose_only_those_features(build):
    for preset, (teacher_in, student_in) in {"wo-tee": (43, 43), "wo-see": (14, 14)}.items():
        system, model = build(("tiny", preset))
        d = system.options.d_model
        assert model.guidance.teacher.w3_c.in_features == d + teacher_in  # H_C^tchr ⊕ V_t/V_s
        assert model.guidance.student.w3_c.in_features == d + student_in  # H_C^stu ⊕ H_t/H_s
        assert (model.trait is None) == (preset == "wo-tee") and (model.state is None) == (preset == "wo-see")
        assert model.ccl_heads["emotion"].in_features == student_in  # H_ts keeps the other half


def test_end_to_end_run(ed_path, lexicon_path, tmp_path, monkeypatch):
    from edg.cli import main

    monkeypatch.chdir(tmp_path)
    rc = main(["run", "--plugin", "ctsm", "--preset", "tiny", "--data", str(ed_path),
               "data.max_train=48", "data.max_valid=8", "data.max_test=8", "train.max_steps=4",
               "train.eval_every=4", f"model.vad_lexicon={lexicon_path}", f"output_dir={tmp_path / 'runs'}"])
    assert rc == 0
    (run_dir,) = list((tmp_path / "runs" / "ctsm").iterdir())
    for name in ("config.yaml", "summary.json", "test_outputs.jsonl", "metrics.jsonl", "tokenizer"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "checkpoints" / "BEST").exists() and list((run_dir / "checkpoints").glob("step-*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"acc", "ppl", "dist-1", "dist-2"} <= set(summary["test"])
    records = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all("pred_emotion" in r for r in records)
    train_logs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("ctsm.cross_contrastive" in r for r in train_logs)
    # the trained run answers a new dialogue (load_trained rebuilds statistics and model)
    from edg.pipeline import load_trained, respond

    session, model = load_trained(run_dir)
    (reply,) = respond(session, model, [["I finally got the job I wanted!"]])
    assert isinstance(reply, str)


def test_comet_file_knowledge_reaches_the_model(ed_splits, tokenizer, lexicon_path, make_system, tmp_path,
                                                monkeypatch):
    """Knowledge from edg-comet's ``comet.file`` source (by registered name) is annotated,
    collated into the cognitive/affective sequences and changes the student context."""
    from edg.pipeline import Session, annotate_knowledge

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    splits = {k: v.select(range(4)) for k, v in ed_splits.items()}
    lines = []
    for ctx in splits["train"]["context"]:
        for rel, tails in [("xIntent", ["to be happy"]), ("xNeed", ["to plan"]), ("xWant", ["to rest"]),
                           ("xEffect", ["gets tired"]), ("xReact", ["sad", "good"])]:
            lines.append(json.dumps({"head": ctx[-1], "relation": rel, "tails": tails}))
    path = tmp_path / "knowledge.jsonl"
    path.write_text("\n".join(lines) + "\n")
    system = make_system(("tiny",), [f"model.vad_lexicon={lexicon_path}", "model.knowledge_source=comet.file"])
    system.config.knowledge = {"comet.file": {"path": str(path), "on_missing": "empty"}}
    assert system.knowledge_sources() == {"comet.file": {"path": str(path), "on_missing": "empty"}}
    annotated = annotate_knowledge(Session(system.config, system.plugins, system), splits, progress=False)
    sample = annotated["train"][0]
    assert sample["comet_file"]["xReact"] == ["sad", "good"]
    system.tokenizer = tokenizer
    system.prepare(annotated)
    model = system.build_model().eval()
    batch = system.collate([annotated["train"][i] for i in range(4)])
    assert batch["knowledge_mask"].sum(-1).min() >= 1
    assert tokenizer.convert_ids_to_tokens(batch["knowledge_ids"][0, 4][batch["knowledge_mask"][0, 4]].tolist()) \
        == ["sad", "good"]
    empty = dict(batch, knowledge_ids=batch["knowledge_ids"][:, :, :1].clone(),
                 knowledge_mask=batch["knowledge_mask"][:, :, :1].clone())
    empty["knowledge_ids"][:, 4, 0] = tokenizer.convert_tokens_to_ids("[CLS]")
    with torch.no_grad():
        assert not torch.allclose(model.encode(batch).hidden, model.encode(empty).hidden)
