"""Batched greedy decoding, beam search and sampling over a decoder's incremental state.

The search drives :meth:`Decoder.start` / :meth:`~Decoder.step` / :meth:`~Decoder.reorder`
(see :mod:`edg.interfaces.decoder`) without knowing what the state holds: it feeds one
token per row, reorders the state when beams are reselected, expands each example into its
beams or samples after the first step (all of them start from the same BOS) and drops the
rows of finished examples. A plain ``step(prefix [N, t], memory) -> log-probs [N, V]``
function is accepted too (it is wrapped in :class:`PrefixStepper`, which recomputes the
prefix at every step).

Candidates exclude BOS/EOS; ``score`` is the length-normalised log-probability
``logprob / len ** length_penalty`` (len counts the EOS, as Hugging Face does). With
``return_hidden``, ``Candidate.hidden`` is the mean of the decoder's last-layer states over
``[BOS] + token_ids``, accumulated during the search (the states of a response cut at
``max_length`` need one more step for its last token).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, Union

import torch
from torch import Tensor

from edg.interfaces.types import Candidate, EncoderOutput

StepFn = Callable[[Tensor, EncoderOutput], Tensor]


class Stepper(Protocol):
    """What the search needs of a decoder (every :class:`~edg.interfaces.decoder.Decoder` is one)."""

    def start(self, memory: EncoderOutput) -> Any: ...

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def reorder(self, state: Any, index: Tensor) -> Any: ...

    def last_hidden(self, state: Any) -> Optional[Tensor]: ...


class PrefixStepper:
    """A stateless ``step(prefix, memory)`` function as a :class:`Stepper`: the state is the
    prefix and its memory rows, and every step recomputes the whole prefix."""

    def __init__(self, fn: StepFn) -> None:
        self.fn = fn

    def start(self, memory: EncoderOutput) -> tuple[EncoderOutput, Optional[Tensor]]:
        return memory, None

    def step(self, tokens: Tensor, state):
        memory, prefix = state
        prefix = tokens[:, None] if prefix is None else torch.cat([prefix, tokens[:, None]], 1)
        return self.fn(prefix, memory), (memory, prefix)

    def reorder(self, state, index: Tensor):
        memory, prefix = state
        return memory.index_select(index), None if prefix is None else prefix.index_select(0, index)

    def last_hidden(self, state) -> None:
        return None


class _Steps:
    """The stepper with the search's constraints applied in place to every step's
    log-probabilities (a step returns a new tensor), and the hidden-state sums."""

    def __init__(self, stepper: Stepper, banned_ids: tuple[int, ...], return_hidden: bool) -> None:
        self.stepper = stepper
        self.banned = list(banned_ids)
        self.return_hidden = return_hidden
        self.hsum: Optional[Tensor] = None  # [rows, D], float32; None when not exposed

    def start(self, memory: EncoderOutput):
        return self.stepper.start(memory)

    def step(self, tokens: Tensor, state) -> tuple[Tensor, Any]:
        logp, state = self.stepper.step(tokens, state)
        logp = logp.float()
        if self.banned:
            logp[:, self.banned] = float("-inf")
        if self.return_hidden:
            hidden = self.stepper.last_hidden(state)
            if hidden is None:
                self.return_hidden = False  # the decoder falls back to a teacher-forced pass
                self.hsum = None
            else:
                self.hsum = hidden.float() if self.hsum is None else self.hsum + hidden.float()
        return logp, state

    def reorder(self, state, index: Tensor):
        if self.hsum is not None:
            self.hsum = self.hsum.index_select(0, index)
        return self.stepper.reorder(state, index)

    def mean_hidden(self, row: int, inputs: int) -> Optional[Tensor]:
        return None if self.hsum is None else self.hsum[row] / inputs


def search(stepper: Union[Stepper, StepFn], memory: EncoderOutput, config, *, bos_id: int, eos_id: int,
           banned_ids: tuple[int, ...] = (), return_hidden: bool = False) -> list[list[Candidate]]:
    """Candidates per example, best first. ``banned_ids`` (e.g. PAD, BOS) are never generated."""
    if not hasattr(stepper, "start"):
        stepper = PrefixStepper(stepper)
    steps = _Steps(stepper, tuple(banned_ids), return_hidden)
    if config.strategy == "beam":
        return beam_search(steps, memory, config, bos_id=bos_id, eos_id=eos_id)
    return sample_or_greedy(steps, memory, config, bos_id=bos_id, eos_id=eos_id)


def _constrain(logp: Tensor, generated: Tensor, config, eos_id: int) -> Tensor:
    """Minimum length and no-repeat-n-gram constraints, in place on ``logp`` [N, V];
    ``generated`` [N, t] are the tokens so far (without BOS)."""
    length = generated.size(1)
    if length < config.min_length:
        logp[:, eos_id] = float("-inf")
    n = config.no_repeat_ngram_size
    if n > 0 and length + 1 >= n:
        for r, seq in enumerate(generated.tolist()):
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
def sample_or_greedy(steps: _Steps, memory: EncoderOutput, config, *, bos_id: int,
                     eos_id: int) -> list[list[Candidate]]:
    greedy = config.strategy == "greedy"
    per_example = 1 if greedy else config.num_return
    batch = memory.batch_size
    device = memory.hidden.device
    n = batch * per_example
    out_ids = torch.full((n, config.max_length), eos_id, dtype=torch.long, device=device)
    logprob = torch.zeros(n, device=device)
    lengths = torch.zeros(n, dtype=torch.long, device=device)
    hidden: list[Optional[Tensor]] = [None] * n
    alive = torch.arange(n, device=device)  # output row of each state row

    state = steps.start(memory)
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    logp, state = steps.step(tokens, state)
    if per_example > 1:  # every sample of an example starts from the same BOS step
        expand = torch.arange(batch, device=device).repeat_interleave(per_example)
        logp, state = logp.index_select(0, expand), steps.reorder(state, expand)
    for t in range(config.max_length):
        if t > 0:
            logp, state = steps.step(tokens, state)
        logp = _constrain(logp, out_ids.index_select(0, alive)[:, :t], config, eos_id)
        if greedy:
            token_logp, token = logp.max(-1)  # the first maximum, as argmax (and faster)
        else:
            logits = _filter_logits(logp / max(config.temperature, 1e-6), config.top_k, config.top_p)
            token = torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
            token_logp = logp.gather(1, token[:, None]).squeeze(1)
        out_ids[alive, t] = token
        logprob[alive] += token_logp
        lengths[alive] += 1
        ended = token == eos_id
        if bool(ended.any()):
            for r in ended.nonzero().squeeze(1).tolist():
                hidden[int(alive[r])] = steps.mean_hidden(r, t + 1)  # BOS + t tokens fed
            keep = (~ended).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            state, alive, token = steps.reorder(state, keep), alive[keep], token[keep]
        tokens = token
    else:
        if steps.return_hidden:  # the last token of a response cut at max_length was never fed
            _, state = steps.step(tokens, state)
            for r, row in enumerate(alive.tolist()):
                hidden[row] = steps.mean_hidden(r, config.max_length + 1)

    out: list[list[Candidate]] = []
    ids_l, lp_l, len_l = out_ids.tolist(), logprob.tolist(), lengths.tolist()
    for b in range(batch):
        cands = []
        for r in range(b * per_example, (b + 1) * per_example):
            ids = ids_l[r]
            ids = ids[: ids.index(eos_id)] if eos_id in ids else ids
            lp = lp_l[r]
            cands.append(Candidate(ids, lp, lp / max(len_l[r], 1) ** config.length_penalty, hidden=hidden[r]))
        cands.sort(key=lambda c: c.score, reverse=True)
        out.append(cands)
    return out


@torch.no_grad()
def beam_search(steps: _Steps, memory: EncoderOutput, config, *, bos_id: int, eos_id: int) -> list[list[Candidate]]:
    k = config.beam_size
    batch = memory.batch_size
    device = memory.hidden.device
    lp = config.length_penalty
    neg_inf = float("-inf")
    # (normalised score, logprob, token ids, hidden) of every finished hypothesis
    finished: list[list[tuple[float, float, list[int], Optional[Tensor]]]] = [[] for _ in range(batch)]
    open_ex = list(range(batch))  # examples still searched, in state-row order
    per_row = 1  # state rows per open example: 1 at the first step (all beams are BOS), then k
    beam_scores = torch.zeros(batch, 1, device=device)
    generated = torch.zeros(batch, 0, dtype=torch.long, device=device)  # tokens of each state row

    state = steps.start(memory)
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    t = 0
    for t in range(1, config.max_length + 1):
        logp, state = steps.step(tokens, state)
        logp = _constrain(logp, generated, config, eos_id)
        vocab = logp.size(-1)
        total = logp.add_(beam_scores.view(-1, 1)).reshape(len(open_ex), per_row * vocab)  # logp is ours
        top_scores, top_ids = total.topk(min(2 * k, total.size(1)), dim=1)
        next_rows, next_tokens, next_scores, still_open = [], [], [], []
        for e, (b, scores, ids) in enumerate(zip(open_ex, top_scores.tolist(), top_ids.tolist())):
            chosen = []
            for score, idx in zip(scores, ids):
                if len(chosen) == k or score == neg_inf:
                    break
                row, token = e * per_row + idx // vocab, idx % vocab
                if token == eos_id:
                    finished[b].append((score / t**lp, score, generated[row].tolist(), steps.mean_hidden(row, t)))
                else:
                    chosen.append((row, token, score))
            while len(chosen) < k:  # fewer than k live continuations (tiny vocabularies)
                chosen.append((e * per_row, eos_id, neg_inf))
            closed = False
            if len(finished[b]) >= k:
                best_alive = max(s for _, _, s in chosen)
                worst_kept = sorted(f[0] for f in finished[b])[-k]
                closed = best_alive == neg_inf or best_alive / t**lp <= worst_kept
            if not closed:
                still_open.append(b)
                for row, token, score in chosen:
                    next_rows.append(row), next_tokens.append(token), next_scores.append(score)
        if not still_open:
            break
        rows = torch.tensor(next_rows, device=device)
        tokens = torch.tensor(next_tokens, device=device)
        state = steps.reorder(state, rows)
        generated = torch.cat([generated.index_select(0, rows), tokens[:, None]], 1)
        beam_scores = torch.tensor(next_scores, device=device).view(len(still_open), k)
        open_ex, per_row = still_open, k
    else:
        # max length reached: the live beams end here
        if steps.return_hidden:  # their last token was never fed
            _, state = steps.step(tokens, state)
        scores_l, ids_l = beam_scores.view(-1).tolist(), generated.tolist()
        for e, b in enumerate(open_ex):
            for j in range(per_row):
                row = e * per_row + j
                if scores_l[row] > neg_inf:
                    ids = ids_l[row]
                    finished[b].append((scores_l[row] / max(len(ids), 1) ** lp, scores_l[row], ids,
                                        steps.mean_hidden(row, len(ids) + 1)))

    out = []
    for b in range(batch):
        best = sorted(finished[b], key=lambda f: f[0], reverse=True)[: config.num_return]
        out.append([Candidate(ids, logprob, norm, hidden=h) for norm, logprob, ids, h in best])
    return out
