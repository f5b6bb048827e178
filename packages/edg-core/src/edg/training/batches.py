"""Which samples go into which batch: length buckets, a fixed order per (seed, epoch),
shards for DDP, and a start position for resuming mid-epoch.

Padding every batch to its longest sample wastes work on every matrix product. With
``bucketing`` on, an epoch's shuffled samples are cut into buckets of ``bucket_batches``
batches; each bucket is sorted by length and cut into batches, and the batches of the
whole epoch are shuffled again, so neighbours in a batch have similar lengths while the
order of batches stays random. Everything is a function of (seed, epoch), so a resumed
run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import math
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


def epoch_batches(lengths: Optional[Sequence[Sequence[int]]], size: int, batch_size: int, *, seed: int,
                  epoch: int, shuffle: bool = True, bucketing: bool = True,
                  bucket_batches: int = 200) -> list[list[int]]:
    """The batches (lists of sample indices) of one epoch.

    :param lengths: one sort key per sample, e.g. ``(target_tokens, context_tokens)``
        (compared lexicographically); ``None`` disables bucketing.
    """
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(size, generator=g).numpy() if shuffle else np.arange(size)
    if not (bucketing and lengths is not None):
        return [order[i:i + batch_size].tolist() for i in range(0, size, batch_size)]
    keys = np.asarray(lengths, dtype=np.int64).reshape(size, -1)
    bucket = batch_size * max(bucket_batches, 1)
    batches: list[list[int]] = []
    for start in range(0, size, bucket):
        chunk = order[start:start + bucket]
        # np.lexsort sorts by its last key first: reverse so the first column leads
        ranked = chunk[np.lexsort(keys[chunk].T[::-1])]
        batches += [ranked[i:i + batch_size].tolist() for i in range(0, len(ranked), batch_size)]
    if shuffle:
        perm = torch.randperm(len(batches), generator=g).tolist()
        batches = [batches[i] for i in perm]
    return batches


def shard(batches: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """This rank's batches; every rank gets the same number (the first batches repeat)."""
    if world == 1:
        return batches
    per_rank = math.ceil(len(batches) / world)
    padded = batches + batches[: per_rank * world - len(batches)]
    return padded[rank::world]


class EpochBatchSampler(Sampler[list[int]]):
    """Batch sampler for a ``DataLoader``: :func:`epoch_batches` sharded by rank, starting
    at batch ``start`` of the epoch (see :meth:`set_epoch`)."""

    def __init__(self, lengths: Optional[Sequence[Sequence[int]]], size: int, batch_size: int, *, seed: int,
                 shuffle: bool = True, bucketing: bool = True, bucket_batches: int = 200, rank: int = 0,
                 world: int = 1) -> None:
        self.lengths, self.size, self.batch_size = lengths, size, batch_size
        self.seed, self.shuffle, self.bucketing, self.bucket_batches = seed, shuffle, bucketing, bucket_batches
        self.rank, self.world = rank, world
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def batches(self) -> list[list[int]]:
        every = epoch_batches(self.lengths, self.size, self.batch_size, seed=self.seed, epoch=self.epoch,
                              shuffle=self.shuffle, bucketing=self.bucketing, bucket_batches=self.bucket_batches)
        return shard(every, self.rank, self.world)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches()[self.start:])

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.start

    def batches_per_epoch(self) -> int:
        return math.ceil(math.ceil(self.size / self.batch_size) / self.world)


def sorted_batches(lengths: Optional[Sequence[Sequence[int]]], size: int, batch_size: int) -> list[list[int]]:
    """Evaluation batches: samples sorted by length, longest first (the memory peak comes
    at once, not at the end); callers restore the original order of their outputs."""
    if lengths is None:
        return [list(range(i, min(i + batch_size, size))) for i in range(0, size, batch_size)]
    keys = np.asarray(lengths, dtype=np.int64).reshape(size, -1)
    order = np.lexsort(keys.T[::-1])[::-1]
    return [order[i:i + batch_size].tolist() for i in range(0, size, batch_size)]
