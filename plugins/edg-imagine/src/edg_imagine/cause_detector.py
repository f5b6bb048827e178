"""The emotion-cause detector of §3.1.2, a fitted component: RECCON's Causal Emotion
Entailment classifier (Poria et al., 2021), trained once on RECCON's DailyDialog training
dialogues, evaluated on its DailyDialog and IEMOCAP test sets (positive, negative and macro
F1, the figures RECCON's paper reports), then applied to each ED context with its emotion.

On ED the target utterance is the speaker's last utterance of the context (the one the
listener answers, labelled with the conversation's emotion, as Gao et al. 2021 apply the
detector); every utterance up to it is a candidate, and the causes C are the candidates
whose probability reaches ``threshold``. When none does, the most probable candidate is
kept, so that C is never empty (the paper does not say what it does then).

Offline, the small encoder (``classifier.model_name: null``) also reads each candidate's
distance to the target (0, 1, 2, 3, 4 or more turns) as a pair feature
(``candidate_distance``). A pretrained RoBERTa tells the target from the other candidates by
comparing their text; an encoder trained from scratch on RECCON's 27,673 pairs does not learn
that comparison (it stays below the rule "the target is its own cause", see
``docs/plugins/imagine.md``), and position is most of what RECCON's labels follow: the rule
"the target or the utterance before it" already reaches positive F1 63.6 on RECCON-DD test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

from edg.config import StrictModel
from edg.errors import ConfigError, ResourceError
from edg.interfaces.fitted import FittedComponent
from edg_imagine.pair_classifier import PairClassifier, PairClassifierOptions, binary_scores, ranking_auc, take
from edg_imagine.reccon import RECCON_FILES, CausePair, cause_input, read_reccon

DEFAULT_RECCON_DIR = "../shared/data/reccon"
#: candidate distances the small encoder tells apart: 0 (the target), 1, 2, 3, and 4 or more
DISTANCE_TYPES = 5


class CauseClassifierOptions(PairClassifierOptions):
    """RECCON's ``train_classification.py`` settings for its CEE RoBERTa-base with context,
    with simpletransformers' defaults it trains under (6 % linear warm-up, linear decay,
    gradient norm 1.0, no weight decay)."""

    lr: float = 1e-5
    warmup_ratio: float = 0.06
    batch_size: int = 8
    epochs: int = 12
    max_tokens: int = 512


class CauseDetectorOptions(StrictModel):
    reccon_dir: str = DEFAULT_RECCON_DIR
    """The RECCON ``original_annotation`` JSON files (``dailydialog_{train,valid,test}.json``,
    ``iemocap_test.json``)."""
    threshold: float = 0.5
    candidate_distance: Optional[bool] = None
    """Give the classifier each candidate's distance to the target (turns, capped at 4) as a
    pair feature. ``None``: on for the small offline encoder, off for a pretrained checkpoint
    (RECCON's input, text only); ``true`` needs ``classifier.model_name: null``."""
    classifier: CauseClassifierOptions = CauseClassifierOptions()
    """RoBERTa-base by name (RECCON's published CEE detector, its training settings: lr 1e-5
    with 6 % warm-up and linear decay, batch 8, 12 epochs, 512 tokens, the epoch of lowest
    validation loss kept), or the small offline encoder with ``model_name: null``."""


def reccon_digests(directory: str | Path) -> list[dict[str, Any]]:
    """Name, size and SHA-256 of each RECCON file: the data part of the fit-cache key."""
    out = []
    for name in RECCON_FILES.values():
        path = Path(directory) / name
        if not path.is_file():
            raise ResourceError(f"RECCON file not found: {path} (set model.cause_detector.reccon_dir)")
        out.append({"file": name, "size": path.stat().st_size,
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return out


def self_cause_rule(pairs: list[CausePair]) -> list[int]:
    """1 for the pairs whose candidate is the target utterance itself (the same text), 0
    otherwise: a reference rule (no learning) the fit metrics report beside the detector's."""
    return [int(pair.segments[2] == pair.segments[1]) for pair in pairs]


def recent_cause_rule(pairs: list[CausePair]) -> list[int]:
    """1 for the target and the utterance just before it, 0 for earlier candidates: the
    stronger reference rule (position only) the fit metrics report."""
    return [int(pair.distance <= 1) for pair in pairs]


def distance_type(distance: int) -> int:
    """The pair type of a candidate ``distance`` turns before its target."""
    return min(distance, DISTANCE_TYPES - 1)


def target_utterance(roles: list[str]) -> int:
    """The speaker's last utterance (the last utterance when the speaker has none)."""
    for i in range(len(roles) - 1, -1, -1):
        if roles[i] == "speaker":
            return i
    return len(roles) - 1


class CauseDetector(FittedComponent):
    Options = CauseDetectorOptions

    def __init__(self, options: CauseDetectorOptions, **dependencies: Any) -> None:
        super().__init__(options)
        small = options.classifier.model_name is None
        use_distance = small if options.candidate_distance is None else options.candidate_distance
        if use_distance and not small:
            raise ConfigError("model.cause_detector.candidate_distance: true needs "
                              "model.cause_detector.classifier.model_name: null (the small offline encoder)")
        self.use_distance = use_distance
        self.classifier = PairClassifier(options.classifier, "model.cause_detector.classifier",
                                         pair_types=DISTANCE_TYPES if use_distance else 0)

    def fingerprint(self) -> dict[str, Any]:
        # the files themselves key the cache through the fit data (their digests), not their path
        return {"threshold": self.options.threshold, "candidate_distance": self.use_distance,
                "classifier": self.classifier.fingerprint()}

    def _types(self, distances: list[int]) -> Optional[list[int]]:
        return [distance_type(d) for d in distances] if self.use_distance else None

    def fit(self, data: dict[str, Any], work_dir: Path) -> dict[str, float]:
        o = self.options.classifier
        root = Path(self.options.reccon_dir)
        train = take(read_reccon(root / RECCON_FILES["train"]), o.max_train_examples, o.seed)
        self.classifier.build([" ".join(pair.segments) for pair in train])
        valid = take(read_reccon(root / RECCON_FILES["valid"]), o.max_eval_examples, o.seed)
        selection = self.classifier.train([(p.segments, p.label) for p in train], work_dir,
                                          [(p.segments, p.label) for p in valid],
                                          types=self._types([p.distance for p in train]),
                                          valid_types=self._types([p.distance for p in valid]))
        metrics: dict[str, float] = {"train_pairs": float(len(train)), **selection}
        for split in ("valid", "dd_test", "iemocap_test"):
            pairs = take(read_reccon(root / RECCON_FILES[split]), o.max_eval_examples, o.seed)
            scores = self.classifier.probabilities([p.segments for p in pairs],
                                                   types=self._types([p.distance for p in pairs]))
            gold = [p.label for p in pairs]
            predicted = [int(p >= self.options.threshold) for p in scores]
            for name, value in binary_scores(predicted, gold).items():
                metrics[f"{split}_{name}"] = value
            metrics[f"{split}_auc"] = ranking_auc(scores, gold)
            # the floors a learned detector must clear: "the target utterance causes itself",
            # "the target or the utterance before it"
            for rule, predict in (("self_rule", self_cause_rule), ("recent_rule", recent_cause_rule)):
                for name, value in binary_scores(predict(pairs), gold).items():
                    if name != "examples":
                        metrics[f"{split}_{rule}_{name}"] = value
        return metrics

    def causes(self, contexts: list[list[str]], roles: list[list[str]], emotions: list[str]) -> list[list[int]]:
        """The 0-based indices of the cause utterances of each context (never empty)."""
        pairs: list[list[str]] = []
        distances: list[int] = []
        spans: list[tuple[int, int]] = []
        for utterances, who, emotion in zip(contexts, roles, emotions):
            target = target_utterance(who)
            spans.append((len(pairs), target + 1))
            pairs.extend(cause_input(emotion, utterances, target, i) for i in range(target + 1))
            distances.extend(target - i for i in range(target + 1))
        probabilities = self.classifier.probabilities(pairs, types=self._types(distances)) if pairs else []
        out = []
        for start, count in spans:
            p = probabilities[start:start + count]
            chosen = [i for i, q in enumerate(p) if q >= self.options.threshold]
            out.append(chosen or [max(range(count), key=p.__getitem__)])
        return out

    def save(self, directory: Path) -> None:
        self.classifier.save(directory)

    def load(self, directory: Path) -> None:
        self.classifier.load(directory)

