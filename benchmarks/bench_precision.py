"""Does bf16 autocast change quality? The Transformer at the papers' size is trained the
same number of steps from the same initial weights on the same batches of the full
EmpatheticDialogues training split, once in fp32 and once under bf16 autocast (what
``precision: auto`` picks on CPUs with native bf16); both are then scored in fp32 on the
validation split. Target: validation perplexities within 1% of each other. Training
times are reported too (process CPU time, one thread each, same process).

    uv run python benchmarks/bench_precision.py --data ../shared/data/empatheticdialogues [--steps 800]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from _common import write_result

TARGET = 0.01


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--system", default="transformer")
    args = parser.parse_args()

    from edg import pipeline
    from edg.training.loop import train, validation_loss

    base = [f"data.path={args.data}", "data.max_test=1", f"train.max_steps={args.steps}",
            f"train.eval_every={args.steps}", "train.progress=false", "train.threads=1", "train.patience=null"]
    tmp = Path(tempfile.mkdtemp(prefix="edg-bench-precision-"))
    session = pipeline.open_session(args.system, None, base)
    splits, model = pipeline.build_everything(session, tmp / "build", progress=False)
    initial = copy.deepcopy(model.state_dict())
    results = {}
    for precision in ("fp32", "bf16"):
        session.config.train.precision = precision
        model.load_state_dict(initial)
        losses = session.system.build_losses()
        start = time.process_time()
        train(model, session.system, losses, splits, session.config, tmp / precision)
        cpu_s = time.process_time() - start
        valid = validation_loss(model, session.system, losses, splits["valid"], 64, torch.device("cpu"), nullcontext)
        results[precision] = {"valid_ppl": valid["ppl"], "valid_token_nll": valid["token_nll"], "train_cpu_s": cpu_s}
        print(precision, results[precision])
    gap = abs(results["bf16"]["valid_ppl"] / results["fp32"]["valid_ppl"] - 1)
    speedup = results["fp32"]["train_cpu_s"] / results["bf16"]["train_cpu_s"]
    print(f"valid ppl fp32 {results['fp32']['valid_ppl']:.2f}, bf16 {results['bf16']['valid_ppl']:.2f}: "
          f"gap {gap:.2%} (target <= {TARGET:.0%}); bf16 training {speedup:.2f}x faster (CPU time)")
    write_result(f"precision_{args.system}", {
        "system": args.system, "data": args.data, "steps": args.steps, "valid_samples": len(splits["valid"]),
        **results, "relative_ppl_gap": round(gap, 5), "target": TARGET, "ok": gap <= TARGET,
        "bf16_speedup_cpu_time": round(speedup, 3),
    })


if __name__ == "__main__":
    main()
