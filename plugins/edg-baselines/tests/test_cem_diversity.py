"""CEM's frequency-based diversity loss ``cem.diversity`` (moved here from edg-ctsm, which
now uses it by registered name) on hand-made inputs."""

from __future__ import annotations

import math

import pytest
import torch

from edg.interfaces.types import DecoderOutput, ModelOutput


def test_cem_weights_match_the_core_statistics():
    from edg.data.statistics import frequency_weights
    from edg_baselines.cem_diversity_loss import cem_weights

    freq = [0, 4, 2, 1, 0]
    # 1 − f/max f = [1, 0, .5, .75, 1], normalised to mean 1 (sum 3.25)
    expected = torch.tensor([1, 0, 0.5, 0.75, 1]) / 3.25 * 5
    assert torch.allclose(cem_weights(torch.tensor(freq, dtype=torch.float)), expected, atol=1e-6)
    assert torch.allclose(cem_weights(torch.tensor(freq, dtype=torch.float)),
                          torch.from_numpy(frequency_weights(freq)), atol=1e-6)


def test_prediction_counts_cut_after_first_eos_and_weighted_nll():
    from edg_baselines.cem_diversity_loss import prediction_counts, weighted_nll

    eos = 3
    preds = torch.tensor([[1, 3, 2, 2], [2, 2, 1, 1]])
    labels = torch.tensor([[1, 1, 1, 1], [1, 1, 1, -100]])
    log_probs = torch.log(torch.nn.functional.one_hot(preds, 5).float() * 0.9 + 0.02)
    counts = prediction_counts(log_probs, labels, eos, 5)
    # row 0: 1 then EOS (cut, not counted); row 1: 2, 2, 1 (the last position is padding)
    assert counts.tolist() == [0, 2, 2, 0, 0]
    lp = torch.log(torch.tensor([[[0.5, 0.5], [0.25, 0.75]]]))
    w = torch.tensor([2.0, 0.0])
    # (2·(−log .5) + 0·(−log .75)) / 2 tokens
    assert weighted_nll(lp, torch.tensor([[0, 1]]), w).item() == pytest.approx(math.log(2), abs=1e-6)


def test_diversity_counts_are_term_state_updated_only_in_training():
    from types import SimpleNamespace

    from edg.interfaces.loss import TrainingContext
    from edg_baselines.cem_diversity_loss import DiversityLoss, DiversityOptions

    term = DiversityLoss(DiversityOptions())
    term.setup(TrainingContext(tokenizer=SimpleNamespace(eos_token_id=3)))
    preds = torch.tensor([[1, 3, 2], [2, 2, 1]])
    log_probs = torch.log(torch.nn.functional.one_hot(preds, 5).float() * 0.9 + 0.02)
    outputs = ModelOutput(DecoderOutput(log_probs, torch.zeros(2, 3, 4), is_log_probs=True))
    batch = {"labels": torch.tensor([[1, 1, 1], [1, 1, -100]])}
    term.compute(batch, outputs, None)
    assert term.counts.tolist() == [0, 1, 2, 0, 0]
    term.context.training = False
    term.compute(batch, outputs, None)
    assert term.counts.tolist() == [0, 1, 2, 0, 0]  # validation does not count
    restored = DiversityLoss(DiversityOptions())
    restored.load_state_dict(term.state_dict())
    assert torch.equal(restored.counts, term.counts)
    # frequencies: train reads the system's training statistics
    fixed = DiversityLoss(DiversityOptions(frequencies="train"))
    fixed.setup(TrainingContext(statistics={"target_token_frequencies": [0, 4, 2, 1, 0]}))
    assert fixed.compute(batch, outputs, None).value.item() == 0.0  # token 1 is the most frequent: weight 0


def test_diversity_loss_hand_value_with_prediction_counts():
    """The first training batch: counts of its own greedy predictions, CEM's weights from
    them, then the weighted NLL per target token (CEM updates the counts before weighing)."""
    from types import SimpleNamespace

    from edg.interfaces.loss import TrainingContext
    from edg_baselines.cem_diversity_loss import DiversityLoss, DiversityOptions

    term = DiversityLoss(DiversityOptions())
    term.setup(TrainingContext(tokenizer=SimpleNamespace(eos_token_id=3)))
    probs = torch.tensor([[[0.1, 0.6, 0.1, 0.1, 0.1], [0.1, 0.1, 0.5, 0.2, 0.1]]])  # greedy: 1, 2
    outputs = ModelOutput(DecoderOutput(probs.log(), torch.zeros(1, 2, 4), is_log_probs=True))
    batch = {"labels": torch.tensor([[1, 4]])}
    value = term.compute(batch, outputs, None).value
    # counts [0, 1, 1, 0, 0]: w = 1 - f/max f = [1, 0, 0, 1, 1], mean 1 -> [5/3, 0, 0, 5/3, 5/3]
    expected = (0 * -math.log(0.6) + 5 / 3 * -math.log(0.1)) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_train_frequencies_need_the_statistic():
    from edg.interfaces.loss import TrainingContext
    from edg_baselines.cem_diversity_loss import DiversityLoss, DiversityOptions

    term = DiversityLoss(DiversityOptions(frequencies="train"))
    term.setup(TrainingContext(statistics={}))
    outputs = ModelOutput(DecoderOutput(torch.zeros(1, 1, 3), torch.zeros(1, 1, 2)))
    with pytest.raises(ValueError, match="target_token_frequencies"):
        term.compute({"labels": torch.tensor([[1]])}, outputs, None)
