"""EmotionModule ``ctsm.state``: CTSM's state emotion encoding (§3.4.2, eq. 5–9).

State emotions are context-dependent, so they are read off the context embedding:

* ``Ẽ_e = W_1·Embedding(e) + b_1`` (eq. 5), the 32 emotion *words* (the label set, never
  the gold label) embedded with the shared word embedding and projected;
* ``Ẽ_C = W_2·E_C + b_2`` (eq. 6), the context embedding (word + position + state) projected;
* ``V_cos = cos(Ẽ_C, Ẽ_e^T)`` [B, L, 32] (eq. 7), the dynamic state inclination;
* ``V_s = V_cos ⊕ V_IDF ⊕ H̃_C`` [B, L, 32 + 1 + d_cs] (eq. 8), with ``H̃_C = W_C'·H_C``
  this module's own semantic compression (eq. 3's form, own weights, so that the w/o TEE and
  w/o SEE ablations each remove exactly their own parameters);
* ``H_s = Encoder_s(V_s)`` [B, L, d_s] (eq. 9), a Transformer encoder of width ``d_s``,
  with no positional encoding added (eq. 9 has none, and ``H̃_C`` already carries the
  context encoder's positions; an amplitude-1 sinusoid on top of ``V_cos`` values of a few
  tenths would drown the state inclination).

Feature scales: ``V_cos`` is a cosine, in [-1, 1], and starts meaningful (``tied_init``:
``W_2`` starts as a copy of ``W_1``); ``V_IDF`` is divided by the
vocabulary's largest IDF (``idf_scaling: max``, the default) so that it lies in [0, 1]
instead of reaching ~7–10 (natural-log IDF) beside the cosines; ``H̃_C`` is learned.

Built as ``cls(options, d_model=..., num_emotions=32, vocab=[tokens], idf={word: value})``;
``forward(hidden=H_C, mask, input_ids=..., context_embedding=E_C, emotion_embedding=[32, d])``.

The returned :class:`EmotionOutput` has ``logits`` = the masked mean of ``V_cos`` over the
tokens divided by ``logit_temperature`` (a parameter-free 32-way reading of the state
inclination; CTSM itself predicts emotion with the student of §3.5), ``representation`` =
mean-pooled ``H_s`` and ``extras`` = ``{"hidden": H_s, "embedding": V_s, "cos": V_cos}``.
"""

from __future__ import annotations

from typing import Literal, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.types import EmotionOutput
from edg_baselines.cem_encoder import CemEncoder, masked_mean


class StateEmotionOptions(StrictModel):
    d_cs: int = 10
    """Width of the compressed semantics ``H̃_C`` (§4.2: 10)."""
    projection_dim: Optional[int] = None
    """Width of ``Ẽ_e`` and ``Ẽ_C`` (eq. 5–6); ``None``: ``d_model``."""
    layers: int = 1
    heads: int = 1
    """Attention heads of ``Encoder_s``; must divide ``d_s = num_emotions + 1 + d_cs`` (43)."""
    ffn_dim: int = 64
    dropout: float = 0.1
    idf_scaling: Literal["none", "max"] = "max"
    """``max``: IDF divided by the vocabulary's largest value (to [0, 1], as ``vad.trait``
    does by default); ``none``: raw natural-log IDF."""
    logit_temperature: float = 0.1
    tied_init: bool = True
    """Initialise ``W_2, b_2`` (eq. 6) equal to ``W_1, b_1`` (eq. 5), so that ``V_cos`` starts
    as the cosine between a token's and an emotion word's embeddings projected alike (the
    token "afraid" is close to the emotion "afraid") instead of between two unrelated random
    projections (|V_cos| ~ 0.05 for every pair). The paper does not say how they start."""


def cosine_inclination(context: Tensor, emotions: Tensor, eps: float = 1e-8) -> Tensor:
    """``V_cos`` (eq. 7): cosine of every context position [B, L, P] with every emotion
    word [E, P] -> [B, L, E]."""
    c = F.normalize(context, dim=-1, eps=eps)
    e = F.normalize(emotions, dim=-1, eps=eps)
    return c @ e.t()


def idf_table(vocab: Sequence[str], idf: Optional[Mapping[str, float]], scaling: str = "none") -> Tensor:
    """IDF per vocabulary id. Tokens the table lacks (special tokens, words unseen in the
    training split) get the table's default (``IdfTable.default`` = log N, as ``vad.trait``
    does), or 0 for a plain dict without one."""
    values = torch.zeros(len(vocab))
    if idf:
        unknown = float(getattr(idf, "default", 0.0) or 0.0)
        for i, token in enumerate(vocab):
            value = idf.get(token)
            values[i] = unknown if value is None else float(value)
    if scaling == "max" and values.max() > 0:
        values = values / values.max()
    return values


class StateEmotion(EmotionModule):
    Options = StateEmotionOptions

    def __init__(self, options: StateEmotionOptions, *, d_model: int, num_emotions: int = 32,
                 vocab: Optional[Sequence[str]] = None, idf: Optional[Mapping[str, float]] = None,
                 **_: object) -> None:
        super().__init__(options, d_model=d_model, num_emotions=num_emotions)
        proj = options.projection_dim or d_model
        self.w1 = nn.Linear(d_model, proj)  # eq. 5
        self.w2 = nn.Linear(d_model, proj)  # eq. 6
        if options.tied_init:
            with torch.no_grad():  # same projection at the start; both train freely after
                self.w2.weight.copy_(self.w1.weight)
                self.w2.bias.copy_(self.w1.bias)
        self.compress = nn.Linear(d_model, options.d_cs)  # H̃_C
        self.d_s = num_emotions + 1 + options.d_cs
        self.encoder = CemEncoder(self.d_s, self.d_s, layers=options.layers, heads=options.heads,
                                  ffn_dim=options.ffn_dim, dropout=options.dropout, positions=False)
        table = idf_table(list(vocab or []), idf, options.idf_scaling)
        self.register_buffer("idf", table)

    @property
    def output_dim(self) -> int:
        return self.d_s

    def embed(self, hidden: Tensor, input_ids: Tensor, context_embedding: Tensor,
              emotion_embedding: Tensor) -> tuple[Tensor, Tensor]:
        """``(V_s, V_cos)`` (eq. 5–8)."""
        v_cos = cosine_inclination(self.w2(context_embedding), self.w1(emotion_embedding))
        if self.idf.numel():
            v_idf = self.idf[input_ids].unsqueeze(-1).to(hidden.dtype)
        else:
            v_idf = torch.zeros_like(hidden[..., :1])
        v_s = torch.cat([v_cos.to(hidden.dtype), v_idf, self.compress(hidden)], dim=-1)
        return v_s, v_cos

    def forward(self, hidden: Tensor, mask: Tensor, **features: Tensor) -> EmotionOutput:
        for name in ("input_ids", "context_embedding", "emotion_embedding"):
            if name not in features:
                raise ValueError(f"ctsm.state needs the feature '{name}'")
        v_s, v_cos = self.embed(hidden, features["input_ids"], features["context_embedding"],
                                features["emotion_embedding"])
        h_s = self.encoder(v_s, mask)
        logits = masked_mean(v_cos, mask) / self.options.logit_temperature
        return EmotionOutput(logits, masked_mean(h_s, mask), {"hidden": h_s, "embedding": v_s, "cos": v_cos})
