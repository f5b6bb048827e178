"""Communication-mechanism accuracy on a split: how often each head's predicted degree (eq.
7) matches the EPITOME classifiers' label of the reference response.

The core's evaluator has no hook for a system's own test metrics, so this is a function
that runs the trained model over an encoded split (the learning test and scripts call it);
during training and validation the same accuracies are logged by ``imagine.mechanisms``.
"""

from __future__ import annotations

from typing import Any

MECHANISMS = ("er", "ip", "ex")


def mechanism_accuracy(model: Any, system: Any, dataset: Any, batch_size: int = 64) -> dict[str, float]:
    """``{"er_acc", "ip_acc", "ex_acc", "cm_acc"}`` (fractions) over ``dataset``."""
    import torch

    if getattr(model, "mechanisms", None) is None:
        raise ValueError("mechanism accuracy needs the mechanism heads (model.use_mechanisms: true)")
    model.eval()
    correct = torch.zeros(len(MECHANISMS))
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = system.collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            logits = model(batch).extras["mechanism_logits"]
            correct += logits.argmax(-1).eq(batch["mechanism_labels"]).float().sum(0).cpu()
    accuracy = correct / max(len(dataset), 1)
    out = {f"{m}_acc": float(accuracy[i]) for i, m in enumerate(MECHANISMS)}
    out["cm_acc"] = float(accuracy.mean())
    return out
