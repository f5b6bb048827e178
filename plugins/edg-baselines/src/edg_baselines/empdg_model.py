"""EmpDG's network (Li et al., COLING 2020; the authors' ``Empdg_G`` and ``EmpDG_D``).

Empathetic generator:

1. semantic understanding: a Transformer encoder over ``[CLS] + context`` (word + position +
   dialogue-state embeddings) -> ``H_ctx``, its [CLS] state ``c_ctx``;
2. multi-resolution emotion perception: the coarse-grained dialogue-level emotion is the
   32-way label; the fine-grained token-level emotions are the context's emotion words
   (EmoLex), encoded by a second Transformer encoder over ``[CLS] + emotion words`` (word +
   position embeddings) -> ``H_emo``, ``c_emo``; the emotion logits are ``W [c_emo; c_ctx]``
   (the authors' ``identify_new``), trained by the ``emotion`` loss;
3. the emotion signal ``W_s logits`` replaces the BOS embedding, and the decoder
   (``empdg.decoder``: Transformer + pointer-generator) attends over ``[H_ctx; H_emo]``.

Interactive discriminators (training only): the semantic and emotional
:class:`InteractiveDiscriminator`; the model hands them, with the detached [CLS] states and the
vocabulary's emotion-word flags, to the loss ``empdg.adversarial``
(``ModelOutput.extras["empdg_adversarial"]``), which trains them and the generator against
them. Generation and emotion prediction never use them.

``emotion_words=False`` removes step 2's emotion-word encoder (the emotion is read from
``c_ctx`` alone and the decoder attends over ``H_ctx``); ``emotion_start=False`` feeds BOS
instead of the emotion signal. Both off is the generator of the authors' EmpDG w/o G (their
EmoPrepend baseline).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.api import DialogueEmbedding
from edg.baseline.layer_step import transformer_encoder
from edg.interfaces.decoder import Decoder
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg_baselines.empdg_adversarial_loss import ADVERSARIAL, EMOTIONAL, SEMANTIC, AdversarialInputs
from edg_baselines.empdg_decoder import EMOTION_SIGNAL
from edg_baselines.empdg_discriminator import InteractiveDiscriminator


class EmpdgModel(EdgModel):
    def __init__(self, embedding: DialogueEmbedding, *, d_model: int, layers: int, heads: int, ffn_dim: int,
                 dropout: float, decoder: Decoder, num_emotions: int, emotion_words: bool, emotion_start: bool,
                 discriminators: tuple[str, ...], discriminator_hidden: int, discriminator_embed_dim: int,
                 emotion_flags: Optional[list[bool]], pad_id: int, eos_id: int,
                 attention_dim: Optional[int] = None, feed_forward: str = "linear") -> None:
        super().__init__()
        self.embedding = embedding
        encoder_shape = (d_model, layers, heads, ffn_dim, dropout, attention_dim, feed_forward)
        self.semantic_encoder = transformer_encoder(*encoder_shape)
        self.emotion_encoder = transformer_encoder(*encoder_shape) if emotion_words else None
        # the authors' identify_new: a bias-free map of [c_emo; c_ctx] to the 32 emotions
        self.classifier = nn.Linear(2 * d_model if emotion_words else d_model, num_emotions, bias=False)
        self.emotion_signal = nn.Linear(num_emotions, d_model) if emotion_start else None
        self.decoder = decoder
        vocab = embedding.word.num_embeddings
        self.discriminators = nn.ModuleDict({
            name: InteractiveDiscriminator(vocab, embed_dim=discriminator_embed_dim, hidden=discriminator_hidden,
                                           condition_dim=d_model, pad_id=pad_id)
            for name in discriminators
        })
        if EMOTIONAL in discriminators and not emotion_words:
            raise ValueError("the emotional discriminator is conditioned on the emotion-word context (emotion_words)")
        flags = torch.tensor(emotion_flags if emotion_flags is not None else [False] * vocab, dtype=torch.bool)
        if flags.numel() != vocab:
            raise ValueError(f"emotion_flags has {flags.numel()} entries for a vocabulary of {vocab}")
        # rebuilt from the lexicon with the system, not saved with the weights
        self.register_buffer("emotion_flags", flags, persistent=False)
        self.pad_id, self.eos_id = pad_id, eos_id

    def _encode(self, batch: dict[str, Any]) -> tuple[EncoderOutput, EmotionOutput, Tensor, Optional[Tensor]]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        semantic = self.semantic_encoder(self.embedding(ids, batch.get("role_ids")), src_key_padding_mask=~mask)
        context_state = semantic[:, 0]
        if self.emotion_encoder is not None:
            emo_ids, emo_mask = batch["emotion_ids"], batch["emotion_mask"]
            emotional = self.emotion_encoder(self.embedding(emo_ids), src_key_padding_mask=~emo_mask)
            emotion_state = emotional[:, 0]
            logits = self.classifier(torch.cat([emotion_state, context_state], -1))
            hidden, memory_mask = torch.cat([semantic, emotional], 1), torch.cat([mask, emo_mask], 1)
            source_ids = torch.cat([ids, emo_ids], 1)
        else:
            emotion_state = None
            logits = self.classifier(context_state)
            hidden, memory_mask, source_ids = semantic, mask, ids
        extras: dict[str, Any] = {"input_ids": source_ids}
        if self.emotion_signal is not None:
            extras[EMOTION_SIGNAL] = self.emotion_signal(logits)
        representation = context_state if emotion_state is None else torch.cat([emotion_state, context_state], -1)
        return (EncoderOutput(hidden, memory_mask, extras), EmotionOutput(logits, representation), context_state,
                emotion_state)

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self._encode(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, emotion, context_state, emotion_state = self._encode(batch)
        extras: dict[str, Any] = {}
        if len(self.discriminators):
            extras[ADVERSARIAL] = AdversarialInputs(
                dict(self.discriminators.items()), context_state.detach(),
                None if emotion_state is None else emotion_state.detach(), self.emotion_flags, self.pad_id,
                self.eos_id)
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion, extras)

    def predict_emotion(self, batch: dict[str, Any]) -> Optional[Tensor]:
        return self._encode(batch)[1].logits


__all__ = ["EmpdgModel", "SEMANTIC", "EMOTIONAL"]
