"""EmpDG's interactive discriminator (Li et al., 2020; the authors' ``Semantic_Discriminator``
and ``Emotional_Discriminator``, which share this architecture and differ in their inputs).

A Wasserstein critic scoring a response given the dialogue and the user's feedback (the next
user utterance):

1. its own word embedding and an LSTM over the response (the semantic discriminator reads the
   response's tokens, the emotional one its emotion words) and over the feedback (its tokens,
   or its emotion words), whose last hidden state is the feedback vector ``f``;
2. a width-2 convolution over the response's LSTM states, ReLU, max-pooling over time: ``r``;
3. ``relu(r + W_c c + f + b)`` with ``c`` the generator's [CLS] state of the semantic context
   (semantic discriminator) or of the emotion-word context (emotional discriminator);
4. a dense ReLU layer to half the width and a linear score.

The response is given as token ids [B, T] (long) or as per-position distributions over the
vocabulary [B, T, V] (float; the straight-through one-hot vectors through which the
adversarial loss reaches the generator): either is embedded with the same table.

Fixed against the authors' code: their convolution and batch-norm layers are created anew
(randomly initialised, never trained) at every call; here the convolution is a trained layer
and there is no batch norm (WGAN-GP critics are built without it, Gulrajani et al., 2017).
Padding is excluded from the LSTMs (packed sequences) and from the pooling.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

#: width of the convolution over the response (the authors' ``kernel_size = 2``: 2-gram features)
KERNEL = 2


class InteractiveDiscriminator(nn.Module):
    def __init__(self, vocab_size: int, *, embed_dim: int, hidden: int, condition_dim: int, pad_id: int) -> None:
        super().__init__()
        if hidden < 2:
            raise ValueError(f"discriminator hidden size must be >= 2, got {hidden}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.conv = nn.Conv1d(hidden, hidden, KERNEL)
        self.condition = nn.Linear(condition_dim, hidden, bias=False) if condition_dim != hidden else nn.Identity()
        self.bias = nn.Parameter(torch.randn(hidden) * 0.1)
        self.dense = nn.Sequential(nn.Linear(hidden, hidden // 2), nn.ReLU())
        self.score = nn.Linear(hidden // 2, 1)

    def embed(self, response: Tensor) -> Tensor:
        """Token ids [B, T] or distributions over the vocabulary [B, T, V] -> [B, T, E]."""
        if response.is_floating_point():
            return response.to(self.embedding.weight.dtype) @ self.embedding.weight
        return self.embedding(response)

    def sequence_states(self, embedded: Tensor, mask: Tensor) -> Tensor:
        """LSTM states [B, T, H] of the real positions (zeros on padding)."""
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=embedded.size(1))
        return out

    def final_state(self, ids: Tensor, mask: Tensor) -> Tensor:
        """The LSTM's last hidden state over a sequence of token ids [B, T] -> [B, H]."""
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return h[-1]

    def head(self, states: Tensor, mask: Tensor, feedback: Tensor, condition: Tensor) -> Tensor:
        """Score [B] of response states [B, T, H] (``mask`` True on real positions)."""
        x = states.transpose(1, 2)  # [B, H, T]
        if x.size(-1) < KERNEL:
            x = nn.functional.pad(x, (0, KERNEL - x.size(-1)))
            mask = nn.functional.pad(mask, (0, KERNEL - mask.size(-1)))
        conv = torch.relu(self.conv(x))  # [B, H, T - 1]
        windows = mask[:, : conv.size(-1)]  # a window counts when it starts on a real token
        pooled = conv.masked_fill(~windows[:, None, :], 0.0).amax(-1)  # ReLU outputs >= 0: 0 is neutral
        fused = torch.relu(pooled + self.condition(condition.to(pooled.dtype)) + feedback + self.bias)
        return self.score(self.dense(fused)).squeeze(-1)

    def forward(self, response: Tensor, response_mask: Tensor, feedback_ids: Tensor, feedback_mask: Tensor,
                condition: Tensor) -> Tensor:
        states = self.sequence_states(self.embed(response), response_mask)
        return self.head(states, response_mask, self.final_state(feedback_ids, feedback_mask), condition)
