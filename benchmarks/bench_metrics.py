"""Benchmark: score 5,249 responses (the EmpatheticDialogues test listener turns) with every metric
but bertscore, then with every named metric variant (edg.metrics.variants, sacrebleu included),
and check the targets (each < 2 s on a 2-core CPU).

    uv run python benchmarks/bench_metrics.py [--data ../shared/data/empatheticdialogues] [--repeat 3]

Hypotheses are perturbed references (deterministic: some replaced by generic responses, some with
words dropped or swapped), gold emotions are the conversations' labels, predictions are right about
40% of the time. Writes ``benchmarks/results/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from edg.metrics import compute_metrics
from edg.metrics.variants import VARIANTS, score_variants

ROOT = Path(__file__).resolve().parent
TARGET_S = 2.0
GENERIC = [
    "i am sorry to hear that .",
    "that is great ! i am happy for you .",
    "oh no , that is terrible .",
    "that sounds like a lot of fun !",
    "i hope everything works out for you .",
]


def read_listener_turns(path: Path) -> list[tuple[str, str]]:
    """(emotion, utterance) of every listener turn (speaker_idx 2) of an official-layout CSV."""
    out = []
    with path.open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split(",")
            if len(parts) < 6 or parts[4] != "2":
                continue
            out.append((parts[2], parts[5].replace("_comma_", ",")))
    return out


def perturb(ref: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return rng.choice(GENERIC)
    words = ref.split()
    if r < 0.6 and len(words) > 2:
        del words[rng.randrange(len(words))]
    elif r < 0.8 and len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "empatheticdialogues"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "results" / "metrics.json"))
    args = ap.parse_args(argv)

    turns = read_listener_turns(Path(args.data) / "test.csv")
    rng = random.Random(0)
    labels = sorted({e for e, _ in turns})
    refs = [u for _, u in turns]
    hyps = [perturb(u, rng) for u in refs]
    gold = [e for e, _ in turns]
    pred = [e if rng.random() < 0.4 else rng.choice(labels) for e in gold]
    n_tokens = sum(len(r.split()) for r in refs)
    nll = 3.5 * n_tokens

    times = []
    result = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        result = compute_metrics(hyps, refs, gold_emotions=gold, pred_emotions=pred, nll_sum=nll, num_tokens=n_tokens)
        times.append(time.perf_counter() - t0)

    # every named variant on the same responses; per-sample nll/tokens for the ppl variants
    records = [{"hypothesis": h, "reference": r, "tokens": len(r.split()),
                "nll": (3.0 + rng.random()) * len(r.split())} for h, r in zip(hyps, refs)]
    variant_times = []
    variant_result = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        variant_result = score_variants(records, list(VARIANTS))
        variant_times.append(time.perf_counter() - t0)
    each = {}
    for name in VARIANTS:  # one variant alone (its own tokenization and n-gram counting included)
        t0 = time.perf_counter()
        score_variants(records, [name])
        each[name] = round(time.perf_counter() - t0, 4)

    report = {
        "benchmark": "compute_metrics, all metrics but bertscore",
        "n_responses": len(hyps),
        "seconds_first": round(times[0], 4),
        "seconds_median": round(statistics.median(times), 4),
        "seconds_all": [round(t, 4) for t in times],
        "target_seconds": TARGET_S,
        "meets_target": max(times) < TARGET_S,
        "metrics": {k: round(v, 4) for k, v in result.items()},
        "variants": {
            "benchmark": "score_variants, every named variant together (one tokenization and n-gram count shared)",
            "names": list(VARIANTS),
            "seconds_first": round(variant_times[0], 4),
            "seconds_median": round(statistics.median(variant_times), 4),
            "seconds_all": [round(t, 4) for t in variant_times],
            "seconds_each_alone": each,
            "target_seconds": TARGET_S,
            "meets_target": max(variant_times) < TARGET_S,
            "metrics": {k: round(v, 4) for k, v in variant_result.items()},
        },
        "data": "EmpatheticDialogues test listener turns; hypotheses = perturbed references (seed 0)",
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{len(hyps)} responses: compute_metrics {report['seconds_median']:.3f} s median "
          f"(first {report['seconds_first']:.3f} s; target < {TARGET_S} s) -> {out}")
    for k, v in result.items():
        print(f"  {k:12s} {v:8.2f}")
    v = report["variants"]
    print(f"{len(hyps)} responses: all {len(VARIANTS)} variants {v['seconds_median']:.3f} s median "
          f"(first {v['seconds_first']:.3f} s; target < {TARGET_S} s)")
    for k, value in variant_result.items():
        print(f"  {k:40s} {value:8.2f}")
    return report


if __name__ == "__main__":
    main()
