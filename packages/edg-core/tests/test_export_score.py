"""Published results rescore to the run's numbers: the evaluator writes each sample's NLL and
token count, ``edg export`` keeps only what holds no dataset text, and ``edg score --data``
joins the exported outputs with the references of the dataset by id."""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edg.baseline.nll_loss import token_nll, token_nll_per_row
from edg.cli import main
from edg.data import SAMPLE_DATA_DIR
from edg.errors import DataError
from edg.interfaces.types import DecoderOutput
from edg.metrics.scoring import score_outputs
from edg.reporting.export import export_run
from edg.testing import TINY_TRANSFORMER, require_shared, shared_data_dir

REPO = Path(__file__).resolve().parents[3]
RUNNING_MD = REPO / "docs" / "running.md"
SECTION = "## Publishing results that others can rescore"
EXPORTED = ["config.yaml", "env.json", "metrics.jsonl", "summary.json", "test_outputs.jsonl"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished tiny Multi-TRS run (it predicts emotions) on the embedded sample."""
    base = tmp_path_factory.mktemp("publish")
    old_cwd, old_cache = Path.cwd(), os.environ.get("EDG_CACHE")
    os.environ["EDG_CACHE"] = str(base / "cache")
    os.chdir(base)
    try:
        assert main(["run", "--plugin", "multi-trs", *TINY_TRANSFORMER, "train.max_steps=4", "train.eval_every=4",
                     "train.threads=1"]) == 0
    finally:
        os.chdir(old_cwd)
        if old_cache is None:
            os.environ.pop("EDG_CACHE", None)
        else:
            os.environ["EDG_CACHE"] = old_cache
    (found,) = (base / "runs" / "multi-trs").iterdir()
    return found


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exported") / "multi-trs" / "1"
    export_run(run_dir, out)
    return out


def test_per_row_nll_sums_to_the_batch_nll():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11)
    labels = torch.randint(0, 11, (3, 5))
    labels[0, 3:] = -100
    labels[2, :] = -100  # a sample without target tokens
    for decoder in (DecoderOutput(logits, logits), DecoderOutput(logits.log_softmax(-1), logits, is_log_probs=True)):
        rows, counts = token_nll_per_row(decoder, labels)
        total, count = token_nll(decoder, labels)
        assert rows.shape == (3,) and counts.tolist() == [3, 5, 0] and rows[2] == 0
        assert float(rows.sum()) == pytest.approx(float(total), rel=1e-6) and int(counts.sum()) == count
        # row 0 by hand: the log-probabilities of its three target tokens
        logp = logits[0].log_softmax(-1)
        assert float(rows[0]) == pytest.approx(-float(sum(logp[t, labels[0, t]] for t in range(3))), rel=1e-6)


def test_output_records_give_the_runs_perplexity(run_dir):
    records = read_jsonl(run_dir / "test_outputs.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert all(isinstance(r["nll"], float) and isinstance(r["tokens"], int) and r["tokens"] > 0 for r in records)
    ppl = math.exp(math.fsum(r["nll"] for r in records) / sum(r["tokens"] for r in records))
    assert ppl == pytest.approx(summary["test"]["ppl"], rel=1e-6)


def test_export_keeps_no_dataset_text(run_dir, exported):
    assert sorted(p.name for p in exported.iterdir()) == EXPORTED
    for name in ("config.yaml", "env.json", "metrics.jsonl", "summary.json"):
        assert (exported / name).read_bytes() == (run_dir / name).read_bytes(), name
    full = read_jsonl(run_dir / "test_outputs.jsonl")
    published = read_jsonl(exported / "test_outputs.jsonl")
    assert [list(r) for r in published] == [["id", "hypothesis", "pred_emotion", "nll", "tokens"]] * len(full)
    assert [r["id"] for r in published] == [r["id"] for r in full]
    assert [r["nll"] for r in published] == [r["nll"] for r in full]  # exact: JSON floats round-trip


def test_score_with_data_gives_the_runs_metrics(run_dir, exported, capsys):
    expected = json.loads((run_dir / "summary.json").read_text())["test"]
    assert {"ppl", "acc", "bleu-1", "dist-1", "sent-std"} <= set(expected)
    scores = score_outputs(exported / "test_outputs.jsonl", data=SAMPLE_DATA_DIR)
    assert list(scores.metrics) == list(expected)
    for name, value in expected.items():
        assert scores.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert scores.samples == scores.split_samples == len(read_jsonl(exported / "test_outputs.jsonl"))

    assert main(["score", str(exported / "test_outputs.jsonl"), "--data", str(SAMPLE_DATA_DIR)]) == 0
    out = capsys.readouterr().out
    assert f"| ppl | {expected['ppl']:.2f} |" in out
    assert f"scored all {scores.samples} samples of the test split of {SAMPLE_DATA_DIR}" in out


def test_a_partial_file_says_how_many_samples_were_scored(exported, tmp_path, capsys):
    records = read_jsonl(exported / "test_outputs.jsonl")
    partial = write_jsonl(tmp_path / "partial.jsonl", records[:-3])
    scores = score_outputs(partial, data=SAMPLE_DATA_DIR)
    assert scores.samples == len(records) - 3 and scores.split_samples == len(records)
    assert main(["score", str(partial), "--data", str(SAMPLE_DATA_DIR), "--metrics", "bleu-1"]) == 0
    assert (f"scored {len(records) - 3} of the {len(records)} samples of the test split of {SAMPLE_DATA_DIR}: "
            f"3 samples of the split are not in {partial}") in capsys.readouterr().out


def test_the_docs_section_has_its_commands():
    """Checked on every run; ``-m slow`` runs them (test_the_docs_commands_run_as_written)."""
    commands = section_commands()
    assert [shlex.split(c)[:2] for c in commands] == [["edg", "run"], ["edg", "export"], ["edg", "score"]]
    export, score = shlex.split(commands[1]), shlex.split(commands[2])
    assert score[2] == f"{export[3]}/test_outputs.jsonl"
    from edg.cli import build_parser

    for command in commands:  # each parses as the CLI reads it
        build_parser().parse_known_args(shlex.split(command)[1:])


def test_score_errors_name_the_line(exported, tmp_path, capsys):
    records = read_jsonl(exported / "test_outputs.jsonl")[:3]
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, [records[0], {**records[1], "id": "hit:nope_conv:0:2"}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: id 'hit:nope_conv:0:2' is not in the test split of "):
        score_outputs(bad, data=SAMPLE_DATA_DIR)
    write_jsonl(bad, [records[0], records[1], records[0]])
    with pytest.raises(DataError, match=rf"bad\.jsonl:3: id '{records[0]['id']}' appears twice \(first on line 1\)"):
        score_outputs(bad, data=SAMPLE_DATA_DIR)
    write_jsonl(bad, [records[0], {k: v for k, v in records[1].items() if k != "id"}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: missing key 'id'"):
        score_outputs(bad, data=SAMPLE_DATA_DIR)
    write_jsonl(bad, [records[0], {k: v for k, v in records[1].items() if k != "tokens"}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: 'nll' without 'tokens'"):
        score_outputs(bad, data=SAMPLE_DATA_DIR)
    write_jsonl(bad, [records[0], {**records[1], "nll": -1.0}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: 'nll' must be a finite non-negative number"):
        score_outputs(bad, data=SAMPLE_DATA_DIR)
    write_jsonl(bad, [records[0], {k: v for k, v in records[1].items() if k not in ("nll", "tokens")}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: 'nll' and 'tokens' are needed on every line to score 'ppl'"):
        score_outputs(bad, data=SAMPLE_DATA_DIR)
    assert "ppl" not in score_outputs(bad, ["bleu-1", "acc"], data=SAMPLE_DATA_DIR).metrics
    # without --data the references must be in the file
    with pytest.raises(DataError, match=r"test_outputs\.jsonl:1: missing key 'reference' \(give --data PATH"):
        score_outputs(exported / "test_outputs.jsonl")
    assert main(["score", str(exported / "test_outputs.jsonl"), "--split", "valid"]) == 2
    assert "--split names a split of --data" in capsys.readouterr().err


def test_further_named_predictions_are_scored_against_the_datas_labels(exported, tmp_path):
    """A ``pred_<name>`` is scored as ``acc-<name>`` against the split's column ``<name>``, as the
    evaluator scores it (here the utterance labels the sample data ships with)."""
    from edg.data import load_splits

    test = load_splits(SAMPLE_DATA_DIR)["test"]
    gold = dict(zip(test["id"], test["target_label"]))
    records = [{**r, "pred_target_label": "sad"} for r in read_jsonl(exported / "test_outputs.jsonl")]
    scores = score_outputs(write_jsonl(tmp_path / "heads.jsonl", records), data=SAMPLE_DATA_DIR)
    labelled = [gold[r["id"]] for r in records]
    assert scores.metrics["acc-target_label"] == pytest.approx(100 * labelled.count("sad") / len(labelled))


def test_export_never_replaces_other_files(run_dir, exported, tmp_path, capsys):
    # the same export again writes nothing
    assert main(["export", str(run_dir), str(exported)]) == 0
    assert "already holds this export" in capsys.readouterr().out
    # an empty directory is filled
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(run_dir), str(empty)]) == 0
    assert sorted(p.name for p in empty.iterdir()) == EXPORTED
    # a directory holding anything else is refused, and left as it was
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text("{}\n")
    assert main(["export", str(run_dir), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds other files (summary.json, config.yaml" in err
    assert sorted(p.name for p in other.iterdir()) == ["summary.json"]
    assert (other / "summary.json").read_text() == "{}\n"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no temporary left behind


def test_export_refuses_outputs_that_cannot_be_rescored(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "tokenizer"))
    records = read_jsonl(copy / "test_outputs.jsonl")
    # written before the evaluator recorded per-sample NLL
    write_jsonl(copy / "test_outputs.jsonl", [{k: v for k, v in r.items() if k != "nll"} for r in records])
    with pytest.raises(DataError, match=r"test_outputs\.jsonl:1: no 'nll'/'tokens' .* `edg evaluate "):
        export_run(copy, tmp_path / "out")
    # outputs of another evaluation than the summary's
    write_jsonl(copy / "test_outputs.jsonl", [{**r, "nll": r["nll"] + 1.0} for r in records])
    with pytest.raises(DataError, match=r"gives ppl .* but summary\.json has .*different evaluations"):
        export_run(copy, tmp_path / "out")
    (copy / "test_outputs.jsonl").unlink()
    with pytest.raises(DataError, match=r"has no evaluation of its own on the test split"):
        export_run(copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- docs/running.md's commands -----------------------------------------------------------
def section_commands() -> list[str]:
    """The commands of the ```bash blocks of running.md's publishing section (``\\`` continues
    a line, ``#`` starts a comment)."""
    text = RUNNING_MD.read_text(encoding="utf-8")
    assert SECTION in text, f"{RUNNING_MD} has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands, inside, pending = [], False, ""
    for line in section.splitlines():
        if line.strip().startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if not inside:
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if shlex.split(pending, comments=True):  # bash reads the line as written
            commands.append(pending)
        pending = ""
    return commands


@pytest.mark.slow  # about a minute: it reads the whole of EmpatheticDialogues into a fresh cache
def test_the_docs_commands_run_as_written(tmp_path):
    """From a directory beside ``shared/data``, as the docs assume for the repository root."""
    require_shared("empatheticdialogues/test.csv")
    commands = section_commands()
    assert [shlex.split(c)[:2] for c in commands] == [["edg", "run"], ["edg", "export"], ["edg", "score"]]
    (tmp_path / "shared").symlink_to(shared_data_dir().parent, target_is_directory=True)
    work = tmp_path / "project"
    work.mkdir()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               EDG_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    done = subprocess.run(["bash", "-e", "-c", "\n".join(commands)], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = (work / "runs" / "publish-demo").iterdir()
    expected = json.loads((run / "summary.json").read_text())["test"]
    assert f"| ppl | {expected['ppl']:.2f} |" in done.stdout and f"| acc | {expected['acc']:.2f} |" in done.stdout
    assert "scored 100 of the 5249 samples of the test split of ../shared/data/empatheticdialogues" in done.stdout
