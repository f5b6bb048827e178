"""Decoder ``imagine.decoder``: verbal expression (§3.3, eq. 18), a Transformer decoder
whose first input y_0 is the emotion signal ê_emo (projected to d, as KEMP feeds its
emotion logits through a linear layer in place of the start token) and whose
cross-attention reads the knowledge-refined cause representation Ĥ_C (eq. 17).

Ĥ_C is ``memory_dim`` wide (4d for the full model); it is projected to d once and the
standard cross-attention runs over the projection: a composition of two linear maps, the
same function class as key/value projections that read 4d inputs directly. The output
projection is tied to the shared word embedding (MoEL/CEM).

``memory.extras["first_input"]`` [B, d] holds the projected ê_emo; the [BOS] position of
``input_ids`` is replaced by it (plus the first position's encoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from edg.api import memory_keys_values, step_layer
from edg.config import StrictModel
from edg.interfaces.decoder import Decoder, follow_rows
from edg.interfaces.types import DecoderOutput, EncoderOutput


class EmotionFirstDecoderOptions(StrictModel):
    layers: int = 1
    heads: int = 2
    ffn_dim: int = 50
    dropout: float = 0.1


@dataclass
class EmotionFirstState:
    rows: Tensor
    """[N] the example (row of ``cross``/``memory_mask``/``first``) each row decodes."""
    memory_mask: Tensor
    """[M, 1, 1, L] True on real memory tokens."""
    cross: list[tuple[Tensor, Tensor]]
    first: Tensor
    """[M, d] the projected ê_emo of each example."""
    past: list[tuple[Tensor, Tensor]]
    position: int = 0
    hidden: Optional[Tensor] = None


class EmotionFirstDecoder(Decoder):
    Options = EmotionFirstDecoderOptions

    def __init__(self, options: EmotionFirstDecoderOptions, *, d_model: int, memory_dim: int, embedding: nn.Module,
                 bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        self.embedding = embedding  # edg.api.DialogueEmbedding, shared with the encoders
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.memory_projection = nn.Linear(memory_dim, d_model, bias=False)
        layer = nn.TransformerDecoderLayer(d_model, options.heads, options.ffn_dim, options.dropout,
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, options.layers, norm=nn.LayerNorm(d_model))

    def _inputs(self, input_ids: Tensor, first: Tensor) -> Tensor:
        emb = self.embedding
        t = input_ids.size(1)
        if t > emb.positions.size(0):
            raise ValueError(f"sequence of {t} tokens exceeds max_len {emb.positions.size(0)}")
        words = emb.word(input_ids) * emb.scale
        words = torch.cat([first[:, None].to(words.dtype), words[:, 1:]], 1)  # y_0 = ê_emo
        return emb.dropout(words + emb.positions[:t])

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        t = input_ids.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=input_ids.device), diagonal=1)
        padding = input_ids.eq(self.pad_id)
        padding[:, 0] = False
        return self.layers(self._inputs(input_ids, memory.extras["first_input"]),
                           self.memory_projection(memory.hidden), tgt_mask=causal, tgt_key_padding_mask=padding,
                           memory_key_padding_mask=~memory.mask)

    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden = self.hidden_states(input_ids, memory)
        return DecoderOutput(hidden @ self.embedding.word.weight.t(), hidden)

    # -- incremental decoding ----------------------------------------------------------------
    def start(self, memory: EncoderOutput) -> EmotionFirstState:
        projected = self.memory_projection(memory.hidden)
        cross = [memory_keys_values(layer, projected) for layer in self.layers.layers]
        rows = torch.arange(memory.batch_size, device=memory.hidden.device)
        return EmotionFirstState(rows, memory.mask[:, None, None, :], cross, memory.extras["first_input"], [])

    def step(self, tokens: Tensor, state: EmotionFirstState) -> tuple[Tensor, EmotionFirstState]:
        emb = self.embedding
        if state.position >= emb.positions.size(0):
            raise ValueError(f"sequence of {state.position + 1} tokens exceeds max_len {emb.positions.size(0)}")
        if state.position == 0:  # the BOS slot takes ê_emo
            x = state.first.index_select(0, state.rows)[:, None]
        else:
            x = emb.word(tokens[:, None]) * emb.scale
        x = emb.dropout(x + emb.positions[state.position])
        mask = state.memory_mask.index_select(0, state.rows)
        past = []
        for i, layer in enumerate(self.layers.layers):
            keys, values = state.cross[i]
            x, kv = step_layer(layer, x, state.past[i] if state.past else None,
                               (keys.index_select(0, state.rows), values.index_select(0, state.rows)), mask)
            past.append(kv)
        hidden = self.layers.norm(x)[:, 0]
        log_probs = torch.log_softmax((hidden @ emb.word.weight.t()).float(), -1)
        return log_probs, EmotionFirstState(state.rows, state.memory_mask, state.cross, state.first, past,
                                            state.position + 1, hidden)

    def reorder(self, state: EmotionFirstState, index: Tensor) -> EmotionFirstState:
        rows, _moved = follow_rows(state.rows, index)  # memory tensors stay per example; rows pick them
        past = [(k.index_select(0, index), v.index_select(0, index)) for k, v in state.past]
        return EmotionFirstState(rows, state.memory_mask, state.cross, state.first, past, state.position, None)

    def last_hidden(self, state: EmotionFirstState) -> Optional[Tensor]:
        return state.hidden

