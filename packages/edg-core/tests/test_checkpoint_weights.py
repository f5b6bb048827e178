"""Model weights in checkpoints: tied weights once, views into one buffer (cuDNN's
flattened RNN weights on a GPU) written as separate tensors, and older files (written by
safetensors' ``save_model``) still loading."""

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_model

from edg.errors import CheckpointError
from edg.training import checkpoint as ckpt


class FlatBuffer(torch.nn.Module):
    """Two parameters that are views into one buffer, as cuDNN leaves an LSTM's weights."""

    def __init__(self) -> None:
        super().__init__()
        buffer = torch.randn(12)
        self.a = torch.nn.Parameter(buffer[:6].view(2, 3))
        self.b = torch.nn.Parameter(buffer[6:])


class Tied(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(7, 4)
        self.out = torch.nn.Linear(4, 7, bias=False)
        self.out.weight = self.embed.weight
        self.empty = torch.nn.Parameter(torch.empty(0))
        self.other_empty = torch.nn.Parameter(torch.empty(0))


def _keys(file):
    with safe_open(str(file), framework="pt") as f:
        return sorted(f.keys())


def test_views_into_one_buffer_round_trip(tmp_path):
    model = FlatBuffer()
    assert model.a.untyped_storage().data_ptr() == model.b.untyped_storage().data_ptr()
    with pytest.raises(RuntimeError, match="None is covering the entire storage"):
        save_model(model, str(tmp_path / "refused.safetensors"))  # what the checkpoint used to call
    ckpt.save_weights(model, tmp_path / "w.safetensors")
    fresh = FlatBuffer()
    assert ckpt._load_into(fresh, tmp_path / "w.safetensors") == ([], [])
    assert torch.equal(fresh.a, model.a) and torch.equal(fresh.b, model.b)


def test_tied_weight_is_written_once_and_loads_into_both_names(tmp_path):
    model = Tied()
    ckpt.save_weights(model, tmp_path / "w.safetensors")
    assert _keys(tmp_path / "w.safetensors") == ["embed.weight", "empty", "other_empty"]
    fresh = Tied()
    assert ckpt._load_into(fresh, tmp_path / "w.safetensors") == ([], [])
    assert torch.equal(fresh.out.weight, model.embed.weight)
    assert fresh.out.weight is fresh.embed.weight


def test_file_of_safetensors_save_model_still_loads(tmp_path):
    model = Tied()
    save_model(model, str(tmp_path / "old.safetensors"))  # keeps one of the tied names, its choice
    fresh = Tied()
    assert ckpt._load_into(fresh, tmp_path / "old.safetensors") == ([], [])
    assert torch.equal(fresh.out.weight, model.out.weight)


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    directory = ckpt.save_checkpoint(tmp_path, 1, FlatBuffer(), {"step": 1})
    with pytest.raises(CheckpointError, match="missing and 2 unexpected tensors"):
        ckpt.load_weights(directory, Tied())


@pytest.mark.gpu
def test_cudnn_lstm_checkpoint_round_trip(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True).cuda()
    model.flatten_parameters()  # one buffer for every weight, which safetensors refused
    directory = ckpt.save_checkpoint(tmp_path, 3, model, {"step": 3})
    fresh = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True).cuda()
    ckpt.load_weights(directory, fresh)
    for (name, p), q in zip(model.named_parameters(), fresh.parameters()):
        assert torch.equal(p, q), name
    x = torch.randn(5, 3, 8, device="cuda")
    assert torch.equal(model(x)[0], fresh(x)[0])
