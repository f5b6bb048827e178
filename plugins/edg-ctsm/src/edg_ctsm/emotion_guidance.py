"""Emotion guidance module (CTSM §3.5, eq. 10–19): teacher and student heads.

* Emotion intensity ``I`` of every context token (Li et al., 2022, KEMP):
  ``η(w) = (‖[V(w) − 1/2, A(w)/2]‖₂ − 0.06467) / 0.607468`` from the word's NRC-VAD valence
  ``V`` and arousal ``A`` (KEMP's min-max normalisation constants), 0 for words outside the
  lexicon (:func:`emotion_intensity`).
* Intensity pooling (eq. 11 / 17): ``C = Σ_l softmax_l(I)_l · V_l`` over the real tokens
  (:func:`intensity_pool`); the paper's "SUM over the first dimension" sums the L
  positions, so ``C`` is one vector per dialogue.
* Head (eq. 12–14, :class:`GuidanceHead`): ``S = softmax(W_3^s tanh(W_3^c C + b_3))`` is an
  attention distribution over the ``D`` feature dimensions of ``C`` (eq. 12, the form of
  a structured self-attention score, Lin et al. 2017); ``C_tchr S`` (eq. 13) applies it to
  ``C`` as a feature re-weighting ``D · S ⊙ C``. The factor ``D`` makes the weights average
  1, so uniform attention is the identity and ``S`` redistributes ``C``'s magnitude
  between features instead of shrinking it: the bare product ``S ⊙ C`` divides ``C`` by
  ``D`` (~357) on average, which made the head's output independent of its input (a
  teacher that predicts one class whatever the dialogue).
  ``S' = tanh(W_4 (D · S ⊙ C) + b_4)`` (eq. 13); logits ``W_out S' + b_out``
  (``P_e = softmax(logits)``, eq. 14).
* Initialisation (the paper is silent): ``b_out`` of both heads starts at the log of the
  training split's emotion frequencies (:meth:`EmotionGuidance.init_prior`). The class prior
  is what cross-entropy learns first; starting from zero, every weight of ``W_4`` takes
  part in learning it along the dialogue-invariant part of ``C`` (Adam turns that small,
  consistent gradient into full-size steps), which saturates the tanh of eq. 13 within a
  few hundred steps at learning rates from 1e-3 to 5e-3 and leaves a head that predicts one
  class. Starting at the prior, the head learns what separates the dialogues.
* Teacher: ``V_tchr = H_C^tchr ⊕ V_t ⊕ V_s`` (eq. 10); student:
  ``V_stu = H_C^stu ⊕ H_t ⊕ H_s`` (eq. 16); same head structure, separate weights.
  Predictions come from the student (``ê = argmax P_e^stu``).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from edg_ctsm.encoders import masked_softmax

#: KEMP's constants: the smallest and the range of ‖[V − 0.5, A/2]‖ over the NRC-VAD lexicon.
INTENSITY_MIN = 0.06467
INTENSITY_RANGE = 0.607468


def emotion_intensity(vad: Tensor, in_lexicon: Optional[Tensor] = None) -> Tensor:
    """KEMP's emotion intensity of each token from its VAD values [..., 3] -> [...]."""
    valence, arousal = vad[..., 0], vad[..., 1]
    norm = torch.sqrt((valence - 0.5) ** 2 + (arousal / 2) ** 2)
    value = (norm - INTENSITY_MIN) / INTENSITY_RANGE
    if in_lexicon is not None:
        value = torch.where(in_lexicon, value, torch.zeros_like(value))
    return value


def intensity_weights(intensity: Tensor, mask: Tensor) -> Tensor:
    """``softmax(I)`` over the real tokens of each dialogue [B, L] (padding gets 0)."""
    return masked_softmax(intensity.float(), mask, dim=-1)


def intensity_pool(features: Tensor, intensity: Tensor, mask: Tensor) -> Tensor:
    """Eq. 11 / 17: ``Σ_l softmax(I)_l · V_l`` -> [B, D]."""
    weights = intensity_weights(intensity, mask).to(features.dtype)
    return (weights.unsqueeze(-1) * features).sum(1)


class GuidanceHead(nn.Module):
    """Eq. 12–14: feature attention over a pooled semantic-emotion context -> 32 logits."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_emotions: int = 32,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.w3_c = nn.Linear(input_dim, hidden_dim)  # W_3^c, b_3
        self.w3_s = nn.Linear(hidden_dim, input_dim, bias=False)  # W_3^s
        self.w4 = nn.Linear(input_dim, output_dim)  # W_4, b_4
        self.out = nn.Linear(output_dim, num_emotions)  # W_out, b_out
        self.dropout = nn.Dropout(dropout)

    def attention(self, c: Tensor) -> Tensor:
        """``S`` (eq. 12): a distribution over the feature dimensions of ``C`` [B, D]."""
        return torch.softmax(self.w3_s(torch.tanh(self.w3_c(c))), dim=-1)

    def attend(self, c: Tensor) -> Tensor:
        """``C_tchr S`` of eq. 13: ``D · S ⊙ C`` (weights of mean 1, see the module docstring)."""
        return c * self.attention(c) * c.size(-1)

    def forward(self, c: Tensor) -> Tensor:
        s_prime = torch.tanh(self.w4(self.dropout(self.attend(c))))  # eq. 13
        return self.out(s_prime)  # eq. 14 (logits; P_e = softmax)


class EmotionGuidance(nn.Module):
    """Teacher and student heads of the emotion guidance module.

    ``teacher_dim=None`` builds the student alone (the w/o EGM ablation: no teacher, the
    student's intensity pooling and eq. 12–14 head stay and learn from the gold label)."""

    def __init__(self, teacher_dim: Optional[int], student_dim: int, hidden_dim: int, num_emotions: int = 32,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.teacher = (GuidanceHead(teacher_dim, hidden_dim, hidden_dim, num_emotions, dropout)
                        if teacher_dim is not None else None)
        self.student = GuidanceHead(student_dim, hidden_dim, hidden_dim, num_emotions, dropout)

    @torch.no_grad()
    def init_prior(self, counts: Tensor) -> None:
        """``b_out`` of both heads := log of the (add-one smoothed) emotion frequencies."""
        log_prior = torch.log((counts.float() + 1.0) / (counts.float() + 1.0).sum())
        for head in (self.teacher, self.student):
            if head is not None:
                head.out.bias.copy_(log_prior.to(head.out.bias))

    def forward(self, v_teacher: Optional[Tensor], v_student: Tensor, intensity: Tensor,
                mask: Tensor) -> tuple[Optional[Tensor], Tensor]:
        """Teacher logits (``None`` without a teacher) and student logits."""
        student = self.student(intensity_pool(v_student, intensity, mask))
        if self.teacher is None or v_teacher is None:
            return None, student
        return self.teacher(intensity_pool(v_teacher, intensity, mask)), student
