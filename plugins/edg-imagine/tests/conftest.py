"""Settings and fixtures shared by edg-imagine's tests: real ED, RECCON and EPITOME files
from ../shared/data (or $EDG_SHARED_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

#: small offline classifiers for the fit stage (real files, tiny encoders)
_SMALL_CLASSIFIER = {"model_name": None, "small_hidden": 32, "small_layers": 1, "small_heads": 2, "small_vocab": 3000,
                    "epochs": 1, "lr": 1e-3, "batch_size": 32, "max_tokens": 48, "max_train_examples": 400,
                    "max_eval_examples": 120, "device": "cpu"}


@pytest.fixture(scope="session")
def ed_path() -> Path:
    from edg.testing import require_shared

    return require_shared("empatheticdialogues/train.csv").parent


@pytest.fixture(scope="session")
def reccon_dir() -> Path:
    from edg.testing import require_shared

    return require_shared("reccon/dailydialog_train.json").parent


@pytest.fixture(scope="session")
def epitome_dir() -> Path:
    from edg.testing import require_shared

    return require_shared("epitome/explorations-reddit.csv").parent


@pytest.fixture(scope="session")
def data_overrides(ed_path, reccon_dir, epitome_dir) -> list[str]:
    """Config overrides pointing a run at the shared data (any working directory)."""
    return [f"data.path={ed_path}", f"model.cause_detector.reccon_dir={reccon_dir}",
            f"model.mechanism_classifier.epitome_dir={epitome_dir}"]


@pytest.fixture(scope="session")
def small_classifier() -> dict:
    return dict(_SMALL_CLASSIFIER)


@pytest.fixture(scope="session")
def small_classifier_overrides() -> list[str]:
    """The small classifiers for both fitted components, as config overrides."""
    return [f"model.{part}.classifier.{k}={'null' if v is None else v}"
            for part in ("cause_detector", "mechanism_classifier") for k, v in _SMALL_CLASSIFIER.items()]
