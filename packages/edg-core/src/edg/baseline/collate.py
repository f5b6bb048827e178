"""Turning dialogue samples into padded tensors (shared by the core systems and any
plugin that encodes the context as one token sequence)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from edg.tokenization import BOS, EOS, ROLE_TOKENS

ROLE_IDS = {"speaker": 0, "listener": 1}


def pad(seqs: Sequence[Sequence[int]], value: int, *, left: bool = False) -> torch.Tensor:
    longest = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), max(longest, 1)), value, dtype=np.int64)
    for i, s in enumerate(seqs):
        if len(s):
            if left:
                out[i, longest - len(s):] = s
            else:
                out[i, : len(s)] = s
    return torch.from_numpy(out)


def encode_context(tokenizer, contexts: list[list[str]], roles: list[list[str]], max_tokens: int):
    """``[SPK] u1 [LIS] u2 ...`` token ids and per-token dialogue-state ids.

    Long histories are cut from the left: the most recent turns matter most.
    """
    flat = [u for ctx in contexts for u in ctx]
    encoded = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
    ids_out, roles_out, k = [], [], 0
    for ctx, rls in zip(contexts, roles):
        ids: list[int] = []
        role_ids: list[int] = []
        for role in rls:
            role_tok = tokenizer.convert_tokens_to_ids(ROLE_TOKENS[role])
            piece = [role_tok, *encoded[k]]
            k += 1
            ids += piece
            role_ids += [ROLE_IDS[role]] * len(piece)
        ids_out.append(ids[-max_tokens:])
        roles_out.append(role_ids[-max_tokens:])
    return ids_out, roles_out


def encode_targets(tokenizer, targets: list[str], max_tokens: int):
    """Decoder inputs ``[BOS] y`` and labels ``y [EOS]`` (truncated to ``max_tokens``)."""
    bos, eos = tokenizer.convert_tokens_to_ids(BOS), tokenizer.convert_tokens_to_ids(EOS)
    encoded = tokenizer(list(targets), add_special_tokens=False)["input_ids"]
    inputs, labels = [], []
    for ids in encoded:
        ids = ids[: max_tokens - 1]
        inputs.append([bos, *ids])
        labels.append([*ids, eos])
    return inputs, labels


def encode_dialogue(batch: dict[str, list], tokenizer, *, max_context_tokens: int,
                    max_target_tokens: int) -> dict[str, list]:
    """The token-id columns of a batch of samples (``datasets`` batched-map layout):
    ``input_ids``/``role_ids`` of the context, ``decoder_input_ids``/``labels`` of the target."""
    ids, role_ids = encode_context(tokenizer, list(batch["context"]), list(batch["roles"]), max_context_tokens)
    dec_in, labels = encode_targets(tokenizer, list(batch["target"]), max_target_tokens)
    return {"input_ids": ids, "role_ids": role_ids, "decoder_input_ids": dec_in, "labels": labels}


def pad_dialogue(samples: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Pad encoded samples (:func:`encode_dialogue`'s columns) into a batch."""
    input_ids = pad([s["input_ids"] for s in samples], pad_id)
    return {
        "input_ids": input_ids,
        "attention_mask": input_ids.ne(pad_id),
        "role_ids": pad([s["role_ids"] for s in samples], 0),
        "decoder_input_ids": pad([s["decoder_input_ids"] for s in samples], pad_id),
        "labels": pad([s["labels"] for s in samples], -100),
        "emotion_id": torch.tensor([s["emotion_id"] for s in samples], dtype=torch.long),
    }


def collate_dialogue(samples: list[dict[str, Any]], tokenizer, *, max_context_tokens: int,
                     max_target_tokens: int) -> dict[str, Any]:
    """Pad samples, tokenizing those that were not encoded beforehand."""
    if samples and "input_ids" not in samples[0]:
        columns = {k: [s[k] for s in samples] for k in ("context", "roles", "target")}
        encoded = encode_dialogue(columns, tokenizer, max_context_tokens=max_context_tokens,
                                  max_target_tokens=max_target_tokens)
        samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
    return pad_dialogue(samples, tokenizer.pad_token_id)
