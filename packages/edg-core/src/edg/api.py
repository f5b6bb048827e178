"""The public building blocks of edg's baseline, for plugins that extend or reuse it.

A plugin builds on these names (they stay stable across releases) instead of reaching
into core modules; what a plugin needs at run time from *another plugin* it still gets
by registered name (``System.component``).

- :class:`TransformerSystem`, :class:`TransformerOptions`, :class:`MultiTrsSystem`:
  subclass them to extend the baseline (override ``build_model``, ``encode``/``collate``,
  ``default_config``, ``presets``); their options are the ``model:`` config section.
- :func:`build_dialogue_embedding`, :class:`DialogueEmbedding`, :func:`load_glove`: word +
  position + dialogue-state embeddings, GloVe by path.
- :class:`TransformerSeq2Seq`: the baseline network (encoder, optional emotion module,
  any registered decoder).
- :func:`encode_dialogue`, :func:`pad_dialogue`, :func:`collate_dialogue`, :func:`pad`:
  the core's tokenize-once encoding of a dialogue sample (``[SPK] u1 [LIS] u2 ...`` with
  dialogue-state ids; ``[BOS] y`` / ``y [EOS]``) and pad-only collation. The batch keys
  are ``input_ids``, ``attention_mask``, ``role_ids``, ``decoder_input_ids``, ``labels``
  (padding -100) and ``emotion_id``.
- :mod:`edg.baseline.layer_step` (:func:`step_layer`, :func:`memory_keys_values`,
  :func:`split_heads`, :func:`merge_heads`, :func:`in_projection`): one pre-norm decoder
  layer fed one token at a time over a key/value cache, for incremental decoders.
- :data:`SPECIAL_TOKENS` and the role tokens: the vocabulary every tokenizer has.
"""

from edg.baseline.collate import collate_dialogue, encode_dialogue, pad, pad_dialogue
from edg.baseline.dialogue_embedding import DialogueEmbedding, load_glove
from edg.baseline.layer_step import in_projection, memory_keys_values, merge_heads, split_heads, step_layer
from edg.baseline.seq2seq import TransformerSeq2Seq
from edg.baseline.multi_trs_system import MultiTrsOptions, MultiTrsSystem
from edg.baseline.transformer_system import TINY as TINY_TRANSFORMER_PRESET
from edg.baseline.transformer_system import TransformerOptions, TransformerSystem, build_dialogue_embedding
from edg.tokenization import BOS, CLS, CORE_SPECIAL_TOKENS as SPECIAL_TOKENS, EOS, LISTENER, PAD, SEP, SPEAKER, UNK

__all__ = [
    "BOS", "CLS", "EOS", "LISTENER", "PAD", "SEP", "SPEAKER", "SPECIAL_TOKENS", "UNK",
    "DialogueEmbedding", "MultiTrsOptions", "MultiTrsSystem", "TINY_TRANSFORMER_PRESET", "TransformerOptions",
    "TransformerSeq2Seq", "TransformerSystem", "build_dialogue_embedding", "collate_dialogue", "encode_dialogue",
    "in_projection", "load_glove", "memory_keys_values", "merge_heads", "pad", "pad_dialogue", "split_heads",
    "step_layer",
]
