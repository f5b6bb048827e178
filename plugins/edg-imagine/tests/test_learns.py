"""IMAGINE learns on real ED samples within a short CPU run (the full model: causes from the
fitted RECCON detector, mechanism labels from the EPITOME classifiers, tiny-COMET knowledge):
the validation loss falls and the emotion accuracy on held-out samples ends clearly above
the majority-class rate."""

from __future__ import annotations

from contextlib import nullcontext

import torch

STEPS = 300
SMALL = ["model.d_model=64", "model.ffn_dim=128", "model.max_knowledge_tokens=24", "tokenizer.vocab_size=3000",
         "tokenizer.max_context_tokens=64", "tokenizer.max_target_tokens=16",
         'knowledge."comet.imagine".num_beams=1', 'knowledge."comet.imagine".num_return=1',
         'knowledge."comet.imagine".max_length=4', 'knowledge."comet.imagine".batch_size=512',
         "train.batch_size=32", "train.lr=3e-3", f"train.max_steps={STEPS}", f"train.eval_every={STEPS}",
         "train.threads=1", "train.progress=false", "train.precision=fp32", "train.device=cpu"]


@torch.no_grad()
def emotion_accuracy(model, system, dataset) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(dataset), 64):
        batch = system.collate([dataset[i] for i in range(start, min(start + 64, len(dataset)))])
        correct += int((model.predict_emotion(batch).argmax(-1) == batch["emotion_id"]).sum())
    return correct / len(dataset)


def test_imagine_learns_on_real_samples(tmp_path, monkeypatch, data_overrides, small_classifier_overrides):
    from edg.pipeline import build_everything, open_session
    from edg.training.loop import train, validation_loss

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    session = open_session("imagine", preset="tiny", overrides=[*data_overrides, "data.max_train=4000",
                                                                "data.max_valid=300", "data.max_test=1", *SMALL,
                                                                *small_classifier_overrides])
    splits, model = build_everything(session, tmp_path / "run", progress=False)
    losses = session.system.build_losses()
    valid = splits["valid"]

    def validate():
        return validation_loss(model, session.system, losses, valid, 64, torch.device("cpu"), nullcontext)

    import time

    try:
        start = validate()
        began = time.perf_counter()
        state = train(model, session.system, losses, splits, session.config, tmp_path / "run")
        seconds = time.perf_counter() - began
        end = validate()
        accuracy = emotion_accuracy(model, session.system, valid)
        from edg_imagine.mechanism_accuracy import mechanism_accuracy

        mechanisms = mechanism_accuracy(model, session.system, valid)
    finally:
        torch.set_num_threads(before)
    from collections import Counter

    majority = Counter(valid["emotion"]).most_common(1)[0][1] / len(valid)
    print(f"emotion accuracy {accuracy:.3f} (majority {majority:.3f}); valid loss {start['loss']:.3f} -> "
          f"{end['loss']:.3f}, token NLL {start['token_nll']:.3f} -> {end['token_nll']:.3f}; "
          f"{state.step} steps in {seconds:.1f} s; mechanism accuracy (vs the EPITOME labels) "
          + ", ".join(f"{k} {v:.3f}" for k, v in mechanisms.items()))
    assert state.step == STEPS
    assert end["token_nll"] < start["token_nll"] - 1.0, (start, end)
    assert end["loss"] < 0.8 * start["loss"], (start, end)
    assert accuracy > 2 * majority, (accuracy, majority)
    assert seconds < 60, seconds
    assert all(0.0 <= v <= 1.0 for v in mechanisms.values())
