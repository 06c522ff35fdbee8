"""Why shortcuts work, as library functions on the real shipped digits twin (initial and trained weights):
the gradient highway's split sums to autograd's gradient, deleting units behaves as ablate_blocks says, path
lengths are binomial, and the figures draw what they are given.
"""
import copy
import math

import pytest
import torch
from torch.nn import functional as F

from explorer import figures as charts
from explorer.analysis.ablation import ablate_blocks, delete_random_units, path_lengths
from explorer.analysis.evaluation import error_rate, eval_no_grad
from explorer.analysis.highway import gradient_split, highway_summary, unit_gradients
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset, normalize
from explorer.nets.weights import from_checkpoint
from explorer.store.runstore import load_checkpoint
from explorer.store.shipped import TWIN_DIR, TWIN_NAMES

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


@pytest.fixture(scope="module", params=["init", "final"])
def twin(request):
    suffix = ".init.pt" if request.param == "init" else ".pt"
    return {n: from_checkpoint(load_checkpoint(TWIN_DIR / f"{n}{suffix}")) for n in TWIN_NAMES}


def _batch(digits, pre, n=64):
    return normalize(digits.x_train[:n], pre), digits.y_train[:n]


def _autograd_input_grads(model, x, y) -> dict:
    """The oracle: dL/dx at every unit's input, from one plain backward pass on a train-mode copy."""
    work = copy.deepcopy(model).train()
    inputs = {}

    def keep(name):
        def hook(module, args):
            args[0].retain_grad()
            inputs[name] = args[0]
        return hook
    for name, unit in work.units():
        unit.register_forward_pre_hook(keep(name))
    F.cross_entropy(work(x), y).backward()
    return {n: t.grad for n, t in inputs.items()}


def test_the_highway_split_sums_to_the_autograd_gradient(twin, digits):
    for name, net in twin.items():
        x, y = _batch(digits, net.preprocessing)
        parts = unit_gradients(net.model, x, y)
        oracle = _autograd_input_grads(net.model, x, y)
        assert list(parts) == list(oracle) and len(parts) == 9
        for unit, (shortcut, branch, arriving, kind, _) in parts.items():
            total = branch if shortcut is None else shortcut + branch
            assert (total - oracle[unit]).norm() <= 1e-5 * oracle[unit].norm(), (name, unit)
            if name.startswith("plain"):
                assert shortcut is None and kind == "none"
            else:
                module = dict(net.model.named_modules())[unit].shortcut
                # option A: the identity where shapes match (the "1" of Eq. 5: dL/dz passes back unchanged), else
                # its own kind, the zero-padding downsampling shortcut
                assert kind == ("identity" if isinstance(module, torch.nn.Identity) else "zero-pad")
                if kind == "identity":
                    assert torch.equal(shortcut, arriving)


def test_gradient_split_rows_and_summary(twin, digits):
    net = twin["resnet-20"]
    before = {k: v.clone() for k, v in net.model.state_dict().items()}
    rows = {n: gradient_split(t.model, *_batch(digits, t.preprocessing)) for n, t in twin.items()}
    assert all(torch.equal(before[k], v) for k, v in net.model.state_dict().items())  # the caller's net untouched
    res, plain = rows["resnet-20"], rows["plain-20"]
    assert [r["unit"] for r in res] == [n for n, _ in net.model.units()]
    assert all(r["shortcut"] > 0 and r["branch"] > 0 for r in res)
    assert all(r["shortcut"] == 0 and r["total"] == pytest.approx(r["branch"]) for r in plain)
    text = highway_summary(rows)
    assert "resnet-20" in text and "plain-20" in text and "%" in text and text.count(".") >= 1
    fig = charts.highway_chart({"after training": rows})
    names = {t.name for t in fig.data}
    assert {'resnet-20: through the identity shortcut (the "1")',
            "resnet-20: through a downsampling shortcut (option A, zero-pad)", "resnet-20: through the branch",
            "plain-20: through its layers"} == names
    with pytest.raises(ValueError, match="same count"):
        gradient_split(net.model, torch.zeros(2, 1, 8, 8), torch.zeros(3, dtype=torch.long))


def test_path_lengths_are_binomial():
    rows = path_lengths(9)
    assert [r["paths"] for r in rows] == [math.comb(9, k) for k in range(10)]
    assert sum(r["paths"] for r in rows) == 2 ** 9 and sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert path_lengths(0) == [{"length": 0, "paths": 1, "share": 1.0}]
    with pytest.raises(ValueError):
        path_lengths(-1)
    fig = charts.path_length_chart({"resnet-20": rows})
    assert list(fig.data[0].y) == pytest.approx([100 * r["share"] for r in rows])


def test_deleting_units_zero_is_the_full_net_and_one_matches_ablation(digits):
    twin = {n: from_checkpoint(load_checkpoint(TWIN_DIR / f"{n}.pt")) for n in TWIN_NAMES}
    for name, net in twin.items():
        x, y = normalize(digits.x_test, net.preprocessing), digits.y_test
        with eval_no_grad(net.model):
            full = error_rate(net.model, x, y, 512)
        rows = delete_random_units(net.model, x, y, draws=9)
        assert rows[0]["k"] == 0 and rows[0]["errors"] == [full]
        single = sorted(r["error"] for r in ablate_blocks(net.model, x, y)[1:] if r["skippable"])
        assert sorted(rows[1]["errors"]) == single  # draws >= units: every single deletion, once
        skippable = 9 if name.startswith("resnet") else 7  # a plain net cannot skip its two downsampling units
        assert [r["k"] for r in rows] == list(range(skippable + 1))
        assert all(r["low"] <= r["mean"] <= r["high"] for r in rows)
    again = delete_random_units(twin["resnet-20"].model, x, y, draws=3, seed=5)
    assert again == delete_random_units(twin["resnet-20"].model, x, y, draws=3, seed=5)  # the seed fixes the draws
    assert all(len(r["errors"]) == min(3, math.comb(9, r["k"])) for r in again)
    fig = charts.deletion_chart({"resnet-20": again})
    assert list(fig.data[0].x) == list(range(10))


def test_path_landscape_chart_draws_the_path_on_each_nets_contours():
    plane = {"alpha": [-2.0, 0.0, 1.0], "beta": [-1.0, 0.0, 1.0], "loss": [[2.0, 1.0, None], [1.0, 0.1, 0.5],
                                                                           [3.0, float("inf"), 0.2]],
             "path": {"alpha": [-2.0, -1.0, 0.0], "beta": [1.0, -0.5, 0.0], "epoch": [0, 1, "final"]},
             "explained": [0.8, 0.15]}
    fig = charts.path_landscape_chart({"plain-8": plane, "resnet-8": plane})
    contours = [t for t in fig.data if t.type == "contour"]
    assert len(contours) == 2 and contours[0].z[0][2] is None and contours[0].z[2][1] is None  # gaps stay gaps
    assert contours[0].z[1][1] == pytest.approx(-1.0)  # log10 of 0.1
    path = next(t for t in fig.data if t.name == "resnet-8: path")
    assert list(path.x) == [-2.0, -1.0, 0.0] and list(path.hovertext) == ["epoch 0", "epoch 1", "epoch final"]
    assert fig.layout.xaxis.title.text == "direction 1 (80% of the path's variance)"
    assert charts.path_landscape_chart({}).layout.annotations[0].text == "No path computed yet."
