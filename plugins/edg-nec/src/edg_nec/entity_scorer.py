"""NEC §3.2: the BERT-style relevance scorer that selects entity knowledge ``K_E`` from ``K_all``.

Following SAKDP's idea (Wu et al., 2022), training pairs are built from the *training
split only*: a (context, triplet) pair is **positive** when the triplet overlaps the gold
response, negative otherwise. The rule (``positive_rule``):

* ``tail_or_entity`` (default): a content word of the triplet's tail, or the entity
  itself, occurs in the gold response (lowercased word match; content words are words of
  three or more letters outside a stopword list);
* ``tail``: only the tail's content words count.

Per sample, up to ``negatives_per_positive`` negatives are drawn (seeded) for each positive;
samples without a positive contribute nothing. A cross-encoder
``[CLS] ent, rel, tail [SEP] history [SEP]`` with one output logit is trained with binary
cross-entropy; at every split (train included) the top ``m`` triplets by score form
``K_E`` — the gold response is never used to select, only to train.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from edg.errors import ResourceError
from edg_nec.knowledge_input import history_text, linearise_triplet

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """the and for are but not you your yours all any can had her his him its our out has have was were
    that this with they them their there then than what when where which who whom why how will would
    shall should could from into onto about above after again against before being below between both
    does did doing done down during each few more most other some such only own same very just also
    too over under once here those these myself yourself itself been get got getting make made one
    really thing things something anything nothing lot lots like well much many even ever never""".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(str(text).lower()) if len(w) >= 3 and w not in STOPWORDS}


def is_positive(triplet: Mapping[str, Any], response: str, rule: str = "tail_or_entity") -> bool:
    """Whether ``triplet`` overlaps the gold ``response`` under ``rule`` (see module doc)."""
    words = set(_WORD.findall(str(response).lower()))
    if content_words(triplet["tail"]) & words:
        return True
    if rule == "tail_or_entity":
        entity = str(triplet["entity"]).lower().strip()
        return bool(entity) and entity in words
    return False


def build_pairs(samples: Sequence[tuple[Sequence[str], Sequence[Mapping[str, Any]], str]], *,
                negatives_per_positive: int = 3, max_pairs: Optional[int] = None, rule: str = "tail_or_entity",
                seed: int = 0) -> list[tuple[str, str, float]]:
    """``(history, linearised triplet, label)`` pairs from ``(context, K_all, gold response)``."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str, float]] = []
    for context, triplets, response in samples:
        history = history_text(context)
        pos = [t for t in triplets if is_positive(t, response, rule)]
        if not pos:
            continue
        neg = [t for t in triplets if not is_positive(t, response, rule)]
        neg = rng.sample(neg, min(len(neg), negatives_per_positive * len(pos)))
        pairs += [(history, linearise_triplet(t), 1.0) for t in pos]
        pairs += [(history, linearise_triplet(t), 0.0) for t in neg]
    if max_pairs is not None and len(pairs) > max_pairs:
        pairs = rng.sample(pairs, max_pairs)
    return pairs


def top_m(scores: Sequence[float], m: int) -> list[int]:
    """Indices of the ``m`` highest scores, best first; ties keep the original order."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return order[:m]


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class EntityScorer:
    """A sequence-classification model with one logit over ``[CLS] triplet [SEP] history [SEP]``."""

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = 128, device: str = "auto") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = _device(device)
        self.model.to(self.device)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def pretrained(cls, name_or_path: str, **kw: Any) -> "EntityScorer":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            model = AutoModelForSequenceClassification.from_pretrained(name_or_path, num_labels=1)
        except Exception as exc:
            raise ResourceError(
                f"cannot load the entity scorer '{name_or_path}' ({type(exc).__name__}); when offline, set "
                f"model.entity.scorer to a local directory with a BERT model (e.g. bert-base-uncased), or "
                f"model.entity.scorer_config to build a small one from scratch"
            ) from None
        return cls(model, tokenizer, **kw)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], tokenizer: Any, *, seed: int = 0, **kw: Any) -> "EntityScorer":
        """A randomly initialised BERT from ``config`` (BertConfig kwargs) over ``tokenizer``."""
        import torch
        from transformers import BertConfig, BertForSequenceClassification

        cfg = BertConfig(**{"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
                            "num_labels": 1, **dict(config)})
        torch.manual_seed(seed)
        return cls(BertForSequenceClassification(cfg), tokenizer, **kw)

    # -- inputs ------------------------------------------------------------------------
    def encode(self, histories: Sequence[str], triplets: Sequence[str]):
        """Padded ``input_ids``, ``token_type_ids`` and ``attention_mask`` for pairs; the history
        is cut from the left so the triplet and the latest turns stay."""
        import torch

        tok = self.tokenizer
        cls_id = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        sep_id = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        trip = tok(list(triplets), add_special_tokens=False)["input_ids"]
        hist = tok(list(histories), add_special_tokens=False)["input_ids"]
        rows, types = [], []
        for t, h in zip(trip, hist):
            t = t[: self.max_length // 2]
            room = max(self.max_length - len(t) - 3, 0)
            h = h[-room:] if room else []
            rows.append([cls_id, *t, sep_id, *h, sep_id])
            types.append([0] * (len(t) + 2) + [1] * (len(h) + 1))
        longest = max((len(r) for r in rows), default=1)
        ids = torch.full((len(rows), longest), tok.pad_token_id, dtype=torch.long)
        tt = torch.zeros((len(rows), longest), dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, (r, y) in enumerate(zip(rows, types)):
            ids[i, : len(r)] = torch.tensor(r)
            tt[i, : len(y)] = torch.tensor(y)
            mask[i, : len(r)] = 1
        return {"input_ids": ids, "token_type_ids": tt, "attention_mask": mask}

    def _logits(self, histories: Sequence[str], triplets: Sequence[str]):
        batch = {k: v.to(self.device) for k, v in self.encode(histories, triplets).items()}
        return self.model(**batch).logits.squeeze(-1).float()

    # -- training and scoring ----------------------------------------------------------
    def train(self, pairs: Sequence[tuple[str, str, float]], *, epochs: int = 1, lr: float = 2e-5,
              batch_size: int = 32, seed: int = 0) -> list[float]:
        """Binary cross-entropy on the pairs; returns the mean loss per epoch."""
        import torch

        if not pairs:
            return []
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(self.model.parameters(), lr=lr)
        self.model.train()
        history = []
        for _ in range(epochs):
            order = torch.randperm(len(pairs), generator=g).tolist()
            total, n = 0.0, 0
            for start in range(0, len(order), batch_size):
                chunk = [pairs[i] for i in order[start : start + batch_size]]
                logits = self._logits([c[0] for c in chunk], [c[1] for c in chunk])
                labels = torch.tensor([c[2] for c in chunk], device=logits.device)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, n = total + loss.item() * len(chunk), n + len(chunk)
            history.append(total / max(n, 1))
        self.model.eval()
        return history

    def score(self, histories: Sequence[str], triplets: Sequence[str], *, batch_size: int = 128) -> list[float]:
        import torch

        self.model.eval()
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(triplets), batch_size):
                out += self._logits(histories[start : start + batch_size],
                                    triplets[start : start + batch_size]).tolist()
        return out

    def select(self, samples: Sequence[tuple[Sequence[str], Sequence[Mapping[str, Any]]]], m: int, *,
               batch_size: int = 128) -> list[list[int]]:
        """For each ``(context, K_all)``: indices of its top ``m`` triplets, best first.

        All triplets of all samples are scored in large batches."""
        histories, texts, owner = [], [], []
        for i, (context, triplets) in enumerate(samples):
            h = history_text(context)
            for t in triplets:
                histories.append(h)
                texts.append(linearise_triplet(t))
                owner.append(i)
        scores = self.score(histories, texts, batch_size=batch_size) if texts else []
        per_sample: list[list[float]] = [[] for _ in samples]
        for i, s in zip(owner, scores):
            per_sample[i].append(s)
        return [top_m(s, m) for s in per_sample]

    # -- persistence -------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(directory))

    def load_weights(self, directory: Path) -> None:
        from transformers import AutoModelForSequenceClassification

        self.model = AutoModelForSequenceClassification.from_pretrained(str(directory)).to(self.device).eval()


def data_fingerprint(samples: Sequence[tuple[Sequence[str], Sequence[Mapping[str, Any]], str]]) -> str:
    """A hash of the training data the scorer learns from (contexts, K_all, responses)."""
    h = hashlib.sha256()
    for context, triplets, response in samples:
        h.update(json.dumps([list(context), [dict(t) for t in triplets], response], sort_keys=True).encode())
    return h.hexdigest()[:16]
