import pytest
import torch

from edg.config import GenerationConfig


@pytest.fixture(scope="module")
def tiny(word_tokenizer, nec, tmp_path_factory):
    import os

    os.environ["EDG_CACHE"] = str(tmp_path_factory.mktemp("dec-cache"))
    torch.manual_seed(0)
    system, model, splits = nec.build_tiny(word_tokenizer)
    model.eval()
    return system, model, splits


def _batch(system, splits, n=3):
    return system.collate([splits["test"][i] for i in range(n)])


def test_every_layer_has_a_knowledge_attention(tiny):
    _, model, _ = tiny
    layers = model.bart.model.decoder.layers
    assert len(model.decoder.knowledge_attn) == len(layers) >= 1
    # initialised from the encoder cross-attention of the same layer
    assert torch.equal(model.decoder.knowledge_attn[0].q_proj.weight, layers[0].encoder_attn.q_proj.weight)


def test_social_knowledge_changes_the_output(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    with torch.no_grad():
        base = model(batch).decoder.logits
        other = dict(batch)
        other["social_ids"] = torch.randint(5, len(system.tokenizer), batch["social_ids"].shape)
        changed = model(other).decoder.logits
    assert not torch.allclose(base, changed)


def test_teacher_forcing_matches_step_by_step(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    with torch.no_grad():
        memory = model.encode(batch)
        full = model.decoder(batch["decoder_input_ids"], memory).log_probs()
        t = 3
        step = model.decoder.next_token(batch["decoder_input_ids"][:, :t], memory)
    assert torch.allclose(full[:, t - 1], step, atol=1e-5)


@pytest.mark.parametrize("strategy,min_length", [("beam", 1), ("greedy", 1), ("beam", 8)])
def test_cached_generation_equals_uncached(tiny, strategy, min_length):
    system, model, splits = tiny
    batch = _batch(system, splits)
    # min_length = max_length: every candidate is cut at max_length (hidden from the extra step)
    cfg = GenerationConfig(strategy=strategy, beam_size=3, num_return=3 if strategy == "beam" else 1, max_length=8,
                           min_length=min_length)
    with torch.no_grad():
        memory = model.encode(batch)
        cached = model.decoder.generate(memory, cfg, return_hidden=True)
        model.decoder.options = model.decoder.options.model_copy(update={"kv_cache": False})
        try:
            plain = model.decoder.generate(memory, cfg, return_hidden=True)
        finally:
            model.decoder.options = model.decoder.options.model_copy(update={"kv_cache": True})
    for a, b in zip(cached, plain):
        assert [c.token_ids for c in a] == [c.token_ids for c in b]
        for ca, cb in zip(a, b):
            assert ca.logprob == pytest.approx(cb.logprob, abs=1e-4)
            assert torch.allclose(ca.hidden, cb.hidden, atol=1e-4)  # recorded during the search


def test_without_social_there_is_no_knowledge_attention(word_tokenizer, nec):
    system, model, _ = nec.build_tiny(word_tokenizer, preset="tiny-wo-social")
    assert len(model.decoder.knowledge_attn) == 0
    assert not any("knowledge" in name for name, _ in model.named_parameters())
