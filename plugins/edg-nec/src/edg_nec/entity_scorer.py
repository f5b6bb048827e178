"""NEC §3.2: the BERT-style relevance scorer that selects entity knowledge ``K_E`` from ``K_all``.

The paper: "Inspired by SAKDP (Wu et al., 2022), we construct positive/negative sample pairs
to select entity commonsense that is conducive to response generation. Subsequently, we
train a BERT model as a scorer to discern the relevance of the current knowledge triplet to
the reply. The final selection is made from the top m triplets in K_all with the highest
scores." It specifies: training data are **pairs of a positive and a negative triplet**;
the label is the triplet's relevance to the **reply** (the gold response); a BERT scorer;
top m by score. It does not say what makes a triplet positive, how pairs are drawn, the
loss or the input format; edg fills these in as the NEC authors' released code does
(``RankingDataset`` / ``train_entity_ranker.py``):

* **Labels** (``labelling: context_link``, default). A triplet ``<ent, rel, tail>`` of a
  sample's K_all is positive when it links the dialogue history and the reply: the entity
  occurs in the history and the tail in the reply, or the entity in the reply and the tail
  in the history. Every other triplet of the same K_all is negative. Occurrence is a
  whole-word phrase match on lowercased words (the authors' code tests raw substrings, so
  that the tail "art" occurs in "start"; edg does not count such matches).
  ``tail_or_entity`` / ``tail`` are edg's earlier rules (a content word of the tail, or the
  entity, in the reply), kept for reproducing earlier runs.
* **Pairs.** Per training sample with at least one positive and one negative,
  ``pairs_per_sample`` (the authors: 2) pairs of a random positive and a random negative
  (seeded); other samples contribute nothing.
* **Loss.** The pair's margin ranking loss ``max(0, margin - (s+ - s-))`` (margin 0.3, the
  authors') plus binary cross-entropy of both scores (positive 1, negative 0); the authors
  add a cross-entropy from a second classification head, edg uses the one score for both.
* **Input.** A cross-encoder ``[CLS] ent, rel, tail [SEP] history [SEP]`` with one logit
  (the history is cut from the left).

The gold response is only used to train; selection scores the history and the triplet.
Which scorer selects which split's knowledge (out of fold for the training split) is
:mod:`edg_nec.entity_knowledge_selector`'s concern.
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

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """the and for are but not you your yours all any can had her his him its our out has have was were
    that this with they them their there then than what when where which who whom why how will would
    shall should could from into onto about above after again against before being below between both
    does did doing done down during each few more most other some such only own same very just also
    too over under once here those these myself yourself itself been get got getting make made one
    really thing things something anything nothing lot lots like well much many even ever never""".split()
)
LABELLINGS = ("context_link", "tail_or_entity", "tail")
#: the authors' ranking margin (``nn.MarginRankingLoss(margin=0.3)``)
RANKING_MARGIN = 0.3


def words(text: str) -> list[str]:
    return _WORD.findall(str(text).lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if len(w) >= 3 and w not in STOPWORDS}


def occurs(phrase: str, text_words: Sequence[str]) -> bool:
    """Whether the words of ``phrase`` occur contiguously in ``text_words`` (lowercased)."""
    p = words(phrase)
    if not p:
        return False
    n = len(p)
    return any(list(text_words[i : i + n]) == p for i in range(len(text_words) - n + 1))


def is_positive(triplet: Mapping[str, Any], history: str, response: str, rule: str = "context_link") -> bool:
    """Whether ``triplet`` is relevant to the gold ``response`` of a sample whose dialogue
    history is ``history`` under ``rule`` (see the module doc)."""
    reply = words(response)
    if rule == "context_link":
        context = words(history)
        entity, tail = str(triplet["entity"]), str(triplet["tail"])
        return (occurs(entity, context) and occurs(tail, reply)) or (occurs(entity, reply) and occurs(tail, context))
    if rule not in LABELLINGS:
        raise ValueError(f"unknown labelling '{rule}' (expected one of {', '.join(LABELLINGS)})")
    if content_words(triplet["tail"]) & set(reply):
        return True
    if rule == "tail_or_entity":
        entity = str(triplet["entity"]).lower().strip()
        return bool(entity) and entity in reply
    return False


def build_pairs(samples: Sequence[tuple[Sequence[str], Sequence[Mapping[str, Any]], str]], *,
                pairs_per_sample: int = 2, max_pairs: Optional[int] = None, rule: str = "context_link",
                seed: int = 0) -> list[tuple[str, str, str]]:
    """``(history, positive triplet, negative triplet)`` training pairs (linearised) from
    ``(context, K_all, gold response)`` samples: per sample with a positive and a negative,
    ``pairs_per_sample`` pairs of a random positive and a random negative."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str, str]] = []
    for context, triplets, response in samples:
        history = history_text(context)
        labels = [is_positive(t, history, response, rule) for t in triplets]
        pos = [linearise_triplet(t) for t, y in zip(triplets, labels) if y]
        neg = [linearise_triplet(t) for t, y in zip(triplets, labels) if not y]
        if not pos or not neg:
            continue
        pairs += [(history, rng.choice(pos), rng.choice(neg)) for _ in range(pairs_per_sample)]
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
    def train(self, pairs: Sequence[tuple[str, str, str]], *, epochs: int = 1, lr: float = 2e-5,
              batch_size: int = 32, seed: int = 0, margin: float = RANKING_MARGIN) -> list[float]:
        """Pairwise training on ``(history, positive, negative)``: margin ranking loss plus
        binary cross-entropy of both scores (module doc); returns the mean loss per epoch."""
        import torch
        import torch.nn.functional as F

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
                k = len(chunk)
                logits = self._logits([c[0] for c in chunk] * 2, [c[1] for c in chunk] + [c[2] for c in chunk])
                pos, neg = logits[:k], logits[k:]
                labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
                loss = (F.relu(margin - (pos - neg)).mean()
                        + F.binary_cross_entropy_with_logits(logits, labels))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, n = total + loss.item() * k, n + k
            history.append(total / max(n, 1))
        self.model.eval()
        return history

    def pair_accuracy(self, pairs: Sequence[tuple[str, str, str]], *, batch_size: int = 128) -> float:
        """Share of ``(history, positive, negative)`` pairs whose positive scores higher."""
        if not pairs:
            return float("nan")
        pos = self.score([p[0] for p in pairs], [p[1] for p in pairs], batch_size=batch_size)
        neg = self.score([p[0] for p in pairs], [p[2] for p in pairs], batch_size=batch_size)
        return sum(a > b for a, b in zip(pos, neg)) / len(pairs)

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
        self.model.save_pretrained(str(directory), safe_serialization=True)

    def load_weights(self, directory: Path) -> None:
        from transformers import AutoModelForSequenceClassification

        self.model = AutoModelForSequenceClassification.from_pretrained(str(directory), use_safetensors=True)
        self.model.to(self.device).eval()


def data_fingerprint(samples: Sequence[tuple[Sequence[str], Sequence[Mapping[str, Any]], str]]) -> str:
    """A hash of the training data the scorer learns from (contexts, K_all, responses)."""
    h = hashlib.sha256()
    for context, triplets, response in samples:
        h.update(json.dumps([list(context), [dict(t) for t in triplets], response], sort_keys=True).encode())
    return h.hexdigest()[:16]
