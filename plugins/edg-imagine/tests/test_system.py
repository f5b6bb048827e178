"""The IMAGINE system on real ED samples: what encode builds (the context S, the causes C
of eq. 4, the four knowledge sequences of §3.2.2, the mechanism labels), and each Table 2
ablation preset removing exactly its part."""

from __future__ import annotations

import pytest

ABLATIONS = ("wo-cause", "wo-cm", "wo-know", "wo-div")


def session_for(preset: str, overrides: list[str], tmp_path, monkeypatch, extra=()):
    """``overrides``: the data paths and the small classifiers (fixture ``settings``)."""
    from edg.pipeline import open_session

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    return open_session("imagine", preset=preset, overrides=[*overrides, "data.max_train=24", "data.max_valid=4",
                                                             "data.max_test=4", *extra])


@pytest.fixture(scope="module")
def settings(data_overrides, small_classifier_overrides) -> list[str]:
    return [*data_overrides, *small_classifier_overrides]


@pytest.fixture(scope="module")
def built(tmp_path_factory, settings):
    """The full tiny system after the fit stage, knowledge and encoding (real ED samples)."""
    from edg.pipeline import build_everything

    tmp = tmp_path_factory.mktemp("imagine")
    mp = pytest.MonkeyPatch()
    try:
        session = session_for("tiny", settings, tmp, mp)
        splits, model = build_everything(session, tmp / "run", progress=False)
        yield session, splits, model
    finally:
        mp.undo()


def test_encode_builds_context_causes_knowledge_and_mechanism_labels(built):
    from edg.api import CLS
    from edg_imagine.system import GROUPS

    session, splits, _model = built
    system, tok = session.system, session.system.tokenizer
    cls_id = tok.convert_tokens_to_ids(CLS)
    train = splits["train"]
    for sample in train.select(range(6)):
        context = sample["context"]
        pieces = tok(list(context), add_special_tokens=False)["input_ids"]
        assert sample["context_ids"] == [cls_id, *[t for p in pieces for t in p]][:96]
        chosen = sample["cause_index"]
        assert chosen and all(0 <= i < len(context) for i in chosen)
        assert sample["cause_ids"] == [cls_id, *[t for i in chosen for t in pieces[i]]]
        roles = {"speaker": 0, "listener": 1}
        assert sample["cause_role_ids"] == [0, *[roles[sample["roles"][i]] for i in chosen for _ in pieces[i]]]
        assert len(sample["mechanism_labels"]) == 3 and set(sample["mechanism_labels"]) <= {0, 1}
        knowledge = sample["comet_imagine"]
        assert set(knowledge) == set(GROUPS) and set(knowledge["Behaviour"]) == {
            "xIntent", "xNeed", "xWant", "xEffect", "xAttr"}
        affect = sample["knowledge_affect_ids"]
        assert affect and affect[0] != cls_id  # S_Affect has no [CLS]
        for group in ("behaviour", "physical", "events"):
            assert sample[f"knowledge_{group}_ids"][0] == cls_id
    batch = system.collate([train[i] for i in range(4)])
    assert batch["mechanism_labels"].shape == (4, 3)
    assert batch["cause_mask"].sum(1).tolist() == [len(train[i]["cause_ids"]) for i in range(4)]
    assert "face_token_weights" in system.statistics
    weights = system.statistics["face_token_weights"]
    assert len(weights) == len(tok) and abs(sum(weights) / len(weights) - 1) < 1e-4


def test_forward_gives_every_loss_its_inputs(built):
    session, splits, model = built
    batch = session.system.collate([splits["train"][i] for i in range(3)])
    model.eval()
    out = model(batch)
    assert out.emotion.logits.shape == (3, 32)
    assert out.extras["mechanism_logits"].shape == (3, 3, 2)
    assert out.encoder.hidden.shape[-1] == 4 * 32  # Ĥ_C ∈ R^{L×4d}
    total = 0.0
    for name, weight, term in session.system.build_losses():
        from edg.interfaces.loss import TrainingContext

        term.setup(TrainingContext(statistics=session.system.statistics, tokenizer=session.system.tokenizer))
        value = term.compute(batch, out, model)
        total += weight * float(value.value.detach())
    assert total > 0
    assert [(n, w) for n, w, _ in session.system.build_losses()] == [
        ("nll", 1.0), ("emotion", 1.0), ("imagine.mechanisms", 1.0), ("imagine.diversity", 1.5)]


@pytest.mark.parametrize("preset", ABLATIONS)
def test_each_ablation_removes_exactly_its_part(preset, settings, tmp_path, monkeypatch):
    from edg_imagine.system import ImagineSystem

    full = session_for("tiny", settings, tmp_path, monkeypatch).system
    ablated = session_for(f"tiny-{preset}", settings, tmp_path, monkeypatch).system
    assert isinstance(ablated, ImagineSystem)
    diff = {k for k in ("use_causes", "use_mechanisms", "use_knowledge")
            if getattr(full.options, k) != getattr(ablated.options, k)}
    losses = [s.name for s in full.config.losses]
    ablated_losses = [s.name for s in ablated.config.losses]
    fitted = {s.name for s in full.fitted_components({}, "before_knowledge")}
    ablated_fitted = {s.name for s in ablated.fitted_components({}, "before_knowledge")}
    if preset == "wo-cause":
        assert diff == {"use_causes"} and ablated_losses == losses
        assert fitted - ablated_fitted == {"cause_detector"}
    elif preset == "wo-cm":
        assert diff == {"use_mechanisms"}
        assert [n for n in losses if n not in ablated_losses] == ["imagine.mechanisms"]
        assert fitted - ablated_fitted == {"mechanism_er", "mechanism_ip", "mechanism_ex"}
    elif preset == "wo-know":
        assert diff == {"use_knowledge"} and ablated_losses == losses and fitted == ablated_fitted
        assert "comet.imagine" in full.knowledge_sources() and "comet.imagine" not in ablated.knowledge_sources()
    else:
        assert not diff and [n for n in losses if n not in ablated_losses] == ["imagine.diversity"]
        assert fitted == ablated_fitted
    # the weights of the remaining losses are unchanged
    weights = {s.name: s.weight for s in full.config.losses}
    assert all(weights[s.name] == s.weight for s in ablated.config.losses)


def test_ablated_networks_lose_only_their_modules(built):
    from edg_imagine.system import ImagineSystem

    session, _splits, model = built
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert {"emotion", "causes", "mechanisms", "knowledge", "refinement", "decoder"} <= names

    def ablated(overrides: dict):
        options = session.system.options.model_copy(update=overrides)
        system = ImagineSystem.__new__(ImagineSystem)
        system.__dict__.update(session.system.__dict__)
        system.options = options
        return system.build_model()

    no_cm = ablated({"use_mechanisms": False})
    assert no_cm.mechanisms is None and no_cm.knowledge is not None
    assert no_cm.decoder.memory_projection.in_features == 3 * 32
    no_know = ablated({"use_knowledge": False})
    assert no_know.knowledge is None and no_know.refinement is None and no_know.mechanisms is not None
    assert no_know.decoder.memory_projection.in_features == 2 * 32  # H_C ⊕ ê_cm
    no_cause = ablated({"use_causes": False})
    assert {n for n, _ in no_cause.named_parameters()} == {n for n, _ in model.named_parameters()}


def test_wo_cause_reads_the_whole_context(settings, tmp_path, monkeypatch):
    from edg.pipeline import build_everything

    session = session_for("tiny-wo-cause", settings, tmp_path, monkeypatch,
                          extra=["model.use_knowledge=false", "model.use_mechanisms=false",
                                 "losses=[{name: nll}, {name: emotion}, {name: imagine.diversity, weight: 1.5}]"])
    splits, _ = build_everything(session, tmp_path / "run", progress=False)
    for sample in splits["train"].select(range(5)):
        assert sample["cause_index"] == list(range(len(sample["context"])))
        assert sample["cause_ids"] == sample["context_ids"]


def test_bad_configurations_are_one_line_errors(settings, tmp_path, monkeypatch):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="imagine.mechanisms' needs model.use_mechanisms"):
        session_for("tiny", settings, tmp_path, monkeypatch, extra=["model.use_mechanisms=false"])
    with pytest.raises(Exception, match="model.cause_detector.*threshhold"):
        session_for("tiny", settings, tmp_path, monkeypatch, extra=["model.cause_detector.threshhold=0.3"])
    with pytest.raises(ConfigError, match="column reads the causes, but model.use_causes is false"):
        session_for("tiny", settings, tmp_path, monkeypatch, extra=["model.use_causes=false"])


def test_wo_cause_comet_reads_the_whole_context(settings, tmp_path, monkeypatch):
    """Without causes there is no ``imagine.causes`` column: COMET's input is the context."""
    sources = session_for("tiny-wo-cause", settings, tmp_path, monkeypatch).system.knowledge_sources()
    assert "imagine.causes" not in sources
    assert sources["comet.imagine"]["head"] == "context" and sources["comet.imagine"].get("column") is None


def test_comet_reads_the_detected_causes(built):
    """COMET's input C is the causes the fitted detector selects (§3.2.2), written by
    ``imagine.causes`` before ``comet.imagine`` runs: its cached queries are the causes,
    never the whole context."""
    from edg.interfaces.component import build
    from edg.knowledge_cache import KnowledgeCache, cache_key
    from edg_comet.imagine import ImagineKnowledge
    from edg_comet.source import clean_text

    session, splits, _model = built
    sources = session.system.knowledge_sources()
    assert {"imagine.causes", "comet.imagine"} <= set(sources)
    assert sources["comet.imagine"]["head"] == "column" and sources["comet.imagine"]["column"] == "imagine_causes"
    comet = build(ImagineKnowledge, sources["comet.imagine"], name="comet.imagine", key="k")
    context_source = build(ImagineKnowledge, {**sources["comet.imagine"], "head": "context", "column": None},
                           name="comet.imagine", key="k")
    train = splits["train"]
    differs = 0
    with KnowledgeCache() as cache:
        for sample in train:
            causes = sample["imagine_causes"]
            # the column holds the utterances the detector chose (the encoded causes C)
            assert causes == [sample["context"][i] for i in sample["cause_index"]]
            requests = comet.requests(sample)
            assert {r["head"] for r in requests} == {clean_text(" ".join(causes))}
            keys = [cache_key(comet.fingerprint(), r) for r in requests]
            assert set(cache.get_many(keys)) == set(keys)  # COMET answered these queries
            if len(causes) < len(sample["context"]):
                differs += 1
                context_keys = [cache_key(context_source.fingerprint(), r) for r in context_source.requests(sample)]
                assert not cache.get_many(context_keys)  # and never the whole context
    assert differs > 0
