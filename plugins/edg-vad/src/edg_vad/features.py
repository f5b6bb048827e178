"""Token-level Valence/Arousal/Dominance and IDF features (CTSM §3.4.1).

Words missing from the lexicon get CTSM's neutral default ``[0.00, 0.50, 0.00]``
(valence 0, arousal 0.5, dominance 0, as the paper states). Lookups are lowercased and
vectorised: tokens become row ids of one table, so a whole split is a single indexing.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from edg_vad.lexicon import Lexicon

#: CTSM §3.4.1: "The words excluded in VAD are set with neutral default values [0.00, 0.50, 0.00]."
CTSM_NEUTRAL: tuple[float, float, float] = (0.0, 0.5, 0.0)

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
# word-piece markers of common subword vocabularies (GPT-2/BART, SentencePiece, WordPiece)
_PIECE_PREFIXES = ("Ġ", "▁", "##")


def tokenize(text: str) -> list[str]:
    """Lowercased words (letters/digits with inner ``'`` or ``-``), the lexicon's units."""
    return _WORD.findall(text.lower().replace("’", "'"))


def lookup_form(token: str) -> str:
    """The lexicon form of a vocabulary token: word-piece marker removed, lowercased."""
    for prefix in _PIECE_PREFIXES:
        if token.startswith(prefix):
            token = token[len(prefix) :]
            break
    return token.lower()


class _RowMemo(dict):
    """token -> table row, filled on first sight of each distinct token."""

    def __init__(self, row_of: dict[str, int]) -> None:
        super().__init__()
        self.row_of = row_of

    def __missing__(self, token: str) -> int:
        row = self[token] = self.row_of.get(lookup_form(token), 0)
        return row


class VadFeaturizer:
    """VAD values of tokens from a lexicon, with a neutral default for unknown words."""

    def __init__(self, lexicon: Lexicon, neutral: Sequence[float] = CTSM_NEUTRAL) -> None:
        if len(neutral) != 3:
            raise ValueError(f"neutral must have 3 values (V, A, D), got {list(neutral)}")
        self.neutral = tuple(float(v) for v in neutral)
        # row 0 is the neutral default, row i + 1 the i-th lexicon word
        self.row_of: dict[str, int] = {word: i + 1 for i, word in enumerate(lexicon)}
        self.table = np.asarray([self.neutral, *lexicon.values()], dtype=np.float32)
        self._memo = _RowMemo(self.row_of)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.row_of

    def rows(self, tokens: Iterable[str]) -> np.ndarray:
        """Table rows of ``tokens`` (0 = not in the lexicon)."""
        # C-level dict lookups; each distinct token is normalised once (see _RowMemo)
        return np.fromiter(map(self._memo.__getitem__, tokens), dtype=np.int64)

    def features(self, tokens: Sequence[str]) -> np.ndarray:
        """``[len(tokens), 3]`` float32 VAD values."""
        return self.table[self.rows(tokens)]

    def features_batch(self, token_lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """VAD arrays of many token lists, computed with one table lookup."""
        lengths = [len(tokens) for tokens in token_lists]
        values = self.table[self.rows(t for tokens in token_lists for t in tokens)]
        return np.split(values, np.cumsum(lengths)[:-1]) if token_lists else []

    def table_for_vocab(self, vocab: Sequence[str]):
        """``torch.FloatTensor [V, 3]``: row ``i`` is the VAD of vocabulary token ``i``."""
        import torch

        return torch.from_numpy(self.table[self.rows(vocab)].copy())

    def in_lexicon_for_vocab(self, vocab: Sequence[str]):
        """``torch.BoolTensor [V]``: whether vocabulary token ``i`` is in the lexicon."""
        import torch

        return torch.from_numpy(self.rows(vocab) > 0)


def idf_table_for_vocab(vocab: Sequence[str], idf: Mapping[str, float], unknown: Optional[float] = None):
    """``torch.FloatTensor [V]``: IDF of each vocabulary token, aligned with ``vocab``.

    ``idf`` comes from the training split (:func:`edg.data.statistics.idf`). Tokens it does
    not know get ``unknown``; by default the table's own default (``IdfTable.default`` =
    ``log N``, a word never seen), or for a plain dict its largest value.
    """
    import torch

    if unknown is None:
        unknown = getattr(idf, "default", None)
    if unknown is None:
        unknown = max(idf.values(), default=0.0)
    values = []
    for token in vocab:
        value = idf.get(token)  # .get: no default for unseen words, even on an IdfTable
        if value is None:
            value = idf.get(lookup_form(token))
        values.append(unknown if value is None else value)
    return torch.tensor(values, dtype=torch.float32)
