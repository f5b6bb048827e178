"""LossTerm ``nec.contrastive``: NEC's contrastive objective (§3.4, eq. 11-12), CoNT-style.

For each sample with encoder representation ``z_x`` (mean of the encoder states over the
input), gold response ``y+`` and negatives ``y-``::

    L_CL = sum_{y-} max(0, cos(z_x, z_{y-}) - cos(z_x, z_{y+}) + xi)
    xi   = gamma * (rank(y-) - rank(y+))

``z_y`` is the mean of the decoder's last-layer states over ``[BOS] y`` (teacher forced on
the sample's own memory; the same definition the similarity reranker uses at inference).
Ranks follow CoNT (An et al., 2022): all candidates are ranked by sentence BLEU-2 against
the gold response (token ids, NLTK's ``method1`` smoothing); the gold itself is rank 0 and
the negatives get ranks 1..N by decreasing BLEU-2 (ties: the earlier negative first), so
the less a negative resembles the gold, the larger its margin. The term is the sum over a
sample's pairs, averaged over the batch. A negative identical to the gold is dropped.

The four negative types, each switchable (0 disables it):

* ``diff_emotion`` (D): training responses of other emotions (chosen by the system, see
  :mod:`edg_nec.system`), in the batch as ``cl_static_*`` with type 0;
* ``self_generated`` (y'): the model's own beam-search outputs for the sample, generated
  on the fly (no gradient through the search);
* ``from_batch`` (B): the gold responses of other samples of the batch (the next ``k``
  samples cyclically; ``None``: all others);
* ``high_frequency`` (H): the most frequent training responses, type 1 of ``cl_static_*``.

Everything is batched: all negatives of the batch are padded into one tensor and encoded by
one decoder pass; BLEU-2 and the ranks are computed with tensor operations.

Two stages (§4.2): before optimizer step ``start_step`` the term is 0 during training
(NLL-only stage). In evaluation mode it is always computed (``in_validation``), so that
the validation loss of both stages measures the same ``L_NLL + L_CL`` and early stopping
compares like with like.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from edg.config import GenerationConfig, StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

TYPE_DIFF_EMOTION, TYPE_HIGH_FREQUENCY, TYPE_FROM_BATCH, TYPE_SELF_GENERATED = 0, 1, 2, 3
TYPE_NAMES = {TYPE_DIFF_EMOTION: "D", TYPE_HIGH_FREQUENCY: "H", TYPE_FROM_BATCH: "B", TYPE_SELF_GENERATED: "Y"}


class ContrastiveOptions(StrictModel):
    gamma: float = 0.01
    """CoNT's margin scale (the paper: 0.01 in all settings)."""
    diff_emotion: int = 2
    """Negatives per sample from responses of other emotions (D); 0 disables."""
    self_generated: int = 2
    """Beam-search outputs of the model per sample (y'); 0 disables."""
    from_batch: Optional[int] = 2
    """Other samples' gold responses per sample (B); ``None``: all others; 0 disables."""
    high_frequency: int = 2
    """The most frequent training responses (H); 0 disables."""
    self_gen_beam_size: int = 4
    self_gen_max_length: int = 30
    start_step: int = 0
    """First optimizer step of the contrastive stage (before it: NLL only)."""
    in_validation: bool = True
    """Compute the term in evaluation mode in both stages (comparable validation loss)."""


# -- the pieces (tested on hand-computed values) ----------------------------------------------
def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean over the positions where ``mask`` [N, T] is True: [N, T, D] -> [N, D]."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


def _ngram_ids(tokens: Tensor, lengths: Tensor, n: int, base: int) -> tuple[Tensor, Tensor]:
    """n-gram codes [M, L-n+1] and their validity."""
    length = tokens.size(1)
    if length < n:
        return tokens.new_zeros(tokens.size(0), 0), torch.zeros(tokens.size(0), 0, dtype=torch.bool, device=tokens.device)
    code = tokens[:, : length - n + 1].clone()
    for k in range(1, n):
        code = code * base + tokens[:, k : length - n + 1 + k]
    pos = torch.arange(length - n + 1, device=tokens.device)
    return code, pos[None, :] < (lengths[:, None] - n + 1)


def bleu2(hyp: Tensor, hyp_len: Tensor, ref: Tensor, ref_len: Tensor) -> Tensor:
    """Sentence BLEU-2 of each hypothesis row against its reference row, as NLTK's
    ``sentence_bleu(weights=(0.5, 0.5), smoothing_function=SmoothingFunction().method1)``
    on token ids. ``hyp`` [M, L], ``ref`` [M, R] (ids >= 0; positions past the lengths are ignored)."""
    hyp, ref = hyp.long().clamp(min=0), ref.long().clamp(min=0)
    base = int(max(int(hyp.max()) if hyp.numel() else 0, int(ref.max()) if ref.numel() else 0)) + 1
    log_p = []
    matches1 = None
    for n in (1, 2):
        h, hv = _ngram_ids(hyp, hyp_len, n, base)
        r, rv = _ngram_ids(ref, ref_len, n, base)
        same_h = (h[:, :, None] == h[:, None, :]) & hv[:, None, :]
        count_h = same_h.sum(-1).clamp(min=1).float()  # occurrences in the hypothesis
        count_r = ((h[:, :, None] == r[:, None, :]) & rv[:, None, :]).sum(-1).float()
        matches = (torch.minimum(count_h, count_r) / count_h * hv).sum(-1)  # clipped counts
        total = (hyp_len - n + 1).clamp(min=1).float()
        if n == 1:
            matches1 = matches
        smoothed = torch.where(matches > 0, matches, torch.full_like(matches, 0.1))  # method1
        log_p.append(torch.log(smoothed / total))
    c, r_len = hyp_len.float(), ref_len.float()
    bp = torch.where(c > r_len, torch.ones_like(c), torch.exp(1 - r_len / c.clamp(min=1e-9)))
    bp = torch.where(c > 0, bp, torch.zeros_like(c))
    score = bp * torch.exp(0.5 * log_p[0] + 0.5 * log_p[1])
    return torch.where(matches1 > 0, score, torch.zeros_like(score))


def ranks_by_quality(quality: Tensor, valid: Tensor) -> Tensor:
    """1-based ranks of the valid negatives by decreasing quality (stable), per row [B, N];
    the gold response is rank 0. Invalid entries get ranks after every valid one."""
    q = quality.masked_fill(~valid, float("-inf"))
    order = torch.sort(q, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(1, q.size(1) + 1, device=q.device).expand_as(order)
    return ranks.scatter_(1, order, positions)


def margin_ranking_loss(z_x: Tensor, z_pos: Tensor, z_neg: Tensor, ranks: Tensor, valid: Tensor,
                        gamma: float) -> Tensor:
    """Eq. 11-12 per sample [B]: ``sum_j max(0, cos(z_x, z_neg_j) - cos(z_x, z_pos) + gamma * rank_j)``."""
    cos_pos = F.cosine_similarity(z_x, z_pos, dim=-1)  # [B]
    cos_neg = F.cosine_similarity(z_x[:, None, :], z_neg, dim=-1)  # [B, N]
    xi = gamma * ranks.to(cos_neg.dtype)  # rank(y+) = 0
    pairs = torch.relu(cos_neg - cos_pos[:, None] + xi) * valid.to(cos_neg.dtype)
    return pairs.sum(1)


def pad_sequences(seqs: list[list[int]], pad_id: int, device: torch.device, width: int = 0) -> tuple[Tensor, Tensor]:
    longest = max([len(s) for s in seqs] + [width, 1])
    out = torch.full((len(seqs), longest), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out.to(device), torch.tensor([len(s) for s in seqs], dtype=torch.long, device=device)


def from_batch_negatives(gold: Tensor, gold_len: Tensor, k: Optional[int]) -> tuple[Tensor, Tensor]:
    """For sample i the gold responses of samples i+1, ..., i+k (mod B): [B, k, L], lengths [B, k]."""
    b = gold.size(0)
    k = b - 1 if k is None else min(k, b - 1)
    if k <= 0:
        return gold.new_zeros(b, 0, gold.size(1)), gold_len.new_zeros(b, 0)
    idx = (torch.arange(b, device=gold.device)[:, None] + torch.arange(1, k + 1, device=gold.device)[None, :]) % b
    return gold[idx], gold_len[idx]


# -- the loss term -----------------------------------------------------------------------------
class ContrastiveLoss(LossTerm):
    Options = ContrastiveOptions

    #: micro-batches per optimizer step (set by the NEC system from train.grad_accum)
    batches_per_step: int = 1

    def active(self, model: Any) -> bool:
        if not model.training:
            return self.options.in_validation
        seen = int(getattr(model, "train_batches", torch.tensor(1)))
        return (seen - 1) // max(self.batches_per_step, 1) >= self.options.start_step

    def negatives(self, batch: dict[str, Any], outputs: ModelOutput, model: Any, gold: Tensor,
                  gold_len: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """All negatives of the batch: tokens [B, N, L] (no BOS/EOS), lengths [B, N], types [N]."""
        o = self.options
        device = gold.device
        pad = model.decoder.pad_id
        parts: list[tuple[Tensor, Tensor, Tensor]] = []
        if "cl_static_ids" in batch and batch["cl_static_ids"].size(1):
            types = batch["cl_static_type"][0] if batch["cl_static_type"].dim() == 2 else batch["cl_static_type"]
            keep = ((types == TYPE_DIFF_EMOTION) & (o.diff_emotion > 0)) | ((types == TYPE_HIGH_FREQUENCY) & (o.high_frequency > 0))
            if bool(keep.any()):
                idx = keep.nonzero().squeeze(1)
                parts.append((batch["cl_static_ids"][:, idx], batch["cl_static_len"][:, idx], types[idx]))
        if o.from_batch is None or o.from_batch > 0:
            ids, lens = from_batch_negatives(gold, gold_len, o.from_batch)
            if ids.size(1):
                parts.append((ids, lens, torch.full((ids.size(1),), TYPE_FROM_BATCH, device=device)))
        if o.self_generated > 0:
            ids, lens = self.generate_negatives(outputs, model, pad)
            parts.append((ids, lens, torch.full((ids.size(1),), TYPE_SELF_GENERATED, device=device)))
        if not parts:
            return gold.new_zeros(gold.size(0), 0, 1), gold_len.new_zeros(gold.size(0), 0), gold_len.new_zeros(0)
        width = max(p[0].size(2) for p in parts)
        ids = torch.cat([F.pad(p[0], (0, width - p[0].size(2)), value=pad) for p in parts], 1)
        return ids, torch.cat([p[1] for p in parts], 1), torch.cat([p[2] for p in parts])

    def generate_negatives(self, outputs: ModelOutput, model: Any, pad: int) -> tuple[Tensor, Tensor]:
        o = self.options
        config = GenerationConfig(strategy="beam", beam_size=max(o.self_gen_beam_size, o.self_generated),
                                  num_return=o.self_generated, max_length=o.self_gen_max_length)
        was_training = model.training
        model.eval()
        try:
            memory = outputs.encoder.map(lambda t: t.detach())
            candidates = model.decoder.generate(memory, config)
        finally:
            model.train(was_training)
        b = len(candidates)
        seqs = [[] for _ in range(b * o.self_generated)]
        for i, cands in enumerate(candidates):
            for j, c in enumerate(cands[: o.self_generated]):
                seqs[i * o.self_generated + j] = c.token_ids
        ids, lens = pad_sequences(seqs, pad, outputs.encoder.hidden.device)
        return ids.view(b, o.self_generated, -1), lens.view(b, o.self_generated)

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        enc = outputs.encoder
        zero = enc.hidden.new_zeros((), dtype=torch.float32)
        if not self.active(model):
            return LossValue(zero, {"cl_active": 0.0})
        dec = model.decoder
        dec_in = batch["decoder_input_ids"]
        gold_len = batch["labels"].ne(-100).sum(1) - 1  # y without EOS
        gold = dec_in[:, 1:]
        neg, neg_len, types = self.negatives(batch, outputs, model, gold, gold_len)
        b, n = neg_len.shape
        valid = neg_len > 0
        if n == 0:
            return LossValue(zero, {"cl_active": 1.0, "cl_pairs": 0.0})
        # a negative identical to the gold response is not a negative
        width = max(neg.size(2), gold.size(1))
        neg_p = F.pad(neg, (0, width - neg.size(2)), value=dec.pad_id)
        gold_p = F.pad(gold, (0, width - gold.size(1)), value=dec.pad_id)
        pos_mask = torch.arange(width, device=gold.device)[None, None, :] < neg_len[:, :, None]
        same = (neg_len == gold_len[:, None]) & ((neg_p == gold_p[:, None, :]) | ~pos_mask).all(-1)
        valid = valid & ~same

        # BLEU-2 of every negative against its gold response -> CoNT ranks
        flat_len = neg_len.reshape(-1)
        quality = bleu2(neg.reshape(b * n, -1), flat_len, gold.repeat_interleave(n, 0),
                        gold_len.repeat_interleave(n, 0)).view(b, n)
        ranks = ranks_by_quality(quality, valid)

        # representations: z_x, z_{y+} from the teacher-forced pass, z_{y-} in one batched pass
        z_x = masked_mean(enc.hidden.float(), enc.mask)
        pos_positions = torch.arange(dec_in.size(1), device=dec_in.device)[None, :] < (gold_len + 1)[:, None]
        z_pos = masked_mean(outputs.decoder.hidden.float(), pos_positions)
        z_neg = z_x.new_zeros(b * n, z_x.size(-1))
        rows = valid.reshape(-1).nonzero().squeeze(1)
        if rows.numel():
            seq = torch.cat([torch.full((rows.numel(), 1), dec.bos_id, dtype=torch.long, device=neg.device),
                             neg.reshape(b * n, -1)[rows]], 1)
            lens = flat_len[rows] + 1
            seq = seq[:, : int(lens.max())]
            memory = enc.index_select(rows // n)
            hidden = dec.hidden_states(seq, memory).float()
            mask = torch.arange(seq.size(1), device=seq.device)[None, :] < lens[:, None]
            z_neg = z_neg.index_copy(0, rows, masked_mean(hidden, mask))
        per_sample = margin_ranking_loss(z_x, z_pos, z_neg.view(b, n, -1), ranks, valid, self.options.gamma)
        value = per_sample.mean()
        logs = {"cl_active": 1.0, "cl_pairs": float(valid.sum()) / max(b, 1)}
        for code, name in TYPE_NAMES.items():
            logs[f"cl_neg_{name}"] = float((valid & (types == code)[None, :]).sum()) / max(b, 1)
        return LossValue(value, logs)
