"""Entity extraction (NLTK tagger, TextBlob's Pattern tagger or WordNet's noun index) and the
comet.entity source."""

from __future__ import annotations

import datasets
import pytest

from edg.errors import ResourceError
from edg.interfaces.component import build
from edg.knowledge_cache import KnowledgeCache, annotate
from edg_comet.entities import (NltkNounExtractor, PatternNounExtractor, WordnetNounExtractor, make_extractor,
                                nltk_tagger_installed)
from edg_comet.entity import EntityKnowledge
from edg_comet.relations import ENTITY_RELATIONS

# A few real lines of WordNet 3.0's index.noun (and its licence-header style).
INDEX_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
bank n 10 4 @ ~ #m %p 10 2 08420278 09213565 08462066 04139859 13368318 13356402 09213434 04139638 00169305 00170844
car n 5 4 @ ~ +p %p 5 2 02958343 02959942 02960501 02960352 02934168
child n 4 4 @ ~ + ; 4 2 09917593 09918248 10332385 09918554
dog n 7 4 @ ~ %p + 7 1 02084071 10114209 10023039 09886220 09964411 03901548 03907626
friend n 5 4 @ ~ + ; 5 4 10112591 10113072 09927089 10113239 08418523
job n 13 4 @ ~ %p + 13 6 00576451 00582388 00575741 05710210 04618781 14364556 10216106 13966007 00575083 00577330 04619054 00577498 03608506
new_car n 1 1 @ 1 0 00000001
time n 10 2 @ ~ 10 10 15122231 15245515 15142836 15246853 15143477 13893786 15253139 15132012 05054863 00451375
"""


@pytest.fixture
def wordnet_dir(tmp_path):
    (tmp_path / "index.noun").write_text(INDEX_NOUN)
    (tmp_path / "noun.exc").write_text("children child\n")
    return tmp_path


def test_wordnet_extractor_finds_nouns_plurals_and_irregulars(wordnet_dir):
    extract = WordnetNounExtractor(str(wordnet_dir))
    assert extract("My friends took the children to the bank. My friend's dog!") == [
        "friends",
        "children",
        "bank",
        "dog",
    ]
    assert extract("I had a good time") == []  # 'time' is a noun but a stopword


def test_wordnet_missing_index_names_package_and_option(tmp_path):
    with pytest.raises(ResourceError, match="index.noun.*wordnet-base.*wordnet_dir"):
        WordnetNounExtractor(str(tmp_path / "nowhere"))


def test_nltk_extractor_without_tagger_data_names_resource_and_fallback():
    nltk = pytest.importorskip("nltk")
    try:
        nltk.pos_tag(["dog"])
    except LookupError:
        with pytest.raises(ResourceError, match="NLTK resource 'averaged_perceptron_tagger\\w*'.*pattern"):
            NltkNounExtractor()
    else:
        assert "dog" in NltkNounExtractor()("The dog barked at the car")


def test_pattern_extractor_tags_nouns_offline():
    """The Pattern tagger's lexicon ships inside the textblob wheel: no NLTK data, no system package."""
    extract = PatternNounExtractor()
    assert extract("My friend's dog lost her job at the bank. I'm so sorry!") == ["friend", "dog", "job", "bank"]
    # tagging, not lookup: 'run' is a verb here, 'eggs' a plural noun
    assert extract("I run to the store to buy some eggs") == ["store", "eggs"]
    assert extract("What happened?") == []
    assert extract("") == []
    assert PatternNounExtractor().describe()["entity_extractor"] == "pattern"


def test_auto_uses_nltk_only_when_its_data_is_installed(monkeypatch):
    import edg_comet.entities as entities

    monkeypatch.setattr(entities, "nltk_tagger_installed", lambda: False)
    assert isinstance(make_extractor("auto"), PatternNounExtractor)
    if nltk_tagger_installed():
        monkeypatch.undo()
        assert isinstance(make_extractor("auto"), NltkNounExtractor)


def test_fingerprint_records_the_extractor_used(tiny_comet, wordnet_dir, monkeypatch):
    import edg_comet.entities as entities

    monkeypatch.setattr(entities, "nltk_tagger_installed", lambda: False)
    base = {"model_name_or_path": str(tiny_comet), "device": "cpu"}
    auto = build(EntityKnowledge, base, name="comet.entity", key="k").fingerprint()
    pattern = build(EntityKnowledge, {**base, "entity_extractor": "pattern"}, name="comet.entity", key="k").fingerprint()
    wordnet = build(EntityKnowledge, {**base, "entity_extractor": "wordnet", "wordnet_dir": str(wordnet_dir)},
                    name="comet.entity", key="k").fingerprint()
    assert auto == pattern and auto["entity_extractor"] == "pattern" and "textblob" in auto["tagger"]
    assert wordnet["entity_extractor"] == "wordnet" and wordnet != pattern


def test_entity_source(tiny_comet, wordnet_dir, tmp_path, samples):
    options = {
        "model_name_or_path": str(tiny_comet),
        "entity_extractor": "wordnet",
        "wordnet_dir": str(wordnet_dir),
        "max_length": 8,
        "device": "cpu",
    }
    source = build(EntityKnowledge, options, name="comet.entity", key="k")
    requests = source.requests(samples[0])  # "I got a new car and my dog loves it"
    assert [r["entity"] for r in requests] == ["car"] * 4 + ["dog"] * 4
    assert requests[0] == {
        "head": "I got a new car and my dog loves it in this case car",
        "relation": "ObjectUse",
        "entity": "car",
    }
    assert [r["relation"] for r in requests[:4]] == list(ENTITY_RELATIONS)

    data = datasets.Dataset.from_list(samples)
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        out = annotate(source, data, cache, progress=False)
    triplets = out["comet_entity"][1]
    assert triplets and set(triplets[0]) == {"entity", "relation", "tail"}
    assert {t["entity"] for t in triplets} <= {"friend", "job", "bank"}
    assert {t["relation"] for t in triplets} <= set(ENTITY_RELATIONS)
    assert out["comet_entity"][2] == []  # no WordNet noun in this context


def test_entity_source_rejects_unknown_extractor(tiny_comet):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="entity_extractor.*'auto', 'nltk', 'pattern' or 'wordnet'"):
        build(EntityKnowledge, {"entity_extractor": "spacy"}, name="comet.entity", key="knowledge.comet.entity")
