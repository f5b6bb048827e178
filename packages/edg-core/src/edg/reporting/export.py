"""``edg export RUN_DIR OUT_DIR``: the files of a run that can be published and rescored.

A run's ``{split}_outputs.jsonl`` holds the dataset's own text (contexts, references) and gold
labels, which are not ours to publish. The export keeps ``config.yaml``, ``summary.json``,
``metrics.jsonl`` (and ``env.json``) as they are and writes the outputs file under the same
name with only ``id``, ``hypothesis``, the predictions (``pred_*``) and the per-sample
perplexity terms (``nll``, ``tokens``). ``edg score OUT_DIR/test_outputs.jsonl --data PATH``
joins them with the references of the dataset and gives the run's metrics back.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edg.errors import DataError

#: copied as they are; a reported run has all of them
RUN_FILES = ("config.yaml", "summary.json", "metrics.jsonl")
#: copied when the run has them
OPTIONAL_RUN_FILES = ("env.json",)
#: metrics the export checks against the outputs (bertscore needs a model)
UNCHECKED_METRICS = ("bertscore",)


@dataclass(frozen=True)
class Export:
    out_dir: Path
    files: tuple[str, ...]
    samples: int
    written: bool
    """False when ``out_dir`` already held exactly these files"""


def _published_record(record: dict, where: str, run_dir: Path) -> dict:
    """The keys of an output record that hold no dataset text or gold label."""
    for key in ("id", "hypothesis"):
        if not isinstance(record.get(key), str):
            raise DataError(f"{where}: {key!r} must be a string, got {record.get(key)!r}")
    if record.get("nll") is None or record.get("tokens") is None:
        raise DataError(f"{where}: no 'nll'/'tokens' (outputs written before edg recorded per-sample NLL, so "
                        f"perplexity could not be rescored); evaluate again with `edg evaluate {run_dir}`")
    out = {"id": record["id"], "hypothesis": record["hypothesis"]}
    out.update({key: value for key, value in record.items() if key.startswith("pred_")})
    out.update(nll=record["nll"], tokens=record["tokens"])
    return out


def _check_against_summary(outputs: Path, expected: dict[str, float]) -> None:
    """The outputs must give the metrics ``summary.json`` reports: otherwise the files come
    from different evaluations and the export would not rescore to the run's numbers."""
    from edg.metrics import METRIC_NAMES
    from edg.metrics.scoring import score_outputs

    names = [name for name in expected
             if (name in METRIC_NAMES and name not in UNCHECKED_METRICS) or name.startswith("acc-")]
    got = score_outputs(outputs, names=names, allow_all_empty=True).metrics
    for name in names:
        if not math.isclose(got[name], expected[name], rel_tol=1e-9, abs_tol=1e-9):
            raise DataError(f"{outputs} gives {name} {got[name]!r} but summary.json has {expected[name]!r}: the "
                            f"outputs and the summary are from different evaluations; evaluate the run again")


def _existing_differences(out_dir: Path, texts: dict[str, str]) -> list[str]:
    """Names of the files in ``out_dir`` that the export would not write as they are."""
    differ = []
    for path in sorted(out_dir.iterdir()):
        same = path.is_file() and path.name in texts and path.read_bytes() == texts[path.name].encode("utf-8")
        if not same:
            differ.append(path.name)
    return differ + sorted(n for n in texts if not (out_dir / n).exists())


def export_run(run_dir: str | Path, out_dir: str | Path) -> Export:
    """Write the publishable files of ``run_dir``'s own evaluation into ``out_dir`` (see the
    module doc). ``out_dir`` must not exist, be empty, or already hold exactly this export
    (then nothing is written); anything else is refused and nothing is replaced. The files
    appear together: they are written into a temporary directory that is renamed into place."""
    from edg.jsonl import json_objects
    from edg.runs import TEMP_MARK, _umask, atomic_write_text, load_config, read_json

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    split = load_config(run_dir).eval.split
    summary = read_json(run_dir / "summary.json")
    outputs_name = f"{split}_outputs.jsonl"
    outputs = run_dir / outputs_name
    if not isinstance(summary.get(split), dict) or not outputs.is_file():
        raise DataError(f"{run_dir} has no evaluation of its own on the {split} split (summary.json['{split}'] "
                        f"and {outputs_name}); run `edg evaluate {run_dir}` first")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise DataError(f"{run_dir} has no {', '.join(missing)}; a published run needs {', '.join(RUN_FILES)}")
    lines = outputs.read_text(encoding="utf-8").splitlines()
    records = [_published_record(record, f"{outputs}:{lineno}", run_dir)
               for lineno, record in json_objects(lines, lambda n: f"{outputs}:{n}")]
    _check_against_summary(outputs, summary[split])

    texts = {name: (run_dir / name).read_text(encoding="utf-8")
             for name in (*RUN_FILES, *OPTIONAL_RUN_FILES) if (run_dir / name).is_file()}
    texts[outputs_name] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    files = tuple(texts)

    if out_dir.exists():
        if not out_dir.is_dir():
            raise DataError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            differ = _existing_differences(out_dir, texts)
            if not differ:
                return Export(out_dir, files, len(records), written=False)
            raise DataError(f"{out_dir} already holds other files ({', '.join(differ)} differ from this export); "
                            f"nothing was replaced: export into a new or empty directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}{TEMP_MARK}"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, text in texts.items():
            atomic_write_text(tmp / name, text)
        try:
            os.rename(tmp, out_dir)  # replaces only a missing or empty directory
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            raise DataError(f"{out_dir} was filled by another process during the export; nothing was "
                            f"replaced") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Export(out_dir, files, len(records), written=True)
