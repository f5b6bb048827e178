"""KEMP's parts on hand-made inputs: emotion intensity, the concept source, the graph's
edges and attention, the emotion signal, the emotion-dependency decoder and the emotional
attention loss."""

from __future__ import annotations

import json
import math

import pytest
import torch

from edg.errors import ConfigError, ResourceError
from edg.interfaces.types import DecoderOutput, EmotionOutput, EncoderOutput, ModelOutput
from edg_baselines.kemp_emotion_intensity import emotion_intensity

LEXICON = {  # word: (valence, arousal, dominance), written for these tests
    "dog": (0.7, 0.4, 0.5), "puppy": (0.9, 0.5, 0.5), "love": (1.0, 0.6, 0.6), "bite": (0.2, 0.8, 0.6),
    "calm": (0.6, 0.1, 0.5), "fun": (0.95, 0.8, 0.6), "party": (0.9, 0.9, 0.6), "the": (0.5, 0.1, 0.5),
}


def test_emotion_intensity_is_the_authors_min_max_norm():
    assert emotion_intensity(1.0, 1.0) == pytest.approx((math.sqrt(0.5) - 0.06467) / 0.607468)
    assert emotion_intensity(0.5, 0.0) == pytest.approx(-0.06467 / 0.607468)
    # valence distance from neutral and half the arousal, symmetric in valence
    assert emotion_intensity(0.1, 0.6) == pytest.approx(emotion_intensity(0.9, 0.6))


# -- kemp.concepts ----------------------------------------------------------------------------
def _resources(tmp_path):
    lexicon = tmp_path / "vad.txt"
    lexicon.write_text("Word\tValence\tArousal\tDominance\n"
                       + "".join(f"{w}\t{v}\t{a}\t{d}\n" for w, (v, a, d) in LEXICON.items()))
    lines = [("RelatedTo", "dog", "puppy", 2.0), ("CapableOf", "dog", "bite", 1.0), ("RelatedTo", "dog", "love", 1.0),
             ("RelatedTo", "dog", "calm", 1.0), ("RelatedTo", "dog", "the", 1.0), ("RelatedTo", "party", "fun", 1.0),
             ("Antonym", "party", "love", 2.0)]
    graph = tmp_path / "assertions.csv"
    graph.write_text("".join("\t".join([f"/a/[/r/{r}/,/c/en/{a}/,/c/en/{b}/]", f"/r/{r}", f"/c/en/{a}", f"/c/en/{b}",
                                        json.dumps({"weight": w})]) + "\n" for r, a, b, w in lines))
    return lexicon, graph


def _source(tmp_path, **options):
    from edg_baselines.kemp_concept_source import KempConceptSource, KempConceptsOptions

    lexicon, graph = _resources(tmp_path)
    source = KempConceptSource(KempConceptsOptions(**{"conceptnet_path": str(graph), "lexicon_path": str(lexicon),
                                                      **options}))
    source.registered_name = "kemp.concepts"
    return source


def _eta(word):
    return emotion_intensity(*LEXICON[word][:2])


def test_concepts_are_filtered_and_ranked_by_emotion_intensity(tmp_path):
    source = _source(tmp_path)
    sample = {"context": ["The dog, the DOG!", "a party?"]}
    words = source.requests(sample)
    assert words == ["the", "dog", "a", "party"]
    answers = source.compute(words)
    the, dog, a, party = answers
    # stopwords query nothing; a word outside the lexicon has intensity 0
    assert the == {"intensity": pytest.approx(_eta("the")), "concepts": [], "intensities": []}
    assert a == {"intensity": 0.0, "concepts": [], "intensities": []}
    # calm (intensity < 0.6) and the stopword "the" are dropped; the rest ranked by intensity
    assert [_eta(w) >= 0.6 for w in ("puppy", "love", "bite", "calm")] == [True, True, True, False]
    assert dog["concepts"] == sorted(["puppy", "love", "bite"], key=lambda w: -_eta(w))
    assert dog["intensities"] == pytest.approx([_eta(w) for w in dog["concepts"]])
    assert party["concepts"] == ["fun"]  # the Antonym edge to "love" is a removed relation
    attached = source.attach(sample, words, answers)
    assert attached["words"] == words and attached["concepts"][1] == dog["concepts"]
    assert attached["intensity"][1] == pytest.approx(_eta("dog"))
    assert _source(tmp_path, max_concepts_per_word=1).compute(["dog"])[0]["concepts"] == dog["concepts"][:1]
    assert _source(tmp_path, min_intensity=0.0).compute(["dog"])[0]["concepts"][-1] == "calm"


def test_the_fingerprint_follows_the_options_and_files(tmp_path):
    base = _source(tmp_path).fingerprint()
    assert _source(tmp_path, min_weight=2.0).fingerprint() != base
    assert _source(tmp_path, min_intensity=0.5).fingerprint() != base
    assert _source(tmp_path, use_conceptnet=False).fingerprint() != base


def test_without_conceptnet_only_intensities(tmp_path):
    source = _source(tmp_path, use_conceptnet=False, conceptnet_path=None)
    assert source.compute(["dog"]) == [{"intensity": pytest.approx(_eta("dog")), "concepts": [], "intensities": []}]


def test_missing_resources_are_one_line_errors(tmp_path):
    from edg_baselines.kemp_concept_source import KempConceptSource, KempConceptsOptions

    lexicon, _ = _resources(tmp_path)
    with pytest.raises(ResourceError, match="no ConceptNet assertions file configured.*conceptnet_path"):
        KempConceptSource(KempConceptsOptions(lexicon_path=str(lexicon)))
    with pytest.raises(ResourceError, match=r"not found: .*missing.csv"):
        KempConceptSource(KempConceptsOptions(lexicon_path=str(lexicon), conceptnet_path=str(tmp_path / "missing.csv")))
    with pytest.raises(ResourceError, match="NRC VAD lexicon"):
        KempConceptSource(KempConceptsOptions(handmade_conceptnet=True))
    with pytest.raises(ConfigError, match="max_concepts_per_word"):
        KempConceptSource(KempConceptsOptions(handmade_conceptnet=True, handmade_lexicon=True, max_concepts_per_word=0))


def test_the_handmade_graph_is_in_conceptnet_layout_and_reaches_ed_words():
    from edg_baselines.conceptnet_assertions import read_conceptnet_neighbours
    from edg_baselines.kemp_concept_source import REMOVED_RELATIONS, handmade_conceptnet_path

    table = read_conceptnet_neighbours(handmade_conceptnet_path(), removed_relations=REMOVED_RELATIONS)
    assert {"dog", "job", "birthday", "exam", "party"} <= set(table)
    assert ("glad", "Synonym", 2.0) not in table["happy"] and "unhappy" not in dict((c, r) for c, r, _ in table["happy"])


# -- the graph ----------------------------------------------------------------------------------
def test_graph_edges_on_a_hand_made_sample():
    from edg_baselines.kemp_graph_attention import graph_adjacency

    # [CLS] w1 w2 <pad>; concepts: [SEP] (owned by nobody), one of w2, padding
    adjacency = graph_adjacency(torch.tensor([[True, True, True, False]]), torch.tensor([[-1, 2, -2]]))
    expected = torch.tensor([
        # CLS w1 w2 pad | SEP c(w2) pad
        [1, 1, 1, 0, 1, 1, 0],   # the root: every token and every real concept
        [1, 1, 1, 0, 0, 0, 0],   # w1: root, itself, its successor
        [1, 1, 1, 0, 0, 1, 0],   # w2: root, its predecessor, itself, its concept
        [0, 0, 0, 1, 0, 0, 0],   # padding: itself only (keeps the softmax finite)
    ], dtype=torch.bool)
    assert torch.equal(adjacency[0], expected)


def test_graph_attention_reads_only_neighbours():
    from edg_baselines.kemp_graph_attention import EmotionalContextGraphAttention, graph_adjacency

    torch.manual_seed(0)
    layer = EmotionalContextGraphAttention(8, 2, dropout=0.0).eval()
    context, concepts = torch.randn(1, 4, 8), torch.randn(1, 2, 8)
    adjacency = graph_adjacency(torch.ones(1, 4, dtype=torch.bool), torch.tensor([[-1, 3]]))
    out = layer(context, concepts, adjacency)
    changed = concepts.clone()
    changed[0, 1] += 5.0  # the concept of token 3
    out2 = layer(context, changed, adjacency)
    assert torch.allclose(out[0, 1:3], out2[0, 1:3])  # tokens 1 and 2 do not see it
    assert not torch.allclose(out[0, 3], out2[0, 3]) and not torch.allclose(out[0, 0], out2[0, 0])


# -- the emotion signal ----------------------------------------------------------------------------
def test_emotion_signal_weights_vertices_by_softmax_of_intensity():
    from edg_baselines.kemp_emotion_signal import EmotionSignal, EmotionSignalOptions

    module = EmotionSignal(EmotionSignalOptions(), d_model=2, num_emotions=3)
    hidden = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    out = module(hidden, torch.tensor([[True, True, False]]), intensity=torch.tensor([[0.0, math.log(3.0), 5.0]]))
    assert out.extras["intensity_weights"][0].tolist() == pytest.approx([0.25, 0.75, 0.0])
    assert out.representation[0].tolist() == pytest.approx([0.25, 0.75])
    assert torch.allclose(out.logits, module.classify(out.representation))
    assert module.classify.bias is None
    with pytest.raises(ValueError, match="intensity"):
        module(hidden, torch.ones(1, 3, dtype=torch.bool))


# -- the decoder ----------------------------------------------------------------------------------
def _decoder(**options):
    from edg.api import DialogueEmbedding
    from edg_baselines.kemp_decoder import KempDecoder, KempDecoderOptions

    torch.manual_seed(0)
    embedding = DialogueEmbedding(20, 8, 0, dropout=0.0)
    return KempDecoder(KempDecoderOptions(heads=2, ffn_dim=16, **options), d_model=8, embedding=embedding,
                       bos_id=1, eos_id=2, pad_id=0).eval()


def _memory(seed=1):
    from edg_baselines.kemp_decoder import EMOTION_CONTEXT, EMOTION_START, SOURCE_IDS

    g = torch.Generator().manual_seed(seed)
    return EncoderOutput(torch.randn(2, 5, 8, generator=g), torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]).bool(),
                         {SOURCE_IDS: torch.tensor([[3, 4, 5, 4, 0], [6, 7, 8, 0, 0]]),
                          EMOTION_CONTEXT: torch.randn(2, 8, generator=g), EMOTION_START: torch.randn(2, 8, generator=g)})


@pytest.mark.parametrize("options", [{}, {"copy_from_graph": False}, {"emotion_cross_attention": False}, {"layers": 2},
                                     {"attention_dim": 4},  # narrow attention (--depth)
                                     {"feed_forward": "conv", "layers": 2}])  # the authors' convolutions
def test_incremental_steps_match_teacher_forcing(options):
    decoder, memory = _decoder(**options), _memory()
    ids = torch.tensor([[1, 5, 9, 4], [1, 7, 7, 3]])
    full = decoder(ids, memory)
    assert full.is_log_probs and torch.allclose(full.logits.exp().sum(-1), torch.ones(2, 4), atol=1e-5)
    state = decoder.start(memory)
    for t in range(ids.size(1)):
        step, state = decoder.step(ids[:, t], state)
        assert torch.allclose(step, full.logits[:, t], atol=1e-5), t
    assert torch.allclose(decoder.last_hidden(state), full.hidden[:, -1], atol=1e-5)
    # reorder: swapped rows continue each other's prefix
    state = decoder.reorder(state, torch.tensor([1, 0]))
    assert torch.allclose(decoder.last_hidden(state), full.hidden[[1, 0], -1], atol=1e-5)
    # ... mid-response too, with each layer's whole cache (the convolutions' inputs included)
    state = decoder.start(memory)
    for t in range(2):
        _, state = decoder.step(ids[:, t], state)
    step, _ = decoder.step(ids[[1, 0], 2], decoder.reorder(state, torch.tensor([1, 0])))
    assert torch.allclose(step, full.logits[[1, 0], 2], atol=1e-5)


def test_the_emotion_signal_starts_the_response_and_the_emotion_context_enters_cross_attention():
    from edg_baselines.kemp_decoder import ATTENTION, EMOTION_CONTEXT, EMOTION_START

    ids = torch.tensor([[1, 5], [1, 7]])
    decoder, memory = _decoder(), _memory()
    out = decoder(ids, memory)
    other_start = EncoderOutput(memory.hidden, memory.mask, {**memory.extras, EMOTION_START: memory.extras[EMOTION_START] * torch.linspace(-2, 2, 8)})
    assert not torch.allclose(decoder(ids, other_start).logits[:, 0], out.logits[:, 0])
    other_context = EncoderOutput(memory.hidden, memory.mask,
                                  {**memory.extras, EMOTION_CONTEXT: memory.extras[EMOTION_CONTEXT] * torch.linspace(-2, 2, 8)})
    assert not torch.allclose(decoder(ids, other_context).logits, out.logits)
    plain = _decoder(emotion_cross_attention=False)
    assert all(layer.cross.fuse is None for layer in plain.layers)
    assert torch.allclose(plain(ids, other_context).logits, plain(ids, memory).logits)
    attention = out.extras[ATTENTION]
    assert attention.shape == (2, 2, 5) and torch.allclose(attention.sum(-1), torch.ones(2, 2))
    assert float(attention[1, :, 3:].detach().abs().sum()) == 0.0  # padding gets no attention


def test_copy_puts_the_attention_mass_on_the_source_tokens():
    from edg_baselines.kemp_decoder import ATTENTION

    decoder, memory = _decoder(), _memory()
    with torch.no_grad():  # gate closed: everything is copied
        decoder.gate.weight.zero_()
        decoder.gate.bias.fill_(-40.0)
        out = decoder(torch.tensor([[1, 5], [1, 7]]), memory)
    probs, attention = out.logits.exp(), out.extras[ATTENTION]
    source = memory.extras["source_ids"]
    # token 4 appears twice in the first source: both attention weights go to it
    assert torch.allclose(probs[0, :, 4], attention[0, :, 1] + attention[0, :, 3], atol=1e-5)
    assert torch.allclose(probs[1, :, 6], attention[1, :, 0], atol=1e-5)
    assert float(probs[0, :, 10:].sum()) < 1e-5  # words outside the source get nothing
    assert source.shape == (2, 5)


# -- the attention loss -----------------------------------------------------------------------------
def test_attention_loss_is_the_masked_mse_to_the_intensity_weights():
    from edg_baselines.kemp_attention_loss import KempAttentionLoss, AttentionLossOptions

    attention = torch.tensor([[[0.5, 0.5, 0.0], [0.1, 0.9, 0.0]]])  # [B=1, T=2, S=3]
    target = torch.tensor([[0.2, 0.8, 0.0]])
    outputs = ModelOutput(DecoderOutput(torch.zeros(1, 2, 4), torch.zeros(1, 2, 8), extras={"attention": attention}),
                          EncoderOutput(torch.zeros(1, 3, 8), torch.tensor([[True, True, False]])),
                          EmotionOutput(torch.zeros(1, 32), torch.zeros(1, 8), {"intensity_weights": target}))
    value = KempAttentionLoss(AttentionLossOptions()).compute({"labels": torch.tensor([[5, -100]])}, outputs, None)
    # only position 0 of the response, only the two real vertices: ((0.5-0.2)^2 + (0.5-0.8)^2) / 2
    assert float(value.value) == pytest.approx(0.09)
    both = KempAttentionLoss(AttentionLossOptions()).compute({"labels": torch.tensor([[5, 6]])}, outputs, None)
    assert float(both.value) == pytest.approx(((0.3 - 0.2) ** 2 + (0.7 - 0.8) ** 2) / 2)
