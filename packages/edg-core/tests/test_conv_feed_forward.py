"""The MoEL family's convolutional feed-forward: the authors' formula, causality and padding
that does not reach real positions (step-by-step decoding: test_layer_step.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from edg.baseline.conv_feed_forward import (
    CausalConvFeedForward,
    ConvEncoderLayer,
    TimeConv,
    decoder_feed_forward,
    is_conv,
    run_feed_forward,
)
from edg.baseline.layer_step import decoder_layer, transformer_encoder


def _authors_ffn(x, first, second, causal):
    """relu(conv2(relu(conv1(x)))) with the authors' zero padding, written out."""
    pad = (2, 0) if causal else (1, 1)
    h = F.relu(F.conv1d(F.pad(x.transpose(1, 2), pad), first.conv.weight, first.conv.bias))
    return F.relu(F.conv1d(F.pad(h, pad), second.conv.weight, second.conv.bias)).transpose(1, 2)


@pytest.mark.parametrize("causal", [True, False])
def test_the_block_is_the_authors_two_convolutions_with_a_relu_after_each(causal):
    torch.manual_seed(0)
    if causal:
        layer = decoder_layer(8, 2, 5, 0.0, feed_forward="conv")
    else:
        layer = ConvEncoderLayer(8, 2, 5, 0.0)
    x = torch.randn(2, 7, 8)
    out = layer._ff_block(x)
    torch.testing.assert_close(out, _authors_ffn(x, layer.linear1, layer.linear2[0], causal))
    assert out.shape == x.shape and bool((out >= 0).all())
    # kernel 3: three times the weights of the linear block (2 x 8 x 5), plus the biases
    assert sum(p.numel() for p in [*layer.linear1.parameters(), *layer.linear2.parameters()]) == 3 * 2 * 8 * 5 + 5 + 8


def test_the_standalone_block_is_the_same_formula_and_runs_in_pieces():
    torch.manual_seed(0)
    block = decoder_feed_forward(8, 5, 0.0, "conv")
    assert isinstance(block, CausalConvFeedForward)
    x = torch.randn(2, 7, 8)
    full, history = run_feed_forward(block, x)
    torch.testing.assert_close(full, _authors_ffn(x, block.first, block.second, causal=True))
    # the history is each convolution's last kernel - 1 inputs
    torch.testing.assert_close(history[0], x[:, -2:])
    # positions one at a time, or a prefix then the rest, give the whole pass
    pieces, history = [], ()
    for t in range(7):
        out, history = run_feed_forward(block, x[:, t:t + 1], history)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, 1), full)
    head, history = block(x[:, :3])
    tail, _ = block(x[:, 3:], history)
    torch.testing.assert_close(torch.cat([head, tail], 1), full)
    # the linear block keeps torch's layout (Linear, ReLU, Dropout, Linear) and no history
    linear = decoder_feed_forward(8, 5, 0.0)
    out, history = run_feed_forward(linear, x)
    assert history == () and [type(m).__name__ for m in linear] == ["Linear", "ReLU", "Dropout", "Linear"]
    torch.testing.assert_close(out, linear[3](torch.relu(linear[0](x))))


def test_a_causal_convolution_does_not_see_later_positions():
    torch.manual_seed(0)
    conv = TimeConv(4, 3, 3, causal=True)
    x = torch.randn(1, 6, 4)
    later = x.clone()
    later[:, 4:] = torch.randn(1, 2, 4)
    torch.testing.assert_close(conv(x)[:, :4], conv(later)[:, :4])
    assert not torch.allclose(conv(x)[:, 4:], conv(later)[:, 4:])


def test_a_centred_convolution_cannot_run_step_by_step():
    conv = TimeConv(4, 3, 3, causal=False)
    with pytest.raises(ValueError, match="causal"):
        conv.step(torch.randn(1, 1, 4), conv.empty_history(torch.randn(1, 1, 4)))


@pytest.mark.parametrize("attention_dim", [None, 6])
def test_padding_does_not_reach_the_real_positions_of_the_encoder(attention_dim):
    torch.manual_seed(0)
    encoder = transformer_encoder(12, 2, 3, 10, 0.0, attention_dim=attention_dim, feed_forward="conv").eval()
    assert all(is_conv(layer) for layer in encoder.layers)
    x = torch.randn(1, 4, 12)
    padded = torch.cat([x, torch.randn(1, 3, 12)], 1)
    mask = torch.tensor([[False] * 4 + [True] * 3])
    with torch.no_grad():
        alone = encoder(x, src_key_padding_mask=torch.zeros(1, 4, dtype=torch.bool))
        in_batch = encoder(padded, src_key_padding_mask=mask)
    torch.testing.assert_close(in_batch[:, :4], alone, rtol=1e-5, atol=1e-6)


def test_an_unknown_feed_forward_is_refused():
    with pytest.raises(ValueError, match="feed_forward must be one of linear, conv"):
        decoder_layer(8, 2, 16, 0.0, feed_forward="gated")
    with pytest.raises(ValueError, match="feed_forward must be one of linear, conv"):
        transformer_encoder(8, 1, 2, 16, 0.0, feed_forward="gated")
    with pytest.raises(ValueError, match="feed_forward must be one of linear, conv"):
        decoder_feed_forward(8, 16, 0.0, "gated")
