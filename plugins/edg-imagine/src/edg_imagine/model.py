"""ImagineModel: the five modules of Figure 2 over a collated batch
(:meth:`edg_imagine.system.ImagineSystem.collate`).

Emotion perception reads the whole context S (eq. 1–3); the cause encoder reads C (eq.
4–5); the mechanism heads read h_c (eq. 6–9); the knowledge encoder and the refinement turn
the four COMET sequences and H_C into Ĥ_C (eq. 10–17); the decoder starts from ê_emo and
cross-attends Ĥ_C (eq. 18). What the loss terms read: ``ModelOutput.emotion.logits``
(ê_emo, the core ``emotion`` term) and ``extras["mechanism_logits"]`` [B, 3, 2]
(``imagine.mechanisms``).
"""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor, nn

from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg_imagine.cause_encoder import CauseEncoder
from edg_imagine.communication_heads import CommunicationHeads
from edg_imagine.epitome import MECHANISMS
from edg_imagine.emotion_perception import EmotionPerception
from edg_imagine.knowledge_encoder import GROUPS, KnowledgeEncoder
from edg_imagine.knowledge_refinement import KnowledgeRefinement, fused_memory


class ImagineModel(EdgModel):
    def __init__(self, *, embedding: nn.Module, emotion: EmotionPerception, causes: CauseEncoder,
                 mechanisms: Optional[CommunicationHeads], knowledge: Optional[KnowledgeEncoder],
                 refinement: Optional[KnowledgeRefinement], decoder: Any, d_model: int,
                 num_emotions: int = 32) -> None:
        super().__init__()
        if (knowledge is None) != (refinement is None):
            raise ValueError("the knowledge encoder and the refinement go together (model.use_knowledge)")
        self.embedding = embedding
        self.emotion = emotion
        self.causes = causes
        self.mechanisms = mechanisms
        self.knowledge = knowledge
        self.refinement = refinement
        self.emotion_signal = nn.Linear(num_emotions, d_model)  # ê_emo -> y_0 (KEMP's emotion embedding)
        self.decoder = decoder

    def perceive(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Eq. 1: (H_S, ê_emo) of the context."""
        return self.emotion(self.embedding(batch["context_ids"], batch["context_role_ids"]), batch["context_mask"])

    def run(self, batch: dict[str, Any]) -> tuple[EncoderOutput, EmotionOutput, dict[str, Tensor]]:
        context_states, emotion_logits = self.perceive(batch)
        mask = batch["cause_mask"]
        cause_states, summary = self.causes(batch["cause_ids"], batch["cause_role_ids"], mask)
        extras: dict[str, Tensor] = {}
        signal = None
        if self.mechanisms is not None:
            extras["mechanism_logits"], signal = self.mechanisms(summary)
        if self.knowledge is not None:
            sequences = {g: (batch[f"knowledge_{g.lower()}_ids"], batch[f"knowledge_{g.lower()}_mask"])
                         for g in GROUPS}
            parts = self.refinement(cause_states, mask, self.knowledge(sequences))
        else:  # wo-know: the cause states take the refined groups' place
            parts = [cause_states]
        memory = EncoderOutput(fused_memory(parts, signal), mask,
                               {"first_input": self.emotion_signal(emotion_logits)})
        return memory, EmotionOutput(emotion_logits, context_states[:, 0]), extras

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self.run(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, emotion, extras = self.run(batch)
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion, extras)

    def predict_emotion(self, batch: dict[str, Any]) -> Tensor:
        return self.perceive(batch)[1]

    def predict_labels(self, batch: dict[str, Any], outputs: ModelOutput) -> dict[str, tuple[Tensor, Tensor]]:
        """Each mechanism head's predicted degree (eq. 7) against the EPITOME classifiers' label
        of the reference response: the evaluator's ``acc-cm_er``, ``acc-cm_ip``, ``acc-cm_ex``."""
        logits = outputs.extras.get("mechanism_logits")
        if logits is None:  # wo-cm
            return {}
        predicted, gold = logits.argmax(-1), batch["mechanism_labels"]
        return {f"cm_{m}": (predicted[:, i], gold[:, i]) for i, m in enumerate(MECHANISMS)}
