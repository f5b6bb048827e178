"""Training throughput of a system at its paper's size on the full EmpatheticDialogues
training split: epoch time, model FLOP/s over the bf16 matrix-product peak measured in
the same process (MFU), and peak resident memory.

edg's own loop (``edg.training.loop.train``) runs ``--steps`` optimisation steps (default:
one whole epoch) with the system's default recipe; validation is cut to 32 samples so the
figure is the training time. FLOPs are counted with ``torch.utils.flop_counter`` on a
forward+backward of ``--flop-sample`` batches of the same epoch and scaled to all steps.
With ``--steps`` below an epoch, the epoch time is extrapolated from the measured steps
(the batches of a bucketed epoch come in random order, so any stretch is representative).

    uv run python benchmarks/bench_epoch.py --data ../shared/data/empatheticdialogues
    uv run python benchmarks/bench_epoch.py --data ../shared/data/empatheticdialogues --system multi-trs --steps 300
    uv run python benchmarks/bench_epoch.py --data ../shared/data/empatheticdialogues --set train.bucketing=false --set train.precision=fp32 --steps 100

Under ``torchrun`` the epoch is shared by the processes (DDP over gloo on a CPU); keep the
papers' batch of 16 by giving each of N processes ``16/N`` samples and one thread:

    uv run torchrun --standalone --nproc_per_node 2 benchmarks/bench_epoch.py --data ../shared/data/empatheticdialogues --set train.batch_size=8 --set train.threads=1 --tag ddp2

FLOPs and the matrix-product peak are then summed over the processes (each measures its
own peak while the others do the same, so the peak includes their contention). Measured on
the 2-core CPU (``epoch_transformer_ddp2.json`` against ``epoch_transformer_steps400.json``,
run one after the other on the same busy machine): two processes of batch 8 take 326 ms per
step of 16 samples, one process of batch 16 takes 232 ms, so DDP does not pay on this CPU.

On a GPU (``train.device`` auto picks it) the loop trains there with bf16 autocast and the
peak is an 8192² bf16 product on the same GPU:

    python benchmarks/bench_epoch.py --data ../shared/data/empatheticdialogues --tag h200

Figures go to ``benchmarks/results/epoch_<system>[_<tag>].json``. Target (Transformer,
2-core CPU): an epoch in <= 5 minutes.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _common import write_result

TARGET_EPOCH_S = 300.0


def matmul_peak(dtype: torch.dtype, device: torch.device, seconds: float = 3.0) -> float:
    """Achieved FLOP/s of a large square matrix product on ``device`` (the practical peak):
    2048² on a CPU, 8192² on a GPU, where smaller products do not fill the chip."""
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(3):
        a @ b
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
        if device.type == "cuda" and count % 10 == 0:
            sync()  # launches are asynchronous: time what ran, not what was queued
    sync()
    return 2 * n**3 * count / (time.perf_counter() - start)


def flops_per_step(model, system, losses, dataset, batches, amp_dtype) -> float:
    from torch.utils.data import DataLoader
    from torch.utils.flop_counter import FlopCounterMode

    from edg.training.loop import total_loss

    model.train()
    counts = []
    for batch in DataLoader(dataset, batch_sampler=batches, collate_fn=system.collate):
        with FlopCounterMode(display=False) as counter:
            with torch.autocast("cpu", dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                loss, _ = total_loss(losses, batch, model(batch), model)
            loss.backward()
        model.zero_grad(set_to_none=True)
        counts.append(counter.get_total_flops())
    return statistics.mean(counts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="EmpatheticDialogues directory")
    parser.add_argument("--system", default="transformer")
    parser.add_argument("--preset", default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps to time (default: one epoch)")
    parser.add_argument("--flop-sample", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], help="extra config override key=value")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()

    import os

    import torch.distributed as dist

    from edg import pipeline
    from edg.data.encoding import length_keys
    from edg.training.batches import EpochBatchSampler
    from edg.training.loop import autocast_dtype, select_device, set_cpu_threads, train

    overrides = [f"data.path={args.data}", "data.max_test=1", "train.progress=true", "train.log_every=100",
                 "train.patience=null", *args.set]
    session = pipeline.open_session(args.system, None, overrides, preset=args.preset)
    tmp = Path(tempfile.mkdtemp(prefix="edg-bench-epoch-"))
    started = time.perf_counter()
    splits, model = pipeline.build_everything(session, tmp, progress=True)
    setup_s = time.perf_counter() - started
    splits["valid"] = splits["valid"].select(range(min(32, len(splits["valid"]))))
    cfg = session.config.train
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    threads = set_cpu_threads(cfg.threads, world)
    sampler = EpochBatchSampler(length_keys(session.system, splits["train"]), len(splits["train"]), cfg.batch_size,
                                seed=cfg.seed, bucketing=cfg.bucketing, bucket_batches=cfg.bucket_batches,
                                rank=rank, world=world)
    steps_per_epoch = sampler.batches_per_epoch() // cfg.grad_accum
    steps = args.steps or steps_per_epoch
    session.config.train.max_steps = steps
    session.config.train.eval_every = steps

    device = select_device(cfg.device)
    amp = autocast_dtype(cfg.precision, device)
    losses = session.system.build_losses()
    flop_batches = sampler.batches()[: args.flop_sample]
    # counted on the CPU before training: the count does not depend on the device or dtype
    step_flops = flops_per_step(model, session.system, losses, splits["train"], flop_batches,
                                autocast_dtype(cfg.precision, torch.device("cpu"))) * cfg.grad_accum
    if world > 1:
        dist.barrier()  # every process measures its peak at the same time
    peak = matmul_peak(amp or torch.float32, device) * world

    start = time.perf_counter()
    state = train(model, session.system, losses, splits, session.config, tmp / "run")
    elapsed = time.perf_counter() - start
    assert state.step == steps, state.step
    per_step = elapsed / steps
    epoch_s = per_step * steps_per_epoch
    achieved = step_flops * world / per_step
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.system}: {steps} steps in {elapsed:.1f} s ({per_step * 1000:.0f} ms/step); "
          f"epoch ({steps_per_epoch} steps) {epoch_s / 60:.2f} min; MFU {achieved / peak:.1%} "
          f"({achieved / 1e9:.0f} of {peak / 1e9:.0f} GFLOP/s); peak RSS {rss_gib:.2f} GiB")
    if rank != 0:
        return
    name = f"epoch_{args.system}" + (f"_{args.tag}" if args.tag else "")
    write_result(name, {
        "system": args.system, "preset": args.preset, "overrides": args.set, "data": args.data,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "train_samples": len(splits["train"]), "batch_size": cfg.batch_size, "precision": cfg.precision,
        "autocast": str(amp), "bucketing": cfg.bucketing, "threads": threads, "processes": world,
        "global_batch": cfg.batch_size * cfg.grad_accum * world, "parameters": params,
        "setup_s": round(setup_s, 1), "steps_timed": steps, "steps_per_epoch": steps_per_epoch,
        "ms_per_step": round(per_step * 1000, 1), "epoch_s": round(epoch_s, 1),
        "epoch_extrapolated": steps < steps_per_epoch, "flops_per_step": step_flops,
        "matmul_peak_flops": peak, "achieved_flops": achieved, "mfu": round(achieved / peak, 4),
        "peak_rss_gib": round(rss_gib, 2),
        **({"target_epoch_s": TARGET_EPOCH_S, "ok": epoch_s <= TARGET_EPOCH_S} if args.system == "transformer" else {}),
    })


if __name__ == "__main__":
    main()
