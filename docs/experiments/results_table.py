"""Print a Markdown table of finished runs beside the papers' published rows.

    uv run python docs/experiments/results_table.py NAME=RUN_DIR[:PUBLISHED_NAME] ... [--metrics ppl,bleu-1,...]

NAME labels the row; PUBLISHED_NAME (default NAME) selects the papers' rows to show with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edg.reporting.published import published_for

DEFAULT = "acc,ppl,bleu-1,bleu-2,bleu-4,dist-1,dist-2,sent-std,top5"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--metrics", default=DEFAULT)
    args = parser.parse_args()
    metrics = args.metrics.split(",")
    print("| system | source | best step | " + " | ".join(metrics) + " |")
    print("|---|---|---:|" + "---:|" * len(metrics))
    shown: set[str] = set()
    for spec in args.runs:
        name, _, rest = spec.partition("=")
        run_dir, _, published_name = rest.partition(":")
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        test = summary["test"]
        cells = [f"{test[m]:.2f}" if m in test else "–" for m in metrics]
        print(f"| {name} | ours | {summary.get('best_step', '–')} | " + " | ".join(cells) + " |")
        key = published_name or name
        if key in shown:
            continue
        shown.add(key)
        for entry in published_for(key):
            if not any(m in entry.metrics for m in metrics):
                continue
            cells = [f"{entry.metrics[m]:.2f}" if m in entry.metrics else "–" for m in metrics]
            print(f"| {entry.system} | {entry.paper} {entry.table} | – | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
