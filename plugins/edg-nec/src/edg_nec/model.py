"""The NEC network: BART's encoder over ``I_enc`` (eq. 3-4), the same encoder over the social
knowledge ``K_S``, the ``nec.bart`` decoder with knowledge cross-attention (eq. 8), and CoNT's
learned projection that maps encoder and decoder states to the representations ``z`` of
the contrastive loss (eq. 11-13)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from edg.errors import ResourceError
from edg.interfaces.decoder import Decoder
from edg.interfaces.model import EdgModel
from edg.interfaces.types import EncoderOutput, ModelOutput


def load_bart(backbone: str, backbone_config: Optional[Mapping[str, Any]], tokenizer: Any, *, seed: int = 0):
    """``BartForConditionalGeneration.from_pretrained(backbone)``, or a randomly initialised BART
    from ``backbone_config`` (BartConfig kwargs; the tiny preset); embeddings resized to the
    tokenizer."""
    from transformers import BartConfig, BartForConditionalGeneration

    if backbone_config is not None:
        ids = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
               "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "decoder_start_token_id": tokenizer.bos_token_id, "forced_bos_token_id": None,
               "forced_eos_token_id": None}
        torch.manual_seed(seed)
        return BartForConditionalGeneration(BartConfig(**{**ids, **dict(backbone_config)}))
    try:
        model = BartForConditionalGeneration.from_pretrained(backbone)
    except Exception as exc:
        raise ResourceError(
            f"cannot load the BART backbone '{backbone}' ({type(exc).__name__}); when offline, set "
            f"model.backbone to a local directory with the model files (and tokenizer.name_or_path to "
            f"its tokenizer), or model.backbone_config to build a small BART from scratch"
        ) from None
    if model.get_input_embeddings().num_embeddings != len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    return model


class NecModel(EdgModel):
    def __init__(self, bart: nn.Module, decoder: Decoder) -> None:
        super().__init__()
        self.bart = bart
        self.decoder = decoder
        # CoNT's projection head: z = mean over positions of ReLU(W h + b), one head shared by
        # the input and the responses (Xavier-initialised weight, as CoNT)
        d_model = bart.config.d_model
        self.contrastive_head = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.contrastive_head.weight)
        # the search averages projected step states, so reranking (eq. 13) compares the
        # same representations as the loss (eq. 11-12)
        if hasattr(decoder, "feature_projection"):
            decoder.feature_projection = self.project

    def project(self, hidden: Tensor) -> Tensor:
        """CoNT's per-position projection ``ReLU(W h + b)`` ([..., D] -> [..., D])."""
        return torch.relu(self.contrastive_head(hidden.to(self.contrastive_head.weight.dtype)))

    def features(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """The contrastive representation of each sequence: [N, T, D] states, [N, T] mask -> [N, D]
        (the mean of :meth:`project` over the unmasked positions)."""
        projected = self.project(hidden)
        m = mask.unsqueeze(-1).to(projected.dtype)
        return (projected * m).sum(1) / m.sum(1).clamp(min=1)

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.bart.model.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state

    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        mask = batch["attention_mask"].bool()
        hidden = self._encode(batch["input_ids"], mask)
        extras: dict[str, Any] = {}
        if getattr(self.decoder, "uses_social", False) and "social_ids" in batch:
            social_mask = batch["social_mask"].bool()
            extras = {"social_hidden": self._encode(batch["social_ids"], social_mask), "social_mask": social_mask}
        return EncoderOutput(hidden, mask, extras)

    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        memory = self.encode(batch)
        out = self.decoder(batch["decoder_input_ids"], memory)
        return ModelOutput(decoder=out, encoder=memory)
