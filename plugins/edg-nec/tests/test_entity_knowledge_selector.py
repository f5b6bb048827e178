"""The entity scorer as a fit-stage component: out-of-fold selection for the training split,
the core's cache, record and resume."""

import json

import pytest

from edg_nec import entity_knowledge_selector as eks
from edg_nec.entity_knowledge_selector import EntityKnowledgeSelector, assign_folds
from edg_nec.entity_scorer import EntityScorer

TINY_SCORER = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
               "max_position_embeddings": 128}


def _dataset(n_conversations=6, turns=2):
    """Samples whose K_all holds one triplet linked to the reply (positive) and two others."""
    import datasets

    rows = []
    pets = ["dog", "cat", "horse", "bird", "fish", "rabbit", "snake", "mouse"]
    for c in range(n_conversations):
        pet = pets[c % len(pets)]
        for t in range(turns):
            rows.append({
                "id": f"c{c}_t{t}", "conv_id": f"c{c}", "context": [f"my {pet} ran away number {c} {t}"],
                "target": f"did you look in the park for your {pet}?",
                "comet_entity": [{"entity": pet, "relation": "AtLocation", "tail": "the park"},
                                 {"entity": pet, "relation": "ObjectUse", "tail": "have fun"},
                                 {"entity": pet, "relation": "HasProperty", "tail": "nice"}],
            })
    return datasets.Dataset.from_list(rows)


def _options(nec, **entity):
    session = nec.open_tiny([f"model.entity.{k}={v}" for k, v in entity.items()])
    return session.system.options.entity


@pytest.fixture
def trained_on(monkeypatch):
    """Records, per scorer, the histories it was trained on and those it selected for."""
    log = {"trained": {}, "selected": {}}
    train, select = EntityScorer.train, EntityScorer.select

    def recording_train(self, pairs, **kw):
        log["trained"][id(self)] = {p[0] for p in pairs}
        return train(self, pairs, **kw)

    def recording_select(self, samples, m, **kw):
        log["selected"].setdefault(id(self), set()).update(" ".join(s[0]) for s in samples)
        return select(self, samples, m, **kw)

    monkeypatch.setattr(EntityScorer, "train", recording_train)
    monkeypatch.setattr(EntityScorer, "select", recording_select)
    return log


def test_folds_keep_conversations_together():
    convs = ["a", "a", "b", "c", "c", "c", "d", "e"]
    fold = assign_folds(convs, 3, seed=0)
    for c in set(convs):
        assert len({f for f, x in zip(fold, convs) if x == c}) == 1
    assert set(fold) == {0, 1, 2}
    assert fold == assign_folds(convs, 3, seed=0)


@pytest.mark.parametrize("folds", [3, 1])
def test_no_training_sample_is_selected_by_a_scorer_trained_on_it(tmp_path, word_tokenizer, nec, trained_on, folds):
    """Out of fold (folds=3): every training sample's K_E comes from a scorer that never saw
    the sample. In-sample (folds=1, edg's earlier behaviour) it does not hold."""
    data = _dataset()
    opts = _options(nec, folds=folds)
    selector = EntityKnowledgeSelector(opts, tokenizer=word_tokenizer, seed=0)
    metrics = selector.fit({"train": data}, tmp_path / "work")
    assert set(selector.train_selections) == set(data["id"])
    leaked = [h for scorer, seen in trained_on["selected"].items() for h in seen
              if h in trained_on["trained"].get(scorer, set())]
    if folds > 1:
        assert leaked == []
        assert metrics["out_of_fold_pairs"] > 0 and 0.0 <= metrics["out_of_fold_pair_accuracy"] <= 1.0
        assert metrics["full_scorer_pairs"] == 2 * len(data)  # every sample: one positive, two negatives
        assert len(trained_on["trained"]) == folds + 1  # one per fold and the full scorer
    else:
        assert len(leaked) == len(data)
    for sample_id, picked in selector.train_selections.items():
        assert len(picked) == opts.top_m_train and len(set(picked)) == len(picked)


def test_fit_stage_caches_records_and_resumes(tmp_path, word_tokenizer, nec, monkeypatch):
    from edg.fitting import fit_all
    from edg.interfaces.fitted import FitSpec

    data = _dataset()
    opts = _options(nec, folds=3)
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    # an interrupted fit: fold 0 finished, then the process died
    first = EntityKnowledgeSelector(opts, tokenizer=word_tokenizer, seed=0)
    calls = []
    real_train = EntityKnowledgeSelector._train

    def dying_train(self, samples, seed):
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(self, samples, seed)

    monkeypatch.setattr(EntityKnowledgeSelector, "_train", dying_train)
    with pytest.raises(KeyboardInterrupt):
        fit_all([FitSpec("nec.entity_scorer", first, {"train": data})], tmp_path / "cache", run_dir)
    works = list((tmp_path / "cache" / "fitted").glob("*.work"))
    assert len(works) == 1 and (works[0] / "fold-0.json").is_file()

    # resumed: fold 0 is not trained again (seed 1 belongs to fold 0)
    calls.clear()
    monkeypatch.setattr(EntityKnowledgeSelector, "_train", lambda self, s, seed: (calls.append(seed), real_train(self, s, seed))[1])
    second = EntityKnowledgeSelector(opts, tokenizer=word_tokenizer, seed=0)
    fit_all([FitSpec("nec.entity_scorer", second, {"train": data})], tmp_path / "cache", run_dir)
    assert 1 not in calls and sorted(calls) == [0, 2, 3]
    record = json.loads((run_dir / "fitted.json").read_text())["nec.entity_scorer"]
    assert record["origin"] == "fitted" and "out_of_fold_pair_accuracy" in record["metrics"]

    # a later run loads the result: same selections, same scorer, nothing trained
    calls.clear()
    third = EntityKnowledgeSelector(opts, tokenizer=word_tokenizer, seed=0)
    later_run = tmp_path / "later-run"
    later_run.mkdir()
    fit_all([FitSpec("nec.entity_scorer", third, {"train": data})], tmp_path / "cache", later_run)
    assert calls == []
    assert third.train_selections == second.train_selections
    assert json.loads((later_run / "fitted.json").read_text())["nec.entity_scorer"]["origin"] == "cache"
    sample = (data[0]["context"], data[0]["comet_entity"])
    assert third.select([sample], 2) == second.select([sample], 2)
    assert eks.SELECTIONS in {p.name for p in (tmp_path / "cache" / "fitted" / record["key"]).iterdir()}


def test_system_uses_out_of_fold_selections_for_the_training_split(word_tokenizer, nec):
    system, _model, splits = nec.build_tiny(word_tokenizer, overrides=["model.entity.folds=2"])
    selector = system.fitted["nec.entity_scorer"]
    train = splits["train"]
    for row in train:
        picked = selector.training_selection(row["id"])[: system.options.entity.top_m_train]
        assert row["nec_entity"] == [row["comet_entity"][j] for j in picked]
