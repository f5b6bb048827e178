"""``CtsmModel``: CTSM's network (Figure 2) assembled from its components.

forward(batch):
  1. ``E_C``, ``H_C`` and the inference-enriched contexts ``H_C^tchr``, ``H_C^stu``
     (:mod:`edg_ctsm.context_encoder`, §3.3);
  2. trait emotions ``V_t``, ``H_t`` from the ``vad.trait`` module on ``H_C`` (§3.4.1) and
     state emotions ``V_s``, ``H_s`` from ``ctsm.state`` on ``E_C``/``H_C`` (§3.4.2);
  3. emotion guidance: teacher on ``H_C^tchr ⊕ V_t ⊕ V_s``, student on
     ``H_C^stu ⊕ H_t ⊕ H_s``, both pooled with the softmax of the tokens' emotion intensity
     (:mod:`edg_ctsm.emotion_guidance`, §3.5);
  4. the pointer-generator decoder on ``H_C^stu`` (eq. 20);
  5. the four cross-contrastive representations (§3.6.2).

Ablation switches remove exactly their parts: no trait module (w/o TEE), no state module
and no emotion-word rows of eq. 5 (w/o SEE), no teacher context ``H_C^tchr`` and no teacher
head (w/o EGM: the student keeps its intensity pooling and eq. 12–14 head and learns from
the gold label), no response encoder and projection heads (w/o CCL).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.interfaces.decoder import Decoder
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg_ctsm.context_encoder import InferenceEnrichedContextEncoder
from edg_ctsm.emotion_guidance import EmotionGuidance
from edg_baselines.cem_encoder import CemEncoder, masked_mean
from edg_ctsm.trait import trait_embedding


class CtsmModel(EdgModel):
    def __init__(self, *, context_encoder: InferenceEnrichedContextEncoder, decoder: Decoder,
                 d_model: int, num_emotions: int, trait: Optional[EmotionModule], trait_dims: tuple[int, int],
                 state: Optional[EmotionModule], state_dims: tuple[int, int],
                 emotion_word_ids: Tensor, intensity: Tensor, use_guidance: bool, guidance_hidden: int,
                 guidance_dropout: float, ccl: Optional[dict[str, Any]],
                 emotion_counts: Optional[Tensor] = None) -> None:
        super().__init__()
        self.context_encoder = context_encoder
        self.embedding = context_encoder.embedding
        self.decoder = decoder
        self.trait = trait
        self.state = state
        d_t_in, d_t_out = trait_dims if trait is not None else (0, 0)
        d_s_in, d_s_out = state_dims if state is not None else (0, 0)
        # emotion words: ids in the vocabulary, own embedding rows for words it lacks
        self.register_buffer("emotion_word_ids", emotion_word_ids.clone())
        missing = int((emotion_word_ids < 0).sum())
        self.extra_emotion_words = (nn.Parameter(torch.randn(num_emotions, d_model) * d_model**-0.5)
                                    if missing and state is not None else None)
        # KEMP emotion intensity of every vocabulary id (0 outside the VAD lexicon)
        self.register_buffer("intensity", intensity.float().clone())
        self.use_guidance = use_guidance
        # without EGM only the teacher goes: the student head predicts emotion either way
        self.guidance = EmotionGuidance(d_model + d_t_in + d_s_in if use_guidance else None,
                                        d_model + d_t_out + d_s_out, guidance_hidden, num_emotions,
                                        guidance_dropout)
        if emotion_counts is not None:  # the heads start at the training split's class prior
            self.guidance.init_prior(emotion_counts)
        if ccl is not None:
            self.response_encoder = CemEncoder(d_model, d_model, positions=False, **ccl["encoder"])
            dim = ccl["dim"]
            sizes = {"context": d_model, "response": d_model, "emotion": d_t_out + d_s_out, "generated": d_model}
            if not sizes["emotion"]:
                del sizes["emotion"]
            self.ccl_heads = nn.ModuleDict({k: nn.Linear(v, dim) for k, v in sizes.items()})
        else:
            self.response_encoder = None
            self.ccl_heads = None

    # -- pieces ------------------------------------------------------------------------
    def emotion_word_embeddings(self) -> Tensor:
        """``Embedding(e)`` [32, d] of the emotion words (eq. 5)."""
        ids = self.emotion_word_ids
        table = self.embedding.word(ids.clamp(min=0))
        if self.extra_emotion_words is not None:
            table = torch.where((ids >= 0).unsqueeze(-1), table, self.extra_emotion_words)
        return table

    def _encode_all(self, batch: dict[str, Any], *, generation_only: bool = False) -> dict[str, Any]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        contexts = ("student",) if generation_only or not self.use_guidance else ("teacher", "student")
        enc = self.context_encoder(batch, contexts)
        out: dict[str, Any] = {"enc": enc, "student": enc.contexts["student"]}
        if generation_only:
            return out
        teacher_parts = [enc.contexts["teacher"]] if self.use_guidance else []
        student_parts = [enc.contexts["student"]]
        emotion_parts = []
        if self.trait is not None:
            trait = self.trait(enc.hidden, mask, input_ids=ids)
            out["trait"] = trait
            teacher_parts.append(trait_embedding(trait.extras))
            student_parts.append(trait.extras["hidden"])
            emotion_parts.append(trait.extras["hidden"])
        if self.state is not None:
            state = self.state(enc.hidden, mask, input_ids=ids, context_embedding=enc.embedding,
                               emotion_embedding=self.emotion_word_embeddings())
            out["state"] = state
            teacher_parts.append(state.extras["embedding"])
            student_parts.append(state.extras["hidden"])
            emotion_parts.append(state.extras["hidden"])
        dtype = enc.hidden.dtype
        v_student = torch.cat([p.to(dtype) for p in student_parts], -1)
        v_teacher = torch.cat([p.to(dtype) for p in teacher_parts], -1) if self.use_guidance else None
        intensity = self.intensity[ids]
        teacher, student = self.guidance(v_teacher, v_student, intensity, mask)
        if teacher is not None:
            out["guidance"] = {"teacher_logits": teacher, "student_logits": student, "intensity": intensity}
        out["emotion_logits"] = student
        out["emotion_repr"] = masked_mean(v_student, mask)
        if emotion_parts:
            out["h_ts"] = torch.cat([p.to(dtype) for p in emotion_parts], -1)
        return out

    def _memory(self, batch: dict[str, Any], student: Tensor) -> EncoderOutput:
        return EncoderOutput(student, batch["attention_mask"], {"input_ids": batch["input_ids"]})

    # -- EdgModel ----------------------------------------------------------------------
    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self._memory(batch, self._encode_all(batch, generation_only=True)["student"])

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        st = self._encode_all(batch)
        memory = self._memory(batch, st["student"])
        decoded = self.decoder(batch["decoder_input_ids"], memory)
        emotion = EmotionOutput(st["emotion_logits"], st["emotion_repr"])
        extras: dict[str, Any] = {}
        if "guidance" in st:
            extras["guidance"] = st["guidance"]
        if self.ccl_heads is not None:
            extras["ccl"] = self.contrastive_representations(batch, st, decoded.log_probs())
        return ModelOutput(decoded, memory, emotion, extras)

    def contrastive_representations(self, batch: dict[str, Any], st: dict[str, Any], log_probs: Tensor) -> dict[str, Tensor]:
        """The pooled, projected ``H_C^stu``, ``H_Y``, ``H_ts`` and ``P_w`` (§3.6.2)."""
        mask = batch["attention_mask"]
        labels = batch["labels"]
        target_mask = labels.ne(-100)
        target_ids = labels.masked_fill(~target_mask, self.decoder.pad_id)
        h_y = self.response_encoder(self.embedding(target_ids), target_mask)
        probs = log_probs.exp().to(self.embedding.word.weight.dtype)
        generated = probs @ self.embedding.word.weight  # expected word embedding of P_w
        pooled = {
            "context": masked_mean(st["student"], mask),
            "response": masked_mean(h_y, target_mask),
            "generated": masked_mean(generated, target_mask),
        }
        if "h_ts" in st and "emotion" in self.ccl_heads:
            pooled["emotion"] = masked_mean(st["h_ts"], mask)
        return {k: self.ccl_heads[k](v) for k, v in pooled.items()}

    def predict_emotion(self, batch: dict[str, Any]) -> Tensor:
        return self._encode_all(batch)["emotion_logits"]
