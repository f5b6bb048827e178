"""MoEL's network (Lin et al., 2019): a Transformer encoder over ``[CLS] + context``, the
emotion tracker on the [CLS] state, the listener weights it gives (top-k softmax), and the
listener-mixture decoder (``moel.listeners``).

Training follows the authors' code (``--schedule 10000``): each training batch uses the gold
emotion as a one-hot listener weighting ("oracle") with probability
``1e-4 + (1 - 1e-4) * exp(-batches / oracle_schedule)``, so early training routes every
example to its own emotion's listener and later training to the predicted top-k mixture.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.interfaces.decoder import Decoder
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg.baseline.layer_step import transformer_encoder
from edg_baselines.listener_mixture_decoder import PERSONA, WEIGHTS

#: the floor of the oracle probability in the authors' schedule
ORACLE_FLOOR = 1e-4


def top_k_distribution(logits: Tensor, k: int) -> Tensor:
    """Softmax over the ``k`` largest logits of each row, zero elsewhere (``k <= 0`` or
    ``k >= n``: softmax over all)."""
    if k <= 0 or k >= logits.size(-1):
        return torch.softmax(logits, dim=-1)
    values, index = logits.topk(k, dim=-1)
    masked = torch.full_like(logits, float("-inf")).scatter(-1, index, values)
    return torch.softmax(masked, dim=-1)


def oracle_probability(batches_seen: int, schedule: float) -> float:
    """Probability that a training batch uses the gold emotion's listener (0 when off)."""
    if schedule <= 0:
        return 0.0
    return ORACLE_FLOOR + (1 - ORACLE_FLOOR) * math.exp(-batches_seen / schedule)


class MoelModel(EdgModel):
    def __init__(self, embedding: DialogueEmbedding, *, d_model: int, layers: int, heads: int, ffn_dim: int,
                 dropout: float, emotion: EmotionModule, decoder: Decoder, top_k: int, oracle_schedule: float,
                 attention_dim: Optional[int] = None, feed_forward: str = "linear", num_speakers: int = 0) -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = transformer_encoder(d_model, layers, heads, ffn_dim, dropout, attention_dim, feed_forward)
        self.emotion = emotion
        self.decoder = decoder
        self.top_k = top_k
        self.oracle_schedule = oracle_schedule
        # Li et al. (2016) speaker embeddings of the responder; row 0: a speaker not seen in training
        self.persona = nn.Embedding(num_speakers + 1, d_model) if num_speakers > 0 else None
        # training batches seen, for the oracle schedule (saved with the weights, so a resumed run continues it)
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))

    def _encode(self, batch: dict[str, Any]) -> tuple[EncoderOutput, EmotionOutput]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        hidden = self.encoder(self.embedding(ids, batch.get("role_ids")), src_key_padding_mask=~mask)
        emotion = self.emotion(hidden, mask, input_ids=ids)
        weights = top_k_distribution(emotion.logits.float(), self.top_k)
        if self.training:
            weights = self._maybe_oracle(weights, batch)
        extras: dict[str, Any] = {"input_ids": ids, WEIGHTS: weights}
        if self.persona is not None:
            extras[PERSONA] = self.persona(self._responders(batch, ids))
        return EncoderOutput(hidden, mask, extras), emotion

    def _responders(self, batch: dict[str, Any], ids: Tensor) -> Tensor:
        responders = batch.get("responder_id")
        if responders is None:
            return torch.zeros(ids.size(0), dtype=torch.long, device=ids.device)
        return responders

    def _maybe_oracle(self, weights: Tensor, batch: dict[str, Any]) -> Tensor:
        p = oracle_probability(int(self.batches_seen), self.oracle_schedule)
        self.batches_seen += 1
        if p > 0 and float(torch.rand(())) <= p:
            return F.one_hot(batch["emotion_id"], weights.size(-1)).to(weights.dtype)
        return weights

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self._encode(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, emotion = self._encode(batch)
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion)

    def predict_emotion(self, batch: dict[str, Any]) -> Optional[Tensor]:
        return self._encode(batch)[1].logits
