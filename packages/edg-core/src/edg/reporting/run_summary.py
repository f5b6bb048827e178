"""One run directory as a report reads it: :func:`load_run` gives its :class:`RunSummary`
(system, seed, best step, test metrics and the provenance that decides comparability)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from edg.errors import CheckpointError


@dataclass
class RunSummary:
    """What a report needs from one run directory."""

    run_dir: Path
    system: str
    seed: int | None
    tokenizer_kind: str | None
    best_step: int | None
    test: dict[str, float] = field(default_factory=dict)
    #: the split the metrics come from: "test", or "valid" for a run evaluated on valid only
    split: str = "test"
    #: SHA-256 of the evaluated data and of the tokenizer (``None``: not recorded, older runs)
    data_fingerprint: str | None = None
    tokenizer_fingerprint: str | None = None
    #: decoding settings of the evaluation (``None``: not recorded)
    generation: dict | None = None
    #: what the bertscore figure was computed with (edg.metrics.bertscore.describe; ``None``: no bertscore or not recorded)
    bertscore: dict | None = None
    #: the run's presets other than ``tiny`` (config.yaml ``preset``), e.g. ``"wo-egm-ccl"``
    variant: str | None = None

    @property
    def label(self) -> str:
        """The system and its variant, as reports name the run: ``"ctsm wo-egm-ccl"``."""
        return f"{self.system} {self.variant}" if self.variant else self.system


def load_run(run_dir: str | Path) -> RunSummary:
    """Read ``RUN_DIR/summary.json`` (and ``config.yaml`` for the presets, and for the system name
    if the summary lacks it).

    The metrics are the summary's ``test`` object, or its ``valid`` object for a run evaluated on
    the validation split only (then ``split == "valid"`` and reports tag the row ``ours (valid)``).

    Raises :class:`~edg.errors.CheckpointError` (an :class:`~edg.errors.EdgError`) naming the run
    directory when ``summary.json`` is missing or malformed.
    """
    rd = Path(run_dir)
    path = rd / "summary.json"
    if not path.is_file():
        raise CheckpointError(f"run directory {rd}: no summary.json (has the run finished its test evaluation?)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"run directory {rd}: summary.json is not valid JSON ({exc})") from None
    if not isinstance(summary, dict):
        raise CheckpointError(f"run directory {rd}: summary.json must hold a JSON object")
    system = summary.get("system")
    variant = None
    cfg_path = rd / "config.yaml"
    if cfg_path.is_file():
        try:
            import yaml

            cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        except Exception as exc:  # noqa: BLE001 - any YAML error is a corrupt run directory
            raise CheckpointError(f"run directory {rd}: config.yaml cannot be read ({exc})") from None
        if isinstance(cfg, dict):
            system = system or cfg.get("system")
            preset = cfg.get("preset")
            if isinstance(preset, str):  # a size preset does not make a variant of the system
                parts = (p.removeprefix("tiny-") for p in preset.split(",") if p and p != "tiny")
                variant = ",".join(parts) or None
    if not system:
        raise CheckpointError(f"run directory {rd}: neither summary.json nor config.yaml names the system")
    split = "test"
    test = summary.get("test")
    if test is None and isinstance(summary.get("valid"), dict):
        split, test = "valid", summary["valid"]
    test = test or {}
    if not isinstance(test, dict):
        raise CheckpointError(f"run directory {rd}: summary.json '{split}' must be an object of metric values")
    metrics = {
        k: float(v) for k, v in test.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    seed = summary.get("seed")
    best = summary.get("best_step")
    data_fp, tok_fp, generation = _provenance(rd, summary, split)
    return RunSummary(
        run_dir=rd,
        system=str(system),
        seed=int(seed) if isinstance(seed, (int, float)) and not isinstance(seed, bool) else None,
        tokenizer_kind=summary.get("tokenizer_kind"),
        best_step=int(best) if isinstance(best, (int, float)) and not isinstance(best, bool) else None,
        test=metrics,
        split=split,
        data_fingerprint=data_fp,
        tokenizer_fingerprint=tok_fp,
        generation=generation,
        bertscore=_bertscore_settings(summary, split),
        variant=variant,
    )


def _bertscore_settings(summary: dict, split: str) -> dict | None:
    record = (summary.get("evaluations") or {}).get(split)
    settings = record.get("bertscore") if isinstance(record, dict) else None
    return settings if isinstance(settings, dict) else None


def _provenance(rd: Path, summary: dict, split: str) -> tuple[str | None, str | None, dict | None]:
    """Fingerprints and decoding settings of a run's own evaluation of ``split``: from its
    record in ``summary.json["evaluations"]``, else from ``fingerprints.json``."""
    record = (summary.get("evaluations") or {}).get(split)
    if isinstance(record, dict):
        fps = record.get("fingerprints") or {}
        generation = (record.get("settings") or {}).get("generation")
        return fps.get("data"), fps.get("tokenizer"), generation if isinstance(generation, dict) else None
    path = rd / "fingerprints.json"
    if path.is_file():
        try:
            fps = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"run directory {rd}: fingerprints.json is not valid JSON ({exc})") from None
        if isinstance(fps, dict):
            data = fps.get("data") if isinstance(fps.get("data"), dict) else {}
            return data.get(split), fps.get("tokenizer"), None
    return None, None, None
