"""The per-layer incremental step reproduces a pre-norm decoder layer's teacher-forced output."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edg.baseline.layer_step import causal_mask, decoder_layer, memory_keys_values, step_layer


# conv: the MoEL family's convolutional feed-forward, whose cache also holds each convolution's last inputs
@pytest.mark.parametrize("attention_dim,feed_forward", [(None, "linear"), (6, "linear"), (None, "conv"), (6, "conv")])
def test_step_layer_matches_the_full_layer_position_by_position(attention_dim, feed_forward):
    torch.manual_seed(0)
    layer = decoder_layer(12, 3, 20, 0.0, attention_dim=attention_dim, feed_forward=feed_forward).eval()
    x, memory = torch.randn(2, 6, 12), torch.randn(2, 4, 12)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    with torch.no_grad():
        full = layer(x, memory, tgt_mask=causal_mask(6, x.device), memory_key_padding_mask=~mask)
        cross, past = memory_keys_values(layer, memory), None
        for t in range(6):
            out, past = step_layer(layer, x[:, t : t + 1], past, cross, mask[:, None, None, :])
            torch.testing.assert_close(out[:, 0], full[:, t], rtol=1e-4, atol=1e-5)
    assert past[0].shape == (2, 3, 6, (attention_dim or 12) // 3)
    if feed_forward == "conv":  # (k, v, the last two inputs of each convolution)
        assert len(past) == 4 and past[2].shape == (2, 2, 12) and past[3].shape == (2, 2, 20)
    else:
        assert len(past) == 2


def test_post_norm_layers_are_rejected():
    layer = nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True, norm_first=False)
    cross = memory_keys_values(layer, torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="pre-norm"):
        step_layer(layer, torch.randn(1, 1, 8), None, cross, torch.ones(1, 1, 1, 3, dtype=torch.bool))
