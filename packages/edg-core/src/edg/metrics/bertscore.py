"""BERTScore F1 with a local model (ETHREED's F_BERT)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edg.errors import ConfigError, DataError, ResourceError

DEFINITION = (
    "BERTScore F1 (Zhang et al. 2020) x100: greedy cosine matching of contextual token embeddings "
    "of a LOCAL model (last layer unless set), no idf, no baseline rescaling, mean over pairs"
)

#: The layers the reference ``bert_score`` package uses for some models (pass ``layer=`` to
#: reproduce its numbers; e.g. ETHREED's F_BERT used roberta-large, layer 17).
BERT_SCORE_DEFAULT_LAYERS = {
    "roberta-large": 17,
    "roberta-base": 10,
    "bert-base-uncased": 9,
    "bert-large-uncased": 18,
    "microsoft/deberta-xlarge-mnli": 40,
    "distilbert-base-uncased": 5,
}


def _load(model_path: str | Path):
    path = Path(model_path).expanduser()
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ResourceError(
            f"bertscore model not found: {model_path} (give a local model directory with config.json "
            f"and tokenizer files; edg never downloads it)"
        )
    try:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResourceError(f"bertscore model {model_path} cannot be loaded: {msg}") from None
    model.eval()
    return tokenizer, model


def _embed(texts, tokenizer, model, layer, batch_size, device, max_length):
    import torch

    out = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        enc = tokenizer(
            chunk,
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        special = enc.pop("special_tokens_mask").bool()
        enc = {k: v.to(device) for k, v in enc.items()}
        with torch.no_grad():
            hidden = model(**enc, output_hidden_states=True).hidden_states[layer]
        keep = enc["attention_mask"].bool().cpu() & ~special
        hidden = torch.nn.functional.normalize(hidden.float().cpu(), dim=-1)
        for i in range(len(chunk)):
            out.append(hidden[i][keep[i]])
    return out


def bertscore(
    hyps: Sequence[str],
    refs: Sequence[str],
    model_path: str | Path,
    *,
    layer: int | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    max_length: int = 512,
    rescale_baseline: float | None = None,
) -> float:
    """BERTScore F1 (``bertscore``), x100, with a local model loaded through ``transformers``.

    Definition (Zhang et al., 2020, as in the ``bert_score`` package without idf): every
    hypothesis and its reference are encoded separately (raw text, the model's own tokenizer,
    truncated to ``max_length``); the hidden states of ``layer`` (``hidden_states[layer]``, 0 =
    embeddings; default ``None`` = the last layer) of all non-special tokens are L2-normalised;
    precision = mean over hypothesis tokens of the max cosine similarity to any reference token,
    recall = the same from the reference side, F1 = 2PR/(P+R); a pair where either side has no
    tokens scores 0. The corpus value is the mean F1 over pairs, x100. With ``rescale_baseline``
    b, each F1 is first rescaled to (F1 - b) / (1 - b) as ``bert_score``'s
    ``rescale_with_baseline`` does. To reproduce ``bert_score`` numbers pass its layer for the
    model (see :data:`BERT_SCORE_DEFAULT_LAYERS`; roberta-large: 17).

    ``model_path`` must be a local directory; nothing is ever downloaded. A missing or unloadable
    model raises :class:`~edg.errors.ResourceError`; a bad layer raises
    :class:`~edg.errors.ConfigError`; mismatched or empty inputs raise :class:`~edg.errors.DataError`.
    """
    if len(hyps) != len(refs):
        raise DataError(f"bertscore: {len(hyps)} hypotheses but {len(refs)} references; the counts must match")
    if not hyps:
        raise DataError("bertscore: no hypotheses to score")
    if batch_size < 1:
        raise ConfigError(f"bertscore: batch_size must be >= 1, got {batch_size}")
    tokenizer, model = _load(model_path)
    model.to(device)
    n_layers = int(getattr(model.config, "num_hidden_layers", 0))
    if layer is None:
        layer = n_layers
    if not isinstance(layer, int) or not -n_layers - 1 <= layer <= n_layers:
        raise ConfigError(f"bertscore: layer must be an int in 0..{n_layers} for {model_path}, got {layer!r}")
    hyp_emb = _embed(hyps, tokenizer, model, layer, batch_size, device, max_length)
    ref_emb = _embed(refs, tokenizer, model, layer, batch_size, device, max_length)
    total = 0.0
    for h, r in zip(hyp_emb, ref_emb):
        if h.shape[0] == 0 or r.shape[0] == 0:
            f1 = 0.0
        else:
            sim = h @ r.T
            p = sim.max(dim=1).values.mean().item()
            rec = sim.max(dim=0).values.mean().item()
            f1 = 2 * p * rec / (p + rec) if (p + rec) != 0 else 0.0
        if rescale_baseline is not None:
            f1 = (f1 - rescale_baseline) / (1 - rescale_baseline)
        total += f1
    return 100.0 * total / len(hyps)
