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


@pytest.mark.parametrize("strategy,min_length", [("beam", 1), ("greedy", 1), ("beam", 8), ("sample", 1)])
def test_cached_generation_equals_uncached(tiny, strategy, min_length):
    system, model, splits = tiny
    batch = _batch(system, splits)
    # min_length = max_length: every candidate is cut at max_length (hidden from the extra step)
    cfg = GenerationConfig(strategy=strategy, beam_size=3, num_return=1 if strategy == "greedy" else 3, max_length=8,
                           min_length=min_length)
    with torch.no_grad():
        memory = model.encode(batch)
        assert "social_hidden" in memory.extras  # the knowledge attention takes part
        torch.manual_seed(3)
        cached = model.decoder.generate(memory, cfg, return_hidden=True)
        model.decoder.options = model.decoder.options.model_copy(update={"kv_cache": False})
        try:
            torch.manual_seed(3)
            plain = model.decoder.generate(memory, cfg, return_hidden=True)
        finally:
            model.decoder.options = model.decoder.options.model_copy(update={"kv_cache": True})
    for a, b in zip(cached, plain):
        assert [c.token_ids for c in a] == [c.token_ids for c in b]
        for ca, cb in zip(a, b):
            assert ca.logprob == pytest.approx(cb.logprob, abs=1e-4)
            assert torch.allclose(ca.hidden, cb.hidden, atol=1e-4)  # recorded during the search


def test_state_steps_reproduce_teacher_forcing_and_follow_reordering(tiny):
    system, model, splits = tiny
    batch = _batch(system, splits)
    ids = batch["decoder_input_ids"][:, :4]
    dec = model.decoder
    with torch.no_grad():
        memory = model.encode(batch)
        full = dec(ids, memory)
        state = dec.start(memory)
        for t in range(ids.size(1)):
            log_probs, state = dec.step(ids[:, t], state)
            assert torch.allclose(log_probs, full.log_probs()[:, t], atol=1e-5)
            # the recorded state is projected (NecModel.project), as the contrastive loss sees it
            assert torch.allclose(dec.last_hidden(state), model.project(full.hidden[:, t]), atol=1e-5)
        # swap rows 0 and 2 (they decode different examples): the caches and masks follow them
        order = torch.tensor([2, 1, 0])
        state = dec.reorder(state, order)
        nxt = torch.tensor([7, 8, 9])
        log_probs, _ = dec.step(nxt, state)
        swapped = torch.cat([ids.index_select(0, order), nxt[:, None]], 1)
        expected = dec(swapped, memory.index_select(order)).log_probs()[:, -1]
    assert torch.allclose(log_probs, expected, atol=1e-5)


def _plain_bart(seed=0):
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(seed)
    config = BartConfig(vocab_size=60, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=None,
                        forced_eos_token_id=None)
    return BartForConditionalGeneration(config).eval()


@pytest.mark.parametrize("strategy", ["beam", "greedy"])
def test_without_social_knowledge_the_search_is_hugging_faces_generate(strategy):
    """Same BART, same inputs, same settings: the tokens and scores of ``generate``."""
    from edg_nec.knowledge_decoder import KnowledgeBartDecoder, KnowledgeBartDecoderOptions
    from edg_nec.model import NecModel

    bart = _plain_bart()
    # BART's convention: decoding starts with EOS; BOS (0) and PAD (1) are never generated
    decoder = KnowledgeBartDecoder(KnowledgeBartDecoderOptions(social=False), bart=bart, bos_id=2, eos_id=2,
                                   pad_id=1, banned_ids=(0,))
    model = NecModel(bart, decoder).eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 60, (4, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:], mask[3, 4:] = 0, 0  # padded inputs
    ids = ids.masked_fill(mask == 0, 1)
    k = 4 if strategy == "beam" else 1
    cfg = GenerationConfig(strategy=strategy, beam_size=k, num_return=k, max_length=12, min_length=3,
                           length_penalty=1.0)
    with torch.no_grad():
        ours = model.generate({"input_ids": ids, "attention_mask": mask}, cfg)
        hf = bart.generate(input_ids=ids, attention_mask=mask, num_beams=k, num_return_sequences=k, do_sample=False,
                           max_new_tokens=12, min_new_tokens=3, length_penalty=1.0, early_stopping=False,
                           suppress_tokens=[0, 1], output_scores=True, return_dict_in_generate=True)
    for b in range(4):
        theirs = []
        for seq in hf.sequences[b * k : (b + 1) * k].tolist():
            seq = seq[1:]  # the decoder start
            theirs.append(seq[: seq.index(2)] if 2 in seq else [t for t in seq if t != 1])
        assert [c.token_ids for c in ours[b]] == theirs
        if strategy == "beam":
            assert [c.score for c in ours[b]] == pytest.approx(hf.sequences_scores[b * k : (b + 1) * k].tolist(),
                                                                abs=1e-4)


def test_without_social_there_is_no_knowledge_attention(word_tokenizer, nec):
    system, model, _ = nec.build_tiny(word_tokenizer, preset="tiny-wo-social")
    assert len(model.decoder.knowledge_attn) == 0
    assert not any("knowledge" in name for name, _ in model.named_parameters())
