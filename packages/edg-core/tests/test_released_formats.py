"""Importers of released EDG outputs (edg.metrics.released_formats): golden figures on the real
releases of MIME and KEMP in ../shared/data/published_outputs, and hand-made files of the MoEL,
CEM, KEMP/EmpDG and EmpDG-JSON formats in tests/data/released."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edg.errors import ConfigError, DataError
from edg.metrics.released_formats import detect_format, read_outputs, read_released
from edg.metrics.scoring import score_outputs
from edg.metrics.variants import score_variants
from edg.testing import require_shared

DATA = Path(__file__).parent / "data" / "released"


@pytest.fixture(scope="module")
def mime_file():
    return require_shared("published_outputs/mime_output.txt")


@pytest.fixture(scope="module")
def kemp_file():
    return require_shared("published_outputs/kemp_KEMP.txt")


# --- golden figures of the real releases -------------------------------------------------------

@pytest.mark.parametrize("system, header_key, printed", [("greedy", "Bleu_g", 2.76), ("beam", "Bleu_b", 3.13),
                                                         ("topk", "Bleu_t", 1.76)])
def test_mime_gives_its_headers_bleu(mime_file, system, header_key, printed):
    released = read_released(mime_file, system=system)
    assert released.format == "mime" and released.system == system
    assert released.systems == ("greedy", "beam", "topk")
    assert len(released.rows) == 5255
    assert released.reported[header_key] == f"{printed:.2f}"
    bleu4 = score_variants(released.records, ["bleu-corpus-nosmooth"])["bleu-corpus-nosmooth:bleu-4"]
    assert round(bleu4, 2) == printed


def test_mime_emotions_and_predictions_give_its_accuracy(mime_file):
    released = read_released(mime_file)
    assert released.system == "greedy"  # the default decoding
    first = released.records[0]
    assert first["emotion"] == "guilty" and first["pred_emotion"] == "terrified"
    assert first["context"][0].startswith("yeah about 10 years ago")
    assert first["reference"] == "did you suffer any injuries ?"
    acc = score_outputs(mime_file, names=["acc"]).metrics["acc"]
    assert round(acc / 100, 4) == float(released.reported["Accuracy"])  # 0.3488


def test_kemp_gives_what_cal_metrics_prints_with_the_quirk(kemp_file):
    released = read_released(kemp_file, quirks=True)
    assert released.format == "pred-ref" and len(released.rows) == 5255
    got = score_variants(released.records, ["bleu-corpus-nosmooth", "dist-concat"])
    assert round(got["bleu-corpus-nosmooth:bleu-1"], 2) == 17.34
    assert round(got["bleu-corpus-nosmooth:bleu-2"], 2) == 7.50
    assert round(got["bleu-corpus-nosmooth:bleu-4"], 2) == 2.44
    assert round(got["dist-concat:dist-1"], 2) == 0.61
    assert round(got["dist-concat:dist-2"], 2) == 2.65


def test_kemp_quirk_changes_exactly_the_texts_starting_with_prefix_letters(kemp_file):
    plain = read_released(kemp_file).records
    quirky = read_released(kemp_file, quirks=True).records
    hyp_changed = [(a["hypothesis"], b["hypothesis"]) for a, b in zip(plain, quirky) if a["hypothesis"] != b["hypothesis"]]
    ref_changed = [(a["reference"], b["reference"]) for a, b in zip(plain, quirky) if a["reference"] != b["reference"]]
    # a text changes iff it starts with a character of the prefix; then exactly those are cut
    assert all(a[0] in "Pred:" and a.lstrip("Pred:").strip() == b for a, b in hyp_changed)
    assert sum(1 for r in plain if r["hypothesis"][:1] in set("Pred:")) == len(hyp_changed) == 3
    assert all(a[0] in "Ref:" and a.lstrip("Ref:").strip() == b for a, b in ref_changed)
    assert sum(1 for r in plain if r["reference"][:1] in set("Ref:")) == len(ref_changed) == 52
    assert ("dogs are so much fun", "ogs are so much fun") in hyp_changed
    # the printed Dist-1 (0.61) needs the quirk: the exact parse gives 0.60
    dist = score_variants(plain, ["dist-concat"])
    assert round(dist["dist-concat:dist-1"], 2) == 0.60


def test_kemp_score_reports_the_parsing(kemp_file):
    scores = score_outputs(kemp_file, quirks=True, variants=["bleu-corpus-nosmooth"])
    assert "as pred-ref" in scores.parsing and "quirks on" in scores.parsing
    assert "line.strip('Pred:')" in scores.parsing
    assert scores.variants == ("bleu-corpus-nosmooth",)
    assert round(scores.metrics["bleu-corpus-nosmooth:bleu-4"], 2) == 2.44
    assert "quirks off" in score_outputs(kemp_file).parsing


# --- hand-made files of each format ------------------------------------------------------------

def test_detection_by_content():
    assert detect_format(DATA / "moel_generation_result.txt") == "moel"
    assert detect_format(DATA / "cem_results.txt") == "mime"
    assert detect_format(DATA / "pred_ref.txt") == "pred-ref"
    assert detect_format(DATA / "empdg_models_result.json") == "empdg-json"


def test_moel_per_system_lines():
    released = read_released(DATA / "moel_generation_result.txt", system="moe")  # case-insensitive
    assert released.system == "MOE"
    assert released.systems == ("trs", "trs+multitask", "MOE", "MOE+oracle")
    recs = released.records
    assert len(recs) == 3
    assert recs[0]["hypothesis"] == "that is awesome ! you must be so proud of her ."
    assert recs[0]["reference"] == "wow , that is a big deal ! how did she do ?"
    assert recs[0]["emotion"] == "proud" and recs[0]["system"] == "MOE"
    assert recs[1]["context"][2] == "i grabbed a bat and went to check : it was the cat ."
    assert read_outputs(DATA / "moel_generation_result.txt", system="trs+multitask")[1]["hypothesis"] == "that is scary !"


def test_moel_needs_a_system():
    with pytest.raises(ConfigError, match="trs, trs\\+multitask, MOE, MOE\\+oracle; choose one with --system"):
        read_released(DATA / "moel_generation_result.txt")
    with pytest.raises(ConfigError, match="no system 'moel'"):
        read_released(DATA / "moel_generation_result.txt", system="moel")


def test_cem_log_header_decodings_and_quirk():
    released = read_released(DATA / "cem_results.txt", format="cem")
    assert released.format == "mime" and released.system == "greedy" and released.systems == ("greedy", "beam")
    assert released.reported == {"header": "EVAL Loss PPL Accuracy", "values": "3.5012 33.1510 0.0000 0.3912"}
    recs = released.records
    assert [r["hypothesis"] for r in recs] == ["great ! did you swim ?", "dear me , that is so sad ."]
    assert [r["emotion"] for r in recs] == ["joyful", "sad"] and recs[0]["pred_emotion"] is None
    assert read_outputs(DATA / "cem_results.txt", system="BEAM")[1]["hypothesis"] == "i am so sorry for your loss ."
    # CEM's evaluate.py: line.strip("Greedy:") also eats the 'd', 'e' of "dear"
    quirky = read_outputs(DATA / "cem_results.txt", quirks=True)
    assert [r["hypothesis"] for r in quirky] == ["great ! did you swim ?", "ar me , that is so sad ."]


def test_pred_ref_quirk_on_hand_made_file():
    plain = read_outputs(DATA / "pred_ref.txt")
    quirky = read_outputs(DATA / "pred_ref.txt", format="kemp", quirks=True)
    assert [r["hypothesis"] for r in plain] == ["red letter day ! that is so kind of them .",
                                                 "that is so rude . did you say anything ?",
                                                 "dream big ! i am sure you will do great ."]
    assert [r["hypothesis"] for r in quirky] == ["letter day ! that is so kind of them .",
                                                  "that is so rude . did you say anything ?",
                                                  "am big ! i am sure you will do great ."]
    assert plain[1]["reference"] == "feel free to leave a note next time ."
    assert quirky[1]["reference"] == "l free to leave a note next time ."
    assert [r["emotion"] for r in plain] == ["grateful", "annoyed", "hopeful"]


def test_empdg_json_systems():
    released = read_released(DATA / "empdg_models_result.json", system="empdg")
    assert released.format == "empdg-json" and released.systems == ("transformer", "empDG")
    assert released.records[1] == {**released.records[1], "hypothesis": "congratulations ! you must be proud .",
                                   "reference": "congrats ! you earned it ."}
    assert "already cut" in read_released(DATA / "empdg_models_result.json", system="transformer", quirks=True).quirks_note
    with pytest.raises(ConfigError, match="choose one with --system"):
        read_released(DATA / "empdg_models_result.json")


def test_empdg_json_length_mismatch(tmp_path):
    p = tmp_path / "models_result.json"
    p.write_text(json.dumps({"ref": ["a b", "c d"], "x": ["a b"]}), encoding="utf-8")
    with pytest.raises(DataError, match=r"models_result.json:1: system 'x' has 1 responses but 'ref' has 2"):
        read_released(p)


def test_jsonl_still_read_as_before(tmp_path):
    p = tmp_path / "out.json"
    p.write_text(json.dumps({"hypothesis": "a b", "reference": "a b c"}) + "\n", encoding="utf-8")
    released = read_released(p)
    assert released.format == "jsonl" and released.records[0]["hypothesis"] == "a b"
    assert score_outputs(p).parsing == ""  # edg's own format with the defaults: nothing to say
    assert "quirks: no effect on edg's own formats" in score_outputs(p, quirks=True).parsing


# --- errors name file:line ---------------------------------------------------------------------

def test_ref_without_pred(tmp_path):
    p = tmp_path / "kemp.txt"
    p.write_text("Pred:a b\nRef:a b\nEmotion:sad\nRef:c d\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"kemp.txt:4: 'Ref:' without a 'Pred:' line"):
        read_released(p)


def test_truncated_block(tmp_path):
    p = tmp_path / "mime.txt"
    p.write_text("emotion:sad\nGreedy:a b\nRef:a b\n-----------------\nemotion:sad\nGreedy:c\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"mime.txt:6: 'Greedy:' line without a 'Ref:' line"):
        read_released(p)


def test_missing_decoding_in_a_block(tmp_path):
    p = tmp_path / "mime.txt"
    p.write_text("Beam:x\nGreedy:a b\nRef:a b\n---------------\nGreedy:c\nRef:c\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"mime.txt:6: 'Ref:' without a 'Beam:' line"):
        read_released(p, system="beam")


def test_unknown_emotion_label(tmp_path):
    p = tmp_path / "kemp.txt"
    p.write_text("Emotion:sadd\nPred:a\nRef:a\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"kemp.txt:1: unknown emotion label 'sadd'"):
        read_released(p)


def test_option_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown outputs format 'moel2'"):
        read_released(DATA / "pred_ref.txt", format="moel2")
    with pytest.raises(ConfigError, match="holds one system"):
        read_released(DATA / "pred_ref.txt", system="x")
    with pytest.raises(ConfigError, match="has no ids"):
        score_outputs(DATA / "pred_ref.txt", data=tmp_path)


# --- the command line --------------------------------------------------------------------------

def test_cli_score_released_file(capsys):
    from edg.cli import main

    assert main(["score", str(DATA / "cem_results.txt"), "--system", "beam", "--quirks",
                 "--variant", "bleu-corpus-nosmooth", "--variant", "dist-concat,dist-sent"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"read {DATA / 'cem_results.txt'} as mime") and "system 'beam' of greedy, beam" in out[0]
    assert "quirks on" in out[0]
    assert out[1] == "| metric | value | definition |"
    assert "| variant | metric | value | definition |" in out
    rows = [line for line in out if line.startswith("| dist-concat | dist-2 |")]
    assert len(rows) == 1
    assert out[-1] == f"scored 2 samples of {DATA / 'cem_results.txt'}"


def test_cli_default_output_unchanged(tmp_path, capsys):
    from edg.cli import main

    p = tmp_path / "out.jsonl"
    p.write_text(json.dumps({"hypothesis": "a b c", "reference": "a b d"}) + "\n", encoding="utf-8")
    assert main(["score", str(p)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| metric | value | definition |"
    assert not any(":" in line.split("|")[1] for line in out if line.startswith("| ") and "metric" not in line)
    assert out[-1] == f"scored 1 samples of {p}"


def test_cli_errors(capsys):
    from edg.cli import main

    assert main(["score", str(DATA / "moel_generation_result.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "choose one with --system" in err
    assert main(["score", str(DATA / "pred_ref.txt"), "--variant", "bleu-typo"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--variant: unknown metric variant 'bleu-typo'" in err
