"""Turning dialogue samples into padded tensors (shared by the core systems and any
plugin that encodes the context as one token sequence)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from edg.tokenization import BOS, EOS, ROLE_TOKENS

ROLE_IDS = {"speaker": 0, "listener": 1}


def pad(seqs: Sequence[Sequence[int]], value: int, *, left: bool = False) -> torch.Tensor:
    longest = max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), max(longest, 1)), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            if left:
                out[i, longest - len(s):] = torch.tensor(s, dtype=torch.long)
            else:
                out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


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


def collate_dialogue(samples: list[dict[str, Any]], tokenizer, *, max_context_tokens: int,
                     max_target_tokens: int) -> dict[str, Any]:
    ids, role_ids = encode_context(tokenizer, [s["context"] for s in samples], [s["roles"] for s in samples],
                                   max_context_tokens)
    dec_in, labels = encode_targets(tokenizer, [s["target"] for s in samples], max_target_tokens)
    pad_id = tokenizer.pad_token_id
    input_ids = pad(ids, pad_id)
    return {
        "input_ids": input_ids,
        "attention_mask": input_ids.ne(pad_id) if ids else input_ids.bool(),
        "role_ids": pad(role_ids, 0),
        "decoder_input_ids": pad(dec_in, pad_id),
        "labels": pad(labels, -100),
        "emotion_id": torch.tensor([s["emotion_id"] for s in samples], dtype=torch.long),
    }
