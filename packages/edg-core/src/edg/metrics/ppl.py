"""Token-level perplexity."""

from __future__ import annotations

import math

from edg.errors import DataError

DEFINITION = (
    "token-level perplexity: exp(sum of target-token NLL / number of target tokens) over the "
    "whole test split, teacher forcing, padding excluded; word-level and BPE values are not comparable"
)


def perplexity(total_nll: float, num_tokens: int) -> float:
    """Token-level perplexity ``exp(total_nll / num_tokens)``.

    Definition (``ppl``): the sum of the target-token negative log-likelihoods (natural log,
    teacher forcing, padding excluded) over the whole test split, divided by the number of target
    tokens, exponentiated. It is NOT the mean of per-sample perplexities. Values depend on the
    tokenizer: word-level and BPE perplexities are not comparable, so reports print the
    tokenizer kind with it. Returns ``inf`` when the exponent overflows.

    Raises :class:`~edg.errors.DataError` for ``num_tokens <= 0`` or a negative / non-finite NLL.
    """
    try:
        total = float(total_nll)
        count = int(num_tokens)
    except (TypeError, ValueError) as exc:
        raise DataError(f"perplexity: total_nll and num_tokens must be numbers ({exc})") from None
    if count != num_tokens or count <= 0:
        raise DataError(f"perplexity: num_tokens must be a positive integer, got {num_tokens!r}")
    if math.isnan(total) or total < 0:
        raise DataError(f"perplexity: total_nll must be a non-negative number, got {total_nll!r}")
    try:
        return math.exp(total / count)
    except OverflowError:
        return math.inf
