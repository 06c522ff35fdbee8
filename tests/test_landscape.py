"""explorer.analysis.landscape (Li et al. 2018): filter-normalised directions, loss_at, the 1-D line, the 2-D slice.

Oracles: torch's own cross-entropy on the model in eval mode, and nets whose weights are set by hand.
"""
import copy

import pytest
import torch
from helpers import warm_bn as _warm_bn
from torch.nn import functional as F

from explorer.analysis import landscape
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py: tiny nets, shared cores
TINY = ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5, shortcut="B")  # has a projection conv




@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return _warm_bn(build_model(TINY))


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(model, state):
    return all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def _direct_loss(model, x, y):
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        return F.cross_entropy(m(x), y).item()


# ----------------------------------------------------------------------------- directions
def test_direction_filter_norms_match_weights_and_skip_bn_and_biases(net):
    d = landscape.filter_normalized_direction(net, torch.Generator().manual_seed(3))
    params = dict(net.named_parameters())
    assert set(d) == {n for n, p in params.items() if p.dim() >= 2}
    assert "fc.bias" not in d and "bn1.weight" not in d and "layer2.0.shortcut.1.weight" not in d
    assert "layer2.0.shortcut.0.weight" in d and "fc.weight" in d
    for name, direction in d.items():
        w = params[name].detach()
        assert direction.shape == w.shape
        assert torch.allclose(direction.flatten(1).norm(dim=1), w.flatten(1).norm(dim=1), rtol=1e-5)
    again = landscape.filter_normalized_direction(net, torch.Generator().manual_seed(3))
    other = landscape.filter_normalized_direction(net, torch.Generator().manual_seed(4))
    assert all(torch.equal(d[n], again[n]) for n in d)
    assert not torch.equal(d["fc.weight"], other["fc.weight"])


# ----------------------------------------------------------------------------- loss_at
def test_loss_at_is_eval_mode_cross_entropy_and_leaves_the_model_alone(net, data):
    x, y = data
    net.train()
    state = _state(net)
    assert landscape.loss_at(net, x, y) == pytest.approx(_direct_loss(net, x, y), rel=1e-5)
    assert net.training and _same_state(net, state)


# ----------------------------------------------------------------------------- 2-D slice
def test_surface_centre_equals_loss_at_and_caller_model_is_unchanged(net, data):
    x, y = landscape.landscape_subset(*data, n=48)
    state = _state(net)
    seen = []
    result = landscape.surface(net, x, y, steps=5, span=0.5, seed=7, progress=seen.append)
    assert _same_state(net, state)
    assert result["alpha"][2] == 0.0 and result["beta"][2] == 0.0
    assert result["alpha"][0] == pytest.approx(-0.5) and result["alpha"][-1] == pytest.approx(0.5)
    assert len(result["loss"]) == 5 and all(len(row) == 5 for row in result["loss"])
    assert result["loss"][2][2] == pytest.approx(landscape.loss_at(net, x, y), abs=1e-5)
    assert result["seed"] == 7 and result["subset"] == 48 and result["stopped"] is False
    assert seen == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_surface_point_equals_a_net_moved_by_hand(net, data):
    """loss[i][j] is at (alpha[j], beta[i]); d1, d2 are the first two directions of the seeded generator."""
    x, y = data
    result = landscape.surface(net, x, y, steps=3, span=0.4, seed=11)
    g = torch.Generator().manual_seed(11)
    d1 = landscape.filter_normalized_direction(net, g)
    d2 = landscape.filter_normalized_direction(net, g)
    moved = copy.deepcopy(net)
    a, b = result["alpha"][2], result["beta"][0]  # (0.4, -0.4): row 0, column 2
    with torch.no_grad():
        for name, p in moved.named_parameters():
            if name in d1:
                p.add_(a * d1[name] + b * d2[name])
    assert result["loss"][0][2] == pytest.approx(_direct_loss(moved, x, y), rel=1e-4)
    assert result["loss"][0][2] != pytest.approx(result["loss"][1][1])


def test_surface_stops_with_partial_result(net, data):
    x, y = data
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 4  # four points, then stop

    result = landscape.surface(net, x, y, steps=3, should_stop=should_stop)
    flat = [v for row in result["loss"] for v in row]
    assert result["stopped"] is True
    assert all(v is not None for v in flat[:4]) and all(v is None for v in flat[4:])


# ----------------------------------------------------------------------------- 1-D line
def test_line_ends_are_initial_and_final_losses(data):
    x, y = data
    torch.manual_seed(1)
    init = _warm_bn(build_model(TINY), seed=2)
    final = _warm_bn(build_model(TINY), seed=3)  # other weights and other BN statistics
    init_state, final_state = _state(init), _state(final)
    seen = []
    result = landscape.line(init, final, x, y, points=7, extend=0.5, progress=seen.append)
    assert _same_state(init, init_state) and _same_state(final, final_state)
    alpha, loss = result["alpha"], result["loss"]
    assert alpha[0] == pytest.approx(-0.5) and alpha[-1] == pytest.approx(1.5)
    assert 0.0 in alpha and 1.0 in alpha and alpha == sorted(alpha) and len(loss) == len(alpha)
    assert loss[alpha.index(1.0)] == pytest.approx(landscape.loss_at(final, x, y), abs=1e-6)
    # a = 0: the initial conv/linear weights, seen through the final BN layers and biases.
    hybrid = copy.deepcopy(final)
    with torch.no_grad():
        for (_name, p), q in zip(hybrid.named_parameters(), init.parameters(), strict=True):
            if p.dim() >= 2:
                p.copy_(q)
    assert loss[alpha.index(0.0)] == pytest.approx(landscape.loss_at(hybrid, x, y), abs=1e-6)
    assert seen[-1] == 1.0 and len(seen) == len(alpha)


def test_line_start_is_the_initial_net_when_only_weights_changed(net, data):
    x, y = data
    final = copy.deepcopy(net)
    with torch.no_grad():
        for p in final.parameters():
            if p.dim() >= 2:
                p.mul_(0.7).add_(0.01)
    result = landscape.line(net, final, x, y, points=5, extend=0.0)
    assert result["alpha"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert result["loss"][0] == pytest.approx(landscape.loss_at(net, x, y), abs=1e-6)
    assert result["loss"][-1] == pytest.approx(landscape.loss_at(final, x, y), abs=1e-6)
    with pytest.raises(ValueError, match="same architecture"):
        landscape.line(net, build_model(ModelConfig(depth=14, in_channels=1, input_size=8)), x, y)


# ----------------------------------------------------------------------------- subset
def test_landscape_subset_is_fixed_and_keeps_pairs(data):
    x, y = data
    xs, ys = landscape.landscape_subset(x, y, n=20, seed=5)
    xs2, _ = landscape.landscape_subset(x, y, n=20, seed=5)
    xs3, _ = landscape.landscape_subset(x, y, n=20, seed=6)
    assert xs.shape == (20, 1, 8, 8) and ys.shape == (20,)
    assert torch.equal(xs, xs2) and not torch.equal(xs, xs3)
    for xi, yi in zip(xs, ys, strict=True):  # every image keeps its own label
        idx = [k for k in range(len(x)) if torch.equal(x[k], xi)]
        assert len(idx) == 1 and y[idx[0]] == yi
    xa, ya = landscape.landscape_subset(x, y, n=1000)
    assert torch.equal(xa, x) and torch.equal(ya, y)
