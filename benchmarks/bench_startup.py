"""`edg --help` and `edg plugins` start in under 1 s and never import torch.

    uv run python benchmarks/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import write_result

TARGET_S = 1.0
REPEATS = 7


def time_command(args: list[str]) -> float:
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edg.cli", *args], check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def torch_imported(args: list[str]) -> bool:
    code = f"import sys; from edg.cli import main; main({args!r}); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def main() -> None:
    results = {}
    for name, args in {"help": ["--help"], "plugins": ["plugins"]}.items():
        seconds = time_command(args)
        results[name] = {"median_s": round(seconds, 3), "torch_imported": torch_imported(args),
                         "target_s": TARGET_S, "ok": seconds < TARGET_S}
        print(f"edg {' '.join(args)}: {seconds:.3f} s (target < {TARGET_S} s), torch imported: "
              f"{results[name]['torch_imported']}")
    write_result("startup", results)


if __name__ == "__main__":
    main()
