"""MIME's network (Majumder et al., 2020; the authors' ``Train_MIME``):

1. a Transformer encoder over ``[CLS] + context``; ``c`` is the state at [CLS];
2. emotion classification ``logits = (W_s c) E^T`` against the emotion embeddings ``E`` [32, D];
3. the stochastic emotion mixture per polarity group (``emotion_mixture``);
4. emotion mimicry: the group of the user's emotion (gold in training, predicted at inference)
   is the mimicking emotion ``e_m``, the other group the non-mimicking ``e_~m``;
5. two emotion-aware context encoders give ``m = Enc_1([H; e_m])`` and ``m~ = Enc_2([H; e_~m])``;
6. the gate fuses them into ``v`` [B, L, D];
7. the response decoder (a registered decoder, by default the core's ``transformer``) attends
   over ``v`` -- MIME's emotion-aware decoder.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.interfaces.decoder import Decoder
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg.baseline.layer_step import transformer_encoder
from edg_baselines.emotion_context_encoder import EmotionContextEncoder
from edg_baselines.emotion_mixture import (
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    StochasticEmotionMixture,
    group_indices,
    is_positive,
)
from edg_baselines.kl_loss import KL_KEY
from edg_baselines.mimicry_gate import MimicryGate


class MimeModel(EdgModel):
    def __init__(self, embedding: DialogueEmbedding, *, d_model: int, layers: int, heads: int, ffn_dim: int,
                 dropout: float, latent: int, decoder: Decoder, num_emotions: int = 32, grouping: bool = True,
                 mimicry: bool = True, stochastic: bool = True, attention_dim: Optional[int] = None,
                 feed_forward: str = "linear") -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = transformer_encoder(d_model, layers, heads, ffn_dim, dropout, attention_dim, feed_forward)
        self.emotion_embedding = nn.Embedding(num_emotions, d_model)
        self.emotion_query = nn.Linear(d_model, d_model, bias=False)
        self.grouping, self.mimicry = grouping, mimicry and grouping
        groups = ([group_indices(POSITIVE_EMOTIONS), group_indices(NEGATIVE_EMOTIONS)] if grouping
                  else [list(range(num_emotions))])
        self.mixture = StochasticEmotionMixture(d_model, latent, groups, stochastic=stochastic)
        kw = dict(layers=layers, heads=heads, ffn_dim=ffn_dim, dropout=dropout, attention_dim=attention_dim,
                  feed_forward=feed_forward)
        self.mimic_encoder = EmotionContextEncoder(d_model, d_model, **kw)
        self.non_mimic_encoder = EmotionContextEncoder(d_model, d_model, **kw) if grouping else None
        self.gate = MimicryGate(d_model) if grouping else None
        self.decoder = decoder

    def _encode(self, batch: dict[str, Any]) -> tuple[EncoderOutput, EmotionOutput, Optional[Tensor]]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        hidden = self.encoder(self.embedding(ids, batch.get("role_ids")), src_key_padding_mask=~mask)
        context = hidden[:, 0]
        table = self.emotion_embedding.weight
        logits = self.emotion_query(context) @ table.t()
        samples = self.mixture(context, table)
        if not self.grouping:
            mimic_vec = samples[0].vector
            v = self.mimic_encoder(hidden, mask, mimic_vec)
            group_contexts = [v.mean(1)]
            extras = {"emotion_mixture": samples[0].weights}
        else:
            positive, negative = samples[0].vector, samples[1].vector
            if self.mimicry:
                # the user's polarity: gold emotion while training (as the authors), predicted otherwise
                emotion = batch["emotion_id"] if self.training else logits.argmax(-1)
                user_positive = is_positive(emotion)[:, None]
                mimic_vec = torch.where(user_positive, positive, negative)
                non_mimic_vec = torch.where(user_positive, negative, positive)
            else:
                user_positive = torch.ones(context.size(0), 1, dtype=torch.bool, device=context.device)
                mimic_vec, non_mimic_vec = positive, negative  # fixed slots, no polarity-dependent swap
            m = self.mimic_encoder(hidden, mask, mimic_vec)
            m_tilde = self.non_mimic_encoder(hidden, mask, non_mimic_vec)
            v = self.gate(m, m_tilde)
            # the posterior of each group sees that group's emotion-aware context
            pos_ctx = torch.where(user_positive, m.mean(1), m_tilde.mean(1))
            neg_ctx = torch.where(user_positive, m_tilde.mean(1), m.mean(1))
            group_contexts = [pos_ctx, neg_ctx]
            extras = {"mimic_emotion": mimic_vec, "non_mimic_emotion": non_mimic_vec,
                      "positive_mixture": samples[0].weights, "negative_mixture": samples[1].weights}
        kl = self.mixture.kl(context, group_contexts, samples)
        memory = EncoderOutput(v, mask, {"input_ids": ids})
        return memory, EmotionOutput(logits, context, extras), kl

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self._encode(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, emotion, kl = self._encode(batch)
        extras = {} if kl is None else {KL_KEY: kl}
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion, extras)

    def predict_emotion(self, batch: dict[str, Any]) -> Optional[Tensor]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        hidden = self.encoder(self.embedding(ids, batch.get("role_ids")), src_key_padding_mask=~mask)
        return self.emotion_query(hidden[:, 0]) @ self.emotion_embedding.weight.t()
