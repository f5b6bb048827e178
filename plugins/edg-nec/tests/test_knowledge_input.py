from edg_nec.knowledge_input import (P_R, encoder_input_ids, encoder_input_text, history_text, linearise_knowledge,
                                     linearise_triplet, social_input_ids, social_text)

TRIPLETS = [
    {"entity": "friend", "relation": "ObjectUse", "tail": "have a good time"},
    {"entity": "fireworks", "relation": "AtLocation", "tail": "the sky"},
]


def test_prompt_is_the_papers():
    assert P_R == "The following knowledge facts are highly relevant to the left query:"


def test_triplet_linearisation():
    assert linearise_triplet(TRIPLETS[0]) == "friend, ObjectUse, have a good time"
    assert linearise_knowledge(TRIPLETS) == "friend, ObjectUse, have a good time; fireworks, AtLocation, the sky"


def test_exact_encoder_input_string():
    context = ["I went to the fireworks  with my best friend.", "Was it fun?"]
    text = encoder_input_text(context, TRIPLETS, sep_token="</s>")
    assert text == (
        "I went to the fireworks with my best friend. Was it fun? </s> "
        "The following knowledge facts are highly relevant to the left query: "
        "friend, ObjectUse, have a good time; fireworks, AtLocation, the sky"
    )
    # w/o Entity: the history alone
    assert encoder_input_text(context, None, sep_token="</s>") == history_text(context)


def test_social_text_keeps_relation_order_and_drops_empty():
    assert social_text({"xIntent": "to have a friend", "xNeed": "", "xReact": "sad"}) == \
        "xIntent: to have a friend; xReact: sad"


def test_encoder_ids_are_the_tokenised_string(word_tokenizer):
    tok = word_tokenizer
    context = ["I lost my dog at the park yesterday."]
    ids = encoder_input_ids(tok, [context], [TRIPLETS[:1]], max_context_tokens=100, max_knowledge_tokens=100)[0]
    text = encoder_input_text(context, TRIPLETS[:1], sep_token=tok.sep_token)
    expected = [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"], tok.eos_token_id]
    assert ids == expected


def test_long_history_is_cut_from_the_left_and_knowledge_kept(word_tokenizer):
    tok = word_tokenizer
    context = ["i lost my dog at the park yesterday"] * 5
    ids = encoder_input_ids(tok, [context], [TRIPLETS], max_context_tokens=4, max_knowledge_tokens=200)[0]
    hist = tok(history_text(context), add_special_tokens=False)["input_ids"]
    assert ids[1:5] == hist[-4:]
    assert ids[5] == tok.sep_token_id
    suffix = tok(f"{P_R} {linearise_knowledge(TRIPLETS)}", add_special_tokens=False)["input_ids"]
    assert ids[6:-1] == suffix


def test_social_ids_never_empty(word_tokenizer):
    tok = word_tokenizer
    rows = social_input_ids(tok, [{}, {"xReact": "sad"}], max_tokens=10)
    assert rows[0] == [tok.bos_token_id, tok.eos_token_id]
    assert rows[1][0] == tok.bos_token_id and rows[1][-1] == tok.eos_token_id and len(rows[1]) > 2
