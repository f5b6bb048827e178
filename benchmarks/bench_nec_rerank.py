"""Benchmark: NEC's similarity-reranked beam search vs plain beam search on the same model and
inputs (target: reranked / plain <= 1.25).

    uv run python benchmarks/bench_nec_rerank.py [--data ../shared/data/empatheticdialogues] [--n 64] [--repeat 3]

Builds the ``tiny`` preset end to end on real EmpatheticDialogues samples (tiny random COMET,
tiny scorer, all-MiniLM-L6-v2 social selection, a tiny BART; untrained weights — decoding cost
does not depend on training), then decodes the first ``--n`` test samples with beam search
(beam 5, 5 returned, up to 30 steps: NEC's decoding settings) with and without the
``nec.similarity`` reranker. Writes ``benchmarks/results/nec_rerank.json``.
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
TARGET = 1.25


def build(data: str, n: int, extra: list[str]):
    from edg import pipeline

    overrides = [f"data.path={data}", "data.max_train=64", "data.max_valid=8", f"data.max_test={n}",
                 "generation.beam_size=5", "generation.num_return=5", "generation.max_length=30",
                 "generation.min_length=30", *extra]
    session = pipeline.open_session("nec", overrides=overrides, preset="tiny")
    run_dir = Path(tempfile.mkdtemp(prefix="nec-bench-"))
    splits, model = pipeline.build_everything(session, run_dir, progress=False)
    return session, splits, model


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "empatheticdialogues"))
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("EDG_CACHE", tempfile.mkdtemp(prefix="nec-bench-cache-"))
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    session, splits, model = build(args.data, args.n, [])
    system = session.system
    model.eval()
    reranker = system.build_reranker()
    test = splits["test"]
    batches = [system.collate([test[i] for i in range(s, min(s + args.batch, len(test)))])
               for s in range(0, len(test), args.batch)]
    gen = session.config.generation

    def decode(rr):
        start = time.perf_counter()
        outs = []
        with torch.no_grad():
            for b in batches:
                outs.append(model.generate(b, gen, rr))
        return time.perf_counter() - start, outs

    decode(reranker)  # warm-up
    plain_t, rerank_t = [], []
    for _ in range(args.repeat):  # interleaved, so load changes hit both alike
        t, plain_out = decode(None)
        plain_t.append(t)
        t, rerank_out = decode(reranker)
        rerank_t.append(t)
    same_sets = all(sorted(map(tuple, (c.token_ids for c in a))) == sorted(map(tuple, (c.token_ids for c in b)))
                    for pa, pb in zip(plain_out, rerank_out) for a, b in zip(pa, pb))
    changed = sum(a[0].token_ids != b[0].token_ids for pa, pb in zip(plain_out, rerank_out) for a, b in zip(pa, pb))
    plain, rerank = statistics.median(plain_t), statistics.median(rerank_t)
    ratio = rerank / plain
    result = {
        "benchmark": "nec_rerank",
        "samples": len(test), "batch_size": args.batch, "beam_size": gen.beam_size, "num_return": gen.num_return,
        "max_length": gen.max_length, "min_length": gen.min_length, "repeat": args.repeat,
        "plain_beam_s": plain, "reranked_beam_s": rerank, "ratio": ratio, "target_ratio": TARGET,
        "passed": ratio <= TARGET,
        "plain_runs_s": plain_t, "reranked_runs_s": rerank_t,
        "same_candidate_sets": same_sets, "top1_changed_by_reranker": changed,
        "model": "tiny preset (BART d_model=32, 1+1 layers)", "machine": platform.platform(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": sys.version.split()[0],
    }
    out = ROOT / "results" / "nec_rerank.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("plain_beam_s", "reranked_beam_s", "ratio", "passed", "top1_changed_by_reranker")}))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
