"""MoEL's listener mixture on hand-made inputs: the meta listener's input is exactly
``V_shared + sum_i w_i V_i``; incremental decoding matches teacher forcing; cached and
uncached decoding give identical tokens."""

from __future__ import annotations

import pytest
import torch

from edg.config import GenerationConfig
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import EncoderOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg_baselines.listener_mixture_decoder import ListenerMixtureDecoder, ListenerMixtureOptions

VOCAB, D, LISTENERS = 23, 16, 4
PAD, BOS, EOS = 0, 1, 2


def _decoder(shared=True, cls=ListenerMixtureDecoder, attention_dim=None, feed_forward="linear") -> ListenerMixtureDecoder:
    torch.manual_seed(0)
    emb = DialogueEmbedding(VOCAB, D, PAD, max_len=64, dropout=0.0)
    opts = ListenerMixtureOptions(num_listeners=LISTENERS, heads=2, ffn_dim=32, dropout=0.0, shared_listener=shared,
                                  attention_dim=attention_dim, feed_forward=feed_forward)
    return cls(opts, d_model=D, embedding=emb, bos_id=BOS, eos_id=EOS, pad_id=PAD).eval()


def _memory(weights, persona=None) -> EncoderOutput:
    g = torch.Generator().manual_seed(1)
    b = weights.size(0)
    hidden = torch.randn(b, 5, D, generator=g)
    mask = torch.ones(b, 5, dtype=torch.bool)
    mask[0, 3:] = False  # a padded memory row
    extras = {"listener_weights": weights}
    if persona is not None:
        extras["persona"] = persona
    return EncoderOutput(hidden, mask, extras)


WEIGHTS = torch.tensor([[0.7, 0.0, 0.3, 0.0], [0.0, 0.0, 0.0, 1.0]])


def test_meta_listener_input_is_the_weighted_sum_of_listeners_plus_shared():
    dec = _decoder()
    memory = _memory(WEIGHTS)
    ids = torch.tensor([[BOS, 5, 6, 7], [BOS, 8, 9, PAD]])
    x = dec.embedding(ids)
    kw = dict(tgt_mask=torch.triu(torch.ones(4, 4, dtype=torch.bool), 1),
              tgt_key_padding_mask=ids.eq(PAD), memory_key_padding_mask=~memory.mask)
    outs = [layer(x, memory.hidden, **kw) for layer in dec.listeners]
    direct = dec.shared(x, memory.hidden, **kw) + sum(WEIGHTS[:, i, None, None] * outs[i] for i in range(LISTENERS))
    for layer in dec.meta:
        direct = layer(direct, memory.hidden, **kw)
    expected = dec.norm(direct)
    with torch.no_grad():
        got = dec.hidden_states(ids, memory)
    torch.testing.assert_close(got, expected)
    # listener 1 has weight 0 in every row: it is skipped and gets no gradient
    assert dec.active_listeners(WEIGHTS) == [0, 2, 3]
    dec.train()
    dec(ids, memory).logits.sum().backward()
    assert all(p.grad is None for p in dec.listeners[1].parameters())
    assert all(p.grad is not None for p in dec.listeners[2].parameters())


def test_without_shared_listener_only_the_weighted_listeners_feed_the_meta_listener():
    dec = _decoder(shared=False)
    assert dec.shared is None
    memory = _memory(torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]))
    ids = torch.tensor([[BOS, 5, 6], [BOS, 8, 9]])
    kw = dict(tgt_mask=torch.triu(torch.ones(3, 3, dtype=torch.bool), 1), memory_key_padding_mask=~memory.mask)
    with torch.no_grad():
        h = dec.listeners[1](dec.embedding(ids), memory.hidden, **kw)
        for layer in dec.meta:
            h = layer(h, memory.hidden, **kw)
        torch.testing.assert_close(dec.hidden_states(ids, memory), dec.norm(h))


@pytest.mark.parametrize("shared,attention_dim,feed_forward",
                         [(True, None, "linear"), (False, None, "linear"), (True, 6, "linear"), (True, 6, "conv")])
def test_incremental_steps_match_teacher_forcing(shared, attention_dim, feed_forward):
    dec = _decoder(shared=shared, attention_dim=attention_dim, feed_forward=feed_forward)
    persona = torch.randn(2, D)
    memory = _memory(WEIGHTS, persona)
    ids = torch.tensor([[BOS, 5, 6, 7, 3], [BOS, 8, 9, 10, 11]])
    with torch.no_grad():
        full = dec.hidden_states(ids, memory)
        logp = torch.log_softmax(dec(ids, memory).logits, -1)
        state = dec.start(memory)
        for t in range(ids.size(1)):
            step_logp, state = dec.step(ids[:, t], state)
            torch.testing.assert_close(dec.last_hidden(state), full[:, t], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(step_logp, logp[:, t], rtol=1e-4, atol=1e-5)
        # reordering (row 1 twice) continues the right rows
        state = dec.reorder(state, torch.tensor([1, 1]))
        nxt = torch.tensor([4, 12])
        step_logp, state = dec.step(nxt, state)
        ext = torch.cat([ids[[1, 1]], nxt[:, None]], 1)
        ref = torch.log_softmax(dec(ext, memory.index_select(torch.tensor([1, 1]))).logits, -1)[:, -1]
        torch.testing.assert_close(step_logp, ref, rtol=1e-4, atol=1e-5)


def test_persona_changes_the_decoder_input():
    dec = _decoder()
    ids = torch.tensor([[BOS, 5, 6], [BOS, 8, 9]])
    with torch.no_grad():
        a = dec.hidden_states(ids, _memory(WEIGHTS))
        b = dec.hidden_states(ids, _memory(WEIGHTS, torch.zeros(2, D)))
        # not a constant vector: pre-norm layers and the final norm cancel a uniform shift
        c = dec.hidden_states(ids, _memory(WEIGHTS, torch.randn(2, D)))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


class _Uncached(ListenerMixtureDecoder):
    """The same network with the default prefix-recomputing state."""

    start, step, reorder, last_hidden = Decoder.start, Decoder.step, Decoder.reorder, Decoder.last_hidden


@pytest.mark.parametrize("strategy,feed_forward", [("greedy", "linear"), ("beam", "linear"), ("beam", "conv")])
def test_cached_and_uncached_decoding_give_identical_tokens(strategy, feed_forward):
    cached = _decoder(feed_forward=feed_forward)
    uncached = _decoder(cls=_Uncached, feed_forward=feed_forward)
    uncached.load_state_dict(cached.state_dict())
    # a sharper output layer so that decoding does not stop at once
    with torch.no_grad():
        cached.output.weight.mul_(4)
        uncached.output.weight.copy_(cached.output.weight)
    weights = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.2, 0.0, 0.8], [0.1, 0.2, 0.3, 0.4]])
    memory = _memory(weights, torch.randn(3, D))
    config = GenerationConfig(strategy=strategy, beam_size=3, num_return=2 if strategy == "beam" else 1,
                              max_length=10)
    with torch.no_grad():
        a = cached.generate(memory, config)
        b = uncached.generate(memory, config)
    tokens_a = [[c.token_ids for c in cands] for cands in a]
    tokens_b = [[c.token_ids for c in cands] for cands in b]
    assert tokens_a == tokens_b
    assert any(len(t) > 1 for cands in tokens_a for t in cands)
