"""ConceptNet's assertions file read by edg-baselines (KEMP's graph), on hand-made files in
ConceptNet's CSV layout."""

from __future__ import annotations

import gzip
import json

import pytest

from edg.errors import DataError, ResourceError
from edg_baselines.conceptnet_assertions import read_conceptnet_neighbours


def _line(relation: str, start: str, end: str, weight=1.0, info=None) -> str:
    info = json.dumps({"dataset": "/d/test", "weight": weight}) if info is None else info
    return "\t".join([f"/a/[/r/{relation}/,{start}/,{end}/]", f"/r/{relation}", start, end, info])


def _write(tmp_path, lines, name="assertions.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_edges_are_read_in_both_directions_and_filtered(tmp_path):
    path = _write(tmp_path, [
        _line("RelatedTo", "/c/en/dog", "/c/en/puppy/n", 2.0),
        _line("CapableOf", "/c/en/dog", "/c/en/bark", 1.0),
        _line("RelatedTo", "/c/en/dog", "/c/en/cat", 0.5),            # below the confidence threshold
        _line("Antonym", "/c/en/dog", "/c/en/cat", 3.0),              # a removed relation
        _line("RelatedTo", "/c/fr/chien", "/c/en/dog", 3.0),          # another language
        _line("RelatedTo", "/c/en/hot_dog", "/c/en/dog", 3.0),        # a multi-word term
        _line("RelatedTo", "/c/en/dog", "/c/en/dog", 3.0),            # a self loop
        _line("dbpedia/genre", "/c/en/dog", "/c/en/rock", 3.0),       # /r/dbpedia/... is "dbpedia"
        _line("ExternalURL", "/c/en/dog", "http://dbpedia.org/resource/Dog", 1.0),  # not a concept
    ])
    table = read_conceptnet_neighbours(path, min_weight=1.0, removed_relations=["Antonym", "dbpedia"])
    assert table == {
        "dog": [("puppy", "RelatedTo", 2.0), ("bark", "CapableOf", 1.0)],
        "puppy": [("dog", "RelatedTo", 2.0)],
        "bark": [("dog", "CapableOf", 1.0)],
    }
    # only the wanted words' entries, but their neighbours may be any word
    assert read_conceptnet_neighbours(path, words=["puppy"]) == {"puppy": [("dog", "RelatedTo", 2.0)]}
    assert set(read_conceptnet_neighbours(path, min_weight=0.5)["dog"]) == {
        ("puppy", "RelatedTo", 2.0), ("bark", "CapableOf", 1.0), ("cat", "Antonym", 3.0), ("rock", "dbpedia", 3.0)}


def test_gzip_files_are_read(tmp_path):
    path = tmp_path / "conceptnet-assertions-5.7.0.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(_line("RelatedTo", "/c/en/party", "/c/en/fun", 2.0) + "\n")
    assert read_conceptnet_neighbours(path)["fun"] == [("party", "RelatedTo", 2.0)]


def test_a_missing_file_says_where_to_get_conceptnet(tmp_path):
    with pytest.raises(ResourceError, match=r"not found: .*nothere.csv.*conceptnet-assertions-5.7.0.csv.gz.*my.key"):
        read_conceptnet_neighbours(tmp_path / "nothere.csv", key="my.key")


@pytest.mark.parametrize("bad, message", [
    ("/a/x\t/r/RelatedTo\t/c/en/a\t/c/en/b", r"expected 5 tab-separated fields .* got 4"),
    (_line("RelatedTo", "/c/en/a", "/c/en/b", info="{weight: 1"), r"fifth field \(edge info\) is not JSON"),
    (_line("RelatedTo", "/c/en/a", "/c/en/b", info='{"dataset": "/d/x"}'), r"no numeric 'weight'"),
    (_line("RelatedTo", "/c/en/a", "/c/en/b", info='{"weight": "high"}'), r"no numeric 'weight'"),
    (_line("RelatedTo", "en/a", "/c/en/b"), r"expected a concept URI /c/<language>/<term>"),
    ("/a/x\trelated\t/c/en/a\t/c/en/b\t{\"weight\": 1}", r"expected a relation URI /r/<Name>"),
])
def test_malformed_lines_are_one_line_errors_naming_file_and_line(tmp_path, bad, message):
    path = _write(tmp_path, [_line("RelatedTo", "/c/en/dog", "/c/en/puppy", 2.0), bad])
    with pytest.raises(DataError, match=message) as info:
        read_conceptnet_neighbours(path)
    assert str(info.value).startswith(f"{path}:2: ") and "\n" not in str(info.value)
