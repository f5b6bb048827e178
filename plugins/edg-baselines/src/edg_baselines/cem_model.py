"""CEM's network (Sabour et al., AAAI 2022), as ``CEM.forward`` of the authors' code:

1. ``H_CTX = Enc_ctx(E_C)``: the context ``[CLS] [SPK] u1 [LIS] u2 ...`` with word +
   position + dialogue-state embeddings (the core's ``DialogueEmbedding``);
2. the COMET inferences of the last utterance, each relation a token sequence embedded with
   the same word embedding: the cognitive ones (xIntent, xNeed, xWant, xEffect) through one
   shared encoder ``Enc_cog``, the affective one (xReact) through ``Enc_aff``;
3. ``cem.refinement`` (by registered name): cognitive and affective refinement, the
   knowledge-acquisition MLP, and the emotion logits on the affective branch;
4. the decoder (by registered name, the core's ``transformer``) on the refined context.

The ablations remove exactly their parts: w/o Aff has no ``Enc_aff`` (and the refinement no
affective refine encoder); w/o Cog has no ``Enc_cog`` (and no cognitive refine encoder, no MLP).
"""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor, nn

from edg.api import DialogueEmbedding
from edg.interfaces.decoder import Decoder
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EmotionOutput, EncoderOutput, ModelOutput
from edg_baselines.cem_encoder import CemEncoder


def xavier_init(model: nn.Module, *, skip_prefix: str = "embedding.") -> None:
    """The authors' initialisation (``main.py``, ``make_model``): every weight matrix
    (``dim > 1``) drawn again with ``xavier_uniform_``, except the embedding tables."""
    for name, parameter in model.named_parameters():
        if parameter.dim() > 1 and not name.startswith(skip_prefix):
            nn.init.xavier_uniform_(parameter)


class CemModel(EdgModel):
    def __init__(self, embedding: DialogueEmbedding, *, d_model: int, layers: int, heads: int, ffn_dim: int,
                 dropout: float, max_positions: int, cognitive_relations: int, affective: bool,
                 refinement: EmotionModule, decoder: Decoder, attention_dim: Optional[int] = None,
                 feed_forward: str = "linear") -> None:
        super().__init__()
        self.embedding = embedding
        kw = dict(layers=layers, heads=heads, ffn_dim=ffn_dim, dropout=dropout, max_len=max_positions,
                  attention_dim=attention_dim, feed_forward=feed_forward)
        # the dialogue embedding already adds positions
        self.context_encoder = CemEncoder(d_model, d_model, positions=False, **kw)
        self.affective_encoder = CemEncoder(d_model, d_model, positions=False, **kw) if affective else None
        self.cognitive_encoder = CemEncoder(d_model, d_model, positions=False, **kw) if cognitive_relations else None
        self.cognitive_relations = cognitive_relations
        self.refinement = refinement
        self.decoder = decoder

    def encode_knowledge(self, ids: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """``ids``/``mask`` [B, R, Lk]: the cognitive relations first, the affective one last
        (when on). Returns the refinement's knowledge features: ``cognitive`` [B, Rc, Lk, d],
        ``affective`` [B, Lk, d] and ``affective_mask`` [B, Lk]."""
        b, r, lk = ids.shape
        features: dict[str, Tensor] = {}
        if self.affective_encoder is not None:
            features["affective"] = self.affective_encoder(self.embedding(ids[:, -1]), mask[:, -1])
            features["affective_mask"] = mask[:, -1]
        if self.cognitive_encoder is not None:
            rc = self.cognitive_relations
            cog_ids = ids[:, :rc].reshape(b * rc, lk)
            cog_mask = mask[:, :rc].reshape(b * rc, lk)
            states = self.cognitive_encoder(self.embedding(cog_ids), cog_mask)
            features["cognitive"] = states.view(b, rc, lk, -1)
        return features

    def _encode(self, batch: dict[str, Any]) -> tuple[EncoderOutput, EmotionOutput]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        hidden = self.context_encoder(self.embedding(ids, batch.get("role_ids")), mask)
        knowledge = self.encode_knowledge(batch["knowledge_ids"], batch["knowledge_mask"])
        emotion = self.refinement(hidden, mask, **knowledge)
        return EncoderOutput(emotion.extras["context"], mask, {"input_ids": ids}), emotion

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        return self._encode(batch)[0]

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory, emotion = self._encode(batch)
        return ModelOutput(self.decoder(batch["decoder_input_ids"], memory), memory, emotion)

    def predict_emotion(self, batch: dict[str, Any]) -> Optional[Tensor]:
        return self._encode(batch)[1].logits
