import subprocess
import sys

import pytest

from edg.errors import ResourceError


def test_plugin_module_is_lazy():
    code = ("import sys, edg_nec.plugin as p; assert p.REQUIRES == ('comet',); "
            "assert 'torch' not in sys.modules, 'plugin.py imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registered_names():
    from edg.plugins import PluginManager

    manager = PluginManager().load(["nec"])
    assert manager.registered_by("nec") == {"decoder": ["nec.bart"], "loss_term": ["nec.contrastive"],
                                            "reranker": ["nec.similarity"], "system": ["nec"]}
    assert "comet" in manager.loaded
    for kind, name in [("decoder", "nec.bart"), ("loss_term", "nec.contrastive"), ("reranker", "nec.similarity"),
                       ("system", "nec")]:
        manager.get(kind, name)  # resolves and checks the base class


def test_defaults_follow_section_4_2(nec):
    cfg = nec.open_tiny(preset=None).config
    assert cfg.tokenizer.name_or_path == "facebook/bart-base"
    assert cfg.train.optimizer == "adamw" and cfg.train.lr == 1e-5 and tuple(cfg.train.betas) == (0.9, 0.999)
    assert cfg.train.batch_size == 8 and cfg.eval.batch_size == 16 and cfg.eval.split == "test"
    assert cfg.generation.strategy == "beam" and cfg.generation.max_length == 30
    assert cfg.generation.reranker == "nec.similarity" and cfg.generation.reranker_options == {"alpha": 0.7}
    assert [l.name for l in cfg.losses] == ["nll", "nec.contrastive"]
    assert set(cfg.knowledge) == {"comet.entity", "comet.social"}
    opts = nec.open_tiny(preset=None).system.options
    assert opts.backbone == "facebook/bart-base" and opts.entity.scorer == "bert-base-uncased"
    assert opts.entity.top_m == 3 and opts.social.encoder == "sentence-transformers/all-mpnet-base-v2"
    cl = nec.open_tiny(preset=None).system.contrastive_options()
    assert cl.gamma == 0.01


def test_unreachable_pretrained_names_give_one_line_errors(tmp_path):
    from edg_nec.entity_scorer import EntityScorer
    from edg_nec.model import load_bart
    from edg_nec.social_selection import load_sentence_encoder

    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ResourceError, match="model.backbone") as e:
        load_bart(missing, None, None)
    assert "\n" not in str(e.value)
    with pytest.raises(ResourceError, match="model.entity.scorer"):
        EntityScorer.pretrained(missing)
    with pytest.raises(ResourceError, match="model.social.encoder"):
        load_sentence_encoder(missing, "cpu")
