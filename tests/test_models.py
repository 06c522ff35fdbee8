"""explorer.nets.blocks and .builder: the paper's parameter counts, twins, torchvision weights, every variant.

PyTorch and torchvision are the oracles wherever they can be; the parameter counts are the issue's
(He et al. 2015, Table 6 rounds them to 0.27M ... 1.7M).
"""
import copy
import itertools
import pickle

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.overrides import TorchFunctionMode

from explorer.nets import blocks, config, kinds
from explorer.nets.blocks import Projection, ResidualUnit, ZeroPadShortcut
from explorer.nets.builder import (
    build_model,
    convert_torchvision_state_dict,
    copy_matching_weights,
    count_parameters,
    load_torchvision_weights,
)
from explorer.nets.config import ModelConfig, preset

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py: tiny nets, shared cores


def small_cfg(family="cifar", block="basic", **fields) -> ModelConfig:
    """The smallest net of a family: CIFAR depth 8 (basic) / 11 (bottleneck) at 1x8x8; ImageNet 1-1-1-1 at
    3x32x32 and a quarter of the width (16..128 channels: the same stem, stages and shortcuts, ~20x cheaper)."""
    if family == "cifar":
        base = dict(depth=8 if block == "basic" else 11, in_channels=1, input_size=8, num_classes=7)
    else:
        base = dict(depth=18 if block == "basic" else 50, stage_blocks=(1, 1, 1, 1), width=0.25, in_channels=3,
                    input_size=32, num_classes=5)
    return ModelConfig(family=family, block=block, **{**base, **fields})


def batch_for(cfg: ModelConfig, n: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g)


# ----------------------------------------------------------------------------- parameter counts
@pytest.mark.parametrize("name, params", [
    ("resnet20", 269_722), ("resnet32", 464_154), ("resnet44", 658_586), ("resnet56", 853_018),
    ("resnet110", 1_727_962), ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032),
])
def test_parameter_counts_of_the_papers_nets(name, params):
    assert count_parameters(build_model(preset(name))) == params


def test_preact_resnet164_has_about_1_7_million_parameters():
    # Identity Mappings (He et al. 2016), Table 3: ResNet-164, 1.7M parameters.
    assert abs(count_parameters(build_model(preset("preact_resnet164"))) - 1.7e6) < 0.05e6


# ----------------------------------------------------------------------------- plain twins
@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", config.PLACEMENTS)
def test_option_a_net_and_its_plain_twin_match_name_for_name(block, placement):
    cfg = small_cfg(block=block, placement=placement, shortcut="A")
    res, plain = build_model(cfg), build_model(cfg.plain())

    def shapes(m):  # params and BN buffers
        return [(n, tuple(t.shape)) for n, t in m.state_dict().items()]
    assert shapes(res) == shapes(plain)
    assert [n for n, _ in res.named_parameters()] == [n for n, _ in plain.named_parameters()]


def test_plain_twin_starts_from_the_residual_weights_and_differs_only_by_the_shortcut():
    cfg = small_cfg(shortcut="A")
    res, plain = build_model(cfg).eval(), build_model(cfg.plain()).eval()
    assert copy_matching_weights(res, plain) == len(plain.state_dict())
    for (_, a), (_, b) in zip(res.state_dict().items(), plain.state_dict().items(), strict=True):
        assert torch.equal(a, b)
    x = batch_for(cfg)
    assert not torch.allclose(res(x), plain(x))  # the addition changes the function
    for (_, unit), (_, twin) in zip(res.units(), plain.units(), strict=True):
        assert twin.shortcut is None and unit.shortcut is not None


def test_option_b_twin_differs_by_exactly_the_projections():
    cfg = small_cfg(shortcut="B")
    extra = set(build_model(cfg).state_dict()) - set(build_model(cfg.plain()).state_dict())
    assert extra and all(".shortcut." in name for name in extra)


# ----------------------------------------------------------------------------- torchvision
def _randomise_batch_norm(model: nn.Module, seed: int = 0) -> None:
    """Give every BN non-trivial statistics and affine terms, so eval-mode BN is really tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_torchvision_weights_give_the_same_logits(depth):
    torch.manual_seed(depth)
    tv = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    _randomise_batch_norm(tv, seed=depth)
    tv.eval()
    ours = load_torchvision_weights(build_model(preset(f"resnet{depth}")), tv.state_dict()).eval()
    assert count_parameters(ours) == count_parameters(tv)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = tv(x), ours(x)
    assert got.shape == (2, 1000)
    assert (got - expected).abs().max().item() < 1e-4


def test_converted_torchvision_state_dict_loads_strictly():
    sd = torchvision.models.resnet18(weights=None).state_dict()
    converted = convert_torchvision_state_dict(sd)
    assert not any("downsample" in k for k in converted) and any(".shortcut." in k for k in converted)
    build_model(preset("resnet18")).load_state_dict(converted, strict=True)


def test_torchvision_weights_that_do_not_match_are_not_loaded_silently():
    sd = torchvision.models.resnet18(weights=None).state_dict()
    del sd["fc.bias"]
    with pytest.raises((RuntimeError, ValueError)):
        load_torchvision_weights(build_model(preset("resnet18")), sd)


@pytest.mark.parametrize("cfg", [small_cfg("cifar", shortcut="B"), small_cfg("imagenet", shortcut="A"),
                                 small_cfg("imagenet", shortcut="B", placement="full_preact"),
                                 small_cfg("imagenet", shortcut="B", norm="none")],
                         ids=["cifar", "shortcut-A", "full_preact", "norm-none"])
def test_torchvision_weights_refused_for_nets_they_do_not_fit(cfg):
    # The check comes before loading, so an empty state_dict is enough (loading it would raise RuntimeError).
    with pytest.raises(ValueError, match="torchvision"):
        load_torchvision_weights(build_model(cfg), {})


# ----------------------------------------------------------------------------- every variant
COMBOS = list(itertools.product(config.FAMILIES, config.BLOCKS, config.SHORTCUTS, config.PLACEMENTS, config.NORMS))


@pytest.mark.parametrize("family, block, shortcut, placement, norm", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_variant_builds_trains_one_step_with_finite_gradients(family, block, shortcut, placement, norm):
    cfg = small_cfg(family, block, shortcut=shortcut, placement=placement, norm=norm)
    model = build_model(cfg).train()
    x = batch_for(cfg)
    out = model(x)
    assert out.shape == (2, cfg.num_classes)
    F.cross_entropy(out, torch.tensor([0, 1])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient (unused module?)"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
    assert [n for n, _ in model.units()] and len(model.units()) == sum(cfg.blocks_per_stage)


@pytest.mark.parametrize("shortcut", config.SHORTCUTS)
@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("family, size", [("cifar", 9), ("imagenet", 33)])
def test_odd_input_sizes_keep_branch_and_shortcut_shapes_equal(family, size, block, shortcut):
    cfg = small_cfg(family, block, shortcut=shortcut, input_size=size)
    assert build_model(cfg)(batch_for(cfg)).shape == (2, cfg.num_classes)


@pytest.mark.parametrize("width, widths", [(0.5, (8, 16, 32)), (0.3, (5, 10, 19)), (2.0, (32, 64, 128))])
def test_width_multiplier_scales_every_stage(width, widths):
    cfg = small_cfg(width=width, shortcut="A")
    model = build_model(cfg)
    assert [getattr(model, s)[-1].out_ch for s in model.stages] == list(widths)
    assert model.fc.in_features == widths[-1]
    assert model(batch_for(cfg)).shape == (2, cfg.num_classes)


def test_stage_blocks_and_units_in_forward_order():
    cfg = small_cfg(stage_blocks=(1, 2, 3))
    model = build_model(cfg)
    assert model.stages == ["layer1", "layer2", "layer3"]
    assert [len(getattr(model, s)) for s in model.stages] == [1, 2, 3]
    called = []
    for name, unit in model.units():
        unit.register_forward_hook(lambda m, i, o, name=name: called.append(name))
    model(batch_for(cfg))
    assert called == [n for n, _ in model.units()] and len(called) == 6
    assert build_model(small_cfg("imagenet")).stages == ["layer1", "layer2", "layer3", "layer4"]


@pytest.mark.parametrize("block", config.BLOCKS)
def test_units_change_shape_only_at_stage_starts(block):
    model = build_model(small_cfg(block=block, stage_blocks=(2, 2, 2)))
    strides = [u.stride for _, u in model.units()]
    assert strides == [1, 1, 2, 1, 2, 1]
    expansion = kinds.BLOCKS[block].expansion
    assert [u.out_ch for _, u in model.units()] == [w * expansion for w in (16, 16, 32, 32, 64, 64)]


@pytest.mark.parametrize("init", config.INITS)
def test_init_scales_conv_weights_as_the_papers_say(init):
    model = build_model(ModelConfig(init=init))
    w = model.layer3[-1].conv2.weight  # 64 x 64 x 3 x 3: enough samples for a tight std
    fan = w.shape[1] * 9  # fan_in == fan_out here
    expected = (2 / fan) ** 0.5 if init == "kaiming" else (2 / (2 * fan)) ** 0.5
    assert abs(w.std().item() / expected - 1) < 0.05
    bn = model.layer3[-1].bn2
    assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(bn.bias, torch.zeros_like(bn.bias))


def test_build_model_needs_a_config():
    with pytest.raises(TypeError):
        build_model({"depth": 20})


# ----------------------------------------------------------------------------- ReLUs, pickling
class _CountReLUCalls(TorchFunctionMode):
    """Counts functional ReLU calls, whoever makes them (an nn.ReLU, or F.relu written in a forward)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_):
            self.calls += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("family", config.FAMILIES)
@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", config.PLACEMENTS)
def test_each_relu_is_its_own_module_called_once(family, block, placement):
    cfg = small_cfg(family, block, placement=placement, shortcut="B")
    model = build_model(cfg)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)
    calls = {id(m): 0 for m in relus}
    for m in relus:
        m.register_forward_hook(lambda mod, i, o: calls.__setitem__(id(mod), calls[id(mod)] + 1))
    with _CountReLUCalls() as functional:
        model(batch_for(cfg))
    assert set(calls.values()) == {1}  # each ReLU module runs exactly once: none is shared
    assert functional.calls == len(relus)  # and no ReLU happens outside a module


@pytest.mark.parametrize("placement", config.PLACEMENTS)
def test_models_pickle_and_deep_copy(placement):
    cfg = small_cfg(block="bottleneck", placement=placement, shortcut="A")
    model = build_model(cfg).eval()
    x = batch_for(cfg)
    with torch.no_grad():
        expected = model(x)
        for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            assert clone.cfg == cfg
            assert torch.equal(clone(x), expected)
            pairs = zip(model.parameters(), clone.parameters(), strict=True)
            assert all(a.data_ptr() != b.data_ptr() for a, b in pairs)


# ----------------------------------------------------------------------------- units and shortcuts
def _unit_inputs(model: nn.Module, x: torch.Tensor) -> dict:
    """The input each residual unit sees in one forward pass."""
    seen = {}
    handles = [u.register_forward_pre_hook(lambda m, args, name=name: seen.__setitem__(name, args[0]))
               for name, u in model.units()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


ZERO_INIT_PLACEMENTS = [p for p in config.PLACEMENTS if p not in config.ZERO_INIT_REFUSED]


@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", ZERO_INIT_PLACEMENTS)
@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_zero_init_residual_makes_every_unit_start_as_its_shortcut(block, placement, shortcut):
    cfg = small_cfg(block=block, placement=placement, shortcut=shortcut, zero_init_residual=True)
    model = build_model(cfg).eval()
    inputs = _unit_inputs(model, batch_for(cfg))
    with torch.no_grad():
        for name, unit in model.units():
            x = inputs[name]
            assert unit.residual_branch(x).abs().max().item() == 0, name
            assert torch.equal(unit(x), unit.after_add(unit.identity_path(x))), name


@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", ZERO_INIT_PLACEMENTS)
def test_zero_init_residual_zeroes_only_the_last_layer_the_branch_runs(block, placement):
    """Goyal et al. 2017 zero the last BN of a branch that ends in BN; a pre-activation branch ends in a conv."""
    cfg = small_cfg(block=block, placement=placement, shortcut="B", zero_init_residual=True)
    model = build_model(cfg).eval()
    inputs = _unit_inputs(model, batch_for(cfg))
    for name, unit in model.units():
        order = []
        layers = [m for m in unit.modules() if isinstance(m, (nn.BatchNorm2d, nn.Conv2d))]
        handles = [m.register_forward_hook(lambda m, i, o, order=order: order.append(m)) for m in layers]
        with torch.no_grad():
            unit.residual_branch(inputs[name])
        for h in handles:
            h.remove()
        zeroed = [m for m in layers if not m.weight.any()]
        assert zeroed == [order[-1]] and order[-1] is unit.zero_init_target, name
        kind = nn.Conv2d if kinds.PLACEMENTS[placement].zero_init == "conv" else nn.BatchNorm2d
        assert isinstance(order[-1], kind), name


@pytest.mark.parametrize("placement", sorted(config.ZERO_INIT_REFUSED))
def test_zero_init_is_refused_with_one_sentence_where_a_zero_branch_cannot_learn(placement):
    with pytest.raises(ValueError) as err:
        small_cfg(placement=placement, zero_init_residual=True)
    text = str(err.value)
    assert placement in text and text.endswith(".") and text.count(". ") == 0 and "\n" not in text
    assert not small_cfg(placement=placement).can_zero_init
    assert kinds.PLACEMENTS[placement].zero_init is None  # the registry agrees with the config's list


def test_the_registry_and_the_config_agree_on_zero_init():
    refused = {name for name, p in kinds.PLACEMENTS.items() if p.zero_init is None}
    assert refused == set(config.ZERO_INIT_REFUSED) == {"relu_before_add", "bn_after_add"}


def _branch_parameters(unit: ResidualUnit) -> dict:
    return {f"{n}.{k}": p for n in unit._branch_names for k, p in getattr(unit, n).named_parameters()}


@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", ZERO_INIT_PLACEMENTS)
def test_zero_initialised_branches_learn_with_real_sgd_steps(block, placement, tiny_digits):
    """A few SGD steps on real digits: every branch parameter gets a gradient, and F(x) leaves zero."""
    from explorer.data.datasets import normalize
    cfg = small_cfg(block=block, placement=placement, shortcut="A", zero_init_residual=True, num_classes=10)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    x, y = normalize(tiny_digits.x_train[:32], tiny_digits.preprocessing), tiny_digits.y_train[:32]
    params = {f"{n}.{k}": p for n, u in model.units() for k, p in _branch_parameters(u).items()}
    got_gradient = dict.fromkeys(params, False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        for k, p in params.items():
            got_gradient[k] |= p.grad is not None and bool(p.grad.abs().max() > 0)
        opt.step()
    assert all(got_gradient.values()), [k for k, v in got_gradient.items() if not v]
    model.eval()
    inputs = _unit_inputs(model, x)
    with torch.no_grad():
        assert all(u.residual_branch(inputs[n]).abs().max() > 0 for n, u in model.units())


def test_without_zero_init_the_branches_are_not_zero():
    cfg = small_cfg(shortcut="A")
    model = build_model(cfg).eval()
    inputs = _unit_inputs(model, batch_for(cfg))
    with torch.no_grad():
        assert all(u.residual_branch(inputs[n]).abs().max() > 0 for n, u in model.units())


@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", config.PLACEMENTS)
@pytest.mark.parametrize("shortcut", config.SHORTCUTS)
def test_unit_forward_is_after_add_of_branch_plus_shortcut(block, placement, shortcut):
    cfg = small_cfg(block=block, placement=placement, shortcut=shortcut)
    model = build_model(cfg).eval()
    inputs = _unit_inputs(model, batch_for(cfg))
    with torch.no_grad():
        for name, unit in model.units():
            x = inputs[name]
            added = unit.residual_branch(x) + (unit.identity_path(x) if unit.shortcut is not None else 0)
            assert torch.equal(unit(x), unit.after_add(added)), name


def test_option_a_subsamples_and_appends_zero_channels():
    model = build_model(preset("resnet20"))
    unit = model.layer2[0]
    assert isinstance(unit.shortcut, ZeroPadShortcut) and not list(unit.shortcut.parameters())
    x = torch.randn(2, 16, 8, 8)
    out = unit.shortcut(x)
    assert out.shape == (2, 32, 4, 4)  # (B, 16, 8, 8) -> (B, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.equal(out[:, 16:], torch.zeros(2, 16, 4, 4))
    assert isinstance(model.layer2[1].shortcut, nn.Identity)


def test_option_a_on_a_bottleneck_pads_without_subsampling_at_stride_1():
    unit = build_model(small_cfg(block="bottleneck", shortcut="A")).layer1[0]
    x = torch.randn(2, 16, 8, 8)
    out = unit.shortcut(x)
    assert out.shape == (2, 64, 8, 8) and torch.equal(out[:, :16], x) and not out[:, 16:].any()


def test_zero_pad_shortcut_refuses_to_shrink():
    with pytest.raises(ValueError):
        ZeroPadShortcut(32, 16, 1)


@pytest.mark.parametrize("block, expected", [("basic", ["layer2.0", "layer3.0"]),
                                             ("bottleneck", ["layer1.0", "layer2.0", "layer3.0"])])
def test_option_b_projects_only_where_the_shape_changes(block, expected):
    model = build_model(small_cfg(block=block, shortcut="B", stage_blocks=(2, 2, 2)))
    projected = [n for n, u in model.units() if isinstance(u.shortcut, Projection)]
    assert projected == expected
    assert all(isinstance(u.shortcut, nn.Identity) for n, u in model.units() if n not in expected)
    conv = model.layer2[0].shortcut[0]
    assert (conv.kernel_size, conv.stride) == ((1, 1), (2, 2))


def test_option_c_projects_in_every_unit():
    model = build_model(small_cfg(shortcut="C", stage_blocks=(2, 2, 2)))
    assert all(isinstance(u.shortcut, Projection) for _, u in model.units())


@pytest.mark.parametrize("kind, value", [("shortcut", "D"), ("placement", "sideways")])
def test_unit_refuses_unknown_variants(kind, value):
    with pytest.raises(ValueError, match=value):
        blocks.BasicBlock(16, 16, 1, **{kind: value})


def test_every_unit_is_a_residual_unit_subclass_with_an_expansion():
    assert set(blocks.UNITS) == set(kinds.BLOCKS)  # each registered shape has its class
    for name, cls in blocks.UNITS.items():
        assert issubclass(cls, ResidualUnit) and isinstance(cls.expansion, int) and cls.expansion >= 1, name


@pytest.mark.parametrize("placement", ["relu_preact", "full_preact"])
def test_a_projection_in_a_preactivation_unit_sees_the_preactivated_input(placement):
    """He et al. 2016 (appendix): projection shortcuts are also with pre-activation; identities see x itself."""
    model = build_model(small_cfg(placement=placement, shortcut="B", depth=14)).eval()
    unit = model.layer2[0]  # shape changes here: a projection
    x = torch.randn(2, unit.in_ch, 8, 8)
    pre = unit.relu1(unit.bn1(x)) if placement == "full_preact" else unit.relu1(x)
    with torch.no_grad():
        assert torch.equal(unit.identity_path(x), unit.shortcut(pre))
        assert not torch.equal(unit.identity_path(x), unit.shortcut(x))
        same = model.layer2[1]  # identity shortcut
        h = torch.randn(2, same.in_ch, 4, 4)
        assert torch.equal(same.identity_path(h), h)


# ----------------------------------------------------------------------------- pre-activation nets
@pytest.mark.parametrize("family", config.FAMILIES)
@pytest.mark.parametrize("block", config.BLOCKS)
@pytest.mark.parametrize("placement", config.PLACEMENTS)
def test_the_first_unit_sees_an_activated_stem_before_the_split(family, block, placement):
    """He et al. 2016 (appendix): the first activation comes right after conv1, before the two paths split."""
    cfg = small_cfg(family, block, placement=placement, shortcut="B")
    model = build_model(cfg).eval()
    assert isinstance(model.bn1, nn.BatchNorm2d) and isinstance(model.relu, nn.ReLU)
    first = model.layer1[0]
    x = _unit_inputs(model, batch_for(cfg))["layer1.0"]
    assert x.min() >= 0  # activated: both paths of the first unit start from BN-ReLU(conv1(image))
    assert isinstance(getattr(first, first._branch_names[0]), nn.Conv2d)  # no second activation in the branch


@pytest.mark.parametrize("family", config.FAMILIES)
@pytest.mark.parametrize("placement", config.PLACEMENTS)
def test_preactivation_nets_activate_the_last_sum_before_the_pool(family, placement):
    """He et al. 2016 (appendix): the last unit gets an extra activation after its addition."""
    cfg = small_cfg(family, placement=placement, shortcut="A")
    model = build_model(cfg).eval()
    pooled = []
    model.avgpool.register_forward_hook(lambda m, args, out: pooled.append(args[0]))
    with torch.no_grad():
        model(batch_for(cfg))
    pre = kinds.PLACEMENTS[placement].pre
    if pre:
        assert pooled[0].min() >= 0  # activated
        assert isinstance(model.bn_final, nn.BatchNorm2d) == ("bn" in pre)
        assert isinstance(model.relu_final, nn.ReLU)
    else:
        assert isinstance(model.bn_final, nn.Identity) and isinstance(model.relu_final, nn.Identity)


def test_a_preactivation_net_computes_the_papers_layout():
    """Full pre-activation, written out by hand: stem BN-ReLU, units of BN-ReLU-conv, final BN-ReLU, pool, fc."""
    cfg = small_cfg(placement="full_preact", shortcut="A")
    model = build_model(cfg).eval()
    _randomise_batch_norm(model)
    x = batch_for(cfg)
    with torch.no_grad():
        h = model.relu(model.bn1(model.conv1(x)))
        for _name, unit in model.units():
            branch = [getattr(unit, n) for n in unit._branch_names]
            f = h
            for layer in branch:
                f = layer(f)
            h = f + unit.shortcut(h)
        h = model.relu_final(model.bn_final(h))
        expected = model.fc(h.mean(dim=(2, 3)))
        assert torch.allclose(model(x), expected, atol=1e-6)
    first = model.layer1[0]
    assert first._branch_names[0] == "conv1" and model.layer2[0]._branch_names[:3] == ["bn1", "relu1", "conv1"]
