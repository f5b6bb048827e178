"""The baseline every EDG paper compares against, in one place: the Transformer and Multi-TRS
systems and their parts, each registered by name for other systems to reuse (see :mod:`edg.api`).

- ``transformer_system`` / ``multi_trs_system``: the systems (``transformer``, ``multi-trs``);
- ``dialogue_embedding``: word + position + dialogue-state embeddings (GloVe by path);
- ``seq2seq``: the encoder-decoder network (encoder, optional emotion module, any decoder);
- ``transformer_decoder`` and ``layer_step``: the incremental Transformer decoder;
- ``pooled_emotion_classifier``, ``nll_loss``, ``emotion_loss``: the emotion module and losses;
- ``collate``: tokenize-once encoding of a dialogue sample and pad-only batching.
"""
