"""The entity scorer as a fit-stage component (:class:`edg.interfaces.fitted.FittedComponent`):
it learns, on the training split, which COMET entity triplets are relevant to the reply
(:mod:`edg_nec.entity_scorer`) and selects ``K_E`` for every split.

**Out of fold.** A scorer must not select the knowledge of the samples it was trained on:
their labels came from their own gold responses, so it would pick the triplets that overlap
the gold for training inputs but cannot do so for test inputs, and the generator would learn
to trust K_E more than it should. So the training split is cut into ``folds`` folds **by
conversation** (the samples of one dialogue share its history and its replies, so they stay
together), and the knowledge of each fold's samples is selected by a scorer trained on the
other folds. Valid, test and new inputs (``edg generate``/``chat``) are scored by one scorer
trained on the whole training split. ``folds: 1`` selects the training split's knowledge
with that full scorer too (in-sample; edg's earlier behaviour, kept for comparison).

Fitting trains ``folds + 1`` scorers (``folds = 1``: one). The core's fit stage
(:mod:`edg.fitting`) runs it once, caches the result under a key of :meth:`fingerprint`
and the training data's fingerprint, records it in ``RUN_DIR/fitted.json`` and resumes an
interrupted fit: every finished fold's selections and the finished full scorer are kept in
the work directory. The fitted result is the full scorer's weights (safetensors) and the
out-of-fold selections of the training samples (JSON, by sample id).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from edg.errors import ConfigError, DataError
from edg.interfaces.fitted import FittedComponent
from edg_nec.entity_scorer import EntityScorer, build_pairs, data_fingerprint

SELECTIONS = "train_selections.json"
SCORER_DIR = "scorer"


def assign_folds(conversations: Sequence[Any], folds: int, seed: int) -> list[int]:
    """The fold of every sample: conversations shuffled (seeded) and dealt round-robin."""
    unique = sorted({str(c) for c in conversations})
    random.Random(seed).shuffle(unique)
    fold_of = {c: i % folds for i, c in enumerate(unique)}
    return [fold_of[str(c)] for c in conversations]


class EntityKnowledgeSelector(FittedComponent):
    """``options``: the system's ``model.entity`` options (``EntityKnowledgeOptions``)."""

    def __init__(self, options: Any, *, tokenizer: Any = None, seed: int = 0) -> None:
        super().__init__(options)
        self.run_tokenizer = tokenizer
        self.seed = seed
        self.scorer: Optional[EntityScorer] = None
        #: sample id -> indices into its K_all (top ``top_m_train``, best first), out of fold
        self.train_selections: dict[str, list[int]] = {}
        self.data_digest: Optional[str] = None

    # -- identity ----------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        e = self.options
        fp: dict[str, Any] = {
            "nec.entity_knowledge_selector": 2, "scorer": e.scorer if e.scorer_config is None else None,
            "scorer_config": e.scorer_config, "epochs": e.scorer_epochs, "lr": e.scorer_lr,
            "batch_size": e.scorer_batch_size, "max_length": e.scorer_max_length,
            "pairs_per_sample": e.pairs_per_sample, "max_train_pairs": e.max_train_pairs,
            "labelling": e.labelling, "folds": e.folds, "top_m_train": e.top_m_train, "seed": self.seed,
            "source_field": e.source_field,
        }
        if e.scorer_config is not None:  # the small scorer reads the run's token ids
            import hashlib

            vocab = sorted(self.run_tokenizer.get_vocab().items()) if self.run_tokenizer is not None else None
            fp["tokenizer"] = hashlib.sha256(json.dumps(vocab).encode()).hexdigest()[:16]
        return fp

    # -- scorers -----------------------------------------------------------------------------
    def new_scorer(self) -> EntityScorer:
        e = self.options
        kw = {"max_length": e.scorer_max_length, "device": e.device}
        if e.scorer_config is not None:
            if self.run_tokenizer is None:
                raise ConfigError("model.entity.scorer_config needs the run's tokenizer (fit at before_prepare)")
            return EntityScorer.from_config(e.scorer_config, self.run_tokenizer, seed=self.seed, **kw)
        return EntityScorer.pretrained(e.scorer, **kw)

    def _train(self, samples: Sequence[tuple[Any, Any, str]], seed: int) -> tuple[EntityScorer, list[float], int]:
        e = self.options
        pairs = build_pairs(samples, pairs_per_sample=e.pairs_per_sample, max_pairs=e.max_train_pairs,
                            rule=e.labelling, seed=seed)
        scorer = self.new_scorer()
        losses = scorer.train(pairs, epochs=e.scorer_epochs, lr=e.scorer_lr, batch_size=e.scorer_batch_size,
                              seed=seed)
        return scorer, losses, len(pairs)

    # -- FittedComponent ---------------------------------------------------------------------
    def fit(self, data: dict[str, Any], work_dir: Path) -> dict[str, float]:
        e = self.options
        train = data["train"]
        if e.source_field not in train.column_names:
            raise DataError(f"the training split has no column '{e.source_field}' (K_all of the comet.entity "
                            f"source): model.entity.source_field names it")
        ids = [str(i) for i in train["id"]]
        if len(set(ids)) != len(ids):
            raise DataError("the training split's sample ids are not unique; out-of-fold selection keys by id")
        conversations = train["conv_id"] if "conv_id" in train.column_names else ids
        samples = list(zip(train["context"], [list(k or []) for k in train[e.source_field]], train["target"]))
        self.data_digest = data_fingerprint(samples)
        metrics: dict[str, float] = {"train_samples": float(len(samples)), "folds": float(e.folds)}
        work_dir.mkdir(parents=True, exist_ok=True)

        if e.folds > 1:
            fold = assign_folds(conversations, e.folds, self.seed)
            held_out_correct, held_out_pairs = 0.0, 0
            for f in range(e.folds):
                done = work_dir / f"fold-{f}.json"
                if done.is_file():  # resumed: this fold was finished before the interruption
                    record = json.loads(done.read_text())
                else:
                    inside = [s for s, g in zip(samples, fold) if g != f]
                    outside = [i for i, g in enumerate(fold) if g == f]
                    scorer, _losses, _n = self._train(inside, self.seed + 1 + f)
                    picked = scorer.select([samples[i][:2] for i in outside], e.top_m_train,
                                           batch_size=max(e.scorer_batch_size, 128))
                    # how well a scorer ranks pairs of samples it never saw (the record's metric)
                    held = build_pairs([samples[i] for i in outside], pairs_per_sample=e.pairs_per_sample,
                                       rule=e.labelling, seed=self.seed)
                    accuracy = scorer.pair_accuracy(held) if held else 0.0
                    record = {"ids": [ids[i] for i in outside], "selected": picked,
                              "pairs": len(held), "accuracy": accuracy}
                    done.write_text(json.dumps(record))
                    del scorer
                self.train_selections.update(zip(record["ids"], record["selected"]))
                held_out_correct += record["accuracy"] * record["pairs"]
                held_out_pairs += record["pairs"]
            metrics["out_of_fold_pairs"] = float(held_out_pairs)
            if held_out_pairs:  # (none when no training sample has a context-linked triplet)
                metrics["out_of_fold_pair_accuracy"] = held_out_correct / held_out_pairs

        full_dir = work_dir / "full"
        if (full_dir / "config.json").is_file():  # resumed
            self.scorer = self.new_scorer()
            self.scorer.load_weights(full_dir)
            stats = json.loads((work_dir / "full.json").read_text())
        else:
            self.scorer, losses, n_pairs = self._train(samples, self.seed)
            stats = {"pairs": n_pairs, "final_loss": losses[-1] if losses else 0.0}
            self.scorer.save(full_dir)
            (work_dir / "full.json").write_text(json.dumps(stats))
        metrics["full_scorer_pairs"] = float(stats["pairs"])
        metrics["full_scorer_final_loss"] = float(stats["final_loss"])
        if e.folds <= 1:  # in-sample selection for the training split
            picked = self.scorer.select([s[:2] for s in samples], e.top_m_train,
                                        batch_size=max(e.scorer_batch_size, 128))
            self.train_selections = dict(zip(ids, picked))
        return metrics

    def save(self, directory: Path) -> None:
        self.scorer.save(directory / SCORER_DIR)
        (directory / SELECTIONS).write_text(json.dumps({"data_digest": self.data_digest,
                                                        "selections": self.train_selections}) + "\n")

    def load(self, directory: Path) -> None:
        self.scorer = self.new_scorer()
        self.scorer.load_weights(directory / SCORER_DIR)
        saved = json.loads((directory / SELECTIONS).read_text())
        self.data_digest, self.train_selections = saved["data_digest"], saved["selections"]

    # -- selection ---------------------------------------------------------------------------
    def training_selection(self, sample_id: Any) -> list[int]:
        """The out-of-fold top triplets of a training sample (indices into its K_all)."""
        try:
            return list(self.train_selections[str(sample_id)])
        except KeyError:
            raise DataError(f"training sample '{sample_id}' has no out-of-fold entity selection: the scorer "
                            f"was fitted on other training data") from None

    def select(self, samples: Sequence[tuple[Sequence[str], Sequence[Mapping[str, Any]]]], m: int) -> list[list[int]]:
        """Top ``m`` triplets of held-out samples (valid, test, new inputs) by the full scorer."""
        return self.scorer.select(samples, m, batch_size=max(self.options.scorer_batch_size, 128))
