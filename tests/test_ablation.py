"""explorer.analysis.ablation (Veit et al. 2016): skip one unit at a time and measure the test error.

Oracles: a direct evaluation of the model, and a forward pass written out unit by unit that skips one.
The last test trains a digits ResNet-20 and its plain twin with the real engine (the slow one: about 10 s on one thread,
more when other jobs share the cores); AdamW for 2 epochs is the shortest recipe that teaches the plain net something.
"""
import pytest
import torch
from helpers import warm_bn as _warm_bn

from explorer.analysis.ablation import ShortcutOnly, ablate_blocks
from explorer.data.config import DataConfig
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py: tiny nets, shared cores
TINY = ModelConfig(depth=14, in_channels=1, input_size=8, width=0.5)  # 2 units per stage




@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(96, 1, 8, 8, generator=g), torch.randint(0, 10, (96,), generator=g)


def _direct_error(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) != y).float().mean().item()


def _error_skipping(model, x, y, skip: str):
    """Forward pass written out unit by unit, with the unit `skip` replaced as the paper describes."""
    model.eval()
    with torch.no_grad():
        h = model.relu(model.bn1(model.conv1(x)))
        for name, unit in model.units():
            if name != skip:
                h = unit(h)
            elif unit.shortcut is not None:
                h = unit.after_add(unit.identity_path(h))  # the residual branch is gone
            # a skippable plain unit: h passes through unchanged
        h = model.relu_final(model.bn_final(h))
        logits = model.fc(torch.flatten(model.avgpool(h), 1))
        return (logits.argmax(1) != y).float().mean().item()


def test_baseline_row_is_the_models_own_error_and_model_is_untouched(data):
    x, y = data
    model = _warm_bn(build_model(TINY)).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rows = ablate_blocks(model, x, y, batch_size=40)  # several batches, one partial
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert isinstance(model.layer1[0], type(model.layer2[1]))  # nothing swapped in the caller's model
    assert rows[0]["unit"] is None and rows[0]["error"] == pytest.approx(_direct_error(model, x, y))
    assert [r["unit"] for r in rows[1:]] == [name for name, _ in model.units()]
    assert [(r["stage"], r["index"]) for r in rows[1:3]] == [("layer1", 0), ("layer1", 1)]


@pytest.mark.parametrize("shortcut", ["A", "B", "none"])
def test_each_row_equals_a_forward_pass_that_skips_that_unit(data, shortcut):
    x, y = data
    model = _warm_bn(build_model(ModelConfig(**{**TINY.to_dict(), "shortcut": shortcut})))
    for row in ablate_blocks(model, x, y)[1:]:
        if row["skippable"]:
            assert row["error"] == pytest.approx(_error_skipping(model, x, y, row["unit"])), row["unit"]
            assert row["reason"] is None


def test_plain_downsampling_units_are_not_skippable_and_say_why(data):
    rows = {r["unit"]: r for r in ablate_blocks(_warm_bn(build_model(TINY.plain())), *data)[1:]}
    for name in ("layer2.0", "layer3.0"):
        assert rows[name]["skippable"] is False and rows[name]["error"] is None
        assert rows[name]["reason"].endswith(".") and "shape" in rows[name]["reason"]
    assert all(rows[n]["skippable"] for n in ("layer1.0", "layer1.1", "layer2.1", "layer3.1"))


def test_zero_init_residual_units_can_be_removed_without_changing_anything(data):
    """At init with zero-init, every branch outputs exactly zero, so keeping only the shortcut changes nothing."""
    x, y = data
    model = build_model(ModelConfig(**{**TINY.to_dict(), "zero_init_residual": True}))
    rows = ablate_blocks(model, x, y)
    assert all(r["error"] == rows[0]["error"] for r in rows)
    unit = model.layer2[0]
    with torch.no_grad():
        assert torch.equal(ShortcutOnly(unit).eval()(x.new_ones(2, 8, 8, 8)), unit.eval()(x.new_ones(2, 8, 8, 8)))


# ----------------------------------------------------------------------------- trained twins (the paper's claim)
@pytest.fixture(scope="module")
def trained_twins(torch_one_thread):
    data_mod = pytest.importorskip("explorer.data.datasets")
    engine = pytest.importorskip("explorer.training.engine")
    ds = data_mod.load_dataset(DataConfig("digits"))
    cfg = ModelConfig(depth=20, in_channels=1, input_size=8)
    models = engine.build_models([("resnet-20", cfg), ("plain-20", cfg.plain())], seed=0)
    engine.train_models(models, ds, TrainConfig(epochs=2, optimizer="adamw", lr=0.003, schedule="cosine", device="cpu",
                                                     diagnostics=False, seed=0))
    x, y = next(data_mod.test_batches(ds, len(ds.y_test)))
    return models, x, y


def test_plain_net_collapses_when_a_unit_is_removed_and_resnet_does_not(trained_twins):
    models, x, y = trained_twins
    summary = {}
    for name, model in models.items():
        rows = ablate_blocks(model, x, y)
        removed = [r["error"] for r in rows[1:] if r["skippable"]]
        summary[name] = (rows[0]["error"], sum(removed) / len(removed))
    (res_base, res_mean), (plain_base, plain_mean) = summary["resnet-20"], summary["plain-20"]
    assert plain_base < 0.8, f"the plain net did not learn enough to test anything: {summary}"
    assert plain_mean > res_mean, summary
    assert plain_mean - plain_base > res_mean - res_base, summary  # it also loses more than it had
