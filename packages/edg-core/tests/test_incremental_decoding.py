"""Incremental (stateful) decoding: the search over a decoder's state gives what the
stateless prefix-recomputing search gives, beams carry their own state when they swap
parents, and a decoder with only a teacher-forced ``forward`` still generates."""

import math

import pytest
import torch

from edg.baseline.transformer_decoder import TransformerDecoder, TransformerDecoderOptions
from edg.config import GenerationConfig
from edg.generation import search
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import DecoderOutput, EncoderOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding

PAD, BOS, EOS = 0, 1, 2


def tiny_transformer(vocab=40, d=16, seed=0, attention_dim=None, feed_forward="linear"):
    torch.manual_seed(seed)
    emb = DialogueEmbedding(vocab, d, PAD, dropout=0.0)
    dec = TransformerDecoder(TransformerDecoderOptions(layers=2, heads=2, ffn_dim=32, dropout=0.0,
                                                       attention_dim=attention_dim, feed_forward=feed_forward),
                             d_model=d, embedding=emb, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    # a larger output scale makes the untrained model's choices clear-cut (no near-ties)
    with torch.no_grad():
        emb.word.weight.mul_(4.0)
    return dec.eval()


def padded_memory(batch=3, length=6, d=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, length, dtype=torch.bool)
    for b in range(batch):
        mask[b, length - b :] = False  # different memory lengths: padding must be masked
    return EncoderOutput(torch.randn(batch, length, d, generator=g), mask)


def uncached(decoder, memory, cfg):
    cands = search(decoder.next_token, memory, cfg, bos_id=decoder.bos_id, eos_id=decoder.eos_id,
                   banned_ids=decoder.search_banned_ids())
    decoder.attach_hidden(cands, memory)
    return cands


def assert_same(cached, plain, atol=1e-4):
    assert [[c.token_ids for c in cands] for cands in cached] == [[c.token_ids for c in cands] for cands in plain]
    for a, b in zip(cached, plain):
        for ca, cb in zip(a, b):
            assert ca.logprob == pytest.approx(cb.logprob, abs=atol)
            assert ca.score == pytest.approx(cb.score, abs=atol)
            torch.testing.assert_close(ca.hidden, cb.hidden, atol=atol, rtol=1e-4)


# 6: narrow attention (NarrowMultiheadAttention); conv: the MoEL family's convolutional feed-forward
@pytest.mark.parametrize("attention_dim,feed_forward", [(None, "linear"), (6, "linear"), (6, "conv")])
def test_steps_reproduce_teacher_forcing(attention_dim, feed_forward):
    dec = tiny_transformer(attention_dim=attention_dim, feed_forward=feed_forward)
    mem = padded_memory()
    ids = torch.tensor([[BOS, 5, 6, 7, 8], [BOS, 9, 10, 11, 3], [BOS, 4, 4, 4, 4]])
    with torch.no_grad():
        full = dec(ids, mem)
        state = dec.start(mem)
        for t in range(ids.size(1)):
            log_probs, state = dec.step(ids[:, t], state)
            torch.testing.assert_close(log_probs, full.log_probs()[:, t], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(dec.last_hidden(state), full.hidden[:, t], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cfg", [
    dict(strategy="greedy", min_length=1),
    dict(strategy="greedy", min_length=12, no_repeat_ngram_size=2),
    dict(strategy="beam", beam_size=4, num_return=3, min_length=1),
    dict(strategy="beam", beam_size=3, num_return=3, min_length=12),  # every beam cut at max_length
    dict(strategy="sample", num_return=3, top_k=10, min_length=1),
    dict(strategy="sample", num_return=3, top_p=0.95, temperature=1.5, min_length=1),
], ids=["greedy", "greedy-ngram", "beam", "beam-max-length", "sample-top-k", "sample-top-p"])
@pytest.mark.parametrize("feed_forward", ["linear", "conv"])
def test_cached_search_equals_uncached(cfg, feed_forward):
    dec = tiny_transformer(feed_forward=feed_forward)
    mem = padded_memory()
    gen = GenerationConfig(max_length=12, **cfg)
    with torch.no_grad():
        torch.manual_seed(7)
        cached = dec.generate(mem, gen, return_hidden=True)  # hidden states recorded during the search
        torch.manual_seed(7)
        plain = uncached(dec, mem, gen)
    assert_same(cached, plain)
    expected = gen.num_return if gen.strategy != "greedy" else 1
    assert all(len(c) == expected for c in cached)
    if gen.strategy == "sample":
        assert len({tuple(c.token_ids) for cands in cached for c in cands}) > 1  # rows sample independently


def test_batched_search_equals_one_example_at_a_time():
    """Rows leave the state as their examples finish; the others must not notice."""
    dec = tiny_transformer(seed=3)
    mem = padded_memory(batch=4, seed=4)
    for cfg in (GenerationConfig(strategy="greedy", max_length=10),
                GenerationConfig(strategy="beam", beam_size=3, num_return=2, max_length=10)):
        with torch.no_grad():
            together = dec.generate(mem, cfg)
            alone = [dec.generate(mem.index_select(torch.tensor([b])), cfg)[0] for b in range(4)]
        assert [[c.token_ids for c in cands] for cands in together] == [[c.token_ids for c in cands] for cands in alone]


class HistoryDecoder(Decoder):
    """Next-token distribution of a hash of the whole history; the state keeps only the hash,
    so a row that continues another beam's history must get that beam's state."""

    def __init__(self, vocab=7):
        super().__init__(None)
        self.bos_id, self.eos_id, self.pad_id = BOS, EOS, PAD
        self.vocab = vocab
        self.reorders: list[list[int]] = []

    def table(self, code: torch.Tensor) -> torch.Tensor:
        g = [torch.Generator().manual_seed(int(c)) for c in code.tolist()]
        return torch.log_softmax(torch.stack([torch.randn(self.vocab, generator=x) * 2 for x in g]), -1)

    @staticmethod
    def extend(code, tokens):
        return (code * 31 + tokens) % 1_000_003

    def forward(self, input_ids, memory):
        code = torch.zeros(input_ids.size(0), dtype=torch.long)
        rows = []
        for t in range(input_ids.size(1)):
            code = self.extend(code, input_ids[:, t])
            rows.append(self.table(code))
        logp = torch.stack(rows, 1)
        return DecoderOutput(logp, torch.zeros(*input_ids.shape, 1), is_log_probs=True)

    def start(self, memory):
        return torch.zeros(memory.batch_size, dtype=torch.long)

    def step(self, tokens, state):
        state = self.extend(state, tokens)
        return self.table(state), state

    def reorder(self, state, index):
        self.reorders.append(index.tolist())
        return state.index_select(0, index)


def test_beams_that_swap_parents_keep_their_own_state():
    dec = HistoryDecoder()
    mem = EncoderOutput(torch.zeros(2, 1, 1), torch.ones(2, 1, dtype=torch.bool))
    cfg = GenerationConfig(strategy="beam", beam_size=3, num_return=3, max_length=8, length_penalty=1.0)
    cached = dec.generate(mem, cfg)
    plain = search(dec.next_token, mem, cfg, bos_id=BOS, eos_id=EOS, banned_ids=(PAD, BOS))
    assert [[c.token_ids for c in cands] for cands in cached] == [[c.token_ids for c in cands] for cands in plain]
    for a, b in zip(cached, plain):
        assert [c.logprob for c in a] == pytest.approx([c.logprob for c in b], abs=1e-5)
    # the case is meaningful: some reselection moved a beam onto another beam's history
    k = cfg.beam_size
    swaps = [idx for idx in dec.reorders[1:] if len(idx) % k == 0 and idx != sorted(idx)]
    assert swaps, dec.reorders


def test_state_ignoring_reorder_would_fail():
    """The same search with a decoder that forgets to reorder gives other (wrong) results:
    the parent swaps above are real."""

    class Forgetful(HistoryDecoder):
        def reorder(self, state, index):
            super().reorder(state, index)
            if state.size(0) == index.size(0):
                return state  # keeps row i's history for the new row i
            return state.index_select(0, index)

    mem = EncoderOutput(torch.zeros(2, 1, 1), torch.ones(2, 1, dtype=torch.bool))
    cfg = GenerationConfig(strategy="beam", beam_size=3, num_return=3, max_length=8, length_penalty=1.0)
    right = HistoryDecoder().generate(mem, cfg)
    wrong = Forgetful().generate(mem, cfg)
    assert [[c.logprob for c in cands] for cands in right] != [[c.logprob for c in cands] for cands in wrong]


class ForwardOnlyDecoder(Decoder):
    """A third-party decoder written against the old interface: teacher-forced forward only."""

    def __init__(self, inner: TransformerDecoder):
        super().__init__(None)
        self.inner = inner
        self.bos_id, self.eos_id, self.pad_id = inner.bos_id, inner.eos_id, inner.pad_id

    def forward(self, input_ids, memory):
        return self.inner(input_ids, memory)


def test_forward_only_decoder_still_generates():
    inner = tiny_transformer()
    dec = ForwardOnlyDecoder(inner).eval()
    mem = padded_memory()
    for cfg in (GenerationConfig(strategy="greedy", max_length=8),
                GenerationConfig(strategy="beam", beam_size=3, num_return=2, max_length=8)):
        with torch.no_grad():
            got = dec.generate(mem, cfg, return_hidden=True)  # hidden from the teacher-forced fallback
            want = inner.generate(mem, cfg, return_hidden=True)
        assert_same(got, want)


def test_greedy_scores_are_length_normalised():
    dec = tiny_transformer()
    cfg = GenerationConfig(strategy="greedy", max_length=5, min_length=5, length_penalty=1.0)
    with torch.no_grad():
        cands = dec.generate(padded_memory(), cfg)
    for (c,) in cands:
        assert len(c.token_ids) == 5  # cut at max_length: no EOS counted
        assert c.score == pytest.approx(c.logprob / 5, abs=1e-6)
        assert math.isfinite(c.logprob)


def _guide_gru_decoder():
    """The GRU decoder of docs/plugin-guide.md's Decoders section, as written there."""
    from pathlib import Path

    guide = Path(__file__).resolve().parents[3] / "docs" / "plugin-guide.md"
    blocks = guide.read_text().split("```python\n")[1:]
    code = next(b.split("```")[0] for b in blocks if "class GRUDecoder" in b)
    namespace: dict = {}
    exec(compile(code, str(guide), "exec"), namespace)
    return namespace["GRUDecoder"], namespace["GRUOptions"]


def test_the_plugin_guide_gru_decoder_generates_incrementally():
    gru_decoder, gru_options = _guide_gru_decoder()
    torch.manual_seed(0)
    dec = gru_decoder(gru_options(hidden=24), d_model=16, vocab_size=40, bos_id=BOS, eos_id=EOS, pad_id=PAD).eval()
    mem = padded_memory()
    for cfg in (GenerationConfig(strategy="greedy", max_length=8),
                GenerationConfig(strategy="beam", beam_size=3, num_return=3, max_length=8, min_length=8)):
        with torch.no_grad():
            assert_same(dec.generate(mem, cfg, return_hidden=True), uncached(dec, mem, cfg))
