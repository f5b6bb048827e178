"""LossTerm ``empdg.adversarial``: EmpDG's interactive adversarial training (Li et al., 2020)
inside edg's one training loop (one optimizer over all model parameters).

EmpDG trains a Wasserstein critic pair -- the semantic discriminator (response tokens and
feedback tokens, conditioned on the semantic context) and the emotional discriminator
(emotion words of the response and of the feedback, conditioned on the emotion-word context)
-- against the empathetic generator. The authors (``adver_train.py``) use two optimizers in
three phases: (1) pre-train the generator, (2) pre-train the discriminators with the generator
fixed, (3) alternate 1 discriminator update (``--d_steps 1``) with 5 generator updates
(``--g_steps 5``). Here the phases are a stage switch on the optimisation step
(``context.step``):

* ``step < generator_steps``: nothing (the term is 0; ``nll`` and ``emotion`` train the
  generator);
* then ``critic_steps`` steps of **critic** loss only;
* then the **joint** stage: the generator's adversarial loss at every step and the critic loss
  at one step in ``critic_every``.

One scalar trains both sides without either leaking into the other:

* **critic loss** ``mean(D(y_gen) - D(y_gold)) + gp_lambda * GP`` (WGAN-GP, Gulrajani et al.,
  2017) sees *detached* generator outputs (the greedy tokens of the teacher-forced output
  distribution) and detached context states: its gradient reaches the discriminators only;
* **generator loss** ``-mean(D(y_gen))`` runs the discriminators with *detached parameters*
  (``torch.func.functional_call``): its gradient reaches the generator only, through
  straight-through one-hot tokens (forward: the greedy token; backward: the softmax).

So the discriminators are updated by the critic loss alone and the generator by ``nll`` +
``emotion`` + this term's generator part, as with two optimizers; what is shared is the
optimizer's settings (learning rate and schedule) -- see ``docs/plugins/empdg.md``.

Examples without user feedback (the target is the conversation's last utterance) do not enter
either part. In validation the term is 0 (validation loss = ``nll`` + ``emotion``), so that
checkpoint selection and early stopping follow the generator's likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from pydantic import PositiveInt
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

#: ``ModelOutput.extras`` key of :class:`AdversarialInputs`
ADVERSARIAL = "empdg_adversarial"
SEMANTIC, EMOTIONAL = "semantic", "emotional"


@dataclass
class AdversarialInputs:
    """What the EmpDG model hands to this term (``outputs.extras["empdg_adversarial"]``)."""

    discriminators: dict[str, nn.Module]
    """``"semantic"`` and/or ``"emotional"`` -> :class:`InteractiveDiscriminator`."""
    context_state: Tensor
    """[B, D] the generator's [CLS] state of the semantic context (detached)."""
    emotion_state: Optional[Tensor]
    """[B, D] the generator's [CLS] state of the emotion-word context (detached), if any."""
    emotion_flags: Tensor
    """[V] bool: which vocabulary ids are emotion words."""
    pad_id: int
    eos_id: int


class AdversarialOptions(StrictModel):
    generator_steps: int = 14000
    """Stage 1, generator pre-training. The authors stop it by early stopping, checked every
    2,000 iterations from 13,000 on; 14,000 is the first point at which it can stop."""
    critic_steps: int = 1000
    """Stage 2, discriminator pre-training (``pre_train_d(iters=1000)``)."""
    critic_every: PositiveInt = 5
    """Joint stage: the critic is updated on one step in ``critic_every`` (``--d_steps 1
    --g_steps 5``); the generator on every step."""
    gp_lambda: float = 0.1
    """Weight of the gradient penalty (``--gp_lambda``, default 0.1)."""


def stage_of(step: int, options: AdversarialOptions) -> str:
    """``generator``, ``critic`` or ``joint``."""
    if step < options.generator_steps:
        return "generator"
    if step < options.generator_steps + options.critic_steps:
        return "critic"
    return "joint"


def compact(values: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
    """The kept positions of each row moved to the front, in order: ``values`` [B, T] or
    [B, T, V], ``keep`` [B, T] -> values [B, K] or [B, K, V] (K = most kept in a row) and
    their mask [B, K]."""
    counts = keep.sum(1)
    width = int(counts.max()) if counts.numel() else 0
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
    index = order if values.dim() == 2 else order[..., None].expand(-1, -1, values.size(-1))
    mask = torch.arange(width, device=keep.device)[None] < counts[:, None]
    return values.gather(1, index), mask


def append_token(values: Tensor, mask: Tensor, token: int, pad_id: int) -> tuple[Tensor, Tensor]:
    """Each row's ``token`` after its real positions (as the authors end every emotion-word list
    with EOS, so that none is empty): ids [B, K] or one-hot rows [B, K, V] -> [B, K + 1(, V)]."""
    counts = mask.sum(1)
    at = F.one_hot(counts, mask.size(1) + 1).bool()  # [B, K + 1]
    new_mask = torch.cat([mask, mask.new_zeros(mask.size(0), 1)], 1) | at
    if values.dim() == 2:
        out = torch.cat([values.masked_fill(~mask, pad_id), values.new_full((values.size(0), 1), pad_id)], 1)
        return out.masked_fill(at, token), new_mask
    zeros = values.new_zeros(values.size(0), 1, values.size(-1))
    body = torch.cat([values * mask[..., None].to(values.dtype), zeros], 1)
    marker = F.one_hot(torch.tensor(token, device=values.device), values.size(-1)).to(values.dtype)
    return body + at[..., None].to(values.dtype) * marker, new_mask


def straight_through(log_probs: Tensor) -> Tensor:
    """One-hot vectors of the most probable tokens [B, T, V] whose gradient is the softmax's."""
    soft = log_probs.float().exp()
    hard = F.one_hot(soft.argmax(-1), soft.size(-1)).to(soft.dtype)
    return hard + soft - soft.detach()


def gradient_penalty(disc: nn.Module, real: Tensor, real_mask: Tensor, fake: Tensor, fake_mask: Tensor,
                     feedback: Tensor, condition: Tensor) -> Tensor:
    """WGAN-GP on the discriminator's head: ``mean((||grad_x D(x)|| - 1)^2)`` at random
    interpolations ``x`` of the real and generated responses' LSTM states (where the authors
    interpolate), with the norm over each example's whole sequence."""
    width = max(real.size(1), fake.size(1))
    real, fake = F.pad(real, (0, 0, 0, width - real.size(1))), F.pad(fake, (0, 0, 0, width - fake.size(1)))
    mask = F.pad(real_mask, (0, width - real_mask.size(1))) | F.pad(fake_mask, (0, width - fake_mask.size(1)))
    alpha = torch.rand(real.size(0), 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * fake + (1 - alpha) * real).detach().requires_grad_(True)
    score = disc.head(mixed, mask, feedback.detach(), condition)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class AdversarialLoss(LossTerm):
    Options = AdversarialOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        inputs: Optional[AdversarialInputs] = outputs.extras.get(ADVERSARIAL)
        if inputs is None or not inputs.discriminators:
            raise ValueError("loss 'empdg.adversarial' needs EmpDG with a discriminator (use the preset wo-d "
                             "without this loss)")
        zero = torch.zeros((), device=outputs.decoder.logits.device)
        step = self.context.step
        stage = stage_of(step, self.options)
        if not self.context.training or stage == "generator":
            return LossValue(zero, {})
        joint_step = step - self.options.generator_steps - self.options.critic_steps
        train_critic = stage == "critic" or joint_step % self.options.critic_every == 0
        train_generator = stage == "joint"

        rows = batch["feedback_mask"].any(1).nonzero().squeeze(1)
        if rows.numel() == 0:  # no example of this batch has a user feedback
            return LossValue(zero, {})
        labels = batch["labels"].index_select(0, rows)
        valid = labels.ne(-100)
        gold = labels.masked_fill(~valid, inputs.pad_id)
        log_probs = outputs.decoder.log_probs().index_select(0, rows)
        predicted = log_probs.argmax(-1).masked_fill(~valid, inputs.pad_id)
        feedback = batch["feedback_ids"].index_select(0, rows)
        feedback_mask = batch["feedback_mask"].index_select(0, rows)
        flags = inputs.emotion_flags
        tokens = straight_through(log_probs) if train_generator else None

        critic, generator, logs = zero, zero, {}
        for name, disc in inputs.discriminators.items():
            if name == SEMANTIC:
                real, real_mask, fake, fake_mask = gold, valid, predicted, valid
                fb, fb_mask = feedback, feedback_mask
                condition = inputs.context_state.index_select(0, rows)
                soft, soft_mask = tokens, valid
            else:  # emotional: emotion words of the response and of the feedback, each ended by EOS
                real, real_mask = append_token(*compact(gold, flags[gold] & valid), inputs.eos_id, inputs.pad_id)
                keep = flags[predicted] & valid
                fake, fake_mask = append_token(*compact(predicted, keep), inputs.eos_id, inputs.pad_id)
                fb, fb_mask = append_token(*compact(feedback, flags[feedback] & feedback_mask), inputs.eos_id,
                                           inputs.pad_id)
                condition = inputs.emotion_state.index_select(0, rows)
                soft, soft_mask = (append_token(*compact(tokens, keep), inputs.eos_id, inputs.pad_id)
                                   if tokens is not None else (None, None))
            if train_critic:
                fb_state = disc.final_state(fb, fb_mask)
                real_states = disc.sequence_states(disc.embed(real), real_mask)
                fake_states = disc.sequence_states(disc.embed(fake), fake_mask)
                d_real = disc.head(real_states, real_mask, fb_state, condition)
                d_fake = disc.head(fake_states, fake_mask, fb_state, condition)
                gp = gradient_penalty(disc, real_states, real_mask, fake_states, fake_mask, fb_state, condition)
                critic = critic + (d_fake - d_real).mean() + self.options.gp_lambda * gp
                logs[f"{name}_wasserstein"] = float((d_real - d_fake).mean().detach())
                logs[f"{name}_gp"] = float(gp.detach())
            if train_generator:
                frozen = {k: p.detach() for k, p in disc.named_parameters()}
                score = torch.func.functional_call(disc, frozen, (soft, soft_mask, fb, fb_mask, condition))
                generator = generator - score.mean()
                logs[f"{name}_generator"] = float(-score.mean().detach())
        return LossValue(critic + generator, logs)
