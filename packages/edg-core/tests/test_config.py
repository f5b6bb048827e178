import pytest

from edg.config import RunConfig, parse_overrides, read_yaml, resolve
from edg.errors import ConfigError


def test_defaults_and_overrides_precedence():
    cfg = resolve([{"train": {"lr": 0.1, "batch_size": 4}}, parse_overrides(["train.lr=1e-4"])])
    assert cfg.train.lr == pytest.approx(1e-4)
    assert cfg.train.batch_size == 4
    assert cfg.system == "transformer"


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.lrr'"):
        resolve([parse_overrides(["train.lrr=0.1"])])


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"config key 'train.batch_size'.*got 'big'"):
        resolve([parse_overrides(["train.batch_size=big"])])


def test_override_values_are_yaml():
    layer = parse_overrides(["losses=[{name: nll}, {name: emotion, weight: 0.5}]", "data.max_train=null"])
    cfg = resolve([layer])
    assert [(l.name, l.weight) for l in cfg.losses] == [("nll", 1.0), ("emotion", 0.5)]
    assert cfg.data.max_train is None


@pytest.mark.parametrize("bad", ["train.lr", "=3", "train..lr=1"])
def test_malformed_override(bad):
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_overrides([bad])


def test_yaml_errors_name_file_and_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 1\n   batch_size: [\n")
    with pytest.raises(ConfigError, match=r"c.yaml line \d+"):
        read_yaml(path)
    with pytest.raises(ConfigError, match="not found"):
        read_yaml(tmp_path / "missing.yaml")


def test_config_round_trip(tmp_path):
    from edg.config import dump_yaml

    cfg = resolve([parse_overrides(["train.lr=0.5", "model.d_model=8"])])
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg.model_dump(mode="json")))
    assert RunConfig.model_validate(read_yaml(path)) == cfg


def test_quoted_keys_may_hold_dots():
    layer = parse_overrides(['knowledge."comet.social".num_beams=3', 'knowledge."comet.social".device=cpu'])
    assert layer == {"knowledge": {"comet.social": {"num_beams": 3, "device": "cpu"}}}
    assert resolve([layer]).knowledge["comet.social"]["num_beams"] == 3
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_overrides(['knowledge."comet.social.num_beams=3'])
