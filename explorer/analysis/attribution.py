"""Attribution maps through captum behind one function: which pixels made the model say what it said.

`attribute(model, x, method)` turns one image (1, C, H, W) into one non-negative (H, W) map on the CPU,
whatever the method, so the app can overlay any of them the same way (`attribute_details` adds what to say
beside it: the baseline, integrated gradients' completeness check). Every method runs on a deep copy of the
model in eval mode (explorer.analysis.modelcopy): the caller's model, possibly one being trained, is never touched. Heavy jobs (a big model with a
many-pass method) take a process-wide lock, one at a time, so one student cannot stall a shared server.
Size budget: ~400 lines.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from captum.attr import (
    GuidedBackprop,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from .baselines import baseline_image
from .modelcopy import borrowed_copy

METHODS = {
    "saliency": "How strongly each pixel would change the class score if nudged: the gradient's size "
                "(Simonyan et al. 2014).",
    "integrated_gradients": "How much each pixel contributed on the straight path from a baseline image (the "
                            "dataset's mean colour unless you pick another) to this one: gradients summed along the "
                            "path (Sundararajan et al. 2017).",
    "smoothgrad": "The saliency map averaged over noisy copies of the image, which keeps the pixels that matter "
                  "and drops the speckle (Smilkov et al. 2017).",
    "guided_backprop": "The gradient with only positive signals let back through each ReLU: sharp, edge-like "
                       "detail of what excites the class (Springenberg et al. 2015).",
    "gradcam": "Which regions of a late convolutional stage the class relies on: its feature maps weighted by "
               "their average gradient, coarse but class-specific (Selvaraju et al. 2017).",
    "occlusion": "How much the class score changes when a patch of the baseline (the dataset's mean colour unless "
                 "you pick another) hides each region: slow, but asks the model directly (Zeiler & Fergus 2014).",
}

IG_TOLERANCE = 0.05  # completeness: the map's sum must be within 5 % of the score change it explains
IG_MAX_STEPS = 512  # integrated gradients doubles its steps up to this until the tolerance is met
IG_MAX_STEPS_HEAVY = 64  # ... and up to this for a heavy net (ResNet-50 at 224x224: ~0.6 s a step on a CPU)

# Options each method accepts besides `progress` (a callable taking the fraction done, 0..1).
_OPTIONS = {
    "saliency": (),
    "integrated_gradients": ("n_steps", "internal_batch_size", "baseline", "preprocessing", "max_steps"),
    "smoothgrad": ("nt_samples", "stdevs", "internal_batch_size"),
    "guided_backprop": (),
    "gradcam": ("layer",),
    "occlusion": ("window", "stride", "internal_batch_size", "baseline", "preprocessing"),
}
HEAVY_PARAMETERS = 5_000_000  # above this, many-pass methods run one at a time in the process
_MANY_PASSES = ("integrated_gradients", "smoothgrad", "occlusion")
_HEAVY_LOCK = threading.Lock()
_MIN_CAM_SIDE = 4  # Grad-CAM's default stage must keep at least 4x4 (an 8x8 digit must not give 4 squares)
_BATCH_ELEMENTS = 2 ** 21  # input values per forward for many-pass methods (bounds memory on big images)


# ----------------------------------------------------------------------------- public API
@dataclass(frozen=True)
class Attribution:
    """One attribution map and what to say beside it."""

    heat: torch.Tensor  # (H, W) float32 CPU, finite, >= 0
    baseline: str | None = None  # integrated gradients and occlusion: a key of baselines.BASELINES
    n_steps: int | None = None  # integrated gradients: the steps the map was computed with
    delta: float | None = None  # integrated gradients: |sum of attributions - score change| / |score change|
    converged: bool | None = None  # integrated gradients: delta < IG_TOLERANCE


def attribute(model: nn.Module, x: torch.Tensor, method: str, target: int | None = None,
              **options) -> torch.Tensor:
    """Attribution map of one image for one class, by one of METHODS (through captum).

    Args:
        model: a classifier taking (1, C, H, W) and returning (1, num_classes) logits. Left unchanged.
        x: the image, (1, C, H, W), already preprocessed for the model.
        method: a key of METHODS.
        target: the class to explain; None means the class the model predicts.
        **options: per method (see _OPTIONS); `progress` takes a callable fed the fraction done. Integrated
            gradients and occlusion take `baseline` (a key of explorer.analysis.baselines.BASELINES, "mean" by
            default; "black" also needs `preprocessing`, the dataset's dict with its mean and std).
    Returns:
        (H, W) float32 CPU tensor, finite and >= 0. Gradient methods: |attribution| summed over channels;
        Grad-CAM: ReLU'd and bilinearly upsampled to H x W; occlusion: |score change|, mean over channels.
    Raises:
        ValueError: with one sentence, for an unknown method or option, a bad target or a bad input.
    """
    return attribute_details(model, x, method, target, **options).heat


def attribute_details(model: nn.Module, x: torch.Tensor, method: str, target: int | None = None,
                      **options) -> Attribution:
    """Like `attribute`, with what to report beside the map: the baseline, and for integrated gradients its
    completeness check (Sundararajan et al. 2017), steps doubled from n_steps (32) up to max_steps (512; 64
    for a heavy net) until the map's sum is within 5 % of the score change from the baseline, or reported as
    not reached."""
    if method not in METHODS:
        raise ValueError(f"Unknown attribution method {method!r}; choose one of {', '.join(METHODS)}.")
    _check_options(method, options)
    progress = options.pop("progress", None)
    _check_input(model, x)
    heavy = method in _MANY_PASSES and _count_parameters(model) > HEAVY_PARAMETERS
    with _HEAVY_LOCK if heavy else contextlib.nullcontext(), _grad_allowed(), borrowed_copy(model) as work:
        x = x.detach().to(_device_of(work), torch.float32).clone().requires_grad_(method != "occlusion")
        default_layer = method == "gradcam" and options.get("layer") is None
        # One no-grad forward gives the predicted class and, for Grad-CAM's default, the stages' sizes.
        logits, sides = _probe(work, x, _stage_names(work) if default_layer else [])
        target = _check_target(logits, target)
        layer_name = None
        if method == "gradcam":
            layer_name = _default_layer(work, sides) if default_layer else _chosen_layer(model, work, options["layer"])
        out = _RUNNERS[method](work, x, target, options, layer_name, progress)
    heat, info = out if isinstance(out, tuple) else (out, {})
    if progress is not None:
        progress(1.0)
    heat = torch.nan_to_num(heat.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0).clamp_min(0.0)
    return Attribution(heat, **info)


def predict(model: nn.Module, x: torch.Tensor, top: int = 5) -> list:
    """The model's most likely classes for one image.

    Args:
        model: a classifier returning logits; run on an eval-mode copy, left unchanged.
        x: (1, C, H, W) preprocessed image.
        top: how many classes to return (at most the number of classes).
    Returns:
        [(class index, softmax probability), ...], highest probability first.
    """
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1; got {top!r}.")
    _check_input(model, x)
    with borrowed_copy(model) as work, torch.no_grad():
        logits = _logits(work, x.detach().to(_device_of(work), torch.float32))
    probs = torch.softmax(logits[0].float(), dim=0).cpu()
    values, indices = probs.topk(min(top, probs.numel()))
    return [(int(i), float(p)) for i, p in zip(indices, values)]


def default_gradcam_layer(model: nn.Module, x: torch.Tensor) -> str:
    """Dotted name of the layer Grad-CAM uses by default for this model and input size.

    The last stage (`model.stages`, e.g. layer1..layer3) whose output is at least 4x4; for a model
    without stages, its last nn.Conv2d (Selvaraju et al. 2017 use the last conv layer).
    Args:
        model: the classifier (a copy is probed; the model is left unchanged).
        x: (1, C, H, W) image of the size that will be explained.
    Returns:
        e.g. "layer2" for an 8x8 digit on a CIFAR-style ResNet.
    """
    _check_input(model, x)
    with borrowed_copy(model) as work:
        _, sides = _probe(work, x.detach().to(_device_of(work), torch.float32), _stage_names(work))
        return _default_layer(work, sides)


# ----------------------------------------------------------------------------- one runner per method
def _gradient_heat(attr: torch.Tensor) -> torch.Tensor:
    return attr[0].abs().sum(dim=0)  # (1, C, H, W) -> (H, W)


def _saliency(work, x, target, options, layer_name, progress):
    return _gradient_heat(Saliency(work).attribute(x, target=target, abs=True))


def _guided_backprop(work, x, target, options, layer_name, progress):
    with warnings.catch_warnings():  # captum announces its (temporary) ReLU hooks; they are on our copy
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        return _gradient_heat(GuidedBackprop(work).attribute(x, target=target))


def _integrated_gradients(work, x, target, options, layer_name, progress):
    n_steps = _positive_int(options, "n_steps", 32)
    cap = IG_MAX_STEPS_HEAVY if _count_parameters(work) > HEAVY_PARAMETERS else IG_MAX_STEPS
    most = max(n_steps, _positive_int(options, "max_steps", cap))
    name = options.get("baseline") or "mean"
    base = baseline_image(x, name, options.get("preprocessing"))
    with torch.no_grad():
        change = float(work(x)[0, target] - work(base)[0, target])  # the score change the map must add up to
    while True:
        batch = _positive_int(options, "internal_batch_size", _default_batch(work, x, n_steps))
        forward = _counting_forward(work, math.ceil(n_steps / batch), progress)
        attr, delta = IntegratedGradients(forward).attribute(x, baselines=base, target=target, n_steps=n_steps,
                                                             internal_batch_size=batch, return_convergence_delta=True)
        gap = abs(float(delta.sum()))
        relative = gap / abs(change) if abs(change) > 1e-6 else (0.0 if gap <= 1e-6 else math.inf)
        if relative < IG_TOLERANCE or n_steps >= most:
            break
        n_steps = min(2 * n_steps, most)
    info = dict(baseline=name, n_steps=n_steps, delta=relative, converged=relative < IG_TOLERANCE)
    return _gradient_heat(attr), info


def _smoothgrad(work, x, target, options, layer_name, progress):
    samples = _positive_int(options, "nt_samples", 16)
    spread = float(x.detach().max() - x.detach().min()) or 1.0
    stdevs = _positive_float(options, "stdevs", 0.15 * spread)  # 10-20% of the range (Smilkov et al. 2017)
    batch = _positive_int(options, "internal_batch_size", _default_batch(work, x, samples))
    forward = _counting_forward(work, math.ceil(samples / batch), progress)
    attr = NoiseTunnel(Saliency(forward)).attribute(x, nt_type="smoothgrad", nt_samples=samples,
                                                    nt_samples_batch_size=batch, stdevs=stdevs, target=target)
    return _gradient_heat(attr)


def _gradcam(work, x, target, options, layer_name, progress):
    layer = work.get_submodule(layer_name)
    cam = LayerGradCam(work, layer).attribute(x, target=target, relu_attributions=True)  # (1, 1, h, w)
    if cam.dim() != 4:
        raise ValueError(f"Grad-CAM needs a layer with a (C, h, w) output; {layer_name!r} gives {tuple(cam.shape)}.")
    up = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear")
    return up[0, 0]  # (1, 1, H, W) -> (H, W)


def _occlusion(work, x, target, options, layer_name, progress):
    channels, height, width = x.shape[1:]
    window = _positive_int(options, "window", max(1, min(height, width) // 8))
    stride = _positive_int(options, "stride", max(1, window // 2))
    if window > min(height, width) or stride > window:
        raise ValueError(f"Occlusion needs 1 <= stride <= window <= {min(height, width)} (the image side); "
                         f"got window={window}, stride={stride}.")
    patches = (math.ceil((height - window) / stride) + 1) * (math.ceil((width - window) / stride) + 1)
    batch = _positive_int(options, "internal_batch_size", _default_batch(work, x, patches))
    forward = _counting_forward(work, 1 + math.ceil(patches / batch), progress)
    name = options.get("baseline") or "mean"
    base = baseline_image(x, name, options.get("preprocessing"))
    with torch.no_grad():  # occlusion only runs the model forward: no graph needed
        attr = Occlusion(forward).attribute(x, sliding_window_shapes=(channels, window, window),
                                            strides=(channels, stride, stride), baselines=base,
                                            target=target, perturbations_per_eval=batch)
    # Each pixel: the mean score change of the patches covering it, the same for every channel -> (H, W).
    # Absolute, like the gradient maps: hiding a patch that argues against the class matters too.
    return attr[0].mean(dim=0).abs(), {"baseline": name}


_RUNNERS = {"saliency": _saliency, "integrated_gradients": _integrated_gradients, "smoothgrad": _smoothgrad,
            "guided_backprop": _guided_backprop, "gradcam": _gradcam, "occlusion": _occlusion}


@contextlib.contextmanager
def _grad_allowed():
    """Gradients on even if the caller sits under torch.no_grad or torch.inference_mode (captum needs them)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _logits(work: nn.Module, x: torch.Tensor) -> torch.Tensor:
    try:
        out = work(x)
    except RuntimeError as err:
        raise ValueError(f"The model could not read this image of shape {tuple(x.shape)}; "
                         f"check its size and channels ({str(err).splitlines()[0]}).") from err
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        raise ValueError("The model must return one row of class scores, shaped (1, num_classes).")
    return out


def _check_target(logits: torch.Tensor, target: int | None) -> int:
    """The class to explain: the predicted one when target is None, else a checked index."""
    if target is None:
        return int(logits[0].argmax())
    classes = logits.shape[1]
    if not isinstance(target, numbers.Integral) or isinstance(target, bool) or not 0 <= target < classes:
        raise ValueError(f"target must be a class index from 0 to {classes - 1}; got {target!r}.")
    return int(target)


def _counting_forward(work: nn.Module, expected_calls: int, progress: Callable | None) -> Callable:
    """The model's forward, reporting calls made / expected_calls to `progress` (capped below 1)."""
    if progress is None:
        return work
    calls = [0]

    def forward(inputs):
        out = work(inputs)
        calls[0] += 1
        progress(min(calls[0] / max(expected_calls, 1), 0.99))
        return out

    return forward


# ----------------------------------------------------------------------------- Grad-CAM's layer
def _chosen_layer(model: nn.Module, work: nn.Module, layer: str | nn.Module) -> str:
    """Dotted name, valid in both the model and its copy, of the layer the caller chose."""
    if isinstance(layer, nn.Module):
        names = [name for name, module in model.named_modules() if module is layer]
        if not names or not names[0]:
            raise ValueError("The Grad-CAM layer must be a sub-module of the model being explained.")
        return names[0]
    if isinstance(layer, str):
        try:
            work.get_submodule(layer)
        except AttributeError:
            raise ValueError(f"The model has no layer named {layer!r}; use a dotted name such as 'layer3'.") from None
        return layer
    raise ValueError(f"layer must be a module of the model or its dotted name; got {type(layer).__name__}.")


def _stage_names(work: nn.Module) -> list:
    return list(getattr(work, "stages", None) or [])


def _default_layer(work: nn.Module, sides: dict) -> str:
    """The last stage whose output keeps at least 4x4 (sides from _probe); no stages: the last Conv2d."""
    stages = _stage_names(work)
    if not stages:
        convs = [name for name, module in work.named_modules() if isinstance(module, nn.Conv2d)]
        if not convs:
            raise ValueError("Grad-CAM needs a convolutional layer, and this model has none.")
        return convs[-1]
    wide_enough = [name for name in stages if sides.get(name, 0) >= _MIN_CAM_SIDE]
    # No stage keeps 4x4 (a tiny input): fall back to the stage with the largest output.
    return wide_enough[-1] if wide_enough else max(stages, key=lambda name: sides.get(name, 0))


def _probe(work: nn.Module, x: torch.Tensor, names: list) -> tuple:
    """One no-grad forward: the logits (1, classes) and the smaller spatial side of each named module's output."""
    sides, handles = {}, []
    for name in names:
        def record(module, inputs, output, name=name):
            sides[name] = min(output.shape[-2:]) if isinstance(output, torch.Tensor) and output.dim() == 4 else 0
        handles.append(work.get_submodule(name).register_forward_hook(record))
    try:
        with torch.no_grad():
            logits = _logits(work, x)
    finally:
        for handle in handles:
            handle.remove()
    return logits, sides


# ----------------------------------------------------------------------------- checks and sizes
def _check_options(method: str, options: dict) -> None:
    allowed = _OPTIONS[method] + ("progress",)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{method} does not take option(s) {', '.join(unknown)}; it takes {', '.join(allowed)}.")
    if options.get("progress") is not None and not callable(options["progress"]):
        raise ValueError("progress must be a function that takes the fraction done.")


def _check_input(model: nn.Module, x: torch.Tensor) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch nn.Module; got {type(model).__name__}.")
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"The image must be one tensor shaped (1, C, H, W); got {shape}.")
    if not torch.isfinite(x).all():
        raise ValueError("The image contains NaN or infinite values; load it again.")


def _positive_int(options: dict, name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1; got {value!r}.")
    return value


def _positive_float(options: dict, name: str, default: float) -> float:
    value = options.get(name)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a number above 0; got {value!r}.")
    return float(value)


def _count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _device_of(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _default_batch(work: nn.Module, x: torch.Tensor, passes: int) -> int:
    """Images per forward for many-pass methods: as many as fit _BATCH_ELEMENTS, at most 8 for big nets."""
    cap = max(1, _BATCH_ELEMENTS // x[0].numel())
    return min(passes, cap if _count_parameters(work) <= HEAVY_PARAMETERS else min(cap, 8))


def is_heavy(model: torch.nn.Module, method: str) -> bool:
    """True when this attribution would stall a shared server (a big net and a many-pass method): ask first."""
    return method in _MANY_PASSES and _count_parameters(model) > HEAVY_PARAMETERS
