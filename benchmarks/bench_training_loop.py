"""Overhead of edg's training loop over a minimal plain-PyTorch loop.

Both loops train the same Transformer (same initial weights) on the same batches (the
same length-bucketed, pre-tokenized batches in the same order, the same collate, the same
autocast precision) for the same number of steps, in one process, with one intra-op
thread, alternating order over several rounds. The figure is the median ratio edg/plain
of the process CPU time (robust when other jobs share the machine). Target <= 1.05.
edg's time includes everything its loop does: progress bar, logging, the final
validation and the atomic checkpoint.

    uv run python benchmarks/bench_training_loop.py [--steps 150] [--rounds 3] [--d-model 300]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from _common import write_result

TARGET = 1.05


def plain_loop(model, system, dataset, steps: int, cfg) -> float:
    from edg.data.encoding import length_keys
    from edg.training.batches import EpochBatchSampler
    from edg.training.loop import autocast_dtype

    model.train()
    sampler = EpochBatchSampler(length_keys(system, dataset), len(dataset), cfg.batch_size, seed=cfg.seed,
                                bucketing=cfg.bucketing, bucket_batches=cfg.bucket_batches)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=system.collate,
                        generator=torch.Generator().manual_seed(cfg.seed))
    amp = autocast_dtype(cfg.precision, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, fused=cfg.fused_optimizer)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup_steps))
    start = time.process_time()
    step, epoch = 0, 0
    while step < steps:
        sampler.set_epoch(epoch)
        for batch in loader:
            with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
                logits = model(batch).decoder.logits
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)).float(),
                                                         batch["labels"].reshape(-1), ignore_index=-100)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step == steps:
                break
        epoch += 1
    return time.process_time() - start


def edg_loop(model, session, splits, steps: int, run_dir: Path) -> float:
    from edg.training.loop import train

    losses = session.system.build_losses()
    start = time.process_time()
    state = train(model, session.system, losses, splits, session.config, run_dir)
    assert state.step == steps
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--d-model", type=int, default=300)
    parser.add_argument("--data", default=None, help="dataset directory (default: the embedded sample)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--no-progress", action="store_true", help="disable edg's tqdm bar")
    args = parser.parse_args()

    from edg import pipeline

    overrides = [f"model.d_model={args.d_model}", "model.layers=2", "model.heads=2",
                 f"train.precision={args.precision}", "train.threads=1",
                 *([f"data.path={args.data}", "data.max_valid=64", "data.max_test=1"] if args.data else []),
                 "model.dropout=0.0", f"train.max_steps={args.steps}", f"train.eval_every={10 * args.steps}",
                 "train.log_every=50", "train.batch_size=16", "train.schedule=constant", "train.warmup_steps=10",
                 "train.lr=1e-4", "train.optimizer=adam", "train.device=cpu",
                 f"train.progress={'false' if args.no_progress else 'true'}"]
    tmp = Path(tempfile.mkdtemp(prefix="edg-bench-"))
    os.chdir(tmp)
    session = pipeline.open_session("transformer", None, overrides)
    splits, model = pipeline.build_everything(session, tmp / "build", progress=False)
    initial = copy.deepcopy(model.state_dict())
    torch.set_num_threads(1)

    ratios, plain_times, edg_times = [], [], []
    for r in range(args.rounds):
        order = ["plain", "edg"] if r % 2 == 0 else ["edg", "plain"]
        times = {}
        for which in order:
            model.load_state_dict(initial)
            torch.manual_seed(0)
            if which == "plain":
                times[which] = plain_loop(model, session.system, splits["train"], args.steps, session.config.train)
            else:
                times[which] = edg_loop(model, session, splits, args.steps, tmp / f"run-{r}")
        plain_times.append(times["plain"])
        edg_times.append(times["edg"])
        ratios.append(times["edg"] / times["plain"])
        print(f"round {r}: plain {times['plain']:.2f} s, edg {times['edg']:.2f} s (CPU), ratio {ratios[-1]:.3f}")
    ratio = statistics.median(ratios)
    print(f"edg/plain = {ratio:.3f} (target <= {TARGET})")
    write_result("training_loop", {"progress_bar": not args.no_progress, "steps": args.steps, "d_model": args.d_model,
                                   "rounds": args.rounds, "data": args.data or "embedded sample",
                                   "precision": session.config.train.precision,
                                   "clock": "process CPU time", "plain_cpu_s": plain_times, "edg_cpu_s": edg_times, "ratios": ratios,
                                   "median_ratio": round(ratio, 4), "target": TARGET, "ok": ratio <= TARGET})


if __name__ == "__main__":
    main()
