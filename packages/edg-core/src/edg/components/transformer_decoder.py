"""Decoder ``transformer``: a Transformer decoder over the encoder memory, with the output
projection tied to the shared word embedding (as MoEL/CEM)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import DecoderOutput, EncoderOutput
from edg.models.embeddings import DialogueEmbedding


class TransformerDecoderOptions(StrictModel):
    layers: int = 2
    heads: int = 2
    ffn_dim: int = 1024
    dropout: float = 0.1


class TransformerDecoder(Decoder):
    Options = TransformerDecoderOptions

    def __init__(self, options: TransformerDecoderOptions, *, d_model: int, embedding: DialogueEmbedding,
                 bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        self.embedding = embedding
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        layer = nn.TransformerDecoderLayer(d_model, options.heads, options.ffn_dim, options.dropout,
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, options.layers, norm=nn.LayerNorm(d_model))

    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden = self.hidden_states(input_ids, memory)
        return DecoderOutput(hidden @ self.embedding.word.weight.t(), hidden)

    def next_token(self, prefix: Tensor, memory: EncoderOutput) -> Tensor:
        # project only the last position onto the vocabulary: the costliest product
        last = self.hidden_states(prefix, memory)[:, -1]
        return torch.log_softmax((last @ self.embedding.word.weight.t()).float(), dim=-1)

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        t = input_ids.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=input_ids.device), diagonal=1)
        return self.layers(
            self.embedding(input_ids),
            memory.hidden,
            tgt_mask=causal,
            tgt_key_padding_mask=input_ids.eq(self.pad_id) & input_ids.ne(self.bos_id),
            memory_key_padding_mask=~memory.mask,
        )
