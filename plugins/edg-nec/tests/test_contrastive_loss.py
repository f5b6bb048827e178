import math
import random

import pytest
import torch

from edg_nec.contrastive_loss import (TYPE_DIFF_EMOTION, TYPE_FROM_BATCH, TYPE_HIGH_FREQUENCY, TYPE_SELF_GENERATED,
                                      ContrastiveLoss, ContrastiveOptions, bleu2, from_batch_negatives,
                                      margin_ranking_loss, masked_mean, ranks_by_quality)



def test_margin_loss_hand_computed():
    z_x = torch.tensor([[1.0, 0.0]])
    z_pos = torch.tensor([[1.0, 1.0]])  # cos = 0.70711
    z_neg = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]])  # cos = 1, 0, 0.70711
    ranks = torch.tensor([[2, 1, 3]])
    valid = torch.tensor([[True, True, True]])
    loss = margin_ranking_loss(z_x, z_pos, z_neg, ranks, valid, gamma=0.01)
    c = 1 / math.sqrt(2)
    expected = (1 - c + 0.02) + max(0.0, 0 - c + 0.01) + (c - c + 0.03)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.342893, abs=1e-5)
    # an invalid negative contributes nothing
    valid = torch.tensor([[False, True, True]])
    assert margin_ranking_loss(z_x, z_pos, z_neg, ranks, valid, 0.01).item() == pytest.approx(0.03, abs=1e-6)


def test_xi_grows_with_rank():
    # identical representations: only xi = gamma * rank remains
    z = torch.tensor([[1.0, 0.0]])
    z_neg = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    per_pair_total = margin_ranking_loss(z, z, z_neg, torch.tensor([[1, 2, 3]]), torch.ones(1, 3, dtype=torch.bool), 0.01)
    assert per_pair_total.item() == pytest.approx(0.01 + 0.02 + 0.03, abs=1e-6)


def test_ranks_by_bleu_descending_stable_and_invalid_last():
    quality = torch.tensor([[0.2, 0.9, 0.2, 0.5]])
    valid = torch.tensor([[True, True, True, False]])
    assert ranks_by_quality(quality, valid).tolist() == [[2, 1, 3, 4]]


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
    term = ContrastiveLoss(ContrastiveOptions(**options))
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


def test_loss_value_is_the_margin_formula_and_has_gradient(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    model.train()
    model.zero_grad()
    out = model(batch)
    term = _term(system, self_generated=0, from_batch=0, high_frequency=0)  # D only, deterministic
    value = term.compute(batch, out, model)
    assert value.logs["cl_active"] == 1.0
    value.value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.bart.model.decoder.parameters())

    # recompute by hand from the pieces
    model.eval()
    with torch.no_grad():
        out = model(batch)
        gold_len = batch["labels"].ne(-100).sum(1) - 1
        gold = batch["decoder_input_ids"][:, 1:]
        ids, lens, _ = term.negatives(batch, out, model, gold, gold_len)
        z_x = masked_mean(out.encoder.hidden, out.encoder.mask)
        pos_mask = torch.arange(gold.size(1) + 1)[None, :] < (gold_len + 1)[:, None]
        z_pos = masked_mean(out.decoder.hidden, pos_mask)
        total = 0.0
        for i in range(ids.size(0)):
            ref = gold[i, : gold_len[i]].tolist()
            negs = [ids[i, j, : lens[i, j]].tolist() for j in range(ids.size(1)) if lens[i, j] > 0]
            negs = [n for n in negs if n != ref]  # a negative equal to the gold is dropped
            from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

            q = [sentence_bleu([ref], n, weights=(0.5, 0.5), smoothing_function=SmoothingFunction().method1) for n in negs]
            order = sorted(range(len(negs)), key=lambda k: (-q[k], k))
            for rank, k in enumerate(order, 1):
                seq = torch.tensor([[model.decoder.bos_id, *negs[k]]])
                mem = out.encoder.index_select(torch.tensor([i]))
                z_n = model.decoder.hidden_states(seq, mem).mean(1)[0]
                cos_n = torch.nn.functional.cosine_similarity(z_x[i], z_n, dim=0)
                cos_p = torch.nn.functional.cosine_similarity(z_x[i], z_pos[i], dim=0)
                total += max(0.0, float(cos_n - cos_p) + 0.01 * rank)
        expected = total / ids.size(0)
        got = term.compute(batch, out, model).value.item()
    assert got == pytest.approx(expected, abs=1e-4)


def test_identical_negative_is_dropped(tiny):
    system, model, splits = tiny
    rows = [splits["train"][i] for i in (2, 3)]  # both gold responses: "I am sorry to hear that."
    batch = system.collate(rows)
    model.eval()
    with torch.no_grad():
        out = model(batch)
        v = _term(system, self_generated=0, diff_emotion=0).compute(batch, out, model)
    # H = 2 frequent responses (one equals the gold), B = 1 other sample (equal gold) -> 1 pair left each
    assert v.logs["cl_pairs"] == 1.0


def test_stage_switch(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    term = _term(system, start_step=3)
    term.batches_per_step = 2
    model.train()
    model.train_batches.fill_(0)
    active = []
    for _ in range(8):
        out = model(batch)
        active.append(term.compute(batch, out, model).logs["cl_active"])
    assert active == [0, 0, 0, 0, 0, 0, 1, 1]  # batches 7-8 = optimizer step 3 (0-based)
    model.eval()
    with torch.no_grad():
        assert term.compute(batch, model(batch), model).logs["cl_active"] == 1.0  # always in validation
