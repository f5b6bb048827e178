"""The EmoLex loader on hand-made files in EmoLex's word-level layout (``word<TAB>category<TAB>0/1``)."""

from __future__ import annotations

import pytest

from edg.errors import ResourceError
from edg_baselines.emotion_lexicon import EMOLEX_CATEGORIES, emotion_token_flags, load_emolex


def _write(path, table: dict[str, set[str]]) -> None:
    with path.open("w") as f:
        for word, on in table.items():
            for category in EMOLEX_CATEGORIES:
                f.write(f"{word}\t{category}\t{int(category in on)}\n")


def test_words_with_an_association_are_emotion_words(tmp_path):
    path = tmp_path / "lex.txt"
    _write(path, {"abandon": {"fear", "negative", "sadness"}, "abacus": set(), "Happy": {"joy", "positive"}})
    lexicon = load_emolex(path)
    assert "abandon" in lexicon and "happy" in lexicon  # lower-cased
    assert "abacus" not in lexicon  # listed, but with no association
    assert lexicon.associations["abandon"] == {"fear", "negative", "sadness"}
    assert lexicon.emotion_words(["I", "feel", "HAPPY", "to", "abandon", "happy"]) == ["happy", "abandon", "happy"]
    # only the selected categories count
    only_joy = load_emolex(path, ["joy"])
    assert "happy" in only_joy and "abandon" not in only_joy
    assert only_joy.fingerprint != lexicon.fingerprint


def test_errors_name_the_file_and_line(tmp_path):
    missing = tmp_path / "none.txt"
    with pytest.raises(ResourceError, match="saifmohammad.com"):
        load_emolex(missing)
    bad = tmp_path / "bad.txt"
    bad.write_text("happy\tjoy\t1\nsad negative 1\n")
    with pytest.raises(ResourceError, match=r"bad.txt line 2: expected 'word<TAB>category<TAB>0 or 1'"):
        load_emolex(bad)
    bad.write_text("happy\tjoy\t1\nsad\tgloom\t1\n")
    with pytest.raises(ResourceError, match=r"line 2: unknown category 'gloom'"):
        load_emolex(bad)
    bad.write_text("\n\n")
    with pytest.raises(ResourceError, match="no 'word<TAB>category<TAB>0/1' lines"):
        load_emolex(bad)
    with pytest.raises(ResourceError, match="unknown EmoLex categories"):
        load_emolex(bad, ["joy", "awe"])


def test_vocabulary_flags_mark_emotion_words_and_never_special_tokens(tmp_path):
    from edg.config import TokenizerConfig
    from edg.tokenization import build_tokenizer

    path = tmp_path / "lex.txt"
    _write(path, {"happy": {"joy"}, "sad": {"sadness"}, "table": set(), "[pad]": {"joy"}})
    tokenizer = build_tokenizer(TokenizerConfig(vocab_size=100), ["i am happy", "so sad today", "a table"])
    flags = emotion_token_flags(tokenizer, load_emolex(path))
    assert len(flags) == len(tokenizer)
    flagged = {tokenizer.convert_ids_to_tokens(i) for i, on in enumerate(flags) if on}
    assert flagged == {"happy", "sad"}
