"""Metric definitions checked against hand-computed values on tiny corpora."""

from __future__ import annotations

import math
import random

import pytest
from edg.errors import ConfigError, DataError, ResourceError
from edg.metrics import (
    DEFINITIONS,
    METRIC_NAMES,
    accuracy,
    bertscore,
    bleu,
    compute_metrics,
    distinct,
    distinct_sent,
    perplexity,
    sent_std,
    split_clauses,
    top5,
)
from edg.metrics.bleu import bleu_tokens

EXPECTED_NAMES = (
    "ppl", "bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2", "dist-1-sent", "dist-2-sent",
    "sent-std", "top5", "acc", "bertscore",
)


def test_names_and_definitions():
    assert METRIC_NAMES == EXPECTED_NAMES
    assert list(DEFINITIONS) == list(EXPECTED_NAMES)
    for name, text in DEFINITIONS.items():
        assert text and "\n" not in text, name


# ------------------------------------------------------------------ perplexity
def test_perplexity():
    assert perplexity(5 * math.log(10), 5) == pytest.approx(10.0)
    assert perplexity(0.0, 3) == 1.0
    assert perplexity(1e6, 1) == math.inf
    with pytest.raises(DataError):
        perplexity(1.0, 0)
    with pytest.raises(DataError):
        perplexity(-1.0, 3)


# ------------------------------------------------------------------ BLEU
def test_bleu_hand_computed():
    # pair 1: hyp "the cat sat on the mat" vs ref "the cat is on the mat"
    #   1-grams 5/6 (sat unmatched), 2-grams 3/5 (the cat, on the, the mat), 3-grams 1/4 (on the mat), 4-grams 0/3
    # pair 2: hyp "Hello there" vs ref "hello world" (lowercased)
    #   1-grams 1/2, 2-grams 0/1, 3-grams 0/1 and 4-grams 0/1 (NLTK's max(1, .) denominator)
    # corpus: p1 = 6/8, p2 = 3/6, p3 = 1/5, p4 = 0/4 -> method1: 0.1/4; c = r = 8 -> BP = 1
    out = bleu(["the cat sat on the mat", "Hello there"], ["the cat is on the mat", "hello world"])
    assert list(out) == ["bleu-1", "bleu-2", "bleu-3", "bleu-4"]
    assert out["bleu-1"] == pytest.approx(75.0, rel=1e-12)
    assert out["bleu-2"] == pytest.approx(100 * math.sqrt(0.75 * 0.5), rel=1e-12)
    assert out["bleu-3"] == pytest.approx(100 * (0.75 * 0.5 * 0.2) ** (1 / 3), rel=1e-12)
    assert out["bleu-4"] == pytest.approx(100 * (0.75 * 0.5 * 0.2 * 0.025) ** 0.25, rel=1e-12)


def test_bleu_brevity_penalty_and_short_hypothesis():
    # c = 2, r = 6 -> BP = exp(1 - 6/2) = e^-2; p1 = 2/2, p2 = 1/1, p3 = p4 = 0/1 -> 0.1
    out = bleu(["The CAT"], ["the cat sat on the mat"])
    bp = math.exp(-2)
    assert out["bleu-1"] == pytest.approx(100 * bp)
    assert out["bleu-2"] == pytest.approx(100 * bp)
    assert out["bleu-3"] == pytest.approx(100 * bp * 0.1 ** (1 / 3))
    assert out["bleu-4"] == pytest.approx(100 * bp * 0.01 ** 0.25)


def test_bleu_no_match_and_errors():
    assert bleu(["x y z"], ["a b c"]) == {"bleu-1": 0.0, "bleu-2": 0.0, "bleu-3": 0.0, "bleu-4": 0.0}
    assert bleu([""], ["a b c"])["bleu-4"] == 0.0
    with pytest.raises(DataError, match="2 hypotheses but 1 references"):
        bleu(["a", "b"], ["a"])


def test_bleu_identical_to_nltk_corpus_bleu():
    rng = random.Random(7)
    vocab = "a b c d e f".split()
    for _ in range(150):
        n = rng.randint(1, 6)
        hyps = [[rng.choice(vocab) for _ in range(rng.randint(0, 7))] for _ in range(n)]
        refs = [[rng.choice(vocab) for _ in range(rng.randint(0, 7))] for _ in range(n)]
        ours = bleu_tokens(hyps, refs)
        theirs = bleu_tokens(hyps, refs, impl="nltk")
        for k in ours:
            assert ours[k] == pytest.approx(theirs[k], rel=1e-12, abs=1e-12), (hyps, refs, k)


# ------------------------------------------------------------------ Distinct
HYPS_D = ["i am sorry", "I am happy", "ha ha ha", ""]


def test_distinct_corpus_level():
    # unigrams: i am sorry i am happy ha ha ha -> 9 total, 5 distinct
    assert distinct(HYPS_D, 1) == pytest.approx(100 * 5 / 9)
    # bigrams: (i am) (am sorry) (i am) (am happy) (ha ha) (ha ha) -> 6 total, 4 distinct
    assert distinct(HYPS_D, 2) == pytest.approx(100 * 4 / 6)


def test_distinct_per_sentence():
    # per response: 3/3, 3/3, 1/3, 0 (no n-grams) -> mean 7/12
    assert distinct_sent(HYPS_D, 1) == pytest.approx(100 * 7 / 12)
    # per response: 2/2, 2/2, 1/2, 0 -> mean 2.5/4
    assert distinct_sent(HYPS_D, 2) == pytest.approx(62.5)


def test_distinct_zero_ngrams():
    assert distinct(["hi", ""], 2) == 0.0
    assert distinct([], 1) == 0.0
    assert distinct_sent([], 1) == 0.0
    assert distinct_sent(["hi"], 2) == 0.0


# ------------------------------------------------------------------ clauses
HYPS_C = [
    "I'm sorry to hear that. Are you OK?",
    "i'm sorry to hear that!",
    "That is great, congrats!",
    "that is great.",
    "...",
    "Wow",
    "a, b, c",
]


def test_split_clauses():
    assert split_clauses("I'm sorry to hear that. Are you OK?") == ["i'm sorry to hear that", "are you ok"]
    assert split_clauses(" ... , ! ") == []
    assert split_clauses("") == []


def test_sent_std_and_top5_hand_computed():
    # counts: "i'm sorry to hear that" 2, "are you ok" 1, "that is great" 2, "congrats" 1, "wow" 1,
    # "a" 1, "b" 1, "c" 1 -> N = 8 distinct, 10 clauses, mean 1.25
    # population variance = (2 * 0.75^2 + 6 * 0.25^2) / 8 = 1.5 / 8
    assert sent_std(HYPS_C) == pytest.approx(math.sqrt(1.5 / 8))
    # top five: 2 + 2 + 1 + 1 + 1 = 7 of 10 clauses (ties at 1 do not change the sum)
    assert top5(HYPS_C) == pytest.approx(70.0)


def test_sent_std_small():
    # counts [2, 1, 2, 1, 1]: mean 1.4, variance (2*.36 + 3*.16)/5 = 0.24
    assert sent_std(HYPS_C[:6]) == pytest.approx(math.sqrt(0.24))
    assert top5(HYPS_C[:6]) == pytest.approx(100.0)
    assert sent_std(["", "..."]) == 0.0
    assert top5([""]) == 0.0
    assert sent_std(["same", "same", "same"]) == 0.0


# ------------------------------------------------------------------ accuracy
def test_accuracy_names_and_indices():
    # index 3 is "proud" in the MoEL/CEM/NEC order
    assert accuracy(["sad", "joyful", 3, "Proud"], ["sad", "content", "proud", "3"]) == pytest.approx(75.0)
    assert accuracy([0, 1], [0, 2]) == pytest.approx(50.0)
    with pytest.raises(DataError, match="2 gold labels but 1 predictions"):
        accuracy(["sad", "sad"], ["sad"])
    with pytest.raises(DataError):
        accuracy([], [])
    with pytest.raises(DataError):
        accuracy([32], ["sad"])


# ------------------------------------------------------------------ compute_metrics
def test_compute_metrics_all_keys_and_values():
    hyps = ["the cat sat on the mat", "Hello there"]
    refs = ["the cat is on the mat", "hello world"]
    out = compute_metrics(
        hyps, refs, gold_emotions=["sad", "proud"], pred_emotions=["sad", "sad"], nll_sum=2 * math.log(4), num_tokens=2
    )
    assert list(out) == [n for n in EXPECTED_NAMES if n != "bertscore"]
    assert out["ppl"] == pytest.approx(4.0)
    assert out["acc"] == pytest.approx(50.0)
    assert out["bleu-1"] == pytest.approx(75.0)
    assert out["dist-1"] == pytest.approx(100 * 7 / 8)
    # sentences: "the cat sat on the mat" (1 clause), "hello there" -> 2 distinct clauses once each
    assert out["sent-std"] == 0.0
    assert out["top5"] == 100.0
    assert out == {**out, **bleu(hyps, refs)}


def test_compute_metrics_defaults_and_names():
    out = compute_metrics(["a b", "c"], ["a b", "d"])
    assert "ppl" not in out and "acc" not in out and "bertscore" not in out
    assert list(compute_metrics(["a b"], ["a b"], names=["top5", "dist-1"])) == ["dist-1", "top5"]
    with pytest.raises(ConfigError, match="unknown metric"):
        compute_metrics(["a"], ["a"], names=["rouge"])
    with pytest.raises(ConfigError, match="ppl"):
        compute_metrics(["a"], ["a"], names=["ppl"])
    with pytest.raises(ConfigError, match="acc"):
        compute_metrics(["a"], ["a"], names=["acc"])
    # bertscore named without a model uses the packaged offline model: tests/test_bertscore.py


def test_compute_metrics_edge_cases():
    with pytest.raises(DataError, match="3 hypotheses but 2 references"):
        compute_metrics(["a", "b", "c"], ["a", "b"])
    with pytest.raises(DataError):
        compute_metrics([], [])
    with pytest.raises(DataError, match="empty"):
        compute_metrics(["", " "], ["a", "b"])
    out = compute_metrics(["", "a b"], ["x", "a b"])  # some empty hypotheses are fine
    assert out["dist-1"] == 100.0
    with pytest.raises(DataError, match="not a string"):
        compute_metrics(["a", None], ["a", "b"])


# ------------------------------------------------------------------ BERTScore


def test_bertscore_tiny_model(tiny_bert):
    hyps = ["i am sorry to hear that .", "oh no", "that is great !"]
    assert bertscore(hyps, hyps, tiny_bert) == pytest.approx(100.0, abs=1e-4)
    other = bertscore(hyps, ["oh no", "you are so happy", "i am happy for you"], tiny_bert, batch_size=2)
    assert -100.0 <= other <= 100.0
    assert other < 100.0 - 1e-3
    for layer in (0, 1, 2):
        v = bertscore(hyps, hyps[::-1], tiny_bert, layer=layer)
        assert -100.0 <= v <= 100.0
    # an empty side scores 0 for that pair
    assert bertscore(["oh no", ""], ["oh no", "oh no"], tiny_bert) == pytest.approx(50.0, abs=1e-4)
    with pytest.raises(ConfigError):
        bertscore(hyps, hyps, tiny_bert, layer=7)
    out = compute_metrics(hyps, hyps, names=["bertscore", "bleu-1"], bertscore_model=str(tiny_bert))
    assert out["bertscore"] == pytest.approx(100.0, abs=1e-4)
    assert out["bleu-1"] == pytest.approx(100.0)


def test_bertscore_missing_model(tmp_path):
    with pytest.raises(ResourceError, match="never downloads") as info:
        bertscore(["a"], ["a"], tmp_path / "no-such-model")
    assert "\n" not in str(info.value)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(ResourceError) as info:
        bertscore(["a"], ["a"], tmp_path / "broken")
    assert "\n" not in str(info.value)
