"""Tests of the EmpatheticDialogues loaders (edg.data) on tiny hand-written files."""

from __future__ import annotations

import json
import tarfile
import warnings
from pathlib import Path

import pytest

from edg.data import (
    EMOTION_TO_ID,
    EMOTIONS,
    LISTENER_INTENTS,
    SAMPLE_COLUMNS,
    SAMPLE_DATA_DIR,
    load_splits,
    write_jsonl,
)
from edg.data import empathetic_dialogues as ed
from edg.errors import ConfigError, DataError, ResourceError

HEADER = "conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags"

# conversation c1 (5 turns, ends with the speaker) and c2 (2 turns)
TRAIN_LINES = [
    "c1,1,sad,My cat is ill_comma_ and I worry.,1,  My cat is sick_comma_ really sick.  ,,",
    'c1,2,sad,My cat is ill_comma_ and I worry.,2,Oh no. What did the "vet" say?,,',
    "c1,3,sad,My cat is ill_comma_ and I worry.,1,She needs surgery.,,",
    "c1,4,sad,My cat is ill_comma_ and I worry.,2,I'm so sorry. I hope she pulls through.,,",
    "c1,5,sad,My cat is ill_comma_ and I worry.,1,Thanks_comma_ me too.,,",
    "c2,1,proud,I ran a marathon.,1,I ran my first marathon!,,",
    "c2,2,proud,I ran a marathon.,2,Amazing_comma_ well done!,,",
]
OTHER_LINES = [
    "d1,1,faithful,I stayed loyal.,1,I kept my promise.,,",
    "d1,2,faithful,I stayed loyal.,2,That says a lot about you.,,",
]


def write_ed(directory: Path, train=TRAIN_LINES, valid=OTHER_LINES, test=OTHER_LINES, header=HEADER) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train", train), ("valid", valid), ("test", test)):
        (directory / f"{name}.csv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return directory


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return load_splits(cache_dir=tmp_path_factory.mktemp("sample-cache"))


# --------------------------------------------------------------------------- labels


def test_label_sets():
    assert len(EMOTIONS) == 32 and len(set(EMOTIONS)) == 32
    assert EMOTIONS[:3] == ("surprised", "excited", "annoyed")
    assert EMOTIONS[-1] == "faithful" and EMOTION_TO_ID["faithful"] == 31
    assert EMOTION_TO_ID["sad"] == 5 and EMOTION_TO_ID["proud"] == 3
    assert all(EMOTIONS[i] == e for e, i in EMOTION_TO_ID.items())
    assert len(LISTENER_INTENTS) == 9 and "questioning" in LISTENER_INTENTS


# --------------------------------------------------------------------------- sample


def test_sample_loads_and_covers_all_emotions(sample):
    assert SAMPLE_DATA_DIR.is_dir() and (SAMPLE_DATA_DIR / "train.csv").is_file()
    assert {k: len(v) for k, v in sample.items()} == {"train": 177, "valid": 26, "test": 29}
    assert set(sample["train"]["emotion"]) == set(EMOTIONS)
    for split, ds in sample.items():
        assert list(ds.column_names) == [*SAMPLE_COLUMNS, "context_labels", "target_label", *ed.SPEAKER_COLUMNS], split
        assert all(i.startswith("edg:") for i in ds["conv_id"])
        for row in ds.select(range(5)):
            assert row["roles"][-1] == "speaker" and row["turn"] % 2 == 0
            assert len(row["context_labels"]) == len(row["context"])
            assert row["target_label"] in LISTENER_INTENTS
            # the sample is a role-based copy: speaker_idx 1 for the speaker, 2 for the listener
            assert row["context_speakers"] == ["1" if r == "speaker" else "2" for r in row["roles"]]
            assert row["target_speaker"] == "2"
            assert row["emotion_id"] == EMOTION_TO_ID[row["emotion"]]
    text = " ".join(t for ds in sample.values() for t in ds["target"])
    assert "_comma_" not in text and "," in text
    # conversation ids are unique across splits
    convs = [set(ds["conv_id"]) for ds in sample.values()]
    assert not (convs[0] & convs[1]) and not (convs[0] & convs[2]) and not (convs[1] & convs[2])


# --------------------------------------------------------------------------- CSV semantics


def test_listener_targets_history_roles_and_text(tmp_path, cache):
    splits = load_splits(write_ed(tmp_path / "ed"), cache_dir=cache)
    train = splits["train"]
    # no utterance_labels.csv -> no label columns; the official layout always has speaker_idx
    assert list(train.column_names) == [*SAMPLE_COLUMNS, *ed.SPEAKER_COLUMNS]
    assert train["id"] == ["c1:2", "c1:4", "c2:2"]
    assert train["turn"] == [2, 4, 2]
    first, second, third = train[0], train[1], train[2]
    assert first["context"] == ["My cat is sick, really sick."]
    assert first["target"] == 'Oh no. What did the "vet" say?'  # quotes stay raw
    assert second["context"] == [
        "My cat is sick, really sick.",
        'Oh no. What did the "vet" say?',
        "She needs surgery.",
    ]
    assert second["roles"] == ["speaker", "listener", "speaker"]
    assert second["target"] == "I'm so sorry. I hope she pulls through."
    assert second["situation"] == "My cat is ill, and I worry."
    assert (second["emotion"], second["emotion_id"]) == ("sad", 5)
    assert (third["conv_id"], third["emotion"], third["emotion_id"]) == ("c2", "proud", 3)
    assert third["target"] == "Amazing, well done!"
    assert splits["valid"]["emotion_id"] == [31]
    assert len(splits["test"]) == 1


def test_roles_follow_utterance_idx_not_worker_ids(tmp_path, cache):
    # the original release stores worker ids in speaker_idx; roles come from utterance_idx parity
    lines = [
        "c1,1,sad,S.,417,one,,",
        "c1,2,sad,S.,12,two,,",
        "c1,3,sad,S.,417,three,,",
        "c1,4,sad,S.,12,four,,",
    ]
    # lines out of order are sorted by utterance_idx within the conversation
    train = load_splits(write_ed(tmp_path / "ed", train=lines[::-1]), cache_dir=cache)["train"]
    assert train["id"] == ["c1:2", "c1:4"]
    assert train[1]["context"] == ["one", "two", "three"]
    assert train[1]["roles"] == ["speaker", "listener", "speaker"]


def test_speakers_are_the_worker_ids_aligned_with_the_context(tmp_path, cache):
    # speaker_idx is kept verbatim (worker ids here), one per context utterance, sorted with it
    lines = [
        "c1,3,sad,S.,417,three,,",
        "c1,1,sad,S.,417,one,,",
        "c1,4,sad,S.,12,four,,",
        "c1,2,sad,S.,12,two,,",
        "c2,1,proud,P.,7,hello,,",
        "c2,2,proud,P.,8,hi,,",
    ]
    data = write_ed(tmp_path / "ed", train=lines)
    train = load_splits(data, cache_dir=cache)["train"]
    assert train["id"] == ["c1:2", "c1:4", "c2:2"]
    assert train["context_speakers"] == [["417"], ["417", "12", "417"], ["7"]]
    assert train["target_speaker"] == ["12", "12", "8"]
    for row in train:
        assert len(row["context_speakers"]) == len(row["context"]) == len(row["roles"])
    # windowing cuts the speakers with the context
    windowed = load_splits(data, context_window=2, cache_dir=cache)["train"]
    assert windowed[1]["context"] == ["two", "three"]
    assert windowed[1]["context_speakers"] == ["12", "417"] and windowed[1]["target_speaker"] == "12"
    one = load_splits(data, context_window=1, cache_dir=cache)["train"]
    assert one["context_speakers"] == [["417"], ["417"], ["7"]]


def test_context_window(tmp_path, cache):
    data = write_ed(tmp_path / "ed")
    train = load_splits(data, context_window=2, cache_dir=cache)["train"]
    assert train[1]["context"] == ['Oh no. What did the "vet" say?', "She needs surgery."]
    assert train[1]["roles"] == ["listener", "speaker"]
    assert train[1]["context_speakers"] == ["2", "1"]
    assert train[0]["context"] == ["My cat is sick, really sick."]
    one = load_splits(data, context_window=1, cache_dir=cache)["train"]
    assert one["context"] == [["My cat is sick, really sick."], ["She needs surgery."], ["I ran my first marathon!"]]
    with pytest.raises(ConfigError, match="context_window"):
        load_splits(data, context_window=0, cache_dir=cache)


def test_max_examples(tmp_path, cache):
    data = write_ed(tmp_path / "ed")
    splits = load_splits(data, max_examples=2, cache_dir=cache)
    assert splits["train"]["id"] == ["c1:2", "c1:4"] and len(splits["valid"]) == 1
    splits = load_splits(data, max_examples={"train": 1}, cache_dir=cache)
    assert splits["train"]["id"] == ["c1:2"] and len(splits["test"]) == 1
    with pytest.raises(ConfigError, match="dev"):
        load_splits(data, max_examples={"dev": 1}, cache_dir=cache)


def test_utterance_labels(tmp_path, cache):
    data = write_ed(tmp_path / "ed")
    rows = ["split,conv_id,utterance_idx,role,label"]
    roles = {1: "speaker", 0: "listener"}
    for split, lines in (("train", TRAIN_LINES), ("valid", OTHER_LINES), ("test", OTHER_LINES)):
        for line in lines:
            conv, idx = line.split(",")[:2]
            label = line.split(",")[2] if int(idx) % 2 else "questioning"
            rows.append(f"{split},{conv},{idx},{roles[int(idx) % 2]},{label}")
    (data / "utterance_labels.csv").write_text("\n".join(rows) + "\n")
    train = load_splits(data, cache_dir=cache)["train"]
    assert train[1]["context_labels"] == ["sad", "questioning", "sad"]
    assert train[1]["target_label"] == "questioning"
    # a label file lacking an utterance is an error naming it
    (data / "utterance_labels.csv").write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(DataError, match=r"utterance_labels.csv: no label for test conversation d1 utterance 2"):
        load_splits(data, cache_dir=cache)


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("bad_line", "pattern"),
    [
        ("c1,3,sad,prompt,1,too few", r"train\.csv line 4: expected 8 comma-separated fields, got 6"),
        ("c1,three,sad,prompt,1,x,,", r"train\.csv line 4: utterance_idx 'three' is not an integer"),
        ("c1,3,happyish,prompt,1,x,,", r"train\.csv line 4: unknown emotion label 'happyish'"),
        ("c1,2,sad,prompt,2,duplicate,,", r"train\.csv line 4: duplicate utterance_idx 2"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, cache, bad_line, pattern):
    data = write_ed(tmp_path / "ed", train=[*TRAIN_LINES[:2], bad_line, *TRAIN_LINES[3:]])
    with pytest.raises(DataError, match=pattern) as info:
        load_splits(data, cache_dir=cache)
    assert "\n" not in str(info.value)


def test_extra_fields_are_repaired_with_a_warning(tmp_path, cache):
    lines = list(TRAIN_LINES)
    lines[1] = lines[1][:-2] + ",5|5_comma,x,y"  # 9 fields: un-escaped commas in selfeval/tags
    lines[3] = lines[3] + ",extra"
    with pytest.warns(UserWarning, match=r"train\.csv: 2 line\(s\) had more than 8 comma-separated fields"):
        train = load_splits(write_ed(tmp_path / "ed", train=lines), cache_dir=cache)["train"]
    assert train["target"][:2] == ['Oh no. What did the "vet" say?', "I'm so sorry. I hope she pulls through."]


def test_missing_column_and_missing_file(tmp_path, cache):
    header = HEADER.replace("prompt", "situation")
    data = write_ed(tmp_path / "ed", header=header)
    with pytest.raises(DataError, match=r"train\.csv: missing required column 'prompt'"):
        load_splits(data, cache_dir=cache)
    data = write_ed(tmp_path / "ed2")
    (data / "valid.csv").unlink()
    with pytest.raises(DataError, match=r"ed2/valid\.csv: file not found"):
        load_splits(data, source="csv", cache_dir=cache)
    with pytest.raises(DataError, match="no such file"):
        load_splits(tmp_path / "nowhere", cache_dir=cache)
    with pytest.raises(DataError, match="found neither"):
        load_splits(data, cache_dir=cache)  # auto: neither complete csv nor jsonl
    with pytest.raises(ConfigError, match="source"):
        load_splits(data, source="parquet", cache_dir=cache)


# --------------------------------------------------------------------------- other inputs


def test_tar_gz_input(tmp_path, cache):
    data = write_ed(tmp_path / "src" / "empatheticdialogues")
    tar_path = tmp_path / "empatheticdialogues.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tf:
        tf.add(data, arcname="empatheticdialogues")
    from_tar = load_splits(tar_path, cache_dir=cache)
    from_dir = load_splits(data, cache_dir=cache)
    for split in ("train", "valid", "test"):
        assert from_tar[split].to_list() == from_dir[split].to_list()
    assert list((cache / "extracted").iterdir())
    # a directory holding the tarball or the extracted folder works too
    assert len(load_splits(tmp_path, source="csv", cache_dir=cache)["train"]) == 3
    assert len(load_splits(tmp_path / "src", cache_dir=cache)["train"]) == 3
    # errors inside an archive name the archive member and line
    bad = write_ed(tmp_path / "bad" / "empatheticdialogues", train=["c1,1,sad,p,1,short"])
    bad_tar = tmp_path / "bad.tar.gz"
    with tarfile.open(bad_tar, "w:gz") as tf:
        tf.add(bad, arcname="empatheticdialogues")
    with pytest.raises(DataError, match=r"bad\.tar\.gz:train\.csv line 2"):
        load_splits(bad_tar, cache_dir=cache)


def test_jsonl_round_trip_and_errors(tmp_path, cache, sample):
    out = write_jsonl(sample, tmp_path / "jsonl")
    back = load_splits(out, cache_dir=cache)  # auto detects jsonl
    for split in sample:
        assert back[split].to_list() == sample[split].to_list()
    assert back["train"]["context_speakers"] == sample["train"]["context_speakers"]
    assert back["train"]["target_speaker"] == sample["train"]["target_speaker"]
    windowed = load_splits(out, source="jsonl", context_window=1, cache_dir=cache)
    assert all(len(c) <= 1 for c in windowed["train"]["context"])
    assert windowed["train"][0]["context_labels"] == sample["train"][0]["context_labels"][-1:]
    for row in windowed["train"]:
        assert len(row["context_speakers"]) == len(row["context"]) == len(row["context_labels"])
    assert windowed["train"][1]["context_speakers"] == sample["train"][1]["context_speakers"][-1:]

    lines = (out / "valid.jsonl").read_text().splitlines()
    (out / "valid.jsonl").write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"valid\.jsonl line 2: invalid JSON"):
        load_splits(out, cache_dir=cache)
    row = json.loads(lines[0])
    del row["situation"]
    (out / "valid.jsonl").write_text("\n".join([lines[0], json.dumps(row)]) + "\n")
    with pytest.raises(DataError, match=r"valid\.jsonl line 2: missing key\(s\) situation"):
        load_splits(out, cache_dir=cache)
    row = json.loads(lines[0]) | {"emotion_id": 0}
    (out / "valid.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"valid\.jsonl line 1: emotion_id 0 does not match"):
        load_splits(out, cache_dir=cache)


def test_hf_source_offline_is_a_resource_error(monkeypatch, cache):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'facebook/empathetic_dialogues' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ResourceError, match="facebook/empathetic_dialogues") as info:
        load_splits(source="hf", cache_dir=cache)
    assert "\n" not in str(info.value)


def test_hf_rows_are_converted_through_the_csv_reader(monkeypatch, tmp_path, cache):
    import datasets

    def rows(lines):
        cols = ed.CSV_COLUMNS
        parts = [line.split(",") for line in lines]
        data = {c: [p[i] for p in parts] for i, c in enumerate(cols)}
        data["utterance_idx"] = [int(x) for x in data["utterance_idx"]]
        data["speaker_idx"] = [int(x) for x in data["speaker_idx"]]
        data["tags"] = ["a,b"] * len(lines)  # raw commas in a field are re-escaped
        return datasets.Dataset.from_dict(data)

    hub = datasets.DatasetDict(
        {"train": rows(TRAIN_LINES), "validation": rows(OTHER_LINES), "test": rows(OTHER_LINES)}
    )
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: hub)
    splits = load_splits(source="hf", cache_dir=cache)
    expected = load_splits(write_ed(tmp_path / "ed"), cache_dir=cache)
    assert splits["train"].to_list() == expected["train"].to_list()
    # the hub's integer speaker_idx survives the export as the same strings
    assert splits["train"]["context_speakers"][1] == ["1", "2", "1"]


# --------------------------------------------------------------------------- caching


def test_second_load_reuses_the_cache(tmp_path, cache, monkeypatch):
    data = write_ed(tmp_path / "ed")
    first = load_splits(data, cache_dir=cache)
    files = {s: [f["filename"] for f in ds.cache_files] for s, ds in first.items()}
    assert all(files.values()) and all(str(cache) in f for fs in files.values() for f in fs)
    mtimes = {f: Path(f).stat().st_mtime_ns for fs in files.values() for f in fs}

    def must_not_run(*args, **kwargs):
        raise AssertionError("CSV parsed again: cache not reused")

    monkeypatch.setattr(ed, "_csv_conversations", must_not_run)
    monkeypatch.setattr(ed, "_conversations_to_samples", must_not_run)
    second = load_splits(data, cache_dir=cache)
    assert {s: [f["filename"] for f in ds.cache_files] for s, ds in second.items()} == files
    assert {f: Path(f).stat().st_mtime_ns for f in mtimes} == mtimes
    assert second["train"].to_list() == first["train"].to_list()

    # editing a file invalidates the cache
    monkeypatch.undo()
    write_ed(data, train=TRAIN_LINES[:2])
    assert load_splits(data, cache_dir=cache)["train"]["id"] == ["c1:2"]


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EDG_CACHE", str(tmp_path))
    assert ed.default_cache_dir() == tmp_path / "datasets"
    monkeypatch.delenv("EDG_CACHE")
    assert ed.default_cache_dir() == Path.home() / ".cache" / "edg" / "datasets"


def test_no_warnings_on_clean_data(tmp_path, cache):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*comma-separated.*")
        load_splits(write_ed(tmp_path / "ed"), cache_dir=cache)


def test_lines_split_on_newlines_only(tmp_path, cache):
    # like the official readers: \u2028 or \x1c inside an utterance do not end the line
    lines = ["c1,1,sad,p,1,first\u2028part\x1cstill first,,", "c1,2,sad,p,2,reply,,"]
    train = load_splits(write_ed(tmp_path / "ed", train=lines), cache_dir=cache)["train"]
    assert train[0]["context"] == ["first\u2028part\x1cstill first"]


def _drop_speakers(splits):
    return {split: ds.remove_columns(list(ed.SPEAKER_COLUMNS)) for split, ds in splits.items()}


def test_jsonl_without_speakers_round_trips(tmp_path, cache, sample):
    plain = _drop_speakers(sample)
    out = write_jsonl(plain, tmp_path / "jsonl")
    assert "target_speaker" not in (out / "train.jsonl").read_text()
    back = load_splits(out, source="jsonl", cache_dir=cache)
    for split in sample:
        assert list(back[split].column_names) == [*SAMPLE_COLUMNS, "context_labels", "target_label"]
        assert back[split].to_list() == plain[split].to_list()
    windowed = load_splits(out, source="jsonl", context_window=1, cache_dir=cache)
    assert "context_speakers" not in windowed["train"].column_names
    assert all(len(c) <= 1 for c in windowed["train"]["context"])
    # and speakers without labels
    only_speakers = {s: ds.remove_columns(["context_labels", "target_label"]) for s, ds in sample.items()}
    back = load_splits(write_jsonl(only_speakers, tmp_path / "speakers"), source="jsonl", cache_dir=cache)
    assert list(back["train"].column_names) == [*SAMPLE_COLUMNS, *ed.SPEAKER_COLUMNS]
    assert back["train"].to_list() == only_speakers["train"].to_list()


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda r: r.pop("target_speaker"), r"line 2: context_speakers and target_speaker must appear together"),
        (lambda r: r.pop("context_speakers"), r"line 2: context_speakers and target_speaker must appear together"),
        (lambda r: [r.pop(c) for c in ed.SPEAKER_COLUMNS],
         r"line 2: context_speakers/target_speaker absent here but present on the first line"),
        (lambda r: r.update(target_speaker=2), r"line 2: target_speaker must be str, got int"),
        (lambda r: r.update(context_speakers=[1] * len(r["context"])),
         r"line 2: context_speakers must be a list of strings"),
        (lambda r: r.update(context_speakers=[*r["context_speakers"], "9"]),
         r"line 2: context_speakers has \d+ item\(s\) but context has \d+"),
    ],
)
def test_malformed_speaker_pair_names_file_and_line(tmp_path, cache, sample, edit, pattern):
    out = write_jsonl(sample, tmp_path / "jsonl")
    lines = (out / "valid.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    edit(row)
    (out / "valid.jsonl").write_text("\n".join([lines[0], json.dumps(row), *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"valid\.jsonl " + pattern) as info:
        load_splits(out, cache_dir=cache)
    assert "\n" not in str(info.value)


def test_speakers_on_a_later_line_only_are_an_error(tmp_path, cache, sample):
    out = write_jsonl(_drop_speakers(sample), tmp_path / "jsonl")
    lines = (out / "test.jsonl").read_text().splitlines()
    row = json.loads(lines[2])
    row |= {"context_speakers": ["1"] * len(row["context"]), "target_speaker": "2"}
    (out / "test.jsonl").write_text("\n".join([*lines[:2], json.dumps(row), *lines[3:]]) + "\n")
    with pytest.raises(DataError, match=r"test\.jsonl line 3: context_speakers/target_speaker present here but absent"):
        load_splits(out, cache_dir=cache)
