"""explorer.analysis.diagnostics: gradient norms, branch ratios, layer responses, feature maps, first-layer filters.

The oracle is the model itself: each unit is run by hand, in order, and compared with what the
hook-based functions report. Tiny nets on random 8x8 images keep every test well under a second.
"""
import copy

import pytest
import torch
from helpers import warm_bn as _warm_bn
from torch import nn
from torch.nn import functional as F

from explorer.analysis import diagnostics
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py: tiny nets, shared cores
TINY = ModelConfig(depth=14, in_channels=1, input_size=8, width=0.5)  # 2 units per stage




def _images(n: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def _unit_inputs_by_hand(model, x):
    """Walk the net unit by unit in eval mode: [(name, unit, input, output)]."""
    model.eval()
    out = []
    with torch.no_grad():
        h = model.relu(model.bn1(model.conv1(x)))
        for name, unit in model.units():
            y = unit(h)
            out.append((name, unit, h, y))
            h = y
    return out


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, [m.training for m in model.modules()]


def _assert_unchanged(model, snap):
    state, modes = snap
    now = model.state_dict()
    assert now.keys() == state.keys()
    for k in state:
        assert torch.equal(now[k], state[k]), f"{k} changed"
    assert [m.training for m in model.modules()] == modes


# ----------------------------------------------------------------------------- gradient norms
def test_conv_grad_norms_match_each_conv_weight_grad_including_projections():
    model = build_model(ModelConfig(**{**TINY.to_dict(), "shortcut": "B"}))
    x, y = _images(), torch.arange(12) % 10
    F.cross_entropy(model(x), y).backward()
    model.layer1[1].conv2.weight.grad = None  # a conv without a gradient is skipped
    before = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    norms = diagnostics.conv_grad_norms(model)
    expected = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.weight.grad is not None]
    assert list(norms) == expected
    assert "layer2.0.shortcut.0" in norms and "layer1.1.conv2" not in norms
    assert list(norms)[0] == "conv1"
    for name, value in norms.items():
        w = model.get_submodule(name).weight
        assert value == pytest.approx(torch.linalg.vector_norm(w.grad).item(), rel=1e-5)
    for n, p in model.named_parameters():  # a pure read
        if p.grad is not None:
            assert torch.equal(p.grad, before[n])
    assert diagnostics.conv_grad_norms(build_model(TINY)) == {}  # no backward yet: nothing to report


def test_conv_grad_norm_tensors_agree_with_floats():
    model = build_model(TINY)
    F.cross_entropy(model(_images()), torch.arange(12) % 10).backward()
    tensors = diagnostics.conv_grad_norm_tensors(model)
    floats = diagnostics.conv_grad_norms(model)
    assert list(tensors) == list(floats)
    assert all(t.dim() == 0 and t.item() == pytest.approx(floats[n]) for n, t in tensors.items())


# ----------------------------------------------------------------------------- no side effects
@pytest.mark.parametrize("fn", [diagnostics.branch_ratios, diagnostics.layer_responses])
@pytest.mark.parametrize("shortcut", ["A", "none"])
def test_probes_leave_parameters_buffers_and_mode_unchanged(fn, shortcut):
    model = _warm_bn(build_model(ModelConfig(**{**TINY.to_dict(), "shortcut": shortcut})))
    model.train()
    model.layer2.eval()  # a mixed state must come back exactly as it was
    snap = _snapshot(model)
    handles_before = sum(len(m._forward_hooks) for m in model.modules())
    fn(model, _images())
    _assert_unchanged(model, snap)
    assert sum(len(m._forward_hooks) for m in model.modules()) == handles_before


# ----------------------------------------------------------------------------- branch ratios
def test_branch_ratios_residual_equal_branch_norm_over_input_norm():
    model = _warm_bn(build_model(TINY))
    x = _images()
    ratios = diagnostics.branch_ratios(model, x)
    by_hand = _unit_inputs_by_hand(copy.deepcopy(model), x)
    assert list(ratios) == [name for name, *_ in by_hand]
    for name, unit, inp, _ in by_hand:
        with torch.no_grad():
            fx = unit.residual_branch(inp)
        expected = (fx.flatten(1).norm(dim=1) / inp.flatten(1).norm(dim=1)).mean().item()
        assert ratios[name] == pytest.approx(expected, rel=1e-5)


def test_branch_ratios_plain_unit_is_output_norm_over_input_norm():
    model = _warm_bn(build_model(TINY.plain()))
    x = _images()
    ratios = diagnostics.branch_ratios(model, x)
    for name, _, inp, out in _unit_inputs_by_hand(copy.deepcopy(model), x):
        expected = (out.flatten(1).norm(dim=1) / inp.flatten(1).norm(dim=1)).mean().item()
        assert ratios[name] == pytest.approx(expected, rel=1e-5)


def test_zero_init_residual_gives_zero_ratio_at_init():
    model = build_model(ModelConfig(**{**TINY.to_dict(), "zero_init_residual": True}))
    ratios = diagnostics.branch_ratios(model, _images())
    assert len(ratios) == 6 and all(r == 0.0 for r in ratios.values())
    assert all(r > 0 for r in diagnostics.branch_ratios(build_model(TINY), _images()).values())


# ----------------------------------------------------------------------------- layer responses (Figure 7)
def _responses_by_hand(model, x) -> dict:
    """Walk the net layer by layer: each 3x3 conv's output, or the BN right after it when there is one."""
    out = {}
    model.eval()
    with torch.no_grad():
        h = model.conv1(x)
        out["conv1"] = model.bn1(h)
        h = model.relu(out["conv1"])
        for name, unit, inp, _y in _unit_inputs_by_hand(model, x):
            layers = unit.branch_layers()
            f = inp
            for k, (layer_name, layer) in enumerate(layers):
                f = layer(f)
                if isinstance(layer, nn.Conv2d) and layer.kernel_size == (3, 3):
                    nxt = layers[k + 1][1] if k + 1 < len(layers) else None
                    out[f"{name}.{layer_name}"] = nxt(f) if isinstance(nxt, nn.BatchNorm2d) else f
    return {k: v.std(unbiased=False).item() for k, v in out.items()}


@pytest.mark.parametrize("placement", ["original", "full_preact", "bn_after_add", "relu_preact"])
@pytest.mark.parametrize("shortcut", ["A", "none"])
def test_layer_responses_are_every_3x3_layer_after_bn_before_addition_or_relu(placement, shortcut):
    """He et al. 2015, Figure 7: one value per 3x3 layer (stem included), not one per unit."""
    cfg = ModelConfig(**{**TINY.to_dict(), "placement": placement, "shortcut": shortcut})
    model = _warm_bn(build_model(cfg))
    x = _images()
    responses = diagnostics.layer_responses(model, x)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert list(responses) == convs and len(convs) == 1 + 2 * sum(cfg.blocks_per_stage)  # 13 for a 14-layer net
    expected = _responses_by_hand(copy.deepcopy(model), x)
    assert list(expected) == convs
    for name in convs:
        assert responses[name] == pytest.approx(expected[name], rel=1e-5), name


def test_layer_responses_read_the_bn_output_in_the_original_unit_and_the_last_conv_in_full_preact():
    model = build_model(TINY)
    points = dict(diagnostics.response_points(model))
    assert points["conv1"] is model.bn1
    assert points["layer1.0.conv1"] is model.layer1[0].bn1 and points["layer1.0.conv2"] is model.layer1[0].bn2
    pre = build_model(ModelConfig(**{**TINY.to_dict(), "placement": "full_preact"}))
    points = dict(diagnostics.response_points(pre))
    assert points["layer1.1.conv1"] is pre.layer1[1].bn2  # the BN right after it, before its ReLU
    assert points["layer1.1.conv2"] is pre.layer1[1].conv2  # nothing normalises it before the addition


def test_layer_responses_of_a_bottleneck_net_are_its_3x3_layers_only():
    cfg = ModelConfig(block="bottleneck", depth=11, in_channels=1, input_size=8, width=0.5)
    responses = diagnostics.layer_responses(_warm_bn(build_model(cfg)), _images())
    assert list(responses) == ["conv1", "layer1.0.conv2", "layer2.0.conv2", "layer3.0.conv2"]


# ----------------------------------------------------------------------------- feature maps, filters
def test_feature_maps_of_conv1_equal_the_convolution_and_mode_is_kept():
    model = _warm_bn(build_model(TINY)).train()
    x = _images(1)[0]  # (1, 8, 8)
    maps = diagnostics.feature_maps(model, x, "conv1")
    expected = F.conv2d(x.unsqueeze(0), model.conv1.weight, padding=1)[0]
    assert maps.shape == (8, 8, 8)
    assert torch.allclose(maps, expected, atol=1e-6)
    assert model.training
    unit_maps = diagnostics.feature_maps(model, x.unsqueeze(0), "layer3.1")
    assert unit_maps.shape == (32, 2, 2)
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_feature_maps_bad_layer_or_shape_raise_one_sentence():
    model = build_model(TINY)
    with pytest.raises(ValueError, match="no layer named"):
        diagnostics.feature_maps(model, _images(1)[0], "layer9.0")
    with pytest.raises(ValueError, match="one image"):
        diagnostics.feature_maps(model, _images(2), "conv1")
    with pytest.raises(ValueError, match="image-shaped"):
        diagnostics.feature_maps(model, _images(1)[0], "fc")


def test_first_layer_filters_rescale_each_filter_to_unit_range():
    model = build_model(TINY)
    with torch.no_grad():
        model.conv1.weight[0].fill_(0.3)  # a constant filter has no contrast to show
    shown = diagnostics.first_layer_filters(model)
    w = model.conv1.weight.detach()
    assert shown.shape == w.shape
    assert torch.equal(shown[0], torch.zeros_like(shown[0]))
    for i in range(1, w.shape[0]):
        assert shown[i].min().item() == pytest.approx(0.0) and shown[i].max().item() == pytest.approx(1.0)
        lo, hi = w[i].min(), w[i].max()
        assert torch.allclose(shown[i], (w[i] - lo) / (hi - lo), atol=1e-6)


# ----------------------------------------------------------------------------- the gradient-flow sentence
def _grad_record(epoch, first, last):
    return {"type": "epoch", "epoch": epoch, "grad_norms": {"conv1": first, "layer1.0.conv2": 1.0,
                                                            "layer2.0.shortcut.0": 99.0, "layer3.0.conv2": last}}


def test_gradient_flow_sentence_says_what_the_numbers_say_either_way():
    up = diagnostics.gradient_flow_sentence("plain-56", [_grad_record(0, 2400.0, 1.0), _grad_record(15, 3.1, 1.0)])
    assert up == ("plain-56: before training the conv nearest the input got a gradient 2,400.0 times larger than "
                  "the conv nearest the output; at epoch 15, 3.1 times larger.")
    down = diagnostics.gradient_flow_sentence("x", [_grad_record(0, 0.01, 1.0)])
    assert "100.0 times smaller" in down and down.endswith(".")
    assert "about the same" in diagnostics.gradient_flow_sentence("x", [_grad_record(0, 1.0, 1.05)])
    assert "no gradient norms" in diagnostics.gradient_flow_sentence("x", [{"type": "epoch", "epoch": 0}])


def test_gradient_flow_sentence_of_a_real_plain_56_before_training(tiny_digits):
    """The project's plain-56 at initialisation (PAPERS.md): the first conv's gradient is the larger one."""
    from explorer.data.datasets import normalize
    torch.manual_seed(0)
    model = build_model(ModelConfig(depth=56, shortcut="none", in_channels=1, input_size=8)).train()
    x, y = normalize(tiny_digits.x_train, tiny_digits.preprocessing), tiny_digits.y_train
    F.cross_entropy(model(x), y).backward()
    norms = diagnostics.conv_grad_norms(model)
    sentence = diagnostics.gradient_flow_sentence("plain-56", [{"epoch": 0, "grad_norms": norms}])
    first, last = norms["conv1"], norms["layer3.8.conv2"]
    assert first > last and f"{first / last:,.1f} times larger" in sentence
