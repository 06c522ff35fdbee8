"""explorer.training.experiments: twins, sweeps and comparisons fitted to their dataset, stable names and hashes."""
import dataclasses
import json

import pytest

from explorer.data.config import DataConfig
from explorer.nets.config import ModelConfig, preset
from explorer.training.experiments import ExperimentSpec, compare, single, sweep, twin
from explorer.training.recipes import TrainConfig

DIGITS = DataConfig("digits", train_subset=64)
RECIPE = TrainConfig(epochs=1, batch_size=16)


def _names(spec):
    return [n for n, _ in spec.models]


def test_twin_is_a_plain_and_a_residual_net_fitted_to_digits():
    spec = twin(preset("resnet20"), DIGITS, RECIPE)
    assert spec.kind == "twin" and _names(spec) == ["plain-20", "resnet-20"]
    plain, resnet = (c for _, c in spec.models)
    assert (resnet.in_channels, resnet.input_size, resnet.num_classes) == (1, 8, 10)
    assert plain == dataclasses.replace(resnet, shortcut="none")
    # a plain config asks for its residual twin with the shortcut given
    assert twin(ModelConfig(shortcut="none"), DIGITS, RECIPE, shortcut="B").models[1][1].shortcut == "B"


def test_sweep_is_plain_and_residual_at_each_depth_sorted_and_unique():
    spec = sweep(ModelConfig(shortcut="none"), [14, 8, 14], DIGITS, RECIPE, shortcut="B")
    assert _names(spec) == ["plain-8", "resnet-8", "plain-14", "resnet-14"]
    assert [c.shortcut for _, c in spec.models] == ["none", "B", "none", "B"]
    assert all(c.input_size == 8 for _, c in spec.models)
    with pytest.raises(ValueError):
        sweep(ModelConfig(), [], DIGITS, RECIPE)
    with pytest.raises(ValueError):
        sweep(ModelConfig(), [9], DIGITS, RECIPE)  # not 6n+2


def test_compare_names_add_what_differs():
    base = ModelConfig(depth=8)
    assert _names(compare(base, DIGITS, RECIPE, placements=["original", "full_preact"])) == \
        ["resnet-8-original", "resnet-8-full_preact"]
    assert _names(compare(base, DIGITS, RECIPE, shortcuts=["A", "B"])) == ["resnet-8-A", "resnet-8-B"]
    both = compare(base, DIGITS, RECIPE, placements=["original", "full_preact"], shortcuts=["A", "B"])
    assert len(set(_names(both))) == 4 and "resnet-8-full_preact-B" in _names(both)
    # zero-init needs a shortcut, so a plain entry in a comparison drops it for every net instead of failing: one
    # initialisation rule for all the nets compared
    zero = compare(dataclasses.replace(base, zero_init_residual=True), DIGITS, RECIPE, shortcuts=["none", "A"])
    assert [c.zero_init_residual for _, c in zero.models] == [False, False]
    kept = compare(dataclasses.replace(base, zero_init_residual=True), DIGITS, RECIPE, shortcuts=["A", "B"])
    assert [c.zero_init_residual for _, c in kept.models] == [True, True]


def test_compare_never_zero_inits_a_placement_whose_zero_branch_cannot_learn():
    from explorer.nets.config import PLACEMENTS, ZERO_INIT_REFUSED
    base = ModelConfig(depth=8, zero_init_residual=True)
    spec = compare(base, DIGITS, RECIPE, placements=list(PLACEMENTS))
    assert ZERO_INIT_REFUSED and {c.zero_init_residual for _, c in spec.models} == {False}  # none, not some
    fits = [p for p in PLACEMENTS if p not in ZERO_INIT_REFUSED]
    assert {c.zero_init_residual for _, c in compare(base, DIGITS, RECIPE, placements=fits).models} == {True}


def test_spec_json_round_trip_and_hash():
    spec = compare(ModelConfig(depth=8, stage_blocks=(1, 2, 1)), DIGITS, RECIPE, shortcuts=["A", "C"])
    again = ExperimentSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.spec_hash() == spec.spec_hash()
    other_seed = dataclasses.replace(spec, train=dataclasses.replace(RECIPE, seed=1))
    other_data = dataclasses.replace(spec, data=DataConfig("digits", train_subset=65))
    assert len({spec.spec_hash(), other_seed.spec_hash(), other_data.spec_hash()}) == 3


def test_bad_specs_raise_one_sentence():
    cfg = ModelConfig(depth=8)
    with pytest.raises(ValueError, match="unique"):
        ExperimentSpec("compare", (("x", cfg), ("x", cfg)), DIGITS, RECIPE)
    with pytest.raises(ValueError, match="kind"):
        ExperimentSpec("tournament", (("x", cfg),), DIGITS, RECIPE)
    with pytest.raises(ValueError, match="at least one"):
        ExperimentSpec("single", (), DIGITS, RECIPE)
    for broken in ({}, {"kind": "single", "models": [{"name": "x"}]}, {"kind": "single", "models": None}):
        with pytest.raises(ValueError, match=r"\.$"):
            ExperimentSpec.from_dict(broken)
    assert single(cfg, DIGITS, RECIPE).models[0][0] == "resnet-8"
