"""Emotion module ``cem.refinement``: CEM's cognitive and affective refinement of the context
with commonsense inferences, the knowledge-acquisition MLP that fuses them, and CEM's emotion
classifier on the affective branch (Sabour et al., 2022, §"Commonsense-aware Response
Generation"; ``Sahandfer/CEM src/models/CEM/model.py``, ``CEM.forward`` and ``MLP``).

Inputs (``forward``): the context states ``H_CTX`` [B, L, d] (position 0 is [CLS]) and the
encoded inferences of the last utterance:

* ``cognitive`` [B, R, Lk, d]: the R cognitive relations (xIntent, xNeed, xWant, xEffect),
  each sequence starting with [CLS]; a relation is summarised by its [CLS] state;
* ``affective`` [B, Lk, d] and ``affective_mask`` [B, Lk]: the affective relation (xReact),
  summarised by the mean of its states over its real tokens.

Other features (e.g. ``input_ids``) are accepted and unused.

Each summary is repeated over the context and concatenated with ``H_CTX`` (2d per token); a
refine encoder maps it back to d: one encoder for xReact (``affective_refine``), one shared
by the cognitive relations (``cognitive_refine``). The (R+1)·d concatenation of the refined
contexts is gated by its own sigmoid (``x ⊙ σ(x)``) and reduced to d by the bias-free MLP
``(R+1)d → ⌈(R+1)/2⌉d → d`` (CEM: 5d → 3d → d). The emotion logits are a bias-free linear
map of the affective-refined context at [CLS].

Output: an :class:`EmotionOutput` whose ``logits`` [B, num_emotions] and ``representation``
[B, d] (the state the classifier reads) are CEM's emotion prediction, and whose
``extras["context"]`` [B, L, d] is the refined context the decoder attends to
(``extras["affective_context"]``: the affective-refined context, when that branch is on).

Switches, each removing exactly its part (CEM's ablations): ``affective: false`` (w/o Aff,
``--woEMO``): no xReact refine encoder; emotion is classified from ``H_CTX`` at [CLS] and the
MLP fuses the R cognitive contexts only. ``cognitive_relations: 0`` (w/o Cog, ``--woCOG``):
no cognitive refine encoder and no MLP; the decoder reads the affective-refined context.
``num_emotions=0`` (a system that classifies emotion elsewhere, as CTSM does): no classifier,
``logits`` is an empty [B, 0] tensor.

The core has no component kind for a context encoder, so CEM's refinement is registered as an
emotion module: it is where CEM computes its emotion representation and logits.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from edg.api import CLS
from edg.config import StrictModel
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.types import EmotionOutput
from edg_baselines.cem_encoder import CemEncoder, masked_mean

#: CEM's data loader drops these words from the COMET tails (``preprocess(..., cs=True)``)
KNOWLEDGE_STOPWORDS = ("to", "none")


class CemRefinementOptions(StrictModel):
    affective: bool = True
    """The affective branch (xReact refine encoder); false: CEM's w/o Aff."""
    cognitive_relations: int = 4
    """Number of cognitive relations refined (xIntent, xNeed, xWant, xEffect); 0: CEM's w/o Cog."""
    layers: int = 1
    heads: int = 2
    ffn_dim: int = 50
    attention_dim: Optional[int] = None
    """Width the refine encoders' attention projects to (CEM's ``--depth``; the system passes
    its ``model.attention_dim``, 40); ``None``: ``d_model``."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """The refine encoders' feed-forward (the system passes its ``model.feed_forward``)."""
    dropout: float = 0.0
    max_positions: int = 1024


class KnowledgeMLP(nn.Module):
    """CEM's ``MLP``: ``n·d -> ⌈n/2⌉·d -> d``, bias-free, ReLU (n = 5: 5d -> 3d -> d)."""

    def __init__(self, inputs: int, d_model: int) -> None:
        super().__init__()
        hidden = (inputs + 1) // 2
        self.lin_1 = nn.Linear(inputs * d_model, hidden * d_model, bias=False)
        self.lin_2 = nn.Linear(hidden * d_model, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin_2(torch.relu(self.lin_1(x)))


class CemRefinement(EmotionModule):
    Options = CemRefinementOptions

    def __init__(self, options: CemRefinementOptions, *, d_model: int, num_emotions: int = 32) -> None:
        super().__init__(options, d_model=d_model, num_emotions=num_emotions)
        if options.cognitive_relations < 0:
            raise ValueError(f"cem.refinement: cognitive_relations must be >= 0, got {options.cognitive_relations}")
        if not options.affective and not options.cognitive_relations:
            raise ValueError("cem.refinement needs the affective branch or at least one cognitive relation")
        kw = dict(layers=options.layers, heads=options.heads, ffn_dim=options.ffn_dim, dropout=options.dropout,
                  max_len=options.max_positions, attention_dim=options.attention_dim,
                  feed_forward=options.feed_forward)
        # construction order (affective, cognitive, MLP) fixes the initial weights for a seed
        self.affective_refine = CemEncoder(2 * d_model, d_model, **kw) if options.affective else None
        cognitive = options.cognitive_relations
        self.cognitive_refine = CemEncoder(2 * d_model, d_model, **kw) if cognitive else None
        self.mlp = KnowledgeMLP(cognitive + int(options.affective), d_model) if cognitive else None
        # CEM's emo_lin: bias-free
        self.classifier = nn.Linear(d_model, num_emotions, bias=False) if num_emotions else None

    def forward(self, hidden: Tensor, mask: Tensor, *, affective: Optional[Tensor] = None,
                affective_mask: Optional[Tensor] = None, cognitive: Optional[Tensor] = None,
                **_unused: Any) -> EmotionOutput:
        # other features (e.g. input_ids) are accepted and unused, as the interface allows
        length = hidden.size(1)

        def refine(encoder: CemEncoder, summary: Tensor) -> Tensor:  # summary [B, d]
            return encoder(torch.cat([hidden, summary.unsqueeze(1).expand(-1, length, -1)], -1), mask)

        affective_context = None
        if self.affective_refine is not None:
            if affective is None or affective_mask is None:
                raise ValueError("cem.refinement: the affective branch needs 'affective' and 'affective_mask'")
            affective_context = refine(self.affective_refine, masked_mean(affective, affective_mask))
        if self.cognitive_refine is not None:
            expected = self.options.cognitive_relations
            if cognitive is None or cognitive.dim() != 4 or cognitive.size(1) != expected:
                got = None if cognitive is None else tuple(cognitive.shape)
                raise ValueError(f"cem.refinement: 'cognitive' must be [B, {expected}, Lk, d], got {got}")
            summaries = cognitive[:, :, 0]  # each relation's [CLS] state
            refined = [refine(self.cognitive_refine, summaries[:, r]) for r in range(expected)]
            if affective_context is not None:
                refined.append(affective_context)
            fused = torch.cat(refined, dim=-1)
            context = self.mlp(torch.sigmoid(fused) * fused)
        else:
            context = affective_context
        # CEM classifies emotion on the affective-refined [CLS] state (w/o Aff: on H_CTX's)
        representation = (affective_context if affective_context is not None else hidden)[:, 0]
        if self.classifier is not None:
            logits = self.classifier(representation)
        else:
            logits = representation.new_zeros(representation.size(0), 0)
        extras = {"context": context}
        if affective_context is not None:
            extras["affective_context"] = affective_context
        return EmotionOutput(logits, representation, extras)

    @staticmethod
    def knowledge_sequences(tokenizer: Any, knowledge: Sequence[Optional[Mapping[str, Sequence[str]]]],
                            relations: Sequence[str], *, affective_last: bool, max_tokens: int) -> list[list[list[int]]]:
        """Per sample, the token ids of each relation's inferences, in ``relations`` order, as
        CEM's data loader builds them: a relation's tails are concatenated, the words "to"
        and "none" and out-of-vocabulary words dropped; cognitive sequences start with [CLS];
        the affective one (the last relation when ``affective_last``) holds the words only, or
        [CLS] alone when it has none (so that its mean is defined). Each is cut to
        ``max_tokens``. A sample without knowledge (``None``) gets empty relations."""
        cls_id, unk_id = tokenizer.convert_tokens_to_ids(CLS), tokenizer.unk_token_id
        drop = {i for i in tokenizer.convert_tokens_to_ids(list(KNOWLEDGE_STOPWORDS)) if i != unk_id} | {unk_id}
        texts: list[str] = []
        spans: list[tuple[int, int]] = []
        for sample in knowledge:
            for relation in relations:
                tails = list(sample.get(relation) or []) if isinstance(sample, Mapping) else []
                spans.append((len(texts), len(texts) + len(tails)))
                texts.extend(tails)
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        n = len(relations)
        out: list[list[list[int]]] = []
        for k, (start, end) in enumerate(spans):
            if k % n == 0:
                out.append([])
            words = [t for ids in encoded[start:end] for t in ids if t not in drop]
            is_affective = affective_last and k % n == n - 1
            seq = words if is_affective and words else [cls_id, *words]
            out[-1].append(seq[:max_tokens])
        return out
