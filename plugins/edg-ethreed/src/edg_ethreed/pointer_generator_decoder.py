"""ETHREED's decoder (§3.4, eq. 15–23): a single-layer GRU initialised with con_t, bilinear
attention with a coverage vector over the words of the speaker's utterance, emotion
attention on emo_t, and the pointer-generator mixture that copies from that utterance.

Memory (:class:`EncoderOutput`): ``hidden`` the Bi-GRU word states h_j [N, m, 2D_h],
``mask`` the real words, and ``extras``: ``init`` con_t [N, D_s], ``emotion`` emo_t
[N, D_e], ``source_ids`` the utterance's token ids [N, m] (where copied mass goes).

Decoding is stateful (``start/step/reorder``): a step costs one GRU cell and one attention,
whatever the prefix length; :meth:`forward` runs the same steps under teacher forcing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import DecoderOutput, EncoderOutput


class PointerGeneratorOptions(StrictModel):
    tie_output_embedding: bool = True
    """P_vocab = softmax(E · V[s; context; emo] + b) with E the word embeddings (V maps to the
    embedding width); off: V maps straight onto the vocabulary (eq. 22 read literally)."""
    use_copy: bool = True
    """The pointer mixture of eq. 21 (off: P(w) = P_vocab)."""


@dataclass
class DecodingState:
    state: Tensor  # s_{i-1} [N, D_s]
    coverage: Tensor  # cover_i [N, m]
    keys: Tensor  # W_con h_j [N, m, D_s] (memory-derived, computed once)
    words: Tensor  # h_j [N, m, 2D_h]
    mask: Tensor
    source_ids: Tensor
    emotion: Tensor
    hidden: Optional[Tensor] = None  # s_i of the last step


class CoveragePointerGeneratorDecoder(Decoder):
    Options = PointerGeneratorOptions

    def __init__(self, options: PointerGeneratorOptions, *, d_model: int, memory_dim: int, emotion_dim: int,
                 embedding: nn.Embedding, bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.embedding = embedding
        vocab, d_word = embedding.num_embeddings, embedding.embedding_dim
        self.gru = nn.GRUCell(d_word, d_model)  # eq. 15
        self.attention_key = nn.Linear(memory_dim, d_model, bias=False)  # W_con of eq. 18
        self.coverage_weight = nn.Parameter(torch.zeros(()))  # W_r
        self.attention_bias = nn.Parameter(torch.zeros(()))
        self.emotion_gate = nn.Linear(emotion_dim, d_model, bias=False)  # W_emo of eq. 20
        self.emotion_bias = nn.Parameter(torch.zeros(()))
        features = d_model + memory_dim + emotion_dim
        if options.tie_output_embedding:
            self.vocab_projection = nn.Linear(features, d_word)  # V
            self.output_bias = nn.Parameter(torch.zeros(vocab))  # b
        else:
            self.vocab_projection = nn.Linear(features, vocab)
        self.generation_switch = nn.Linear(features, 1)  # w_c, w_s, w_e, b_ptr of eq. 23

    # -- one step -------------------------------------------------------------------------
    def attend(self, state: Tensor, coverage: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """γ_i (eq. 17–18): softmax_j tanh(s_{i-1} W_con h_j + W_r cover_ij + b)."""
        scores = torch.tanh(torch.einsum("nd,nmd->nm", state, keys) + self.coverage_weight * coverage
                            + self.attention_bias)
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)

    def recur(self, embedded: Tensor, st: DecodingState) -> tuple[Tensor, Tensor, Tensor, DecodingState]:
        """The sequential part of a step, fed the embedded out_{i-1}: s_i, γ_i, the attended
        context and the next state (attention and coverage do not depend on P(w))."""
        gamma = self.attend(st.state, st.coverage, st.keys, st.mask)
        context = torch.einsum("nm,nmd->nd", gamma, st.words)  # eq. 16
        s = self.gru(embedded, st.state)  # eq. 15
        nxt = DecodingState(s, st.coverage + gamma, st.keys, st.words, st.mask, st.source_ids, st.emotion, s)
        return s, gamma, context, nxt

    def output(self, s: Tensor, context: Tensor, gamma: Tensor, emotion: Tensor, source_ids: Tensor) -> Tensor:
        """log P(w) (eq. 20–23) of one step ([N, ·]) or of all steps at once ([N, T, ·]):
        ``emotion`` [N, D_e] and ``source_ids`` [N, m] are the memory's."""
        if s.dim() == 3:  # every step of teacher forcing: the same memory for each step
            emotion = emotion[:, None].expand(-1, s.size(1), -1)
            source_ids = source_ids[:, None].expand(-1, s.size(1), -1)
        gate = torch.tanh((self.emotion_gate(emotion) * s).sum(-1, keepdim=True) + self.emotion_bias)
        features = torch.cat([s, context, gate * emotion], -1)  # eq. 20: emo_i = gate · emo_t
        logits = self.vocab_projection(features)
        if self.options.tie_output_embedding:
            logits = logits @ self.embedding.weight.t() + self.output_bias
        p_vocab = torch.softmax(logits.float(), -1)  # eq. 22
        if self.options.use_copy:
            p_gen = torch.sigmoid(self.generation_switch(features)).float()  # eq. 23
            # eq. 21, P(w) = p_gen P_vocab(w) + (1 - p_gen) Σ_{j: x_j = w} γ_j, with the copy
            # mass added in place: no [.., V] buffer of copied mass (the output is the
            # largest tensor of a step)
            probs = (p_gen * p_vocab).scatter_add_(-1, source_ids, (1 - p_gen) * gamma.float())
        else:
            probs = p_vocab
        return torch.log(probs.clamp_min(1e-12))

    def advance(self, tokens: Tensor, st: DecodingState) -> tuple[Tensor, DecodingState, Tensor]:
        """Feed out_{i-1} = ``tokens``: log P(w) [N, V], the next state and γ_i."""
        s, gamma, context, nxt = self.recur(self.embedding(tokens), st)
        return self.output(s, context, gamma, st.emotion, st.source_ids), nxt, gamma

    # -- teacher forcing --------------------------------------------------------------------
    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        """The recurrence step by step, then the output distribution of every step in one
        batch (one [N·T, V] product instead of T small ones; same values as :meth:`advance`)."""
        st = self.start(memory)
        embedded = self.embedding(input_ids)
        hidden, attention, coverage, contexts = [], [], [], []
        for i in range(input_ids.size(1)):
            coverage.append(st.coverage)  # cover_i = Σ_{i'<i} γ_i' (eq. 19)
            s, gamma, context, st = self.recur(embedded[:, i], st)
            hidden.append(s)
            attention.append(gamma)
            contexts.append(context)
        hidden_t, attention_t = torch.stack(hidden, 1), torch.stack(attention, 1)
        log_probs = self.output(hidden_t, torch.stack(contexts, 1), attention_t, memory.extras["emotion"],
                                memory.extras["source_ids"])
        return DecoderOutput(log_probs, hidden_t, is_log_probs=True,
                             extras={"attention": attention_t, "coverage": torch.stack(coverage, 1)})

    # -- stateful decoding ------------------------------------------------------------------
    def start(self, memory: EncoderOutput) -> DecodingState:
        x = memory.extras
        words = memory.hidden
        return DecodingState(x["init"], words.new_zeros(words.shape[:2]), self.attention_key(words), words,
                             memory.mask, x["source_ids"], x["emotion"])

    def step(self, tokens: Tensor, state: DecodingState) -> tuple[Tensor, DecodingState]:
        log_probs, nxt, _ = self.advance(tokens, state)
        return log_probs, nxt

    def reorder(self, state: DecodingState, index: Tensor) -> DecodingState:
        pick = lambda t: None if t is None else t.index_select(0, index)  # noqa: E731
        return DecodingState(*(pick(getattr(state, f)) for f in
                               ("state", "coverage", "keys", "words", "mask", "source_ids", "emotion", "hidden")))

    def last_hidden(self, state: DecodingState) -> Optional[Tensor]:
        return state.hidden

    def extra_repr(self) -> str:
        return f"use_copy={self.options.use_copy}, tie_output_embedding={self.options.tie_output_embedding}"


__all__: list[Any] = ["CoveragePointerGeneratorDecoder", "PointerGeneratorOptions", "DecodingState"]
