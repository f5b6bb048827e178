"""Batched greedy decoding, beam search and sampling over a decoder step function.

``step(prefix [N, t], memory) -> log-probs [N, V]`` is :meth:`Decoder.next_token`.
Candidates exclude BOS/EOS; ``score`` is the length-normalised log-probability
``logprob / len ** length_penalty`` (len counts the EOS, as Hugging Face does).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from edg.interfaces.types import Candidate, EncoderOutput

Step = Callable[[Tensor, EncoderOutput], Tensor]


def search(step: Step, memory: EncoderOutput, config, *, bos_id: int, eos_id: int,
           banned_ids: tuple[int, ...] = ()) -> list[list[Candidate]]:
    """``banned_ids`` (e.g. PAD, BOS) are never generated."""

    def constrained_step(prefix: Tensor, mem: EncoderOutput) -> Tensor:
        logp = step(prefix, mem).float()
        if banned_ids:
            logp[:, list(banned_ids)] = float("-inf")
        return logp

    if config.strategy == "beam":
        return beam_search(constrained_step, memory, config, bos_id=bos_id, eos_id=eos_id)
    return sample_or_greedy(constrained_step, memory, config, bos_id=bos_id, eos_id=eos_id)


def _constrain(logp: Tensor, prefix: Tensor, config, eos_id: int) -> Tensor:
    """Minimum length and no-repeat-n-gram constraints, in place on ``logp`` [N, V]."""
    generated = prefix.size(1) - 1  # without BOS
    if generated < config.min_length:
        logp[:, eos_id] = float("-inf")
    n = config.no_repeat_ngram_size
    if n > 0 and generated + 1 >= n:
        rows = prefix[:, 1:].tolist()
        for r, seq in enumerate(rows):
            tail = tuple(seq[len(seq) - n + 1 :]) if n > 1 else ()
            banned = {seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == tail}
            if banned:
                logp[r, list(banned)] = float("-inf")
    return logp


def _filter_logits(logits: Tensor, top_k: int, top_p: float) -> Tensor:
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        remove = cum - torch.softmax(sorted_logits, dim=-1) > top_p  # keep the first token over p
        sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


@torch.no_grad()
def sample_or_greedy(step: Step, memory: EncoderOutput, config, *, bos_id: int, eos_id: int) -> list[list[Candidate]]:
    greedy = config.strategy == "greedy"
    per_example = 1 if greedy else config.num_return
    mem = memory.repeat_interleave(per_example) if per_example > 1 else memory
    n = mem.batch_size
    device = mem.hidden.device
    prefix = torch.full((n, 1), bos_id, dtype=torch.long, device=device)
    logprob = torch.zeros(n, device=device)
    lengths = torch.zeros(n, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    for _ in range(config.max_length):
        logp = _constrain(step(prefix, mem).float(), prefix, config, eos_id)
        if greedy:
            token = logp.argmax(-1)
        else:
            logits = _filter_logits(logp / max(config.temperature, 1e-6), config.top_k, config.top_p)
            token = torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
        token = token.masked_fill(done, eos_id)
        logprob += logp.gather(1, token[:, None]).squeeze(1).masked_fill(done, 0.0)
        lengths += (~done).long()
        done |= token == eos_id
        prefix = torch.cat([prefix, token[:, None]], dim=1)
        if bool(done.all()):
            break
    out: list[list[Candidate]] = []
    for b in range(n // per_example):
        cands = []
        for r in range(b * per_example, (b + 1) * per_example):
            ids = [t for t in prefix[r, 1:].tolist()]
            ids = ids[: ids.index(eos_id)] if eos_id in ids else ids
            lp = float(logprob[r])
            cands.append(Candidate(ids, lp, lp / max(int(lengths[r]), 1) ** config.length_penalty))
        cands.sort(key=lambda c: c.score, reverse=True)
        out.append(cands)
    return out


@torch.no_grad()
def beam_search(step: Step, memory: EncoderOutput, config, *, bos_id: int, eos_id: int) -> list[list[Candidate]]:
    k = config.beam_size
    batch = memory.batch_size
    mem = memory.repeat_interleave(k)
    device = mem.hidden.device
    prefix = torch.full((batch * k, 1), bos_id, dtype=torch.long, device=device)
    beam_scores = torch.full((batch, k), float("-inf"), device=device)
    beam_scores[:, 0] = 0.0  # all beams start identical: expand only the first
    finished: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(batch)]
    closed = [False] * batch
    lp = config.length_penalty

    for t in range(1, config.max_length + 1):
        logp = _constrain(step(prefix, mem).float(), prefix, config, eos_id)
        vocab = logp.size(-1)
        total = (beam_scores.view(-1, 1) + logp).view(batch, k * vocab)
        top_scores, top_ids = total.topk(2 * k, dim=1)
        beam_of, token_of = top_ids // vocab, top_ids % vocab
        next_rows, next_tokens, next_scores = [], [], []
        top_scores_l, beam_l, token_l = top_scores.tolist(), beam_of.tolist(), token_of.tolist()
        for b in range(batch):
            chosen = 0
            for score, beam, token in zip(top_scores_l[b], beam_l[b], token_l[b]):
                if chosen == k:
                    break
                row = b * k + beam
                if closed[b] or score == float("-inf"):
                    next_rows.append(row), next_tokens.append(eos_id), next_scores.append(float("-inf"))
                    chosen += 1
                    continue
                if token == eos_id:
                    finished[b].append((score / t**lp, score, prefix[row, 1:].tolist()))
                    continue
                next_rows.append(row), next_tokens.append(token), next_scores.append(score)
                chosen += 1
            while chosen < k:  # fewer than k live continuations (tiny vocabularies)
                next_rows.append(b * k), next_tokens.append(eos_id), next_scores.append(float("-inf"))
                chosen += 1
            if len(finished[b]) >= k:
                best_alive = max(next_scores[-k:])
                worst_kept = sorted(f[0] for f in finished[b])[-k]
                if best_alive == float("-inf") or best_alive / t**lp <= worst_kept:
                    closed[b] = True
        if all(closed):
            break
        rows = torch.tensor(next_rows, device=device)
        prefix = torch.cat([prefix.index_select(0, rows), torch.tensor(next_tokens, device=device)[:, None]], 1)
        beam_scores = torch.tensor(next_scores, device=device).view(batch, k)
    else:
        # max length reached: the live beams end here
        for b in range(batch):
            if closed[b]:
                continue
            for j in range(k):
                score = float(beam_scores[b, j])
                if score > float("-inf"):
                    ids = prefix[b * k + j, 1:].tolist()
                    finished[b].append((score / len(ids) ** lp, score, ids))

    out = []
    for b in range(batch):
        best = sorted(finished[b], key=lambda f: f[0], reverse=True)[: config.num_return]
        out.append([Candidate(ids, logprob, norm) for norm, logprob, ids in best])
    return out
