"""What MoEL and MIME share as systems: the context as ``[CLS] [SPK] u1 [LIS] u2 ...`` (both
read the emotion at [CLS]), tokenized once in :meth:`encode` and only padded in
:meth:`collate`, and the core's dialogue embedding (GloVe by path)."""

from __future__ import annotations

from typing import Any

from edg.baseline.collate import encode_dialogue, pad_dialogue
from edg.interfaces.system import System
from edg.tokenization import CLS


class ClsContextSystem(System):
    def encoding_fingerprint(self) -> dict[str, Any]:
        return {**super().encoding_fingerprint(), "cls": True}

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        tok = self.config.tokenizer
        out = encode_dialogue(batch, self.tokenizer, max_context_tokens=max(tok.max_context_tokens - 1, 1),
                              max_target_tokens=tok.max_target_tokens)
        cls = self.tokenizer.convert_tokens_to_ids(CLS)
        out["input_ids"] = [[cls, *ids] for ids in out["input_ids"]]
        out["role_ids"] = [[0, *roles] for roles in out["role_ids"]]
        return out

    #: raw sample columns :meth:`encode` reads
    encode_columns: tuple[str, ...] = ("context", "roles", "target")

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        if samples and "input_ids" not in samples[0]:  # raw samples (e.g. edg.pipeline.respond)
            columns = {k: [s.get(k) for s in samples] for k in self.encode_columns}
            encoded = self.encode(columns)
            samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
        return pad_dialogue(samples, self.tokenizer.pad_token_id)

    def build_embedding(self):
        from edg.api import build_dialogue_embedding

        o = self.options
        return build_dialogue_embedding(self.tokenizer, d_model=o.d_model, max_positions=o.max_positions,
                                        dropout=o.dropout, embeddings_path=o.embeddings_path)
