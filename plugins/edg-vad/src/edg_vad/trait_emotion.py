"""``vad.trait``: CTSM's trait-emotion encoding (§3.4.1, eq. 2-4).

Per token of the context::

    V_t = V_VAD ⊕ V_IDF ⊕ H~_C,   H~_C = W_C H_C          (eq. 2, 3)
    H_t = Encoder_t(V_t)                                   (eq. 4)

``V_VAD`` [L, 3] comes from the NRC VAD lexicon (unknown words: CTSM's neutral
``[0, 0.5, 0]``; ``handmade_lexicon: true`` uses edg-vad's shipped hand-made lexicon
instead, for offline smoke runs), ``V_IDF`` [L, 1] from the training split's IDF, divided
by its largest value (``idf_scaling: max``, the default) so that it lies in [0, 1] like the
VAD values (raw natural-log IDF reaches ~7–10 and would dominate the encoder's LayerNorm;
CTSM does not say how it scales IDF), ``H~_C`` [L, d_cs] is the
context encoding compressed by a linear map (``d_cs = 10`` in CTSM) and ``Encoder_t`` a
small Transformer encoder of width ``d_t = 3 + 1 + d_cs`` (CTSM keeps ``H_t`` in
``R^{L x d_t}``). Both lookups are buffers indexed by the batch's ``input_ids``, so the
vocabulary's VAD and IDF rows are computed once at build time.

CTSM predicts emotions from ``H_t`` only through its teacher/student guidance module (the
CTSM system's job); as a standalone EmotionModule this one pools ``H_t`` (masked mean) into
the representation and maps it to 32 logits with a linear layer. No positional encoding
is added: ``H~_C`` already carries the context encoder's positions.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional, Sequence

import torch
from pydantic import field_validator
from torch import Tensor, nn

from edg.config import StrictModel
from edg.errors import ConfigError
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.types import EmotionOutput
from edg_vad.features import CTSM_NEUTRAL, VadFeaturizer, idf_table_for_vocab
from edg_vad.lexicon import handmade_lexicon_path, load_lexicon, missing_lexicon_error


class TraitEmotionOptions(StrictModel):
    lexicon_path: Optional[str] = None
    """NRC-VAD-Lexicon.txt (not bundled: https://saifmohammad.com/WebPages/nrc-vad.html)."""
    handmade_lexicon: bool = False
    """Use edg-vad's shipped hand-made lexicon (284 words, original values, not NRC's) instead
    of ``lexicon_path``: for smoke runs and tiny presets that must run offline."""
    neutral: tuple[float, float, float] = CTSM_NEUTRAL
    """VAD of words missing from the lexicon (CTSM: [0.00, 0.50, 0.00])."""
    d_cs: int = 10
    """Width of the compressed semantics ``H~_C`` (CTSM: 10)."""
    d_model: Optional[int] = None
    """Width of the trait encoder; ``None``: ``d_t = 4 + d_cs`` as in CTSM. Another value adds
    a linear projection of ``V_t`` to it."""
    layers: int = 1
    heads: int = 2
    ffn_dim: Optional[int] = None
    """Feed-forward width of the trait encoder (``None``: 4 x its width)."""
    dropout: float = 0.1
    idf_unknown: Optional[float] = None
    """IDF of vocabulary tokens the training split never had (``None``: the IDF table's
    default, ``log N``)."""
    idf_scaling: Literal["max", "none"] = "max"
    """``max``: IDF divided by the vocabulary's largest value (to [0, 1], the VAD range);
    ``none``: raw natural-log IDF."""

    @field_validator("d_cs", "layers", "heads")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value


class TraitEmotion(EmotionModule):
    """Trait emotions from VAD, IDF and compressed semantics (CTSM eq. 2-4)."""

    Options = TraitEmotionOptions

    def __init__(
        self,
        options: TraitEmotionOptions,
        *,
        d_model: int,
        num_emotions: int = 32,
        vocab: Sequence[str],
        idf: Mapping[str, float],
    ) -> None:
        super().__init__(options, d_model=d_model, num_emotions=num_emotions)
        if options.handmade_lexicon and options.lexicon_path is not None:
            raise ConfigError("vad.trait: set either lexicon_path or handmade_lexicon: true, not both")
        if options.handmade_lexicon:
            lexicon_path = handmade_lexicon_path()
        elif options.lexicon_path is None:
            raise missing_lexicon_error(None)
        else:
            lexicon_path = options.lexicon_path
        featurizer = VadFeaturizer(load_lexicon(lexicon_path), options.neutral)
        # one row per vocabulary id: the batch's input_ids index them directly
        self.register_buffer("vad_table", featurizer.table_for_vocab(list(vocab)))  # [V, 3]
        idf_values = idf_table_for_vocab(list(vocab), idf, options.idf_unknown)
        if options.idf_scaling == "max" and idf_values.numel() and idf_values.max() > 0:
            idf_values = idf_values / idf_values.max()
        self.register_buffer("idf_table", idf_values)  # [V]
        self.register_buffer("in_lexicon_table", featurizer.in_lexicon_for_vocab(list(vocab)))  # [V] bool

        self.d_t = 3 + 1 + options.d_cs
        width = options.d_model or self.d_t
        if width % options.heads:
            raise ConfigError(
                f"vad.trait: the trait encoder width {width} is not divisible by heads={options.heads} "
                f"(width = d_model, or 4 + d_cs = {self.d_t} when d_model is unset)"
            )
        self.width = width
        self.compress = nn.Linear(d_model, options.d_cs, bias=False)  # W_C of eq. 3
        self.project = nn.Identity() if width == self.d_t else nn.Linear(self.d_t, width)
        layer = nn.TransformerEncoderLayer(
            d_model=width,
            nhead=options.heads,
            dim_feedforward=options.ffn_dim or 4 * width,
            dropout=options.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, options.layers, enable_nested_tensor=False)
        self.classifier = nn.Linear(width, num_emotions)

    def trait_features(self, hidden: Tensor, input_ids: Tensor) -> Tensor:
        """``V_t`` [B, L, 4 + d_cs] = VAD ⊕ IDF ⊕ W_C·H_C (eq. 2-3)."""
        compressed = self.compress(hidden)
        vad = self.vad_table[input_ids].to(compressed.dtype)
        idf = self.idf_table[input_ids].unsqueeze(-1).to(compressed.dtype)
        return torch.cat([vad, idf, compressed], dim=-1)

    def forward(self, hidden: Tensor, mask: Tensor, **features: Any) -> EmotionOutput:
        input_ids = features.get("input_ids")
        if input_ids is None:
            raise ConfigError(
                "vad.trait needs the batch feature 'input_ids' (the context token ids aligned with hidden)"
            )
        if input_ids.shape != mask.shape or hidden.shape[:2] != mask.shape:
            raise ValueError(
                f"vad.trait: hidden {tuple(hidden.shape)}, mask {tuple(mask.shape)} and "
                f"input_ids {tuple(input_ids.shape)} must agree on [B, L]"
            )
        mask = mask.bool()
        v_t = self.trait_features(hidden, input_ids)
        # a row without tokens would make attention NaN: let it attend to its padding
        padding = ~mask & mask.any(dim=1, keepdim=True)
        h_t = self.encoder(self.project(v_t), src_key_padding_mask=padding)  # eq. 4
        h_t = h_t.masked_fill(~mask.unsqueeze(-1), 0.0)
        weights = mask.unsqueeze(-1).to(h_t.dtype)
        pooled = (h_t * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return EmotionOutput(
            logits=self.classifier(pooled),
            representation=pooled,
            extras={
                "hidden": h_t,  # H_t [B, L, d]
                "features": v_t,  # V_t [B, L, 4 + d_cs]
                "vad": v_t[..., :3],  # V_VAD [B, L, 3]
                "in_lexicon": self.in_lexicon_table[input_ids] & mask,  # [B, L] bool
            },
        )
