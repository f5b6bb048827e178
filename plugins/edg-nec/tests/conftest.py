"""Shared fixtures: an isolated knowledge cache, a word tokenizer, and a tiny NEC system
built offline on hand-made samples (fake sentence encoder, tiny scorer and BART)."""

from __future__ import annotations

import hashlib

import pytest

SAMPLES = [
    {"id": "s0", "context": ["I lost my dog at the park yesterday."], "target": "Oh no, I hope you find your dog soon.",
     "emotion": "sad", "emotion_id": 5},
    {"id": "s1", "context": ["My sister got a new car for her birthday!"], "target": "That is great, what car did she get?",
     "emotion": "excited", "emotion_id": 1},
    {"id": "s2", "context": ["I failed my exam at school.", "What happened?", "I did not study enough."],
     "target": "I am sorry to hear that.", "emotion": "disappointed", "emotion_id": 15},
    {"id": "s3", "context": ["We are going to the beach this weekend."], "target": "I am sorry to hear that.",
     "emotion": "anticipating", "emotion_id": 22},
    {"id": "s4", "context": ["My boss yelled at me at work today."], "target": "That is terrible, was it your fault?",
     "emotion": "angry", "emotion_id": 4},
    {"id": "s5", "context": ["I baked a cake for my mother."], "target": "She must love the cake!",
     "emotion": "proud", "emotion_id": 3},
]


def _entity_knowledge(sample):
    words = [w.strip(".!?,").lower() for u in sample["context"] for w in u.split()]
    ents = [w for w in words if w in {"dog", "park", "sister", "car", "birthday", "exam", "school", "beach", "boss",
                                      "work", "cake", "mother"}]
    tails = {"ObjectUse": "have fun", "AtLocation": "the house", "HasProperty": "nice"}
    return [{"entity": e, "relation": r, "tail": f"{t} {e}" if r == "AtLocation" else t}
            for e in ents for r, t in tails.items()]


def _social_knowledge(sample):
    return {"xIntent": ["to be happy", "to relax"], "xNeed": ["to go out"], "xWant": ["to talk", "to cry"],
            "xEffect": ["gets tired"], "xReact": ["sad", "happy"]}


def make_samples():
    out = []
    for s in SAMPLES:
        roles = ["speaker" if (len(s["context"]) - j) % 2 == 1 else "listener" for j in range(len(s["context"]))]
        out.append({**s, "conv_id": s["id"], "turn": len(s["context"]) + 1, "roles": roles, "situation": "",
                    "comet_entity": _entity_knowledge(s), "comet_social": _social_knowledge(s)})
    return out


class FakeEncoder:
    """Deterministic bag-of-words vectors (no model download): texts sharing words are close."""

    def encode(self, texts, **kw):
        import torch

        out = torch.zeros(len(texts), 64)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
        return out + 1e-3


@pytest.fixture(autouse=True)
def edg_cache(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.getbasetemp() / "edg-cache"
    monkeypatch.setenv("EDG_CACHE", str(root))
    return root


@pytest.fixture(scope="session")
def word_tokenizer():
    from edg.config import TokenizerConfig
    from edg.tokenization import build_tokenizer

    texts = [u for s in SAMPLES for u in [*s["context"], s["target"]]]
    texts += ["have fun the house nice to be happy relax go out talk cry gets tired sad"]
    return build_tokenizer(TokenizerConfig(kind="word"), texts, [])


def open_tiny(overrides=(), preset="tiny"):
    from edg.pipeline import open_session

    return open_session("nec", overrides=list(overrides), preset=preset)


def fit_stage(system, splits):
    """What the core's pipeline does before ``prepare``: fit (or load) the system's fitted
    components into ``system.fitted`` (cached under ``$EDG_CACHE``)."""
    from edg.data import default_cache_dir
    from edg.fitting import fit_all

    system.fitted.update(fit_all(system.fitted_components(splits, "before_prepare"), default_cache_dir()))


def build_tiny(word_tokenizer, overrides=(), preset="tiny", samples=None):
    """(system, model, prepared splits) on the hand-made samples, fully offline."""
    import datasets

    from edg_nec.social_selection import SocialSelector

    session = open_tiny(overrides, preset)
    system = session.system
    system.tokenizer = word_tokenizer
    system._selector = None
    system._get_selector = lambda: SocialSelector(FakeEncoder(), system.options.social.relations)
    rows = samples or make_samples()
    ds = datasets.Dataset.from_list(rows)
    splits = {"train": ds, "valid": ds, "test": ds}
    fit_stage(system, splits)
    splits = system.prepare(splits)
    model = system.build_model()
    return system, model, splits


@pytest.fixture(scope="session")
def nec():
    """Helpers for the tests (importlib mode: test modules cannot import conftest)."""
    import types

    return types.SimpleNamespace(build_tiny=build_tiny, open_tiny=open_tiny, make_samples=make_samples, fit_stage=fit_stage,
                                 FakeEncoder=FakeEncoder)
