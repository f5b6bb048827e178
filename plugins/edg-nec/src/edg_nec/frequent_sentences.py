"""NEC's high-frequency negatives (H, §3.4): the most frequent *sentences* of the training
responses, in their original casing.

The paper selects "the most frequent sentences from the training set" (Appendix A shows
"I am sorry to hear that." and "What happend?"). A response is split into sentences after
each run of ``.``, ``!`` or ``?``; a sentence keeps its punctuation and casing (BART's
tokenizer is cased, so a lowercased negative would never match what the model generates),
and only whitespace is normalised. The count key is that text, so "Oh no!" and "oh no!" are
counted apart.

A negative must never be the gold response in disguise: :func:`text_key` compares texts up
to case and spacing ('What happened?' and 'what happened ?' are the same response).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

#: a sentence: anything up to and including a run of sentence-final punctuation (or the end)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*|[.!?]+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a response, punctuation and casing kept, whitespace collapsed."""
    out = []
    for match in _SENTENCE.findall(str(text)):
        sentence = " ".join(match.split())
        if any(ch.isalnum() for ch in sentence):  # drop bare punctuation ("..." alone)
            out.append(sentence)
    return out


def text_key(text: str) -> str:
    """A text up to case and spacing: the identity under which a negative equals the gold."""
    return "".join(str(text).split()).lower()


def frequent_sentences(responses: Iterable[str], k: int) -> list[str]:
    """The ``k`` most frequent sentences of ``responses`` (original casing), most frequent
    first; ties keep the order of first occurrence."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    counts: Counter[str] = Counter()
    for response in responses:
        counts.update(split_sentences(response))
    return [sentence for sentence, _ in counts.most_common(k)]


def negatives_for(gold: str, pool: list[str], n: int) -> list[str]:
    """The first ``n`` texts of ``pool`` that differ from ``gold`` up to case and spacing."""
    key = text_key(gold)
    return [t for t in pool if text_key(t) != key][:n]
