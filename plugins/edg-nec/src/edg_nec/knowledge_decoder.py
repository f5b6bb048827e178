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

The knowledge attention of each layer is initialised as a copy of that layer's encoder
cross-attention (``init_from_encoder_attn``), so a pretrained BART starts from a
sensible attention instead of noise.

Generation runs the core's batched search (:mod:`edg.generation`) over a cached step:
self-attention keys/values of the prefix and the cross-attention keys/values of both
memories are kept between steps, and the beam reordering the search does is recovered by
matching each new prefix with its parent (within its own example). The step also records
the mean last-layer state of every prefix, so ``Candidate.hidden`` (what the similarity
reranker needs) comes for free instead of a second teacher-forced pass.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import Candidate, DecoderOutput, EncoderOutput


class KnowledgeBartDecoderOptions(StrictModel):
    social: bool = True
    """Add the knowledge cross-attention over K_S (False: the *w/o Social* ablation)."""
    init_from_encoder_attn: bool = True
    """Initialise each knowledge attention as a copy of its layer's encoder attention."""
    kv_cache: bool = True
    """Cache keys/values during generation (False: recompute the whole prefix each step)."""


class KnowledgeAttention(nn.Module):
    """Multi-head attention with BART's projection layout (q/k/v/out, biases)."""

    def __init__(self, d_model: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.head_dim, self.dropout = num_heads, d_model // num_heads, dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)


def _split(x: Tensor, heads: int) -> Tensor:
    n, t, d = x.shape
    return x.view(n, t, heads, d // heads).transpose(1, 2)


def _kv(attn: nn.Module, states: Tensor) -> tuple[Tensor, Tensor]:
    heads = attn.num_heads
    return _split(attn.k_proj(states), heads), _split(attn.v_proj(states), heads)


def _attend(attn: nn.Module, x: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor], training: bool) -> Tensor:
    q = _split(attn.q_proj(x), attn.num_heads)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=attn.dropout if training else 0.0)
    n, h, t, dh = out.shape
    return attn.out_proj(out.transpose(1, 2).reshape(n, t, h * dh))


class _SearchState:
    """Caches of one generation call."""

    def __init__(self, group: int) -> None:
        self.group = group
        self.prefix: Optional[Tensor] = None
        self.self_kv: list[tuple[Tensor, Tensor]] = []
        self.cross: Optional[list[tuple[Tensor, Tensor, Optional[tuple[Tensor, Tensor]]]]] = None
        self.hsum: Optional[Tensor] = None
        self.records: dict[tuple[int, tuple[int, ...]], tuple[int, int]] = {}
        self.means: list[Tensor] = []


class KnowledgeBartDecoder(Decoder):
    Options = KnowledgeBartDecoderOptions

    def __init__(self, options: KnowledgeBartDecoderOptions, *, bart: nn.Module, bos_id: int, eos_id: int,
                 pad_id: int, banned_ids: tuple[int, ...] = ()) -> None:
        super().__init__(options)
        # the BART model is owned (registered) by the EdgModel; the decoder only uses it
        self.__dict__["bart"] = bart
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.banned_ids = tuple(dict.fromkeys(i for i in (pad_id, *banned_ids) if i is not None and i != eos_id))
        cfg = bart.config
        self.knowledge_attn = nn.ModuleList()
        self.knowledge_norm = nn.ModuleList()
        if options.social:
            for layer in bart.model.decoder.layers:
                attn = KnowledgeAttention(cfg.d_model, cfg.decoder_attention_heads, cfg.attention_dropout)
                if options.init_from_encoder_attn:
                    attn.load_state_dict({k: v.detach().clone() for k, v in layer.encoder_attn.state_dict().items()})
                self.knowledge_attn.append(attn)
                self.knowledge_norm.append(copy.deepcopy(layer.encoder_attn_layer_norm))

    @property
    def uses_social(self) -> bool:
        return len(self.knowledge_attn) > 0

    # -- the layers ------------------------------------------------------------------------
    def _cross_kv(self, memory: EncoderOutput):
        layers = self.bart.model.decoder.layers
        out = []
        social = self.uses_social and "social_hidden" in memory.extras
        for i, layer in enumerate(layers):
            enc = _kv(layer.encoder_attn, memory.hidden)
            know = _kv(self.knowledge_attn[i], memory.extras["social_hidden"]) if social else None
            out.append((*enc, know))
        return out

    def _run(self, input_ids: Tensor, memory: EncoderOutput, *, start: int = 0,
             past: Optional[list[tuple[Tensor, Tensor]]] = None, cross=None) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Last-layer states [N, T, D] of ``input_ids`` (positions ``start..start+T-1``) and the
        self-attention keys/values of every layer (past + new)."""
        dec = self.bart.model.decoder
        training = self.training
        x = dec.embed_tokens(input_ids)
        x = x + dec.embed_positions(input_ids, start).to(x.dtype)
        x = dec.layernorm_embedding(x)
        x = F.dropout(x, p=dec.dropout, training=training)
        t = input_ids.size(1)
        causal = None
        if t > 1:
            causal = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(diagonal=start)
        enc_mask = memory.mask[:, None, None, :]
        know_mask = memory.extras["social_mask"][:, None, None, :] if "social_mask" in memory.extras else None
        if cross is None:
            cross = self._cross_kv(memory)
        new_kv = []
        for i, layer in enumerate(dec.layers):
            k, v = _kv(layer.self_attn, x)
            if past is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            new_kv.append((k, v))
            h = _attend(layer.self_attn, x, k, v, causal, training)
            x = layer.self_attn_layer_norm(x + F.dropout(h, p=layer.dropout, training=training))
            ek, ev, know = cross[i]
            h = _attend(layer.encoder_attn, x, ek, ev, enc_mask, training)
            x = layer.encoder_attn_layer_norm(x + F.dropout(h, p=layer.dropout, training=training))
            if know is not None:
                h = _attend(self.knowledge_attn[i], x, know[0], know[1], know_mask, training)
                x = self.knowledge_norm[i](x + F.dropout(h, p=layer.dropout, training=training))
            h = layer.activation_fn(layer.fc1(x))
            h = F.dropout(h, p=layer.activation_dropout, training=training)
            h = F.dropout(layer.fc2(h), p=layer.dropout, training=training)
            x = layer.final_layer_norm(x + h)
        return x, new_kv

    def _logits(self, hidden: Tensor) -> Tensor:
        return self.bart.lm_head(hidden) + self.bart.final_logits_bias.to(hidden.dtype)

    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden, _ = self._run(input_ids, memory)
        return DecoderOutput(self._logits(hidden), hidden)

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        """Last-layer states without the output projection (for sentence representations)."""
        return self._run(input_ids, memory)[0]

    # -- generation ------------------------------------------------------------------------
    @staticmethod
    def _parents(prev: Tensor, new_prev: Tensor, group: int) -> Optional[Tensor]:
        """For each new row, the old row with the same prefix in the same example."""
        n_rows, t = prev.shape
        if new_prev.shape != prev.shape or n_rows % group:
            return None
        n = n_rows // group
        eq = (new_prev.view(n, group, 1, t) == prev.view(n, 1, group, t)).all(-1)  # [n, new, old]
        if not bool(eq.any(-1).all()):
            return None
        base = torch.arange(n, device=prev.device)[:, None] * group
        return (eq.float().argmax(-1) + base).reshape(-1)

    def _cached_step(self, prefix: Tensor, memory: EncoderOutput, state: _SearchState) -> Tensor:
        n, t = prefix.shape
        if state.cross is None:
            state.cross = self._cross_kv(memory)
        parents = None
        if state.prefix is not None and state.prefix.size(1) == t - 1:
            parents = self._parents(state.prefix, prefix[:, :-1], state.group)
        if parents is None:  # first step (or an unexpected prefix): run the whole prefix
            hidden, state.self_kv = self._run(prefix, memory, cross=state.cross)
            state.hsum = hidden.float().sum(1)
        else:
            past = [(k.index_select(0, parents), v.index_select(0, parents)) for k, v in state.self_kv]
            hidden, state.self_kv = self._run(prefix[:, -1:], memory, start=t - 1, past=past, cross=state.cross)
            state.hsum = state.hsum.index_select(0, parents) + hidden[:, -1].float()
        state.prefix = prefix
        # the mean state of every prefix, for Candidate.hidden (attach_hidden's definition)
        step_index = len(state.means)
        state.means.append(state.hsum / t)
        for row, ids in enumerate(prefix[:, 1:].tolist()):
            state.records[(row // state.group, tuple(ids))] = (step_index, row)
        return torch.log_softmax(self._logits(hidden[:, -1]).float(), dim=-1)

    @torch.no_grad()
    def generate(self, memory: EncoderOutput, config: Any, *, return_hidden: bool = False) -> list[list[Candidate]]:
        from edg.generation import search

        if not self.options.kv_cache:
            candidates = search(self.next_token, memory, config, bos_id=self.bos_id, eos_id=self.eos_id,
                                banned_ids=self.banned_ids)
            if return_hidden:
                self.attach_hidden(candidates, memory)
            return candidates
        if config.strategy == "beam":
            group = config.beam_size
        elif config.strategy == "sample":
            group = config.num_return
        else:
            group = 1
        state = _SearchState(group)
        candidates = search(lambda p, m: self._cached_step(p, m, state), memory, config, bos_id=self.bos_id,
                            eos_id=self.eos_id, banned_ids=self.banned_ids)
        if return_hidden:
            missing: list[list[Candidate]] = []
            for b, cands in enumerate(candidates):
                miss = []
                for c in cands:
                    where = state.records.get((b, tuple(c.token_ids)))
                    if where is None:
                        miss.append(c)
                    else:
                        c.hidden = state.means[where[0]][where[1]]
                missing.append(miss)
            if any(missing):
                self._finish_hidden(state, memory, missing)
        return candidates

    def _finish_hidden(self, state: _SearchState, memory: EncoderOutput, missing: list[list[Candidate]]) -> None:
        """Candidates cut at ``max_length`` end with a token that was never fed back: one more
        cached single-token step on their parents' rows gives their mean state; anything
        else falls back to a teacher-forced pass."""
        last = len(state.means) - 1
        rows, tokens, found = [], [], []
        rest: list[list[Candidate]] = [[] for _ in missing]
        for b, cands in enumerate(missing):
            for c in cands:
                where = state.records.get((b, tuple(c.token_ids[:-1]))) if c.token_ids else None
                if where is not None and where[0] == last and state.prefix is not None:
                    rows.append(where[1]), tokens.append(c.token_ids[-1]), found.append(c)
                else:
                    rest[b].append(c)
        if rows:
            device = memory.hidden.device
            idx = torch.tensor(rows, device=device)
            t = state.prefix.size(1)
            past = [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in state.self_kv]
            cross = [(ek.index_select(0, idx), ev.index_select(0, idx),
                      None if kn is None else (kn[0].index_select(0, idx), kn[1].index_select(0, idx)))
                     for ek, ev, kn in state.cross]
            mem = memory.index_select(idx // state.group)
            ids = torch.tensor(tokens, device=device)[:, None]
            hidden, _ = self._run(ids, mem, start=t, past=past, cross=cross)
            means = (state.hsum.index_select(0, idx) + hidden[:, -1].float()) / (t + 1)
            for c, h in zip(found, means):
                c.hidden = h
        if any(rest):
            self.attach_hidden(rest, memory)

