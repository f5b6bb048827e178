"""L1 (eq. 6), the GPS KL term L2 (eq. 12-14) and the coverage loss L4 (eq. 25) against
direct computations."""

from __future__ import annotations

import math

import torch

from edg.interfaces.types import DecoderOutput, ModelOutput
from edg_ethreed.coverage_loss import CoverageLoss, CoverageOptions
from edg_ethreed.emotion_loss import PartyEmotionLoss, PartyEmotionOptions
from edg_ethreed.gps_loss import GuidedPolicySearchLoss, GuidedPolicySearchOptions


def _outputs(**extras) -> ModelOutput:
    return ModelOutput(decoder=DecoderOutput(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1)), extras=extras)


def test_gps_kl_is_kl_of_policy_to_tracked_distribution():
    torch.manual_seed(0)
    policy = torch.randn(3, 32, requires_grad=True)
    tracked = torch.randn(3, 32, requires_grad=True)
    value = GuidedPolicySearchLoss(GuidedPolicySearchOptions()).compute(
        {}, _outputs(policy_emotion_logits=policy, tracked_listener_logits=tracked), None).value
    q, p = policy.detach().softmax(-1), tracked.detach().softmax(-1)
    direct = sum(float(sum(q[n, k] * math.log(q[n, k] / p[n, k]) for k in range(32))) for n in range(3)) / 3
    assert abs(float(value.detach()) - direct) < 1e-5 and float(value.detach()) > 0
    value.backward()
    assert policy.grad.abs().sum() > 0
    assert tracked.grad is None  # p is the constraint: GPS moves the policy, not the tracker
    same = GuidedPolicySearchLoss(GuidedPolicySearchOptions()).compute(
        {}, _outputs(policy_emotion_logits=tracked.detach(), tracked_listener_logits=tracked), None).value
    assert abs(float(same)) < 1e-6


def test_party_emotion_loss_is_a_mean_per_party():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 32)
    speaker = torch.tensor([[4, -100, 4], [7, -100, -100]])
    listener = torch.tensor([[-100, 9, -100], [-100, -100, -100]])
    out = PartyEmotionLoss(PartyEmotionOptions()).compute(
        {"speaker_emotion_labels": speaker, "listener_emotion_labels": listener},
        _outputs(party_emotion_logits=logits), None)
    logp = logits.log_softmax(-1)
    l_speaker = -(logp[0, 0, 4] + logp[0, 2, 4] + logp[1, 0, 7]) / 3
    l_listener = -logp[0, 1, 9]
    torch.testing.assert_close(out.value, l_speaker + l_listener)
    assert set(out.logs) == {"speaker_acc", "listener_acc"}


def test_coverage_loss_sums_min_of_coverage_and_attention_per_target_word():
    gamma = torch.tensor([[[0.5, 0.5, 0.0], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]]])
    cover = torch.cat([torch.zeros(1, 1, 3), gamma.cumsum(1)[:, :-1]], 1)
    labels = torch.tensor([[3, 4, -100]])  # the third step is padding
    out = CoverageLoss(CoverageOptions()).compute({"labels": labels},
                                                  _outputs(attention=gamma, coverage=cover), None)
    # step 1: cover 0; step 2: min([.5,.5,0], [.2,.7,.1]) = .2 + .5 + 0
    assert abs(float(out.value) - (0.0 + 0.7) / 2) < 1e-6
