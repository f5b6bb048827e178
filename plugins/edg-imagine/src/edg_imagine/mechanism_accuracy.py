"""Communication-mechanism accuracy on a split: how often each head's predicted degree (eq.
7) matches the EPITOME classifiers' label of the reference response.

The evaluator reports the same figures (``acc-cm_er``, ``acc-cm_ip``, ``acc-cm_ex``) through
:meth:`edg_imagine.model.ImagineModel.predict_labels`; this function gives them for any
encoded split without generating responses (the learning test and scripts call it).
"""

from __future__ import annotations

from typing import Any

from edg_imagine.epitome import MECHANISMS


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
            labels = model.predict_labels(batch, model(batch))
            for i, m in enumerate(MECHANISMS):
                predicted, gold = labels[f"cm_{m}"]
                correct[i] += predicted.eq(gold).float().sum().cpu()
    accuracy = correct / max(len(dataset), 1)
    out = {f"{m}_acc": float(accuracy[i]) for i, m in enumerate(MECHANISMS)}
    out["cm_acc"] = float(accuracy.mean())
    return out
