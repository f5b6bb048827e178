"""Each baseline stops as its authors' main.py does: validation perplexity every
``check_iter`` iterations, no comparison while ``n_iter`` is below a system's threshold, stop
at the third evaluation without improvement (``patient > 2``); the tiny presets count every
evaluation, so a 40-step smoke run still picks its best checkpoint."""

from __future__ import annotations

import pytest

AUTHORS = {  # system: (check_iter, the n_iter threshold)
    "moel": (2000, 13000),  # HLTCHKUST/MoEL main.py
    "mime": (1000, 10000),  # declare-lab/MIME main.py
    "cem": (2000, 12000),  # Sahandfer/CEM main.py
    "kemp": (2000, 13000),  # qtli/KEMP main.py
}


@pytest.mark.parametrize("system", sorted(AUTHORS))
def test_the_defaults_follow_the_authors_loop(system):
    from edg.plugins import load_for_system

    cls = load_for_system(system).get("system", system)
    train = cls.default_config()["train"]
    every, after = AUTHORS[system]
    assert (train["early_stopping_on"], train["eval_every"], train["early_stopping_after"], train["patience"]) == \
        ("token_nll", every, after, 3)
    assert cls.presets["tiny"]["train"]["early_stopping_after"] == 0
