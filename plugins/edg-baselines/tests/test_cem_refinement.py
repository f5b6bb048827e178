"""CEM's refinement (``cem.refinement``) on hand-made inputs: which summary of each relation
reaches which refine encoder, the sigmoid gate and the knowledge-acquisition MLP, the
emotion classifier on the affective branch, the w/o Aff and w/o Cog switches, and CEM's
knowledge sequences."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class AddHalves(nn.Module):
    """Stands in for a refine encoder: records its input [B, L, 2d] and returns context +
    summary (its two halves added), so the expected outputs can be written by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x, mask):
        self.inputs.append(x.detach().clone())
        d = x.size(-1) // 2
        return x[..., :d] + x[..., d:]


def _refinement(num_emotions=2, **options):
    from edg_baselines.cem_refinement import CemRefinement, CemRefinementOptions

    torch.manual_seed(0)
    return CemRefinement(CemRefinementOptions(**options), d_model=2, num_emotions=num_emotions)


HIDDEN = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]])  # H_CTX [1, 3, 2], [CLS] first
MASK = torch.tensor([[True, True, False]])
AFFECTIVE = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # xReact states, last one padding
AFFECTIVE_MASK = torch.tensor([[True, True, False]])
COGNITIVE = torch.tensor([[[[0.5, -0.5], [9.0, 9.0]], [[-1.0, 1.0], [9.0, 9.0]]]])  # 2 relations, [CLS] first


def test_refinement_hand_values():
    m = _refinement(cognitive_relations=2)
    m.affective_refine, m.cognitive_refine = AddHalves(), AddHalves()
    with torch.no_grad():
        m.classifier.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    out = m(HIDDEN, MASK, affective=AFFECTIVE, affective_mask=AFFECTIVE_MASK, cognitive=COGNITIVE,
            input_ids=torch.zeros(1, 3, dtype=torch.long))
    # xReact: the mean of its real states [2, 3], repeated over the context beside H_CTX
    (aff_in,) = m.affective_refine.inputs
    assert torch.equal(aff_in, torch.cat([HIDDEN, torch.tensor([2.0, 3.0]).expand(1, 3, 2)], -1))
    # each cognitive relation: its first ([CLS]) state, through the one shared refine encoder
    assert len(m.cognitive_refine.inputs) == 2
    for r, cog_in in enumerate(m.cognitive_refine.inputs):
        assert torch.equal(cog_in[..., 2:], COGNITIVE[:, r, 0].expand(1, 3, 2))
    affective_context = HIDDEN + torch.tensor([2.0, 3.0])
    refined = [HIDDEN + COGNITIVE[:, 0, 0], HIDDEN + COGNITIVE[:, 1, 0], affective_context]
    fused = torch.cat(refined, -1)  # [1, 3, 3d]
    gated = fused * torch.sigmoid(fused)
    w1, w2 = m.mlp.lin_1.weight, m.mlp.lin_2.weight
    assert w1.shape == (4, 6) and w2.shape == (2, 4)  # 3d -> 2d -> d, bias-free
    assert m.mlp.lin_1.bias is None and m.mlp.lin_2.bias is None
    torch.testing.assert_close(out.extras["context"], torch.relu(gated @ w1.T) @ w2.T)
    torch.testing.assert_close(out.extras["affective_context"], affective_context)
    # emotion on the affective branch at [CLS]: [1, 0] + [2, 3] = [3, 3] -> logits [3, 6]
    torch.testing.assert_close(out.representation, torch.tensor([[3.0, 3.0]]))
    torch.testing.assert_close(out.logits, torch.tensor([[3.0, 6.0]]))


def test_without_affective_branch_emotion_is_read_from_the_context():
    """w/o Aff (CEM's --woEMO): no xReact refine encoder, the MLP fuses the cognitive contexts
    only, and the classifier reads H_CTX at [CLS]."""
    m = _refinement(cognitive_relations=2, affective=False)
    assert m.affective_refine is None
    m.cognitive_refine = AddHalves()
    with torch.no_grad():
        m.classifier.weight.copy_(torch.eye(2))
    out = m(HIDDEN, MASK, cognitive=COGNITIVE)
    assert m.mlp.lin_1.weight.shape == (2, 4)  # 2d -> ⌈2/2⌉d -> d
    fused = torch.cat([HIDDEN + COGNITIVE[:, 0, 0], HIDDEN + COGNITIVE[:, 1, 0]], -1)
    torch.testing.assert_close(out.extras["context"], m.mlp(fused * torch.sigmoid(fused)))
    torch.testing.assert_close(out.logits, HIDDEN[:, 0])
    assert "affective_context" not in out.extras


def test_without_cognitive_branch_the_decoder_reads_the_affective_context():
    """w/o Cog (CEM's --woCOG): no cognitive refine encoder and no MLP (nor its gate)."""
    m = _refinement(cognitive_relations=0)
    assert m.cognitive_refine is None and m.mlp is None
    m.affective_refine = AddHalves()
    out = m(HIDDEN, MASK, affective=AFFECTIVE, affective_mask=AFFECTIVE_MASK)
    torch.testing.assert_close(out.extras["context"], HIDDEN + torch.tensor([2.0, 3.0]))


def test_mlp_sizes_are_cems():
    """CEM's MLP: 5d -> 3d -> d with the affective branch, 4d -> 2d -> d without."""
    from edg_baselines.cem_refinement import CemRefinement, CemRefinementOptions

    full = CemRefinement(CemRefinementOptions(), d_model=6, num_emotions=32)
    wo_aff = CemRefinement(CemRefinementOptions(affective=False), d_model=6, num_emotions=32)
    assert (full.mlp.lin_1.in_features, full.mlp.lin_1.out_features, full.mlp.lin_2.out_features) == (30, 18, 6)
    assert (wo_aff.mlp.lin_1.in_features, wo_aff.mlp.lin_1.out_features) == (24, 12)
    assert full.classifier.weight.shape == (32, 6) and full.classifier.bias is None


def test_without_a_classifier_the_logits_are_empty():
    m = _refinement(num_emotions=0, cognitive_relations=2)
    out = m(HIDDEN, MASK, affective=AFFECTIVE, affective_mask=AFFECTIVE_MASK, cognitive=COGNITIVE)
    assert m.classifier is None and out.logits.shape == (1, 0)
    assert not any("classifier" in name for name, _ in m.named_parameters())


def test_the_affective_summary_ignores_padding():
    """Masked mean (CEM's torch.mean also averages the padding, so a sample's summary depended
    on the longest xReact sequence of its batch): padding the xReact states changes nothing."""
    m = _refinement(cognitive_relations=2).eval()
    padded = torch.cat([AFFECTIVE, torch.full((1, 4, 2), 50.0)], 1)
    padded_mask = torch.cat([AFFECTIVE_MASK, torch.zeros(1, 4, dtype=torch.bool)], 1)
    with torch.no_grad():
        a = m(HIDDEN, MASK, affective=AFFECTIVE, affective_mask=AFFECTIVE_MASK, cognitive=COGNITIVE)
        b = m(HIDDEN, MASK, affective=padded, affective_mask=padded_mask, cognitive=COGNITIVE)
    torch.testing.assert_close(a.extras["context"], b.extras["context"])
    torch.testing.assert_close(a.logits, b.logits)


def test_refinement_input_errors():
    from edg_baselines.cem_refinement import CemRefinement, CemRefinementOptions

    with pytest.raises(ValueError, match="affective branch or at least one cognitive"):
        CemRefinement(CemRefinementOptions(affective=False, cognitive_relations=0), d_model=2)
    m = _refinement(cognitive_relations=2)
    with pytest.raises(ValueError, match=r"'cognitive' must be \[B, 2, Lk, d\]"):
        m(HIDDEN, MASK, affective=AFFECTIVE, affective_mask=AFFECTIVE_MASK, cognitive=COGNITIVE[:, :1])
    with pytest.raises(ValueError, match="needs 'affective'"):
        m(HIDDEN, MASK, cognitive=COGNITIVE)


def test_gradients_reach_every_part():
    m = _refinement(cognitive_relations=2)
    hidden = HIDDEN.clone().requires_grad_(True)
    cognitive = COGNITIVE.clone().requires_grad_(True)
    out = m(hidden, MASK, affective=AFFECTIVE, affective_mask=AFFECTIVE_MASK, cognitive=cognitive)
    (out.extras["context"].sum() + out.logits.sum()).backward()
    assert all(p.grad is not None for p in m.parameters())
    assert cognitive.grad[:, :, 1:].abs().sum() == 0 and cognitive.grad[:, :, 0].abs().sum() > 0  # [CLS] only


def test_knowledge_sequences_follow_cems_loader(tokenizer):
    from edg_baselines.cem_refinement import CemRefinement

    relations = ["xIntent", "xNeed", "xReact"]
    knowledge = [{"xIntent": ["to be happy", "none"], "xNeed": [], "xReact": ["happy", "good"]},
                 {"xIntent": ["zzzunseenword happy"], "xNeed": ["to go home"], "xReact": []},
                 None]
    seqs = CemRefinement.knowledge_sequences(tokenizer, knowledge, relations, affective_last=True, max_tokens=3)
    words = [[tokenizer.convert_ids_to_tokens(s) for s in sample] for sample in seqs]
    assert words[0] == [["[CLS]", "be", "happy"], ["[CLS]"], ["happy", "good"]]  # "to", "none" dropped
    # out-of-vocabulary words dropped; cut to 3 tokens; an empty xReact is [CLS] alone
    assert words[1] == [["[CLS]", "happy"], ["[CLS]", "go", "home"], ["[CLS]"]]
    assert words[2] == [["[CLS]"], ["[CLS]"], ["[CLS]"]]  # no knowledge
    cognitive_only = CemRefinement.knowledge_sequences(tokenizer, knowledge[:1], relations, affective_last=False,
                                                       max_tokens=8)
    assert tokenizer.convert_ids_to_tokens(cognitive_only[0][2]) == ["[CLS]", "happy", "good"]
