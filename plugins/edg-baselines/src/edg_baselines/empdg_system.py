"""System ``empdg``: EmpDG, Multi-resolution Interactive Empathetic Dialogue Generation (Li et
al., COLING 2020).

Parts: the core's dialogue embedding; EmpDG's semantic and emotion-word encoders, emotion
classifier, emotion signal and discriminators (``empdg_model``); the decoder ``empdg.decoder``;
the losses ``nll`` (label-smoothed), ``emotion`` and ``empdg.adversarial`` (the interactive
adversarial training as a step-based stage switch); the NRC Emotion Lexicon by path
(``model.lexicon_path``; not bundled: https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm).
See ``docs/plugins/empdg.md``.

Each sample gets two inputs beyond the baseline's: the context's emotion words
(``[CLS] + emotion words``, the fine-grained emotions) and the user feedback, the next
utterance of the conversation after the target (the discriminators' evidence; empty when the
target ends the conversation).

Defaults: the authors' command (qtli/EmpDG README: ``adver_train.py --label_smoothing --noam
--emb_dim 300 --rnn_hidden_dim 300 --hidden_dim 300 --hop 1 --heads 2 --emotion_disc
--pretrain_emb --d_steps 1 --g_steps 5 --pointer_gen``) and ``utils/config.py`` for what it
leaves out (``--filter 50``, ``--batch_size 16``, ``--gp_lambda 0.1``).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from edg.api import EOS, pad, pad_dialogue
from edg.config import StrictModel
from edg.data import EMOTIONS
from edg.errors import ConfigError
from edg.tokenization import BOS, CLS
from edg_baselines.cls_context_system import ClsContextSystem
from edg_baselines.emotion_lexicon import EMOLEX_CATEGORIES, EMOLEX_SOURCE, EmotionLexicon

#: peak of EmpDG's NoamOpt(hidden_dim=300, factor=1, warmup=8000)
NOAM_PEAK_LR = round((300 * 8000) ** -0.5, 8)
#: the sample column holding the user feedback (added by ``prepare``)
FEEDBACK_COLUMN = "feedback"
ADVERSARIAL_LOSS = "empdg.adversarial"
#: the adversarial term's weight is edg's choice (the authors' code adds the discriminator loss as a
#: float, i.e. with no effect on the gradient): at gp_lambda 0.1 the critics' scores grow to tens
#: and a weight of 1 lets the term swamp a per-token NLL (docs/plugins/empdg.md); against the
#: authors' summed NLL it weighs far less still
ADVERSARIAL_WEIGHT = 0.1
#: Empdg_G.train_one_batch: LabelSmoothing (KLDivLoss(reduction='sum')) summed over the batch's
#: target tokens + CrossEntropyLoss(reduction='sum') summed over its conversations
LOSSES = [{"name": "nll", "weight": 1.0, "options": {"label_smoothing": 0.1, "reduction": "sum"}},
          {"name": "emotion", "weight": 1.0, "options": {"reduction": "sum"}},
          {"name": ADVERSARIAL_LOSS, "weight": ADVERSARIAL_WEIGHT}]


class EmpdgOptions(StrictModel):
    d_model: int = 300
    """``--emb_dim 300 --hidden_dim 300``."""
    layers: int = 1
    """Layers of each encoder (``--hop 1``); the decoder's are ``decoder_options.layers``."""
    heads: int = 2
    """``--heads 2``."""
    ffn_dim: int = 50
    """Feed-forward width (``--filter 50``)."""
    attention_dim: Optional[int] = 40
    """Width every attention of both encoders and the decoder projects queries, keys and values
    to (``--depth``, default 40: ``total_key_depth``/``total_value_depth`` of
    ``Semantic_Encoder``, ``Emotion_Encoder`` and ``Decoder``); ``None``: ``d_model``, as
    torch's attention."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """Feed-forward of every encoder and decoder layer: ``linear`` (the core's); ``conv``: the
    authors' two convolutions of kernel 3 with a ReLU after each
    (:mod:`edg.baseline.conv_feed_forward`)."""
    dropout: float = 0.0
    """The authors' layers are built without dropout."""
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, ``--pretrain_emb``); ``None`` trains embeddings."""
    lexicon_path: Optional[str] = None
    """NRC Emotion Lexicon, word-level file (NRC-Emotion-Lexicon-Wordlevel-v0.92.txt); needed
    by the emotion-word encoder and the emotional discriminator. Not bundled (research licence)."""
    lexicon_categories: list[str] = list(EMOLEX_CATEGORIES)
    """EmoLex categories that make a word an emotion word (one association is enough)."""
    emotion_words: bool = True
    """Multi-resolution emotion perception: the fine-grained emotion-word encoder."""
    emotion_start: bool = True
    """The decoder starts from the emotion signal instead of BOS."""
    semantic_discriminator: bool = True
    emotional_discriminator: bool = True
    """``--emotion_disc``."""
    discriminator_hidden: int = 300
    """LSTM/convolution width of each discriminator (``--rnn_hidden_dim 300``)."""
    discriminator_embed_dim: Optional[int] = None
    """Each discriminator's own word-embedding width (the authors': ``--emb_dim``); ``None``: d_model."""
    decoder: str = "empdg.decoder"
    decoder_options: dict[str, Any] = {}


TINY: dict[str, Any] = {
    "model": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64, "attention_dim": 16, "discriminator_hidden": 32},
    "tokenizer": {"vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 24},
    "losses": [*LOSSES[:2], {"name": ADVERSARIAL_LOSS, "weight": ADVERSARIAL_WEIGHT,
                             "options": {"generator_steps": 10, "critic_steps": 10, "critic_every": 2}}],
    "train": {"batch_size": 8, "eval_batch_size": 16, "max_steps": 40, "eval_every": 20, "log_every": 10,
              "warmup_steps": 10, "lr": 1e-3, "schedule": "constant", "progress": False},
    "eval": {"batch_size": 16},
    "generation": {"max_length": 12},
}


class EmpdgSystem(ClsContextSystem):
    Options = EmpdgOptions
    description = ("EmpDG: multi-resolution emotions (EmoLex words) + interactive semantic/emotional "
                   "discriminators (Li et al. 2020)")
    predicts_emotion = True
    presets = {
        "tiny": TINY,
        # the paper's ablations (the authors' EmpDG_woG and EmpDG_woD)
        "wo-g": {"model": {"emotion_words": False, "emotion_start": False, "emotional_discriminator": False}},
        "wo-d": {"model": {"semantic_discriminator": False, "emotional_discriminator": False},
                 "losses": [dict(spec) for spec in LOSSES[:2]]},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        names = [spec.name for spec in config.losses]
        discriminators = options.semantic_discriminator or options.emotional_discriminator
        if ADVERSARIAL_LOSS in names and not discriminators:
            raise ConfigError(f"loss '{ADVERSARIAL_LOSS}' needs model.semantic_discriminator or "
                              f"model.emotional_discriminator (use the preset wo-d, which drops the loss)")
        if discriminators and ADVERSARIAL_LOSS not in names:
            raise ConfigError(f"the discriminators are trained by the loss '{ADVERSARIAL_LOSS}'; add it to losses "
                              f"or turn them off (preset wo-d)")
        if options.emotional_discriminator and not options.emotion_words:
            raise ConfigError("model.emotional_discriminator needs model.emotion_words (it is conditioned on the "
                              "emotion-word context)")
        if self.needs_lexicon and not options.lexicon_path:
            raise ConfigError("model.lexicon_path is not set: EmpDG's emotion words come from the NRC Emotion "
                              f"Lexicon (NRC-Emotion-Lexicon-Wordlevel-v0.92.txt, research licence, not bundled: "
                              f"{EMOLEX_SOURCE}); or use the preset wo-g")
        self._lexicon: Optional[EmotionLexicon] = None
        self._flags: Optional[list[bool]] = None
        self._flags_tokenizer: Any = None

    @property
    def needs_lexicon(self) -> bool:
        return self.options.emotion_words or self.options.emotional_discriminator

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            # EmpDG_G: label-smoothed (0.1) generation loss and emotion cross-entropy, both batch sums;
            # the adversarial term
            "losses": [dict(spec) for spec in LOSSES],
            # NoamOpt(300, 1, 8000, Adam(betas 0.9/0.98, eps 1e-9)), batch 16; the authors never clip
            # gradients (and a global norm would couple the generator's and the critics' updates);
            # 14,000 generator + 1,000 critic + 5,000 x 5 joint steps; no early stopping, which
            # could end training before the adversarial stages (the checkpoint of the lowest validation
            # perplexity is still kept, the selection of the MoEL-family code EmpDG builds on)
            "train": {"optimizer": "adam", "lr": NOAM_PEAK_LR, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "eps": 1e-9, "batch_size": 16, "clip_norm": None,
                      "max_steps": 40000, "patience": None, "early_stopping_on": "token_nll",
                      # DDP: the discriminators receive no gradient during the generator stage
                      "find_unused_parameters": True},
            # the authors evaluate greedily with max_dec_step=50
            "generation": {"strategy": "greedy", "max_length": 50},
        }

    # -- emotion words ---------------------------------------------------------------------------
    @property
    def lexicon(self) -> EmotionLexicon:
        if self._lexicon is None:
            from edg_baselines.emotion_lexicon import load_emolex

            self._lexicon = load_emolex(self.options.lexicon_path, self.options.lexicon_categories)
        return self._lexicon

    def emotion_flags(self) -> Optional[list[bool]]:
        """Per vocabulary id: whether it is an emotion word (``None`` without the lexicon)."""
        if not self.needs_lexicon:
            return None
        if self._flags is None or self._flags_tokenizer is not self.tokenizer:
            from edg_baselines.emotion_lexicon import emotion_token_flags

            self._flags, self._flags_tokenizer = emotion_token_flags(self.tokenizer, self.lexicon), self.tokenizer
        return self._flags

    # -- data --------------------------------------------------------------------------------
    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        """Each sample's user feedback: the utterance after its target, i.e. the last context
        utterance of the conversation's next listener turn (two turns later)."""
        out = dict(splits)
        for split, dataset in splits.items():
            if FEEDBACK_COLUMN in dataset.column_names:
                continue
            if "turn" not in dataset.column_names:
                raise ConfigError(f"empdg needs per-turn samples (split '{split}' has no 'turn' column); "
                                  f"unset data.shape")
            last = {(conv, turn): ctx[-1] if ctx else "" for conv, turn, ctx in
                    zip(dataset["conv_id"], dataset["turn"], dataset["context"])}
            column = [last.get((conv, turn + 2), "") for conv, turn in zip(dataset["conv_id"], dataset["turn"])]
            out[split] = dataset.add_column(FEEDBACK_COLUMN, column)
        return out

    def encoding_fingerprint(self) -> dict[str, Any]:
        lexicon = self.lexicon.fingerprint if self.needs_lexicon else None
        return {**super().encoding_fingerprint(), "empdg": 1, "lexicon": lexicon,
                "emotion_words": self.options.emotion_words}

    encode_columns: tuple[str, ...] = ("context", "roles", "target", FEEDBACK_COLUMN)

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """The context with [CLS] and the target (:class:`ClsContextSystem`), the context's
        emotion words after [CLS] (the most recent ones when too many) and the feedback + EOS."""
        out = super().encode(batch)
        tok, tok_config = self.tokenizer, self.config.tokenizer
        cls, eos = tok.convert_tokens_to_ids(CLS), tok.convert_tokens_to_ids(EOS)
        flags = self.emotion_flags()
        if flags is not None:
            limit = max(tok_config.max_context_tokens - 1, 1)
            out["emotion_ids"] = [[cls, *[i for i in ids[1:] if flags[i]][-limit:]] for ids in out["input_ids"]]
        feedback = [f or "" for f in (batch.get(FEEDBACK_COLUMN) or [""] * len(out["input_ids"]))]
        encoded = tok(feedback, add_special_tokens=False)["input_ids"] if feedback else []
        out["feedback_ids"] = [[*ids[: tok_config.max_target_tokens - 1], eos] if text.strip() else []
                               for ids, text in zip(encoded, feedback)]
        return out

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        if samples and "input_ids" not in samples[0]:  # raw samples (e.g. edg.pipeline.respond)
            encoded = self.encode({k: [s.get(k) for s in samples] for k in self.encode_columns})
            samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
        pad_id = self.tokenizer.pad_token_id
        batch = pad_dialogue(samples, pad_id)
        if "emotion_ids" in samples[0]:
            batch["emotion_ids"] = pad([s["emotion_ids"] for s in samples], pad_id)
            batch["emotion_mask"] = batch["emotion_ids"].ne(pad_id)
        batch["feedback_ids"] = pad([s["feedback_ids"] for s in samples], pad_id)
        batch["feedback_mask"] = batch["feedback_ids"].ne(pad_id)
        return batch

    # -- model -------------------------------------------------------------------------------
    def build_model(self):
        from edg_baselines.empdg_model import EMOTIONAL, SEMANTIC, EmpdgModel

        o = self.options
        tok = self.tokenizer
        embedding = self.build_embedding()
        decoder_options = {"heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           "attention_dim": o.attention_dim, "feed_forward": o.feed_forward, **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options",
                                 d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        discriminators = tuple(name for name, on in ((SEMANTIC, o.semantic_discriminator),
                                                     (EMOTIONAL, o.emotional_discriminator)) if on)
        return EmpdgModel(embedding, d_model=o.d_model, layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim,
                          dropout=o.dropout, decoder=decoder, num_emotions=len(EMOTIONS),
                          emotion_words=o.emotion_words, emotion_start=o.emotion_start,
                          discriminators=discriminators, discriminator_hidden=o.discriminator_hidden,
                          discriminator_embed_dim=o.discriminator_embed_dim or o.d_model,
                          emotion_flags=self.emotion_flags(), pad_id=tok.pad_token_id,
                          eos_id=tok.convert_tokens_to_ids(EOS), attention_dim=o.attention_dim,
                          feed_forward=o.feed_forward)

