"""Shared helpers of the benchmarks: timing and writing figures."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {**data, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                "load_avg": os.getloadavg()}, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
    return path
