"""COMET generation with a tiny random BART: tails, batching, caching, load errors."""

from __future__ import annotations

import datasets
import pytest

from edg.errors import ConfigError, ResourceError
from edg.interfaces.component import build
from edg.knowledge_cache import KnowledgeCache, annotate
from edg_comet.generator import CometGenerator, CometOptions, normalise_tails, query
from edg_comet.imagine import ImagineKnowledge
from edg_comet.relations import IMAGINE_GROUPS, SOCIAL_RELATIONS
from edg_comet.social import SocialKnowledge


def test_query_format_and_normalisation():
    assert query("PersonX eats", "xIntent") == "PersonX eats xIntent [GEN]"
    assert normalise_tails([" to eat ", "none", "None", "", "to eat", "  hungry"]) == ["to eat", "hungry"]


def test_generation_returns_at_most_five_normalised_tails(tiny_comet):
    gen = CometGenerator(CometOptions(model_name_or_path=str(tiny_comet), max_length=8, device="cpu"))
    pairs = [("PersonX calls PersonY ambulance", r) for r in SOCIAL_RELATIONS]
    out = gen.generate(pairs)
    assert len(out) == len(pairs)
    for tails in out:
        assert len(tails) <= 5
        assert tails == normalise_tails(tails)
    assert any(out)  # a random model still produces words


def test_batching_gives_the_same_as_one_by_one(tiny_comet):
    pairs = [
        ("PersonX calls PersonY ambulance", "xNeed"),
        ("PersonX takes things for granted and never says thank you", "xReact"),
        ("I got a new car", "ObjectUse"),
        ("PersonX shoves PersonY back", "xEffect"),
    ]
    batched = CometGenerator(CometOptions(model_name_or_path=str(tiny_comet), max_length=8, batch_size=4, device="cpu"))
    single = CometGenerator(CometOptions(model_name_or_path=str(tiny_comet), max_length=8, batch_size=1, device="cpu"))
    assert batched.generate(pairs) == single.generate(pairs)


def test_missing_model_is_a_one_line_resource_error(tmp_path):
    gen = CometGenerator(CometOptions(model_name_or_path=str(tmp_path / "no-such-model")))
    with pytest.raises(ResourceError) as info:
        gen.generate([("x", "xIntent")])
    message = str(info.value)
    assert "\n" not in message
    assert f"'{tmp_path / 'no-such-model'}'" in message
    assert "model_name_or_path" in message and "local directory" in message


def test_options_are_typed_and_checked():
    with pytest.raises(ConfigError, match="unknown config key 'k.beams'"):
        build(SocialKnowledge, {"beams": 3}, name="comet.social", key="k")
    with pytest.raises(ConfigError, match="cannot exceed num_beams"):
        build(SocialKnowledge, {"num_beams": 2, "num_return": 5}, name="comet.social", key="k")
    with pytest.raises(ConfigError, match="unknown COMET relation 'XReact' \\(did you mean 'xReact'\\?\\)"):
        build(SocialKnowledge, {"relations": ["XReact"]}, name="comet.social", key="k")


def test_fingerprint_has_model_and_decoding(tiny_comet):
    a = build(SocialKnowledge, {"model_name_or_path": str(tiny_comet)}, name="comet.social", key="k")
    b = build(SocialKnowledge, {"model_name_or_path": str(tiny_comet), "num_beams": 6}, name="comet.social", key="k")
    fa = a.fingerprint()
    assert fa["model"] == str(tiny_comet) and fa["num_beams"] == 5 and fa["num_return"] == 5
    assert fa["weights"]  # a local directory is identified by its files too
    assert fa != b.fingerprint()


def test_social_annotation_twice_computes_nothing_the_second_time(tiny_comet, samples, tmp_path, monkeypatch):
    options = {"model_name_or_path": str(tiny_comet), "max_length": 8, "device": "cpu", "batch_size": 4}
    data = datasets.Dataset.from_list(samples)
    source = build(SocialKnowledge, options, name="comet.social", key="k")
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        first = annotate(source, data, cache, progress=False)
    knowledge = first["comet_social"]
    assert [sorted(k) for k in knowledge] == [sorted(SOCIAL_RELATIONS)] * 3
    # the same head gives the same tails as a direct query
    direct = source.generator.generate([("My friend lost her job at the bank", "xWant")])[0]
    assert knowledge[1]["xWant"] == direct

    again = build(SocialKnowledge, options, name="comet.social", key="k")
    calls = []
    monkeypatch.setattr(again.generator, "generate", lambda pairs: calls.append(pairs) or [])
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        second = annotate(again, data, cache, progress=False)
    assert calls == []
    assert second["comet_social"] == knowledge


def test_imagine_groups_and_shared_cache(tiny_comet, samples, tmp_path):
    common = {"model_name_or_path": str(tiny_comet), "max_length": 8, "device": "cpu"}
    data = datasets.Dataset.from_list(samples[:2])
    social = build(SocialKnowledge, common, name="comet.social", key="k")
    imagine = build(ImagineKnowledge, {**common, "head": "last_utterance"}, name="comet.imagine", key="k")
    with KnowledgeCache(tmp_path / "k.sqlite") as cache:
        annotate(social, data, cache, progress=False)
        before = cache.count()
        out = annotate(imagine, data, cache, progress=False)
        # IMAGINE's 11 relations, 5 shared with comet.social on the same heads
        assert cache.count() - before == 2 * (11 - 5)
    value = out["comet_imagine"][0]
    assert list(value) == ["Affect", "Behaviour", "Physical", "Events"]
    assert {g: list(r) for g, r in value.items()} == {g: list(r) for g, r in IMAGINE_GROUPS.items()}
    assert sum(len(r) for r in value.values()) == 11


def test_long_queries_are_cut_from_the_left_keeping_relation_and_gen(tiny_comet):
    from transformers import AutoTokenizer

    from edg_comet.generator import encode_queries

    tok = AutoTokenizer.from_pretrained(str(tiny_comet))
    history = " ".join(["yesterday my neighbour called me about the noise again"] * 40)
    q = query(f"{history} what does the speaker think about car", "xIntent")
    ids = encode_queries(tok, [q, query("PersonX eats", "xNeed")], 64)["input_ids"]
    assert ids.shape[1] == 64
    text = tok.decode(ids[0], skip_special_tokens=False)
    assert text.startswith("<s>") and text.endswith("about car xIntent [GEN] </s>")  # the oldest words went
    assert tok.truncation_side == "right"  # the tokenizer is left as it was
