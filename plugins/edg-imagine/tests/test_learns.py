"""IMAGINE learns on real ED samples within a short CPU run (the full model: causes from the
fitted RECCON detector, mechanism labels from the EPITOME classifiers, tiny-COMET knowledge
through ``comet.imagine``): the validation loss falls and the emotion accuracy on held-out
samples ends clearly above the majority-class rate. Its speed is not asserted here (a timed
test fails on a busy machine); training speed is measured by ``benchmarks/bench_epoch.py``."""

from __future__ import annotations

STEPS = 300
SMALL = ["model.d_model=64", "model.ffn_dim=128", "model.max_knowledge_tokens=24", "model.tiny_comet=true",
         "tokenizer.vocab_size=3000", "tokenizer.max_context_tokens=64", "tokenizer.max_target_tokens=16",
         'knowledge."comet.imagine".num_beams=1', 'knowledge."comet.imagine".num_return=1',
         'knowledge."comet.imagine".max_length=4', 'knowledge."comet.imagine".batch_size=512',
         'knowledge."comet.imagine".device=cpu',
         "train.batch_size=32", "train.eval_batch_size=64", "train.lr=3e-3", f"train.max_steps={STEPS}",
         f"train.eval_every={STEPS}", "train.threads=1", "train.progress=false", "train.precision=fp32",
         "train.device=cpu"]


def test_imagine_learns_on_real_samples(tmp_path, monkeypatch, data_overrides, small_classifier_overrides):
    from edg.testing import train_and_validate

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    result = train_and_validate("imagine", tmp_path / "run", [*data_overrides, *small_classifier_overrides, *SMALL],
                                max_train=4000, max_valid=300)
    start, end, majority = result["start"], result["end"], result["majority"]
    print(f"emotion accuracy {end['emotion_acc']:.3f} (majority {majority:.3f}, untrained {start['emotion_acc']:.3f}); "
          f"valid loss {start['loss']:.3f} -> {end['loss']:.3f}, token NLL {start['token_nll']:.3f} -> "
          f"{end['token_nll']:.3f}; mechanism accuracy er {end['er_acc']:.3f} ip {end['ip_acc']:.3f} "
          f"ex {end['ex_acc']:.3f}; {result['steps']} steps in {result['seconds']:.1f} s")
    assert result["steps"] == STEPS
    assert end["token_nll"] < start["token_nll"] - 1.0, (start, end)
    assert end["loss"] < 0.8 * start["loss"], (start, end)
    assert end["emotion_acc"] > 2 * majority, (end["emotion_acc"], majority)
