import torch

from edg_nec.entity_scorer import EntityScorer, build_pairs, content_words, is_positive, occurs, top_m, words

T_DOG = {"entity": "dog", "relation": "AtLocation", "tail": "the park"}
T_CAKE = {"entity": "cake", "relation": "ObjectUse", "tail": "eat it"}


def test_context_link_labelling_as_the_authors_code():
    """Positive = the triplet links history and reply: entity in the history and tail in the
    reply, or entity in the reply and tail in the history (whole-word phrase matches)."""
    history = "I lost my dog yesterday."
    assert is_positive(T_DOG, history, "Did you look for him at the park?")  # entity in history, tail in reply
    assert not is_positive(T_CAKE, history, "Did you look for him at the park?")
    # entity in the reply and the tail in the history
    assert is_positive({"entity": "leash", "relation": "AtLocation", "tail": "my dog"}, history,
                       "Was he on a leash?")
    # edg's earlier rule counted a single content word of the tail, or the entity alone, in the
    # reply; the paper's construction (as the authors implement it) does not
    loose = {"entity": "dog", "relation": "HasProperty", "tail": "cute and fluffy"}
    assert is_positive(loose, history, "Your dog was so fluffy", "tail_or_entity")
    assert not is_positive(loose, history, "Your dog was so fluffy")
    assert not is_positive({"entity": "dog", "relation": "HasProperty", "tail": "loyal"}, history, "I love your dog")
    assert is_positive({"entity": "dog", "relation": "HasProperty", "tail": "loyal"}, history, "I love your dog",
                       "tail_or_entity")
    # whole words only: the authors' raw substring test would find "art" in "start"
    assert not occurs("art", words("a fresh start"))
    assert occurs("the park", words("at THE park!"))
    assert content_words("to be at the house") == {"house"}


def test_pairs_are_positive_negative_pairs_of_one_sample():
    samples = [(["I lost my dog"], [T_DOG, T_CAKE, {"entity": "dog", "relation": "MadeUpOf", "tail": "fur"}],
                "Did you check the park?"),
               (["no positives here"], [T_CAKE], "Oh no."),
               (["only positives: my dog"], [T_DOG], "the park?")]
    pairs = build_pairs(samples, pairs_per_sample=2, seed=0)
    assert len(pairs) == 2  # the second sample has no positive, the third no negative
    for history, pos, neg in pairs:
        assert history == "I lost my dog"
        assert pos == "dog, AtLocation, the park"
        assert neg in {"cake, ObjectUse, eat it", "dog, MadeUpOf, fur"}


def test_top_m_ties_keep_order():
    assert top_m([0.1, 0.5, 0.5, 0.9], 3) == [3, 1, 2]
    assert top_m([], 3) == []


def test_tiny_scorer_learns_to_rank_and_selects(word_tokenizer):
    torch.manual_seed(0)
    cfg = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
           "max_position_embeddings": 128}
    scorer = EntityScorer.from_config(cfg, word_tokenizer, seed=0, max_length=64, device="cpu")
    good = {"entity": "dog", "relation": "AtLocation", "tail": "the park"}
    bad = {"entity": "cake", "relation": "ObjectUse", "tail": "have fun"}
    pairs = [("i lost my dog", "dog, AtLocation, the park", "cake, ObjectUse, have fun")] * 16
    losses = scorer.train(pairs, epochs=12, lr=3e-3, batch_size=8, seed=0)
    assert losses[-1] < losses[0]
    assert scorer.pair_accuracy(pairs[:1]) == 1.0
    picked = scorer.select([(["i lost my dog"], [bad, good, bad])], 1)
    assert picked == [[1]]
    batch = scorer.encode(["i lost my dog"], ["dog, AtLocation, the park"])
    ids = batch["input_ids"][0].tolist()
    assert ids[0] == word_tokenizer.cls_token_id and ids.count(word_tokenizer.sep_token_id) == 2
