"""The training loop, readable top to bottom.

``train()`` runs on one device or, under ``torchrun``, on several with PyTorch DDP
(NCCL on GPUs, gloo on CPUs). Rank 0 alone writes logs and checkpoints.

Per optimisation step: ``grad_accum`` micro-batches under autocast (bf16 or fp16 on GPU),
the weighted sum of the configured loss terms, gradient clipping, AdamW/Adam, and a
warm-up schedule. Every ``eval_every`` steps: validation loss, an atomic checkpoint, and
early stopping after ``patience`` evaluations without improvement. The sample order is a
function of (seed, epoch), so a resumed run continues with exactly the batches it would
have seen. SIGTERM or Ctrl-C ends the step, writes a checkpoint and raises
:class:`~edg.training.stop_request.TrainingStopped`, so a resume loses no step.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from edg.config import RunConfig
from edg.errors import ConfigError, DataError
from edg.interfaces.loss import LossTerm, TrainingContext
from edg.runs import MetricsLog
from edg.data.encoding import length_keys
from edg.training import checkpoint as ckpt
from edg.training.batches import EpochBatchSampler, sorted_batches
from edg.training.stop_request import StopRequest, TrainingStopped

logger = logging.getLogger("edg")


# -- setup helpers ----------------------------------------------------------------------
def select_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        return torch.device("cuda", local_rank)
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX-512 BF16 or AMX): there
    bf16 autocast is ~3x faster than fp32; elsewhere it is emulated and slower."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
                    and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()))
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if device.type == "cpu":
        if precision == "bf16" or (precision == "auto" and cpu_supports_bf16()):
            return torch.bfloat16
        return None  # fp16 autocast on CPU is emulated: never faster
    if device.type != "cuda":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def set_cpu_threads(threads: int | None, local_world: int = 1) -> int:
    """Intra-op threads for this process: the configured number, else the CPUs this
    process may run on shared among the processes of a DDP run on one machine (two
    processes with two threads each on two cores would thrash)."""
    if threads is None:
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = max(1, available // max(local_world, 1))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def check_trainable(splits: dict[str, Any], batches_per_epoch: int, grad_accum: int, total_steps: int) -> None:
    """One line instead of a loop that never finishes (or a KeyError at validation)."""
    for split in ("train", "valid"):
        if len(splits[split]) == 0:
            raise DataError(f"the {split} split has no samples; training needs both train and valid samples")
    if batches_per_epoch < grad_accum:
        raise ConfigError(f"train.grad_accum={grad_accum} needs at least {grad_accum} batches per epoch, "
                          f"but the train split gives {batches_per_epoch}")
    if total_steps < 1:
        raise ConfigError(f"nothing to train: {total_steps} steps (set train.max_steps or train.epochs >= 1)")


def scheduler_state(scheduler: torch.optim.lr_scheduler.LambdaLR) -> dict[str, Any]:
    """The scheduler's counters without its schedule: the schedule is a component (a pure
    function of the step, rebuilt from the config on resume) whose options are not the
    tensors and plain values a ``weights_only`` load accepts."""
    state = scheduler.state_dict()
    state["lr_lambdas"] = [None] * len(state["lr_lambdas"])
    return state


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_valid: float = float("inf")
    best_step: int = 0
    bad_evals: int = 0
    stopped_early: bool = False
    best_on: str = "loss"
    """the validation figure ``best_valid`` is a value of (``train.early_stopping_on``)"""
    best_after: int = 0
    """evaluations up to this step did not count (``train.early_stopping_after``)"""


def early_stopping_from_log(records: list[dict], key: str, step: int, after: int = 0) -> tuple[float, int, int]:
    """``(best value, its step, evaluations since)`` of validation figure ``key`` in the
    logged validation records up to ``step``, counted from the last change of objective and
    from the first evaluation after step ``after``: what early stopping would hold had it
    watched ``key`` from the start."""
    valid = [r for r in records if r.get("split") == "valid" and r.get("step", 0) <= step]
    restarts = [i for i, r in enumerate(valid) if r.get("objective_changed")]
    best, best_step, bad = float("inf"), 0, 0
    for r in valid[restarts[-1] if restarts else 0:]:
        if r.get("step", 0) <= after:
            continue
        if key in r and r[key] < best:
            best, best_step, bad = r[key], r["step"], 0
        else:
            bad += 1
    return best, best_step, bad


def total_loss(terms: list[tuple[str, float, LossTerm]], batch, outputs, model):
    """``sum(weight * term)`` and the named values to log."""
    total, logs = 0.0, {}
    for name, weight, term in terms:
        value = term.compute(batch, outputs, model)
        total = total + weight * value.value
        logs[name] = value.value.detach()
        logs.update(value.logs)
    return total, logs


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


# -- the loop ---------------------------------------------------------------------------
def train(model: torch.nn.Module, system: Any, losses: list[tuple[str, float, LossTerm]],
          splits: dict[str, Any], config: RunConfig, run_dir: Path, *, resume: bool = False) -> LoopState:
    cfg = config.train
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    is_main = rank == 0

    device = select_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        set_cpu_threads(cfg.threads, int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    seed_everything(cfg.seed + rank)
    model.to(device)
    net = torch.nn.parallel.DistributedDataParallel(
        model, find_unused_parameters=cfg.find_unused_parameters) if distributed else model
    amp_dtype = autocast_dtype(cfg.precision, device)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else nullcontext
    scaler = torch.amp.GradScaler(enabled=amp_dtype == torch.float16)

    sampler = EpochBatchSampler(length_keys(system, splits["train"]), len(splits["train"]), cfg.batch_size,
                                seed=cfg.seed, bucketing=cfg.bucketing, bucket_batches=cfg.bucket_batches,
                                rank=rank, world=world)
    # a private generator: creating a loader iterator must not consume the global RNG,
    # or a resumed run would drift from an uninterrupted one
    loader = DataLoader(splits["train"], batch_sampler=sampler, collate_fn=system.collate,
                        num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed))
    batches_per_epoch = sampler.batches_per_epoch()
    steps_per_epoch = max(batches_per_epoch // cfg.grad_accum, 1)
    total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch

    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    # fused kernels: one pass over each parameter instead of a dozen (bench_epoch.py: ~20%
    # of a step on the 2-core CPU at the papers' size); same update rule
    fused = {"fused": True} if cfg.fused_optimizer and device.type in ("cpu", "cuda") else {}
    optimizer = opt_cls(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
                        **fused)
    schedule = system.component("schedule", cfg.schedule, cfg.schedule_options, key="train.schedule_options",
                                warmup_steps=cfg.warmup_steps, total_steps=total_steps,
                                steps_per_epoch=steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    # figures that fall as the model improves: the objective, the generation loss, each term
    stopping_keys = {"loss", "nll", "token_nll", "ppl", *(name for name, _weight, _term in losses)}
    if cfg.early_stopping_on not in stopping_keys:
        raise ConfigError(f"train.early_stopping_on: {cfg.early_stopping_on!r} is not a validation loss of this run "
                          f"(one of {', '.join(sorted(stopping_keys))})")
    # an empty split (or fewer batches than one accumulated step) would loop forever
    check_trainable(splits, batches_per_epoch, cfg.grad_accum, total_steps)
    state = LoopState()
    context = TrainingContext(grad_accum=cfg.grad_accum, total_steps=total_steps, tokenizer=system.tokenizer,
                              statistics=getattr(system, "statistics", {}))
    for _name, _weight, term in losses:
        term.setup(context)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run_dir / "checkpoints"
    log = MetricsLog(run_dir / "metrics.jsonl")
    start = ckpt.resume_point(ckpt_dir) if resume else None
    if start is not None:
        ckpt.load_weights(start, model)
        saved = ckpt.load_training_state(start)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        ckpt.set_rng_state(saved["rng"])
        state = LoopState(**saved["loop"])
        for (_name, _weight, term), term_state in zip(losses, saved.get("losses", [{}] * len(losses))):
            term.load_state_dict(term_state)
        if is_main:
            best = f"step-{state.best_step}"
            ckpt.set_pointers(ckpt_dir, latest=start.name, best=best if (ckpt_dir / best).is_dir() else None)
    elif resume and is_main:
        logger.warning("%s has no checkpoint yet: training starts again from step 0", run_dir)
    if resume and is_main:
        log.truncate_after(state.step)  # the steps after the checkpoint are trained (and logged) again
        if start is not None:  # said once the log is known readable: an error stays one line
            logger.info("resuming %s from %s", run_dir, start.name)
    if state.best_on != cfg.early_stopping_on or state.best_after != cfg.early_stopping_after:
        # resumed with another early-stopping rule: judge the evaluations so far by it
        state.best_valid, state.best_step, state.bad_evals = early_stopping_from_log(
            log.records(), cfg.early_stopping_on, state.step, cfg.early_stopping_after)
        state.best_on, state.best_after = cfg.early_stopping_on, cfg.early_stopping_after
    # patience may have changed too on resume: stop now if it would have stopped already
    held = any(term.holds_early_stopping() for _name, _weight, term in losses)
    state.stopped_early = cfg.patience is not None and state.bad_evals >= cfg.patience and not held
    best = ckpt_dir / f"step-{state.best_step}"
    if start is not None and is_main and ckpt.find_checkpoint(ckpt_dir, "BEST") != best:
        kept = best.is_dir()
        if state.best_step == 0:
            logger.warning("early stopping on %r after step %d: no evaluation counts yet, BEST is unset",
                           cfg.early_stopping_on, cfg.early_stopping_after)
        else:
            logger.warning("early stopping on %r after step %d: the best evaluation so far is step %d (%s), %d since",
                           cfg.early_stopping_on, cfg.early_stopping_after, state.best_step, "BEST points to it"
                           if kept else "its checkpoint was not kept: BEST is unset until a better one",
                           state.bad_evals)
        if kept:
            ckpt.set_pointers(ckpt_dir, best=best.name)
        else:
            (ckpt_dir / "BEST").unlink(missing_ok=True)

    def save(best: bool) -> None:
        if is_main:
            training_state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler_state(scheduler),
                              "scaler": scaler.state_dict(), "rng": ckpt.rng_state(), "loop": asdict(state),
                              "losses": [term.state_dict() for _name, _weight, term in losses]}
            ckpt.save_checkpoint(ckpt_dir, state.step, model, training_state, best=best, keep=cfg.keep_checkpoints)

    def validate() -> None:
        context.step = state.step
        valid = validation_loss(model, system, losses, splits["valid"], cfg.eval_batch_size, device, autocast)
        if cfg.early_stopping_on not in valid:
            raise ConfigError(f"train.early_stopping_on: the validation records have no {cfg.early_stopping_on!r} "
                              f"(they have {', '.join(sorted(valid))})")
        counts = state.step > cfg.early_stopping_after
        improved = counts and valid[cfg.early_stopping_on] < state.best_valid
        if improved:
            state.best_valid, state.best_step, state.bad_evals = valid[cfg.early_stopping_on], state.step, 0
        elif counts:
            state.bad_evals += 1
        # every term sees the record (no short-circuit); a new objective restarts early
        # stopping, so a plateau that triggers a stage switch never ends the run
        switched = [term.on_validation(valid) for _name, _weight, term in losses]
        if any(switched):
            state.best_valid, state.bad_evals = float("inf"), 0
            if is_main:
                logger.info("step %d: the training objective changed, early stopping restarts", state.step)
        held = any(term.holds_early_stopping() for _name, _weight, term in losses)
        state.stopped_early = cfg.patience is not None and state.bad_evals >= cfg.patience and not held
        if is_main:
            log.write({"step": state.step, "split": "valid", **valid, **({"objective_changed": True} if any(switched) else {})})
        save(best=improved)

    progress = tqdm(total=total_steps, initial=state.step, desc="train", disable=not (cfg.progress and is_main),
                    dynamic_ncols=True)
    window_start, window_samples = time.perf_counter(), 0
    net.train()
    with StopRequest() as stop_request:
        while state.step < total_steps and not state.stopped_early:
            sampler.set_epoch(state.epoch, start=state.batch_in_epoch)
            optimizer.zero_grad(set_to_none=True)  # drop a partial accumulation from the last epoch
            micro = 0
            for batch in loader:
                batch = to_device(batch, device)
                sync = (micro + 1) % cfg.grad_accum == 0
                context.step, context.epoch, context.micro_step = state.step, state.epoch, micro % cfg.grad_accum
                with (nullcontext() if sync or not distributed else net.no_sync()), autocast():
                    outputs = net(batch)
                    loss, logs = total_loss(losses, batch, outputs, model)
                scaler.scale(loss / cfg.grad_accum).backward()
                micro += 1
                state.batch_in_epoch += 1
                window_samples += batch["labels"].size(0)
                if not sync:
                    continue

                if cfg.clip_norm:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                state.step += 1
                progress.update(1)

                if state.step % cfg.log_every == 0 or state.step == total_steps:
                    elapsed = time.perf_counter() - window_start
                    record = {"step": state.step, "split": "train", "loss": float(loss.detach()),
                              **{k: float(v) for k, v in logs.items()}, "lr": scheduler.get_last_lr()[0],
                              "samples_per_s": window_samples * world / max(elapsed, 1e-9)}
                    if is_main:
                        log.write(record)
                    progress.set_postfix(loss=f"{record['loss']:.3f}", sps=f"{record['samples_per_s']:.0f}")
                    window_start, window_samples = time.perf_counter(), 0
                if state.step % cfg.eval_every == 0 or state.step == total_steps:
                    validate()
                    net.train()
                stopped_by = stop_request.agreed(distributed, device)
                if stopped_by:
                    if state.step % cfg.eval_every and state.step != total_steps:  # else validate() saved it
                        save(best=False)
                    if is_main:
                        logger.warning("%s: stopped at step %d, checkpoint written", stopped_by, state.step)
                    if distributed:
                        dist.barrier()  # no rank leaves (and has torchrun stop the rest) before the save
                    progress.close()
                    raise TrainingStopped(stopped_by, state.step)
                if state.step >= total_steps or state.stopped_early:
                    break
            else:
                state.epoch += 1
                state.batch_in_epoch = 0
    progress.close()
    if distributed:
        dist.barrier()
    return state


@torch.no_grad()
def validation_loss(model, system, losses, dataset, batch_size: int, device, autocast) -> dict[str, float]:
    """Sample-weighted mean of each loss term (and the total) over a split, plus the
    token-level NLL/perplexity."""
    from edg.baseline.nll_loss import token_nll

    model.eval()
    batches = sorted_batches(length_keys(system, dataset), len(dataset), batch_size)
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=system.collate)
    sums: dict[str, float] = {}
    count, nll_sum, tokens = 0, 0.0, 0
    contexts = {id(term.context): term.context for _name, _weight, term in losses}
    for context in contexts.values():
        context.training = False
    try:
        for batch in loader:
            batch = to_device(batch, device)
            with autocast():
                outputs = model(batch)
                loss, logs = total_loss(losses, batch, outputs, model)
            n = batch["labels"].size(0)
            count += n
            for k, v in {"loss": loss, **logs}.items():
                sums[k] = sums.get(k, 0.0) + float(v) * n
            s, t = token_nll(outputs.decoder, batch["labels"])
            nll_sum, tokens = nll_sum + float(s), tokens + t
    finally:
        for context in contexts.values():
            context.training = True
    out = {k: v / max(count, 1) for k, v in sums.items()}
    out["token_nll"] = nll_sum / max(tokens, 1)
    out["ppl"] = math.exp(min(out["token_nll"], 50))
    return out
