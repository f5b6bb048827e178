"""Benchmark: time of one NEC training step with the contrastive term (NLL + L_CL, all four
negative types) relative to the NLL-only step of the first stage, on the same model and batches.

    uv run python benchmarks/bench_nec_contrastive.py [--data ../shared/data/empatheticdialogues] [--steps 10]

Builds the ``tiny`` preset end to end on real EmpatheticDialogues samples (batch 8, NEC's
training batch size), then times forward + loss + backward + AdamW step. Per sample the
contrastive step adds 2 different-emotion, 2 self-generated (beam 4, up to 30 tokens),
2 from-batch and 2 high-frequency negatives: 64 extra decoder sequences per batch, encoded
in one batched pass, plus a batched beam search for the self-generated ones (also timed
without it). Writes ``benchmarks/results/nec_contrastive.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "empatheticdialogues"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("EDG_CACHE", tempfile.mkdtemp(prefix="nec-bench-cache-"))
    import torch

    from edg import pipeline
    from edg.training.loop import total_loss

    overrides = [f"data.path={args.data}", "data.max_train=96", "data.max_valid=8", "data.max_test=8",
                 "losses=[{name: nll}, {name: nec.contrastive, options: {start_step: 0, self_gen_beam_size: 4, "
                 "self_gen_max_length: 30}}]"]
    session = pipeline.open_session("nec", overrides=overrides, preset="tiny")
    run_dir = Path(tempfile.mkdtemp(prefix="nec-bench-"))
    splits, model = pipeline.build_everything(session, run_dir, progress=False)
    system = session.system
    train = splits["train"]
    batches = [system.collate([train[i] for i in range(s, s + args.batch)])
               for s in range(0, args.steps * args.batch, args.batch)]
    all_terms = system.build_losses()
    nll_only = [t for t in all_terms if t[0] == "nll"]
    no_selfgen = [(n, w, t) for n, w, t in system.build_losses()]
    for n, _w, t in no_selfgen:
        if n == "nec.contrastive":
            t.options = t.options.model_copy(update={"self_generated": 0})
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    def run(terms):
        model.load_state_dict(initial)
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        times = []
        for batch in batches:
            start = time.perf_counter()
            out = model(batch)
            loss, _logs = total_loss(terms, batch, out, model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:] if len(times) > 1 else times)

    run(all_terms)  # warm-up
    nll_t, cl_t, cl_noself_t = [], [], []
    for _ in range(2):  # interleaved repeats
        nll_t.append(run(nll_only))
        cl_t.append(run(all_terms))
        cl_noself_t.append(run(no_selfgen))
    nll, cl, noself = min(nll_t), min(cl_t), min(cl_noself_t)
    result = {
        "benchmark": "nec_contrastive",
        "batch_size": args.batch, "steps": args.steps,
        "nll_step_s": nll, "contrastive_step_s": cl, "ratio": cl / nll,
        "contrastive_without_self_generated_step_s": noself, "ratio_without_self_generated": noself / nll,
        "negatives_per_sample": {"D": 2, "Y": 2, "B": 2, "H": 2},
        "self_generation": "beam 4, 2 returned, max 30 tokens, no gradient",
        "model": "tiny preset (BART d_model=32, 1+1 layers)", "machine": platform.platform(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": sys.version.split()[0],
    }
    out = ROOT / "results" / "nec_contrastive.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("nll_step_s", "contrastive_step_s", "ratio",
                                             "contrastive_without_self_generated_step_s", "ratio_without_self_generated")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
