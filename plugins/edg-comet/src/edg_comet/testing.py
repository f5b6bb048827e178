"""A tiny, randomly initialised COMET-shaped BART for tests and benchmarks.

The real COMET weights are large and need a download; this builds a model with the same
interface offline: a word-level tokenizer trained with ``tokenizers`` on the given texts,
knowing every ATOMIC-2020 relation token and ``[GEN]``, and a 1-layer BART from a config.
Its tails are random words, but generation, batching and caching run the real code paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from edg_comet.relations import COMET_RELATION_TOKENS, GEN_TOKEN

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"]


def build_tiny_comet(
    directory: str | Path,
    texts: Iterable[str],
    *,
    d_model: int = 32,
    vocab_size: int = 2000,
    seed: int = 0,
) -> Path:
    """Save a tiny BART + tokenizer under ``directory`` (loadable with ``from_pretrained``)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    # word-level tokenizer; relation tokens and [GEN] are atomic, as in COMET's tokenizer
    atomic = [*SPECIAL_TOKENS, GEN_TOKEN, *COMET_RELATION_TOKENS]
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        texts,
        trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=atomic),
    )
    bos, pad, eos = (tok.token_to_id(t) for t in ("<s>", "<pad>", "</s>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=[GEN_TOKEN],
    )
    tokenizer.save_pretrained(directory)

    config = BartConfig(
        vocab_size=tok.get_vocab_size(),
        d_model=d_model,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_position_embeddings=256,
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,  # as BART
        forced_eos_token_id=eos,
    )
    torch.manual_seed(seed)
    BartForConditionalGeneration(config).save_pretrained(directory)
    return directory
