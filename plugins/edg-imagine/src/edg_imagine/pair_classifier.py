"""A binary sequence classifier over segmented texts, shared by IMAGINE's two fitted
components (the RECCON emotion-cause detector and the EPITOME mechanism classifiers).

``model_name`` loads a pretrained checkpoint by name or local path with its own tokenizer
(RoBERTa, as RECCON's and EPITOME's published classifiers); ``model_name: null`` builds a
small RoBERTa-shaped encoder from ``small_*`` (random initialisation) over a word-level
vocabulary trained on the component's own training texts, so it runs offline and does not
depend on the run's tokenizer (it can be fitted before knowledge annotation).

``pair_types > 0`` gives every example an integer type (a feature of the pair, e.g. the
cause candidate's distance to its target) that the small encoder embeds as RoBERTa's token
type on every token; pretrained checkpoints take none (their token-type table has one row).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any, Optional

from tqdm.auto import tqdm

from edg.config import StrictModel, TokenizerConfig
from edg.errors import ConfigError
from edg.interfaces.schedule import Schedule
from edg.training.schedules import ConstantSchedule, LinearSchedule

STATE_FILE = "classifier.json"
PROGRESS_FILE = "progress.json"
WEIGHTS_FILE = "model.safetensors"
BEST_FILE = "best.safetensors"


class PairClassifierOptions(StrictModel):
    model_name: Optional[str] = "roberta-base"
    """A pretrained checkpoint (hub name or local directory); ``null``: the small encoder."""
    small_hidden: int = 64
    small_layers: int = 2
    small_heads: int = 2
    small_vocab: int = 8000
    epochs: int = 3
    lr: float = 1e-5
    warmup_ratio: float = 0.0
    """The fraction of all training steps over which the learning rate rises linearly from 0."""
    linear_decay: bool = True
    """After the warm-up, decay the learning rate linearly to 0 at the last step (the linear
    schedule both reference recipes use); ``false``: constant."""
    max_grad_norm: Optional[float] = 1.0
    """Clip the gradient to this global norm; ``null``: no clipping."""
    weight_decay: float = 0.0
    batch_size: int = 16
    max_tokens: int = 256
    max_train_examples: Optional[int] = None
    """Keep the first N training examples (after a seeded shuffle): tiny runs."""
    max_eval_examples: Optional[int] = None
    """Keep the first N examples of each evaluation set: tiny runs (the metrics say how many)."""
    seed: int = 0
    device: str = "auto"


class PairClassifier:
    """Texts are lists of segments joined by the tokenizer's separator token."""

    def __init__(self, options: PairClassifierOptions, key: str, pair_types: int = 0) -> None:
        self.options = options
        self.key = key  # the config key of these options, for error messages
        self.pair_types = pair_types
        if pair_types and options.model_name is not None:
            raise ConfigError(f"{key}.model_name: pair types are for the small offline encoder (model_name: null); "
                              f"a pretrained checkpoint reads the pair from its text")
        self.model: Any = None
        self.tokenizer: Any = None

    def fingerprint(self) -> dict[str, Any]:
        fp = self.options.model_dump(mode="json")
        fp.pop("device")
        if self.pair_types:
            fp["pair_types"] = self.pair_types
        return fp

    def _device(self):
        import torch

        d = self.options.device
        return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if d == "auto" else d)

    # -- model ------------------------------------------------------------------------------
    def build(self, vocabulary_texts: list[str]) -> None:
        o = self.options
        import torch

        torch.manual_seed(o.seed)
        if o.model_name is not None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            try:
                self.tokenizer = AutoTokenizer.from_pretrained(o.model_name)
                self.model = AutoModelForSequenceClassification.from_pretrained(o.model_name, num_labels=2)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.key}.model_name: cannot load '{o.model_name}' ({exc.__class__.__name__}); "
                                  f"set it to a local checkpoint, or to null for the small offline encoder") from None
            return
        from transformers import RobertaConfig, RobertaForSequenceClassification

        from edg.tokenization import build_tokenizer

        tok = build_tokenizer(TokenizerConfig(kind="word", vocab_size=o.small_vocab), vocabulary_texts)
        config = RobertaConfig(vocab_size=len(tok), hidden_size=o.small_hidden, num_hidden_layers=o.small_layers,
                               num_attention_heads=o.small_heads, intermediate_size=4 * o.small_hidden,
                               max_position_embeddings=o.max_tokens + tok.pad_token_id + 2, num_labels=2,
                               pad_token_id=tok.pad_token_id, bos_token_id=None, eos_token_id=None,
                               type_vocab_size=max(self.pair_types, 1))
        self.model = RobertaForSequenceClassification(config)
        self.tokenizer = tok

    def _join(self, segments: list[str]) -> str:
        sep = self.tokenizer.sep_token or "</s>"
        return f" {sep} ".join(s.strip() for s in segments)

    def _batch(self, texts: list[list[str]], types: Optional[list[int]] = None):
        import torch

        enc = self.tokenizer([self._join(t) for t in texts], truncation=True, max_length=self.options.max_tokens,
                             padding=True, return_tensors="pt")
        enc.pop("token_type_ids", None)
        if self.pair_types:
            if types is None or len(types) != len(texts):
                raise ValueError(f"{self.key}: this classifier needs one pair type per text")
            if min(types) < 0 or max(types) >= self.pair_types:
                raise ValueError(f"{self.key}: pair types must lie in [0, {self.pair_types})")
            column = torch.tensor(types, dtype=torch.long).unsqueeze(1)
            enc["token_type_ids"] = column.expand_as(enc["input_ids"]).contiguous()
        return {k: v.to(self._device()) for k, v in enc.items()}

    def schedule(self, train_examples: int) -> Schedule:
        """The learning-rate multiplier of each step: the core's ``linear`` schedule (warm-up,
        then linear decay to 0) or, without ``linear_decay``, its ``constant`` one."""
        o = self.options
        steps_per_epoch = math.ceil(train_examples / o.batch_size)
        total_steps = steps_per_epoch * o.epochs
        kind = LinearSchedule if o.linear_decay else ConstantSchedule
        return kind(None, warmup_steps=math.ceil(total_steps * o.warmup_ratio), total_steps=total_steps,
                    steps_per_epoch=steps_per_epoch)

    def train(self, examples: list[tuple[list[str], int]], work_dir: Path,
              valid: Optional[list[tuple[list[str], int]]] = None, *, types: Optional[list[int]] = None,
              valid_types: Optional[list[int]] = None) -> dict[str, float]:
        """Cross-entropy training; with ``valid``, the epoch of lowest validation loss is kept
        (RECCON's and EPITOME's best-model selection). An interrupted fit resumes after its
        last complete epoch. Returns the selected epoch and its validation loss. ``types``
        and ``valid_types``: the pair type of each example (``pair_types > 0`` only)."""
        import torch
        from safetensors.torch import load_file, save_file

        o = self.options
        model = self.model.to(self._device())
        optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr, eps=1e-8, weight_decay=o.weight_decay)
        schedule = self.schedule(len(examples))
        progress = work_dir / PROGRESS_FILE
        record = {"epochs": 0, "best_epoch": 0, "best_loss": None}
        if progress.is_file():
            record = json.loads(progress.read_text())
            model.load_state_dict(load_file(str(work_dir / WEIGHTS_FILE)))
        rng = random.Random(o.seed)
        order = list(range(len(examples)))
        for epoch in range(o.epochs):
            rng.shuffle(order)  # shuffled every epoch, also the skipped ones: a resumed fit sees the same order
            if epoch < record["epochs"]:
                continue
            model.train()
            batches = tqdm(range(0, len(order), o.batch_size), desc=f"fit {self.key}, epoch {epoch + 1}/{o.epochs}",
                           leave=False)
            for batch_index, start in enumerate(batches):
                picked = order[start:start + o.batch_size]
                rows = [examples[i] for i in picked]
                labels = torch.tensor([y for _, y in rows], device=self._device())
                batch_types = [types[i] for i in picked] if types is not None else None
                loss = model(**self._batch([t for t, _ in rows], batch_types), labels=labels).loss
                optimizer.zero_grad()
                loss.backward()
                if o.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), o.max_grad_norm)
                for group in optimizer.param_groups:  # a function of the step: a resumed fit gets the same rates
                    group["lr"] = o.lr * schedule(epoch * schedule.steps_per_epoch + batch_index)
                optimizer.step()
            state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(work_dir / WEIGHTS_FILE))
            record["epochs"] = epoch + 1
            if valid:
                loss = self.loss(valid, types=valid_types)
                if record["best_loss"] is None or loss < record["best_loss"]:
                    record.update(best_epoch=epoch + 1, best_loss=loss)
                    save_file(state, str(work_dir / BEST_FILE))
            progress.write_text(json.dumps(record))
        if valid and (work_dir / BEST_FILE).is_file():
            model.load_state_dict(load_file(str(work_dir / BEST_FILE)))
        out = {"epochs": float(record["epochs"]), "selected_epoch": float(record["best_epoch"] or record["epochs"])}
        if record["best_loss"] is not None:
            out["selected_valid_loss"] = float(record["best_loss"])
        return out

    def loss(self, examples: list[tuple[list[str], int]], batch_size: int = 64, *,
             types: Optional[list[int]] = None) -> float:
        """Mean cross-entropy over ``examples``."""
        import torch

        self.model.to(self._device()).eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(examples), batch_size):
                rows = examples[start:start + batch_size]
                labels = torch.tensor([y for _, y in rows], device=self._device())
                batch_types = types[start:start + batch_size] if types is not None else None
                total += float(self.model(**self._batch([t for t, _ in rows], batch_types),
                                          labels=labels).loss) * len(rows)
        return total / max(len(examples), 1)

    def probabilities(self, texts: list[list[str]], batch_size: int = 64, *,
                      types: Optional[list[int]] = None) -> list[float]:
        """P(label 1) of each text (``types``: their pair types, ``pair_types > 0`` only)."""
        import torch

        self.model.to(self._device()).eval()
        out: list[float] = []
        with torch.no_grad():
            for start in tqdm(range(0, len(texts), batch_size), desc=f"{self.key}: scoring", leave=False,
                              disable=len(texts) <= 10 * batch_size):
                batch_types = types[start:start + batch_size] if types is not None else None
                logits = self.model(**self._batch(texts[start:start + batch_size], batch_types)).logits.float()
                out.extend(float(p) for p in torch.softmax(logits, -1)[:, 1].tolist())
        return out

    def save(self, directory: Path) -> None:
        self.model.save_pretrained(str(directory), safe_serialization=True)
        self.tokenizer.save_pretrained(str(directory))
        (directory / STATE_FILE).write_text(json.dumps(self.fingerprint(), indent=2) + "\n")

    def load(self, directory: Path) -> None:
        from transformers import AutoModelForSequenceClassification

        from edg.tokenization import load_tokenizer

        self.model = AutoModelForSequenceClassification.from_pretrained(str(directory))
        self.tokenizer = load_tokenizer(directory)


def binary_scores(predicted: list[int], gold: list[int]) -> dict[str, float]:
    """Accuracy, the F1 of each class and their macro average (RECCON reports Pos./Neg./macro F1)."""

    def f1(label: int) -> float:
        tp = sum(1 for p, g in zip(predicted, gold) if p == label and g == label)
        fp = sum(1 for p, g in zip(predicted, gold) if p == label and g != label)
        fn = sum(1 for p, g in zip(predicted, gold) if p != label and g == label)
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    n = max(len(gold), 1)
    pos, neg = f1(1), f1(0)
    return {"accuracy": sum(int(p == g) for p, g in zip(predicted, gold)) / n, "pos_f1": pos, "neg_f1": neg,
            "macro_f1": (pos + neg) / 2, "examples": float(len(gold))}


def ranking_auc(scores: list[float], gold: list[int]) -> float:
    """The probability that a random positive scores above a random negative (ties count
    half): the threshold-free ROC AUC, computed from the ranks of the scores."""
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):  # tied scores share their mean rank
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(gold)
    negatives = len(gold) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum = sum(r for r, g in zip(ranks, gold) if g)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def take(rows: list[Any], limit: Optional[int], seed: int) -> list[Any]:
    """A seeded random subset of at most ``limit`` rows (all rows, in order, without a limit)."""
    if limit is None or limit >= len(rows):
        return rows
    picked = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in picked]
