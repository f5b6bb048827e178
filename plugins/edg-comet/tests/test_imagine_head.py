"""``comet.imagine`` with ``head: column``: COMET reads the utterances of another sample
column (IMAGINE's extracted causes), joined as the paper concatenates them."""

from __future__ import annotations

import datasets
import pytest

from edg.errors import ConfigError, DataError
from edg.interfaces.component import build
from edg.knowledge_cache import KnowledgeCache, annotate, cache_key
from edg_comet.imagine import ImagineKnowledge

# the model is loaded lazily: building the source and its requests needs no weights
COMMON = {"model_name_or_path": "/nonexistent/comet", "device": "cpu"}


def source(**options):
    return build(ImagineKnowledge, {**COMMON, **options}, name="comet.imagine", key="knowledge.comet.imagine")


def sample(context, causes=None):
    out = {"context": context, "roles": ["speaker"] * len(context)}
    if causes is not None:
        out["imagine_causes"] = causes
    return out


def test_queries_are_built_from_the_column_joined_in_order():
    context = ["My friend lost her job at the bank", "Oh no,  what happened?", "She was late again"]
    s = sample(context, causes=[context[0], context[2]])
    requests = source(head="column", column="imagine_causes").requests(s)
    assert len(requests) == 11
    assert {r["head"] for r in requests} == {"My friend lost her job at the bank She was late again"}
    # the existing choices are unchanged
    assert {r["head"] for r in source().requests(s)} == {"My friend lost her job at the bank Oh no, what happened? "
                                                          "She was late again"}
    assert {r["head"] for r in source(head="last_utterance").requests(s)} == {"She was late again"}


def test_the_cache_keys_follow_the_column():
    """The requests carry the head text, so the cache keys (fingerprint + request) differ as
    soon as the column's utterances differ from the context."""
    context = ["I got a new car", "Nice!", "My dog loves it"]
    s = sample(context, causes=[context[0]])
    by_context, by_column = source(), source(head="column", column="imagine_causes")
    keys = {cache_key(by_context.fingerprint(), r) for r in by_context.requests(s)}
    assert keys.isdisjoint(cache_key(by_column.fingerprint(), r) for r in by_column.requests(s))


def test_a_missing_column_is_a_one_line_error():
    with pytest.raises(DataError, match="sample column 'imagine_causes', which the samples do not have") as err:
        source(head="column", column="imagine_causes").requests(sample(["hello"]))
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="list of utterances"):
        source(head="column", column="imagine_causes").requests({"context": ["a"], "imagine_causes": "a"})


def test_column_and_head_go_together():
    with pytest.raises(ConfigError, match="column"):
        source(head="column")
    with pytest.raises(ConfigError, match="column is read only with head: column"):
        source(column="imagine_causes")


def test_annotation_reads_the_column(tiny_comet, tmp_path):
    data = datasets.Dataset.from_list([sample(["PersonX calls PersonY ambulance", "Oh no"],
                                              causes=["PersonX calls PersonY ambulance"])])
    imagine = build(ImagineKnowledge, {"model_name_or_path": str(tiny_comet), "max_length": 6, "device": "cpu",
                                       "head": "column", "column": "imagine_causes"},
                    name="comet.imagine", key="k")
    asked = []
    compute = imagine.compute
    imagine.compute = lambda requests: asked.extend(requests) or compute(requests)
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        out = annotate(imagine, data, cache, progress=False)
    assert len(asked) == 11 and {r["head"] for r in asked} == {"PersonX calls PersonY ambulance"}
    assert set(out["comet_imagine"][0]) == {"Affect", "Behaviour", "Physical", "Events"}
