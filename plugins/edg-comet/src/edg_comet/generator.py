"""The COMET-ATOMIC 2020 model: queries in, normalised tails out.

The model is a BART seq2seq fine-tuned on ATOMIC-2020 (Hwang et al., 2021), loaded with
``AutoModelForSeq2SeqLM``/``AutoTokenizer`` from a hub name or a local directory. A query
is ``"{head} {relation} [GEN]"`` and beam search returns ``num_return`` tails per query,
as in the release's ``generation_example.py`` (5 beams, 5 returned). Tails are
normalised: stripped, ``none`` and empty ones dropped, duplicates removed (order kept).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from pydantic import field_validator, model_validator

from edg.config import StrictModel
from edg.errors import ResourceError
from edg_comet.relations import GEN_TOKEN

#: A public Hugging Face copy of the AI2 release (used by kogito). The official weights are
#: the zip below; unpack it and set ``model_name_or_path`` to the directory.
DEFAULT_MODEL = "mismayil/comet-bart-ai2"
OFFICIAL_DOWNLOAD = "https://storage.googleapis.com/ai2-mosaic-public/projects/mosaic-kgs/comet-atomic_2020_BART.zip"


class CometOptions(StrictModel):
    """Model and decoding settings shared by the COMET knowledge sources."""

    model_name_or_path: str = DEFAULT_MODEL
    """Hub name or local directory of COMET-ATOMIC 2020 BART (offline: a local directory)."""
    num_beams: int = 5
    num_return: int = 5
    """Tails returned per query before normalisation (at most ``num_beams``)."""
    max_length: int = 24
    """Longest generated tail, in tokens."""
    max_input_length: int = 128
    """Queries are truncated to this many tokens (long contexts in NEC's entity prompt)."""
    batch_size: int = 32
    """Queries per ``generate`` call (and per cache commit)."""
    device: str = "auto"
    """``auto``: cuda if available, else cpu; or any torch device string."""

    @field_validator("num_beams", "num_return", "max_length", "max_input_length", "batch_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @model_validator(mode="after")
    def _return_at_most_beams(self) -> "CometOptions":
        if self.num_return > self.num_beams:
            raise ValueError(f"num_return ({self.num_return}) cannot exceed num_beams ({self.num_beams})")
        return self


def query(head: str, relation: str) -> str:
    """The COMET input for one (head, relation)."""
    return f"{head} {relation} {GEN_TOKEN}"


def encode_queries(tokenizer, queries: list[str], max_length: int):
    """Tokenized queries of at most ``max_length`` tokens, cut from the **left**: a long head
    (NEC's dialogue history) loses its oldest words, never the prompt, the entity, the
    relation or ``[GEN]`` at its end."""
    side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    try:
        return tokenizer(queries, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    finally:
        tokenizer.truncation_side = side


def normalise_tails(tails: Iterable[str]) -> list[str]:
    """Strip, drop ``none`` and empty tails, drop duplicates keeping the first."""
    out: list[str] = []
    seen: set[str] = set()
    for tail in tails:
        tail = " ".join(str(tail).split())
        if not tail or tail.lower() == "none" or tail in seen:
            continue
        seen.add(tail)
        out.append(tail)
    return out


def _weights_signature(model_name_or_path: str) -> Optional[str]:
    """For a local directory: a hash of its files' names, sizes and times, so retrained
    weights saved under the same path do not reuse old cached answers."""
    path = Path(model_name_or_path).expanduser()
    if not path.is_dir():
        return None
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        h.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


class CometGenerator:
    """Loads COMET lazily (on the first query) and answers batches of queries."""

    def __init__(self, options: CometOptions) -> None:
        self.options = options
        self.model: Any = None
        self.tokenizer: Any = None
        self.device: Any = None

    def fingerprint(self) -> dict[str, Any]:
        """Model identity and decoding settings (part of every cache key)."""
        o = self.options
        return {
            "model": o.model_name_or_path,
            "weights": _weights_signature(o.model_name_or_path),
            "num_beams": o.num_beams,
            "num_return": o.num_return,
            "max_length": o.max_length,
            "max_input_length": o.max_input_length,
            "truncation": "left",  # answers cached under right truncation are not reused
            "query": query("{head}", "{relation}"),
            "normalise": "strip,drop-none,dedupe",
        }

    def load(self) -> None:
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        name = self.options.model_name_or_path
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name)
            model = AutoModelForSeq2SeqLM.from_pretrained(name)
        except Exception as exc:  # hub offline, missing directory, wrong files...
            raise ResourceError(
                f"cannot load the COMET model '{name}' ({type(exc).__name__}); set the option "
                f"model_name_or_path to a local directory with COMET-ATOMIC 2020 BART "
                f"(official weights: {OFFICIAL_DOWNLOAD})"
            ) from None
        device = self.options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    def generate(self, pairs: Sequence[tuple[str, str]]) -> list[list[str]]:
        """Normalised tails for each ``(head, relation)``, in order, batched."""
        self.load()
        queries = [query(head, relation) for head, relation in pairs]
        out: list[list[str]] = []
        size = self.options.batch_size
        for start in range(0, len(queries), size):
            out.extend(self._generate_batch(queries[start : start + size]))
        return out

    def _generate_batch(self, queries: list[str]) -> list[list[str]]:
        import torch

        o = self.options
        batch = encode_queries(self.tokenizer, queries, o.max_input_length).to(self.device)
        batch.pop("token_type_ids", None)
        with torch.inference_mode():
            sequences = self.model.generate(
                **batch,
                num_beams=o.num_beams,
                num_return_sequences=o.num_return,
                max_length=o.max_length,
                early_stopping=True,
                do_sample=False,
            )
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        n = o.num_return
        return [normalise_tails(texts[i * n : (i + 1) * n]) for i in range(len(queries))]

    def close(self) -> None:
        """Free the model (and GPU memory); the next query reloads it."""
        self.model = None
        self.tokenizer = None
        if self.device is not None and self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

