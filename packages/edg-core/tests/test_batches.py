"""Length-bucketed batches, tokenize-once encoding, CPU precision and threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edg.training.batches import EpochBatchSampler, epoch_batches, shard, sorted_batches


def _lengths(n: int, seed: int = 0) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    return list(zip(rng.integers(1, 60, n).tolist(), rng.integers(5, 250, n).tolist()))


def _padded_cost(batches, lengths) -> float:
    keys = np.asarray(lengths)
    return float(np.mean([keys[b].max(0).sum() * len(b) for b in batches]))


def test_epoch_batches_cover_every_sample_once_and_depend_only_on_seed_and_epoch():
    lengths = _lengths(1000)
    a = epoch_batches(lengths, 1000, 16, seed=3, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(1000))
    assert all(len(b) == 16 for b in a[:-1]) or sum(len(b) for b in a) == 1000
    assert a == epoch_batches(lengths, 1000, 16, seed=3, epoch=1)
    assert a != epoch_batches(lengths, 1000, 16, seed=3, epoch=2)
    assert a != epoch_batches(lengths, 1000, 16, seed=4, epoch=1)


def test_bucketing_cuts_padding_and_can_be_turned_off():
    lengths = [(t,) for t, _ in _lengths(4000)]
    bucketed = epoch_batches(lengths, 4000, 16, seed=0, epoch=0, bucket_batches=50)
    plain = epoch_batches(lengths, 4000, 16, seed=0, epoch=0, bucketing=False)
    ideal = float(np.asarray(lengths).sum(1).mean() * 16)
    assert _padded_cost(bucketed, lengths) < 1.1 * ideal < 1.5 * ideal < _padded_cost(plain, lengths)
    # off: consecutive slices of one permutation, as without lengths
    assert plain == epoch_batches(None, 4000, 16, seed=0, epoch=0)
    flat = [i for b in plain for i in b]
    assert flat == torch.randperm(4000, generator=torch.Generator().manual_seed(0 * 1_000_003)).tolist()


def test_shards_have_equal_length_and_cover_the_epoch():
    batches = epoch_batches(_lengths(103), 103, 8, seed=0, epoch=0)  # 13 batches
    shards = [shard(batches, r, 3) for r in range(3)]
    assert {len(s) for s in shards} == {5}
    seen = {tuple(b) for s in shards for b in s}
    assert seen == {tuple(b) for b in batches}


def test_sampler_resumes_mid_epoch_with_the_same_batches():
    lengths = _lengths(500)
    sampler = EpochBatchSampler(lengths, 500, 16, seed=7)
    sampler.set_epoch(2)
    whole = list(sampler)
    sampler.set_epoch(2, start=11)
    assert list(sampler) == whole[11:]
    assert len(sampler) == len(whole) - 11 == sampler.batches_per_epoch() - 11


def test_sorted_batches_are_longest_first_and_cover_all():
    lengths = _lengths(100)
    batches = sorted_batches(lengths, 100, 16)
    order = [i for b in batches for i in b]
    assert sorted(order) == list(range(100))
    keys = [tuple(lengths[i]) for i in order]
    assert keys == sorted(keys, reverse=True)
    assert sorted_batches(None, 5, 2) == [[0, 1], [2, 3], [4]]


def _session(tmp_path, monkeypatch, *overrides):
    from edg import pipeline
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = pipeline.open_session("transformer", None, [*TINY_TRANSFORMER, *overrides])
    splits = pipeline.load_data(session.config)
    pipeline.prepare_tokenizer(session, splits, tmp_path / "run")
    return session, splits


def test_encoded_collate_equals_tokenizing_collate_and_is_cached(tmp_path, monkeypatch):
    from edg.data.encoding import encode_splits, length_keys

    session, splits = _session(tmp_path, monkeypatch)
    system = session.system
    calls = []
    real_encode = type(system).encode

    def counting_encode(self, batch):
        calls.append(len(batch["target"]))
        return real_encode(self, batch)

    monkeypatch.setattr(type(system), "encode", counting_encode)
    cache = tmp_path / "cache"
    encoded = encode_splits(system, splits, cache_dir=cache, progress=False)
    assert sum(calls) == sum(len(ds) for ds in splits.values())
    rows = [encoded["train"][i] for i in range(5)]
    raw = [splits["train"][i] for i in range(5)]
    a, b = system.collate(rows), system.collate(raw)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    keys = length_keys(system, encoded["train"])
    assert keys[0] == (len(rows[0]["labels"]), len(rows[0]["input_ids"]))

    calls.clear()
    again = encode_splits(system, splits, cache_dir=cache, progress=False)
    assert calls == []  # read back from the cache
    assert again["train"][3]["input_ids"] == rows[3]["input_ids"]

    # another truncation length is another encoding
    system.config.tokenizer.max_context_tokens = 8
    shorter = encode_splits(system, splits, cache_dir=cache, progress=False)
    assert calls and max(len(r) for r in shorter["train"]["input_ids"]) == 8


def test_evaluation_outputs_keep_dataset_order(tmp_path, monkeypatch):
    from edg import pipeline
    from edg.evaluation import evaluate

    session, _ = _session(tmp_path, monkeypatch)
    splits, model = pipeline.build_everything(session, tmp_path / "run", progress=False)
    records, _ = evaluate(model, session.system, splits["test"], device=torch.device("cpu"), progress=False)
    assert [r["id"] for r in records] == splits["test"]["id"]
    lengths = [len(x) for x in splits["test"]["input_ids"]]
    assert lengths != sorted(lengths, reverse=True)  # evaluation really reordered batches


@pytest.mark.parametrize(("precision", "supported", "expected"), [
    ("fp32", True, None), ("auto", True, torch.bfloat16), ("auto", False, None),
    ("bf16", False, torch.bfloat16), ("fp16", True, None),
])
def test_cpu_autocast_follows_precision_and_hardware(monkeypatch, precision, supported, expected):
    from edg.training import loop

    monkeypatch.setattr(loop, "cpu_supports_bf16", lambda: supported)
    assert loop.autocast_dtype(precision, torch.device("cpu")) == expected


def test_cpu_threads_are_shared_among_local_processes(monkeypatch):
    from edg.training.loop import set_cpu_threads

    before = torch.get_num_threads()
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    try:
        assert set_cpu_threads(None, local_world=2) == 2 == torch.get_num_threads()
        assert set_cpu_threads(3) == 3
        assert set_cpu_threads(None, local_world=8) == 1
    finally:
        torch.set_num_threads(before)
