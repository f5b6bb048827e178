"""The response-emotion labeller of §4.1, a fitted component: a 32-way emotion classifier
fine-tuned on the ED training situations (the paper: RoBERTa-large, 62.8% on the test
situations), then applied to the listener utterances to give L1 and the GPS constraint
their listener labels.

``model_name`` (``model.labeller.model_name``) loads a pretrained checkpoint by name with
its own tokenizer (``roberta-large``: the paper's); ``model_name: null`` builds a small
RoBERTa-shaped encoder from ``small_*`` (random initialisation) over the run's tokenizer,
for offline runs and tests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Optional

from tqdm.auto import tqdm

from edg.config import StrictModel
from edg.errors import ConfigError
from edg.interfaces.fitted import FittedComponent

STATE_FILE = "labeller.json"


class ResponseEmotionLabellerOptions(StrictModel):
    model_name: Optional[str] = "roberta-large"
    small_hidden: int = 64
    small_layers: int = 2
    small_heads: int = 2
    epochs: int = 3
    lr: float = 1e-5
    batch_size: int = 16
    max_tokens: int = 64
    seed: int = 0
    device: str = "auto"


class ResponseEmotionLabeller(FittedComponent):
    Options = ResponseEmotionLabellerOptions

    def __init__(self, options: ResponseEmotionLabellerOptions, *, tokenizer: Any = None) -> None:
        super().__init__(options)
        self.run_tokenizer = tokenizer
        self.model: Any = None
        self.tokenizer: Any = None

    def fingerprint(self) -> dict[str, Any]:
        fp = self.options.model_dump(mode="json")
        fp.pop("device")
        if self.options.model_name is None:  # the small encoder reads the run's token ids
            tok = self.run_tokenizer
            fp["vocabulary"] = len(tok) if tok is not None else None
            fp["vocab_digest"] = _vocab_digest(tok)
        return fp

    # -- model ------------------------------------------------------------------------------
    def _device(self):
        import torch

        d = self.options.device
        return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if d == "auto" else d)

    def _build(self) -> None:
        o = self.options
        if o.model_name is not None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            try:
                self.tokenizer = AutoTokenizer.from_pretrained(o.model_name)
                self.model = AutoModelForSequenceClassification.from_pretrained(o.model_name, num_labels=32)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"model.labeller.model_name: cannot load '{o.model_name}' ({exc.__class__.__name__}); "
                                  f"set it to a local checkpoint, or to null for the small offline encoder") from None
            return
        from transformers import RobertaConfig, RobertaForSequenceClassification

        tok = self.run_tokenizer
        if tok is None:
            raise ConfigError("model.labeller.model_name: null needs the run's tokenizer (fit at before_prepare)")
        config = RobertaConfig(vocab_size=len(tok), hidden_size=o.small_hidden, num_hidden_layers=o.small_layers,
                               num_attention_heads=o.small_heads, intermediate_size=4 * o.small_hidden,
                               max_position_embeddings=o.max_tokens + tok.pad_token_id + 2, num_labels=32,
                               pad_token_id=tok.pad_token_id, bos_token_id=None, eos_token_id=None, type_vocab_size=1)
        import torch

        torch.manual_seed(o.seed)
        self.model = RobertaForSequenceClassification(config)
        self.tokenizer = tok

    def _batch(self, texts: list[str]):
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.options.max_tokens, padding=True,
                             return_tensors="pt")
        enc.pop("token_type_ids", None)
        return {k: v.to(self._device()) for k, v in enc.items()}

    # -- FittedComponent --------------------------------------------------------------------
    def fit(self, data: dict[str, Any], work_dir: Path) -> dict[str, float]:
        import torch

        from safetensors.torch import load_file, save_file

        o = self.options
        self._build()
        model = self.model.to(self._device())
        train = list(zip(data["train"]["situation"], data["train"]["emotion_id"]))
        optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr)
        done = 0
        progress = work_dir / "progress.json"
        if progress.is_file():  # resume after the last completed epoch
            done = json.loads(progress.read_text())["epochs"]
            model.load_state_dict(load_file(str(work_dir / "model.safetensors")))
        rng = random.Random(o.seed)
        order = list(range(len(train)))
        for epoch in range(o.epochs):
            rng.shuffle(order)
            if epoch < done:
                continue
            model.train()
            for start in tqdm(range(0, len(order), o.batch_size), leave=False,
                              desc=f"fit response-emotion labeller, epoch {epoch + 1}/{o.epochs}"):
                rows = [train[i] for i in order[start:start + o.batch_size]]
                batch = self._batch([t for t, _ in rows])
                labels = torch.tensor([y for _, y in rows], device=self._device())
                loss = model(**batch, labels=labels).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                      str(work_dir / "model.safetensors"))
            progress.write_text(json.dumps({"epochs": epoch + 1}))
        test = data["test"]
        predicted = self.label(list(test["situation"]))
        correct = sum(int(p == y) for p, y in zip(predicted, test["emotion_id"]))
        return {"test_accuracy": correct / max(len(predicted), 1), "train_situations": float(len(train)),
                "test_situations": float(len(predicted))}

    def label(self, texts: list[str], batch_size: int = 64) -> list[int]:
        """The predicted emotion index of each text."""
        import torch

        self.model.to(self._device()).eval()
        out: list[int] = []
        with torch.no_grad():
            for start in tqdm(range(0, len(texts), batch_size), desc="labelling responses", leave=False,
                              disable=len(texts) <= 10 * batch_size):
                logits = self.model(**self._batch(texts[start:start + batch_size])).logits
                out.extend(int(i) for i in logits.argmax(-1).tolist())
        return out

    def save(self, directory: Path) -> None:
        self.model.save_pretrained(str(directory), safe_serialization=True)
        if self.options.model_name is not None:
            self.tokenizer.save_pretrained(str(directory))
        (directory / STATE_FILE).write_text(json.dumps(self.fingerprint(), indent=2) + "\n")

    def load(self, directory: Path) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.model = AutoModelForSequenceClassification.from_pretrained(str(directory))
        self.tokenizer = (AutoTokenizer.from_pretrained(str(directory)) if self.options.model_name is not None
                          else self.run_tokenizer)


def _vocab_digest(tokenizer: Any) -> Optional[str]:
    if tokenizer is None:
        return None
    import hashlib

    vocab = tokenizer.get_vocab()
    return hashlib.sha256(json.dumps(sorted(vocab.items())).encode()).hexdigest()[:16]
