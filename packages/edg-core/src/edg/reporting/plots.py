"""Figures of a run directory: loss curves and the emotion confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

import json
from pathlib import Path

from edg.errors import CheckpointError, DataError, EdgError
from edg.jsonl import json_objects


def _figure(**kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)  # Agg backend without touching pyplot's global state
    return fig


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise CheckpointError(f"run directory {path.parent}: no {path.name}")
    with path.open(encoding="utf-8") as fh:
        return list(json_objects(fh, lambda n: f"{path}:{n}"))


def _system_name(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("system", ""))
    except Exception:  # noqa: BLE001 - the title is cosmetic
        return ""


def plot_loss_curves(run_dir: str | Path) -> Path:
    """Plot train and valid ``loss`` against ``step`` from ``RUN_DIR/metrics.jsonl`` into
    ``RUN_DIR/loss_curves.png`` and return its path.

    Lines without a ``loss`` are skipped; a malformed line raises :class:`~edg.errors.DataError`
    (``file:line``); no loss value at all raises :class:`~edg.errors.EdgError`.
    """
    rd = Path(run_dir)
    path = rd / "metrics.jsonl"
    series: dict[str, tuple[list[float], list[float]]] = {}
    for lineno, obj in _read_jsonl(path):
        if "loss" not in obj or obj["loss"] is None:
            continue
        try:
            step = float(obj["step"])
            loss = float(obj["loss"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}:{lineno}: needs numeric 'step' and 'loss'") from None
        split = str(obj.get("split", "train"))
        xs, ys = series.setdefault(split, ([], []))
        xs.append(step)
        ys.append(loss)
    if not series:
        raise EdgError(f"{path}: no loss values to plot")
    fig = _figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot(1, 1, 1)
    styles = {"train": dict(lw=1.0, alpha=0.8), "valid": dict(lw=1.8, marker="o", ms=3)}
    for split in sorted(series, key=lambda s: (s != "train", s != "valid", s)):
        xs, ys = series[split]
        pairs = sorted(zip(xs, ys))
        ax.plot([p[0] for p in pairs], [p[1] for p in pairs], label=split, **styles.get(split, {}))
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    system = _system_name(rd)
    ax.set_title(f"{system} loss" if system else "loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = rd / "loss_curves.png"
    fig.savefig(out)
    return out


def plot_confusion_matrix(run_dir: str | Path) -> Path | None:
    """Row-normalised confusion matrix of gold ``emotion`` vs ``pred_emotion`` from
    ``RUN_DIR/test_outputs.jsonl`` over the 32 emotions in ``edg.data.EMOTIONS`` order (rows: gold,
    columns: predicted; a predicted index is mapped through the same order), written to
    ``RUN_DIR/confusion_matrix.png``. Returns ``None`` when no sample has both labels.
    An unknown label raises :class:`~edg.errors.DataError` naming ``file:line``.
    """
    from edg.metrics.accuracy import emotion_labels, normalize_label

    rd = Path(run_dir)
    path = rd / "test_outputs.jsonl"
    labels = list(emotion_labels())
    index = {lab: i for i, lab in enumerate(labels)}
    pairs = []
    for lineno, obj in _read_jsonl(path):
        g, p = obj.get("emotion"), obj.get("pred_emotion")
        if g is None or p is None:
            continue
        try:
            gi, pi = index.get(normalize_label(g, labels)), index.get(normalize_label(p, labels))
        except DataError as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        if gi is None or pi is None:
            bad = g if gi is None else p
            raise DataError(f"{path}:{lineno}: unknown emotion label {bad!r} (expected one of the 32 emotions)")
        pairs.append((gi, pi))
    if not pairs:
        return None
    import numpy as np

    k = len(labels)
    counts = np.zeros((k, k), dtype=float)
    for gi, pi in pairs:
        counts[gi, pi] += 1
    totals = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    acc = 100.0 * np.trace(counts) / len(pairs)

    fig = _figure(figsize=(11, 10), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(labels, rotation=90, fontsize=8)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("predicted emotion")
    ax.set_ylabel("gold emotion")
    system = _system_name(rd)
    prefix = f"{system}: " if system else ""
    ax.set_title(f"{prefix}emotion confusion (row-normalised), acc {acc:.2f}% on {len(pairs)} samples")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    out = rd / "confusion_matrix.png"
    fig.savefig(out)
    return out
