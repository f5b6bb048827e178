"""Tokenizers: pretrained by name or path, or trained on the training split only.

Every tokenizer is a ``transformers.PreTrainedTokenizerFast`` with the core special
tokens (``[PAD] [UNK] [BOS] [EOS] [SEP] [CLS]`` and the dialogue-role tokens
``[SPK] [LIS]``) plus whatever the system asks for, and is saved with the run
(``RUN_DIR/tokenizer``) so evaluation and generation use exactly the training vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from edg.config import TokenizerConfig
from edg.errors import ResourceError

PAD, UNK, BOS, EOS, SEP, CLS = "[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]", "[CLS]"
SPEAKER, LISTENER = "[SPK]", "[LIS]"
CORE_SPECIAL_TOKENS = [PAD, UNK, BOS, EOS, SEP, CLS, SPEAKER, LISTENER]
ROLE_TOKENS = {"speaker": SPEAKER, "listener": LISTENER}


def build_tokenizer(config: TokenizerConfig, train_texts: Iterable[str], extra_special: list[str] = ()):
    """A tokenizer for ``config``; ``train_texts`` must come from the training split only."""
    from transformers import PreTrainedTokenizerFast

    special = CORE_SPECIAL_TOKENS + [t for t in extra_special if t not in CORE_SPECIAL_TOKENS]
    if config.kind == "pretrained":
        return load_pretrained(config.name_or_path, special)

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if config.lowercase else [])
    if config.kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        tok.normalizer = normalizers.Sequence(norm)
        # words and punctuation, as the NLTK-tokenised vocabularies of MoEL/CEM
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
        )
        trainer = trainers.WordLevelTrainer(
            vocab_size=config.vocab_size, min_frequency=config.min_frequency, special_tokens=special
        )
    else:  # byte-level BPE
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.normalizer = normalizers.Sequence(norm)
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=config.vocab_size,
            min_frequency=max(config.min_frequency, 2),
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    tok.train_from_iterator(train_texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        sep_token=SEP,
        cls_token=CLS,
        additional_special_tokens=[t for t in special if t not in (PAD, UNK, BOS, EOS, SEP, CLS)],
    )


def load_pretrained(name_or_path: str | None, special: list[str]):
    from transformers import AutoTokenizer

    if not name_or_path:
        raise ResourceError("tokenizer.kind is 'pretrained' but tokenizer.name_or_path is not set")
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path)
    except Exception as exc:
        raise ResourceError(
            f"cannot load tokenizer '{name_or_path}' ({type(exc).__name__}); when offline, set "
            f"tokenizer.name_or_path to a local directory holding the tokenizer files"
        ) from exc
    missing = [t for t in special if t not in tok.get_vocab()]
    if missing:
        tok.add_special_tokens({"additional_special_tokens": missing})
    return tok


def save_tokenizer(tokenizer, directory: str | Path) -> None:
    """Save into a temporary directory renamed into place: never a half-written tokenizer."""
    import os
    import shutil

    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer.save_pretrained(str(tmp))
    os.replace(tmp, directory)


def load_tokenizer(directory: str | Path):
    from transformers import PreTrainedTokenizerFast, AutoTokenizer

    directory = Path(directory)
    if not (directory / "tokenizer.json").is_file() and not (directory / "tokenizer_config.json").is_file():
        raise ResourceError(f"no tokenizer saved in {directory}")
    try:
        return AutoTokenizer.from_pretrained(str(directory))
    except Exception:
        return PreTrainedTokenizerFast.from_pretrained(str(directory))


def special_id(tokenizer, token: str) -> int:
    idx = tokenizer.convert_tokens_to_ids(token)
    if idx is None or idx == tokenizer.unk_token_id and token != tokenizer.unk_token:
        raise ResourceError(f"tokenizer has no special token {token}")
    return idx
