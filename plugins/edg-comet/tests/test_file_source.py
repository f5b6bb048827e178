"""comet.file over the real COMET-ATOMIC 2020 sample (../shared/data/comet_atomic2020)."""

from __future__ import annotations

import json

import datasets
import pytest

from edg.errors import ConfigError, DataError
from edg.interfaces.component import build
from edg.knowledge_cache import KnowledgeCache, annotate
from edg_comet.file_source import FileKnowledge
from edg_comet.relations import ATOMIC2020_RELATIONS


def make(path, **options):
    return build(FileKnowledge, {"path": str(path), **options}, name="comet.file", key="knowledge.comet.file")


def test_known_heads_return_gold_tails(comet_sample):
    source = make(comet_sample)
    # first line of the sample: gold tails with two 'none' dropped
    assert source.lookup("PersonX takes things for granted", "xNeed") == [
        "to have wasted resources",
        "to have been lazy at work",
        "to have used their money on unnecessary things",
    ]
    assert source.lookup("PersonX calls PersonY ambulance", "xNeed") == [
        "to see Person Y is hurt.",
        "to get a phone.",
        "recognize the person needs an ambulance",
        "get the phone",
    ]


def test_generations_field_serves_comet_outputs(comet_sample):
    source = make(comet_sample, tails_field="generations")
    tails = source.lookup("PersonX calls PersonY ambulance", "xNeed")
    assert tails[:3] == ["to dial the number", "to dial a number", "to dial the phone"]


def test_every_sample_line_is_served(comet_sample):
    source = make(comet_sample, relations=list(ATOMIC2020_RELATIONS))
    rows = [json.loads(line) for line in comet_sample.open()]
    assert len(rows) == 5000
    assert source.file_relations == sorted(ATOMIC2020_RELATIONS)  # the sample covers all 23
    for row in rows[::97]:
        expected = [t.strip() for t in row["tails"] if t.strip() and t.strip().lower() != "none"]
        assert source.lookup(row["head"], row["relation"]) == list(dict.fromkeys(expected))


def test_unknown_relations_give_clear_errors(comet_sample):
    source = make(comet_sample)
    with pytest.raises(ConfigError, match="unknown COMET relation 'xFeel'; ATOMIC-2020 relations: xIntent"):
        source.lookup("PersonX calls PersonY ambulance", "xFeel")
    with pytest.raises(ConfigError, match="config key 'knowledge.comet.file.relations'.*'XWant' \\(did you mean 'xWant'\\?\\)"):
        make(comet_sample, relations=["XWant"])
    with pytest.raises(DataError, match="has no 'CreatedBy' entries"):
        source.lookup("a", "CreatedBy")  # a COMET relation the file lacks


def test_missing_head_is_an_error_or_empty(comet_sample):
    with pytest.raises(DataError, match="no 'xNeed' entry for head 'PersonX flies to Mars'.*on_missing: empty"):
        make(comet_sample).lookup("PersonX flies to Mars", "xNeed")
    assert make(comet_sample, on_missing="empty").lookup("PersonX flies to Mars", "xNeed") == []


def test_annotation_from_file(comet_sample, samples, tmp_path):
    source = make(comet_sample, relations=["xNeed", "xWant"], on_missing="empty")
    data = datasets.Dataset.from_list(samples)
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        out = annotate(source, data, cache, progress=False)
    assert out["comet_file"][2]["xNeed"][0] == "to have wasted resources"  # head = last utterance
    assert out["comet_file"][0] == {"xNeed": [], "xWant": []}


def test_malformed_and_missing_files_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"head": "a", "relation": "xNeed", "tails": ["b"]}\n{"head": "a", "relation": "xNeed", "tails": "b"}\n')
    with pytest.raises(DataError, match=f"{bad}:2: 'tails' must be a list of strings"):
        make(bad, relations=["xNeed"])
    with pytest.raises(DataError, match="knowledge file not found"):
        make(tmp_path / "none.jsonl")
    only_xneed = tmp_path / "ok.jsonl"
    only_xneed.write_text('{"head": "a", "relation": "xNeed", "tails": []}\n')
    with pytest.raises(DataError, match="no entries for relation\\(s\\) xIntent"):
        make(only_xneed, relations=["xIntent", "xNeed"])
