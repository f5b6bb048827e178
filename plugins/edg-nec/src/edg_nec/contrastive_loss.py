"""LossTerm ``nec.contrastive``: NEC's contrastive objective (§3.4, eq. 11-12), as CoNT
(An et al., 2022) builds it, which NEC follows ("similar to An et al.") and its authors'
code reuses.

For each sample the candidates are the gold response ``y+`` and its negatives ``y-``.
Every sequence is represented through a **learned projection** (CoNT's: a linear layer
with ReLU applied to every position, then the mean over the positions;
:meth:`edg_nec.model.NecModel.features`): ``z_x`` over the encoder states of ``I_enc``,
``z_y`` over the decoder's last-layer states of ``[BOS] y`` teacher forced on the sample's
memory. The candidates are ranked by sentence BLEU-2 against the gold (token ids, NLTK's
``method1`` smoothing; the gold itself has BLEU 1, rank 0), and **every pair** of
candidates ``(y_j, y_k)`` with ``y_j`` ranked before ``y_k`` costs::

    max(0, cos(z_x, z_{y_k}) - cos(z_x, z_{y_j}) + gamma * (k - j))

so the better of two candidates must be closer to the input by a margin that grows with
their rank difference (eq. 11-12: ``xi = gamma * (rank(y-) - rank(y+))``, gamma = 0.01).
Pairs whose BLEU differs by at most ``bleu_tie`` (CoNT: 0.01) are masked: neither is
better. ``reduction: cont`` (default) averages the pairs of each rank difference over the
batch and sums over the differences, as CoNT's code; ``sum`` is eq. 11 as printed (the sum
over a sample's pairs, averaged over samples). A negative equal to the gold up to case
and spacing is not a negative and is dropped (the system supplies the text comparison).

The four negative types, each switchable (0 disables it):

* ``diff_emotion`` (D): training responses of other emotions (chosen by the system, see
  :mod:`edg_nec.system`), in the batch as ``cl_static_*`` with type 0;
* ``self_generated`` (y'): the model's own beam-search outputs for the sample, generated
  on the fly (no gradient through the search);
* ``from_batch`` (B): the gold responses of other samples of the batch (the next ``k``
  samples cyclically; ``None``: all others);
* ``high_frequency`` (H): the most frequent training sentences
  (:mod:`edg_nec.frequent_sentences`), type 1 of ``cl_static_*``.

Everything is batched: all negatives of the batch are padded into one tensor and encoded by
one decoder pass; BLEU-2, the order and all pairs are tensor operations.

Two stages (§4.2: "the loss function is chosen to plateau ... in the preliminary training
phase", then contrastive learning). In stage 1 the term is 0 during training (NLL only, no
negatives computed); in stage 2 ``L_NLL + L_CL`` is optimised. ``stage_switch``:

* ``plateau`` (default, the paper): the switch happens when the **validation** token-level
  NLL (the core's ``token_nll``, log of the validation perplexity) has not improved on its
  best by more than ``plateau_min_delta`` for ``plateau_patience`` validations in a row
  (or at optimizer step ``start_step`` if that is set and comes first);
* ``step``: at optimizer step ``start_step`` (edg's earlier behaviour).

The term learns the validation results through :meth:`ContrastiveLoss.on_validation`,
which the training loop calls after every validation with the record it logs; the switch
returns True there, so the loop restarts early stopping (the losses of the two stages do
not compare), and :meth:`ContrastiveLoss.holds_early_stopping` keeps the loop from stopping
during stage 1 (its plateau starts stage 2; it is not the end of training). The stage and
the plateau counters are the term's :meth:`state_dict`, saved in checkpoints, so a resumed
run is in the right stage.

In evaluation mode the term is always computed (``in_validation``), so that the
validation loss of both stages measures the same ``L_NLL + L_CL``.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from pydantic import model_validator

from edg.config import GenerationConfig, StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

TYPE_DIFF_EMOTION, TYPE_HIGH_FREQUENCY, TYPE_FROM_BATCH, TYPE_SELF_GENERATED = 0, 1, 2, 3
TYPE_NAMES = {TYPE_DIFF_EMOTION: "D", TYPE_HIGH_FREQUENCY: "H", TYPE_FROM_BATCH: "B", TYPE_SELF_GENERATED: "Y"}


class ContrastiveOptions(StrictModel):
    gamma: float = 0.01
    """CoNT's margin per rank of difference (the paper: 0.01 in all settings)."""
    bleu_tie: float = 0.01
    """Pairs whose BLEU-2 differs by at most this are masked (CoNT's tolerance)."""
    reduction: Literal["cont", "sum"] = "cont"
    """``cont``: per rank difference, the mean over the batch's pairs, summed (CoNT's code);
    ``sum``: eq. 11 as printed, the sum over a sample's pairs averaged over samples."""
    diff_emotion: int = 2
    """Negatives per sample from responses of other emotions (D); 0 disables."""
    self_generated: int = 2
    """Beam-search outputs of the model per sample (y'); 0 disables."""
    from_batch: Optional[int] = 2
    """Other samples' gold responses per sample (B); ``None``: all others; 0 disables."""
    high_frequency: int = 2
    """The most frequent training sentences (H); 0 disables."""
    self_gen_beam_size: int = 4
    self_gen_max_length: int = 30
    stage_switch: Literal["plateau", "step"] = "plateau"
    """When stage 2 (NLL + L_CL) starts: when the validation NLL plateaus (the paper), or
    at optimizer step ``start_step``."""
    start_step: Optional[int] = None
    """``step``: the first optimizer step of stage 2 (required); ``plateau``: an optional
    latest step for the switch."""
    plateau_patience: int = 2
    """Validations in a row without an improvement of the validation NLL that make a plateau."""
    plateau_min_delta: float = 0.01
    """An improvement smaller than this (nats per token) does not count."""
    in_validation: bool = True
    """Compute the term in evaluation mode in both stages (comparable validation loss)."""

    @model_validator(mode="after")
    def _stage_options(self) -> "ContrastiveOptions":
        if self.stage_switch == "step" and self.start_step is None:
            raise ValueError("stage_switch 'step' needs start_step (the first optimizer step of stage 2)")
        if self.plateau_patience < 1:
            raise ValueError(f"plateau_patience must be >= 1, got {self.plateau_patience}")
        return self


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


def ranking_order(quality: Tensor, valid: Tensor) -> Tensor:
    """Per row, the candidate indices by decreasing quality (stable: ties keep their order,
    so the gold, candidate 0, leads its ties); invalid candidates come last. [B, C]."""
    q = quality.masked_fill(~valid, float("-inf"))
    return torch.sort(q, dim=1, descending=True, stable=True).indices


def cont_ranking_loss(cos: Tensor, quality: Tensor, valid: Tensor, gamma: float, tie: float = 0.01,
                      reduction: str = "cont") -> tuple[Tensor, Tensor]:
    """CoNT's pairwise ranking loss over all candidates of each sample (see the module doc).

    ``cos`` [B, C]: cos(z_x, z_c) of every candidate; ``quality`` [B, C]: each candidate's
    BLEU against the gold (the gold's own: 1); ``valid`` [B, C]. Returns the loss and the
    number of unmasked pairs of each sample [B].
    """
    order = ranking_order(quality, valid)
    c, q, v = (torch.gather(t, 1, order) for t in (cos, quality, valid))
    n = c.size(1)
    pos = torch.arange(n, device=c.device)
    gap = pos[None, :] - pos[:, None]  # [j, k] -> k - j: the rank difference
    # pair (j, k), j ranked first: max(0, cos_k - cos_j + gamma * (k - j))
    pair_loss = torch.relu(c[:, None, :] - c[:, :, None] + gamma * gap.to(c.dtype))
    mask = (gap > 0) & v[:, :, None] & v[:, None, :] & ((q[:, :, None] - q[:, None, :]).abs() > tie)
    pair_loss = pair_loss * mask.to(pair_loss.dtype)
    pairs = mask.sum((1, 2))
    if reduction == "sum":
        return pair_loss.sum((1, 2)).mean(), pairs
    index = gap.clamp(min=0).expand_as(pair_loss).reshape(-1)
    per_gap = pair_loss.new_zeros(n).scatter_add(0, index, pair_loss.reshape(-1))
    count = pair_loss.new_zeros(n).scatter_add(0, index, mask.to(pair_loss.dtype).reshape(-1))
    return (per_gap / count.clamp(min=1)).sum(), pairs


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

    #: token ids -> texts up to case and spacing (from the training context's tokenizer);
    #: ``None``: a negative equals the gold only token for token
    text_keys: Optional[Callable[[list[list[int]]], list[str]]] = None

    def setup(self, context) -> None:
        super().setup(context)
        tokenizer = context.tokenizer
        if tokenizer is not None:
            from edg_nec.frequent_sentences import text_key

            self.text_keys = lambda ids: [text_key(t) for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]

    # -- the two stages --------------------------------------------------------------------
    def __init__(self, options: ContrastiveOptions) -> None:
        super().__init__(options)
        self.stage = 1
        self.switch_step: Optional[int] = None
        self.best_valid_nll = float("inf")
        self.bad_validations = 0
        self.switch_unreported = False  # switched since the last validation record

    def state_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "switch_step": self.switch_step, "best_valid_nll": self.best_valid_nll,
                "bad_validations": self.bad_validations, "switch_unreported": self.switch_unreported}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:  # a checkpoint from before the term kept state: stage 1 from scratch
            return
        self.stage, self.switch_step = int(state["stage"]), state["switch_step"]
        self.best_valid_nll, self.bad_validations = float(state["best_valid_nll"]), int(state["bad_validations"])
        self.switch_unreported = bool(state["switch_unreported"])

    def _switch(self) -> None:
        self.stage, self.switch_step, self.switch_unreported = 2, self.context.step, True

    def on_validation(self, record: dict[str, float]) -> bool:
        """The validation results of a pass (the core's record; see the module doc). Returns
        True when the stage switched since the previous record (the objective changed: at
        this plateau, or at ``start_step`` since the last validation)."""
        if self.stage == 1 and self.options.stage_switch == "plateau" and "token_nll" in record:
            nll = float(record["token_nll"])
            if nll < self.best_valid_nll - self.options.plateau_min_delta:
                self.best_valid_nll, self.bad_validations = nll, 0
            else:
                self.best_valid_nll = min(self.best_valid_nll, nll)
                self.bad_validations += 1
            if self.bad_validations >= self.options.plateau_patience:
                self._switch()
        changed, self.switch_unreported = self.switch_unreported, False
        return changed

    def holds_early_stopping(self) -> bool:
        """Whether early stopping must wait: stage 1 is never the end of training (its plateau,
        or ``start_step``, starts stage 2)."""
        return self.stage == 1

    def in_stage_two(self) -> bool:
        o = self.options
        if self.stage == 1 and o.start_step is not None and self.context.step >= o.start_step:
            self._switch()
        return self.stage == 2

    def active(self, model: Any) -> bool:
        """Stage 2 in training (see the module doc); in validation as ``in_validation`` says."""
        if not self.context.training or not model.training:
            return self.options.in_validation
        return self.in_stage_two()

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

    def same_as_gold(self, gold: Tensor, gold_len: Tensor, neg: Tensor, neg_len: Tensor) -> Tensor:
        """[B, N]: the negatives equal to their gold response, up to case and spacing when the
        system set :attr:`text_keys` (else token for token)."""
        b, n = neg_len.shape
        if self.text_keys is not None:
            gold_keys = self.text_keys([gold[i, : gold_len[i]].tolist() for i in range(b)])
            neg_keys = self.text_keys([neg[i, j, : neg_len[i, j]].tolist() for i in range(b) for j in range(n)])
            same = [neg_keys[i * n + j] == gold_keys[i] for i in range(b) for j in range(n)]
            return torch.tensor(same, dtype=torch.bool, device=neg.device).view(b, n)
        width = max(neg.size(2), gold.size(1))
        neg_p = F.pad(neg, (0, width - neg.size(2)), value=-1)
        gold_p = F.pad(gold, (0, width - gold.size(1)), value=-1)
        positions = torch.arange(width, device=gold.device)[None, None, :] < neg_len[:, :, None]
        return (neg_len == gold_len[:, None]) & ((neg_p == gold_p[:, None, :]) | ~positions).all(-1)

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        enc = outputs.encoder
        zero = enc.hidden.new_zeros((), dtype=torch.float32)
        if not self.active(model):
            return LossValue(zero, {"cl_active": 0.0, "cl_stage": float(self.stage)})
        dec = model.decoder
        dec_in = batch["decoder_input_ids"]
        gold_len = batch["labels"].ne(-100).sum(1) - 1  # y without EOS
        gold = dec_in[:, 1:]
        neg, neg_len, types = self.negatives(batch, outputs, model, gold, gold_len)
        b, n = neg_len.shape
        if n == 0:
            return LossValue(zero, {"cl_active": 1.0, "cl_pairs": 0.0})
        valid = (neg_len > 0) & ~self.same_as_gold(gold, gold_len, neg, neg_len)

        # BLEU-2 of every negative against its gold response; the gold's own is 1 (rank 0)
        flat_len = neg_len.reshape(-1)
        bleu = bleu2(neg.reshape(b * n, -1), flat_len, gold.repeat_interleave(n, 0),
                     gold_len.repeat_interleave(n, 0)).view(b, n)
        quality = torch.cat([bleu.new_ones(b, 1), bleu], 1)

        # projected representations: z_x, z_{y+} from the teacher-forced pass, z_{y-} in one pass
        z_x = model.features(enc.hidden, enc.mask)
        gold_positions = torch.arange(dec_in.size(1), device=dec_in.device)[None, :] < (gold_len + 1)[:, None]
        z_pos = model.features(outputs.decoder.hidden, gold_positions)
        z_neg = z_x.new_zeros(b * n, z_x.size(-1))
        rows = valid.reshape(-1).nonzero().squeeze(1)
        if rows.numel():
            seq = torch.cat([torch.full((rows.numel(), 1), dec.bos_id, dtype=torch.long, device=neg.device),
                             neg.reshape(b * n, -1)[rows]], 1)
            lens = flat_len[rows] + 1
            seq = seq[:, : int(lens.max())]
            hidden = dec.hidden_states(seq, enc.index_select(rows // n))
            mask = torch.arange(seq.size(1), device=seq.device)[None, :] < lens[:, None]
            z_neg = z_neg.index_copy(0, rows, model.features(hidden, mask))
        z = torch.cat([z_pos[:, None, :], z_neg.view(b, n, -1)], 1)  # [B, 1 + N, D]
        cos = F.cosine_similarity(z_x[:, None, :], z, dim=-1)
        candidates = torch.cat([valid.new_ones(b, 1), valid], 1)
        o = self.options
        value, pairs = cont_ranking_loss(cos, quality, candidates, o.gamma, o.bleu_tie, o.reduction)
        logs = {"cl_active": 1.0, "cl_stage": float(self.stage), "cl_pairs": float(pairs.sum()) / max(b, 1),
                "cl_negatives": float(valid.sum()) / max(b, 1)}
        for code, name in TYPE_NAMES.items():
            logs[f"cl_neg_{name}"] = float((valid & (types == code)[None, :]).sum()) / max(b, 1)
        return LossValue(value, logs)
