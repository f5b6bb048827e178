"""Dialogue-level samples: one sample per conversation, every turn with its role and,
when the data has them, its label, beside the default one-sample-per-listener-turn shape.

Systems that track a whole conversation (ETHREED's hierarchical GRUs, with a target at
every listener turn and an emotion label for both parties) train on this shape
(``data.shape: dialogue``). It is built from the per-turn samples, so every source the
loader reads (CSV, JSONL, the hub) gives it: a conversation's utterances are the context
of its last listener turn followed by that turn; a trailing speaker utterance that no
listener answered is not part of any sample and is left out.

With ``data.shape: dialogue`` the training and validation splits are dialogues and the
test split stays per turn: generation is evaluated per listener turn with its history, as
for every other system, so a dialogue-level system's collate takes both shapes (a turn
sample is a conversation cut after its target, with one target turn).

Columns: ``id`` (= ``conv_id``), ``conv_id``, ``utterances``, ``roles``, ``target_turns``
(indices into ``utterances`` of the listener turns, each a generation target),
``turn_ids`` (the per-turn sample ids of those targets), ``emotion``, ``emotion_id``,
``situation``, with utterance labels ``utterance_labels`` and, when the turns carry the
release's ``speaker_idx`` (``context_speakers``/``target_speaker``), ``utterance_speakers``
(one per utterance, aligned with ``utterances``).
"""

from __future__ import annotations

from typing import Any, Optional

from edg.errors import ConfigError


def to_dialogues(samples: Any, *, max_dialogues: Optional[int] = None) -> Any:
    """Group a split of per-turn samples (``datasets.Dataset``) into dialogue samples,
    in the order conversations first appear; keep the first ``max_dialogues``."""
    import datasets

    columns = samples.column_names
    with_labels = "context_labels" in columns
    with_speakers = "context_speakers" in columns
    needed = ["id", "conv_id", "turn", "context", "target", "roles", "emotion", "emotion_id", "situation"]
    needed += ["context_labels", "target_label"] if with_labels else []
    needed += ["context_speakers", "target_speaker"] if with_speakers else []
    # the columns at once: iterating a Dataset row by row decodes every row through its
    # features (about 15 s for ED's training split)
    table = samples.select_columns(needed).to_dict()
    by_conv: dict[str, dict[str, Any]] = {}
    for values in zip(*(table[name] for name in needed)):
        row = dict(zip(needed, values))
        conv = row["conv_id"]
        target_index = len(row["context"])
        if row["turn"] != target_index + 1:
            raise ConfigError(f"dialogue-level samples need the whole history of every turn "
                              f"(sample {row['id']} has {target_index} context utterances at turn {row['turn']}); "
                              f"unset data.context_window")
        entry = by_conv.get(conv)
        if entry is None:
            entry = by_conv[conv] = {"id": conv, "conv_id": conv, "utterances": [], "roles": [], "target_turns": [],
                                     "turn_ids": [], "emotion": row["emotion"], "emotion_id": row["emotion_id"],
                                     "situation": row["situation"]}
            if with_labels:
                entry["utterance_labels"] = []
            if with_speakers:
                entry["utterance_speakers"] = []
        # the longest history seen so far plus this target is the conversation up to here
        if target_index + 1 > len(entry["utterances"]):
            entry["utterances"] = [*row["context"], row["target"]]
            entry["roles"] = [*row["roles"], "listener"]
            if with_labels:
                entry["utterance_labels"] = [*row["context_labels"], row["target_label"]]
            if with_speakers:
                entry["utterance_speakers"] = [*row["context_speakers"], row["target_speaker"]]
        entry["target_turns"].append(target_index)
        entry["turn_ids"].append(row["id"])
    rows = list(by_conv.values())
    if max_dialogues is not None:
        rows = rows[:max_dialogues]
    features = {
        "id": datasets.Value("string"), "conv_id": datasets.Value("string"),
        "utterances": datasets.List(datasets.Value("string")), "roles": datasets.List(datasets.Value("string")),
        "target_turns": datasets.List(datasets.Value("int64")), "turn_ids": datasets.List(datasets.Value("string")),
        "emotion": datasets.Value("string"), "emotion_id": datasets.Value("int64"),
        "situation": datasets.Value("string"),
    }
    if with_labels:
        features["utterance_labels"] = datasets.List(datasets.Value("string"))
    if with_speakers:
        features["utterance_speakers"] = datasets.List(datasets.Value("string"))
    dialogues = datasets.Dataset.from_list(rows, features=datasets.Features(features))
    # a fingerprint derived from the turns' (in-memory tables otherwise get a random one,
    # and the encoding and fit caches keyed by it would never be reused)
    dialogues._fingerprint = _fingerprint(samples, max_dialogues)
    return dialogues


def _fingerprint(samples: Any, max_dialogues: Optional[int]) -> str:
    import hashlib

    return hashlib.sha256(f"dialogues:{samples._fingerprint}:{max_dialogues}".encode()).hexdigest()[:32]
