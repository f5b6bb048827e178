"""One table of training throughput for every system at its paper's size on the full
EmpatheticDialogues training split: ``bench_epoch.py`` run once per system, each in its own
process (so peak memory is the system's own), then the figures gathered into
``benchmarks/results/epoch_table.md`` and ``epoch_table.json``.

Each row times ``--steps`` optimisation steps with the system's default recipe and
extrapolates to one epoch (``bench_epoch.py`` explains how); ``setup`` is everything before
the first step (data, knowledge, fit stage, tokenizer). Offline stand-ins, where the paper's
resources cannot be reached here, change the inputs but not the network's size:

* CEM and CTSM run without COMET knowledge (``model.knowledge_source=null``: every relation
  sequence is ``[CLS]``, so the knowledge encoders see one token instead of a few dozen);
* EmpDG reads the hand-made EmoLex sample of its tests instead of NRC's EmoLex;
* IMAGINE and ETHREED fit their classifiers (cause detector, EPITOME, response-emotion
  labeller) with the small offline encoder instead of RoBERTa, and IMAGINE's knowledge comes
  from the tiny random COMET-shaped model;
* KEMP runs as ``wo-ece`` (no ConceptNet graph here) with NRC-VAD from ``../shared``;
* NEC runs the ``tiny`` preset's pipeline (offline tokenizer) with a tiny and a bart-base-sized
  randomly initialised BART, without its COMET knowledge (``wo-entity,wo-social``: annotating
  the 393k entity queries with even a tiny COMET takes over half an hour here), so its inputs
  are shorter than the paper's.

    uv run python benchmarks/epoch_table.py --data ../shared/data/empatheticdialogues
    uv run python benchmarks/epoch_table.py --data ../shared/data/empatheticdialogues --only moel mime --steps 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, write_result

NRC_VAD = "../shared/data/nrc_vad/NRC-VAD-Lexicon.txt"
BART_BASE = {"d_model": 768, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 12,
             "decoder_attention_heads": 12, "encoder_ffn_dim": 3072, "decoder_ffn_dim": 3072}

#: row name -> (system, preset, config overrides, what stands in for an unreachable resource)
ROWS: dict[str, tuple[str, str | None, list[str], str]] = {
    "transformer": ("transformer", None, [], ""),
    "multi-trs": ("multi-trs", None, [], ""),
    "moel": ("moel", None, [], ""),
    "mime": ("mime", None, [], ""),
    "empdg": ("empdg", None, ["model.lexicon_path=plugins/edg-baselines/tests/data/emolex_sample.txt"],
              "hand-made EmoLex sample"),
    "cem": ("cem", None, ["model.knowledge_source=null"], "no COMET knowledge"),
    "kemp": ("kemp", "wo-ece", [f'knowledge."kemp.concepts".lexicon_path={NRC_VAD}'], "wo-ece: no ConceptNet"),
    "ctsm": ("ctsm", None, ["model.knowledge_source=null", f"model.vad_lexicon={NRC_VAD}"], "no COMET knowledge"),
    "nec-tiny": ("nec", "tiny,wo-entity,wo-social", [], "tiny BART; no knowledge"),
    "nec-base": ("nec", "tiny,wo-entity,wo-social", [f"model.backbone_config.{k}={v}" for k, v in BART_BASE.items()],
                 "bart-base size, random weights; no knowledge"),
    "imagine": ("imagine", None, ["model.tiny_comet=true", "model.cause_detector.classifier.model_name=null",
                                  "model.mechanism_classifier.classifier.model_name=null"],
                "small offline cause detector and EPITOME classifiers; tiny random COMET"),
    "ethreed": ("ethreed", None, ["model.labeller.model_name=null"], "small offline response-emotion labeller"),
}


def run_row(name: str, data: str, steps: int, timeout: float) -> dict:
    system, preset, overrides, stand_in = ROWS[name]
    command = [sys.executable, str(Path(__file__).with_name("bench_epoch.py")), "--data", data, "--system", system,
               "--steps", str(steps), "--tag", f"table_{name}"]
    if preset:
        command += ["--preset", preset]
    for override in overrides:
        command += ["--set", override]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"row": name, "error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()]
        return {"row": name, "error": lines[-1] if lines else f"exit code {done.returncode}"}
    result = json.loads((RESULTS / f"epoch_{system}_table_{name}.json").read_text())
    return {"row": name, "stand_in": stand_in, "wall_s": round(time.perf_counter() - started, 1), **result}


def markdown(rows: list[dict]) -> str:
    lines = ["| system | parameters | ms/step | epoch (min) | steps/epoch | MFU | peak RSS (GiB) | setup (s) | stand-in |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['row']} | – | – | – | – | – | – | – | failed: {r['error']} |")
            continue
        lines.append(f"| {r['row']} | {r['parameters'] / 1e6:.1f} M | {r['ms_per_step']:.0f} | "
                     f"{r['epoch_s'] / 60:.1f} | {r['steps_per_epoch']:,} | {r['mfu']:.1%} | {r['peak_rss_gib']:.2f} | "
                     f"{r['setup_s']:.0f} | {r['stand_in']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="EmpatheticDialogues directory")
    parser.add_argument("--only", nargs="+", choices=sorted(ROWS), help="rows to run (default: all)")
    parser.add_argument("--steps", type=int, default=60, help="steps timed per system")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per system")
    args = parser.parse_args()

    rows = []
    for name in args.only or list(ROWS):
        row = run_row(name, args.data, args.steps, args.timeout)
        print(f"{name}: " + (row["error"] if "error" in row else f"{row['ms_per_step']:.0f} ms/step, "
                              f"epoch {row['epoch_s'] / 60:.1f} min"), flush=True)
        rows.append(row)
    table = markdown(rows)
    (RESULTS / "epoch_table.md").write_text(table)
    write_result("epoch_table", {"steps": args.steps, "rows": rows})
    print(table)


if __name__ == "__main__":
    main()
