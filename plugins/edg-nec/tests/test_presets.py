"""Each ablation preset is named after what it removes and removes exactly that."""

import pytest
import torch

from edg.config import deep_merge
from edg_nec.system import ABLATIONS, NecSystem


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _resolved(nec, preset=None):
    return nec.open_tiny(preset=preset).config.model_dump(mode="json") if preset else None


EXPECTED = {
    "wo-entity": {"model.entity.enabled": False},
    "wo-social": {"model.social.enabled": False},
    "wo-selfgen": {"model.negatives.self_generated": False},
    "wo-highfreq": {"model.negatives.high_frequency": False},
    "wo-diffemo": {"model.negatives.diff_emotion": False},
    "wo-frombatch": {"model.negatives.from_batch": False},
    "wo-all-negatives": {f"model.negatives.{k}": False
                         for k in ("diff_emotion", "self_generated", "from_batch", "high_frequency")},
}


def test_presets_exist():
    assert set(ABLATIONS) == set(EXPECTED)
    for name in [*EXPECTED, "tiny", *(f"tiny-{n}" for n in EXPECTED)]:
        assert name in NecSystem.presets


def test_no_preset_can_be_misread_as_the_papers_w_o_neg():
    # Table 2's "w/o Neg" removes the different-emotion negatives (= Table 4's w/o DiffEmo);
    # the old preset 'wo-neg' removed all four types: no preset may carry that ambiguous name
    assert not any("wo-neg" == name or name.endswith("-wo-neg") for name in NecSystem.presets)


def test_unknown_old_preset_name_is_a_one_line_error(nec):
    from edg.errors import ConfigError

    with pytest.raises(ConfigError, match="wo-neg"):
        nec.open_tiny(preset="tiny,wo-neg")


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_config_differs_only_in_its_switch(nec, preset):
    base = _flatten(nec.open_tiny(preset="tiny").config.model_dump(mode="json"))
    abl = _flatten(nec.open_tiny(preset=f"tiny-{preset}").config.model_dump(mode="json"))
    # the config records the preset's name; apart from that only the switch may differ
    assert (base.pop("preset"), abl.pop("preset")) == ("tiny", f"tiny-{preset}")
    diff = {k: abl[k] for k in abl if abl[k] != base.get(k)}
    assert diff == EXPECTED[preset]
    # the same on top of the full defaults
    full = _flatten(deep_merge(NecSystem.default_config(), {}))
    full_abl = _flatten(deep_merge(NecSystem.default_config(), ABLATIONS[preset]))
    assert {k: v for k, v in full_abl.items() if full.get(k) != v} == EXPECTED[preset]


NEGATIVE_OF = {"wo-selfgen": "self_generated", "wo-highfreq": "high_frequency", "wo-diffemo": "diff_emotion",
               "wo-frombatch": "from_batch"}


@pytest.mark.parametrize("preset", sorted(NEGATIVE_OF))
def test_negative_ablation_zeroes_only_its_type(nec, preset):
    base = nec.open_tiny(preset="tiny").system.contrastive_options()
    abl = nec.open_tiny(preset=f"tiny-{preset}").system.contrastive_options()
    changed = {k for k, v in abl.model_dump().items() if base.model_dump()[k] != v}
    assert changed == {NEGATIVE_OF[preset]}
    assert getattr(abl, NEGATIVE_OF[preset]) == 0


def test_wo_all_negatives_has_no_negatives(nec):
    opts = nec.open_tiny(preset="tiny-wo-all-negatives").system.contrastive_options()
    assert (opts.diff_emotion, opts.self_generated, opts.from_batch, opts.high_frequency) == (0, 0, 0, 0)


def test_wo_entity_input_and_sources(word_tokenizer, nec):
    system, model, splits = nec.build_tiny(word_tokenizer, preset="tiny-wo-entity")
    assert "comet.entity" not in system.knowledge_sources() and "comet.social" in system.knowledge_sources()
    assert "nec_entity" not in splits["train"].column_names
    batch = system.collate([splits["train"][0]])
    tok = system.tokenizer
    ids = batch["input_ids"][0].tolist()
    assert tok.sep_token_id not in ids  # history only
    full, _, fsplits = nec.build_tiny(word_tokenizer, preset="tiny")
    fids = full.collate([fsplits["train"][0]])["input_ids"][0].tolist()
    assert fids[: len(ids) - 1] == ids[:-1] and tok.sep_token_id in fids


def test_wo_social_sources_and_batch(word_tokenizer, nec):
    system, model, splits = nec.build_tiny(word_tokenizer, preset="tiny-wo-social")
    assert "comet.social" not in system.knowledge_sources() and "comet.entity" in system.knowledge_sources()
    batch = system.collate([splits["train"][0]])
    assert "social_ids" not in batch
    with torch.no_grad():
        model.eval()
        assert model(batch).encoder.extras == {}
