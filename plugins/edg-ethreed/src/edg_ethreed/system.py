"""System ``ethreed``: ETHREED, the Emotion-Tracking Hierarchical Recurrent Empathetic
Encoder Decoder (Li et al.; ``../shared/papers/ethreed.md``).

Trains on whole conversations (``data.shape: dialogue``): every listener turn is a target
and every utterance an input of the hierarchical GRUs; the test split stays per listener
turn (a conversation cut after its target), so generation is evaluated per turn.

Components: the fitted response-emotion labeller (§4.1), decoder
``ethreed.pointer_generator`` (eq. 15–23), loss terms ``ethreed.emotion`` (L1, eq. 6),
``ethreed.gps`` (L2, eq. 12–14), ``nll`` (L3, eq. 24), ``ethreed.coverage`` (L4, eq. 25).
See ``docs/plugins/ethreed.md`` for the equation-to-code map and every choice the paper
leaves open.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal, Optional

from edg.baseline.collate import pad
from edg.config import StrictModel
from edg.errors import ConfigError
from edg.interfaces.fitted import FitSpec
from edg.interfaces.system import System
from edg.tokenization import BOS, EOS

LABELLER = "response_emotion"
ROLE_IDS = {"speaker": 0, "listener": 1}


class EthreedOptions(StrictModel):
    hidden: int = 300
    """D_g = D_p = D_e = D_c = D_s (§4.4: hidden size 300)."""
    utterance_hidden: int = 150
    """D_h, each direction of the utterance Bi-GRU (u = [→h; ←h] has 2 D_h = 300)."""
    embedding_dim: int = 300
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, §3.2); ``None`` trains the embeddings."""
    max_utterance_tokens: int = 60
    # ablation switches (Table 3)
    use_policy: bool = True
    """w/o emp-policy: off, P_e_t goes to the decoder (no policy network, no L2)."""
    use_party: bool = True
    """w/o GRU_p: off, the global state feeds GRU_e."""
    use_emotion_gru: bool = True
    """w/o GRU_e: off, the party state is the emotional representation."""
    track_parties_separately: bool = True
    """w/o emo-track: off, GRU_e runs one chain through both parties' utterances."""
    # listener emotion labels (§4.1)
    listener_labels: Literal["classifier", "utterance_labels"] = "classifier"
    """``classifier``: the fitted response-emotion labeller; ``utterance_labels``: the
    EmpatheticIntents labels of utterance_labels.csv where they are an emotion (listener
    turns labelled with an intent get no L1 listener term and no GPS target)."""
    labeller: dict[str, Any] = {}
    """Options of the labeller (:class:`ResponseEmotionLabellerOptions`)."""
    decoder: str = "ethreed.pointer_generator"
    decoder_options: dict[str, Any] = {}


PAPER_LOSSES = [
    {"name": "ethreed.emotion", "weight": 1.0},  # L1
    {"name": "ethreed.gps", "weight": 1.0},  # L2
    {"name": "nll", "weight": 1.0},  # L3
    {"name": "ethreed.coverage", "weight": 1.0},  # L4
]


def _losses_without(*names: str) -> list[dict[str, Any]]:
    return [dict(spec) for spec in PAPER_LOSSES if spec["name"] not in names]


TINY: dict[str, Any] = {
    "model": {"hidden": 32, "utterance_hidden": 16, "embedding_dim": 32, "max_utterance_tokens": 32,
              "labeller": {"model_name": None, "small_hidden": 32, "small_layers": 1, "small_heads": 2,
                           "epochs": 1, "lr": 1e-3, "batch_size": 32, "max_tokens": 32, "device": "cpu"}},
    "tokenizer": {"vocab_size": 3000, "max_target_tokens": 16},
    "train": {"batch_size": 4, "eval_batch_size": 8, "lr": 3e-3, "eval_every": 20, "log_every": 5, "epochs": 1,
              "progress": False, "device": "cpu"},
    "generation": {"max_length": 12},
    "eval": {"batch_size": 8},
}


class EthreedSystem(System):
    Options = EthreedOptions
    description = "ETHREED: emotion-tracking hierarchical GRUs, stochastic empathetic policy with GPS, pointer-generator"
    predicts_emotion = True
    length_columns = ("utterance_ids",)
    presets = {
        "tiny": TINY,
        "wo-emp-policy": {"model": {"use_policy": False}, "losses": _losses_without("ethreed.gps")},
        "wo-gps": {"losses": _losses_without("ethreed.gps")},
        "wo-gru-e": {"model": {"use_emotion_gru": False}},
        "wo-gru-p": {"model": {"use_party": False}},
        "wo-emo-track": {"model": {"track_parties_separately": False}},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        if config.data.shape != "dialogue":
            raise ConfigError("data.shape: ETHREED trains on whole conversations; set data.shape: dialogue")
        names = [spec.name for spec in config.losses]
        if "ethreed.gps" in names and not options.use_policy:
            raise ConfigError("loss 'ethreed.gps' needs model.use_policy: true (use the preset wo-emp-policy)")
        from edg.config import validate
        from edg_ethreed.response_emotion_labeller import ResponseEmotionLabellerOptions

        self.labeller_options = validate(ResponseEmotionLabellerOptions, dict(options.labeller), "model.labeller.")

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "data": {"shape": "dialogue"},
            "tokenizer": {"kind": "word", "vocab_size": 30000, "max_target_tokens": 40},
            "losses": [dict(spec) for spec in PAPER_LOSSES],
            # §4.4: Adam, lr 5e-4 decayed ×0.3 every three epochs, batch 8
            "train": {"optimizer": "adam", "lr": 5e-4, "betas": [0.9, 0.999], "eps": 1e-8, "schedule": "step",
                      "schedule_options": {"rate": 0.3, "every_epochs": 3}, "warmup_steps": 0, "batch_size": 8},
            "generation": {"strategy": "greedy", "max_length": 40},
        }

    # -- fit stage ----------------------------------------------------------------------------
    def fitted_components(self, splits: dict[str, Any], stage: str) -> list[Any]:
        if stage != "before_prepare" or self.options.listener_labels != "classifier":
            return []
        from edg_ethreed.response_emotion_labeller import ResponseEmotionLabeller

        test = splits["test"]
        seen: set[str] = set()
        first = [i for i, conv in enumerate(test["conv_id"]) if not (conv in seen or seen.add(conv))]
        labeller = ResponseEmotionLabeller(self.labeller_options, tokenizer=self.tokenizer)
        # the ED training situations, one per conversation; accuracy on the test situations
        return [FitSpec(LABELLER, labeller, {"train": splits["train"], "test": test.select(first)})]

    # -- encoding -----------------------------------------------------------------------------
    def encoding_fingerprint(self) -> dict[str, Any]:
        o = self.options
        fp = {**super().encoding_fingerprint(), "max_utterance_tokens": o.max_utterance_tokens,
              "listener_labels": o.listener_labels}
        if o.listener_labels == "classifier":
            labeller = self.fitted.get(LABELLER)
            fp["labeller"] = labeller.fingerprint() if labeller is not None else self.labeller_options.model_dump()
        return fp

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        tok = self.tokenizer
        o = self.options
        dialogue = "utterances" in batch
        samples = []
        for i in range(len(batch["id"])):
            if dialogue:
                utts, roles = list(batch["utterances"][i]), list(batch["roles"][i])
                targets, ids = list(batch["target_turns"][i]), list(batch["turn_ids"][i])
                labels = list(batch["utterance_labels"][i]) if "utterance_labels" in batch else None
            else:  # a listener turn: the conversation cut after its target
                utts = [*batch["context"][i], batch["target"][i]]
                roles = [*batch["roles"][i], "listener"]
                targets, ids, labels = [len(batch["context"][i])], [batch["id"][i]], None
            samples.append((utts, roles, targets, ids, labels))
        flat = [u for utts, *_ in samples for u in utts]
        encoded = tok(flat, add_special_tokens=False)["input_ids"] if flat else []
        listener_emotions = self._listener_emotions(samples, dialogue)
        bos, eos = tok.convert_tokens_to_ids(BOS), tok.convert_tokens_to_ids(EOS)
        limit = self.config.tokenizer.max_target_tokens
        out: dict[str, list] = {k: [] for k in ("utterance_ids", "role_ids", "target_turn_index", "source_turn_index",
                                                "target_input_ids", "target_labels", "listener_emotion_ids",
                                                "noise_seed")}
        k = 0
        for (utts, roles, targets, ids, _labels), emotions in zip(samples, listener_emotions):
            pieces = encoded[k:k + len(utts)]
            k += len(utts)
            out["utterance_ids"].append([p[:o.max_utterance_tokens] for p in pieces])
            out["role_ids"].append([ROLE_IDS[r] for r in roles])
            out["target_turn_index"].append(targets)
            out["source_turn_index"].append([_source_turn(roles, t) for t in targets])
            out["target_input_ids"].append([[bos, *pieces[t][:limit - 1]] for t in targets])
            out["target_labels"].append([[*pieces[t][:limit - 1], eos] for t in targets])
            out["listener_emotion_ids"].append(emotions)
            # the policy's evaluation noise is seeded by the target turn's id (shared by PPL and generation)
            out["noise_seed"].append([zlib.crc32(str(turn).encode()) for turn in ids])
        return out

    def _listener_emotions(self, samples, dialogue: bool) -> list[list[int]]:
        """Per utterance: the listener's emotion index, -100 for the speaker's utterances,
        for unlabelled listener turns, and for turn samples (test: no training signal)."""
        from edg.data import EMOTION_TO_ID

        out = [[-100] * len(utts) for utts, *_ in samples]
        if not dialogue:
            return out
        if self.options.listener_labels == "utterance_labels":
            for row, (_utts, roles, _t, _ids, labels) in zip(out, samples):
                if labels is None:
                    raise ConfigError("model.listener_labels: utterance_labels needs utterance_labels.csv beside the "
                                      "data (the samples have no utterance_labels column)")
                for j, (role, label) in enumerate(zip(roles, labels)):
                    if role == "listener":
                        row[j] = EMOTION_TO_ID.get(label, -100)
            return out
        labeller = self.fitted.get(LABELLER)
        if labeller is None:
            raise ConfigError("model.listener_labels: classifier needs the fitted response-emotion labeller "
                              "(the fit stage did not run)")
        where = [(r, j) for r, (utts, roles, *_rest) in enumerate(samples) for j, role in enumerate(roles)
                 if role == "listener"]
        predicted = labeller.label([samples[r][0][j] for r, j in where]) if where else []
        for (r, j), y in zip(where, predicted):
            out[r][j] = y
        return out

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        pad_id = self.tokenizer.pad_token_id
        utterances: list[list[int]] = []
        b, k_max = len(samples), max(len(s["utterance_ids"]) for s in samples)
        index = torch.zeros(b, k_max, dtype=torch.long)
        mask = torch.zeros(b, k_max, dtype=torch.bool)
        roles = torch.zeros(b, k_max, dtype=torch.long)
        speaker_labels = torch.full((b, k_max), -100, dtype=torch.long)
        listener_labels = torch.full((b, k_max), -100, dtype=torch.long)
        target_dialogue, target_position, source_position, last_source = [], [], [], []
        decoder_inputs, labels, seeds = [], [], []
        for row, s in enumerate(samples):
            k = len(s["utterance_ids"])
            index[row, :k] = torch.arange(len(utterances), len(utterances) + k)
            utterances.extend(s["utterance_ids"])
            mask[row, :k] = True
            roles[row, :k] = torch.tensor(s["role_ids"])
            # ED's emotion label is the speaker's at every one of their utterances (eq. 6)
            speaker_labels[row, :k] = torch.where(roles[row, :k].eq(0), s["emotion_id"], -100)
            listener_labels[row, :k] = torch.tensor(s["listener_emotion_ids"])
            target_dialogue += [row] * len(s["target_turn_index"])
            target_position += s["target_turn_index"]
            source_position += s["source_turn_index"]
            last_source.append(s["source_turn_index"][-1])
            decoder_inputs += s["target_input_ids"]
            labels += s["target_labels"]
            seeds += s["noise_seed"]
        ids = pad(utterances, pad_id)
        return {
            "utterance_ids": ids,
            "utterance_lengths": torch.tensor([len(u) for u in utterances], dtype=torch.long),
            "utterance_index": index,
            "utterance_mask": mask,
            "role_ids": roles,
            "speaker_emotion_labels": speaker_labels,
            "listener_emotion_labels": listener_labels,
            "target_dialogue": torch.tensor(target_dialogue, dtype=torch.long),
            "target_position": torch.tensor(target_position, dtype=torch.long),
            "source_position": torch.tensor(source_position, dtype=torch.long),
            "last_source_position": torch.tensor(last_source, dtype=torch.long),
            "decoder_input_ids": pad(decoder_inputs, pad_id),
            "labels": pad(labels, -100),
            "noise_seed": torch.tensor(seeds, dtype=torch.long),
            "emotion_id": torch.tensor([s["emotion_id"] for s in samples], dtype=torch.long),
        }

    # -- model --------------------------------------------------------------------------------
    def build_model(self):
        from torch import nn

        from edg_ethreed.dialogue_tracker import DialogueTracker
        from edg_ethreed.model import EthreedModel
        from edg_ethreed.utterance_encoder import UtteranceEncoder

        o = self.options
        tok = self.tokenizer
        embedding = nn.Embedding(len(tok), o.embedding_dim, padding_idx=tok.pad_token_id)
        if o.embeddings_path:
            from edg.baseline.dialogue_embedding import load_glove

            table, _found = load_glove(o.embeddings_path, tok.convert_ids_to_tokens(list(range(len(tok)))),
                                       o.embedding_dim)
            embedding.weight.data.copy_(table)
        encoder = UtteranceEncoder(embedding, o.utterance_hidden)
        tracker = DialogueTracker(encoder.output_dim, o.hidden, use_party=o.use_party,
                                  use_emotion_gru=o.use_emotion_gru,
                                  track_parties_separately=o.track_parties_separately)
        decoder = self.component("decoder", o.decoder, dict(o.decoder_options), key="model.decoder_options",
                                 d_model=o.hidden, memory_dim=encoder.output_dim, emotion_dim=o.hidden,
                                 embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        return EthreedModel(embedding=embedding, utterance_encoder=encoder, tracker=tracker, decoder=decoder,
                            hidden=o.hidden, use_policy=o.use_policy)


def _source_turn(roles: list[str], target: int) -> int:
    """The speaker's utterance the target answers: the latest one before it (else the turn
    just before the target)."""
    if target == 0:
        raise ConfigError("a listener target with no utterance before it has no speaker's post to answer")
    for j in range(target - 1, -1, -1):
        if roles[j] == "speaker":
            return j
    return target - 1
