"""Baseline images for attribution: what integrated gradients starts from and occlusion hides with.

A model sees normalised input, where 0 is the dataset's mean colour, not black: captum's default baseline
(zeros) is therefore the mean colour, and is named so here. Sturmfels, Lundberg & Lee 2020 ("Visualizing the
Impact of Feature Attribution Baselines") show how much the choice changes a map.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..i18n import N_
from ..nets.preprocessing import Preprocessing


@dataclass(frozen=True)
class Baseline:
    """One baseline image: how it is made, and how the app names and explains it."""

    name: str  # its key in BASELINES, e.g. "black"
    label: str  # its name in the app, e.g. "Black"
    help: str  # what it is, as a phrase the app puts after "Baseline:"
    make: Callable[[torch.Tensor, Preprocessing | None], torch.Tensor]  # (x (B, C, H, W), preprocessing) -> like x


def _mean(x: torch.Tensor, pre: Preprocessing | None) -> torch.Tensor:
    return torch.zeros_like(x)  # 0 after normalisation is the dataset's mean colour


def _black(x: torch.Tensor, pre: Preprocessing | None) -> torch.Tensor:
    if pre is None or len(pre.mean) != x.shape[1]:
        raise ValueError("A black baseline needs the model's preprocessing (its per-channel mean and std).")
    mean = torch.tensor(pre.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(pre.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (torch.zeros_like(x) - mean) / std  # raw 0, normalised as the model's input is


def _blur(x: torch.Tensor, pre: Preprocessing | None) -> torch.Tensor:
    return blur(x.detach(), max(1.0, min(x.shape[-2:]) / 8))


BASELINES: dict[str, Baseline] = {b.name: b for b in (  # name -> Baseline, in the order the app lists them
    Baseline("mean", N_("Dataset mean colour"), N_("the dataset's mean colour (0 after normalisation; captum's "
                                                   "default)"), _mean),
    Baseline("black", N_("Black"), N_("a black image (every pixel 0 before normalisation)"), _black),
    Baseline("blur", N_("Blurred image"), N_("a blurred copy of the image (Gaussian, sigma = an eighth of its side): "
                                             "the colours stay, the detail goes"), _blur),
)}


def baseline_image(x: torch.Tensor, name: str = "mean", preprocessing: Preprocessing | None = None) -> torch.Tensor:
    """The baseline named `name` (a key of BASELINES), shaped like x and in the model's normalised units.

    Args:
        x: (B, C, H, W) normalised model input.
        name: "mean", "black" or "blur" (BASELINES).
        preprocessing: the dataset's Preprocessing, with its per-channel mean and std (needed for "black").
    Returns:
        (B, C, H, W) tensor on x's device.
    """
    if name not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}; got {name!r}.")
    return BASELINES[name].make(x, preprocessing)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of each channel, edges repeated: (B, C, H, W) -> (B, C, H, W).

    Args:
        x: images. sigma: the Gaussian's standard deviation in pixels (> 0).
    Returns:
        the blurred images, same shape, dtype and device.
    """
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    kernel = (kernel / kernel.sum()).repeat(x.shape[1], 1, 1, 1)  # (C, 1, 1, k)
    out = nn.functional.conv2d(nn.functional.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel,
                               groups=x.shape[1])  # along W
    return nn.functional.conv2d(nn.functional.pad(out, (0, 0, radius, radius), mode="replicate"),
                                kernel.transpose(2, 3), groups=x.shape[1])  # along H
