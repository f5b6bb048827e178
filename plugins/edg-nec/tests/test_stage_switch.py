"""Stage 1 -> 2 (§4.2): NLL until the validation loss plateaus, then NLL + L_CL; early
stopping and the switch agree."""

import json

import pytest
import torch

from edg.interfaces.loss import TrainingContext
from edg_nec.contrastive_loss import ContrastiveLoss, ContrastiveOptions


def _term(**options):
    term = ContrastiveLoss(ContrastiveOptions(**{"self_generated": 0, **options}))
    term.registered_name = "nec.contrastive"
    return term


def test_options():
    assert ContrastiveOptions().stage_switch == "plateau"
    with pytest.raises(ValueError, match="start_step"):
        ContrastiveOptions(stage_switch="step")
    with pytest.raises(ValueError, match="plateau_patience"):
        ContrastiveOptions(plateau_patience=0)


def test_plateau_of_the_validation_nll_switches_and_restarts_early_stopping():
    term = _term(plateau_patience=2, plateau_min_delta=0.01)
    context = TrainingContext()
    term.setup(context)
    assert term.holds_early_stopping() and not term.in_stage_two()
    changed = []
    for step, nll in [(100, 5.0), (200, 4.5), (300, 4.495), (400, 4.3), (500, 4.31), (600, 4.295)]:
        context.step = step
        changed.append(term.on_validation({"loss": nll + 1.0, "token_nll": nll}))
    # 4.495 is no improvement (< min_delta), 4.3 is; 4.31 and 4.295 are two in a row without
    assert changed == [False, False, False, False, False, True]
    assert term.in_stage_two() and term.switch_step == 600 and not term.holds_early_stopping()
    # the stage survives a checkpoint
    resumed = _term(plateau_patience=2, plateau_min_delta=0.01)
    resumed.load_state_dict(json.loads(json.dumps(term.state_dict())))
    assert resumed.stage == 2 and resumed.switch_step == 600
    # after the switch the plateau rule does nothing more
    assert term.on_validation({"token_nll": 9.0}) is False


def test_fixed_step_is_an_option_and_start_step_caps_the_plateau():
    context = TrainingContext()
    step_term = _term(stage_switch="step", start_step=3)
    step_term.setup(context)
    assert step_term.holds_early_stopping()
    assert [(setattr(context, "step", s), step_term.in_stage_two())[1] for s in range(5)] == [False] * 3 + [True] * 2
    assert not step_term.holds_early_stopping()
    # the next validation record learns that the objective changed (once)
    assert step_term.on_validation({"token_nll": 3.0}) is True
    assert step_term.on_validation({"token_nll": 3.0}) is False
    capped = _term(start_step=2)
    capped.setup(context)
    context.step = 1
    assert not capped.in_stage_two()
    context.step = 2
    assert capped.in_stage_two() and capped.switch_step == 2


def test_early_stopping_waits_for_stage_two(tmp_path, word_tokenizer, nec):
    """Patience 1 would stop the run at the first non-improving validation, which is stage 1's
    plateau being counted (plateau_patience 2): the term holds early stopping until it switches,
    the switch restarts the count, and only stage 2 can end the run."""
    from edg.data.encoding import encode_splits
    from edg.training.loop import train

    overrides = ["train.max_steps=8", "train.eval_every=1", "train.batch_size=2", "train.eval_batch_size=3",
                 "train.lr=1e-9", "train.patience=1",
                 "losses=[{name: nll}, {name: nec.contrastive, options: {plateau_patience: 2, self_generated: 0}}]"]
    torch.manual_seed(0)
    system, model, splits = nec.build_tiny(word_tokenizer, overrides=overrides)
    splits = encode_splits(system, splits, cache_dir=tmp_path / "enc", progress=False)
    losses = system.build_losses()
    state = train(model, system, losses, splits, system.config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    active = [r["cl_active"] for r in records if r["split"] == "train"]
    changed = [r.get("objective_changed", False) for r in records if r["split"] == "valid"]
    assert losses[1][2].switch_step == 3  # validations after 1 (best), 2 and 3 (plateau of 2)
    assert active == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert changed == [False, False, True, False, False]
    # stage 2: step 4 sets the new objective's best, step 5 does not improve -> patience 1 stops
    assert state.stopped_early and state.step == 5
    assert nec.open_tiny(preset=None).system.contrastive_options().stage_switch == "plateau"


def test_core_loop_switches_at_the_validation_plateau(tmp_path, word_tokenizer, nec):
    """The real training loop with lr 1e-9: the validation NLL cannot improve, so after the first
    validation (the best) the next one is the plateau (patience 1) and stage 2 starts at the
    following step, without a fixed step; the loop tells the term through on_validation."""
    from edg.data.encoding import encode_splits
    from edg.training.loop import train

    overrides = ["train.max_steps=5", "train.eval_every=1", "train.batch_size=2", "train.eval_batch_size=3",
                 "train.lr=1e-9",
                 "losses=[{name: nll}, {name: nec.contrastive, options: {plateau_patience: 1, self_generated: 0}}]"]
    torch.manual_seed(0)
    system, model, splits = nec.build_tiny(word_tokenizer, overrides=overrides)
    splits = encode_splits(system, splits, cache_dir=tmp_path / "enc", progress=False)
    losses = system.build_losses()
    train(model, system, losses, splits, system.config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    active = [r["cl_active"] for r in records if r["split"] == "train"]
    valid_nll = [r["token_nll"] for r in records if r["split"] == "valid"]
    assert active == [0.0, 0.0, 1.0, 1.0, 1.0]  # validations after steps 1 and 2: best, then plateau
    assert valid_nll[0] == pytest.approx(valid_nll[1], abs=1e-4)
    term = losses[1][2]
    assert term.switch_step == 2
    # the term's own validation NLL is the core's token_nll
    assert term.best_valid_nll == pytest.approx(valid_nll[0], abs=1e-4)
