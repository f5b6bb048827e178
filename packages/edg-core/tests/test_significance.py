"""Paired bootstrap significance (edg.metrics.significance, `edg score A --compare B`)."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from edg.cli import main
from edg.errors import ConfigError, DataError
from edg.metrics import compute_metrics
from edg.metrics.significance import (
    align,
    compare_files,
    metrics_from_weights,
    p_value,
    paired_bootstrap,
    sample_stats,
)

WORDS = "i am so sorry to hear that . oh no ! what happened ? that is great , congrats you must be proud".split()
EMOTIONS = ["sad", "proud", "afraid", "joyful"]


def corpus(seed: int, n: int = 60):
    rng = random.Random(seed)

    def sentence():
        k = rng.choice([0, 1, 2, 3, 5, 8, 12])
        return " ".join(rng.choice(WORDS) for _ in range(k))

    hyps = [sentence() for _ in range(n)]
    hyps[0] = "That is GREAT, congrats! you must be proud."  # clauses, case
    refs = [sentence() or "ok" for _ in range(n)]
    gold = [rng.choice(EMOTIONS) for _ in range(n)]
    pred = [rng.choice(EMOTIONS) for _ in range(n)]
    nll = [rng.uniform(0, 30) for _ in range(n)]
    tokens = [rng.randint(1, 12) for _ in range(n)]
    return hyps, refs, gold, pred, nll, tokens


def expected(hyps, refs, gold, pred, nll, tokens):
    return compute_metrics(hyps, refs, gold_emotions=gold, pred_emotions=pred, nll_sum=math.fsum(nll),
                           num_tokens=sum(tokens), allow_all_empty=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_give_the_evaluator_on_the_file_and_on_a_resample(seed):
    hyps, refs, gold, pred, nll, tokens = corpus(seed)
    stats = sample_stats(hyps, refs, gold=gold, pred=pred, nll=nll, tokens=tokens)
    want = expected(hyps, refs, gold, pred, nll, tokens)
    got = metrics_from_weights(stats, np.ones(len(hyps)), list(want))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    # a resample (duplicates included) is scored exactly as the evaluator scores that corpus
    idx = np.random.default_rng(seed).integers(0, len(hyps), size=len(hyps))
    weights = np.bincount(idx, minlength=len(hyps)).astype(float)
    want = expected(*([col[i] for i in idx] for col in (hyps, refs, gold, pred, nll, tokens)))
    got = metrics_from_weights(stats, weights, list(want))
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_identical_systems_differ_by_nothing():
    hyps, refs, gold, pred, nll, tokens = corpus(3)
    stats = sample_stats(hyps, refs, gold=gold, pred=pred, nll=nll, tokens=tokens)
    comp = paired_bootstrap(stats, stats, samples=200)
    assert [r.name for r in comp.rows] == ["ppl", "bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2",
                                           "dist-1-sent", "dist-2-sent", "sent-std", "top5", "acc"]
    for r in comp.rows:
        assert r.diff == 0 and r.ci_low == 0 and r.ci_high == 0 and r.p == 1.0


def test_a_clearly_better_system_is_significant_and_a_fixed_seed_repeats():
    hyps, refs, *_ = corpus(4, n=200)
    worse = sample_stats(hyps, refs)
    better = sample_stats(refs, refs)  # copies the references
    comp = paired_bootstrap(worse, better, ["bleu-4", "dist-1"], samples=300, seed=7)
    row = comp.row("bleu-4")
    # NLTK counts one 4-gram for a response shorter than 4 words: copies of short references miss
    assert row.b == pytest.approx(compute_metrics(refs, refs)["bleu-4"]) and row.diff > 50
    assert 0 < row.ci_low <= row.diff <= row.ci_high
    assert row.p == pytest.approx(2 / 301)
    again = paired_bootstrap(worse, better, ["bleu-4", "dist-1"], samples=300, seed=7)
    assert again == comp
    other = paired_bootstrap(worse, better, ["bleu-4", "dist-1"], samples=300, seed=8)
    assert other.row("bleu-4").ci_low != row.ci_low


def test_p_value_definition():
    # k = min(#{d <= 0}, #{d >= 0}); p = min(1, 2(k+1)/(N+1))
    assert p_value(np.array([1.0, 2.0, 3.0, -1.0])) == pytest.approx(2 * 2 / 5)
    assert p_value(np.array([1.0, 2.0, 0.0, 3.0])) == pytest.approx(2 * 2 / 5)
    assert p_value(np.array([-1.0, -2.0, -3.0])) == pytest.approx(2 / 4)
    assert p_value(np.zeros(9)) == 1.0
    assert p_value(np.array([1.0] * 999)) == pytest.approx(2 / 1000)


def test_metric_that_one_file_cannot_give_is_refused():
    hyps, refs, gold, pred, *_ = corpus(5)
    a = sample_stats(hyps, refs, gold=gold, pred=pred)
    b = sample_stats(hyps, refs)
    assert "acc" not in [r.name for r in paired_bootstrap(a, b, samples=5).rows]
    with pytest.raises(ConfigError, match="'acc' cannot be compared"):
        paired_bootstrap(a, b, ["acc"], samples=5)
    with pytest.raises(ConfigError, match="--samples"):
        paired_bootstrap(a, b, samples=0)


def rows(records):
    return [(i + 1, dict(r)) for i, r in enumerate(records)]


def test_align_by_id_reorders_and_names_what_differs():
    a = [{"id": "x", "hypothesis": "h1", "reference": "r one"}, {"id": "y", "hypothesis": "h2", "reference": "r two"}]
    b = [a[1] | {"hypothesis": "b2"}, a[0] | {"hypothesis": "b1", "reference": "R  ONE"}]
    aligned = align(rows(a), rows(b), "a.jsonl", "b.jsonl")
    assert [rec["hypothesis"] for _, rec in aligned] == ["b1", "b2"]
    with pytest.raises(DataError, match=r"^a.jsonl and b.jsonl cover different samples: 1 id\(s\) only in a.jsonl "
                                        r"\(first 'x', line 1\); 1 id\(s\) only in b.jsonl \(first 'z', line 2\)$"):
        align(rows(a), rows([b[0], b[1] | {"id": "z"}]), "a.jsonl", "b.jsonl")
    with pytest.raises(DataError, match=r"^a.jsonl:2 and b.jsonl:1: id 'y' have different references"):
        align(rows(a), rows([b[0] | {"reference": "other"}, b[1]]), "a.jsonl", "b.jsonl")
    with pytest.raises(DataError, match="different gold emotions"):
        align(rows([a[0] | {"emotion": "sad"}]), rows([a[0] | {"emotion": 0}]), "a", "b")  # index 0 = surprised
    with pytest.raises(DataError, match=r"b:2: id 'x' appears twice \(first on line 1\)"):
        align(rows(a), rows([a[0], a[0]]), "a", "b")
    no_ids = [{k: v for k, v in r.items() if k != "id"} for r in a]
    with pytest.raises(DataError, match="a has 2 samples but b has 1 .*line by line"):
        align(rows(no_ids), rows(no_ids[:1]), "a", "b")


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_compare_files_and_the_command(tmp_path, capsys):
    hyps, refs, gold, pred, nll, tokens = corpus(6, n=40)
    a = write(tmp_path / "a.jsonl", [{"id": str(i), "hypothesis": h, "reference": r, "emotion": g, "pred_emotion": p,
                                      "nll": x, "tokens": t}
                                     for i, (h, r, g, p, x, t) in enumerate(zip(hyps, refs, gold, pred, nll, tokens))])
    b = write(tmp_path / "b.jsonl", [{"id": str(i), "hypothesis": r, "reference": r, "emotion": g, "pred_emotion": g}
                                     for i, (r, g) in reversed(list(enumerate(zip(refs, gold))))])
    comp = compare_files(a, b, samples=100, seed=3)
    assert "ppl" not in [r.name for r in comp.rows]  # B has no nll
    assert comp.row("acc").b == 100.0
    assert comp.row("bleu-1").a == pytest.approx(compute_metrics(hyps, refs)["bleu-1"])
    assert main(["score", str(a), "--compare", str(b), "--samples", "100", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"A: {a}" in out and "| bleu-4 |" in out and "100 resamples" in out and "seed 3" in out
    acc = comp.row("acc")
    assert f"| acc | {acc.a:.2f} | 100.00 | {acc.diff:+.2f} | [{acc.ci_low:.2f}, {acc.ci_high:.2f}] |" in out
    assert main(["score", str(a), "--compare", str(b), "--metrics", "bleu-4", "--samples", "10"]) == 0
    assert "| bleu-1 |" not in capsys.readouterr().out
    assert main(["score", str(a), "--samples", "10"]) == 2
    assert "--samples, --seed and --compare-system are options of --compare" in capsys.readouterr().err
    write(tmp_path / "c.jsonl", [{"id": "0", "hypothesis": "x", "reference": refs[0]}])
    assert main(["score", str(a), "--compare", str(tmp_path / "c.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cover different samples: 39 id(s) only in" in err


def test_two_decodings_of_a_released_file(tmp_path, capsys):
    lines = []
    for greedy, beam, ref in [("oh no , i am sorry", "i am sorry", "i am so sorry"),
                              ("that is great", "great !", "that is great news"),
                              ("what happened ?", "oh no", "what happened to you ?")]:
        lines += ["emotion:sad\tvader-score: 0.1\tpredicted_emotion: sad", "Context:['hi']", f"Topk:{beam}",
                  f"Beam:{beam}", f"Greedy:{greedy}", f"Ref:{ref}", "-" * 30]
    log = tmp_path / "output.txt"
    log.write_text("\n".join(lines) + "\n")
    assert main(["score", str(log), "--system", "greedy", "--compare", str(log), "--compare-system", "beam",
                 "--samples", "20"]) == 0
    out = capsys.readouterr().out
    assert f"A: {log} (greedy)" in out and f"B: {log} (beam)" in out and "| acc | 100.00 | 100.00 | +0.00 |" in out
    comp = compare_files(log, log, ["bleu-1"], system="greedy", system_b="beam", samples=20)
    want_a = compute_metrics(["oh no , i am sorry", "that is great", "what happened ?"],
                             ["i am so sorry", "that is great news", "what happened to you ?"])["bleu-1"]
    assert comp.row("bleu-1").a == pytest.approx(want_a)
    assert main(["score", str(log), "--compare", str(log), "--variant", "dist-concat"]) == 2
    assert "--variant is not an option of --compare" in capsys.readouterr().err
    assert main(["score", str(log), "--compare-system", "beam"]) == 2
    assert "are options of --compare FILE_B" in capsys.readouterr().err
