"""High-frequency negatives (H): frequent training *sentences* in their original casing, never
the gold response up to case and spacing."""

import pytest

from edg_nec.frequent_sentences import frequent_sentences, negatives_for, split_sentences, text_key


def test_sentences_keep_casing_and_punctuation():
    assert split_sentences("Oh no!  What happened?... I am sorry.Really") == [
        "Oh no!", "What happened?...", "I am sorry.", "Really"]
    assert split_sentences("...") == [] and split_sentences("") == []


def test_frequent_sentences_are_counted_per_sentence_in_original_casing():
    responses = ["Oh no! What happened?", "What happened?", "what happened?", "Wow! What happened?", "Wow!"]
    # 'What happened?' 3 times, 'Wow!' twice; 'what happened?' is counted apart (BART is cased)
    assert frequent_sentences(responses, 3) == ["What happened?", "Wow!", "Oh no!"]
    assert frequent_sentences(responses, 0) == []
    with pytest.raises(ValueError):
        frequent_sentences(responses, -1)


def test_a_negative_never_equals_the_gold_up_to_case_and_spacing():
    assert text_key("What happened?") == text_key("what happened ?")
    pool = ["what happened?", "Oh no!", "Wow!"]
    assert negatives_for("What happened?", pool, 2) == ["Oh no!", "Wow!"]
    assert negatives_for("That is nice.", pool, 2) == ["what happened?", "Oh no!"]


def test_real_training_split_negatives():
    """On the real ED training split: H are cased sentences, the top ones as the paper's Appendix A."""
    from edg.data.empathetic_dialogues import load_splits
    from edg.testing import require_shared

    train = load_splits(require_shared("empatheticdialogues"), max_examples={"train": 4000, "valid": 1, "test": 1})["train"]
    top = frequent_sentences(train["target"], 10)
    assert "What happened?" in top and "I'm sorry to hear that." in top
    assert all(any(ch.isupper() for ch in s) for s in top[:5])


def test_system_h_and_d_skip_the_gold(word_tokenizer, nec):
    """The system's H list is sentence-level and per sample skips the gold; D skips it too."""
    samples = nec.make_samples()
    targets = ["What happened?", "what happened?", "Wow! what happened?", "That is nice.", "what happened?",
               "Oh no! What happened?"]
    for s, t in zip(samples, targets):
        s["target"] = t
    system, _, splits = nec.build_tiny(word_tokenizer, samples=samples)
    assert system.high_frequency[:2] == ["what happened?", "What happened?"]
    tok = system.tokenizer
    for i, row in enumerate(splits["train"]):
        batch = system.collate([row])
        types, ids, lens = batch["cl_static_type"].tolist(), batch["cl_static_ids"][0], batch["cl_static_len"][0]
        texts = [tok.decode(ids[j, : lens[j]].tolist()) for j in range(len(types)) if lens[j] > 0]
        assert all(text_key(t) != text_key(row["target"]) for t in texts), (row["target"], texts)
        h = [j for j, t in enumerate(types) if t == 1]
        assert all(lens[j] > 0 for j in h)  # the full H count even when the gold is the top sentence
        assert all(text_key(d) != text_key(row["target"]) for d in row["nec_diff_emotion"])
