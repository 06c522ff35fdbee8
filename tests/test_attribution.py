"""Attribution maps: shapes, a planted cue each method must find, Grad-CAM's layer, an untouched model."""
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from explorer.analysis import attribution
from explorer.analysis.attribution import METHODS, attribute, default_gradcam_layer, predict
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig
from explorer.nets.memory import activation_profile, server_budget
from explorer.nets.preprocessing import Preprocessing

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny nets; see tests/conftest.py


@pytest.fixture(scope="module")
def digit():
    """A real handwritten digit from scikit-learn, (1, 1, 8, 8), values 0..16 scaled to 0..1."""
    return torch.tensor(load_digits().images[0] / 16.0, dtype=torch.float32)[None, None]


@pytest.fixture(scope="module")
def digit_net():
    torch.manual_seed(0)
    return build_model(ModelConfig(depth=8, in_channels=1, input_size=8))


@pytest.fixture(scope="module")
def colour_net():
    torch.manual_seed(0)
    return build_model(ModelConfig(depth=8, in_channels=3, input_size=32))


def _colour(digit):
    """The digit brought to a 3x32x32 image: (1, 1, 8, 8) -> (1, 3, 32, 32)."""
    return nn.functional.interpolate(digit, size=32, mode="bilinear").repeat(1, 3, 1, 1)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_a_finite_nonzero_map_of_the_input_size(method, digit, digit_net, colour_net):
    for model, x in ((digit_net, digit), (colour_net, _colour(digit))):
        heat = attribute(model, x, method)
        assert heat.shape == x.shape[2:]
        assert heat.dtype == torch.float32 and heat.device.type == "cpu"
        assert torch.isfinite(heat).all() and (heat >= 0).all()
        assert heat.abs().sum() > 0


class QuadrantNet(nn.Module):
    """A planted cue: convolutions, then a mask that keeps only the top-left quadrant, pool, linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.mask = QuadrantMask()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(self.mask(x)), 1))


class QuadrantMask(nn.Module):
    def forward(self, x):
        keep = torch.zeros_like(x)
        keep[:, :, : x.shape[2] // 2, : x.shape[3] // 2] = 1
        return x * keep


def _quadrant_share(heat):
    h, w = heat.shape
    return float(heat[: h // 2, : w // 2].sum() / heat.sum())


@pytest.mark.parametrize("method,options", [
    ("saliency", {}), ("integrated_gradients", {}), ("smoothgrad", {}), ("guided_backprop", {}),
    ("gradcam", {"layer": "mask"}), ("occlusion", {}),
])
@pytest.mark.parametrize("seed", [2, 3])
def test_each_method_finds_the_planted_quadrant(method, options, seed):
    torch.manual_seed(seed)
    x = torch.randn(1, 3, 32, 32)  # the cue is not in the image: only the model decides what matters
    share = _quadrant_share(attribute(QuadrantNet(), x, method, **options))
    assert share > 0.7, f"{method} put only {share:.2f} of its mass in the quadrant the model reads"


def test_gradcam_accepts_the_layer_as_a_module_and_as_a_name():
    model, x = QuadrantNet(), torch.randn(1, 3, 32, 32)
    by_module = attribute(model, x, "gradcam", layer=model.mask)
    assert torch.equal(by_module, attribute(model, x, "gradcam", layer="mask"))
    assert default_gradcam_layer(model, x) == "conv2"  # no stages: the last Conv2d


def test_default_gradcam_layer_keeps_at_least_4x4(digit, digit_net, colour_net):
    name = default_gradcam_layer(digit_net, digit)
    assert name in digit_net.stages
    sizes = {}

    def record(module, inputs, output):
        sizes["hw"] = output.shape[2:]

    hook = digit_net.get_submodule(name).register_forward_hook(record)
    try:
        digit_net.eval()(digit)
    finally:
        hook.remove()
    assert min(sizes["hw"]) >= 4
    later = digit_net.stages[digit_net.stages.index(name) + 1:]
    assert later, "on an 8x8 digit the last stage is 2x2, so an earlier one must be chosen"
    assert default_gradcam_layer(colour_net, _colour(digit)) == colour_net.stages[-1]  # 32x32: last stage is 8x8


def test_target_changes_the_map(digit, digit_net):
    maps = [attribute(digit_net, digit, "gradcam", target=t) for t in range(3)]
    assert not (torch.allclose(maps[0], maps[1]) and torch.allclose(maps[1], maps[2]))
    saliency = [attribute(digit_net, digit, "saliency", target=t) for t in (0, 1)]
    assert not torch.allclose(*saliency)


def test_default_target_is_the_predicted_class(digit, digit_net):
    top = predict(digit_net, digit, top=10)
    assert [c for c, _ in top] == sorted(range(10), key=lambda c: -dict(top)[c])
    assert abs(sum(p for _, p in top) - 1) < 1e-5
    predicted = attribute(digit_net, digit, "saliency", target=top[0][0])
    assert torch.equal(attribute(digit_net, digit, "saliency"), predicted)


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


def test_callers_model_is_unchanged(digit, digit_net):
    model = build_model(ModelConfig(depth=8, in_channels=1, input_size=8))
    model.train()
    model.fc.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}  # includes BN running statistics
    grads_before = {n: p.requires_grad for n, p in model.named_parameters()}
    for method in METHODS:
        attribute(model, digit, method)
    predict(model, digit)
    default_gradcam_layer(model, digit)
    assert model.training and all(m.training for m in model.modules())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == grads_before
    assert all(p.grad is None for p in model.parameters())
    assert _hook_count(model) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_works_under_inference_mode(digit, digit_net):
    with torch.inference_mode():
        heat = attribute(digit_net, digit, "integrated_gradients", n_steps=4)
    assert heat.shape == (8, 8) and heat.sum() > 0


def test_progress_reaches_one_and_never_goes_back(digit, digit_net):
    for method, options in (("occlusion", {"window": 2, "stride": 2}), ("integrated_gradients",
                                                                         {"n_steps": 8, "internal_batch_size": 2})):
        seen = []
        attribute(digit_net, digit, method, progress=seen.append, **options)
        assert len(seen) > 2 and seen[-1] == 1.0 and seen == sorted(seen), method


def test_integrated_gradients_batches_give_the_same_map(digit, digit_net):
    whole = attribute(digit_net, digit, "integrated_gradients", n_steps=8)
    batched = attribute(digit_net, digit, "integrated_gradients", n_steps=8, internal_batch_size=3)
    assert torch.allclose(whole, batched, atol=1e-5)


def test_saliency_matches_autograd(digit, digit_net):
    x = digit.clone().requires_grad_(True)
    logits = digit_net.eval()(x)
    target = int(logits.argmax())
    logits[0, target].backward()
    assert torch.allclose(attribute(digit_net, digit, "saliency"), x.grad[0].abs().sum(0), atol=1e-6)


@pytest.mark.parametrize("call,words", [
    (lambda m, x: attribute(m, x, "lime"), "Unknown attribution method"),
    (lambda m, x: attribute(m, x, "saliency", n_steps=4), "does not take"),
    (lambda m, x: attribute(m, x, "integrated_gradients", n_steps=0), "at least 1"),
    (lambda m, x: attribute(m, x, "saliency", target=10), "target must be"),
    (lambda m, x: attribute(m, x, "gradcam", layer="layer9"), "no layer named"),
    (lambda m, x: attribute(m, x, "gradcam", layer=nn.Conv2d(1, 1, 1)), "sub-module"),
    (lambda m, x: attribute(m, x, "occlusion", window=9), "stride <= window"),
    (lambda m, x: attribute(m, x[0], "saliency"), "(1, C, H, W)"),
    (lambda m, x: attribute(m, x.repeat(1, 3, 1, 1), "saliency"), "could not read"),
    (lambda m, x: predict(m, x, top=0), "top must be"),
])
def test_bad_requests_get_one_sentence(call, words, digit, digit_net):
    with pytest.raises(ValueError, match=None) as err:
        call(digit_net, digit)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_every_map_holds_its_memory_estimate_while_it_runs(digit, digit_net):
    budget, profile = server_budget(), activation_profile(digit_net, tuple(digit.shape))
    held = []
    attribute(digit_net, digit, "integrated_gradients", n_steps=2, max_steps=4,
              progress=lambda f: held.append(budget.used))
    # IG may double its steps up to max_steps; all of them fit one forward on a digit: 4 images' worth is held
    assert held[0] == profile.backward_bytes(4) and budget.used == 0  # held inside the run, released after


def test_gradcam_on_a_preactivation_net_explains_the_activated_output(digit):
    """He et al. 2016's nets end with BN-ReLU after the last stage's sum: Grad-CAM weighs what the pool reads."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(depth=8, in_channels=3, input_size=32, placement="full_preact")).eval()
    with torch.no_grad():  # a trained-looking final BN, so BN-ReLU really changes the maps
        for t in (model.bn_final.weight, model.bn_final.bias, model.bn_final.running_mean):
            t.copy_(torch.randn_like(t))
        model.bn_final.running_var.uniform_(0.5, 2.0)
    x = _colour(digit)  # 32x32: the last stage is 8x8, wide enough to be the default
    assert default_gradcam_layer(model, x) == "relu_final"
    kept = {}
    hook = model.relu_final.register_forward_hook(lambda m, i, o: kept.update(a=o))
    try:
        scores = model(x)
    finally:
        hook.remove()
    target = int(scores.argmax())
    grad, = torch.autograd.grad(scores[0, target], kept["a"])  # PyTorch as the oracle: (1, C, h, w)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * kept["a"]).sum(dim=1, keepdim=True))
    expected = nn.functional.interpolate(cam, size=(32, 32), mode="bilinear")[0, 0].detach()
    assert torch.allclose(attribute(model, x, "gradcam"), expected, atol=1e-6)
    assert not torch.allclose(attribute(model, x, "gradcam", layer="layer3"), expected, atol=1e-3)  # the sum


def test_maps_follow_the_models_current_weights(digit):
    torch.manual_seed(3)
    model = build_model(ModelConfig(depth=8, in_channels=1, input_size=8))
    attribute(model, digit, "saliency", target=0)  # the library now keeps a copy of this model
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # what an optimiser step does, in place
    model.train()(torch.randn(4, 1, 8, 8))  # and a training forward moves BN's running statistics
    twin = build_model(ModelConfig(depth=8, in_channels=1, input_size=8))
    twin.load_state_dict(model.state_dict())
    for method in ("saliency", "gradcam"):
        assert torch.allclose(attribute(model, digit, method, target=0), attribute(twin, digit, method, target=0))
    model.fc = nn.Linear(model.fc.in_features, 3)  # a changed structure: the kept copy must not be used
    assert len(predict(model, digit, top=10)) == 3


def test_parallel_calls_on_one_model_agree(digit, digit_net):
    from concurrent.futures import ThreadPoolExecutor
    expected = attribute(digit_net, digit, "guided_backprop")
    with ThreadPoolExecutor(4) as pool:
        maps = list(pool.map(lambda _: attribute(digit_net, digit, "guided_backprop"), range(8)))
    assert all(torch.equal(m, expected) for m in maps)


def test_a_copy_made_under_inference_mode_still_serves_later_calls(digit):
    model = build_model(ModelConfig(depth=8, in_channels=1, input_size=8))
    with torch.inference_mode():
        predict(model, digit)
    assert attribute(model, digit, "saliency").sum() > 0


# ----------------------------------------------------------------------------- baselines and completeness
from captum.attr import IntegratedGradients  # noqa: E402

from explorer.analysis.baselines import BASELINES, baseline_image, blur  # noqa: E402


@pytest.fixture(scope="module")
def shipped_plain20():
    from explorer.data.config import DataConfig
    from explorer.data.datasets import load_dataset
    from explorer.store.shipped import shipped_twin
    return shipped_twin()["plain-20"], load_dataset(DataConfig("digits"))


def test_the_baselines_are_named_for_what_they_are(shipped_plain20):
    """0 after normalisation is the dataset's mean colour, not black; black is raw 0 normalised."""
    from explorer.data.datasets import normalize
    net, ds = shipped_plain20
    pre = net.preprocessing
    x = normalize(ds.x_test[:1], pre)
    mean_colour = torch.tensor(pre.mean).view(1, -1, 1, 1) * pre.scale * torch.ones_like(ds.x_test[:1].float())
    assert torch.allclose(baseline_image(x, "mean"), normalize(mean_colour, pre), atol=1e-5)
    assert torch.allclose(baseline_image(x, "black", pre), normalize(torch.zeros_like(ds.x_test[:1]), pre))
    soft = baseline_image(x, "blur")
    assert soft.shape == x.shape and soft.diff(dim=-1).abs().sum() < x.diff(dim=-1).abs().sum()  # less detail
    assert torch.allclose(blur(torch.full((1, 3, 5, 7), 0.3), 2.0), torch.full((1, 3, 5, 7), 0.3))
    assert "black" not in METHODS["integrated_gradients"].help and "blank" not in METHODS["occlusion"].help
    assert "mean colour" in METHODS["integrated_gradients"].help and "mean colour" in METHODS["occlusion"].help
    assert set(BASELINES) == {"mean", "black", "blur"}


@pytest.mark.parametrize("baseline", sorted(BASELINES))
def test_integrated_gradients_raises_its_steps_until_the_map_is_complete(shipped_plain20, baseline):
    """Sundararajan et al. 2017: the attributions add up to F(x) - F(baseline); the report says how close."""
    from explorer.analysis.evaluation import test_example
    net, ds = shipped_plain20
    steps = []
    for i in range(12):
        x, _, _ = test_example(ds, i)
        got = attribution.attribute_details(net.model, x, "integrated_gradients", baseline=baseline,
                                            preprocessing=net.preprocessing)
        assert got.baseline == baseline and got.converged and got.delta < attribution.IG_TOLERANCE
        # The oracle: captum with the same steps, and the score change computed here.
        base = baseline_image(x, baseline, net.preprocessing)
        model = net.model.eval()
        attr = IntegratedGradients(model).attribute(x, baselines=base, target=int(model(x).argmax()),
                                                    n_steps=got.n_steps)
        with torch.no_grad():
            change = float(model(x)[0].max() - model(base)[0, int(model(x).argmax())])
        assert abs(float(attr.sum()) - change) / abs(change) == pytest.approx(got.delta, abs=1e-3)
        steps.append(got.n_steps)
    assert min(steps) == 32 and 32 < max(steps) <= attribution.IG_MAX_STEPS  # some images needed more steps


def test_integrated_gradients_says_when_completeness_was_not_reached(shipped_plain20):
    from explorer.analysis.evaluation import test_example
    net, ds = shipped_plain20
    results = [attribution.attribute_details(net.model, test_example(ds, i)[0], "integrated_gradients", n_steps=2,
                                             max_steps=2) for i in range(8)]
    assert all(r.n_steps == 2 for r in results)
    assert all(r.converged == (r.delta < attribution.IG_TOLERANCE) for r in results)
    assert any(not r.converged for r in results)  # two steps are too few for some images: and it says so


def test_occlusion_hides_with_the_chosen_baseline(digit, digit_net):
    pre = Preprocessing("digits", tuple("0123456789"), in_channels=1, input_size=8, scale=16.0, mean=(0.3,), std=(0.4,))
    maps = {b: attribution.attribute_details(digit_net, digit, "occlusion", baseline=b, preprocessing=pre, window=2)
            for b in BASELINES}
    assert {b: m.baseline for b, m in maps.items()} == {b: b for b in BASELINES}
    assert not torch.equal(maps["mean"].heat, maps["black"].heat)
    with pytest.raises(ValueError, match="baseline must be one of"):
        attribute(digit_net, digit, "occlusion", baseline="grey")
    with pytest.raises(ValueError, match="preprocessing"):
        attribute(digit_net, digit, "integrated_gradients", baseline="black")


# ----------------------------------------------------------------------------- the registry
def _input_x_gradient(work, x, target, options, layer_name, progress):
    """Gradient x input (Shrikumar et al. 2016), a method the library does not ship: registered by the test."""
    (grad,) = torch.autograd.grad(work(x)[0, target], x)
    return attribution.Attribution((grad * x)[0].abs().sum(dim=0))  # (1, C, H, W) -> (H, W)


@pytest.fixture
def input_x_gradient(monkeypatch):
    """A method registered at test time, the way a new one is added: one record, nothing else."""
    method = attribution.Method("input_x_gradient", "Gradient × Input", "The gradient times the pixel's value "
                                "(Shrikumar et al. 2016).", _input_x_gradient)
    monkeypatch.setitem(attribution.METHODS, method.name, method)
    return method


def test_a_method_registered_at_test_time_is_listed_and_runs(input_x_gradient, digit, digit_net):
    assert "input_x_gradient" in METHODS
    heat = attribute(digit_net, digit, "input_x_gradient", target=3)
    assert heat.shape == (8, 8) and torch.isfinite(heat).all() and heat.sum() > 0
    assert not attribution.is_heavy(digit_net, "input_x_gradient")
    with pytest.raises(ValueError, match="does not take option"):
        attribute(digit_net, digit, "input_x_gradient", n_steps=4)  # it declared no options


def test_register_method_refuses_a_taken_name():
    with pytest.raises(ValueError, match="taken"):
        attribution.register_method(METHODS["saliency"])
