import subprocess
import sys

import pytest

from edg.errors import ResourceError


def test_plugin_module_is_lazy():
    code = ("import sys, edg_nec.plugin as p; "
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


def test_pretrained_path_with_local_directories(tmp_path, word_tokenizer, nec):
    """The non-tiny code path: BART and tokenizer loaded by path (as a user with downloaded
    models would), embeddings resized to the tokenizer, BART's decoder start convention."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    from edg.config import GenerationConfig
    from edg.tokenization import CORE_SPECIAL_TOKENS, load_pretrained

    directory = tmp_path / "bart"
    word_tokenizer.save_pretrained(str(directory))
    tok = word_tokenizer
    cfg = BartConfig(vocab_size=len(tok) - 2, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128,
                     pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                     decoder_start_token_id=tok.eos_token_id)
    BartForConditionalGeneration(cfg).save_pretrained(str(directory))
    overrides = [f"model.backbone={directory}", "model.backbone_config=null", "tokenizer.kind=pretrained",
                 f"tokenizer.name_or_path={directory}"]
    loaded = load_pretrained(str(directory), CORE_SPECIAL_TOKENS)
    system, model, splits = nec.build_tiny(loaded, overrides=overrides)
    assert model.bart.get_input_embeddings().num_embeddings == len(loaded)
    assert model.decoder.bos_id == tok.eos_token_id  # BART starts decoding from </s>
    batch = system.collate([splits["test"][i] for i in range(2)])
    assert batch["decoder_input_ids"][0, 0].item() == tok.eos_token_id
    model.eval()
    with torch.no_grad():
        cands = model.generate(batch, GenerationConfig(strategy="beam", beam_size=2, num_return=2, max_length=5),
                               system.build_reranker())
    assert len(cands) == 2 and all(c.hidden is not None for c in cands[0])
