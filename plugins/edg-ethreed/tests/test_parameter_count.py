"""The parameter count at the paper's size (§4.4: hidden 300; the paper reports 11.98 M):
4,388,136 parameters that do not depend on the vocabulary plus 301 per word (a 300-d
embedding row, tied with the output projection, and an output bias). With the word
vocabulary edg builds from the ED training split (18,577 words) that is 9.98 M."""

from __future__ import annotations

VOCABULARY_FREE = 4_388_136
PER_WORD = 301


def test_parameter_count_at_the_paper_size():
    from edg.pipeline import open_session
    from edg.tokenization import build_tokenizer

    session = open_session("ethreed")
    texts = ["i am so happy for you", "that sounds scary , are you okay ?", "my dog passed away last week"]
    session.system.tokenizer = tok = build_tokenizer(session.config.tokenizer, iter(texts), [])
    model = session.system.build_model()
    total = sum(p.numel() for p in model.parameters())
    assert total == VOCABULARY_FREE + PER_WORD * len(tok)
    assert round((VOCABULARY_FREE + PER_WORD * 18_577) / 1e6, 2) == 9.98
