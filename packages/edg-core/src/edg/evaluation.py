"""Evaluation of a trained model on a split: teacher-forced perplexity, generated
responses (with the configured decoding and reranker), emotion predictions, and every
metric of :mod:`edg.metrics` computed by the one evaluator."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from edg.baseline.nll_loss import token_nll_per_row
from edg.data import EMOTIONS
from edg.metrics.accuracy import accuracy
from edg.data.encoding import length_keys
from edg.training.batches import sorted_batches
from edg.training.loop import to_device


_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")


def metric_text(text: str) -> str:
    """Lowercased words and punctuation marks separated by spaces, so that the evaluator's
    whitespace split sees the same tokens in a reference and in a response whatever the
    model's tokenizer produced (``"That's it."`` and a word-level model's ``"that ' s it ."``
    both become ``"that ' s it ."``)."""
    return " ".join(_WORD_OR_PUNCT.findall(text.lower()))


@torch.no_grad()
def evaluate(model, system, dataset, *, device: torch.device, progress: bool = True,
             reranker: Optional[Any] = None) -> tuple[list[dict[str, Any]], dict[str, float]]:
    from edg.metrics import compute_metrics
    from edg.metrics.bertscore import BertScoreSettings

    config = system.config
    model.eval()
    # batches of similar length (less padding); records are put back in dataset order
    batches = sorted_batches(length_keys(system, dataset), len(dataset), config.eval.batch_size)
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=system.collate)
    by_index: dict[int, dict[str, Any]] = {}
    head_names: set[str] = set()
    label_names: set[str] = set()
    for indices, batch in tqdm(zip(batches, loader), total=len(batches), desc=f"evaluate {config.eval.split}",
                               disable=not progress, dynamic_ncols=True):
        batch = to_device(batch, device)
        outputs = model(batch)
        # per sample, so that a file of outputs alone gives the split's perplexity back
        row_nll, row_tokens = (v.tolist() for v in token_nll_per_row(outputs.decoder, batch["labels"]))
        candidates = model.generate(batch, config.generation, reranker)
        predicted = model.predict_emotion(batch) if system.predicts_emotion else None
        heads = emotion_heads(predicted)
        head_names.update(heads)
        labels = {name: (pred.tolist(), gold.tolist()) for name, (pred, gold) in model.predict_labels(batch, outputs).items()}
        label_names.update(labels)
        for i, cands in enumerate(candidates):
            sample = dataset[indices[i]]
            record = {
                "id": sample["id"],
                "context": sample["context"],
                "hypothesis": metric_text(system.decode(cands[0].token_ids)) if cands else "",
                "reference": metric_text(sample["target"]),
                "emotion": sample["emotion"],
                "nll": row_nll[i],
                "tokens": row_tokens[i],
            }
            for name, logits in heads.items():
                record[f"pred_{name}"] = EMOTIONS[int(logits[i].argmax())]
                if name != "emotion" and sample.get(name) is not None:
                    record[name] = sample[name]
            for name, (pred, gold) in labels.items():
                record[f"pred_{name}"], record[f"gold_{name}"] = int(pred[i]), int(gold[i])
            by_index[indices[i]] = record
    records = [by_index[i] for i in sorted(by_index)]
    # fsum: the exactly rounded sum, whatever the order, so a rescored file gives the same ppl
    nll_sum, tokens = math.fsum(r["nll"] for r in records), sum(r["tokens"] for r in records)
    preds = [r["pred_emotion"] for r in records] if records and "pred_emotion" in records[0] else None
    metrics = compute_metrics(
        [r["hypothesis"] for r in records],
        [r["reference"] for r in records],
        gold_emotions=[r["emotion"] for r in records] if preds else None,
        pred_emotions=preds,
        nll_sum=nll_sum,
        num_tokens=tokens,
        names=config.eval.metrics,
        bertscore_model=BertScoreSettings.from_eval(config.eval),
        allow_all_empty=True,
    )
    # further named predictions: accuracy over the samples that carry that label
    for name in sorted(head_names - {"emotion"}):
        scored = [r for r in records if r.get(name) is not None]
        if scored:
            metrics[f"acc-{name}"] = accuracy([r[name] for r in scored], [r[f"pred_{name}"] for r in scored])
    # the model's further classifications (``predict_labels``): over the samples with a gold label
    for name in sorted(label_names):
        scored = [r for r in records if r[f"gold_{name}"] >= 0]
        if scored:
            metrics[f"acc-{name}"] = 100.0 * sum(r[f"pred_{name}"] == r[f"gold_{name}"] for r in scored) / len(scored)
    # named metric variants (eval.variants), under their own keys: the metrics above stay edg's
    if config.eval.variants and records:
        from edg.metrics.variants import score_variants

        metrics.update(score_variants(records, config.eval.variants))
    return records, metrics


def emotion_heads(predicted: Any) -> dict[str, torch.Tensor]:
    """``predict_emotion``'s result as ``{label field: [B, 32] logits}``."""
    if predicted is None:
        return {}
    if isinstance(predicted, torch.Tensor):
        return {"emotion": predicted}
    if isinstance(predicted, Mapping):
        return dict(predicted)
    raise TypeError(f"predict_emotion must return a [B, 32] tensor, a mapping of them or None, got {type(predicted)}")


def write_outputs(path: Path, records: list[dict[str, Any]]) -> None:
    from edg.runs import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
