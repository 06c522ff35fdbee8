"""explorer.nets.summary: torchinfo's layer table as rows, model_stats, and the DOT block diagram."""
import re
import shutil
import subprocess

import pytest
import torch
from torch import nn

from explorer.nets import config
from explorer.nets.builder import build_model, count_parameters
from explorer.nets.config import ModelConfig, preset
from explorer.nets.summary import block_diagram, layer_table, model_stats

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py: tiny nets, shared cores


TABLE_CONFIGS = [
    preset("resnet20"),
    preset("resnet20").plain(),
    ModelConfig(block="bottleneck", depth=11, shortcut="B", placement="full_preact", in_channels=1, input_size=8),
    ModelConfig(family="imagenet", depth=18, stage_blocks=(1, 1, 1, 1), width=0.25, shortcut="C", input_size=32,
                num_classes=5),
]
IDS = ["resnet20", "plain20", "bottleneck-preact", "imagenet-small"]


def _conv_and_linear_mult_adds(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of every conv and linear layer for one image, counted from real output shapes."""
    total = 0

    def hook(m, inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(x)
    for h in handles:
        h.remove()
    return total


# ----------------------------------------------------------------------------- numbers
def test_resnet20_stats_match_the_paper():
    stats = model_stats(preset("resnet20"))
    assert stats == {"params": 269_722, "mult_adds": 40_552_426, "layers": 20, "units": 9}
    assert round(stats["mult_adds"] / 1e6, 2) == 40.55  # He et al. 2015: ~40.55M mult-adds


def test_each_extra_n_adds_about_14_16m_mult_adds():
    # He et al. 2015 (our PAPERS.md): two more layers per stage cost ~14.16M mult-adds at 32x32.
    step = (model_stats(preset("resnet32"))["mult_adds"] - model_stats(preset("resnet20"))["mult_adds"]) / 2
    assert abs(step / 14.16e6 - 1) < 0.005


@pytest.mark.parametrize("cfg", TABLE_CONFIGS, ids=IDS)
def test_mult_adds_agree_with_a_count_from_the_forward_pass(cfg):
    model = build_model(cfg)
    x = torch.randn(1, cfg.in_channels, cfg.input_size, cfg.input_size)
    expected = _conv_and_linear_mult_adds(model, x)
    got = model_stats(cfg)["mult_adds"]
    assert got >= expected and (got - expected) / expected < 0.01  # torchinfo also counts BN and biases: small


# ----------------------------------------------------------------------------- layer table
@pytest.mark.parametrize("cfg", TABLE_CONFIGS, ids=IDS)
def test_layer_table_rows_add_up_to_the_totals(cfg):
    table = layer_table(cfg)
    rows = table["rows"]
    params = count_parameters(build_model(cfg))
    assert table["total_params"] == table["trainable_params"] == params
    top = [r for r in rows if r["depth"] == 1]
    assert sum(r["params"] for r in top) == params
    assert sum(r["mult_adds"] for r in top) == table["total_mult_adds"] == model_stats(cfg)["mult_adds"]
    assert {r["depth"] for r in rows} == {1, 2, 3}


@pytest.mark.parametrize("cfg", TABLE_CONFIGS, ids=IDS)
def test_each_row_is_the_sum_of_its_children(cfg):
    rows = layer_table(cfg)["rows"]
    for parent in rows:
        children = [r for r in rows if r["depth"] == parent["depth"] + 1 and r["name"].startswith(parent["name"] + ".")]
        if children:
            assert sum(r["params"] for r in children) == parent["params"], parent["name"]
            assert sum(r["mult_adds"] for r in children) == parent["mult_adds"], parent["name"]


@pytest.mark.parametrize("cfg", TABLE_CONFIGS, ids=IDS)
def test_rows_name_real_modules_with_their_real_output_shapes(cfg):
    model = build_model(cfg).eval()
    modules = dict(model.named_modules())
    shapes = {}

    def record(name):
        def hook(module, inputs, out):
            shapes.setdefault(name, list(out.shape))  # a hook must return None, or it replaces the output
        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in modules.items() if n]
    with torch.no_grad():
        model(torch.randn(1, cfg.in_channels, cfg.input_size, cfg.input_size))
    for h in handles:
        h.remove()
    rows = layer_table(cfg)["rows"]
    for row in rows:
        assert row["name"] in modules, row["name"]
        assert row["type"] == type(modules[row["name"]]).__name__
        assert row["depth"] == row["name"].count(".") + 1
        assert row["output_shape"] == shapes[row["name"]], row["name"]
        assert row["params"] == sum(p.numel() for p in modules[row["name"]].parameters())
    last = rows[-1]
    assert last["name"] == "fc" and last["output_shape"] == [1, cfg.num_classes]


def test_max_depth_limits_the_rows():
    cfg = preset("resnet20")
    assert {r["depth"] for r in layer_table(cfg, max_depth=1)["rows"]} == {1}
    units = [r["name"] for r in layer_table(cfg, max_depth=2)["rows"] if r["depth"] == 2]
    assert units == [name for name, _ in build_model(cfg).units()]


def test_plain_twin_has_the_same_table_numbers_with_option_a():
    res, plain = layer_table(preset("resnet20")), layer_table(preset("resnet20").plain())
    assert res["total_params"] == plain["total_params"]
    res_params = {r["name"]: r["params"] for r in res["rows"]}
    plain_params = {r["name"]: r["params"] for r in plain["rows"]}
    assert {name: res_params[name] for name in plain_params} == plain_params
    extra = set(res_params) - set(plain_params)  # only the parameter-free shortcuts
    assert len(extra) == 9 and all(name.endswith(".shortcut") and res_params[name] == 0 for name in extra)


# ----------------------------------------------------------------------------- block diagram
def _add_nodes(dot: str) -> int:
    return len(re.findall(r'_add \[label="\+', dot))


def _arrow_labels(dot: str) -> list:
    return re.findall(r'-> u\d+_add \[label="([^"]*)"', dot)


def test_diagram_of_resnet20_labels_identity_and_zero_pad():
    dot = block_diagram(preset("resnet20"))
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    labels = _arrow_labels(dot)
    assert len(labels) == _add_nodes(dot) == 9  # one addition and one shortcut arrow per unit
    assert labels.count("zero-pad") == 2 and labels.count("identity") == 7  # layer2.0 and layer3.0 change shape
    assert "projection" not in dot


def test_diagram_of_a_plain_net_has_no_additions():
    dot = block_diagram(preset("resnet20").plain())
    assert _add_nodes(dot) == 0 and "shape=circle" not in dot
    assert not any(word in dot for word in ("identity", "zero-pad", "projection"))
    assert dot.count("3×3 conv") == 19  # stem + 18 branch convs, all still drawn


@pytest.mark.parametrize("block", config.BLOCKS)
def test_diagram_labels_projections_where_they_apply(block):
    cfg = ModelConfig(block=block, depth=20, shortcut="B")  # bottleneck 9n+2: n = 2; basic 6n+2: n = 3
    model = build_model(cfg)
    b_labels = _arrow_labels(block_diagram(cfg))
    changes = sum(u.in_ch != u.out_ch or u.stride != 1 for _, u in model.units())
    assert b_labels.count("projection") == changes and b_labels.count("identity") == len(model.units()) - changes
    c_labels = _arrow_labels(block_diagram(ModelConfig(block=block, depth=20, shortcut="C")))
    assert set(c_labels) == {"projection"} and len(c_labels) == len(model.units())


@pytest.mark.parametrize("max_per_stage", [1, 2, 3, 4, 17, 18])
def test_long_stages_are_elided_with_an_honest_count(max_per_stage):
    cfg = preset("resnet110")  # 18 units per stage
    dot = block_diagram(cfg, max_per_stage=max_per_stage)
    hidden = [int(k) for k in re.findall(r"… (\d+) more units …", dot)]
    shown = _add_nodes(dot)
    assert len(hidden) == (3 if max_per_stage < 18 else 0)
    assert shown + sum(hidden) == sum(cfg.blocks_per_stage)
    assert f"layer3.{cfg.blocks_per_stage[2] - 1}\\n" in dot  # the last unit is always drawn


def test_diagram_shows_the_family_and_placement_specific_parts():
    imagenet = block_diagram(ModelConfig(family="imagenet", depth=18, stage_blocks=(1, 1, 1, 1), width=0.25))
    assert "max-pool" in imagenet and "7×7 conv" in imagenet
    preact = block_diagram(ModelConfig(placement="full_preact", depth=8))
    assert "BN → ReLU\\nglobal avg pool" in preact
    assert "BN → ReLU" not in block_diagram(ModelConfig(depth=8)).split("pool [")[1]
    assert 'label="linear, 7 classes"' in block_diagram(ModelConfig(depth=8, num_classes=7))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
@pytest.mark.parametrize("cfg", TABLE_CONFIGS + [preset("resnet110")], ids=IDS + ["resnet110"])
def test_graphviz_accepts_the_diagram(cfg):
    result = subprocess.run(["dot", "-Tsvg"], input=block_diagram(cfg), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
