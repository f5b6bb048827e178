"""Benchmark: token-level VAD (+ IDF) features for the whole ED training split (target < 10 s).

    uv run python benchmarks/bench_vad.py [--data ../shared/data/empatheticdialogues] [--lexicon ...]

Loads the training split (every listener turn with its full context, MoEL/CEM style) and
the NRC VAD lexicon, then times, for every sample: tokenising its context, looking up the
VAD of every token (CTSM's neutral default for unknown words) and its IDF from the
training split's IDF table (computed inside the timed region too). Dataset loading is
reported separately. Writes ``benchmarks/results/vad.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import write_result

import numpy as np

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared" / "data"
TARGET_S = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SHARED / "empatheticdialogues"))
    parser.add_argument("--lexicon", default=str(SHARED / "nrc_vad" / "NRC-VAD-Lexicon.txt"))
    args = parser.parse_args()

    from edg.data.empathetic_dialogues import load_splits
    from edg.data.statistics import idf
    from edg_vad.features import VadFeaturizer, tokenize
    from edg_vad.lexicon import load_lexicon

    start = time.perf_counter()
    train = load_splits(args.data)["train"]
    contexts = train["context"]
    load_s = time.perf_counter() - start

    start = time.perf_counter()
    featurizer = VadFeaturizer(load_lexicon(args.lexicon))
    lexicon_s = time.perf_counter() - start

    start = time.perf_counter()
    token_lists = [[t for utterance in context for t in tokenize(utterance)] for context in contexts]
    # one document per sample, from the tokens above (tokenising once serves both features)
    idf_table = idf(token_lists, lambda tokens: tokens)
    vad = featurizer.features_batch(token_lists)
    get_idf = idf_table.__getitem__
    idf_values = np.fromiter((get_idf(t) for tokens in token_lists for t in tokens), dtype=np.float32)
    features_s = time.perf_counter() - start

    n_tokens = sum(len(tokens) for tokens in token_lists)
    assert len(vad) == len(train) and len(idf_values) == n_tokens
    covered = int((featurizer.rows(t for tokens in token_lists for t in tokens) > 0).sum())
    result = {
        "benchmark": "VAD + IDF features of every ED training sample's context",
        "n_samples": len(train),
        "n_tokens": n_tokens,
        "lexicon_coverage": round(covered / n_tokens, 4),
        "seconds_load_dataset": round(load_s, 3),
        "seconds_load_lexicon": round(lexicon_s, 3),
        "seconds_features": round(features_s, 3),
        "tokens_per_second": round(n_tokens / features_s),
        "target_seconds": TARGET_S,
        "meets_target": features_s + lexicon_s < TARGET_S,
    }
    print(json.dumps(result, indent=2))
    write_result("vad", result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
