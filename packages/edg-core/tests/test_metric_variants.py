"""Named metric variants (edg.metrics.variants): each against NLTK/sacreBLEU or values worked
out by hand, the selection rules (edg score, eval.variants) and the default staying as it was."""

from __future__ import annotations

import json
import math
import random
import warnings

import pytest
from edg.errors import ConfigError, DataError
from edg.metrics import compute_metrics
from edg.metrics.scoring import score_outputs
from edg.metrics.variants import VARIANTS, check_variants, resolve_variants, score_variants

WORDS = "i am so sorry to hear that . what happened ? oh no that is great you must be proud".split()


def records(pairs, **extra):
    return [{"hypothesis": h, "reference": r, **extra} for h, r in pairs]


def random_pairs(seed: int, n: int = 60, min_len: int = 0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(max(1, min_len), 12))]
        hyp = [w if rng.random() < 0.6 else rng.choice(WORDS) for w in ref[: rng.randint(min_len, len(ref) + 2)]]
        out.append((" ".join(hyp), " ".join(ref)))
    return out


# --- BLEU variants against NLTK ----------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corpus_method1_is_the_default_and_nltk(seed):
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    pairs = random_pairs(seed)
    got = score_variants(records(pairs), ["bleu-corpus-method1"])
    default = compute_metrics([h for h, _ in pairs], [r for _, r in pairs], names=["bleu-1", "bleu-2", "bleu-3", "bleu-4"])
    hyps, refs = [h.split() for h, _ in pairs], [[r.split()] for _, r in pairs]
    for n in range(1, 5):
        assert got[f"bleu-corpus-method1:bleu-{n}"] == pytest.approx(default[f"bleu-{n}"], abs=1e-12)
        want = corpus_bleu(refs, hyps, weights=tuple([1 / n] * n), smoothing_function=SmoothingFunction().method1)
        assert got[f"bleu-corpus-method1:bleu-{n}"] == pytest.approx(100 * want, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
def test_individual_orders_against_nltk(seed):
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    pairs = random_pairs(seed)
    got = score_variants(records(pairs), ["bleu-corpus-individual-method1"])
    hyps, refs = [h.split() for h, _ in pairs], [[r.split()] for _, r in pairs]
    for n in range(1, 5):
        weights = tuple([0.0] * (n - 1) + [1.0])
        want = corpus_bleu(refs, hyps, weights=weights, smoothing_function=SmoothingFunction().method1)
        assert got[f"bleu-corpus-individual-method1:bleu-{n}"] == pytest.approx(100 * want, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 4])
def test_sentence_average_method1_against_nltk(seed):
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    pairs = random_pairs(seed)
    got = score_variants(records(pairs), ["bleu-sentavg-method1"])
    for n in range(1, 5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = [sentence_bleu([r.split()], h.split(), weights=tuple([1 / n] * n),
                                  smoothing_function=SmoothingFunction().method1) for h, r in pairs]
        assert got[f"bleu-sentavg-method1:bleu-{n}"] == pytest.approx(100 * sum(want) / len(want), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 5])
def test_corpus_nosmooth_against_nltk_without_smoothing(seed):
    """With every hypothesis at least 4 tokens long NLTK's denominators are those of
    multi-bleu.perl and TF-NMT compute_bleu, so unsmoothed NLTK is an oracle."""
    from nltk.translate.bleu_score import corpus_bleu

    pairs = random_pairs(seed, min_len=4)
    got = score_variants(records(pairs), ["bleu-corpus-nosmooth"])
    hyps, refs = [h.split() for h, _ in pairs], [[r.split()] for _, r in pairs]
    for n in range(1, 5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = corpus_bleu(refs, hyps, weights=tuple([1 / n] * n))
        assert got[f"bleu-corpus-nosmooth:bleu-{n}"] == pytest.approx(100 * want, abs=1e-9)


# --- BLEU variants by hand ---------------------------------------------------------------------

def test_nosmooth_by_hand_short_hypothesis():
    # hyp "the cat sat" vs ref "the cat sat on the mat": p1 = p2 = p3 = 1, no 4-gram in the
    # hypothesis (adds 0 to the denominator: p4 = 0/0 -> 0); BP = exp(1 - 6/3)
    got = score_variants(records([("the cat sat", "the cat sat on the mat")]), ["bleu-corpus-nosmooth"])
    bp = math.exp(1 - 6 / 3)
    assert got["bleu-corpus-nosmooth:bleu-1"] == pytest.approx(100 * bp)
    assert got["bleu-corpus-nosmooth:bleu-3"] == pytest.approx(100 * bp)
    assert got["bleu-corpus-nosmooth:bleu-4"] == 0.0
    # method1 counts a denominator of 1 there and smooths: p4 = 0.1 / 1
    m1 = score_variants(records([("the cat sat", "the cat sat on the mat")]), ["bleu-corpus-method1"])
    assert m1["bleu-corpus-method1:bleu-4"] == pytest.approx(100 * bp * math.exp(math.log(0.1) / 4))


def test_sentence_average_nosmooth_and_precisions_by_hand():
    pairs = [("a b c d", "a b c d"),  # every precision 1, BLEU 1
             ("a b x y", "a b c d")]  # p1 = 2/4, p2 = 1/3, p3 = p4 = 0 -> BLEU-2 = sqrt(1/2 * 1/3), BLEU-3 = 0
    got = score_variants(records(pairs), ["bleu-sentavg-nosmooth", "ngram-precision-sentavg"])
    assert got["bleu-sentavg-nosmooth:bleu-1"] == pytest.approx(100 * (1 + 0.5) / 2)
    assert got["bleu-sentavg-nosmooth:bleu-2"] == pytest.approx(100 * (1 + math.sqrt(0.5 / 3)) / 2)
    assert got["bleu-sentavg-nosmooth:bleu-3"] == pytest.approx(50.0)
    assert got["ngram-precision-sentavg:p-1"] == pytest.approx(100 * (1 + 2 / 4) / 2)
    assert got["ngram-precision-sentavg:p-2"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    assert got["ngram-precision-sentavg:p-4"] == pytest.approx(50.0)


def test_bleu_of_empty_hypotheses_is_zero():
    got = score_variants(records([("", "a b"), ("", "c")]), ["bleu-corpus-nosmooth", "bleu-sentavg-method1",
                                                              "bleu-corpus-method1", "ngram-precision-sentavg"])
    assert set(got.values()) == {0.0}


def test_sacrebleu_is_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    pairs = random_pairs(7)
    got = score_variants(records(pairs), ["sacrebleu"])
    want = sacrebleu.corpus_bleu([h for h, _ in pairs], [[r for _, r in pairs]]).score
    assert got == {"sacrebleu:bleu-4": pytest.approx(want, abs=1e-9)}


# --- Distinct and perplexity -------------------------------------------------------------------

def test_distinct_variants_by_hand():
    # concatenated bigrams: "a"+"bc" == "ab"+"c"; as token pairs they differ
    recs = records([("ab c", "x"), ("a bc", "x"), ("a a a", "x")])
    got = score_variants(recs, ["dist-corpus", "dist-sent", "dist-concat"])
    assert got["dist-concat:dist-1"] == pytest.approx(100 * 4 / 7)  # ab c a bc: 4 distinct of 7
    assert got["dist-corpus:dist-1"] == pytest.approx(100 * 4 / 7)
    assert got["dist-concat:dist-2"] == pytest.approx(100 * 2 / 4)  # "abc", "abc", "aa", "aa"
    assert got["dist-corpus:dist-2"] == pytest.approx(100 * 3 / 4)  # (ab,c) (a,bc) (a,a) (a,a)
    assert got["dist-sent:dist-1"] == pytest.approx(100 * (1 + 1 + 1 / 3) / 3)
    assert got["dist-sent:dist-2"] == pytest.approx(100 * (1 + 1 + 1 / 2) / 3)


def test_ppl_variants_by_hand():
    recs = [{"hypothesis": "a", "reference": "a", "nll": 2.0, "tokens": 2},
            {"hypothesis": "b", "reference": "b", "nll": 6.0, "tokens": 3},
            {"hypothesis": "c", "reference": "c", "nll": 0.0, "tokens": 0}]  # no target token: skipped
    got = score_variants(recs, ["ppl-token", "ppl-sentavg", "ppl-meanloss"])
    assert got["ppl-token:ppl"] == pytest.approx(math.exp(8 / 5))
    assert got["ppl-sentavg:ppl"] == pytest.approx((math.e + math.exp(2)) / 2)
    assert got["ppl-meanloss:ppl"] == pytest.approx(math.exp(1.5))


def test_ppl_variants_need_nll():
    with pytest.raises(DataError, match="need 'nll' and 'tokens'"):
        score_variants(records([("a", "a")]), ["ppl-sentavg"])


# --- selection ---------------------------------------------------------------------------------

def test_names_checked_and_all_expanded():
    assert check_variants("dist-concat, bleu-corpus-nosmooth,dist-concat") == ["dist-concat", "bleu-corpus-nosmooth"]
    with pytest.raises(ConfigError, match="--variant: unknown metric variant 'bleu'"):
        check_variants(["bleu"], "--variant")
    without_nll = resolve_variants(["all"], has_nll=False)
    assert "ppl-token" not in without_nll and "dist-concat" in without_nll
    assert resolve_variants("all", has_nll=True)[-3:] == ["ppl-token", "ppl-sentavg", "ppl-meanloss"]
    got = score_variants(records([("a b", "a b")]), "all")
    assert all(k.split(":")[0] in VARIANTS for k in got)


def test_every_variant_has_a_definition_and_users():
    for variant in VARIANTS.values():
        assert variant.definition and variant.used_by and variant.keys


def test_eval_config_variants():
    from edg.config import RunConfig, validate

    cfg = validate(RunConfig, {"eval": {"variants": ["bleu-corpus-nosmooth", "dist-concat"]}})
    assert cfg.eval.variants == ["bleu-corpus-nosmooth", "dist-concat"]
    assert validate(RunConfig, {}).eval.variants == []
    with pytest.raises(ConfigError, match=r"config key 'eval.variants': .*unknown metric variant 'dist-kemp'"):
        validate(RunConfig, {"eval": {"variants": ["dist-kemp"]}})


def test_score_outputs_variants_after_the_unchanged_defaults(tmp_path):
    p = tmp_path / "out.jsonl"
    rows = [{"hypothesis": h, "reference": r, "nll": 3.0, "tokens": 2} for h, r in random_pairs(9, n=20)]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    plain = score_outputs(p)
    both = score_outputs(p, variants=["ppl-sentavg", "dist-concat"])
    assert list(both.metrics)[: len(plain.metrics)] == list(plain.metrics)
    assert {k: both.metrics[k] for k in plain.metrics} == plain.metrics
    assert list(both.metrics)[len(plain.metrics):] == ["ppl-sentavg:ppl", "dist-concat:dist-1", "dist-concat:dist-2"]
    assert both.variants == ("ppl-sentavg", "dist-concat") and plain.variants == ()
    assert both.metrics["ppl-sentavg:ppl"] == pytest.approx(math.exp(1.5))


def test_a_runs_evaluation_adds_the_configured_variants(tmp_path, monkeypatch):
    import torch
    from edg import pipeline
    from edg.evaluation import evaluate
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    overrides = [*TINY_TRANSFORMER, "train.threads=1", "eval.variants=[bleu-corpus-nosmooth,ppl-sentavg]"]
    session = pipeline.open_session("transformer", None, overrides)
    splits, model = pipeline.build_everything(session, tmp_path / "run", progress=False)
    records, metrics = evaluate(model, session.system, splits["test"], device=torch.device("cpu"), progress=False)
    variant_keys = [k for k in metrics if ":" in k]
    assert variant_keys == [*(f"bleu-corpus-nosmooth:bleu-{n}" for n in range(1, 5)), "ppl-sentavg:ppl"]
    assert metrics["ppl-sentavg:ppl"] == pytest.approx(score_variants(records, ["ppl-sentavg"])["ppl-sentavg:ppl"])
    assert "ppl" in metrics and "bleu-4" in metrics  # the default metrics are still there
