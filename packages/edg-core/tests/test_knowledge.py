"""The knowledge cache and annotate(): cache hits, resumption, fingerprints."""

from __future__ import annotations

import sqlite3

import datasets
import pytest

from edg.config import StrictModel
from edg.errors import PluginError
from edg.interfaces.component import build
from edg.interfaces.knowledge import KnowledgeSource
from edg.knowledge_cache import KnowledgeCache, annotate, cache_key, default_cache_path


class EchoOptions(StrictModel):
    suffix: str = "!"
    fail_on_batch: int = 0
    """Raise in the n-th compute call (1-based; 0 = never), to simulate a killed run."""


class EchoSource(KnowledgeSource):
    """Answers each (utterance, relation) request with ``utterance + relation + suffix``."""

    Options = EchoOptions
    batch_size = 2
    relations = ("xIntent", "xReact")

    def __init__(self, options: EchoOptions) -> None:
        super().__init__(options)
        self.computed: list[dict] = []
        self.calls = 0

    def fingerprint(self):
        return {"kind": "echo", "suffix": self.options.suffix}

    def requests(self, sample):
        return [{"head": sample["context"][-1], "relation": r} for r in self.relations]

    def compute(self, requests):
        self.calls += 1
        if self.calls == self.options.fail_on_batch:
            raise RuntimeError("killed")
        self.computed.extend(requests)
        return [[f"{r['head']} {r['relation']}{self.options.suffix}"] for r in requests]

    def attach(self, sample, requests, answers):
        return {r["relation"]: a for r, a in zip(requests, answers)}


def make_source(**options) -> EchoSource:
    return build(EchoSource, options, name="test.echo", key="knowledge.test.echo")


def make_dataset(n: int = 5) -> datasets.Dataset:
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"c{i}:2",
                "conv_id": f"c{i}",
                "turn": 2,
                "context": [f"utterance {i}"],
                "roles": ["speaker"],
                "target": "ok",
                "emotion": "sad",
                "emotion_id": 5,
                "situation": "s",
            }
        )
    return datasets.Dataset.from_list(rows)


def test_annotate_attaches_answers_with_field_name(tmp_path):
    source = make_source()
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        out = annotate(source, make_dataset(3), cache, progress=False)
    assert source.field == "test_echo"
    assert out["test_echo"][1] == {"xIntent": ["utterance 1 xIntent!"], "xReact": ["utterance 1 xReact!"]}
    assert len(source.computed) == 6
    assert source.calls == 3  # batch_size 2


def test_second_run_hits_cache_and_computes_nothing(tmp_path):
    data = make_dataset(4)
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        first = annotate(make_source(), data, cache, progress=False)
    source = make_source()
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:  # reopened: answers are on disk
        second = annotate(source, data, cache, progress=False)
        assert cache.count() == 8
    assert source.calls == 0
    assert second["test_echo"] == first["test_echo"]


def test_duplicate_requests_are_computed_once(tmp_path):
    rows = make_dataset(3).to_list()
    for row in rows:
        row["context"] = ["same"]
    source = make_source()
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        out = annotate(source, datasets.Dataset.from_list(rows), cache, progress=False)
    assert len(source.computed) == 2
    assert all(v == {"xIntent": ["same xIntent!"], "xReact": ["same xReact!"]} for v in out["test_echo"])


def test_interrupted_run_resumes_with_only_the_rest(tmp_path):
    data = make_dataset(5)  # 10 requests -> 5 batches of 2
    path = tmp_path / "k.sqlite"
    killed = make_source(fail_on_batch=3)
    with KnowledgeCache(path) as cache:
        with pytest.raises(RuntimeError, match="killed"):
            annotate(killed, data, cache, progress=False)
    done = {(r["head"], r["relation"]) for r in killed.computed}
    assert len(done) == 4  # two committed batches survived

    resumed = make_source()
    with KnowledgeCache(path) as cache:
        out = annotate(resumed, data, cache, progress=False)
    again = {(r["head"], r["relation"]) for r in resumed.computed}
    assert len(again) == 6
    assert not (again & done)
    assert out["test_echo"][4]["xReact"] == ["utterance 4 xReact!"]


def test_different_fingerprint_is_recomputed(tmp_path):
    data = make_dataset(2)
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        annotate(make_source(), data, cache, progress=False)
        other = make_source(suffix="?")
        out = annotate(other, data, cache, progress=False)
        assert len(other.computed) == 4
        assert out["test_echo"][0]["xIntent"] == ["utterance 0 xIntent?"]
        assert cache.count(other.fingerprint()) == 4
        assert cache.count() == 8
        assert cache.clear(other.fingerprint()) == 4
        assert cache.count() == 4


def test_reannotation_replaces_column(tmp_path):
    data = make_dataset(2)
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        once = annotate(make_source(), data, cache, progress=False)
        twice = annotate(make_source(suffix="?"), once, cache, progress=False)
    assert twice.column_names.count("test_echo") == 1
    assert twice["test_echo"][0]["xIntent"] == ["utterance 0 xIntent?"]


def test_wrong_number_of_answers_is_a_plugin_error(tmp_path):
    class Short(EchoSource):
        def compute(self, requests):
            return super().compute(requests)[:-1]

    source = build(Short, {}, name="test.short", key="k")
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        with pytest.raises(PluginError, match="'test.short' returned 1 answers for 2 requests"):
            annotate(source, make_dataset(1), cache, progress=False)


def test_cache_file_is_wal_and_keys_are_stable(tmp_path, monkeypatch):
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "c"))
    assert default_cache_path() == tmp_path / "c" / "knowledge.sqlite"
    with KnowledgeCache() as cache:
        cache.put({"m": 1}, {"head": "a", "relation": "xIntent"}, ["x"])
        assert cache.get({"m": 1}, {"relation": "xIntent", "head": "a"}) == ["x"]  # key order irrelevant
        assert cache.get({"m": 2}, {"head": "a", "relation": "xIntent"}) is None
    mode = sqlite3.connect(tmp_path / "c" / "knowledge.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert cache_key({"a": 1, "b": 2}, [1]) == cache_key({"b": 2, "a": 1}, [1])
    assert cache_key({"a": 1}, [1]) != cache_key({"a": 1}, [2])
