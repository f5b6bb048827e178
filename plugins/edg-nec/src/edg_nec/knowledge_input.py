"""Knowledge input formats of NEC (§3.2 eq. 3 and §3.3).

* Entity knowledge goes into the **encoder** input
  ``I_enc = U ⊕ [SEP] ⊕ P_r ⊕ L(K_E)`` where ``U`` is the dialogue history
  ``u_1 ⊕ ... ⊕ u_{n-1}`` (utterances joined by a space), ``[SEP]`` the tokenizer's
  separator (``</s>`` for BART), ``P_r`` the prompt below and ``L(K_E)`` the selected
  triplets, each linearised as ``"ent, rel, tail"`` and joined by ``"; "``.
* Social knowledge ``K_S`` (one selected inference per relation) is encoded as its own
  sequence ``"xIntent: ...; xNeed: ...; ..."`` and attended by the decoder's added
  knowledge cross-attention.

The string functions give the exact text; :func:`encoder_input_ids` builds the same
input as token ids from separately tokenised parts so that a long history is cut from
the left (the most recent turns stay) without ever cutting the knowledge away.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

#: NEC §3.2: the prompt between the history and the entity knowledge.
P_R = "The following knowledge facts are highly relevant to the left query:"
#: separator between linearised triplets (the paper does not say; see docs/plugins/nec.md)
TRIPLET_SEPARATOR = "; "


def history_text(context: Sequence[str]) -> str:
    """``U = u_1 ⊕ u_2 ⊕ ... ⊕ u_{n-1}``: the utterances joined by single spaces."""
    return " ".join(" ".join(str(u).split()) for u in context if str(u).strip())


def linearise_triplet(triplet: Mapping[str, Any]) -> str:
    """``<ent, rel, tail>`` -> ``"ent, rel, tail"`` (§3.2)."""
    return f"{triplet['entity']}, {triplet['relation']}, {triplet['tail']}"


def linearise_knowledge(triplets: Sequence[Mapping[str, Any]], separator: str = TRIPLET_SEPARATOR) -> str:
    """``L(K_E)``: the linearised triplets in selection order."""
    return separator.join(linearise_triplet(t) for t in triplets)


def knowledge_suffix(triplets: Sequence[Mapping[str, Any]], prompt: str = P_R,
                     separator: str = TRIPLET_SEPARATOR) -> str:
    """``P_r ⊕ L(K_E)``."""
    knowledge = linearise_knowledge(triplets, separator)
    return f"{prompt} {knowledge}" if knowledge else prompt


def encoder_input_text(context: Sequence[str], triplets: Sequence[Mapping[str, Any]] | None, sep_token: str,
                       prompt: str = P_R, separator: str = TRIPLET_SEPARATOR) -> str:
    """The exact encoder input of eq. 3; without entity knowledge (``triplets is None``,
    the *w/o Entity* ablation) it is the history alone, as the paper's ablation says."""
    history = history_text(context)
    if triplets is None:
        return history
    return f"{history} {sep_token} {knowledge_suffix(triplets, prompt, separator)}"


def social_text(selected: Mapping[str, str]) -> str:
    """``K_S`` as one sequence: ``"xIntent: to be nice; xReact: happy"`` (relations in the
    configured order; relations without a usable inference are left out)."""
    return TRIPLET_SEPARATOR.join(f"{rel}: {tail}" for rel, tail in selected.items() if tail)


def encoder_input_ids(tokenizer, contexts: Sequence[Sequence[str]], knowledge: Sequence[Sequence[Mapping[str, Any]]] | None,
                      *, max_context_tokens: int, max_knowledge_tokens: int, prompt: str = P_R,
                      separator: str = TRIPLET_SEPARATOR) -> list[list[int]]:
    """Token ids of eq. 3 for a batch: ``[BOS] U[-max_context:] [SEP] (P_r L(K_E))[:max_knowledge] [EOS]``.

    BOS/EOS are added when the tokenizer has them (BART's ``<s> ... </s>``).
    """
    histories = [history_text(c) for c in contexts]
    ctx_ids = tokenizer(histories, add_special_tokens=False)["input_ids"] if histories else []
    know_ids: list[list[int]] | None = None
    if knowledge is not None:
        suffixes = [knowledge_suffix(k, prompt, separator) for k in knowledge]
        know_ids = tokenizer(suffixes, add_special_tokens=False)["input_ids"] if suffixes else []
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    out = []
    for i, ids in enumerate(ctx_ids):
        ids = ids[-max_context_tokens:] if max_context_tokens > 0 else []
        if know_ids is not None:
            ids = ids + [sep] + know_ids[i][:max_knowledge_tokens]
        out.append(bos + ids + eos)
    return out


def social_input_ids(tokenizer, selections: Sequence[Mapping[str, str]], *, max_tokens: int) -> list[list[int]]:
    """Token ids of ``K_S`` per sample: ``[BOS] social_text[:max_tokens] [EOS]`` (never empty)."""
    texts = [social_text(s) for s in selections]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    out = []
    for ids in encoded:
        seq = bos + ids[:max_tokens] + eos
        out.append(seq or [tokenizer.pad_token_id])
    return out
