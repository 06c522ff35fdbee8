"""explorer.nets.config and explorer.data.config: validation with clear messages, JSON round trips, twins, presets.

The config validates against explorer.nets.kinds' registries (one name for one thing).
"""
import dataclasses
import json

import pytest

from explorer.data.config import DataConfig
from explorer.nets import config, kinds
from explorer.nets.config import ModelConfig, preset
from explorer.training.recipes import TrainConfig


# ----------------------------------------------------------------------------- registries
def test_config_names_are_the_block_registries():
    """One name for one thing: config validates against the registries themselves, not copies of their keys."""
    assert config.SHORTCUTS is kinds.SHORTCUTS
    assert config.PLACEMENTS is kinds.PLACEMENTS
    assert config.BLOCKS is kinds.BLOCKS


def test_a_placement_registered_later_is_accepted_and_built(monkeypatch):
    """Adding a variant touches one place: the registry entry (no list in config to keep in step)."""
    import torch

    from explorer.nets.builder import build_model

    entry = dataclasses.replace(kinds.PLACEMENTS["original"], help="A test-only copy of the original unit.")
    monkeypatch.setitem(kinds.PLACEMENTS, "test_only", entry)
    cfg = ModelConfig(depth=8, placement="test_only", in_channels=1, input_size=8)
    assert build_model(cfg)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="placement must be one of"):
        ModelConfig(placement="not_registered")
    refusing = dataclasses.replace(kinds.PLACEMENTS["relu_before_add"], help="A test-only unit ending in a ReLU.")
    monkeypatch.setitem(kinds.PLACEMENTS, "test_refusing", refusing)
    assert ModelConfig(placement="test_refusing").can_zero_init is False  # the entry's zero_init=None decides
    with pytest.raises(ValueError, match="does not fit the test_refusing placement"):
        ModelConfig(placement="test_refusing", zero_init_residual=True)


def test_every_registry_entry_is_accepted_by_the_config():
    for shortcut in kinds.SHORTCUTS:
        for placement in kinds.PLACEMENTS:
            cfg = ModelConfig(shortcut=shortcut, placement=placement)
            assert (cfg.shortcut, cfg.placement) == (shortcut, placement)


# ----------------------------------------------------------------------------- JSON round trip
ROUND_TRIP_CONFIGS = [preset(name) for name in config.PRESETS] + [
    ModelConfig(family="cifar", block="bottleneck", stage_blocks=[1, 2, 3], width=0.5, in_channels=1,
                input_size=8, num_classes=7, placement="relu_preact", shortcut="C", norm="batch",
                init="xavier", zero_init_residual=True),
    ModelConfig(shortcut="none", norm="none", placement="bn_after_add"),
]


@pytest.mark.parametrize("cfg", ROUND_TRIP_CONFIGS, ids=lambda c: f"{c.family}-{c.name}-{c.placement}-{c.shortcut}")
def test_model_config_json_round_trip(cfg):
    text = json.dumps(cfg.to_dict())
    back = ModelConfig.from_dict(json.loads(text))
    assert back == cfg
    assert hash(back) == hash(cfg)  # frozen configs are usable as cache keys
    assert back.stage_blocks is None or isinstance(back.stage_blocks, tuple)


def test_stage_blocks_list_is_stored_as_a_tuple():
    cfg = ModelConfig(stage_blocks=[2, 2, 2])
    assert cfg.stage_blocks == (2, 2, 2)
    hash(cfg)  # a list inside would make the config unhashable


@pytest.mark.parametrize("cls, obj", [
    (DataConfig, DataConfig(name="folder", path="/tmp/imgs", train_subset=50, augment=False)),
    (TrainConfig, TrainConfig(epochs=3, steps=40, optimizer="adamw", lr=0.01, schedule="cosine", seed=7)),
])
def test_data_and_train_configs_round_trip(cls, obj):
    assert cls.from_dict(json.loads(json.dumps(obj.to_dict()))) == obj


@pytest.mark.parametrize("cls", [ModelConfig, DataConfig, TrainConfig])
def test_from_dict_rejects_unknown_fields_by_name(cls):
    with pytest.raises(ValueError, match="colour"):
        cls.from_dict({"colour": "red"})


@pytest.mark.parametrize("cls", [ModelConfig, DataConfig, TrainConfig])
def test_from_dict_rejects_non_objects(cls):
    with pytest.raises(ValueError):
        cls.from_dict(["depth", 20])


# ----------------------------------------------------------------------------- validation
INVALID = [
    # (fields, the field the message must name)
    (dict(depth=21), "depth"),
    (dict(depth=2), "depth"),
    (dict(depth=True), "depth"),
    (dict(block="bottleneck", depth=14), "depth"),
    (dict(placement="sideways"), "placement"),
    (dict(shortcut="D"), "shortcut"),
    (dict(family="vgg"), "family"),
    (dict(block="dense"), "block"),
    (dict(norm="layer"), "norm"),
    (dict(init="orthogonal"), "init"),
    (dict(num_classes=0), "num_classes"),
    (dict(num_classes=2.5), "num_classes"),
    (dict(in_channels=0), "in_channels"),
    (dict(input_size=2), "input_size"),
    (dict(family="imagenet", depth=18, input_size=8), "input_size"),
    (dict(family="imagenet", depth=20), "depth"),
    (dict(family="imagenet", depth=50, block="basic"), "block"),
    (dict(width=0), "width"),
    (dict(width=9), "width"),
    (dict(stage_blocks=(1, 2)), "stage_blocks"),
    (dict(stage_blocks=(1, 0, 1)), "stage_blocks"),
    (dict(family="imagenet", stage_blocks=(1, 1, 1)), "stage_blocks"),
    (dict(zero_init_residual=True, norm="none"), "zero_init_residual"),
    (dict(zero_init_residual=True, shortcut="none"), "zero_init_residual"),
    (dict(zero_init_residual="false"), "zero_init_residual"),  # a truthy string must not switch it on
]


@pytest.mark.parametrize("fields, field", INVALID, ids=[str(kw) for kw, _ in INVALID])
def test_invalid_model_config_names_the_field_in_one_sentence(fields, field):
    with pytest.raises(ValueError) as err:
        ModelConfig(**fields)
    message = str(err.value)
    assert field in message
    assert "\n" not in message and message.endswith(".")


def test_bad_value_is_quoted_in_the_message():
    with pytest.raises(ValueError, match="sideways"):
        ModelConfig(placement="sideways")


@pytest.mark.parametrize("block, depth", [("basic", d) for d in (8, 14, 20, 32, 44, 56, 110)]
                         + [("bottleneck", d) for d in (11, 20, 29, 164)])
def test_valid_cifar_depths(block, depth):
    cfg = ModelConfig(block=block, depth=depth)
    per_block = kinds.BLOCKS[block].convs
    assert cfg.num_layers == depth
    assert cfg.blocks_per_stage == ((depth - 2) // (3 * per_block),) * 3


def test_replace_revalidates():
    cfg = preset("resnet20")
    deeper = dataclasses.replace(cfg, depth=56)
    assert deeper.name == "resnet-56" and deeper.blocks_per_stage == (9, 9, 9)
    with pytest.raises(ValueError, match="depth"):
        dataclasses.replace(cfg, depth=21)
    with pytest.raises(ValueError, match="zero_init_residual"):
        dataclasses.replace(cfg, zero_init_residual=True, norm="none")


def test_config_is_frozen():
    cfg = ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.depth = 56


# ----------------------------------------------------------------------------- derived values
def test_plain_twin_and_back():
    cfg = ModelConfig(depth=32, shortcut="B", zero_init_residual=True, placement="full_preact")
    plain = cfg.plain()
    assert plain.shortcut == "none" and plain.zero_init_residual is False and plain.is_plain
    assert dataclasses.replace(plain, shortcut="B", zero_init_residual=True) == cfg  # nothing else changed
    assert plain.name == "plain-32" and cfg.name == "resnet-32"
    assert plain.plain() == plain
    assert plain.residual().shortcut == "A" and plain.residual("C").shortcut == "C"
    assert cfg.residual() is cfg


@pytest.mark.parametrize("name, layers, family, shortcut", [
    ("resnet20", 20, "cifar", "A"), ("resnet32", 32, "cifar", "A"), ("resnet44", 44, "cifar", "A"),
    ("resnet56", 56, "cifar", "A"), ("resnet110", 110, "cifar", "A"),
    ("resnet18", 18, "imagenet", "B"), ("resnet34", 34, "imagenet", "B"), ("resnet50", 50, "imagenet", "B"),
    ("preact_resnet164", 164, "cifar", "B"),
])
def test_presets_are_the_papers_nets(name, layers, family, shortcut):
    cfg = preset(name)
    assert (cfg.num_layers, cfg.family, cfg.shortcut) == (layers, family, shortcut)
    assert cfg.name == f"resnet-{layers}"
    if family == "imagenet":
        assert (cfg.in_channels, cfg.input_size, cfg.num_classes) == (3, 224, 1000)
    else:
        assert (cfg.in_channels, cfg.input_size, cfg.num_classes) == (3, 32, 10)


def test_preact_164_is_bottleneck_full_preact():
    cfg = preset("preact_resnet164")
    assert (cfg.block, cfg.placement, cfg.blocks_per_stage) == ("bottleneck", "full_preact", (18, 18, 18))


def test_imagenet_stage_blocks_follow_table_1():
    assert preset("resnet34").blocks_per_stage == (3, 4, 6, 3)
    assert preset("resnet50").blocks_per_stage == (3, 4, 6, 3)


def test_stage_blocks_override_depth_in_the_layer_count():
    cfg = ModelConfig(family="imagenet", depth=50, block="bottleneck", stage_blocks=(1, 1, 1, 1))
    assert cfg.blocks_per_stage == (1, 1, 1, 1) and cfg.num_layers == 4 * 3 + 2


def test_preset_overrides_and_unknown_name():
    assert preset("resnet20", num_classes=100, in_channels=1).num_classes == 100
    with pytest.raises(ValueError, match="resnet21"):
        preset("resnet21")
    with pytest.raises(ValueError, match="num_classes"):
        preset("resnet20", num_classes=0)


# ----------------------------------------------------------------------------- data and recipe
@pytest.mark.parametrize("cls, fields, field", [
    (DataConfig, dict(name="imagenet21k"), "dataset"),
    (DataConfig, dict(name="folder"), "folder"),
    (DataConfig, dict(train_subset=0), "train_subset"),
    (TrainConfig, dict(lr=0), "lr"),
    (TrainConfig, dict(optimizer="lbfgs"), "optimizer"),
    (TrainConfig, dict(batch_size=0), "batch_size"),
    (TrainConfig, dict(momentum=1.0), "momentum"),
    (TrainConfig, dict(steps=0), "steps"),
    (TrainConfig, dict(steps=True), "steps"),
    (TrainConfig, dict(schedule="linear"), "schedule"),
])
def test_invalid_data_and_train_configs_name_the_field(cls, fields, field):
    with pytest.raises(ValueError, match=field):
        cls(**fields)
