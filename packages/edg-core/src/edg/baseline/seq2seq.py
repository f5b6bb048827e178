"""The from-scratch Transformer encoder-decoder (the "Transformer" row of every table),
optionally with an emotion module on the encoder (Multi-TRS)."""

from __future__ import annotations

from typing import Any, Optional

from edg.baseline.layer_step import transformer_encoder
from edg.interfaces.decoder import Decoder
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EncoderOutput, ModelOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding


class TransformerSeq2Seq(EdgModel):
    def __init__(self, embedding: DialogueEmbedding, *, d_model: int, layers: int, heads: int,
                 ffn_dim: int, dropout: float, decoder: Decoder,
                 emotion: Optional[EmotionModule] = None, attention_dim: Optional[int] = None) -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = transformer_encoder(d_model, layers, heads, ffn_dim, dropout, attention_dim)
        self.decoder = decoder
        self.emotion = emotion

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        hidden = self.encoder(self.embedding(ids, batch.get("role_ids")), src_key_padding_mask=~mask)
        return EncoderOutput(hidden, mask, {"input_ids": ids})

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory = self.encode(batch)
        emotion = None
        if self.emotion is not None:
            emotion = self.emotion(memory.hidden, memory.mask, input_ids=batch["input_ids"])
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion)

    def predict_emotion(self, batch: dict[str, Any]):
        if self.emotion is None:
            return None
        memory = self.encode(batch)
        return self.emotion(memory.hidden, memory.mask, input_ids=batch["input_ids"]).logits
