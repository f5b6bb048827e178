"""Attention projected to its own width (the MoEL family's ``--depth``): equal to torch's
bias-free multi-head attention at full width, masks honoured, smaller at a narrow width, and
usable inside torch's encoder and decoder layers in training and evaluation mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edg.baseline.layer_step import causal_mask, decoder_layer
from edg.baseline.narrow_attention import NarrowMultiheadAttention, narrow_layer


def test_at_full_width_it_equals_torch_multihead_attention_without_bias():
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(12, 3, bias=False, batch_first=True)
    narrow = NarrowMultiheadAttention(12, 3, 12)
    with torch.no_grad():
        narrow.in_proj_weight.copy_(reference.in_proj_weight)
        narrow.out_proj.weight.copy_(reference.out_proj.weight)
    x, memory = torch.randn(2, 5, 12), torch.randn(2, 4, 12)
    pad = torch.tensor([[False, False, True, True], [False, False, False, False]])
    torch.testing.assert_close(narrow(x, memory, memory, key_padding_mask=pad)[0],
                               reference(x, memory, memory, key_padding_mask=pad, need_weights=False)[0])
    causal = causal_mask(5, x.device)
    torch.testing.assert_close(narrow(x, x, x, attn_mask=causal)[0],
                               reference(x, x, x, attn_mask=causal, need_weights=False)[0])
    torch.testing.assert_close(narrow(x, x, x, is_causal=True)[0], narrow(x, x, x, attn_mask=causal)[0])


def test_masked_keys_do_not_change_the_output():
    torch.manual_seed(0)
    attn = NarrowMultiheadAttention(12, 2, 4)
    x, memory = torch.randn(1, 3, 12), torch.randn(1, 4, 12)
    pad = torch.tensor([[False, False, True, True]])
    changed = memory.clone()
    changed[:, 2:] = torch.randn(1, 2, 12)
    torch.testing.assert_close(attn(x, memory, memory, key_padding_mask=pad)[0],
                               attn(x, changed, changed, key_padding_mask=pad)[0])
    torch.testing.assert_close(attn(x, memory, memory, key_padding_mask=pad)[0],
                               attn(x, memory[:, :2], memory[:, :2])[0])


def test_a_narrow_layer_has_the_authors_parameter_count():
    wide, narrow = decoder_layer(300, 2, 50, 0.0), decoder_layer(300, 2, 50, 0.0, attention_dim=40)
    count = lambda m: sum(p.numel() for name, p in m.named_parameters() if "attn" in name)  # noqa: E731
    # two attention blocks, each q/k/v 300->40 and out 40->300, no biases (MoEL's --depth 40)
    assert count(narrow) == 2 * 4 * 300 * 40
    assert count(wide) == 2 * (4 * 300 * 300 + 4 * 300)
    with pytest.raises(ValueError, match="divisible"):
        NarrowMultiheadAttention(300, 2, 41)


def test_torch_layers_run_it_in_training_and_evaluation_mode():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(12, 2, 16, 0.0, batch_first=True, norm_first=True)
    encoder = nn.TransformerEncoder(narrow_layer(layer, 4), 2, enable_nested_tensor=False)
    x = torch.randn(2, 5, 12)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    train_out = encoder.train()(x, src_key_padding_mask=pad)
    with torch.no_grad():
        eval_out = encoder.eval()(x, src_key_padding_mask=pad)
    torch.testing.assert_close(train_out.detach(), eval_out)
    train_out.sum().backward()
    assert encoder.layers[0].self_attn.in_proj_weight.grad.abs().sum() > 0


def test_the_transformer_takes_the_width_for_encoder_and_decoder_and_keeps_torch_attention_by_default():
    from edg.baseline.dialogue_embedding import DialogueEmbedding
    from edg.baseline.seq2seq import TransformerSeq2Seq
    from edg.baseline.transformer_decoder import TransformerDecoder, TransformerDecoderOptions
    from edg.baseline.transformer_system import TransformerOptions

    assert TransformerOptions().attention_dim is None  # the converged runs' full-width attention

    def build(attention_dim):
        torch.manual_seed(0)
        emb = DialogueEmbedding(30, 12, 0, max_len=32, dropout=0.0)
        decoder = TransformerDecoder(TransformerDecoderOptions(layers=1, heads=2, ffn_dim=16, dropout=0.0,
                                                               attention_dim=attention_dim),
                                     d_model=12, embedding=emb, bos_id=1, eos_id=2, pad_id=0)
        return TransformerSeq2Seq(emb, d_model=12, layers=1, heads=2, ffn_dim=16, dropout=0.0, decoder=decoder,
                                  attention_dim=attention_dim)

    narrow, wide = build(4), build(None)
    blocks = [m for m in narrow.modules() if isinstance(m, NarrowMultiheadAttention)]
    assert len(blocks) == 3 and all(b.in_proj_weight.shape == (12, 12) for b in blocks)  # 3 x 4 rows
    assert not any(isinstance(m, NarrowMultiheadAttention) for m in wide.modules())
    batch = {"input_ids": torch.tensor([[3, 4, 5, 0]]), "attention_mask": torch.tensor([[True, True, True, False]]),
             "decoder_input_ids": torch.tensor([[1, 6, 7]])}
    assert narrow(batch).decoder.logits.shape == (1, 3, 30)
