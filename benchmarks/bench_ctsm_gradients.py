"""Benchmark: the gradient each CTSM loss term sends into each encoder (issue 14).

    uv run --no-sync python benchmarks/bench_ctsm_gradients.py [--data ../shared/data/empatheticdialogues]
        [--lexicon ../shared/data/nrc_vad/NRC-VAD-Lexicon.txt] [--batches 4] [--train-steps 100]

CTSM at the paper's sizes (300-d, CEM's 1-layer/2-head blocks, word vocabulary of the
training split), without COMET knowledge (none is reachable offline), on real batches of 16
training samples of EmpatheticDialogues. For every loss term of eq. 25 (weighted by its γ)
it takes the gradient of that term alone and reports its L2 norm over the parameters of:

* ``trait``: the ``vad.trait`` module (``W_C`` of eq. 3 and ``Encoder_t``), and
  ``trait.Encoder_t`` alone;
* ``state``: the ``ctsm.state`` module (``W_1``, ``W_2``, its ``W_C'`` and ``Encoder_s``), and
  ``state.Encoder_s`` alone;
* ``context``: the context side without the word embedding (``Encoder_C``, the knowledge
  encoders, the teacher and student fusions);
* ``embedding``: the shared word/position/state embedding.

``share`` is each term's norm divided by the sum over terms for that part. Measured at
initialisation and again after ``--train-steps`` steps of the full objective (Adam, constant
learning rate ``--lr``), in eval mode (no dropout) so that the figures are deterministic.
Writes ``benchmarks/results/ctsm_gradients.json``.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

from _common import write_result

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared" / "data"


def parameter_groups(model) -> dict[str, list]:
    embedding = {id(p) for p in model.context_encoder.embedding.parameters()}
    groups = {
        "trait": list(model.trait.parameters()) if model.trait is not None else [],
        "trait.Encoder_t": list(model.trait.encoder.parameters()) if model.trait is not None else [],
        "state": list(model.state.parameters()) if model.state is not None else [],
        "state.Encoder_s": list(model.state.encoder.parameters()) if model.state is not None else [],
        "context": [p for p in model.context_encoder.parameters() if id(p) not in embedding],
        "embedding": list(model.context_encoder.embedding.parameters()),
    }
    return {name: params for name, params in groups.items() if params}


def gradient_norms(model, losses, batch) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """``{term: {part: ‖∂(γ·term)/∂θ_part‖}}`` and the terms' values on one batch."""
    import torch

    groups = parameter_groups(model)
    out = model(batch)
    norms, values = {}, {}
    for name, weight, term in losses:
        value = term.compute(batch, out, model).value
        values[name] = float(value.detach())
        per_part = {}
        for part, params in groups.items():
            grads = torch.autograd.grad(weight * value, params, retain_graph=True, allow_unused=True)
            per_part[part] = math.sqrt(sum(float(g.pow(2).sum()) for g in grads if g is not None))
        norms[name] = per_part
    return norms, values


def measure(model, losses, batches) -> dict:
    model.eval()
    total: dict[str, dict[str, float]] = {}
    values: dict[str, float] = {}
    for batch in batches:
        norms, vals = gradient_norms(model, losses, batch)
        for term, per_part in norms.items():
            for part, norm in per_part.items():
                total.setdefault(term, {}).setdefault(part, 0.0)
                total[term][part] += norm / len(batches)
        for term, v in vals.items():
            values[term] = values.get(term, 0.0) + v / len(batches)
    parts = next(iter(total.values())).keys()
    share = {term: {part: (total[term][part] / s if (s := sum(total[t][part] for t in total)) else 0.0)
                    for part in parts} for term in total}
    return {"grad_norm": total, "share": share, "loss": values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SHARED / "empatheticdialogues"))
    parser.add_argument("--lexicon", default=str(SHARED / "nrc_vad" / "NRC-VAD-Lexicon.txt"))
    parser.add_argument("--batches", type=int, default=4, help="batches of 16 averaged per measurement")
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from tqdm import tqdm

    from edg.data import load_splits
    from edg.pipeline import open_session
    from edg.tokenization import build_tokenizer
    from edg.training.loop import total_loss

    start = time.perf_counter()
    session = open_session("ctsm", overrides=["model.knowledge_source=null", f"model.vad_lexicon={args.lexicon}"])
    system = session.system
    splits = load_splits(args.data)
    train = splits["train"]
    texts = (u for ctx, tgt in zip(train["context"], train["target"]) for u in [*ctx, tgt])
    system.tokenizer = build_tokenizer(session.config.tokenizer, texts, system.special_tokens())
    system.prepare(splits)
    torch.manual_seed(args.seed)
    model = system.build_model()
    losses = system.build_losses()
    rng = random.Random(args.seed)
    batch_size = session.config.train.batch_size
    probe = [system.collate([train[i] for i in rng.sample(range(len(train)), batch_size)])
             for _ in range(args.batches)]
    setup_s = time.perf_counter() - start

    result = {"setup": {"d_model": system.options.d_model, "vocab": len(system.tokenizer),
                        "batch_size": batch_size, "batches": args.batches, "knowledge": None,
                        "losses": {name: weight for name, weight, _ in losses}, "setup_s": round(setup_s, 1)}}
    start = time.perf_counter()
    result["at_init"] = measure(model, losses, probe)
    if args.train_steps:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
        model.train()
        for _ in tqdm(range(args.train_steps), desc="training", unit="step"):
            batch = system.collate([train[i] for i in rng.sample(range(len(train)), batch_size)])
            loss, _ = total_loss(losses, batch, model(batch), model)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        result[f"after_{args.train_steps}_steps"] = measure(model, losses, probe)
        result["train"] = {"steps": args.train_steps, "lr": args.lr, "optimizer": "adam(0.9, 0.98)"}
    result["measure_s"] = round(time.perf_counter() - start, 1)

    for key in [k for k in result if k == "at_init" or k.startswith("after_")]:
        print(f"\n{key}: gradient norm (share) per part")
        parts = list(next(iter(result[key]["grad_norm"].values())))
        print(f"{'term':24s}" + "".join(f"{p:>22s}" for p in parts))
        for term, per_part in result[key]["grad_norm"].items():
            cells = "".join(f"{per_part[p]:>13.2e} ({result[key]['share'][term][p]:>5.1%})" for p in parts)
            print(f"{term:24s}{cells}")
    write_result("ctsm_gradients", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
