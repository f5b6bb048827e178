"""Does ``torch.compile`` speed up training of the Transformer at the papers' size on this CPU?

Eager and compiled (``dynamic=True``: bucketed batches have many lengths) training steps —
forward, backward and fused Adam under bf16 autocast — on the same bucketed batches of the
real ED training split, in one process, one after the other. The first ``--warmup`` steps
(compilation) are timed separately. Figures: ``benchmarks/results/compile_transformer.json``.

    uv run python benchmarks/bench_compile.py --data ../shared/data/empatheticdialogues
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from _common import write_result


def time_steps(model, net, losses, batches, warmup: int) -> tuple[float, float]:
    from edg.training.loop import total_loss

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    model.train()

    def step(batch):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, _ = total_loss(losses, batch, net(batch), model)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    start = time.perf_counter()
    for batch in batches[:warmup]:
        step(batch)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for batch in batches[warmup:]:
        step(batch)
    return warm, (time.perf_counter() - start) / (len(batches) - warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, default=80, help="timed steps after the warm-up")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import os

    from torch.utils.data import DataLoader

    from edg import pipeline
    from edg.data.encoding import length_keys
    from edg.training.batches import EpochBatchSampler

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    os.environ["EDG_CACHE"] = str(tmp / "cache")
    session = pipeline.open_session("transformer", None, [f"data.path={args.data}", "data.max_train=6000",
                                                          "data.max_valid=10", "data.max_test=1"])
    splits, model = pipeline.build_everything(session, tmp / "run", progress=False)
    losses = session.system.build_losses()
    sampler = EpochBatchSampler(length_keys(session.system, splits["train"]), len(splits["train"]), 16, seed=1,
                                bucketing=True, bucket_batches=200)
    sampler.set_epoch(0, start=0)
    loader = DataLoader(splits["train"], batch_sampler=sampler, collate_fn=session.system.collate)
    batches = [b for _, b in zip(range(args.warmup + args.steps), loader)]
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    eager_warm, eager = time_steps(model, model, losses, batches, args.warmup)
    model.load_state_dict(initial)
    compiled_warm, compiled = time_steps(model, torch.compile(model, dynamic=True), losses, batches, args.warmup)
    result = {"system": "transformer", "threads": args.threads, "steps": args.steps,
              "eager_ms_per_step": 1000 * eager, "compiled_ms_per_step": 1000 * compiled,
              "compiled_over_eager": compiled / eager, "eager_warmup_s": eager_warm, "compile_warmup_s": compiled_warm,
              "torch": torch.__version__}
    print(result)
    write_result("compile_transformer", result)


if __name__ == "__main__":
    main()
