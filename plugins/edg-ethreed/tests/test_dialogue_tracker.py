"""Each GRU's recurrence on a hand-made two-turn dialogue (P1, R1, P2, R2): which state
feeds which, recomputed directly with the tracker's own cells, and what each ablation
switch changes."""

from __future__ import annotations

import pytest
import torch

from edg_ethreed.dialogue_tracker import DialogueTracker

D_U, D = 6, 5


@pytest.fixture
def dialogue():
    torch.manual_seed(0)
    u = torch.randn(1, 4, D_U)  # u(P1), u(R1), u(P2), u(R2)
    roles = torch.tensor([[0, 1, 0, 1]])
    return u, roles


def _tracker(**switches) -> DialogueTracker:
    torch.manual_seed(1)
    return DialogueTracker(D_U, D, **switches).eval()


def _attend(t: DialogueTracker, u, history):
    beta = torch.softmax(torch.stack([u @ t.party_attention(g) for g in history]), 0)
    return sum(b * g for b, g in zip(beta, history))


def test_full_tracking_follows_eq_1_to_7(dialogue):
    u, roles = dialogue
    t = _tracker()
    with torch.no_grad():
        out = t(u, roles)
        z = torch.zeros(1, D)
        x = [u[:, k] for k in range(4)]
        # eq. 1: the global GRU runs through every utterance
        g1 = t.global_gru(x[0], z)
        g2 = t.global_gru(x[1], g1)
        g3 = t.global_gru(x[2], g2)
        g4 = t.global_gru(x[3], g3)
        # eq. 2-4: each party state updates the OTHER party's latest state with [u; a], a the
        # attention over the earlier global states only
        p1 = t.party_gru(torch.cat([x[0], z], -1), z)
        p2 = t.party_gru(torch.cat([x[1], g1], -1), p1)  # one earlier state: a = g1
        p3 = t.party_gru(torch.cat([x[2], _attend(t, x[2][0], [g1[0], g2[0]])[None]], -1), p2)
        p4 = t.party_gru(torch.cat([x[3], _attend(t, x[3][0], [g1[0], g2[0], g3[0]])[None]], -1), p3)
        # eq. 5: one emotion chain per party (the listener's starts from zero at R1)
        e1 = t.emotion_gru(p1, z)  # P_e_1
        e2 = t.emotion_gru(p2, z)  # R_e_1
        e3 = t.emotion_gru(p3, e1)  # P_e_2 from P_e_1
        e4 = t.emotion_gru(p4, e2)  # R_e_2 from R_e_1
        # eq. 7: the content state moves at each turn's post, from that turn's global state
        c1 = t.content_gru(g1, z)
        c3 = t.content_gru(g3, c1)
    torch.testing.assert_close(out.global_, torch.stack([g1, g2, g3, g4], 1))
    torch.testing.assert_close(out.party, torch.stack([p1, p2, p3, p4], 1))
    torch.testing.assert_close(out.emotion, torch.stack([e1, e2, e3, e4], 1))
    torch.testing.assert_close(out.content, torch.stack([c1, c1, c3, c3], 1))
    assert out.party_attention[0] is None and out.party_attention[3].shape == (1, 3)


def test_later_utterances_do_not_change_earlier_states(dialogue):
    u, roles = dialogue
    t = _tracker()
    changed = u.clone()
    changed[:, 3] += 5.0  # a different R2
    with torch.no_grad():
        a, b = t(u, roles), t(changed, roles)
    for name in ("global_", "party", "emotion", "content"):
        torch.testing.assert_close(getattr(a, name)[:, :3], getattr(b, name)[:, :3])
    assert not torch.allclose(a.emotion[:, 3], b.emotion[:, 3])


def test_wo_emo_track_runs_one_emotion_chain(dialogue):
    u, roles = dialogue
    t = _tracker(track_parties_separately=False)
    with torch.no_grad():
        out = t(u, roles)
        p = out.party
        e1 = t.emotion_gru(p[:, 0], torch.zeros(1, D))
        e2 = t.emotion_gru(p[:, 1], e1)  # R1's emotion continues from P1's
        e3 = t.emotion_gru(p[:, 2], e2)
    torch.testing.assert_close(out.emotion[:, :3], torch.stack([e1, e2, e3], 1))
    # the same parameters as the full tracker: only the chaining changed
    assert [n for n, _ in t.named_parameters()] == [n for n, _ in _tracker().named_parameters()]


def test_wo_gru_e_takes_the_party_state(dialogue):
    u, roles = dialogue
    t = _tracker(use_emotion_gru=False)
    with torch.no_grad():
        out = t(u, roles)
    torch.testing.assert_close(out.emotion, out.party)
    full = {n for n, _ in _tracker().named_parameters()}
    assert full - {n for n, _ in t.named_parameters()} == {f"emotion_gru.{w}" for w in
                                                           ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def test_wo_gru_p_feeds_the_global_state_to_gru_e(dialogue):
    u, roles = dialogue
    t = _tracker(use_party=False)
    with torch.no_grad():
        out = t(u, roles)
        g = out.global_
        e1 = t.emotion_gru(g[:, 0], torch.zeros(1, D))
        e3 = t.emotion_gru(g[:, 2], e1)
    assert out.party is None
    torch.testing.assert_close(out.emotion[:, 2], e3)
    full = {n for n, _ in _tracker().named_parameters()}
    removed = full - {n for n, _ in t.named_parameters()}
    assert removed == {"party_attention.weight"} | {f"party_gru.{w}" for w in
                                                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
