"""Rescoring outputs files (JSON lines and TSV)."""

from __future__ import annotations

import json

import pytest
from edg.errors import ConfigError, DataError
from edg.metrics import compute_metrics
from edg.metrics.scoring import load_outputs, score_file

ROWS = [
    {"id": "a", "hypothesis": "I am sorry to hear that.", "reference": "oh no , i am sorry",
     "emotion": "sad", "pred_emotion": "sad"},
    {"id": "b", "hypothesis": "that is great!", "reference": "that is great , congrats",
     "emotion": "proud", "pred_emotion": 5},
    {"id": "c", "hypothesis": "", "reference": "what happened ?", "emotion": "afraid", "pred_emotion": "afraid"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_tsv(path, header, rows):
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_jsonl(tmp_path):
    p = write_jsonl(tmp_path / "out.jsonl", ROWS)
    rows = load_outputs(p)
    assert [r["hypothesis"] for r in rows] == [r["hypothesis"] for r in ROWS]
    assert rows[1]["pred_emotion"] == 5 and rows[0]["id"] == "a"


def test_load_jsonl_optional_keys_and_blank_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"hypothesis": "a", "reference": "b"}\n\n{"hypothesis": "c", "reference": "d"}\n')
    rows = load_outputs(p)
    assert len(rows) == 2 and rows[0]["emotion"] is None and rows[0]["pred_emotion"] is None


def test_score_jsonl_matches_compute_metrics(tmp_path):
    p = write_jsonl(tmp_path / "out.jsonl", ROWS)
    got = score_file(p)
    want = compute_metrics(
        [r["hypothesis"] for r in ROWS],
        [r["reference"] for r in ROWS],
        gold_emotions=[r["emotion"] for r in ROWS],
        pred_emotions=[r["pred_emotion"] for r in ROWS],
    )
    assert got == want
    # row b: gold "proud", predicted index 5 = "sad" -> wrong; rows a and c are right
    assert got["acc"] == pytest.approx(100 * 2 / 3)


def test_tsv_equals_jsonl(tmp_path):
    header = ["id", "hypothesis", "reference", "emotion", "pred_emotion"]
    t = write_tsv(tmp_path / "out.tsv", header, [[r[k] for k in header] for r in ROWS])
    j = write_jsonl(tmp_path / "out.jsonl", ROWS)
    assert score_file(t) == score_file(j)
    rows = load_outputs(t)
    assert rows[2]["hypothesis"] == "" and rows[1]["pred_emotion"] == "5"


def test_tsv_without_labels(tmp_path):
    t = write_tsv(tmp_path / "out.tsv", ["reference", "hypothesis"], [["a b", "a b"], ["c", "d"]])
    out = score_file(t)
    assert "acc" not in out and out["bleu-1"] == pytest.approx(100 * 2 / 3)
    assert list(score_file(t, names=["dist-1"])) == ["dist-1"]


def test_sniff_unknown_extension(tmp_path):
    p = write_jsonl(tmp_path / "out.txt", ROWS[:1])
    assert load_outputs(p)[0]["id"] == "a"
    t = write_tsv(tmp_path / "out.dat", ["hypothesis", "reference"], [["a", "b"]])
    assert load_outputs(t)[0]["reference"] == "b"


def test_bad_json_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"hypothesis": "a", "reference": "b"}\n{"hypothesis": "a", \n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        load_outputs(p)


def test_missing_key_names_file_and_line(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"hypothesis": "a", "reference": "b"}\n\n{"hypothesis": "a"}\n')
    with pytest.raises(DataError, match=r"m\.jsonl:3: missing key 'reference'"):
        load_outputs(p)
    p.write_text('{"hypothesis": 3, "reference": "b"}\n')
    with pytest.raises(DataError, match=r"m\.jsonl:1: 'hypothesis' must be a string"):
        load_outputs(p)
    p.write_text('["a", "b"]\n')
    with pytest.raises(DataError, match=r"m\.jsonl:1: expected a JSON object"):
        load_outputs(p)


def test_tsv_errors(tmp_path):
    t = tmp_path / "w.tsv"
    t.write_text("hypothesis\treference\na\tb\nonly-one-field\n")
    with pytest.raises(DataError, match=r"w\.tsv:3: expected 2 tab-separated columns, got 1"):
        load_outputs(t)
    t.write_text("hyp\treference\na\tb\n")
    with pytest.raises(DataError, match=r"w\.tsv:1: .*missing column 'hypothesis'"):
        load_outputs(t)


def test_empty_and_missing_files(tmp_path):
    e = tmp_path / "e.jsonl"
    e.write_text("\n")
    with pytest.raises(DataError, match="no samples"):
        load_outputs(e)
    with pytest.raises(DataError, match="no such file"):
        load_outputs(tmp_path / "nope.jsonl")
    allempty = write_jsonl(tmp_path / "z.jsonl", [{"hypothesis": "", "reference": "a"}])
    with pytest.raises(DataError, match="empty"):
        score_file(allempty)


def test_partial_labels_and_ppl(tmp_path):
    rows = [dict(ROWS[0]), {"hypothesis": "x", "reference": "y", "emotion": "sad"}]
    p = write_jsonl(tmp_path / "p.jsonl", rows)
    with pytest.raises(DataError, match=r"p\.jsonl:2: .*pred_emotion"):
        score_file(p)
    assert "acc" not in score_file(p, names=["bleu-1"])
    with pytest.raises(DataError, match="ppl"):
        score_file(p, names=["ppl"])
    with pytest.raises(ConfigError):
        score_file(p, names=["nope"])


@pytest.mark.parametrize("fmt", ["jsonl", "tsv"])
def test_unknown_emotion_labels_are_rejected(tmp_path, fmt):
    rows = [{"hypothesis": "a", "reference": "a", "emotion": "sad", "pred_emotion": "sad"},
            {"hypothesis": "b", "reference": "b", "emotion": "hapy", "pred_emotion": "hapy"}]
    if fmt == "jsonl":
        p = write_jsonl(tmp_path / "out.jsonl", rows)
    else:
        header = ["hypothesis", "reference", "emotion", "pred_emotion"]
        p = write_tsv(tmp_path / "out.tsv", header, [[r[k] for k in header] for r in rows])
    with pytest.raises(DataError, match=r"out\.(jsonl|tsv):(2|3): unknown emotion label 'hapy' in 'emotion'"):
        score_file(p)


def test_emotion_labels_by_name_any_case_or_index_are_accepted(tmp_path):
    p = write_jsonl(tmp_path / "out.jsonl", [{"hypothesis": "a", "reference": "a", "emotion": " Sad ",
                                             "pred_emotion": 5}, {"hypothesis": "b", "reference": "b",
                                                                  "emotion": "31", "pred_emotion": "faithful"}])
    assert score_file(p, names=["acc"])["acc"] == 100.0
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"hypothesis": "a", "reference": "a", "emotion": "sad",
                                               "pred_emotion": 32}])
    with pytest.raises(DataError, match=r"bad\.jsonl:1: unknown emotion label 32 in 'pred_emotion'"):
        score_file(bad)
