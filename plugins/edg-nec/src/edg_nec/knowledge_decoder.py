"""Decoder ``nec.bart``: BART's decoder with an added knowledge cross-attention (NEC §3.3, eq. 8).

Every BART decoder layer keeps its self-attention, its cross-attention over the
encoder states ``z_x`` (context + entity knowledge) and its feed-forward block; between
the encoder cross-attention and the feed-forward block NEC adds a multi-head
**knowledge cross-attention** over the encoded social knowledge ``K_S``
(``memory.extras["social_hidden"]``/``["social_mask"]``), post-norm with a residual like
BART's own sub-layers::

    h = LN_self(h + SelfAttn(h))
    h = LN_enc(h + CrossAttn(h, z_x))
    h = LN_know(h + KnowAttn(h, K_S))        # added by NEC; absent with social=False
    h = LN_ffn(h + FFN(h))

The knowledge attention of each layer is a Hugging Face ``BartAttention`` initialised as a
copy of that layer's encoder cross-attention (``init_from_encoder_attn``), so a pretrained
BART starts from a sensible attention instead of noise.

The layers are BART's own modules, run with Hugging Face's masks and caches. Generation
goes through the core's incremental-state interface: the state is an
``EncoderDecoderCache`` (``past_key_values``: self-attention keys/values that grow by one
position per step, and the encoder cross-attention keys/values, filled once in
:meth:`start`), a second one whose cross-attention part holds the knowledge keys/values,
and the 4-D attention masks. Beam reselection reorders them with the cache's own
``reorder_cache``. Without social knowledge the decoder is exactly BART's, so its search
gives what ``BartForConditionalGeneration.generate`` gives (tested).

States for reranking: the search averages what :meth:`last_hidden` returns into
``Candidate.hidden``. NEC's eq. 13 compares the *learned* representations of the contrastive
loss (CoNT's, and the NEC authors' ``generate``: the projection applied to every position,
then the mean), so when the model sets :attr:`feature_projection` (``NecModel`` does: its
``project``) every step's state is projected before the search averages it; the mean over
``[BOS] ŷ`` is then exactly ``NecModel.features`` of the response's decoder states.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder, follow_rows
from edg.interfaces.types import DecoderOutput, EncoderOutput


class KnowledgeBartDecoderOptions(StrictModel):
    social: bool = True
    """Add the knowledge cross-attention over K_S (False: the *w/o Social* ablation)."""
    init_from_encoder_attn: bool = True
    """Initialise each knowledge attention as a copy of its layer's encoder attention."""
    kv_cache: bool = True
    """Cache keys/values during generation (False: recompute the whole prefix each step)."""


@dataclass
class KnowledgeBartState:
    """Incremental state of one search (Hugging Face caches)."""

    cache: object
    """``EncoderDecoderCache``: self-attention keys/values + encoder cross-attention keys/values."""
    knowledge: Optional[object]
    """``EncoderDecoderCache`` whose cross-attention part holds the knowledge keys/values."""
    rows: Tensor
    """[N] the memory row (example) each row decodes."""
    encoder_states: Tensor
    encoder_mask: Optional[Tensor]
    social_states: Optional[Tensor]
    knowledge_mask: Optional[Tensor]
    position: int = 0
    hidden: Optional[Tensor] = None


def _split(x: Tensor, heads: int) -> Tensor:
    n, t, d = x.shape
    return x.view(n, t, heads, d // heads).transpose(1, 2)


def _fill_cross(cache, layer_idx: int, attn: nn.Module, states: Tensor) -> None:
    """Put the cross-attention keys/values of ``states`` into ``cache`` (computed once)."""
    keys, values = _split(attn.k_proj(states), attn.num_heads), _split(attn.v_proj(states), attn.num_heads)
    cache.cross_attention_cache.update(keys, values, layer_idx)
    cache.is_updated[layer_idx] = True


class KnowledgeBartDecoder(Decoder):
    Options = KnowledgeBartDecoderOptions

    #: per-position projection of the last-layer states ([N, D] or [N, T, D] -> same shape),
    #: set by the model that owns it (``NecModel.project``); ``None``: the raw states
    feature_projection: Optional[Callable[[Tensor], Tensor]] = None

    def __init__(self, options: KnowledgeBartDecoderOptions, *, bart: nn.Module, bos_id: int, eos_id: int,
                 pad_id: int, banned_ids: tuple[int, ...] = ()) -> None:
        from transformers.models.bart.modeling_bart import BartAttention

        super().__init__(options)
        # the BART model is owned (registered) by the EdgModel; the decoder only uses it
        self.__dict__["bart"] = bart
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.banned_ids = tuple(dict.fromkeys(i for i in (pad_id, *banned_ids) if i is not None and i != eos_id))
        cfg = bart.config
        self.knowledge_attn = nn.ModuleList()
        self.knowledge_norm = nn.ModuleList()
        if options.social:
            for i, layer in enumerate(bart.model.decoder.layers):
                attn = BartAttention(cfg.d_model, cfg.decoder_attention_heads, dropout=cfg.attention_dropout,
                                     is_decoder=True, config=cfg, layer_idx=i)
                if options.init_from_encoder_attn:
                    attn.load_state_dict({k: v.detach().clone() for k, v in layer.encoder_attn.state_dict().items()})
                self.knowledge_attn.append(attn)
                self.knowledge_norm.append(copy.deepcopy(layer.encoder_attn_layer_norm))

    @property
    def uses_social(self) -> bool:
        return len(self.knowledge_attn) > 0

    # -- the layers ------------------------------------------------------------------------
    def _cross_mask(self, inputs: Tensor, states: Tensor, mask: Tensor) -> Optional[Tensor]:
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(config=self.bart.config, inputs_embeds=inputs, attention_mask=mask.long(),
                                         encoder_hidden_states=states)

    def _social(self, memory: EncoderOutput) -> tuple[Optional[Tensor], Optional[Tensor]]:
        if self.uses_social and "social_hidden" in memory.extras:
            return memory.extras["social_hidden"], memory.extras["social_mask"]
        return None, None

    def _embed(self, input_ids: Tensor, position: int) -> Tensor:
        dec = self.bart.model.decoder
        x = dec.embed_tokens(input_ids)
        x = x + dec.embed_positions(input_ids, position).to(x.dtype)
        x = dec.layernorm_embedding(x)
        return F.dropout(x, p=dec.dropout, training=self.training)

    def _layers(self, x: Tensor, *, self_mask: Optional[Tensor], encoder_states: Tensor,
                encoder_mask: Optional[Tensor], social_states: Optional[Tensor], knowledge_mask: Optional[Tensor],
                cache=None, knowledge=None) -> Tensor:
        training = self.training
        for i, layer in enumerate(self.bart.model.decoder.layers):
            h, _ = layer.self_attn(x, past_key_values=cache, attention_mask=self_mask)
            x = layer.self_attn_layer_norm(x + F.dropout(h, p=layer.dropout, training=training))
            h, _ = layer.encoder_attn(x, key_value_states=encoder_states, attention_mask=encoder_mask,
                                      past_key_values=cache)
            x = layer.encoder_attn_layer_norm(x + F.dropout(h, p=layer.dropout, training=training))
            if social_states is not None:
                h, _ = self.knowledge_attn[i](x, key_value_states=social_states, attention_mask=knowledge_mask,
                                              past_key_values=knowledge)
                x = self.knowledge_norm[i](x + F.dropout(h, p=layer.dropout, training=training))
            h = layer.activation_fn(layer.fc1(x))
            h = F.dropout(h, p=layer.activation_dropout, training=training)
            h = F.dropout(layer.fc2(h), p=layer.dropout, training=training)
            x = layer.final_layer_norm(x + h)
        return x

    def _run(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        """Teacher forcing: last-layer states [N, T, D]."""
        from transformers.masking_utils import create_causal_mask

        x = self._embed(input_ids, 0)
        social, social_mask = self._social(memory)
        return self._layers(
            x, self_mask=create_causal_mask(config=self.bart.config, inputs_embeds=x, attention_mask=None,
                                            past_key_values=None),
            encoder_states=memory.hidden, encoder_mask=self._cross_mask(x, memory.hidden, memory.mask),
            social_states=social,
            knowledge_mask=None if social is None else self._cross_mask(x, social, social_mask),
        )

    def _logits(self, hidden: Tensor) -> Tensor:
        return self.bart.lm_head(hidden) + self.bart.final_logits_bias.to(hidden.dtype)

    def _log_probs(self, hidden: Tensor) -> Tensor:
        return torch.log_softmax(self._logits(hidden).float(), dim=-1)

    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden = self._run(input_ids, memory)
        return DecoderOutput(self._logits(hidden), hidden)

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        """Last-layer states without the output projection (for sentence representations)."""
        return self._run(input_ids, memory)

    def next_token(self, prefix: Tensor, memory: EncoderOutput) -> Tensor:
        return self._log_probs(self._run(prefix, memory)[:, -1])

    # -- incremental decoding ----------------------------------------------------------------
    def start(self, memory: EncoderOutput):
        if not self.options.kv_cache:
            return super().start(memory)
        from transformers import DynamicCache, EncoderDecoderCache

        layers = self.bart.model.decoder.layers
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        for i, layer in enumerate(layers):
            _fill_cross(cache, i, layer.encoder_attn, memory.hidden)
        probe = memory.hidden[:, :1]  # masks for one query position per step
        social, social_mask = self._social(memory)
        knowledge, knowledge_mask = None, None
        if social is not None:
            knowledge = EncoderDecoderCache(DynamicCache(), DynamicCache())
            for i, attn in enumerate(self.knowledge_attn):
                _fill_cross(knowledge, i, attn, social)
            knowledge_mask = self._cross_mask(probe, social, social_mask)
        rows = torch.arange(memory.batch_size, device=memory.hidden.device)
        return KnowledgeBartState(cache, knowledge, rows, memory.hidden, self._cross_mask(probe, memory.hidden, memory.mask),
                                  social, knowledge_mask)

    def step(self, tokens: Tensor, state):
        if not self.options.kv_cache:
            return super().step(tokens, state)
        x = self._embed(tokens[:, None], state.position)
        # one query per row attends to every cached position: no self-attention mask
        x = self._layers(x, self_mask=None, encoder_states=state.encoder_states, encoder_mask=state.encoder_mask,
                         social_states=state.social_states, knowledge_mask=state.knowledge_mask,
                         cache=state.cache, knowledge=state.knowledge)
        state.position += 1
        state.hidden = x[:, 0]
        return self._log_probs(state.hidden), state

    def reorder(self, state, index: Tensor):
        if not self.options.kv_cache:
            return super().reorder(state, index)
        state.rows, moved = follow_rows(state.rows, index)
        if moved:  # rows change examples: the memory-derived keys/values and masks follow
            state.cache.reorder_cache(index)
            if state.knowledge is not None:
                state.knowledge.reorder_cache(index)
            if state.encoder_mask is not None:
                state.encoder_mask = state.encoder_mask.index_select(0, index)
            if state.knowledge_mask is not None:
                state.knowledge_mask = state.knowledge_mask.index_select(0, index)
        else:  # beam reselection within each example: only the self-attention cache moves
            state.cache.self_attention_cache.reorder_cache(index)
        state.hidden = None
        return state

    def _project(self, hidden: Tensor) -> Tensor:
        return hidden if self.feature_projection is None else self.feature_projection(hidden)

    def last_hidden(self, state) -> Optional[Tensor]:
        """The last step's states, projected (see the module doc), for ``Candidate.hidden``."""
        if not self.options.kv_cache or state.hidden is None:
            return None
        return self._project(state.hidden)

    @torch.no_grad()
    def attach_hidden(self, candidates, memory: EncoderOutput) -> None:
        """``Candidate.hidden`` by a teacher-forced pass (``kv_cache: false``): the mean of the
        projected last-layer states over ``[BOS] ŷ``, as :meth:`last_hidden` gives in the search."""
        flat = [(i, c) for i, cands in enumerate(candidates) for c in cands]
        if not flat:
            return
        device = memory.hidden.device
        longest = max(len(c.token_ids) for _, c in flat) + 1
        ids = torch.full((len(flat), longest), self.pad_id, dtype=torch.long, device=device)
        for row, (_, c) in enumerate(flat):
            ids[row, : len(c.token_ids) + 1] = torch.tensor([self.bos_id, *c.token_ids], device=device)
        lengths = torch.tensor([len(c.token_ids) + 1 for _, c in flat], device=device)
        rows = torch.tensor([i for i, _ in flat], device=device)
        projected = self._project(self.hidden_states(ids, memory.index_select(rows))).float()
        mask = (torch.arange(longest, device=device)[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = (projected * mask).sum(1) / mask.sum(1).clamp(min=1)
        for row, (_, c) in enumerate(flat):
            c.hidden = pooled[row]
