"""Incremental decoding of ``ctsm.pointer_generator``: the cached state (self-attention
keys/values, the memory's cross-attention keys/values, the copy targets) gives what the
prefix-recomputing search gives, for greedy, beam search and sampling."""

import pytest
import torch

from edg.config import GenerationConfig
from edg.generation import search
from edg.interfaces.types import EncoderOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg_ctsm.pointer_generator_decoder import PointerGeneratorDecoder, PointerGeneratorOptions

PAD, BOS, EOS = 0, 2, 3
VOCAB, D = 30, 16


class RecordingDecoder(PointerGeneratorDecoder):
    """Records the reorder indices the search passes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reorders = []

    def reorder(self, state, index):
        self.reorders.append(index.tolist())
        return super().reorder(state, index)


def decoder(pointer=True, layers=2, seed=0):
    torch.manual_seed(seed)
    emb = DialogueEmbedding(VOCAB, D, PAD, dropout=0.0)
    dec = RecordingDecoder(PointerGeneratorOptions(layers=layers, heads=2, ffn_dim=32, dropout=0.0, pointer=pointer),
                           d_model=D, embedding=emb, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    with torch.no_grad():
        emb.word.weight.mul_(4.0)  # clear-cut choices for the untrained model
    return dec.eval()


def memory(batch=3, length=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, length, dtype=torch.bool)
    for b in range(batch):
        mask[b, length - b :] = False
    source = torch.randint(4, VOCAB, (batch, length), generator=g).masked_fill(~mask, PAD)
    return EncoderOutput(torch.randn(batch, length, D, generator=g), mask, {"input_ids": source})


@pytest.mark.parametrize("pointer", [True, False])
def test_steps_reproduce_teacher_forcing(pointer):
    dec = decoder(pointer)
    mem = memory()
    ids = torch.tensor([[BOS, 5, 6, 7], [BOS, 9, 9, 4], [BOS, 11, 12, 13]])
    with torch.no_grad():
        full = dec(ids, mem)
        state = dec.start(mem)
        for t in range(ids.size(1)):
            log_probs, state = dec.step(ids[:, t], state)
            torch.testing.assert_close(log_probs, full.logits[:, t], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(dec.last_hidden(state), full.hidden[:, t], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cfg", [
    dict(strategy="greedy"),
    dict(strategy="beam", beam_size=4, num_return=3),
    dict(strategy="beam", beam_size=3, num_return=2, min_length=10),  # all cut at max_length
    dict(strategy="sample", num_return=3, top_k=8),
], ids=["greedy", "beam", "beam-max-length", "sample"])
def test_cached_search_equals_uncached(cfg):
    dec = decoder()
    mem = memory()
    gen = GenerationConfig(max_length=10, **{"min_length": 1, **cfg})
    with torch.no_grad():
        torch.manual_seed(5)
        cached = dec.generate(mem, gen, return_hidden=True)
        torch.manual_seed(5)
        plain = search(dec.next_token, mem, gen, bos_id=BOS, eos_id=EOS, banned_ids=dec.search_banned_ids())
        dec.attach_hidden(plain, mem)
    assert [[c.token_ids for c in cands] for cands in cached] == [[c.token_ids for c in cands] for cands in plain]
    for a, b in zip(cached, plain):
        for ca, cb in zip(a, b):
            assert ca.logprob == pytest.approx(cb.logprob, abs=1e-4)
            torch.testing.assert_close(ca.hidden, cb.hidden, atol=1e-4, rtol=1e-4)
    if gen.strategy == "beam":
        # beams took over other beams' histories, so the reordering was exercised
        k = gen.beam_size
        assert any(idx != sorted(idx) for idx in dec.reorders if len(idx) % k == 0)


def test_copy_targets_follow_their_rows():
    """Decoding a batch equals decoding each example alone: when rows leave the search, the
    source ids (copy targets) and memory keys/values move with them."""
    dec = decoder(seed=2)
    mem = memory(batch=4, seed=3)
    cfg = GenerationConfig(strategy="beam", beam_size=3, num_return=2, max_length=10)
    with torch.no_grad():
        together = dec.generate(mem, cfg)
        alone = [dec.generate(mem.index_select(torch.tensor([b])), cfg)[0] for b in range(4)]
    assert [[c.token_ids for c in cands] for cands in together] == [[c.token_ids for c in cands] for cands in alone]
