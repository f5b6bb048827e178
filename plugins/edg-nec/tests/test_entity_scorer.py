import torch

from edg_nec.entity_scorer import EntityScorer, build_pairs, content_words, is_positive, top_m

T_DOG = {"entity": "dog", "relation": "AtLocation", "tail": "the park"}
T_CAKE = {"entity": "cake", "relation": "ObjectUse", "tail": "eat it"}


def test_positive_rule():
    response = "Did you look for him at the park?"
    assert is_positive(T_DOG, response)  # tail content word "park"
    assert not is_positive(T_CAKE, response)
    # entity overlap counts only under tail_or_entity
    t = {"entity": "dog", "relation": "HasProperty", "tail": "cute"}
    assert is_positive(t, "I love your dog", "tail_or_entity")
    assert not is_positive(t, "I love your dog", "tail")
    # stopwords and short words never make a triplet positive
    assert content_words("to be at the house") == {"house"}
    assert not is_positive({"entity": "x", "relation": "ObjectUse", "tail": "to be with"}, "I want to be with you")


def test_pairs_balance_and_training_split_only_inputs():
    samples = [(["I lost my dog"], [T_DOG, T_CAKE, {"entity": "dog", "relation": "MadeUpOf", "tail": "fur"}],
                "Did you check the park?"),
               (["no positives here"], [T_CAKE], "Oh no.")]
    pairs = build_pairs(samples, negatives_per_positive=1, seed=0)
    assert sorted(p[2] for p in pairs) == [0.0, 1.0]
    assert pairs[0][0] == "I lost my dog"
    assert {p[1] for p in pairs if p[2] == 1.0} == {"dog, AtLocation, the park"}


def test_top_m_ties_keep_order():
    assert top_m([0.1, 0.5, 0.5, 0.9], 3) == [3, 1, 2]
    assert top_m([], 3) == []


def test_tiny_scorer_learns_and_selects(word_tokenizer):
    torch.manual_seed(0)
    cfg = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
           "max_position_embeddings": 128}
    scorer = EntityScorer.from_config(cfg, word_tokenizer, seed=0, max_length=64, device="cpu")
    good = {"entity": "dog", "relation": "AtLocation", "tail": "the park"}
    bad = {"entity": "cake", "relation": "ObjectUse", "tail": "have fun"}
    pairs = [("i lost my dog", "dog, AtLocation, the park", 1.0), ("i lost my dog", "cake, ObjectUse, have fun", 0.0)] * 16
    losses = scorer.train(pairs, epochs=12, lr=3e-3, batch_size=8, seed=0)
    assert losses[-1] < losses[0]
    picked = scorer.select([(["i lost my dog"], [bad, good, bad])], 1)
    assert picked == [[1]]
    batch = scorer.encode(["i lost my dog"], ["dog, AtLocation, the park"])
    ids = batch["input_ids"][0].tolist()
    assert ids[0] == word_tokenizer.cls_token_id and ids.count(word_tokenizer.sep_token_id) == 2
