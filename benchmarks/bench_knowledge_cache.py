"""Benchmark: knowledge annotation with and without the cache (target: second run >= 20x faster).

    uv run python benchmarks/bench_knowledge_cache.py [--data ../shared/data/empatheticdialogues] [--n 300]

Annotates the first ``--n`` EmpatheticDialogues training samples with ``comet.social``
(5 relations on the last utterance, beam search 5/5) backed by a tiny randomly initialised
COMET-shaped BART (the real weights are not reachable here; the tiny model runs the same
tokenisation, batched beam search and normalisation). The first run computes every
request into a fresh cache file; the second run over the same data reads them back.
Writes ``benchmarks/results/knowledge_cache.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _common import write_result

ROOT = Path(__file__).resolve().parent
TARGET_RATIO = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "empatheticdialogues"))
    parser.add_argument("--n", type=int, default=300, help="training samples to annotate")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from edg.data.empathetic_dialogues import load_splits
    from edg.interfaces.component import build
    from edg.knowledge_cache import KnowledgeCache, annotate
    from edg_comet.social import SocialKnowledge
    from edg_comet.testing import build_tiny_comet

    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        splits = load_splits(args.data, max_examples={"train": args.n, "valid": 0, "test": 0}, cache_dir=Path(tmp) / "ds")
        train = splits["train"]
        texts = [u for context in train["context"] for u in context]
        model_dir = build_tiny_comet(Path(tmp) / "tiny_comet", texts)
        options = {"model_name_or_path": str(model_dir), "device": args.device}
        cache_path = Path(tmp) / "knowledge.sqlite"

        source = build(SocialKnowledge, options, name="comet.social", key="knowledge.comet.social")
        source.generator.load()  # model loading is not annotation time
        with KnowledgeCache(cache_path) as cache:
            start = time.perf_counter()
            first = annotate(source, train, cache, progress=True)
            first_s = time.perf_counter() - start
            computed = cache.count()

        source = build(SocialKnowledge, options, name="comet.social", key="knowledge.comet.social")
        with KnowledgeCache(cache_path) as cache:  # reopened, as a second run would
            start = time.perf_counter()
            second = annotate(source, train, cache, progress=True)
            second_s = time.perf_counter() - start
        assert second["comet_social"] == first["comet_social"]
        assert source.generator.model is None, "the cached run must not load the model"

    ratio = first_s / second_s
    result = {
        "benchmark": "annotate(comet.social) over ED training samples, first run vs cached second run",
        "n_samples": len(train),
        "n_requests": computed,
        "model": "tiny random BART (d_model=32, 1+1 layers), num_beams=5, num_return=5, max_length=24",
        "device": args.device,
        "seconds_first": round(first_s, 3),
        "seconds_second": round(second_s, 3),
        "items_per_second_first": round(computed / first_s, 1),
        "speedup": round(ratio, 1),
        "target_speedup": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
    }
    print(json.dumps(result, indent=2))
    write_result("knowledge_cache", result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
