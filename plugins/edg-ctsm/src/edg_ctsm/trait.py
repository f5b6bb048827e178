"""Glue to the trait emotion module (``vad.trait`` of edg-vad, CTSM §3.4.1, eq. 2–4),
which CTSM uses by registered name only.

The module is built as ``cls(options, d_model=..., num_emotions=32, vocab=[tokens],
idf={word: value})`` and ``forward(H_C, mask, input_ids=...)`` returns an
``EmotionOutput`` whose extras hold ``H_t`` (``"hidden"``) and ``V_t`` (``"embedding"``),
``V_t = V_VAD ⊕ V_IDF ⊕ W_C·H_C`` (edg-vad names it ``"features"``).

:func:`probe_trait` reads, once at build time, every vocabulary id's VAD values through the
module's public ``forward`` (the first three columns of ``V_t`` are ``V_VAD`` by eq. 2, or
``extras["vad"]`` when the module gives it) and turns them into KEMP emotion intensities
(eq. 11); a word that is not in the lexicon gets intensity 0 (``extras["in_lexicon"]`` when
given, else: its VAD equals the module's default for missing words, ``options.neutral``,
CTSM's [0, 0.5, 0]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from edg.errors import ConfigError
from edg_ctsm.emotion_guidance import emotion_intensity

#: §3.4.1: "The words excluded in VAD are set with neutral default values [0.00, 0.50, 0.00]"
MISSING_VAD = (0.0, 0.5, 0.0)
LEXICON_OPTION_NAMES = ("lexicon", "lexicon_path", "vad_lexicon", "path")
#: the value of ``model.vad_lexicon`` that selects the trait module's shipped hand-made lexicon
HANDMADE = "handmade"


def trait_options(cls: type, options: dict[str, Any], *, lexicon: str | None, d_cs: int) -> dict[str, Any]:
    """Fill the trait module's lexicon path and ``d_cs`` from CTSM's own options (unless
    set explicitly in ``model.trait_options``). ``lexicon="handmade"`` asks for the module's
    shipped hand-made lexicon (``vad.trait``'s ``handmade_lexicon``)."""
    options = dict(options)
    fields = getattr(getattr(cls, "Options", None), "model_fields", {})
    if lexicon == HANDMADE:
        if "handmade_lexicon" not in fields:
            raise ConfigError("model.vad_lexicon: the trait module has no hand-made lexicon "
                              "(option 'handmade_lexicon'); give the path of a VAD lexicon file")
        options.setdefault("handmade_lexicon", True)
    elif lexicon:
        for name in LEXICON_OPTION_NAMES:
            if name in fields:
                options.setdefault(name, lexicon)
                break
    if "d_cs" in fields:
        options.setdefault("d_cs", d_cs)
    return options


def trait_embedding(extras: dict[str, Any]) -> Tensor:
    for key in ("embedding", "V_t", "features"):
        if key in extras:
            return extras[key]
    raise ValueError(f"the trait emotion module returned no trait embedding V_t (extras: {sorted(extras)})")


@dataclass
class TraitProbe:
    vad: Tensor
    """[V, 3] VAD values of every vocabulary id."""
    in_lexicon: Tensor
    """[V] bool."""
    embedding_dim: int
    """Width of ``V_t``."""
    hidden_dim: int
    """Width of ``H_t``."""

    @property
    def intensity(self) -> Tensor:
        return emotion_intensity(self.vad, self.in_lexicon)


@torch.no_grad()
def probe_trait(module: Any, vocab_size: int, d_model: int, chunk: int = 256) -> TraitProbe:
    was_training = module.training
    neutral = torch.tensor(getattr(getattr(module, "options", None), "neutral", MISSING_VAD), dtype=torch.float32)
    module.eval()
    try:
        vads, flags, dims = [], [], None
        for start in range(0, vocab_size, chunk):
            ids = torch.arange(start, min(start + chunk, vocab_size)).unsqueeze(0)
            hidden = torch.zeros(1, ids.size(1), d_model)
            mask = torch.ones_like(ids, dtype=torch.bool)
            out = module(hidden, mask, input_ids=ids)
            v_t = trait_embedding(out.extras)
            dims = (v_t.size(-1), out.extras["hidden"].size(-1))
            vad = out.extras["vad"] if "vad" in out.extras else v_t[..., :3]
            vad = vad[0].float()
            if "in_lexicon" in out.extras:
                flag = out.extras["in_lexicon"][0].bool()
            else:
                flag = ~torch.isclose(vad, neutral).all(-1)
            vads.append(vad)
            flags.append(flag)
    finally:
        module.train(was_training)
    return TraitProbe(torch.cat(vads), torch.cat(flags), dims[0], dims[1])
