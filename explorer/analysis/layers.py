"""Which layer Grad-CAM explains, and the one probing forward pass that finds it (explorer.analysis.attribution).

Size budget: ~100 lines.
"""
from __future__ import annotations

import torch
from torch import nn

MIN_CAM_SIDE = 4  # Grad-CAM's default stage must keep at least 4x4 (an 8x8 digit must not give 4 squares)
# A pre-activation net activates its last stage's sum before the pool (explorer.nets.builder.ResNet, He et al. 2016,
# appendix): these modules, identities in other nets. Grad-CAM explains the activated output, as is usual.
FINAL_ACTIVATION = ("bn_final", "relu_final")


def checked_logits(work: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's output for x, refused with one sentence unless it is one row of class scores (1, classes)."""
    try:
        out = work(x)
    except RuntimeError as err:
        raise ValueError(f"The model could not read this image of shape {tuple(x.shape)}; "
                         f"check its size and channels ({str(err).splitlines()[0]}).") from err
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        raise ValueError("The model must return one row of class scores, shaped (1, num_classes).")
    return out


# ----------------------------------------------------------------------------- Grad-CAM's layer
def chosen_layer(model: nn.Module, work: nn.Module, layer: str | nn.Module) -> str:
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


def stage_names(work: nn.Module) -> list[str]:
    """The model's stage names in order (`model.stages`, e.g. layer1..layer3), or [] for a model without."""
    return list(getattr(work, "stages", None) or [])


def default_layer(work: nn.Module, sides: dict[str, int]) -> str:
    """The last stage whose output keeps at least 4x4 (sides from probe); no stages: the last Conv2d.

    When that is the last stage of a pre-activation net, its output is the sum before the final BN-ReLU: the
    layer is then the final activation (FINAL_ACTIVATION), so the map weighs the features the classifier reads.
    """
    stages = stage_names(work)
    if not stages:
        convs = [name for name, module in work.named_modules() if isinstance(module, nn.Conv2d)]
        if not convs:
            raise ValueError("Grad-CAM needs a convolutional layer, and this model has none.")
        return convs[-1]
    wide_enough = [name for name in stages if sides.get(name, 0) >= MIN_CAM_SIDE]
    # No stage keeps 4x4 (a tiny input): fall back to the stage with the largest output.
    chosen = wide_enough[-1] if wide_enough else max(stages, key=lambda name: sides.get(name, 0))
    if chosen != stages[-1]:
        return chosen
    active = [name for name in FINAL_ACTIVATION
              if isinstance(getattr(work, name, None), nn.Module) and not isinstance(getattr(work, name), nn.Identity)]
    return active[-1] if active else chosen


def probe(work: nn.Module, x: torch.Tensor, names: list[str]) -> tuple[torch.Tensor, dict[str, int]]:
    """One no-grad forward: the logits (1, classes) and the smaller spatial side of each named module's output."""
    sides: dict[str, int] = {}
    handles = []
    for name in names:
        def record(module: nn.Module, inputs: tuple[object, ...], output: object, name: str = name) -> None:
            sides[name] = min(output.shape[-2:]) if isinstance(output, torch.Tensor) and output.dim() == 4 else 0
        handles.append(work.get_submodule(name).register_forward_hook(record))
    try:
        with torch.no_grad():
            logits = checked_logits(work, x)
    finally:
        for handle in handles:
            handle.remove()
    return logits, sides
