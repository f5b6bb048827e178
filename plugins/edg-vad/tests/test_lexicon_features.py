"""Lexicon loading and token-level VAD/IDF features against the real NRC VAD lexicon."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edg.data.statistics import idf
from edg.errors import DataError, ResourceError
from edg_vad.features import CTSM_NEUTRAL, VadFeaturizer, idf_table_for_vocab, tokenize
from edg_vad.lexicon import LEXICON_URL, handmade_lexicon_path, load_lexicon


def test_known_words_have_the_lexicon_values(lexicon_path):
    lexicon = load_lexicon(lexicon_path)
    assert len(lexicon) == 20007
    assert lexicon["happy"] == (1.0, 0.735, 0.772)
    assert lexicon["sad"] == (0.225, 0.333, 0.149)
    assert lexicon["abandon"] == (0.052, 0.519, 0.245)
    # 20,008 lines: the header is skipped, not an entry


def test_missing_lexicon_says_where_to_get_it(tmp_path):
    with pytest.raises(ResourceError) as info:
        load_lexicon(tmp_path / "NRC-VAD-Lexicon.txt")
    message = str(info.value)
    assert str(tmp_path / "NRC-VAD-Lexicon.txt") in message
    assert LEXICON_URL in message and "lexicon_path" in message


def test_malformed_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "vad.txt"
    bad.write_text("Word\tValence\tArousal\tDominance\nhappy\t1.0\t0.7\t0.7\nsad\t0.2\t0.3\n")
    with pytest.raises(DataError, match=f"{bad}:3: expected 4 tab-separated fields"):
        load_lexicon(bad)
    bad.write_text("happy\t1.0\thigh\t0.7\n")
    with pytest.raises(DataError, match=f"{bad}:1: values must be numbers"):
        load_lexicon(bad)
    bad.write_text("happy\t1.5\t0.5\t0.7\n")
    with pytest.raises(DataError, match=f"{bad}:1: values must lie in \\[0, 1\\]"):
        load_lexicon(bad)


def test_comment_lines_and_a_header_after_them(tmp_path):
    path = tmp_path / "vad.tsv"
    path.write_text("# a note\n# another\nWord\tValence\tArousal\tDominance\nhappy\t0.9\t0.7\t0.6\n")
    assert load_lexicon(path) == {"happy": (0.9, 0.7, 0.6)}


def test_the_shipped_handmade_lexicon_is_small_original_and_loads(lexicon_path):
    """The package-data lexicon (for offline tiny runs) loads, covers the 32 ED emotion words,
    says in its header that it is not NRC's, and does not copy NRC's values."""
    from edg.data import EMOTIONS

    path = handmade_lexicon_path()
    assert path.is_file() and "NOT the NRC VAD lexicon" in path.read_text()
    handmade = load_lexicon(path)
    assert 200 <= len(handmade) <= 1000 and set(EMOTIONS) <= set(handmade)
    # hand-written values on a 0.05 grid, sensible directions
    assert all(abs(v * 20 - round(v * 20)) < 1e-9 for values in handmade.values() for v in values)
    assert handmade["happy"][0] > 0.8 > 0.2 > handmade["sad"][0]
    assert handmade["terrified"][1] > handmade["content"][1]
    nrc = load_lexicon(lexicon_path)
    same = [w for w, values in handmade.items() if nrc.get(w) == values]
    assert len(same) <= 2, same  # at most a chance coincidence with NRC's 3-decimal values


def test_token_features_with_ctsm_neutral_default(lexicon_path):
    featurizer = VadFeaturizer(load_lexicon(lexicon_path))
    assert CTSM_NEUTRAL == (0.0, 0.5, 0.0)
    values = featurizer.features(["I", "am", "so", "Happy", "qwzxv"])
    assert values.shape == (5, 3) and values.dtype == np.float32
    np.testing.assert_allclose(values[3], [1.0, 0.735, 0.772])
    np.testing.assert_allclose(values[4], CTSM_NEUTRAL)  # unknown word
    np.testing.assert_allclose(values[0], CTSM_NEUTRAL)  # 'i' is not in the lexicon
    custom = VadFeaturizer(load_lexicon(lexicon_path), neutral=(0.5, 0.5, 0.5))
    np.testing.assert_allclose(custom.features(["qwzxv"])[0], [0.5, 0.5, 0.5])


def test_batch_features_equal_one_by_one(lexicon_path):
    featurizer = VadFeaturizer(load_lexicon(lexicon_path))
    texts = ["I was so excited for my trip!", "", "My dog died and I am sad."]
    token_lists = [tokenize(t) for t in texts]
    batch = featurizer.features_batch(token_lists)
    assert [b.shape for b in batch] == [(len(t), 3) for t in token_lists]
    for tokens, values in zip(token_lists, batch):
        np.testing.assert_array_equal(values, featurizer.features(tokens))


def test_vocab_tables_are_aligned(lexicon_path):
    featurizer = VadFeaturizer(load_lexicon(lexicon_path))
    vocab = ["[PAD]", "happy", "Ġsad", "the", "excited", "xyzzy"]
    table = featurizer.table_for_vocab(vocab)
    assert isinstance(table, torch.Tensor) and table.shape == (6, 3) and table.dtype == torch.float32
    torch.testing.assert_close(table[1], torch.tensor([1.0, 0.735, 0.772]))
    torch.testing.assert_close(table[2], torch.tensor([0.225, 0.333, 0.149]))  # BPE marker stripped
    torch.testing.assert_close(table[4], torch.tensor([0.908, 0.931, 0.709]))
    for row in (0, 3, 5):
        torch.testing.assert_close(table[row], torch.tensor(CTSM_NEUTRAL))

    docs = ["i am happy", "i am sad", "the dog is happy", "i am"]
    table_idf = idf(docs, tokenize)
    idf_row = idf_table_for_vocab(vocab, table_idf)
    assert idf_row.shape == (6,)
    assert idf_row[1].item() == pytest.approx(math.log(4 / 3))  # happy: 2 of 4 docs
    assert idf_row[2].item() == pytest.approx(math.log(4 / 2))  # sad: 1 of 4
    assert idf_row[0].item() == pytest.approx(math.log(4))  # unseen -> log N
    assert idf_table_for_vocab(vocab, table_idf, unknown=0.0)[5].item() == 0.0
    assert idf_table_for_vocab(["happy", "zz"], {"happy": 1.0, "dog": 3.0})[1].item() == 3.0
