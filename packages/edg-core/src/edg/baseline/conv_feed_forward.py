"""The convolutional feed-forward of the MoEL-family code (MoEL, MIME, EmpDG, KEMP and CEM's
``PositionwiseFeedForward`` with ``layer_config='cc'``): two convolutions of kernel 3 over
the time axis, each followed by a ReLU. The authors' loop applies the ReLU after the last
convolution too (``if i < len(self.layers)`` is always true), so the block's output is
non-negative. Decoders pad on the left (causal), encoders on both sides.

:func:`conv_feed_forward` puts it into a core decoder layer in place of ``linear1`` /
``linear2`` (torch's layers compute ``linear2(dropout(activation(linear1(x))))``), and
:class:`ConvEncoderLayer` is the encoder layer with it. The encoder zeroes padded positions
before its convolutions, so that a sample's states do not depend on how much padding its
batch has (the authors' code lets the first padding position reach the last real token).
:func:`step_feed_forward` runs the block on one new position from the last ``kernel - 1``
inputs of each convolution, for incremental decoding. Decoder layers of their own (EmpDG's,
KEMP's) take the block as a module, :func:`decoder_feed_forward`, and run it with
:func:`run_feed_forward`, which returns the history alongside the output.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEED_FORWARDS = ("linear", "conv")
#: the previous inputs of the two convolutions of one layer, [N, kernel - 1, D] and [N, kernel - 1, F];
#: empty for a linear feed-forward, and before the first position
ConvHistory = tuple[Tensor, ...]


class TimeConv(nn.Module):
    """A ``Conv1d`` over the time axis of ``[N, T, C]`` inputs, padded with zeros on the left
    (``causal``) or on both sides, so that the output has the input's length."""

    def __init__(self, in_dim: int, out_dim: int, kernel: int, causal: bool) -> None:
        super().__init__()
        self.kernel, self.causal = kernel, causal
        self.conv = nn.Conv1d(in_dim, out_dim, kernel)

    def forward(self, x: Tensor) -> Tensor:
        left = self.kernel - 1 if self.causal else self.kernel // 2
        right = 0 if self.causal else (self.kernel - 1) // 2
        return self.conv(F.pad(x.transpose(1, 2), (left, right))).transpose(1, 2)

    def step(self, x: Tensor, history: Tensor) -> tuple[Tensor, Tensor]:
        """New positions ``x`` [N, T, C] (one, when decoding) after the ``kernel - 1`` previous
        inputs ``history`` (zeros before the first position): the output [N, T, C'] and the
        next history."""
        if not self.causal:
            raise ValueError("only a causal (left-padded) convolution can run position by position")
        window = torch.cat([history, x.to(history.dtype)], dim=1)
        return self.conv(window.transpose(1, 2)).transpose(1, 2), window[:, window.size(1) - history.size(1):]

    def empty_history(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.size(0), self.kernel - 1, self.conv.in_channels)


def check_feed_forward(feed_forward: str) -> None:
    if feed_forward not in FEED_FORWARDS:
        raise ValueError(f"feed_forward must be one of {', '.join(FEED_FORWARDS)} (got {feed_forward!r})")


def _install(layer: nn.Module, kernel: int, causal: bool) -> None:
    d_model, ffn_dim = layer.linear1.in_features, layer.linear1.out_features
    layer.linear1 = TimeConv(d_model, ffn_dim, kernel, causal)
    # the authors' ReLU after the second convolution
    layer.linear2 = nn.Sequential(TimeConv(ffn_dim, d_model, kernel, causal), nn.ReLU())


def conv_feed_forward(layer: nn.TransformerDecoderLayer, kernel: int = 3) -> nn.TransformerDecoderLayer:
    """``layer`` (a pre-norm core decoder layer) with the causal convolutional feed-forward."""
    _install(layer, kernel, causal=True)
    return layer


def is_conv(layer: nn.Module) -> bool:
    return isinstance(getattr(layer, "linear1", None), TimeConv)


def step_feed_forward(layer: nn.TransformerDecoderLayer, x: Tensor,
                      history: ConvHistory = ()) -> tuple[Tensor, ConvHistory]:
    """The feed-forward block of ``layer`` on the normalised states ``x`` [N, 1, D] of one new
    position (without the residual): its output and the convolutions' next history (empty for
    a linear feed-forward, which needs none)."""
    if not is_conv(layer):
        return layer.linear2(layer.dropout(layer.activation(layer.linear1(x)))), ()
    second = layer.linear2[0]  # linear2 is (TimeConv, ReLU); _conv_steps applies the ReLU
    return _conv_steps(layer.linear1, second, x, history, lambda h: layer.dropout(layer.activation(h)))


def _conv_steps(first: TimeConv, second: TimeConv, x: Tensor, history: ConvHistory,
                between) -> tuple[Tensor, ConvHistory]:
    """``relu(second(between(first(x))))`` on the positions ``x`` that follow ``history``
    (empty: none), and the convolutions' next history: the recurrence of both the core
    decoder layer's block and :class:`CausalConvFeedForward`."""
    if not history:
        history = (first.empty_history(x), second.empty_history(x))
    h, first_history = first.step(x, history[0])
    h, second_history = second.step(between(h), history[1])
    return F.relu(h), (first_history, second_history)


class ConvEncoderLayer(nn.TransformerEncoderLayer):
    """A pre-norm, batch-first core encoder layer with the convolutional feed-forward (padded
    on both sides); padded positions are zeros to the convolutions."""

    def __init__(self, d_model: int, heads: int, ffn_dim: int, dropout: float, kernel: int = 3) -> None:
        super().__init__(d_model, heads, ffn_dim, dropout, batch_first=True, norm_first=True)
        _install(self, kernel, causal=False)

    def forward(self, src: Tensor, src_mask: Optional[Tensor] = None, src_key_padding_mask: Optional[Tensor] = None,
                is_causal: bool = False) -> Tensor:
        x = src + self._sa_block(self.norm1(src), src_mask, src_key_padding_mask, is_causal=is_causal)
        if src_key_padding_mask is None:
            return x + self._ff_block(self.norm2(x))
        # nn.TransformerEncoder hands its layers a float mask (-inf at padding)
        padded = src_key_padding_mask if src_key_padding_mask.dtype == torch.bool else src_key_padding_mask < 0
        padded = padded[..., None]
        # zeros at the padding before each convolution, as past the end of an unpadded sequence
        h = self.dropout(self.activation(self.linear1(self.norm2(x).masked_fill(padded, 0.0))))
        return x + self.dropout2(self.linear2(h.masked_fill(padded, 0.0)))


class CausalConvFeedForward(nn.Module):
    """The decoders' convolutional feed-forward as a module of its own, for decoder layers not
    built on torch's (EmpDG's, KEMP's): ``relu(conv2(dropout(relu(conv1(x)))))``, causal."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float, kernel: int = 3) -> None:
        super().__init__()
        self.first = TimeConv(d_model, ffn_dim, kernel, causal=True)
        self.second = TimeConv(ffn_dim, d_model, kernel, causal=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, history: ConvHistory = ()) -> tuple[Tensor, ConvHistory]:
        """The block on the positions ``x`` [N, T, D] that follow ``history`` (empty: none):
        the output [N, T, D] and the next history."""
        return _conv_steps(self.first, self.second, x, history, lambda h: self.dropout(F.relu(h)))


def decoder_feed_forward(d_model: int, ffn_dim: int, dropout: float, feed_forward: str = "linear") -> nn.Module:
    """A decoder layer's feed-forward block: ``linear`` (Linear, ReLU, Dropout, Linear) or
    ``conv`` (:class:`CausalConvFeedForward`)."""
    check_feed_forward(feed_forward)
    if feed_forward == "conv":
        return CausalConvFeedForward(d_model, ffn_dim, dropout)
    return nn.Sequential(nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, d_model))


def run_feed_forward(block: nn.Module, x: Tensor, history: ConvHistory = ()) -> tuple[Tensor, ConvHistory]:
    """``block`` of :func:`decoder_feed_forward` on ``x`` [N, T, D] after ``history``: the
    output and the next history (empty for the linear block, which needs none)."""
    if isinstance(block, CausalConvFeedForward):
        return block(x, history)
    return block(x), ()
