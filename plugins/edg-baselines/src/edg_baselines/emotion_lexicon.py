"""The NRC Emotion Lexicon (EmoLex; Mohammad & Turney, 2013), loaded by path.

EmpDG (Li et al., 2020) finds the fine-grained, token-level emotions of a dialogue as the
emotion words of each utterance, looked up in EmoLex. EmoLex is not redistributable: users
get it from https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm (free for research;
commercial use needs a licence from the National Research Council Canada) and set
``model.lexicon_path`` to its word-level file, ``NRC-Emotion-Lexicon-Wordlevel-v0.92.txt``.

That file has one line per (word, category) pair, tab separated, no header::

    abandon<TAB>fear<TAB>1
    abandon<TAB>joy<TAB>0

with the ten categories anger, anticipation, disgust, fear, joy, negative, positive,
sadness, surprise and trust. A word is an emotion word when at least one of the selected
categories is 1 for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from edg.errors import ResourceError

#: EmoLex's eight basic emotions (Plutchik) and two sentiments
EMOLEX_CATEGORIES: tuple[str, ...] = ("anger", "anticipation", "disgust", "fear", "joy", "negative", "positive",
                                      "sadness", "surprise", "trust")
#: where users get the lexicon (it is never bundled)
EMOLEX_SOURCE = "https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm"


@dataclass(frozen=True)
class EmotionLexicon:
    """Word -> the EmoLex categories the word is associated with (only words with at
    least one selected association are kept)."""

    associations: dict[str, frozenset[str]]
    fingerprint: str
    """sha256 of the file's bytes and the selected categories (the encoding cache key)."""

    def __contains__(self, word: str) -> bool:
        return word in self.associations

    def __len__(self) -> int:
        return len(self.associations)

    def emotion_words(self, words: Iterable[str]) -> list[str]:
        """The words (lower-cased) found in the lexicon, in order, repeats kept."""
        return [w for w in (w.lower() for w in words) if w in self.associations]


def load_emolex(path: str | Path, categories: Sequence[str] = EMOLEX_CATEGORIES) -> EmotionLexicon:
    """Read EmoLex's word-level file; a missing file or a malformed line is a one-line
    :class:`ResourceError` naming the file and line."""
    unknown = sorted(set(categories) - set(EMOLEX_CATEGORIES))
    if unknown:
        raise ResourceError(f"unknown EmoLex categories {unknown}; choose from {list(EMOLEX_CATEGORIES)}")
    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"NRC Emotion Lexicon not found: {path} (set model.lexicon_path to "
                            f"NRC-Emotion-Lexicon-Wordlevel-v0.92.txt; get it from {EMOLEX_SOURCE}, research licence)")
    data = path.read_bytes()
    wanted = set(categories)
    associations: dict[str, set[str]] = {}
    seen = 0
    for lineno, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[2] not in ("0", "1"):
            raise ResourceError(f"{path} line {lineno}: expected 'word<TAB>category<TAB>0 or 1' "
                                f"(EmoLex word-level layout), got {raw[:60]!r}")
        word, category, flag = parts
        if category not in EMOLEX_CATEGORIES:
            raise ResourceError(f"{path} line {lineno}: unknown category {category!r}; EmoLex has "
                                f"{', '.join(EMOLEX_CATEGORIES)}")
        seen += 1
        if flag == "1" and category in wanted:
            associations.setdefault(word.strip().lower(), set()).add(category)
    if seen == 0:
        raise ResourceError(f"{path}: no 'word<TAB>category<TAB>0/1' lines (is it EmoLex's word-level file?)")
    digest = hashlib.sha256(data + "|".join(sorted(wanted)).encode()).hexdigest()[:16]
    return EmotionLexicon({w: frozenset(c) for w, c in associations.items()}, digest)


def _token_word(token: str) -> str:
    """The word a vocabulary entry spells: lower-cased, without a BPE/SentencePiece
    word-start marker (the default word-level tokenizer's entries are words already)."""
    return token.lstrip("Ġ▁").lower()


def emotion_token_flags(tokenizer, lexicon: EmotionLexicon) -> list[bool]:
    """Per vocabulary id: whether the entry is an emotion word. Special tokens never are."""
    vocab = tokenizer.get_vocab()
    flags = [False] * len(tokenizer)
    special = set(tokenizer.all_special_tokens)
    for token, index in vocab.items():
        if token not in special and index < len(flags) and _token_word(token) in lexicon:
            flags[index] = True
    return flags
