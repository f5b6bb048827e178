"""The decoder of eq. 15-23 against a direct computation: attention with coverage, the
emotion gate, the pointer mixture (a distribution; copying puts mass on source words), and
stateful decoding equal to teacher forcing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edg.interfaces.types import EncoderOutput
from edg_ethreed.pointer_generator_decoder import CoveragePointerGeneratorDecoder, PointerGeneratorOptions

V, DW, DS, DM, DE = 20, 6, 5, 8, 4
PAD, BOS, EOS = 0, 1, 2


def _decoder(**options) -> CoveragePointerGeneratorDecoder:
    torch.manual_seed(0)
    emb = nn.Embedding(V, DW, padding_idx=PAD)
    dec = CoveragePointerGeneratorDecoder(PointerGeneratorOptions(**options), d_model=DS, memory_dim=DM,
                                          emotion_dim=DE, embedding=emb, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    with torch.no_grad():  # non-zero coverage weight and biases, so that each term matters
        dec.coverage_weight.fill_(0.7)
        dec.attention_bias.fill_(0.1)
        dec.emotion_bias.fill_(-0.2)
    return dec.eval()


def _memory(n: int = 2) -> EncoderOutput:
    torch.manual_seed(1)
    source = torch.tensor([[5, 6, 7, 0], [8, 8, 9, 10]])[:n]
    return EncoderOutput(torch.randn(n, 4, DM), source.ne(PAD),
                         {"init": torch.randn(n, DS), "emotion": torch.randn(n, DE), "source_ids": source})


def _direct(dec, memory, tokens):
    """Eq. 15-23 written out step by step for one row."""
    x = memory.extras
    s, cover = x["init"][0], torch.zeros(4)
    h, mask, src, emo = memory.hidden[0], memory.mask[0], x["source_ids"][0], x["emotion"][0]
    W_con = dec.attention_key.weight  # [DS, DM]
    out, covers, gammas = [], [], []
    for tok in tokens:
        score = torch.stack([torch.tanh(s @ W_con @ h[j] + dec.coverage_weight * cover[j] + dec.attention_bias)
                             for j in range(4)])
        gamma = torch.softmax(score.masked_fill(~mask, float("-inf")), 0)  # eq. 17-18
        context = (gamma[:, None] * h).sum(0)  # eq. 16
        s = dec.gru(dec.embedding.weight[tok][None], s[None])[0]  # eq. 15
        emo_j = torch.tanh(s @ dec.emotion_gate.weight @ emo + dec.emotion_bias) * emo  # eq. 20
        f = torch.cat([s, context, emo_j])
        p_vocab = torch.softmax(dec.embedding.weight @ dec.vocab_projection(f) + dec.output_bias, 0)  # eq. 22
        p_gen = torch.sigmoid(dec.generation_switch(f))  # eq. 23
        copy = torch.zeros(V)
        for j in range(4):
            copy[src[j]] += gamma[j]
        out.append(p_gen * p_vocab + (1 - p_gen) * copy)  # eq. 21
        covers.append(cover)
        gammas.append(gamma)
        cover = cover + gamma  # eq. 19
    return torch.stack(out), torch.stack(covers), torch.stack(gammas)


def test_teacher_forcing_matches_the_equations():
    dec, memory = _decoder(), _memory()
    tokens = torch.tensor([[BOS, 5, 11, 7], [BOS, 3, 4, 9]])
    with torch.no_grad():
        out = dec(tokens, memory)
        probs, covers, gammas = _direct(dec, memory, tokens[0].tolist())
    torch.testing.assert_close(out.logits[0].exp(), probs, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.extras["coverage"][0], covers)
    torch.testing.assert_close(out.extras["attention"][0], gammas)
    assert out.is_log_probs
    torch.testing.assert_close(out.logits.exp().sum(-1), torch.ones(2, 4))  # a distribution
    assert float(out.extras["attention"][0, :, 3].abs().max()) == 0.0  # padding never attended
    # coverage is the running sum of earlier attention
    torch.testing.assert_close(out.extras["coverage"][:, 1:], out.extras["attention"].cumsum(1)[:, :-1])


def test_copying_puts_mass_on_the_source_words():
    dec, memory = _decoder(), _memory()
    with torch.no_grad():
        dec.generation_switch.bias.fill_(-30.0)  # p_gen -> 0: pure copying
        copy_only = dec(torch.tensor([[BOS, 5], [BOS, 8]]), memory).logits.exp()
        dec.generation_switch.bias.fill_(30.0)  # p_gen -> 1: pure generation
        generate_only = dec(torch.tensor([[BOS, 5], [BOS, 8]]), memory).logits.exp()
    for row, source in enumerate([[5, 6, 7], [8, 9, 10]]):
        assert float(copy_only[row, :, source].sum(-1).min()) > 0.999
        assert float(generate_only[row, :, source].sum(-1).max()) < 0.9
    # a word twice in the source collects both attention weights: row 1 copies 8 from j = 0, 1
    gamma = dec(torch.tensor([[BOS, 5], [BOS, 8]]), memory).extras["attention"]
    with torch.no_grad():
        torch.testing.assert_close(copy_only[1, :, 8], gamma[1, :, 0] + gamma[1, :, 1], atol=1e-5, rtol=1e-4)


def test_without_copy_the_output_is_p_vocab():
    dec, memory = _decoder(use_copy=False), _memory()
    with torch.no_grad():
        dec.generation_switch.bias.fill_(-30.0)  # ignored without the mixture
        out = dec(torch.tensor([[BOS, 5], [BOS, 8]]), memory).logits.exp()
    assert float(out[0, :, [5, 6, 7]].sum(-1).max()) < 0.9


def test_stateful_steps_equal_teacher_forcing():
    dec, memory = _decoder(), _memory()
    tokens = torch.tensor([[BOS, 5, 11, 7, 3], [BOS, 3, 4, 9, 9]])
    with torch.no_grad():
        forced = dec(tokens, memory)
        state = dec.start(memory)
        steps = []
        for i in range(tokens.size(1)):
            lp, state = dec.step(tokens[:, i], state)
            steps.append(lp)
            torch.testing.assert_close(dec.last_hidden(state), forced.hidden[:, i])
    torch.testing.assert_close(torch.stack(steps, 1), forced.logits)


def test_reorder_continues_the_selected_rows():
    dec, memory = _decoder(), _memory()
    with torch.no_grad():
        state = dec.start(memory)
        _, state = dec.step(torch.tensor([BOS, BOS]), state)
        swapped = dec.reorder(state, torch.tensor([1, 1, 0]))
        lp_swapped, _ = dec.step(torch.tensor([8, 8, 5]), swapped)
        lp, _ = dec.step(torch.tensor([5, 8]), state)
    torch.testing.assert_close(lp_swapped[0], lp[1])
    torch.testing.assert_close(lp_swapped[2], lp[0])


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_generate_runs_on_the_state(strategy):
    from edg.config import GenerationConfig

    dec, memory = _decoder(), _memory()
    with torch.no_grad():
        cands = dec.generate(memory, GenerationConfig(strategy=strategy, beam_size=3, max_length=5))
    assert len(cands) == 2 and all(len(c[0].token_ids) <= 5 for c in cands)
