"""Hand-computed checks of edg.data.statistics."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from edg.data.statistics import frequency_weights, frequent_responses, idf, token_frequencies

TEXTS = ["a b a", "b c", "c d"]


def test_token_frequencies():
    assert token_frequencies(TEXTS, str.split) == Counter({"a": 2, "b": 2, "c": 2, "d": 1})
    assert token_frequencies([], str.split) == Counter()
    # the tokenizer decides about case
    assert token_frequencies(["A a"], lambda t: t.lower().split()) == Counter({"a": 2})


def test_idf_values_and_unseen_default():
    table = idf(TEXTS, str.split)
    # N = 3 documents; df(a) = 1 (counted once although it occurs twice), df(b) = df(c) = 2, df(d) = 1
    assert table["a"] == pytest.approx(math.log(3 / 2))
    assert table["b"] == pytest.approx(0.0)
    assert table["c"] == pytest.approx(0.0)
    assert table["d"] == pytest.approx(math.log(3 / 2))
    assert set(table) == {"a", "b", "c", "d"}
    assert table["unseen"] == pytest.approx(math.log(3))  # documented default: df = 0
    assert table.get("unseen") is None and table.num_documents == 3
    # a word in every document gets log(N / (N + 1)) < 0
    assert idf(["x", "x y"], str.split)["x"] == pytest.approx(math.log(2 / 3))
    empty = idf([], str.split)
    assert dict(empty) == {} and empty["x"] == 0.0


def test_frequent_responses():
    targets = ["Thanks!", "thanks! ", "I see.", " i see.", "I SEE.", "Wow", "", "  "]
    assert frequent_responses(targets, 2) == ["i see.", "thanks!"]
    assert frequent_responses(targets, 10) == ["i see.", "thanks!", "wow"]
    assert frequent_responses(["b", "a"], 2) == ["b", "a"]  # ties keep first occurrence
    assert frequent_responses(targets, 0) == []

    import datasets

    ds = datasets.Dataset.from_dict({"target": targets, "context": [["x"]] * len(targets)})
    assert frequent_responses(ds, 1) == ["i see."]
    assert frequent_responses({"target": ["ok", "OK", "no"]}, 1) == ["ok"]
    with pytest.raises(ValueError):
        frequent_responses(datasets.Dataset.from_dict({"text": ["a"]}), 1)


def test_frequency_weights_hand_computed():
    # freq = [0, 1, 3]: w = 1 - f / 3 = [1, 2/3, 0], mean 5/9 -> normalised [9/5, 6/5, 0]
    expected = [9 / 5, 6 / 5, 0.0]
    np.testing.assert_allclose(frequency_weights([0, 1, 3]), expected, rtol=1e-6)
    np.testing.assert_allclose(frequency_weights(Counter({1: 1, 2: 3}), vocab_size=3), expected, rtol=1e-6)
    by_token = frequency_weights(Counter({"the": 3, "cat": 1, "oov": 9}), token_to_id={"<pad>": 0, "cat": 1, "the": 2})
    np.testing.assert_allclose(by_token, expected, rtol=1e-6)  # tokens outside the vocabulary are ignored
    # CEM skips EOS: an ignored id counts as frequency 0
    np.testing.assert_allclose(frequency_weights([0, 1, 3, 50], ignore_ids=[3]), [1.5, 1.0, 0.0, 1.5], rtol=1e-6)
    # padding the dense form up to the vocabulary size adds unseen (weight-1-before-normalising) ids
    w = frequency_weights([0, 1, 3], vocab_size=4)  # raw [1, 2/3, 0, 1], mean 2/3
    np.testing.assert_allclose(w, [1.5, 1.0, 0.0, 1.5], rtol=1e-6)
    assert w.dtype == np.float32 and w.mean() == pytest.approx(1.0)


def test_frequency_weights_matches_cem_formula():
    rng = np.random.default_rng(0)
    freq = rng.integers(0, 100, size=50).astype(float)
    rf = freq / freq.sum()
    a = -1 / rf.max()
    cem = a * rf + 1
    cem = cem / cem.sum() * len(cem)
    np.testing.assert_allclose(frequency_weights(freq), cem, rtol=1e-5)


def test_frequency_weights_degenerate():
    np.testing.assert_array_equal(frequency_weights([0, 0, 0]), np.ones(3))
    np.testing.assert_array_equal(frequency_weights([2, 2]), np.ones(2))
    with pytest.raises(ValueError):
        frequency_weights(Counter({"a": 1}))  # string keys need token_to_id
    with pytest.raises(ValueError):
        frequency_weights(Counter({5: 1}), vocab_size=3)
