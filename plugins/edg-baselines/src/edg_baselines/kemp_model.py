"""KEMP's network (Li et al., 2022; the authors' ``KEMP.train_one_batch``):

1. vertex embeddings: context tokens ``word + dialogue state`` ([CLS] first), concepts
   ``word + knowledge state`` ([SEP] first);
2. the emotional context graph encoding (``kemp_graph_attention``) updates the context
   vertices from their neighbours (``graph: false``: no concepts, no graph -- KEMP w/o ECE);
3. sinusoidal positions over the concatenated vertices and a Transformer encoder;
4. the emotion signal (a registered emotion module, by default ``kemp.emotion_signal``):
   intensity-weighted context ``c_e`` and emotion logits ``e_p``;
5. the decoder (by default ``kemp.decoder``) starts from ``W_z e_p``, fuses ``c_e`` into its
   cross-attention and copies from the graph's tokens.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.api import DialogueEmbedding
from edg.baseline.layer_step import transformer_encoder
from edg.interfaces.decoder import Decoder
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg_baselines.kemp_decoder import EMOTION_CONTEXT, EMOTION_START, SOURCE_IDS
from edg_baselines.kemp_graph_attention import EmotionalContextGraphAttention, graph_adjacency


class KempModel(EdgModel):
    def __init__(self, embedding: DialogueEmbedding, *, d_model: int, layers: int, heads: int, ffn_dim: int,
                 dropout: float, graph_dropout: float, graph: bool, emotion: EmotionModule, decoder: Decoder,
                 num_emotions: int = 32, attention_dim: Optional[int] = None, feed_forward: str = "linear") -> None:
        super().__init__()
        self.embedding = embedding
        self.graph = graph
        # the knowledge state of concept vertices (the authors' [KG] state); the core's
        # dialogue embedding holds the speaker/listener states only
        self.knowledge_state = nn.Parameter(torch.zeros(d_model)) if graph else None
        self.graph_attention = EmotionalContextGraphAttention(d_model, heads, graph_dropout) if graph else None
        self.encoder = transformer_encoder(d_model, layers, heads, ffn_dim, dropout, attention_dim, feed_forward)
        self.emotion = emotion
        self.emotion_start = nn.Linear(num_emotions, d_model)  # W_z: e_p -> the decoder's first input
        self.decoder = decoder

    def _vertices(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Vertex states [B, S, D] before the encoder, their mask, intensities and token ids."""
        emb = self.embedding
        ids, mask = batch["input_ids"], batch["attention_mask"]
        x = emb.word(ids) * emb.scale + emb.state(batch["role_ids"])
        intensity = batch["context_intensity"]
        if not self.graph:
            return x, mask, intensity, ids
        concept_ids = batch["concept_ids"]
        concept_mask = batch["concept_owner"] >= -1
        concepts = emb.word(concept_ids) * emb.scale + self.knowledge_state
        x = self.graph_attention(x, concepts, graph_adjacency(mask, batch["concept_owner"]))
        return (torch.cat([x, concepts], 1), torch.cat([mask, concept_mask], 1),
                torch.cat([intensity, batch["concept_intensity"]], 1), torch.cat([ids, concept_ids], 1))

    def _encode(self, batch: dict[str, Any]) -> tuple[EncoderOutput, EmotionOutput]:
        x, mask, intensity, source_ids = self._vertices(batch)
        emb = self.embedding
        if x.size(1) > emb.positions.size(0):
            raise ValueError(f"{x.size(1)} graph vertices exceed model.max_positions {emb.positions.size(0)}")
        x = emb.dropout(x + emb.positions[: x.size(1)])
        hidden = self.encoder(x, src_key_padding_mask=~mask)
        emotion = self.emotion(hidden, mask, intensity=intensity)
        extras = {SOURCE_IDS: source_ids, EMOTION_CONTEXT: emotion.representation,
                  EMOTION_START: self.emotion_start(emotion.logits.to(hidden.dtype))}
        return EncoderOutput(hidden, mask, extras), emotion

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self._encode(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, emotion = self._encode(batch)
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion)

    def predict_emotion(self, batch: dict[str, Any]) -> Optional[Tensor]:
        return self._encode(batch)[1].logits
