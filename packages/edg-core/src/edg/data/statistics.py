"""Statistics of the *training* split (never compute these on valid/test).

* ``token_frequencies`` - corpus token counts (CEM's diversity loss, vocabularies);
* ``idf`` - document-level inverse document frequency;
* ``frequent_responses`` - the most frequent target responses (NEC's high-frequency negatives);
* ``frequency_weights`` - CEM's frequency-based weights for its diversity loss.

``tokenize`` is any callable ``str -> list[str]`` (e.g. ``str.split`` or a tokenizer's
``tokenize``); nothing here lowercases unless the tokenizer does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["IdfTable", "frequency_weights", "frequent_responses", "idf", "token_frequencies"]

Tokenize = Callable[[str], Sequence[str]]


def token_frequencies(texts: Iterable[str], tokenize: Tokenize) -> Counter:
    """Count every token of every text: ``Counter({token: occurrences})``."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(tokenize(text))
    return counts


class IdfTable(dict):
    """``dict[str, float]`` of IDF values; ``table[w]`` of an unseen word gives ``default``.

    ``default`` is the IDF of a word with document frequency 0, ``log(N / 1) = log N`` (the
    rarest possible word). ``table.get(w)`` keeps plain dict semantics (``None`` if unseen).
    """

    def __init__(self, values: Mapping[str, float], default: float, num_documents: int):
        super().__init__(values)
        self.default = default
        self.num_documents = num_documents

    def __missing__(self, key: str) -> float:
        return self.default


def idf(texts: Iterable[str], tokenize: Tokenize) -> IdfTable:
    """Document-level IDF, one document per text.

    ``idf(w) = log(N / (1 + df(w)))`` with natural log, ``N`` the number of texts and ``df(w)``
    the number of texts containing ``w`` at least once (the add-one smoothed document IDF; edg
    uses this single convention everywhere, e.g. one training-split response per document). A
    word found in every text gets ``log(N / (N + 1)) < 0``; words never seen get the default
    ``log(N)`` (df = 0, the rarest possible word) through ``table[w]``. With no texts the table
    is empty and its default is 0.0.
    """
    df: Counter = Counter()
    n = 0
    for text in texts:
        n += 1
        df.update(set(tokenize(text)))
    values = {w: math.log(n / (1 + c)) for w, c in df.items()}
    return IdfTable(values, default=math.log(n) if n else 0.0, num_documents=n)


def _normalise_response(text: str) -> str:
    return text.strip().lower()


def frequent_responses(dataset: Any, k: int) -> list[str]:
    """The ``k`` most frequent target responses of the training split.

    :param dataset: the training ``datasets.Dataset`` (its ``target`` column is used), a
        mapping with a ``target`` list, or an iterable of response strings.
    :returns: up to ``k`` responses in their normalised form (stripped and lowercased, the key
        they are counted under), most frequent first; ties keep first-occurrence order.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    column_names = getattr(dataset, "column_names", None)
    if column_names is not None:
        if "target" not in column_names:
            raise ValueError("dataset has no 'target' column")
        texts = dataset["target"]
    elif isinstance(dataset, Mapping):
        texts = dataset["target"]
    else:
        texts = dataset
    counts = Counter(_normalise_response(t) for t in texts)
    counts.pop("", None)
    return [text for text, _ in counts.most_common(k)]


def frequency_weights(
    frequencies: Mapping[Any, int] | Sequence[float],
    vocab_size: int | None = None,
    *,
    token_to_id: Mapping[str, int] | None = None,
    ignore_ids: Iterable[int] = (),
):
    """CEM's frequency-based token weights for the diversity loss (Sabour et al., 2022).

    As in CEM's ``calc_weight``::

        RF_i = freq_i / sum_j freq_j            # relative frequency
        a    = -1 / max_j RF_j
        w_i  = a * RF_i + 1                     # = 1 - freq_i / max_j freq_j, in [0, 1]
        w    = w / sum(w) * V                   # normalised to mean 1 over the V ids

    so the most frequent token gets weight 0 and unseen tokens the largest weight. If every
    frequency is 0 (or every id is equally frequent) all weights are 1. CEM accumulates the
    counts over the tokens the model generates during training (EOS excluded) and recomputes
    the weights as it goes; pass whichever counts you keep (e.g. ``token_frequencies`` of the
    training targets for a static variant).

    :param frequencies: a ``Counter``/mapping keyed by token id (int) or by token (str, then
        ``token_to_id`` is required; tokens missing from it are ignored), or a dense sequence
        of per-id frequencies.
    :param vocab_size: length ``V`` of the result; default ``len(token_to_id)``, the dense
        length, or ``max id + 1``.
    :param ignore_ids: ids whose frequency is treated as 0 (CEM skips EOS when counting).
    :returns: ``numpy.ndarray`` of float32, shape ``(V,)``.
    """
    import numpy as np

    if isinstance(frequencies, Mapping):
        items = list(frequencies.items())
        if items and isinstance(items[0][0], str):
            if token_to_id is None:
                raise ValueError("frequencies are keyed by token; pass token_to_id")
            items = [(token_to_id[t], c) for t, c in items if t in token_to_id]
        if vocab_size is None:
            if token_to_id is not None:
                vocab_size = max(len(token_to_id), max(token_to_id.values(), default=-1) + 1)
            else:
                vocab_size = max((i for i, _ in items), default=-1) + 1
        freq = np.zeros(vocab_size, dtype=np.float64)
        for i, c in items:
            if not 0 <= i < vocab_size:
                raise ValueError(f"token id {i} outside vocabulary of size {vocab_size}")
            freq[i] += c
    else:
        freq = np.asarray(frequencies, dtype=np.float64).copy()
        if vocab_size is not None:
            if vocab_size < len(freq):
                raise ValueError(f"{len(freq)} frequencies for a vocabulary of size {vocab_size}")
            freq = np.pad(freq, (0, vocab_size - len(freq)))
    for i in ignore_ids:
        if 0 <= i < len(freq):
            freq[i] = 0.0
    if len(freq) == 0:
        return freq.astype(np.float32)
    if (freq < 0).any():
        raise ValueError("frequencies must be non-negative")
    total = freq.sum()
    if total <= 0:
        return np.ones_like(freq, dtype=np.float32)
    rf = freq / total
    a = -1.0 / rf.max()
    weight = a * rf + 1.0
    if weight.sum() <= 0:  # every counted token equally frequent and nothing else in V
        return np.ones_like(freq, dtype=np.float32)
    weight = weight / weight.sum() * len(weight)
    return weight.astype(np.float32)
