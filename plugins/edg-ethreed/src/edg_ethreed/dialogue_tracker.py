"""Hierarchical tracking of §3.2: the global GRU_g (eq. 1), the party GRU_p with attention
over the earlier global states (eq. 2–4), the emotion GRU_e (eq. 5) and the content GRU_c
(eq. 7), run utterance by utterance over a batch of conversations.

Table 3's ablations are switches here: ``use_party`` off (w/o GRU_p) feeds the global
state to GRU_e; ``use_emotion_gru`` off (w/o GRU_e) takes the party state as the emotional
representation; ``track_parties_separately`` off (w/o emo-track) runs GRU_e as one chain
over all utterances instead of one chain per party.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

SPEAKER, LISTENER = 0, 1


@dataclass
class TrackedStates:
    """Per-utterance states [B, K, D] (``party`` is ``None`` without GRU_p)."""

    global_: Tensor
    party: Optional[Tensor]
    emotion: Tensor
    """P_e at speaker utterances, R_e at listener utterances."""
    content: Tensor
    """c after each utterance (updated at the speaker's utterances, carried over the listener's)."""
    party_attention: list[Optional[Tensor]]
    """β of eq. 4 at each position ([B, k] over the k earlier global states; ``None`` at k = 0)."""


class DialogueTracker(nn.Module):
    def __init__(self, utterance_dim: int, hidden: int, *, use_party: bool = True, use_emotion_gru: bool = True,
                 track_parties_separately: bool = True) -> None:
        super().__init__()
        self.hidden = hidden
        self.use_party = use_party
        self.use_emotion_gru = use_emotion_gru
        self.track_parties_separately = track_parties_separately
        self.global_gru = nn.GRUCell(utterance_dim, hidden)  # eq. 1
        if use_party:
            self.party_attention = nn.Linear(hidden, utterance_dim, bias=False)  # W_β of eq. 4
            self.party_gru = nn.GRUCell(utterance_dim + hidden, hidden)  # eq. 2
        if use_emotion_gru:
            self.emotion_gru = nn.GRUCell(hidden, hidden)  # eq. 5, shared by both parties' chains
        self.content_gru = nn.GRUCell(hidden, hidden)  # eq. 7

    def forward(self, utterances: Tensor, roles: Tensor) -> TrackedStates:
        """``utterances`` [B, K, D_u] in dialogue order, ``roles`` [B, K] (0 speaker, 1 listener;
        padding positions come last and do not affect the real ones)."""
        b, k_max, _ = utterances.shape
        zeros = utterances.new_zeros(b, self.hidden)
        globals_, parties, emotions, contents, attentions = [], [], [], [], []
        last_party = [zeros, zeros]  # the latest party state of the speaker / the listener
        last_emotion = [zeros, zeros]  # the latest emotional representation of each party
        g, e, c = zeros, zeros, zeros
        for k in range(k_max):
            u = utterances[:, k]
            is_speaker = roles[:, k].eq(SPEAKER)[:, None]
            g = self.global_gru(u, g)  # g_k = GRU_g(g_{k-1}, u_k)
            if self.use_party:
                if k == 0:
                    a, beta = torch.zeros_like(zeros), None
                else:
                    history = torch.stack(globals_, 1)  # [g_1 ... g_{k-1}]
                    beta = torch.softmax(torch.einsum("bd,bkd->bk", u, self.party_attention(history)), -1)
                    a = torch.einsum("bk,bkd->bd", beta, history)  # eq. 3
                # eq. 2: the other party's latest state is updated with [u_k; a_k]
                other = torch.where(is_speaker, last_party[LISTENER], last_party[SPEAKER])
                p = self.party_gru(torch.cat([u, a], -1), other)
                last_party = [torch.where(is_speaker, p, last_party[SPEAKER]),
                              torch.where(is_speaker, last_party[LISTENER], p)]
                parties.append(p)
                attentions.append(beta)
                x = p
            else:
                x = g  # w/o GRU_p: the global state goes to GRU_e directly
            if not self.use_emotion_gru:
                e = x  # w/o GRU_e: the party state is the emotional representation
            elif self.track_parties_separately:
                previous = torch.where(is_speaker, last_emotion[SPEAKER], last_emotion[LISTENER])
                e = self.emotion_gru(x, previous)  # eq. 5 on this party's own chain
                last_emotion = [torch.where(is_speaker, e, last_emotion[SPEAKER]),
                                torch.where(is_speaker, last_emotion[LISTENER], e)]
            else:
                e = self.emotion_gru(x, e)  # w/o emo-track: one chain through every utterance
            c = torch.where(is_speaker, self.content_gru(g, c), c)  # eq. 7 at each turn's post
            globals_.append(g)
            emotions.append(e)
            contents.append(c)
        return TrackedStates(torch.stack(globals_, 1), torch.stack(parties, 1) if parties else None,
                             torch.stack(emotions, 1), torch.stack(contents, 1),
                             attentions if self.use_party else [])
