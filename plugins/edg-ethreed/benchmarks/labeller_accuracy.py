"""Fit ETHREED's response-emotion labeller (§4.1) exactly as the system's fit stage does, on
all the ED training situations, and write its accuracy on the test situations (one per test
conversation) beside the paper's 62.8% (RoBERTa-large).

    python plugins/edg-ethreed/benchmarks/labeller_accuracy.py                       # offline small encoder
    python plugins/edg-ethreed/benchmarks/labeller_accuracy.py --model-name roberta-large --lr 1e-5 --epochs 3

Offline (the default, ``model_name: null``) the labeller is a small RoBERTa-shaped encoder
built from its config (random initialisation, no pre-training) over the run's word
tokenizer; the figures go to ``benchmarks/results/labeller_accuracy.json`` of this plugin.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

PUBLISHED = {"RoBERTa-large (ETHREED §4.1)": 0.628}
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/empatheticdialogues")
    parser.add_argument("--model-name", default=None, help="a checkpoint by name; default: the small offline encoder")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "labeller_accuracy.json"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from edg.pipeline import annotate_knowledge, load_data, open_session, prepare_tokenizer

    labeller = {"model_name": args.model_name, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                "max_tokens": args.max_tokens, "small_hidden": args.hidden, "small_layers": args.layers,
                "small_heads": args.heads, "device": "cpu"}
    overrides = [f"data.path={args.data}", "train.progress=false"]
    overrides += [f"model.labeller.{k}={'null' if v is None else v}" for k, v in labeller.items()]
    session = open_session("ethreed", overrides=overrides)
    splits = load_data(session.config)
    with tempfile.TemporaryDirectory() as work:
        splits = annotate_knowledge(session, splits, progress=False)
        prepare_tokenizer(session, splits, Path(work) / "run")
        # the system's own fit-stage spec: the same component, training data and test situations
        (spec,) = session.system.fitted_components(splits, "before_prepare")
        fit_dir = Path(work) / "fit"
        fit_dir.mkdir()
        began = time.perf_counter()
        figures = spec.component.fit(spec.data, fit_dir)
        seconds = time.perf_counter() - began
    test_labels = list(spec.data["test"]["emotion_id"])
    majority = Counter(test_labels).most_common(1)[0][1] / len(test_labels)
    parameters = sum(p.numel() for p in spec.component.model.parameters())
    result = {"encoder": args.model_name or "small RoBERTa-shaped encoder from config, random init (offline)",
              "test_accuracy": figures["test_accuracy"], "test_majority": majority,
              "train_situations": int(figures["train_situations"]), "test_situations": int(figures["test_situations"]),
              "epochs": args.epochs, "options": labeller, "parameters": parameters,
              "vocabulary": len(session.system.tokenizer), "threads": args.threads, "fit_seconds": round(seconds, 1),
              "published": PUBLISHED,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg": os.getloadavg()},
              "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"labeller test accuracy {100 * result['test_accuracy']:.1f}% (majority {100 * majority:.1f}%, "
          f"paper RoBERTa-large 62.8%) on {result['test_situations']} test situations; "
          f"{result['train_situations']} training situations, {args.epochs} epochs, {seconds:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
