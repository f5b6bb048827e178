import math
import random

import pytest
import torch

from edg_nec.contrastive_loss import (TYPE_DIFF_EMOTION, TYPE_FROM_BATCH, TYPE_HIGH_FREQUENCY, TYPE_SELF_GENERATED,
                                      ContrastiveLoss, ContrastiveOptions, bleu2, cont_ranking_loss,
                                      from_batch_negatives, masked_mean, ranking_order)


def direct_cont_loss(cos, quality, valid, gamma=0.01, tie=0.01, reduction="cont"):
    """CoNT's ranking loss computed pair by pair in plain Python (the reference)."""
    per_gap: dict[int, list[float]] = {}
    per_sample = []
    for c, q, v in zip(cos, quality, valid):
        cands = sorted((k for k in range(len(c)) if v[k]), key=lambda k: (-q[k], k))
        total = 0.0
        for j in range(len(cands)):
            for k in range(j + 1, len(cands)):
                a, b = cands[j], cands[k]
                if abs(q[a] - q[b]) <= tie:
                    continue  # equal BLEU: neither is better
                pair = max(0.0, c[b] - c[a] + gamma * (k - j))
                per_gap.setdefault(k - j, []).append(pair)
                total += pair
        per_sample.append(total)
    if reduction == "sum":
        return sum(per_sample) / len(per_sample)
    return sum(sum(v) / len(v) for v in per_gap.values())


def test_ranking_loss_hand_computed():
    # candidates: gold (BLEU 1) and three negatives with BLEU 0.5, 0.2 and 0.505
    cos = torch.tensor([[0.3, 0.5, -0.2, 0.1]])
    quality = torch.tensor([[1.0, 0.5, 0.2, 0.505]])
    valid = torch.ones(1, 4, dtype=torch.bool)
    # ranked by BLEU: gold (cos 0.3), neg 0.505 (0.1), neg 0.5 (0.5), neg 0.2 (-0.2);
    # the pair of BLEU 0.505 / 0.5 is a tie (difference <= 0.01) and masked
    pairs_by_gap = {
        1: [max(0, 0.1 - 0.3 + 0.01), max(0, -0.2 - 0.5 + 0.01)],
        2: [max(0, 0.5 - 0.3 + 0.02), max(0, -0.2 - 0.1 + 0.02)],
        3: [max(0, -0.2 - 0.3 + 0.03)],
    }
    expected_cont = sum(sum(v) / len(v) for v in pairs_by_gap.values())
    assert expected_cont == pytest.approx(0.11, abs=1e-9)
    value, pairs = cont_ranking_loss(cos, quality, valid, gamma=0.01)
    assert value.item() == pytest.approx(expected_cont, abs=1e-6)
    assert pairs.tolist() == [5]
    value, _ = cont_ranking_loss(cos, quality, valid, gamma=0.01, reduction="sum")
    assert value.item() == pytest.approx(0.22, abs=1e-6)


def test_ranking_loss_matches_direct_computation():
    gen = torch.Generator().manual_seed(0)
    for reduction in ("cont", "sum"):
        for trial in range(20):
            b, c = 1 + trial % 4, 2 + trial % 7
            cos = torch.rand(b, c, generator=gen) * 2 - 1
            quality = torch.randint(0, 5, (b, c), generator=gen).float() / 4  # many exact ties
            quality[:, 0] = 1.0
            valid = torch.rand(b, c, generator=gen) > 0.2
            valid[:, 0] = True
            got, _ = cont_ranking_loss(cos, quality, valid, gamma=0.05, reduction=reduction)
            want = direct_cont_loss(cos.tolist(), quality.tolist(), valid.tolist(), gamma=0.05, reduction=reduction)
            assert got.item() == pytest.approx(want, abs=1e-5), (reduction, trial)


def test_margin_grows_with_rank_difference():
    # identical representations: only the margin gamma * (k - j) remains, per rank difference
    cos = torch.zeros(1, 4)
    quality = torch.tensor([[1.0, 0.6, 0.4, 0.2]])
    value, _ = cont_ranking_loss(cos, quality, torch.ones(1, 4, dtype=torch.bool), gamma=0.01)
    assert value.item() == pytest.approx(0.01 + 0.02 + 0.03, abs=1e-6)
    value, _ = cont_ranking_loss(cos, quality, torch.ones(1, 4, dtype=torch.bool), gamma=0.01, reduction="sum")
    assert value.item() == pytest.approx(3 * 0.01 + 2 * 0.02 + 0.03, abs=1e-6)
    # well separated in the right order: no loss
    cos = torch.tensor([[0.9, 0.5, 0.1, -0.3]])
    assert cont_ranking_loss(cos, quality, torch.ones(1, 4, dtype=torch.bool), gamma=0.01)[0].item() == 0.0


def test_equal_bleu_pairs_and_invalid_candidates_are_masked():
    cos = torch.tensor([[0.0, 0.9, 0.9]])
    quality = torch.tensor([[1.0, 0.3, 0.3]])
    value, pairs = cont_ranking_loss(cos, quality, torch.tensor([[True, True, True]]), gamma=0.01)
    assert pairs.tolist() == [2]  # the two negatives of equal BLEU form no pair
    assert value.item() == pytest.approx(0.91 + 0.92, abs=1e-6)
    value, pairs = cont_ranking_loss(cos, quality, torch.tensor([[True, False, True]]), gamma=0.01)
    assert pairs.tolist() == [1] and value.item() == pytest.approx(0.91, abs=1e-6)


def test_ranking_order_by_bleu_descending_stable_and_invalid_last():
    quality = torch.tensor([[1.0, 0.2, 0.9, 0.2, 0.5]])
    valid = torch.tensor([[True, True, True, True, False]])
    assert ranking_order(quality, valid).tolist() == [[0, 2, 1, 3, 4]]


def test_bleu2_matches_nltk():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    rng = random.Random(0)
    hyps, refs = [], []
    for _ in range(40):
        refs.append([rng.randrange(8) for _ in range(rng.randrange(1, 9))])
        hyps.append([rng.randrange(8) for _ in range(rng.randrange(1, 9))])
    hyps.append([1, 2, 3, 4]); refs.append([1, 2, 3, 4])
    hyps.append([1, 1, 1]); refs.append([1, 2])
    width = 10
    h = torch.full((len(hyps), width), 0); r = torch.full((len(refs), width), 0)
    for i, (a, b) in enumerate(zip(hyps, refs)):
        h[i, : len(a)] = torch.tensor(a); r[i, : len(b)] = torch.tensor(b)
    ours = bleu2(h, torch.tensor([len(a) for a in hyps]), r, torch.tensor([len(b) for b in refs]))
    smooth = SmoothingFunction().method1
    for i, (a, b) in enumerate(zip(hyps, refs)):
        expected = sentence_bleu([b], a, weights=(0.5, 0.5), smoothing_function=smooth)
        assert ours[i].item() == pytest.approx(expected, abs=1e-5), (a, b)


def test_from_batch_negatives_are_the_next_samples():
    gold = torch.tensor([[1, 0], [2, 0], [3, 3]])
    lens = torch.tensor([1, 1, 2])
    ids, ln = from_batch_negatives(gold, lens, 2)
    assert ids[:, :, 0].tolist() == [[2, 3], [3, 1], [1, 2]]
    assert ln.tolist() == [[1, 2], [2, 1], [1, 1]]
    ids, _ = from_batch_negatives(gold, lens, None)
    assert ids.shape[1] == 2


def test_masked_mean_ignores_padding():
    h = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(h, torch.tensor([[True, True, False]])).item() == 2.0


# -- with a tiny NEC model -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(word_tokenizer, nec, tmp_path_factory):
    import os

    os.environ["EDG_CACHE"] = str(tmp_path_factory.mktemp("cl-cache"))
    torch.manual_seed(0)
    return nec.build_tiny(word_tokenizer)


def _term(system, **options):
    # the contrastive stage from step 0 unless a test says otherwise (test_stage_switch.py: the stages)
    term = ContrastiveLoss(ContrastiveOptions(**{"stage_switch": "step", "start_step": 0, **options}))
    term.registered_name = "nec.contrastive"
    return term


def _batch(system, splits, n=4):
    rows = [splits["train"][i] for i in range(n)]
    return system.collate(rows)


@pytest.mark.parametrize("switch,code", [("diff_emotion", TYPE_DIFF_EMOTION), ("high_frequency", TYPE_HIGH_FREQUENCY),
                                         ("from_batch", TYPE_FROM_BATCH), ("self_generated", TYPE_SELF_GENERATED)])
def test_each_negative_type_toggles(tiny, switch, code):
    system, model, splits = tiny
    batch = _batch(system, splits)
    model.eval()
    out = model(batch)
    gold_len = batch["labels"].ne(-100).sum(1) - 1
    on = _term(system)
    _, lens, types = on.negatives(batch, out, model, batch["decoder_input_ids"][:, 1:], gold_len)
    assert (types == code).sum().item() == 2
    off = _term(system, **{switch: 0})
    _, lens_off, types_off = off.negatives(batch, out, model, batch["decoder_input_ids"][:, 1:], gold_len)
    assert (types_off == code).sum().item() == 0
    assert sorted(types_off.tolist()) == sorted(t for t in types.tolist() if t != code)


def test_negative_contents(tiny):
    system, model, splits = tiny
    rows = [splits["train"][i] for i in range(4)]
    batch = system.collate(rows)
    tok = system.tokenizer
    model.eval()
    out = model(batch)
    gold_len = batch["labels"].ne(-100).sum(1) - 1
    ids, lens, types = _term(system, self_generated=0).negatives(batch, out, model, batch["decoder_input_ids"][:, 1:], gold_len)

    def text(i, j):
        return tok.decode(ids[i, j, : lens[i, j]].tolist())

    # H: the two most frequent training responses, the same for every sample
    h = [j for j, t in enumerate(types.tolist()) if t == TYPE_HIGH_FREQUENCY]
    assert text(0, h[0]) == "i am sorry to hear that ."
    # D: responses of other emotions, from the training split
    d = [j for j, t in enumerate(types.tolist()) if t == TYPE_DIFF_EMOTION]
    by_text: dict[str, set] = {}
    for s in splits["train"]:
        by_text.setdefault(tok.decode(tok(s["target"], add_special_tokens=False)["input_ids"]), set()).add(s["emotion"])
    for i, row in enumerate(rows):
        for j in d:
            if lens[i, j] > 0:
                assert by_text[text(i, j)] - {row["emotion"]}  # some training sample of another emotion
    # B: the next samples' gold responses
    b = [j for j, t in enumerate(types.tolist()) if t == TYPE_FROM_BATCH]
    assert text(0, b[0]) == tok.decode(batch["decoder_input_ids"][1, 1: 1 + gold_len[1]].tolist())


def test_loss_value_is_cont_over_all_pairs_and_trains_the_projection(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    model.train()
    model.zero_grad()
    out = model(batch)
    term = _term(system, self_generated=0, from_batch=None)  # D, H and all other batch samples: deterministic
    term.text_keys = system.text_keys
    value = term.compute(batch, out, model)
    assert value.logs["cl_active"] == 1.0 and value.value.item() > 0
    value.value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.bart.model.decoder.parameters())
    assert model.contrastive_head.weight.grad.abs().sum() > 0  # the learned projection is trained

    # recompute from scratch: projected mean states, NLTK BLEU-2 ranks, every candidate pair
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    model.eval()
    with torch.no_grad():
        out = model(batch)
        gold_len = batch["labels"].ne(-100).sum(1) - 1
        gold = batch["decoder_input_ids"][:, 1:]
        ids, lens, _ = term.negatives(batch, out, model, gold, gold_len)
        z_x = model.features(out.encoder.hidden, out.encoder.mask)
        cos_all, q_all, v_all = [], [], []
        for i in range(ids.size(0)):
            ref = gold[i, : gold_len[i]].tolist()
            head = lambda seq: model.features(  # noqa: E731
                model.decoder.hidden_states(torch.tensor([[model.decoder.bos_id, *seq]]),
                                            out.encoder.index_select(torch.tensor([i]))),
                torch.ones(1, len(seq) + 1, dtype=torch.bool))[0]
            cos, q, v = [float(torch.cosine_similarity(z_x[i], head(ref), dim=0))], [1.0], [True]
            for j in range(ids.size(1)):
                neg = ids[i, j, : lens[i, j]].tolist()
                ok = bool(neg) and system.text_keys([neg]) != system.text_keys([ref])
                cos.append(float(torch.cosine_similarity(z_x[i], head(neg), dim=0)) if ok else 0.0)
                q.append(sentence_bleu([ref], neg, weights=(0.5, 0.5), smoothing_function=SmoothingFunction().method1)
                         if ok else 0.0)
                v.append(ok)
            cos_all.append(cos); q_all.append(q); v_all.append(v)
        expected = direct_cont_loss(cos_all, q_all, v_all, gamma=0.01)
        got = term.compute(batch, out, model)
    assert got.value.item() == pytest.approx(expected, abs=1e-4)
    n_pairs = sum(1 for q, v in zip(q_all, v_all) for j in range(len(q)) for k in range(len(q))
                  if v[j] and v[k] and q[j] > q[k] + 0.01)
    assert got.logs["cl_pairs"] == pytest.approx(n_pairs / len(q_all))


def test_negative_equal_to_gold_up_to_case_and_spacing_is_dropped():
    vocab = {1: "What", 2: "happened?", 3: "what", 4: "happened", 5: "?", 6: "Why?"}
    term = _term(None)
    term.text_keys = lambda seqs: ["".join(" ".join(vocab[t] for t in s).split()).lower() for s in seqs]
    gold, gold_len = torch.tensor([[1, 2, 0]]), torch.tensor([2])
    neg = torch.tensor([[[3, 4, 5], [6, 0, 0], [1, 2, 0]]])
    same = term.same_as_gold(gold, gold_len, neg, torch.tensor([[3, 1, 2]]))
    assert same.tolist() == [[True, False, True]]
    term.text_keys = None  # without the system's tokenizer: token for token only
    assert term.same_as_gold(gold, gold_len, neg, torch.tensor([[3, 1, 2]])).tolist() == [[False, False, True]]


def test_identical_negative_is_dropped(tiny):
    system, model, splits = tiny
    rows = [splits["train"][i] for i in (2, 3)]  # both gold responses: "I am sorry to hear that."
    batch = system.collate(rows)
    model.eval()
    term = _term(system, self_generated=0, diff_emotion=0)
    term.text_keys = system.text_keys
    with torch.no_grad():
        out = model(batch)
        v = term.compute(batch, out, model)
    # H skips the frequent sentence equal to the gold (2 others left); B = the other sample's equal gold: dropped
    assert v.logs["cl_neg_H"] == 2.0 and v.logs["cl_neg_B"] == 0.0 and v.logs["cl_negatives"] == 2.0


def test_stage_switch(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    from edg.interfaces.loss import TrainingContext

    term = _term(system, stage_switch="step", start_step=3, self_generated=0)
    context = TrainingContext(grad_accum=2, tokenizer=system.tokenizer)
    term.setup(context)
    model.train()
    active = []
    for micro_batch in range(8):  # the loop keeps the context's step current
        context.step, context.micro_step = micro_batch // 2, micro_batch % 2
        out = model(batch)
        active.append(term.compute(batch, out, model).logs["cl_active"])
    assert active == [0, 0, 0, 0, 0, 0, 1, 1]  # batches 7-8 = optimizer step 3 (0-based)
    model.eval()
    context.training = False
    with torch.no_grad():
        assert term.compute(batch, model(batch), model).logs["cl_active"] == 1.0  # always in validation
