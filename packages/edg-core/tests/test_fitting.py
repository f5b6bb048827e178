"""The fit stage: a component trained once on the data, cached, resumed, recorded."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest
import torch

from edg.interfaces.component import NoOptions
from edg.interfaces.fitted import FitSpec, FittedComponent


class SituationEmotionClassifier(FittedComponent):
    """Bag-of-words logistic regression from a conversation's situation to its emotion
    (a real, small labeller). Saves its epoch in the work directory to resume."""

    def __init__(self, options, *, epochs: int = 6, crash_after: int | None = None,
                 gate: threading.Event | None = None) -> None:
        super().__init__(options)
        self.epochs, self.crash_after, self.gate = epochs, crash_after, gate
        self.fit_calls, self.epochs_run = 0, 0
        self.vocab: dict[str, int] = {}
        self.linear: torch.nn.Linear | None = None

    def fingerprint(self):
        return {"epochs": self.epochs, "model": "bow-logreg"}

    def _features(self, texts):
        x = torch.zeros(len(texts), len(self.vocab) + 1)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                x[i, self.vocab.get(word, len(self.vocab))] += 1.0
        return x

    def fit(self, data, work_dir: Path):
        from safetensors.torch import load_file, save_file

        self.fit_calls += 1
        if self.gate is not None:  # a slow fit: held until the test opens the gate
            assert self.gate.wait(timeout=30)
        train, held_out = data["train"], data["valid"]
        counts = Counter(w for s in train["situation"] for w in s.lower().split())
        self.vocab = {w: i for i, (w, _) in enumerate(counts.most_common(2000))}
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(len(self.vocab) + 1, 32)
        start = 0
        if (work_dir / "progress.json").is_file():
            start = json.loads((work_dir / "progress.json").read_text())["epoch"]
            self.linear.load_state_dict(load_file(str(work_dir / "progress.safetensors")))
        x, y = self._features(train["situation"]), torch.tensor(train["emotion_id"])
        opt = torch.optim.SGD(self.linear.parameters(), lr=0.5)  # stateless: resumes exactly
        for epoch in range(start, self.epochs):
            if self.crash_after is not None and epoch == self.crash_after:
                raise KeyboardInterrupt("killed")
            opt.zero_grad()
            torch.nn.functional.cross_entropy(self.linear(x), y).backward()
            opt.step()
            self.epochs_run += 1
            save_file(self.linear.state_dict(), str(work_dir / "progress.safetensors"))
            (work_dir / "progress.json").write_text(json.dumps({"epoch": epoch + 1}))
        return {"valid_accuracy": self.accuracy(held_out)}

    def accuracy(self, ds) -> float:
        pred = self.linear(self._features(ds["situation"])).argmax(-1)
        return float((pred == torch.tensor(ds["emotion_id"])).float().mean())

    def save(self, directory: Path):
        from safetensors.torch import save_file

        save_file(self.linear.state_dict(), str(directory / "weights.safetensors"))
        (directory / "vocab.json").write_text(json.dumps(self.vocab))

    def load(self, directory: Path):
        from safetensors.torch import load_file

        self.vocab = json.loads((directory / "vocab.json").read_text())
        self.linear = torch.nn.Linear(len(self.vocab) + 1, 32)
        self.linear.load_state_dict(load_file(str(directory / "weights.safetensors")))


@pytest.fixture()
def splits(tmp_path, monkeypatch):
    from edg.data import load_splits

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    return load_splits(cache_dir=tmp_path / "cache")


def test_fitted_once_then_loaded_from_the_cache_and_recorded(splits, tmp_path):
    from edg.fitting import fit_all

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    first = SituationEmotionClassifier(NoOptions())
    spec = FitSpec("situation_emotion", first, {"train": splits["train"], "valid": splits["valid"]})
    fitted = fit_all([spec], tmp_path / "cache", run_dir)
    assert fitted["situation_emotion"] is first and first.fit_calls == 1
    record = json.loads((run_dir / "fitted.json").read_text())["situation_emotion"]
    assert record["origin"] == "fitted" and 0.0 <= record["metrics"]["valid_accuracy"] <= 1.0

    second = SituationEmotionClassifier(NoOptions())
    fit_all([FitSpec("situation_emotion", second, dict(spec.data))], tmp_path / "cache", run_dir)
    assert second.fit_calls == 0
    assert second.accuracy(splits["valid"]) == pytest.approx(record["metrics"]["valid_accuracy"])
    assert json.loads((run_dir / "fitted.json").read_text())["situation_emotion"]["key"] == record["key"]

    # other data or another configuration is another fit
    third = SituationEmotionClassifier(NoOptions(), epochs=3)
    fit_all([FitSpec("situation_emotion", third, dict(spec.data))], tmp_path / "cache")
    fourth = SituationEmotionClassifier(NoOptions())
    fit_all([FitSpec("situation_emotion", fourth, {"train": splits["train"].select(range(10)),
                                                   "valid": splits["valid"]})], tmp_path / "cache")
    assert third.fit_calls == fourth.fit_calls == 1


def test_a_run_started_during_anothers_fit_waits_and_loads_its_result(splits, tmp_path):
    from edg.fitting import fit_all

    data = {"train": splits["train"], "valid": splits["valid"]}
    gate = threading.Event()
    first, second = SituationEmotionClassifier(NoOptions(), gate=gate), SituationEmotionClassifier(NoOptions())
    errors: list[BaseException] = []

    def fit(component):
        try:
            fit_all([FitSpec("labeller", component, data)], tmp_path / "cache")
        except BaseException as error:  # surfaced below: a thread's exception would be lost
            errors.append(error)

    threads = [threading.Thread(target=fit, args=(first,))]
    threads[0].start()
    while first.fit_calls == 0:  # the first fit holds the key's lock
        threads[0].join(0.01)
    threads.append(threading.Thread(target=fit, args=(second,)))
    threads[1].start()
    threads[1].join(0.5)
    assert threads[1].is_alive() and second.fit_calls == 0  # waiting, not fitting into the same work directory
    gate.set()
    for thread in threads:
        thread.join(30)
    assert not errors and first.fit_calls == 1 and second.fit_calls == 0
    assert second.accuracy(splits["valid"]) == first.accuracy(splits["valid"])  # the first one's result


def test_an_interrupted_fit_resumes_and_leaves_no_partial_result(splits, tmp_path):
    from edg.fitting import fit_all

    data = {"train": splits["train"], "valid": splits["valid"]}
    crashing = SituationEmotionClassifier(NoOptions(), crash_after=4)
    with pytest.raises(KeyboardInterrupt):
        fit_all([FitSpec("labeller", crashing, data)], tmp_path / "cache")
    assert not any((tmp_path / "cache" / "fitted").glob("*/COMPLETE"))
    resumed = SituationEmotionClassifier(NoOptions())
    fit_all([FitSpec("labeller", resumed, data)], tmp_path / "cache")
    assert crashing.epochs_run == 4 and resumed.epochs_run == 2  # the last two epochs only
    uninterrupted = SituationEmotionClassifier(NoOptions())
    fit_all([FitSpec("labeller", uninterrupted, data)], tmp_path / "other-cache")
    for a, b in zip(resumed.linear.parameters(), uninterrupted.linear.parameters()):
        torch.testing.assert_close(a, b)


def test_the_pipeline_runs_a_systems_fit_stage(tmp_path, monkeypatch):
    from edg import pipeline
    from edg.baseline.transformer_system import TransformerSystem
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    stages = []

    def fitted_components(self, splits, stage):
        stages.append((stage, "input_ids" in splits["train"].column_names))
        if stage != "before_knowledge":
            return []
        return [FitSpec("situation_emotion", SituationEmotionClassifier(NoOptions()),
                        {"train": splits["train"], "valid": splits["valid"]}, stage="before_knowledge")]

    monkeypatch.setattr(TransformerSystem, "fitted_components", fitted_components)
    session = pipeline.open_session("transformer", None, TINY_TRANSFORMER)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pipeline.build_everything(session, run_dir, progress=False)
    assert stages == [("before_knowledge", False), ("before_prepare", False)]
    assert isinstance(session.system.fitted["situation_emotion"], SituationEmotionClassifier)
    assert "situation_emotion" in json.loads((run_dir / "fitted.json").read_text())


def test_knowledge_sources_are_annotated_after_what_they_require():
    from edg.errors import ConfigError
    from edg.pipeline import knowledge_order

    assert knowledge_order({"comet.imagine": ("imagine.causes",), "imagine.causes": (), "vad": ()}) == [
        "imagine.causes", "comet.imagine", "vad"]
    with pytest.raises(ConfigError, match="requires knowledge source 'imagine.causes', which is not configured"):
        knowledge_order({"comet.imagine": ("imagine.causes",)})
    with pytest.raises(ConfigError, match="cycle: a -> b -> a"):
        knowledge_order({"a": ("b",), "b": ("a",)})


def test_a_source_reading_another_sources_column_is_annotated_after_it(tmp_path, monkeypatch):
    """The order follows a source's options (``reads``), not only its class's ``requires``."""
    from types import SimpleNamespace

    import datasets

    from edg.config import StrictModel
    from edg.interfaces.knowledge import KnowledgeSource
    from edg.pipeline import annotate_knowledge

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))

    class Shout(KnowledgeSource):
        Options = NoOptions

        def fingerprint(self):
            return {"shout": 1}

        def requests(self, sample):
            return [sample["context"][-1]]

        def compute(self, requests):
            return [r.upper() for r in requests]

        def attach(self, sample, requests, answers):
            return answers[0]

    class LengthOptions(StrictModel):
        column: str

    class Length(KnowledgeSource):
        Options = LengthOptions

        @property
        def reads(self):
            return (self.options.column,)

        def fingerprint(self):
            return {"length": self.options.column}

        def requests(self, sample):
            return [sample[self.options.column]]

        def compute(self, requests):
            return [len(r) for r in requests]

        def attach(self, sample, requests, answers):
            return answers[0]

    classes = {"shout": Shout, "length": Length}
    session = SimpleNamespace(
        # configured in the wrong order: length reads the column shout writes
        system=SimpleNamespace(knowledge_sources=lambda: {"length": {"column": "shout"}, "shout": {}}),
        plugins=SimpleNamespace(get=lambda kind, name: classes[name]))
    data = datasets.Dataset.from_list([{"context": ["hi", "well done"]}, {"context": ["ok"]}])
    out = annotate_knowledge(session, {"train": data}, progress=False)["train"]
    assert out["shout"] == ["WELL DONE", "OK"] and out["length"] == [9, 2]
