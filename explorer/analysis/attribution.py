"""Attribution maps through captum behind one function: which pixels made the model say what it said.

Each method is one registered record (`Method`: its runner, label, help, options, heavy flag) in `METHODS`;
the app, the CLI and the tests iterate it, so adding a method is one `register_method(...)` call.
`attribute(model, x, method)` turns one image (1, C, H, W) into one non-negative (H, W) map on the CPU,
whatever the method, so the app can overlay any of them the same way (`attribute_details` adds what to say
beside it: the baseline, integrated gradients' completeness check). Every method runs on a deep copy of the
model in eval mode (explorer.analysis.modelcopy): the caller's model, possibly one being trained, is never
touched. Before anything runs, each request's activation memory is estimated on the meta device
(explorer.nets.memory: forward + backward, at the batch the method runs: integrated gradients' and SmoothGrad's
internal batch, occlusion's windows per forward); one over MAX_REQUEST_ACTIVATION_BYTES is refused with one
sentence (the batched methods first shrink their batch to fit), and every request holds its estimate from the
server's budget while it runs, so sessions together stay within it (the rest wait in line, or hear the server is
busy).
Size budget: ~400 lines.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

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

from ..i18n import N_, _
from ..nets.memory import human_bytes, request_cap, server_budget
from .baselines import baseline_image
from .layers import checked_logits, chosen_layer, default_layer, probe, stage_names
from .modelcopy import borrowed_copy, copy_profile

IG_TOLERANCE = 0.05  # completeness: the map's sum must be within 5 % of the score change it explains
IG_MAX_STEPS = 512  # integrated gradients doubles its steps up to this until the tolerance is met
IG_MAX_STEPS_HEAVY = 64  # ... and up to this for a heavy net (ResNet-50 at 224x224: ~0.6 s a step on a CPU)

HEAVY_PARAMETERS = 5_000_000  # above this, many-pass methods take a while: the app asks before running them
_BATCH_ELEMENTS = 2 ** 21  # input values per forward for many-pass methods (bounds each call's time on big images)


# ----------------------------------------------------------------------------- public API
@dataclass(frozen=True)
class Attribution:
    """One attribution map and what to say beside it."""

    heat: torch.Tensor  # (H, W) float32 CPU, finite, >= 0
    baseline: str | None = None  # integrated gradients and occlusion: a key of baselines.BASELINES
    n_steps: int | None = None  # integrated gradients: the steps the map was computed with
    delta: float | None = None  # integrated gradients: |sum of attributions - score change| / |score change|
    converged: bool | None = None  # integrated gradients: delta < IG_TOLERANCE


Progress = Callable[[float], None]  # fed the fraction done, 0..1
Options = dict[str, Any]  # a method's options (Method.options names them), checked by the runner


class Runner(Protocol):
    """How a method computes its raw map (before the shared clean-up: finite, >= 0, on the CPU)."""

    def __call__(self, work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
                 progress: Progress | None) -> Attribution:
        """Args: an eval-mode copy of the model; x (1, C, H, W) on its device (requiring grad when the method
        has `gradients`); the class to explain; the options; Grad-CAM's layer (methods with `layer`, else
        None); progress or None. Returns an Attribution whose heat is (H, W)."""
        ...


@dataclass(frozen=True)
class Method:
    """One attribution method: how it runs, and how the app names and explains it."""

    name: str  # its key in METHODS, e.g. "gradcam"
    label: str  # its name in the app, e.g. "Grad-CAM"
    help: str  # what the map shows, in a sentence or two, with its paper
    runner: Runner  # computes the map (see Runner)
    options: tuple[str, ...] = ()  # options it takes besides `progress`
    heavy: bool = False  # many passes through the model: on a big net it runs one at a time, and the app asks first
    baseline: bool = False  # starts from, or hides with, a baseline image (the app offers the choice)
    gradients: bool = True  # needs the input's gradient (occlusion only runs forward)
    layer: bool = False  # explains a layer's output (Grad-CAM): gets a layer name, by default the last wide stage
    # Images it wants per forward, before memory is considered (integrated gradients' most steps, SmoothGrad's
    # samples, occlusion's windows), given the model copy, x and the options; None: one image. A method with it
    # takes `internal_batch_size`, which attribute_details sets to what fits the memory cap.
    passes: Callable[[nn.Module, torch.Tensor, Options], int] | None = None


METHODS: dict[str, Method] = {}  # name -> Method, in the order the app lists them


def register_method(method: Method) -> Method:
    """Add an attribution method to METHODS (the app, the CLI and the tests pick it up); returns it."""
    if not method.name or method.name in METHODS:
        raise ValueError(f"An attribution method needs a new name; {method.name!r} is empty or taken.")
    METHODS[method.name] = method
    return method


def attribute(model: nn.Module, x: torch.Tensor, method: str, target: int | None = None,
              **options: Any) -> torch.Tensor:
    """Attribution map of one image for one class, by one of METHODS (through captum).

    Args:
        model: a classifier taking (1, C, H, W) and returning (1, num_classes) logits. Left unchanged.
        x: the image, (1, C, H, W), already preprocessed for the model.
        method: a key of METHODS.
        target: the class to explain; None means the class the model predicts.
        **options: per method (its Method.options); `progress` takes a callable fed the fraction done. Integrated
            gradients and occlusion take `baseline` (a key of explorer.analysis.baselines.BASELINES, "mean" by
            default; "black" also needs `preprocessing`, the dataset's Preprocessing with its mean and std).
    Returns:
        (H, W) float32 CPU tensor, finite and >= 0. Gradient methods: |attribution| summed over channels;
        Grad-CAM: ReLU'd and bilinearly upsampled to H x W; occlusion: |score change|, mean over channels.
    Raises:
        ValueError: with one sentence, for an unknown method or option, a bad target or a bad input.
    """
    return attribute_details(model, x, method, target, **options).heat


def attribute_details(model: nn.Module, x: torch.Tensor, method: str, target: int | None = None,
                      **options: Any) -> Attribution:
    """Like `attribute`, with what to report beside the map: the baseline, and for integrated gradients its
    completeness check (Sundararajan et al. 2017), steps doubled from n_steps (32) up to max_steps (512; 64
    for a heavy net) until the map's sum is within 5 % of the score change from the baseline, or reported as
    not reached."""
    if method not in METHODS:
        raise ValueError(f"Unknown attribution method {method!r}; choose one of {', '.join(METHODS)}.")
    spec = METHODS[method]
    _check_options(spec, options)
    progress = options.pop("progress", None)
    _check_input(model, x)
    with _grad_allowed(), borrowed_copy(model) as work:
        x = x.detach().to(_device_of(work), torch.float32).clone().requires_grad_(spec.gradients)
        batch, need = _memory_plan(spec, work, x, options)  # refused here, before anything real is allocated
        if spec.passes is not None:
            options["internal_batch_size"] = batch
        with server_budget().reserve(need, _("{method} on this net and image").format(method=_(spec.label))):
            by_default = spec.layer and options.get("layer") is None
            # One no-grad forward gives the predicted class and, for Grad-CAM's default, the stages' sizes.
            logits, sides = probe(work, x, stage_names(work) if by_default else [])
            target = _check_target(logits, target)
            layer_name = None
            if spec.layer:
                layer_name = default_layer(work, sides) if by_default else chosen_layer(model, work, options["layer"])
            out = spec.runner(work, x, target, options, layer_name, progress)
    if progress is not None:
        progress(1.0)
    heat = torch.nan_to_num(out.heat.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0).clamp_min(0.0)
    return dataclasses.replace(out, heat=heat)


def predict(model: nn.Module, x: torch.Tensor, top: int = 5) -> list[tuple[int, float]]:
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
        logits = checked_logits(work, x.detach().to(_device_of(work), torch.float32))
    probs = torch.softmax(logits[0].float(), dim=0).cpu()
    values, indices = probs.topk(min(top, probs.numel()))
    return [(int(i), float(p)) for i, p in zip(indices, values, strict=True)]


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
        _scores, sides = probe(work, x.detach().to(_device_of(work), torch.float32), stage_names(work))
        return default_layer(work, sides)


# ----------------------------------------------------------------------------- one runner per method
def _gradient_heat(attr: torch.Tensor) -> torch.Tensor:
    return attr[0].abs().sum(dim=0)  # (1, C, H, W) -> (H, W)


def _saliency(work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
              progress: Progress | None) -> Attribution:
    return Attribution(_gradient_heat(Saliency(work).attribute(x, target=target, abs=True)))


def _guided_backprop(work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
                     progress: Progress | None) -> Attribution:
    with warnings.catch_warnings():  # captum announces its (temporary) ReLU hooks; they are on our copy
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        return Attribution(_gradient_heat(GuidedBackprop(work).attribute(x, target=target)))


def _integrated_gradients(work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
                          progress: Progress | None) -> Attribution:
    n_steps, most = _ig_steps(work, options)
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
    return Attribution(_gradient_heat(attr), baseline=name, n_steps=n_steps, delta=relative,
                       converged=relative < IG_TOLERANCE)


def _ig_steps(work: nn.Module, options: Options) -> tuple[int, int]:
    """Integrated gradients' first step count and the most it may double to."""
    n_steps = _positive_int(options, "n_steps", 32)
    cap = IG_MAX_STEPS_HEAVY if _count_parameters(work) > HEAVY_PARAMETERS else IG_MAX_STEPS
    return n_steps, max(n_steps, _positive_int(options, "max_steps", cap))


def _smoothgrad(work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
                progress: Progress | None) -> Attribution:
    samples = _positive_int(options, "nt_samples", 16)
    spread = float(x.detach().max() - x.detach().min()) or 1.0
    stdevs = _positive_float(options, "stdevs", 0.15 * spread)  # 10-20% of the range (Smilkov et al. 2017)
    batch = _positive_int(options, "internal_batch_size", _default_batch(work, x, samples))
    forward = _counting_forward(work, math.ceil(samples / batch), progress)
    attr = NoiseTunnel(Saliency(forward)).attribute(x, nt_type="smoothgrad", nt_samples=samples,
                                                    nt_samples_batch_size=batch, stdevs=stdevs, target=target)
    return Attribution(_gradient_heat(attr))


def _gradcam(work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
             progress: Progress | None) -> Attribution:
    layer = work.get_submodule(layer_name or "")
    cam = LayerGradCam(work, layer).attribute(x, target=target, relu_attributions=True)  # (1, 1, h, w)
    if cam.dim() != 4:
        raise ValueError(f"Grad-CAM needs a layer with a (C, h, w) output; {layer_name!r} gives {tuple(cam.shape)}.")
    up = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear")
    return Attribution(up[0, 0])  # (1, 1, H, W) -> (H, W)


def _occlusion(work: nn.Module, x: torch.Tensor, target: int, options: Options, layer_name: str | None,
               progress: Progress | None) -> Attribution:
    channels = x.shape[1]
    window, stride, patches = _occlusion_windows(x, options)
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
    return Attribution(attr[0].mean(dim=0).abs(), baseline=name)


def _occlusion_windows(x: torch.Tensor, options: Options) -> tuple[int, int, int]:
    """Occlusion's window side, stride and number of windows on x (1, C, H, W), checked."""
    height, width = x.shape[2:]
    window = _positive_int(options, "window", max(1, min(height, width) // 8))
    stride = _positive_int(options, "stride", max(1, window // 2))
    if window > min(height, width) or stride > window:
        raise ValueError(f"Occlusion needs 1 <= stride <= window <= {min(height, width)} (the image side); "
                         f"got window={window}, stride={stride}.")
    return window, stride, (math.ceil((height - window) / stride) + 1) * (math.ceil((width - window) / stride) + 1)


_IG_OPTIONS = ("n_steps", "internal_batch_size", "baseline", "preprocessing", "max_steps")
_OCCLUSION_OPTIONS = ("window", "stride", "internal_batch_size", "baseline", "preprocessing")
register_method(Method(
    "saliency", N_("Saliency"), N_("How strongly each pixel would change the class score if nudged: the gradient's "
                                   "size (Simonyan et al. 2014)."), _saliency))
register_method(Method(
    "integrated_gradients", N_("Integrated Gradients"), N_(
        "How much each pixel contributed on the straight path from a baseline image (the dataset's mean colour "
        "unless you pick another) to this one: gradients summed along the path (Sundararajan et al. 2017)."),
    _integrated_gradients, _IG_OPTIONS, heavy=True, baseline=True,
    passes=lambda work, x, options: _ig_steps(work, options)[1]))
register_method(Method(
    "smoothgrad", "SmoothGrad", N_("The saliency map averaged over noisy copies of the image, which keeps the pixels "
                                   "that matter and drops the speckle (Smilkov et al. 2017)."), _smoothgrad,
    ("nt_samples", "stdevs", "internal_batch_size"), heavy=True,
    passes=lambda work, x, options: _positive_int(options, "nt_samples", 16)))
register_method(Method(
    "guided_backprop", N_("Guided Backprop"), N_("The gradient with only positive signals let back through each "
                                                 "ReLU: sharp, edge-like detail of what excites the class "
                                                 "(Springenberg et al. 2015)."), _guided_backprop))
register_method(Method(
    "gradcam", "Grad-CAM", N_("Which regions of a late convolutional stage the class relies on: its feature maps "
                              "weighted by their average gradient, coarse but class-specific (Selvaraju et al. "
                              "2017)."), _gradcam,
    ("layer",), layer=True))
register_method(Method(
    "occlusion", N_("Occlusion"), N_("How much the class score changes when a patch of the baseline (the dataset's "
                                     "mean colour unless you pick another) hides each region: slow, but asks the "
                                     "model directly (Zeiler & Fergus 2014)."),
    _occlusion, _OCCLUSION_OPTIONS, heavy=True, baseline=True, gradients=False,
    passes=lambda work, x, options: _occlusion_windows(x, options)[2]))


@contextlib.contextmanager
def _grad_allowed() -> Iterator[None]:
    """Gradients on even if the caller sits under torch.no_grad or torch.inference_mode (captum needs them)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _check_target(logits: torch.Tensor, target: int | None) -> int:
    """The class to explain: the predicted one when target is None, else a checked index."""
    if target is None:
        return int(logits[0].argmax())
    classes = logits.shape[1]
    if not isinstance(target, numbers.Integral) or isinstance(target, bool) or not 0 <= target < classes:
        raise ValueError(f"target must be a class index from 0 to {classes - 1}; got {target!r}.")
    return int(target)


def _counting_forward(work: nn.Module, expected_calls: int,
                      progress: Progress | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's forward, reporting calls made / expected_calls to `progress` (capped below 1)."""
    if progress is None:
        return work
    calls = [0]

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        out = work(inputs)
        calls[0] += 1
        progress(min(calls[0] / max(expected_calls, 1), 0.99))
        return out

    return forward


# ----------------------------------------------------------------------------- checks and sizes
def _check_options(method: Method, options: Options) -> None:
    allowed = (*method.options, "progress")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{method.name} does not take option(s) {', '.join(unknown)}; it takes {', '.join(allowed)}.")
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


def _positive_int(options: Options, name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1; got {value!r}.")
    return value


def _positive_float(options: Options, name: str, default: float) -> float:
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


# ----------------------------------------------------------------------------- memory
def _memory_plan(spec: Method, work: nn.Module, x: torch.Tensor, options: Options) -> tuple[int, int]:
    """Images per forward and the bytes this request will hold; a ValueError with one sentence when even one
    image is over the per-request cap. The batched methods take as many images as their passes, the option
    internal_batch_size, _BATCH_ELEMENTS and the cap allow."""
    profile, cap = copy_profile(work, tuple(x.shape)), request_cap()
    fit = profile.images_that_fit(cap, backward=spec.gradients)
    one = profile.backward_bytes(1) if spec.gradients else profile.forward_bytes(1)
    if fit < 1:
        raise ValueError(_("{method} would need about {need} of memory for this net and image, and one explanation "
                           "may use {cap} here: use a smaller image or a shallower or narrower net.").format(
            method=_(spec.label), need=human_bytes(one), cap=human_bytes(cap)))
    batch = 1
    if spec.passes is not None:
        wanted = _default_batch(work, x, spec.passes(work, x, options))
        batch = min(_positive_int(options, "internal_batch_size", wanted), fit)
    return batch, profile.backward_bytes(batch) if spec.gradients else profile.forward_bytes(batch)


def is_heavy(model: torch.nn.Module, method: str) -> bool:
    """True when this attribution would stall a shared server (a big net and a many-pass method): ask first."""
    return METHODS[method].heavy and _count_parameters(model) > HEAVY_PARAMETERS
