"""Decoder ``moel.listeners``: MoEL's emotion-aware listeners and meta listener
(Lin et al., 2019, §3.3-3.4; the authors' ``MulDecoder``).

Each of the ``num_listeners`` listeners (one per emotion) and the shared listener is one
Transformer decoder layer over the response prefix and the encoder memory. Their outputs are
combined with the listener weights ``w`` [B, n] (the top-k emotion distribution, computed by
the model and passed in ``memory.extras["listener_weights"]``)::

    V = V_shared + sum_i w_i V_i

and the meta listener (``meta_layers`` decoder layers over ``V`` and the memory, then a layer
norm) produces the states projected onto the vocabulary.

Incremental decoding keeps a key/value cache per layer (each listener, the shared listener,
each meta layer). Listeners whose weight is zero in every row (outside every row's top k)
contribute exactly nothing; they are skipped, and during a search they stay skipped since
rows only get reordered. Under teacher forcing each listener also runs only on the rows that
weight it, so a training step costs about ``top_k + 1`` listener passes per example instead of
33 (the authors' code runs all 32 on every row; the sum is the same).

An optional persona vector ``memory.extras["persona"]`` [B, D] (Li et al., 2016's speaker
embedding of the responder) is added to the decoder input at every position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder, follow_rows
from edg.interfaces.types import DecoderOutput, EncoderOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg.baseline.layer_step import (
    KeyValue,
    LayerCache,
    causal_mask,
    decoder_layer,
    memory_keys_values,
    select_rows,
    step_layer,
)

WEIGHTS = "listener_weights"
PERSONA = "persona"


class ListenerMixtureOptions(StrictModel):
    num_listeners: int = 32
    """One listener per emotion (ED's 32)."""
    heads: int = 2
    ffn_dim: int = 50
    dropout: float = 0.0
    attention_dim: Optional[int] = None
    """Width queries, keys and values are projected to (MoEL's ``--depth``); ``None``: ``d_model``."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """``conv``: the authors' causal convolutions of kernel 3 (:mod:`edg.baseline.conv_feed_forward`)."""
    shared_listener: bool = True
    """The listener every example uses (MoEL's ``--basic_learner``); off: only the weighted
    emotion listeners feed the meta listener."""
    meta_layers: int = 1
    """Decoder layers of the meta listener (MoEL's ``--hop``)."""
    tie_output: bool = False
    """Project with the word-embedding table (MoEL's ``--weight_sharing``, not in its command)."""


@dataclass
class ListenerMixtureState:
    rows: Tensor
    """[N] the memory row each row decodes."""
    memory_mask: Tensor
    """[N, 1, 1, L]"""
    weights: Tensor
    """[N, A] the weights of the active listeners."""
    active: list[int]
    """The listeners with a non-zero weight in some row, in order."""
    persona: Optional[Tensor]
    cross: list[KeyValue]
    """Per layer (shared listener, active listeners, meta layers), the memory keys/values."""
    past: list[Optional[LayerCache]]
    position: int = 0
    hidden: Optional[Tensor] = None


class ListenerMixtureDecoder(Decoder):
    Options = ListenerMixtureOptions

    def __init__(self, options: ListenerMixtureOptions, *, d_model: int, embedding: DialogueEmbedding,
                 bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        self.embedding = embedding
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        o = options

        def layer():
            return decoder_layer(d_model, o.heads, o.ffn_dim, o.dropout, attention_dim=o.attention_dim,
                                 feed_forward=o.feed_forward)

        self.listeners = nn.ModuleList([layer() for _ in range(o.num_listeners)])
        self.shared = layer() if o.shared_listener else None
        self.meta = nn.ModuleList([layer() for _ in range(o.meta_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.output = None if o.tie_output else nn.Linear(d_model, embedding.word.num_embeddings)

    # -- shared pieces --------------------------------------------------------------------
    def project(self, hidden: Tensor) -> Tensor:
        if self.output is None:
            return hidden @ self.embedding.word.weight.t()
        return self.output(hidden)

    def _log_probs(self, hidden: Tensor) -> Tensor:
        return torch.log_softmax(self.project(hidden).float(), dim=-1)

    def weights_of(self, memory: EncoderOutput) -> Tensor:
        weights = memory.extras.get(WEIGHTS)
        if weights is None:
            raise ValueError("decoder 'moel.listeners' needs memory.extras['listener_weights'] [B, num_listeners]")
        if weights.size(-1) != len(self.listeners):
            raise ValueError(f"listener_weights has {weights.size(-1)} columns, the decoder "
                             f"{len(self.listeners)} listeners")
        return weights

    @staticmethod
    def active_listeners(weights: Tensor) -> list[int]:
        return weights.ne(0).any(0).nonzero().flatten().tolist()

    def _inputs(self, x: Tensor, memory: EncoderOutput) -> Tensor:
        persona = memory.extras.get(PERSONA)
        return x if persona is None else x + persona[:, None, :].to(x.dtype)

    # -- teacher forcing ---------------------------------------------------------------------
    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden = self.hidden_states(input_ids, memory)
        return DecoderOutput(self.project(hidden), hidden)

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        weights = self.weights_of(memory)
        x = self._inputs(self.embedding(input_ids), memory)
        kw = dict(tgt_mask=causal_mask(input_ids.size(1), input_ids.device),
                  tgt_key_padding_mask=input_ids.eq(self.pad_id) & input_ids.ne(self.bos_id),
                  memory_key_padding_mask=~memory.mask)
        mixed = self.shared(x, memory.hidden, **kw) if self.shared is not None else torch.zeros_like(x)
        nonzero = weights.ne(0)
        for i in self.active_listeners(weights):
            rows = nonzero[:, i].nonzero().flatten()
            if rows.numel() == x.size(0):
                out = self.listeners[i](x, memory.hidden, **kw)
                mixed = mixed + weights[:, i, None, None].to(out.dtype) * out
                continue
            # A listener runs only on the rows that weight it (top-k of 32: about k/32 of the
            # batch); the other rows would add exactly zero, so the sum is unchanged.
            out = self.listeners[i](x[rows], memory.hidden[rows], tgt_mask=kw["tgt_mask"],
                                    tgt_key_padding_mask=kw["tgt_key_padding_mask"][rows],
                                    memory_key_padding_mask=kw["memory_key_padding_mask"][rows])
            out = weights[rows, i, None, None].to(out.dtype) * out
            mixed = mixed.index_add(0, rows, out.to(mixed.dtype))
        h = mixed
        for layer in self.meta:
            h = layer(h, memory.hidden, **kw)
        return self.norm(h)

    # -- incremental decoding ------------------------------------------------------------------
    def _layers(self, active: list[int]) -> list[nn.TransformerDecoderLayer]:
        shared = [self.shared] if self.shared is not None else []
        return [*shared, *(self.listeners[i] for i in active), *self.meta]

    def start(self, memory: EncoderOutput) -> ListenerMixtureState:
        weights = self.weights_of(memory)
        active = self.active_listeners(weights)
        cross = [memory_keys_values(layer, memory.hidden) for layer in self._layers(active)]
        rows = torch.arange(memory.batch_size, device=memory.hidden.device)
        return ListenerMixtureState(rows, memory.mask[:, None, None, :], weights[:, active], active,
                                    memory.extras.get(PERSONA), cross, [None] * len(cross))

    def step(self, tokens: Tensor, state: ListenerMixtureState) -> tuple[Tensor, ListenerMixtureState]:
        emb = self.embedding
        if state.position >= emb.positions.size(0):
            raise ValueError(f"sequence of {state.position + 1} tokens exceeds max_len {emb.positions.size(0)}")
        x = emb.dropout(emb.word(tokens[:, None]) * emb.scale + emb.positions[state.position])
        if state.persona is not None:
            x = x + state.persona[:, None, :].to(x.dtype)
        layers = self._layers(state.active)
        past: list[Optional[LayerCache]] = []
        k = 0

        def run(layer, inputs):
            nonlocal k
            out, kv = step_layer(layer, inputs, state.past[k], state.cross[k], state.memory_mask)
            past.append(kv)
            k += 1
            return out

        mixed = run(layers[0], x) if self.shared is not None else torch.zeros_like(x)
        for j in range(len(state.active)):
            mixed = mixed + state.weights[:, j, None, None].to(x.dtype) * run(layers[k], x)
        h = mixed
        for _ in self.meta:
            h = run(layers[k], h)
        hidden = self.norm(h)[:, 0]
        new = ListenerMixtureState(state.rows, state.memory_mask, state.weights, state.active, state.persona,
                                   state.cross, past, state.position + 1, hidden)
        return self._log_probs(hidden), new

    def reorder(self, state: ListenerMixtureState, index: Tensor) -> ListenerMixtureState:
        rows, moved = follow_rows(state.rows, index)
        past = [None if cache is None else tuple(t.index_select(0, index) for t in cache) for cache in state.past]
        cross, mask = state.cross, state.memory_mask
        if moved:
            cross, mask = select_rows(cross, index), mask.index_select(0, index)
        persona = None if state.persona is None else state.persona.index_select(0, index)
        return ListenerMixtureState(rows, mask, state.weights.index_select(0, index), state.active, persona,
                                    cross, past, state.position, None)

    def last_hidden(self, state: ListenerMixtureState) -> Optional[Tensor]:
        return state.hidden
