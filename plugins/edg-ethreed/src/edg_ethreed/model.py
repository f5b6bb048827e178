"""EthreedModel: the utterance encoder, the hierarchical tracker, the emotion classifier
W_e, the empathetic policy and the decoder, over a collated batch of conversations
(:meth:`edg_ethreed.system.EthreedSystem.collate`).

What the loss terms read goes into ``ModelOutput.extras``:
``party_emotion_logits`` [B, K, 32] (W_e on every tracked emotional representation),
``policy_emotion_logits`` / ``tracked_listener_logits`` [N, 32] (W_e on R̂_e_t and on the
R_e_t tracked from the real response, eq. 13–14; only with the policy), ``attention`` and
``coverage`` [N, T, m] (eq. 17, 19).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.interfaces.model import EdgModel
from edg.interfaces.types import DecoderOutput, EncoderOutput, ModelOutput
from edg_ethreed.dialogue_tracker import DialogueTracker
from edg_ethreed.empathetic_policy import EmpatheticPolicy
from edg_ethreed.utterance_encoder import UtteranceEncoder


class EthreedModel(EdgModel):
    def __init__(self, *, embedding: nn.Embedding, utterance_encoder: UtteranceEncoder, tracker: DialogueTracker,
                 decoder: Any, hidden: int, num_emotions: int = 32, use_policy: bool = True) -> None:
        super().__init__()
        self.embedding = embedding
        self.utterance_encoder = utterance_encoder
        self.tracker = tracker
        self.emotion_classifier = nn.Linear(hidden, num_emotions)  # W_e, shared by L1 and GPS
        self.policy = EmpatheticPolicy(hidden) if use_policy else None
        self.content_projection = nn.Linear(hidden, hidden)  # con_t = FFN(c_t)
        self.emotion_projection = nn.Linear(hidden, hidden)  # emo_t = FFN(R̂_e_t)
        self.decoder = decoder

    # -- shared pass ------------------------------------------------------------------------
    def track(self, batch: dict[str, Any]):
        words, utterances = self.utterance_encoder(batch["utterance_ids"], batch["utterance_lengths"])
        index = batch["utterance_index"]  # [B, K] into the flat utterances (padding: 0)
        dialogue = utterances[index] * batch["utterance_mask"][..., None]
        return words, self.tracker(dialogue, batch["role_ids"])

    def noise(self, batch: dict[str, Any], like: Tensor) -> Tensor:
        """ε for the policy: fresh in training; at evaluation drawn from a generator seeded
        by the target's id, so that perplexity and generation share one sample."""
        if self.training:
            return torch.randn_like(like)
        seeds = batch["noise_seed"].tolist()
        rows = [torch.randn(like.size(-1), generator=torch.Generator().manual_seed(int(s))) for s in seeds]
        return torch.stack(rows).to(like.device, like.dtype) if rows else torch.zeros_like(like)

    def run(self, batch: dict[str, Any]) -> tuple[EncoderOutput, dict[str, Tensor]]:
        words, tracked = self.track(batch)
        dialogue, source = batch["target_dialogue"], batch["source_position"]
        speaker_emotion = tracked.emotion[dialogue, source]  # P_e_t at the post before each target
        extras: dict[str, Tensor] = {"party_emotion_logits": self.emotion_classifier(tracked.emotion)}
        if self.policy is not None:
            sample, mu, log_var = self.policy(speaker_emotion, self.noise(batch, speaker_emotion))
            listener = tracked.emotion[dialogue, batch["target_position"]]  # R_e_t from the real R_t
            extras["policy_emotion_logits"] = self.emotion_classifier(sample)
            extras["tracked_listener_logits"] = self.emotion_classifier(listener)
            response_emotion = sample
        else:
            response_emotion = speaker_emotion  # w/o emp-policy: P_e_t goes to the decoder
        flat = batch["utterance_index"][dialogue, source]  # the speaker's utterance P_t
        source_ids = batch["utterance_ids"][flat]
        memory = EncoderOutput(words[flat], source_ids.ne(self.decoder.pad_id), extras={
            "init": torch.tanh(self.content_projection(tracked.content[dialogue, source])),
            "emotion": torch.tanh(self.emotion_projection(response_emotion)),
            "source_ids": source_ids,
        })
        return memory, extras

    # -- EdgModel ---------------------------------------------------------------------------
    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self.run(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, extras = self.run(batch)
        decoded: DecoderOutput = self.decoder(batch["decoder_input_ids"], memory)
        extras.update(attention=decoded.extras["attention"], coverage=decoded.extras["coverage"])
        return ModelOutput(decoder=decoded, encoder=memory, extras=extras)

    def predict_emotion(self, batch: dict[str, Any]) -> Optional[Tensor]:
        """The speaker's emotion at the post before each dialogue's last target [B, 32]."""
        _words, tracked = self.track(batch)
        rows = torch.arange(tracked.emotion.size(0), device=tracked.emotion.device)
        return self.emotion_classifier(tracked.emotion[rows, batch["last_source_position"]])
