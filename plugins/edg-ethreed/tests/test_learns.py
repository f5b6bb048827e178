"""ETHREED learns on real ED conversations within a short CPU run: the validation loss
falls and the speaker-emotion accuracy of the tracked states on held-out conversations
ends clearly above the majority-class rate."""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext

import torch

STEPS = 500
SMALL = ["model.hidden=96", "model.utterance_hidden=48", "model.embedding_dim=96", "model.max_utterance_tokens=32",
         "model.listener_labels=utterance_labels", "tokenizer.vocab_size=3000", "tokenizer.max_target_tokens=16",
         "train.batch_size=24", "train.lr=5e-3", f"train.max_steps={STEPS}",
         f"train.eval_every={STEPS}", "train.threads=1", "train.progress=false", "train.precision=fp32",
         "train.device=cpu"]


@torch.no_grad()
def speaker_accuracy(model, system, dataset) -> float:
    model.eval()
    correct = total = 0
    for start in range(0, len(dataset), 32):
        batch = system.collate([dataset[i] for i in range(start, min(start + 32, len(dataset)))])
        logits = model(batch).extras["party_emotion_logits"]
        labels = batch["speaker_emotion_labels"]
        known = labels.ne(-100)
        correct += int((logits.argmax(-1)[known] == labels[known]).sum())
        total += int(known.sum())
    return correct / total


def test_ethreed_learns_on_real_conversations(tmp_path, monkeypatch):
    from edg.pipeline import build_everything, open_session
    from edg.testing import require_shared
    from edg.training.loop import train, validation_loss

    data = require_shared("empatheticdialogues")
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    session = open_session("ethreed", overrides=[f"data.path={data}", "data.max_train=8000", "data.max_valid=300",
                                                 "data.max_test=1", *SMALL])
    splits, model = build_everything(session, tmp_path / "run", progress=False)
    losses = session.system.build_losses()
    valid = splits["valid"]

    def validate():
        return validation_loss(model, session.system, losses, valid, 32, torch.device("cpu"), nullcontext)

    try:
        start = validate()
        state = train(model, session.system, losses, splits, session.config, tmp_path / "run")
        end = validate()
        accuracy = speaker_accuracy(model, session.system, valid)
    finally:
        torch.set_num_threads(before)
    majority = Counter(valid["emotion"]).most_common(1)[0][1] / len(valid)
    print(f"speaker accuracy {accuracy:.3f} (majority {majority:.3f}); valid loss {start['loss']:.3f} -> "
          f"{end['loss']:.3f}, token NLL {start['token_nll']:.3f} -> {end['token_nll']:.3f}")
    assert state.step == STEPS
    assert end["token_nll"] < start["token_nll"] - 1.5, (start, end)
    assert end["loss"] < 0.8 * start["loss"], (start, end)
    # a from-scratch GRU hierarchy learns emotion slowly: about twice the majority rate here
    assert accuracy > max(1.6 * majority, 0.1), (accuracy, majority)
