"""Knowledge source ``imagine.causes``: the emotion causes C of §3.1.2 as a sample column.

The fit stage trains (or loads) the RECCON cause detector before knowledge annotation; the
IMAGINE system then configures this source with the detector's options and the directory of
its fitted result (``fitted_dir``, ``<cache>/fitted/<key>``). Each sample is one request
(its context, roles and emotion), answered with the 0-based indices the detector selects;
the column ``imagine_causes`` holds the cause utterances themselves, in context order, which
``comet.imagine`` reads with ``head: column`` (COMET's input sequence C, §3.2.2). The
knowledge cache keys the answers by the detector's fingerprint and fit key, so another
detector never reuses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import field_validator

from edg.config import StrictModel
from edg.errors import ConfigError, ResourceError
from edg.interfaces.knowledge import KnowledgeSource
from edg_imagine.cause_detector import CauseDetector, CauseDetectorOptions

SOURCE = "imagine.causes"
FIELD = "imagine_causes"


class CauseSourceOptions(StrictModel):
    detector: CauseDetectorOptions = CauseDetectorOptions()
    """The detector's options (the system copies ``model.cause_detector``)."""
    fitted_dir: Optional[str] = None
    """The fitted detector's directory; the IMAGINE system sets it after the fit stage."""
    batch_size: int = 256
    """Samples per detector call (and per cache commit)."""

    @field_validator("batch_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value


class CauseKnowledge(KnowledgeSource):
    Options = CauseSourceOptions

    def __init__(self, options: CauseSourceOptions) -> None:
        super().__init__(options)
        if options.fitted_dir is None:
            raise ConfigError(f"knowledge.\"{SOURCE}\".fitted_dir: the source reads the cause detector fitted by "
                              f"the imagine system's fit stage (run it with --plugin imagine)")
        directory = Path(options.fitted_dir)
        if not (directory / "COMPLETE").is_file():
            raise ResourceError(f"knowledge.\"{SOURCE}\".fitted_dir: no fitted cause detector in {directory}")
        self.directory = directory
        self.batch_size = options.batch_size
        self.detector: Optional[CauseDetector] = None

    def fingerprint(self) -> dict[str, Any]:
        detector = CauseDetector(self.options.detector)
        return {"detector": detector.fingerprint(), "fit_key": self.directory.name}

    def requests(self, sample: dict[str, Any]) -> list[Any]:
        return [{"context": list(sample["context"]), "roles": list(sample["roles"]), "emotion": sample["emotion"]}]

    def compute(self, requests: list[Any]) -> list[Any]:
        if self.detector is None:
            self.detector = CauseDetector(self.options.detector)
            self.detector.load(self.directory)
        return self.detector.causes([r["context"] for r in requests], [r["roles"] for r in requests],
                                    [r["emotion"] for r in requests])

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> list[str]:
        return [sample["context"][i] for i in answers[0]]

    def close(self) -> None:
        self.detector = None
