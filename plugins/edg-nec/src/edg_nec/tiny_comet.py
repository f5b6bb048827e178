"""A tiny, randomly initialised COMET-shaped model for offline runs of the ``tiny`` preset.

The real COMET-ATOMIC 2020 weights cannot be downloaded here, so ``model.tiny_comet: true``
makes :meth:`NecSystem.knowledge_sources` point ``comet.entity`` and ``comet.social`` at a
BART seq2seq model built from a small config, with a word-level tokenizer that knows the
COMET relation tokens and ``[GEN]``. Its tails are random words from a fixed vocabulary
(not commonsense), but they have the exact format the real COMET gives, so the whole
pipeline (knowledge annotation, the entity scorer, social selection, the decoder's knowledge
attention) runs end to end on real dialogue data. It is built once (deterministically) under
``$EDG_CACHE/nec/tiny-comet-v1`` and reused, so its knowledge-cache fingerprint stays stable.
"""

from __future__ import annotations

import os
from pathlib import Path

VERSION = "v1"
RELATIONS = ("ObjectUse", "AtLocation", "MadeUpOf", "HasProperty", "xIntent", "xNeed", "xWant", "xEffect",
             "xReact", "[GEN]")
WORDS = """happy sad angry proud scared lonely excited tired nervous calm friend family dog cat house car
school work job money party trip beach park game movie music book phone food dinner gift wedding baby
mother father sister brother kid team boss test exam interview vacation weekend birthday rain snow
city store doctor hospital church garden kitchen room bed window door road bike train plane ticket
letter email picture song dance run walk talk help buy sell cook clean read write play win lose
to be have get make see go feel know want need find give take eat drink sleep relax celebrate cry
laugh smile worry hope wish love like enjoy miss remember forget learn study practice visit call
good bad new old big small long short hard easy fun nice great best worst warm cold fast slow
a an the of in on at for with and or but not very really too so more less""".split()


def cache_root() -> Path:
    root = os.environ.get("EDG_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "edg") / "nec"


def build_tiny_comet(directory: Path | None = None) -> Path:
    """Create (once) and return the directory of the tiny COMET model."""
    directory = directory or cache_root() / f"tiny-comet-{VERSION}"
    if (directory / "DONE").is_file():
        return directory
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    special = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(special + list(RELATIONS) + list(dict.fromkeys(WORDS)))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC()])
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                        eos_token="</s>", unk_token="<unk>")
    config = BartConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_position_embeddings=256, pad_token_id=0, bos_token_id=1,
                        eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=None,
                        forced_eos_token_id=None)
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config)
    tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / "DONE").write_text("tiny random COMET-shaped model for edg-nec tests\n")
    try:
        os.replace(tmp, directory)
    except OSError:  # built concurrently by another process: keep theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return directory
