"""The public API of the baseline: every name importable, and a system that extends the
baseline through it alone trains."""

from __future__ import annotations

import edg.api as api


def test_every_public_name_exists():
    for name in api.__all__:
        assert getattr(api, name) is not None, name


class LongerTargets(api.TransformerSystem):
    """A third-party variation: the baseline with a different target encoding."""

    def encode(self, batch):
        out = api.encode_dialogue(batch, self.tokenizer, max_context_tokens=32, max_target_tokens=8)
        return out


def test_a_system_built_on_the_api_runs(tmp_path, monkeypatch):
    from edg import pipeline
    from edg.testing import TINY_TRANSFORMER
    from edg.training.loop import train

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = pipeline.open_session("transformer", None, [*TINY_TRANSFORMER, "train.max_steps=4"])
    system = LongerTargets(session.config, session.system.options, session.plugins)
    session.system = system
    splits, model = pipeline.build_everything(session, tmp_path / "run", progress=False)
    assert max(len(x) for x in splits["train"]["labels"]) <= 8
    assert isinstance(model.embedding, api.DialogueEmbedding)
    state = train(model, system, system.build_losses(), splits, session.config, tmp_path / "run")
    assert state.step == 4
